//! Implicit conversion: a dtype/order/alignment mismatch fixed by a copy
//! that the array's own framework makes. Only for read-only parameters
//! that allow conversion; never complex → real (see `check`).

use crate::array::frameworks::{classify, Framework};
use crate::array::requirements::{Order, Requirements};
use crate::core::object::{Borrowed, Object};

/// A converted copy of `obj` meeting `req`'s dtype and order, or `None`
/// (any Python error raised by the framework is cleared: a mismatch).
pub(crate) fn convert(
    obj: Borrowed<'_>,
    current: Option<crate::array::dtype::DType>,
    req: &Requirements,
) -> Option<Object> {
    let dtype_name = req.dtype.or(current)?.name();
    let fw = classify(obj);
    let r = fw.convert.and_then(|c| c(fw, obj, dtype_name, req.order));
    r.or_else(|| {
        drop(crate::core::error::PyErr::take());
        None
    })
}

/// NumPy's converter (also for buffer-protocol objects).
pub(crate) fn numpy(
    np: &'static Framework,
    obj: Borrowed<'_>,
    dtype: &str,
    order: Order,
) -> Option<Object> {
    let np = np.module()?;
    // asarray(a, dtype, order): unlike ascontiguousarray, keeps 0-d arrays 0-d.
    let dt = Object::str_held(dtype).ok()?;
    let order = Object::str_held(match order {
        Order::C => "C",
        Order::F => "F",
        // Arrays contiguous in neither order: a C-ordered copy ('A' would
        // keep a non-contiguous array as it is).
        Order::Contig => "C",
        Order::Any => "K",
    })
    .ok()?;
    np.call_method(c"asarray", &[obj, dt.borrow(), order.borrow()]).ok()
}

/// torch's converter (C order only).
pub(crate) fn torch(
    torch: &'static Framework,
    obj: Borrowed<'_>,
    dtype: &str,
    order: Order,
) -> Option<Object> {
    if order == Order::F {
        return None; // torch has no Fortran-order copy
    }
    let torch = torch.module()?;
    let dt = torch.getattr(&std::ffi::CString::new(dtype).ok()?).ok()?;
    let t = obj.call_method(c"to", &[dt.borrow()]).ok()?;
    t.borrow().call_method(c"contiguous", &[]).ok()
}

/// JAX's converter (`jax.numpy.asarray`; JAX arrays are always C-ordered).
pub(crate) fn jax(
    jax: &'static Framework,
    obj: Borrowed<'_>,
    dtype: &str,
    order: Order,
) -> Option<Object> {
    if order == Order::F {
        return None; // JAX arrays are always C-ordered
    }
    let jnp = jax.module()?;
    let dt = Object::str_held(dtype).ok()?;
    jnp.call_method(c"asarray", &[obj, dt.borrow()]).ok()
}
