//! CONFORMANCE section 3: array returns (export).

use std::sync::atomic::{AtomicUsize, Ordering};

use half::{bf16, f16};
use ndbind::array::{
    AlignedVec, ArrayApi, ArrayOut, Capsule, Jax, MemoryView, NdArray, Ndim, Numpy, ReadOnly,
    Scalar, Shape1, Shape2, Torch, ANY,
};
use ndbind::prelude::*;
use num_complex::Complex64;

static DESTRUCTED: AtomicUsize = AtomicUsize::new(0);
/// Counted buffers freed without the GIL (DESIGN.md: owners are freed with it).
static FREED_WITHOUT_GIL: AtomicUsize = AtomicUsize::new(0);

/// A Rust-owned buffer that counts its own destruction.
pub struct Counted<T: Scalar>(pub AlignedVec<T>);

impl<T: Scalar> AsRef<[T]> for Counted<T> {
    fn as_ref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Scalar> AsMut<[T]> for Counted<T> {
    fn as_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

// SAFETY: the elements live in the AlignedVec's heap buffer.
unsafe impl<T: Scalar> ndbind::array::StableData<T> for Counted<T> {}

impl<T: Scalar> Drop for Counted<T> {
    fn drop(&mut self) {
        if !gil_held() {
            FREED_WITHOUT_GIL.fetch_add(1, Ordering::SeqCst);
        }
        DESTRUCTED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Whether this thread holds the GIL.
pub(crate) fn gil_held() -> bool {
    // SAFETY: PyGILState_Check may be called from any thread.
    #[cfg(not(feature = "abi3"))]
    return unsafe { ndbind::ffi::PyGILState_Check() } != 0;
    // The limited API has no `PyGILState_Check`; `PyThreadState_GetDict`
    // is NULL without an attached thread state (CPython >= 3.12).
    // SAFETY: callable on any thread, with or without the GIL.
    #[cfg(feature = "abi3")]
    return unsafe { !ndbind::ffi::PyThreadState_GetDict().is_null() };
}

/// How many counted buffers have been freed.
pub fn destruct_count() -> usize {
    DESTRUCTED.load(Ordering::SeqCst)
}

/// `1..=8` as a counted (2, 4) buffer.
fn one_to_eight<T: Scalar>(f: impl Fn(usize) -> T) -> PyResult<Counted<T>> {
    Ok(Counted(AlignedVec::from_fn(8, |i| f(i + 1))?))
}

type Out24<F, T, C = Shape2<2, 4>> = PyResult<ArrayOut<F, T, C>>;

pub fn bind(m: &Module) -> PyResult<()> {
    m.def("destruct_count", destruct_count, ())?;
    m.def(
        "freed_without_gil",
        || FREED_WITHOUT_GIL.load(Ordering::SeqCst),
        doc("Counted buffers freed without the GIL (beyond CONFORMANCE)."),
    )?;
    m.def(
        "ret_numpy",
        || -> Out24<Numpy, f32> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_numpy_n",
        |n: usize| -> PyResult<ArrayOut<Numpy, f32, Shape1<ANY>>> {
            ArrayOut::from_stable_owner(Counted(AlignedVec::from_fn(n, |i| i as f32)?), &[n])
        },
        arg("n"),
    )?;
    m.def(
        "ret_numpy_f",
        || -> Out24<Numpy, f32> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])?.fortran_order()
        },
        (),
    )?;
    m.def(
        "ret_numpy_ro",
        || -> Out24<Numpy, f32, (Shape2<2, 4>, ReadOnly)> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_torch",
        || -> Out24<Torch, f32> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_jax",
        || -> Out24<Jax, f32> { ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4]) },
        (),
    )?;
    // Beyond CONFORMANCE: JAX canonicalises 64-bit dtypes (float64 becomes
    // float32 without jax_enable_x64), so these go through jax.dlpack.
    m.def(
        "ret_jax_f64",
        || -> Out24<Jax, f64> { ArrayOut::from_stable_owner(one_to_eight(|i| i as f64)?, &[2, 4]) },
        (),
    )?;
    m.def(
        "ret_jax_i8",
        || -> Out24<Jax, i8> { ArrayOut::from_stable_owner(one_to_eight(|i| i as i8)?, &[2, 4]) },
        (),
    )?;
    m.def(
        "ret_memview",
        || -> Out24<MemoryView, f64> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f64)?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_array_api",
        || -> Out24<ArrayApi, f32> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])
        },
        (),
    )?;
    // Extras: the ndbind array object read-only and F-ordered, to test its
    // buffer protocol's refusals.
    m.def(
        "ret_array_api_ro",
        || -> Out24<ArrayApi, f32, (Shape2<2, 4>, ReadOnly)> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_array_api_f",
        || -> Out24<ArrayApi, f32> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])?.fortran_order()
        },
        (),
    )?;
    m.def(
        "ret_capsule",
        || -> Out24<Capsule, f32> {
            ArrayOut::from_stable_owner(one_to_eight(|i| i as f32)?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_empty",
        || -> PyResult<ArrayOut<Numpy, f32, Shape1<0>>> { ArrayOut::from_vec(Vec::new(), &[0]) },
        (),
    )?;
    m.def(
        "ret_scalar",
        || -> PyResult<ArrayOut<Numpy, f64, Ndim<0>>> { ArrayOut::from_vec(vec![1.0], &[]) },
        (),
    )?;
    m.def(
        "ret_f16",
        || -> Out24<Numpy, f16> {
            ArrayOut::from_stable_owner(one_to_eight(|i| f16::from_f32(i as f32))?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_c128",
        || -> Out24<Numpy, Complex64> {
            ArrayOut::from_stable_owner(one_to_eight(|i| Complex64::new(i as f64, 0.0))?, &[2, 4])
        },
        (),
    )?;
    m.def(
        "ret_bf16_torch",
        || -> Out24<Torch, bf16> {
            ArrayOut::from_stable_owner(one_to_eight(|i| bf16::from_f32(i as f32))?, &[2, 4])
        },
        (),
    )?;
    bind_holder(m)?;
    m.def("passthrough", |a: NdArray| a, arg("a"))?;
    m.def("passthrough_copy", |a: NdArray| ArrayOut::<Numpy>::copy_of(&a), arg("a"))?;
    // Beyond CONFORMANCE: an `ndbind.ndarray` repeating the first element
    // of `a` n times (stride 0, read-only), for copies sized by Python.
    m.def(
        "broadcast_first",
        |a: NdArray<f32>, n: usize| -> PyResult<ArrayOut<ArrayApi, f32, (Shape1<ANY>, ReadOnly)>> {
            // A NumPy array owns its memory (a raw capsule's object would not).
            let obj = a.object().filter(|o| o.type_name() == "numpy.ndarray" && a.size() > 0);
            let Some(obj) = obj else {
                return Err(PyErr::value_error(
                    "broadcast_first: a non-empty NumPy array is needed",
                ));
            };
            // SAFETY: with stride 0 every element is `a`'s first, which
            // the NumPy array (kept as the owner) keeps alive; exported
            // read-only.
            unsafe { ArrayOut::view_of(obj.to_owned(), a.as_ptr() as *const f32, &[n], Some(&[0])) }
        },
        (arg("a"), arg("n")),
    )?;
    Ok(())
}

/// CONFORMANCE section 4, row `Holder`: a class owning Rust data that
/// hands out NumPy views of it (keeping the Holder alive) and copies.
pub struct Holder {
    data: Counted<f32>,
}

ndbind::class!(Holder);

type Vector = PyResult<ArrayOut<Numpy, f32, Shape1<ANY>>>;

pub fn bind_holder(m: &Module) -> PyResult<()> {
    let c = m.class::<Holder>("Holder", doc("Owns n float32 values 0..n-1."))?;
    c.init(
        |n: usize| -> PyResult<Holder> {
            Ok(Holder { data: Counted(AlignedVec::from_fn(n, |i| i as f32)?) })
        },
        arg("n"),
    )?
    .def(
        "view",
        |h: &Holder| -> Vector {
            // SAFETY: the data lives as long as the Holder, which the
            // returned view keeps alive (reference_internal).
            unsafe { ArrayOut::from_raw(h.data.0.as_ptr(), &[h.data.0.len()], None) }
        },
        (RvPolicy::ReferenceInternal, doc("A NumPy view of the data; keeps the Holder alive.")),
    )?
    .def(
        "view_torch",
        |h: &Holder| -> PyResult<ArrayOut<Torch, f32, Shape1<ANY>>> {
            // SAFETY: as for `view`: the tensor keeps the Holder alive.
            unsafe { ArrayOut::from_raw(h.data.0.as_ptr(), &[h.data.0.len()], None) }
        },
        (
            RvPolicy::ReferenceInternal,
            doc("A torch view of the data; keeps the Holder alive (beyond CONFORMANCE)."),
        ),
    )?
    .def(
        "copy",
        |h: &Holder| -> Vector { ArrayOut::from_slice(&h.data.0, &[h.data.0.len()]) },
        doc("An independent NumPy copy of the data."),
    )?
    // Beyond CONFORMANCE: a `&mut self` method. While a view exported
    // with `view()` lives, the value is borrowed: this raises.
    .def(
        "set",
        |h: &mut Holder, i: usize, v: f32| -> PyResult<()> {
            *h.data
                .0
                .get_mut(i)
                .ok_or_else(|| PyErr::index_error("Holder.set: index out of range"))? = v;
            Ok(())
        },
        (arg("i"), arg("v")),
    )?;
    // Beyond CONFORMANCE: shared Rust data (a static) goes out as a copy:
    // torch writes even read-only exports.
    static TABLE: [f32; 4] = [1.0, 2.0, 3.0, 4.0];
    m.def(
        "ret_table_torch",
        || -> PyResult<ArrayOut<Torch, f32, Shape1<4>>> { ArrayOut::from_slice(&TABLE, &[4]) },
        (),
    )?;
    m.def("table_sum", || TABLE.iter().sum::<f32>(), ())?;
    Ok(())
}

/// `make_array`/`make_torch`/`make_jax` of the bench submodule: new
/// 64-byte aligned buffers, exported uninitialised (contents unspecified,
/// as section 5 allows, like `np.empty`), so the cost is flat in `n`.
pub fn bind_bench(b: &Module) -> PyResult<()> {
    use ndbind::array::AlignedBuf;
    type Made<F> = PyResult<ArrayOut<F, f32, Shape1<ANY>>>;
    b.def(
        "make_array",
        |n: usize| -> Made<Numpy> { ArrayOut::from_uninit(AlignedBuf::uninit(n)?, &[n]) },
        arg("n"),
    )?;
    b.def(
        "make_torch",
        |n: usize| -> Made<Torch> { ArrayOut::from_uninit(AlignedBuf::uninit(n)?, &[n]) },
        arg("n"),
    )?;
    b.def(
        "make_jax",
        |n: usize| -> Made<Jax> { ArrayOut::from_uninit(AlignedBuf::uninit(n)?, &[n]) },
        arg("n"),
    )?;
    Ok(())
}
