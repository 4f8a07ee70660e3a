//! Recognising array frameworks (by type, looked up once) and reaching
//! their modules (imported once, then cached).

use std::cell::Cell;
use std::ffi::CStr;

use pyo3_ffi as ffi;

use crate::core::gil_cell::GilCell;
use crate::core::object::{Borrowed, Object};

/// The framework an array object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framework {
    Numpy,
    Torch,
    Jax,
    Other,
}

/// A framework module, imported on first use; `None` if not installed
/// (the import error is cleared).
pub(crate) fn module(
    name: &'static CStr,
    cell: &'static GilCell<Option<Object>>,
) -> Option<Borrowed<'static>> {
    let m = cell.get_or_init(|| Object::import_held(name).ok());
    // SAFETY: the cached module is kept alive forever by the static.
    m.as_ref().map(|m| unsafe { Borrowed::from_ptr(m.as_ptr()) })
}

pub(crate) static NUMPY: GilCell<Option<Object>> = GilCell::new();
pub(crate) static TORCH: GilCell<Option<Object>> = GilCell::new();
pub(crate) static JAX_NUMPY: GilCell<Option<Object>> = GilCell::new();

/// JAX's concrete array type (`jaxlib._jax.ArrayImpl`), once seen.
static JAX_TYPE: GilCell<Cell<usize>> = GilCell::new();

/// Whether `obj` is a JAX array. JAX arrays are immutable, yet their
/// `__dlpack__` hands out legacy capsules, which carry no read-only flag.
#[inline]
pub(crate) fn is_jax(obj: Borrowed<'_>) -> bool {
    let tp = obj.type_ptr();
    let cached = JAX_TYPE.get_or_init(|| Cell::new(0));
    if cached.get() == tp as usize {
        return true;
    }
    // SAFETY: tp_name is a NUL-terminated string owned by the type.
    let name = unsafe { CStr::from_ptr((*tp).tp_name) }.to_bytes();
    if name.starts_with(b"jaxlib") && name.ends_with(b"ArrayImpl") {
        // Kept alive (a strong reference): its address must never name
        // another type. (JAX-ness only steers the route and makes arrays
        // read-only; the memory is validated on every route.)
        if cached.get() == 0 {
            // SAFETY: a new reference to a live type, leaked on purpose.
            unsafe { ffi::Py_INCREF(tp as *mut ffi::PyObject) };
            cached.set(tp as usize);
        }
        return true;
    }
    false
}

/// The type `attr` of the module `module` (an interned name), if that
/// module is loaded already (nothing is imported): looked up until found,
/// then cached in `cell` (a strong reference, kept forever). `None`, with
/// no error left set, while it is not loaded, or `attr` is no type or
/// fails `accept` (Python code can replace a module, or its attributes,
/// with its own classes: a type whose instances ndbind reads as C structs
/// must be checked for what Python code cannot fake).
#[cold]
#[inline(never)]
pub(crate) fn loaded_type(
    cell: &Cell<usize>,
    module: Borrowed<'_>,
    attr: &CStr,
    accept: fn(*mut ffi::PyTypeObject) -> bool,
) -> Option<*mut ffi::PyTypeObject> {
    // SAFETY: PyImport_GetModule returns a new reference or NULL without
    // importing; a type check of a live object; errors are cleared.
    unsafe {
        let m = Object::from_owned(ffi::PyImport_GetModule(module.as_ptr()));
        let t = m.and_then(|m| m.borrow().getattr(attr).ok());
        let Some(t) = t else {
            drop(crate::core::error::PyErr::take());
            return None;
        };
        if ffi::PyType_Check(t.as_ptr()) == 0 || !accept(t.as_ptr() as *mut ffi::PyTypeObject) {
            return None;
        }
        let t = t.into_ptr(); // kept alive forever
        cell.set(t as usize);
        Some(t as *mut ffi::PyTypeObject)
    }
}

/// Whether `obj` is a `torch.Tensor` (or subclass); never imports torch.
/// (Only steers the route: the memory is validated on every route.)
pub(crate) fn is_torch(obj: Borrowed<'_>) -> bool {
    static TENSOR: GilCell<Cell<usize>> = GilCell::new();
    let cached = TENSOR.get_or_init(|| Cell::new(0));
    let tensor = match cached.get() {
        0 => match loaded_type(cached, crate::interned!(c"torch"), c"Tensor", |_| true) {
            Some(t) => t,
            None => return false,
        },
        t => t as *mut ffi::PyTypeObject,
    };
    // SAFETY: both are valid type objects.
    unsafe { ffi::PyType_IsSubtype(obj.type_ptr(), tensor) != 0 }
}

/// Which framework `obj` belongs to.
pub(crate) fn classify(obj: Borrowed<'_>) -> Framework {
    if crate::ndarray::import::numpy::is_numpy_array(obj) {
        Framework::Numpy
    } else if is_jax(obj) {
        Framework::Jax
    } else if is_torch(obj) {
        Framework::Torch
    } else {
        Framework::Other
    }
}

/// Whether `tp` is a static type (made by C code: Python code cannot make
/// one), for types whose instances are read as C structs.
pub(crate) fn is_static_type(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: reading the flags of a live type object.
    unsafe { ffi::PyType_GetFlags(tp) & ffi::Py_TPFLAGS_HEAPTYPE == 0 }
}
