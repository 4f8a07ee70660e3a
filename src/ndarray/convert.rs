//! Implicit conversion: a dtype/order/alignment mismatch fixed by a copy
//! that the array's own framework makes. Only for read-only parameters
//! that allow conversion; never complex → real (see `check`).

use crate::core::object::{Borrowed, Object};
use crate::ndarray::frameworks::{classify, module, Framework, JAX_NUMPY, NUMPY, TORCH};
use crate::ndarray::requirements::{Order, Requirements};

/// A converted copy of `obj` meeting `req`'s dtype and order, or `None`
/// (any Python error raised by the framework is cleared: a mismatch).
pub(crate) fn convert(
    obj: Borrowed<'_>,
    current: Option<crate::ndarray::dtype::DType>,
    req: &Requirements,
) -> Option<Object> {
    let dtype_name = req.dtype.or(current)?.name();
    let r = match classify(obj) {
        Framework::Torch => convert_torch(obj, dtype_name, req.order),
        Framework::Jax => convert_jax(obj, dtype_name, req.order),
        // NumPy arrays and buffer-protocol objects: NumPy makes the copy.
        Framework::Numpy | Framework::Other => convert_numpy(obj, dtype_name, req.order),
    };
    r.or_else(|| {
        drop(crate::core::error::PyErr::take());
        None
    })
}

fn convert_numpy(obj: Borrowed<'_>, dtype: &str, order: Order) -> Option<Object> {
    let np = module(c"numpy", &NUMPY)?;
    // asarray(a, dtype, order): unlike ascontiguousarray, keeps 0-d arrays 0-d.
    let dt = Object::str_held(dtype).ok()?;
    let order = Object::str_held(match order {
        Order::C => "C",
        Order::F => "F",
        Order::Any => "K",
    })
    .ok()?;
    np.call_method(c"asarray", &[obj, dt.borrow(), order.borrow()]).ok()
}

fn convert_torch(obj: Borrowed<'_>, dtype: &str, order: Order) -> Option<Object> {
    if order == Order::F {
        return None; // torch has no Fortran-order copy
    }
    let torch = module(c"torch", &TORCH)?;
    let dt = torch.getattr(&std::ffi::CString::new(dtype).ok()?).ok()?;
    let t = obj.call_method(c"to", &[dt.borrow()]).ok()?;
    t.borrow().call_method(c"contiguous", &[]).ok()
}

fn convert_jax(obj: Borrowed<'_>, dtype: &str, order: Order) -> Option<Object> {
    if order == Order::F {
        return None; // JAX arrays are always C-ordered
    }
    let jnp = module(c"jax.numpy", &JAX_NUMPY)?;
    let dt = Object::str_held(dtype).ok()?;
    jnp.call_method(c"asarray", &[obj, dt.borrow()]).ok()
}
