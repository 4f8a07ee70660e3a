//! `*mut c_void` ↔ an unnamed capsule, as nanobind's `void *` caster.
//!
//! A non-null pointer goes out as a new capsule (no name, no destructor:
//! the capsule carries the address and owns nothing); a null pointer as
//! `None`. Coming in, any capsule gives its pointer (whatever its name)
//! and `None` gives null; anything else does not match.
//!
//! Soundness: carrying an address is safe, using it is not. Rust only lets
//! `unsafe` code dereference the pointer, and that code must know what the
//! capsule points to and that it is still alive: Python code can hand any
//! capsule to the function, including one from another library, or one
//! whose memory was freed since. Prefer a bound class (or a named
//! capsule checked with `PyCapsule_IsValid`) where the pointee matters.

use std::ffi::c_void;

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// A capsule's pointer (`None`: null). No Python code runs.
///
/// ```
/// use ndbind::prelude::*;
/// use std::ffi::c_void;
///
/// static TABLE: [u32; 4] = [1, 2, 3, 4];
///
/// fn table() -> *mut c_void {
///     TABLE.as_ptr() as *mut c_void
/// }
/// /// Whether `p` is the address `table()` handed out.
/// fn is_table(p: *mut c_void) -> bool {
///     std::ptr::eq(p as *const u32, TABLE.as_ptr())
/// }
/// # ndbind::module!(doc_ext, |m| {
/// m.def("table", table, ())?; // a capsule
/// m.def("is_table", is_table, arg("p"))?; // is_table(None) is False
/// # Ok(())
/// # });
/// ```
impl FromPy for *mut c_void {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<*mut c_void> {
        let p = obj.as_ptr();
        if obj.is_none() {
            return Some(std::ptr::null_mut());
        }
        // SAFETY: an exact type check, then the capsule's own name (NULL or a
        // string it keeps alive) asked back, which cannot fail on a capsule
        // that has a pointer (every capsule does: PyCapsule_New refuses NULL).
        unsafe {
            if ffi::PyCapsule_CheckExact(p) == 0 {
                return None;
            }
            let v = ffi::PyCapsule_GetPointer(p, ffi::PyCapsule_GetName(p));
            if v.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            Some(v)
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("types.CapsuleType | None")
    }
    const ACCEPTS_NONE: bool = true;
}

impl IntoPy for *mut c_void {
    // The capsule stores the address; nothing reads through it.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        if self.is_null() {
            return Ok(Object::none_held());
        }
        // SAFETY: a non-null pointer, no name, no destructor: the capsule
        // only stores the address.
        unsafe { Object::from_owned_or_err(ffi::PyCapsule_New(self, std::ptr::null(), None)) }
    }
    fn type_name(out: &mut String) {
        out.push_str("types.CapsuleType | None")
    }
}
