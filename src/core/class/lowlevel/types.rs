//! The type half of the low-level interface (nanobind's `type_*`): look
//! up a bound type, check and name types and instances, read a type's
//! size, alignment, `TypeId` and supplement.

use std::any::TypeId;

use pyo3_ffi as ffi;

use crate::core::class::record::{record_of, TypeRecord};
use crate::core::class::{meta, PyClass};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// The Python type bound to `T` (nanobind's `nb::type<T>()`).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// let ty = type_of::<Pod>().expect("Pod is bound");
/// ```
pub fn type_of<T: PyClass>() -> Option<Object> {
    T::type_slot().get()
}

/// Whether `t` is a type made by ndbind (a bound class or a Python
/// subclass of one).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// assert!(type_check(type_of::<Pod>().unwrap().borrow()));
/// ```
pub fn type_check(t: Borrowed<'_>) -> bool {
    // SAFETY: the type test comes first; `t` is a live object.
    unsafe {
        ffi::PyType_Check(t.as_ptr()) != 0
            && meta::is_meta_instance(t.as_ptr() as *mut ffi::PyTypeObject)
    }
}

/// Whether `o` is an instance of a type made by ndbind.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) {
/// if inst_check(obj) { /* an ndbind instance */ }
/// # }
/// ```
pub fn inst_check(o: Borrowed<'_>) -> bool {
    // SAFETY: reading the type of a live object.
    unsafe { meta::is_meta_instance(ffi::Py_TYPE(o.as_ptr())) }
}

/// `module.QualName` of any type (`int` for builtins).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # let ty = type_of::<Pod>().unwrap();
/// # let ty = ty.borrow();
/// assert_eq!(type_name(ty)?, "my_ext.Pod");
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn type_name(t: Borrowed<'_>) -> PyResult<String> {
    let q = t.getattr(c"__qualname__")?.borrow().str()?;
    let m = t.getattr(c"__module__").ok().and_then(|m| m.borrow().str().ok());
    Ok(match m {
        Some(m) if m != "builtins" => format!("{m}.{q}"),
        _ => q,
    })
}

/// [`type_name`] of the type of `o`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// let name = inst_name(obj)?; // "my_ext.Pod"
/// # Ok(())
/// # }
/// ```
pub fn inst_name(o: Borrowed<'_>) -> PyResult<String> {
    // SAFETY: the type of a live object is alive while the object is.
    type_name(unsafe { Borrowed::from_ptr(ffi::Py_TYPE(o.as_ptr()) as *mut ffi::PyObject) })
}

pub(super) fn type_record<'a>(t: Borrowed<'a>) -> PyResult<&'a TypeRecord> {
    if !type_check(t) {
        return Err(PyErr::type_error(format!(
            "expected a type bound by ndbind, got {}",
            t.repr().unwrap_or_default()
        )));
    }
    // SAFETY: checked to be an instance of the metaclass; the record
    // lives as long as the type, which `t` keeps alive.
    unsafe { record_of(t.as_ptr() as *mut ffi::PyTypeObject) }
        .ok_or_else(|| PyErr::type_error("ndbind: type without a record"))
}

/// Size of the Rust value of a bound type.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # let ty = type_of::<Pod>().unwrap();
/// # let ty = ty.borrow();
/// assert_eq!(type_size(ty)?, std::mem::size_of::<Pod>());
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn type_size(t: Borrowed<'_>) -> PyResult<usize> {
    Ok(type_record(t)?.size)
}

/// Alignment of the Rust value of a bound type.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # let ty = type_of::<Pod>().unwrap();
/// # let ty = ty.borrow();
/// assert_eq!(type_align(ty)?, std::mem::align_of::<Pod>());
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn type_align(t: Borrowed<'_>) -> PyResult<usize> {
    Ok(type_record(t)?.align)
}

/// The `TypeId` of the Rust type behind a bound type.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # let ty = type_of::<Pod>().unwrap();
/// # let ty = ty.borrow();
/// assert_eq!(type_info(ty)?, std::any::TypeId::of::<Pod>());
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn type_info(t: Borrowed<'_>) -> PyResult<TypeId> {
    Ok(type_record(t)?.type_id)
}

/// A copy of the supplement of a type declared with `supplement::<S>()`.
///
/// ```no_run
/// # use ndbind::class::lowlevel::*;
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// let meta: u64 = type_supplement(type_of::<Tensor>().unwrap().borrow())?;
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn type_supplement<S: Copy + 'static>(t: Borrowed<'_>) -> PyResult<S> {
    let p = supplement_ptr::<S>(t)?;
    // SAFETY: the storage is zero-initialised (S is Zeroable) or holds an S
    // written by `set_type_supplement`; it is 16-aligned and large enough.
    Ok(unsafe { *(p as *const S) })
}

/// Stores `value` in the supplement of a type declared with `supplement::<S>()`.
///
/// ```
/// # use ndbind::class::lowlevel::*;
/// # use ndbind::class::supplement;
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// # ndbind::module!(doc_ext, |m| {
/// let cls = m.class::<Tensor>("Tensor", supplement::<u64>())?;
/// set_type_supplement::<u64>(cls.type_object(), 42)?;
/// # Ok(())
/// # });
/// ```
pub fn set_type_supplement<S: Copy + 'static>(t: Borrowed<'_>, value: S) -> PyResult<()> {
    let p = supplement_ptr::<S>(t)?;
    // SAFETY: as above; S is Copy, so overwriting drops nothing. The GIL
    // serialises access to the supplement.
    unsafe { *(p as *mut S) = value };
    Ok(())
}

fn supplement_ptr<S: 'static>(t: Borrowed<'_>) -> PyResult<*mut u8> {
    match &type_record(t)?.supplement {
        Some((id, data)) if *id == TypeId::of::<S>() => Ok(data.as_ptr() as *mut u8),
        Some(_) => Err(PyErr::type_error("ndbind: the type supplement has a different Rust type")),
        None => Err(PyErr::type_error("ndbind: the type has no supplement")),
    }
}
