//! Heap types from a spec: the one place ndbind calls `PyType_FromSpec`.
//!
//! A spec and its slot list are read only while the type is made (CPython
//! copies the name, the doc and every slot value), so they live on the
//! stack. Tables a type keeps pointing to (getset and method definitions,
//! read by its descriptors) must outlive it: [`leak_table`].

use std::ffi::{c_int, c_uint, c_ulong, c_void, CStr};

use pyo3_ffi as ffi;

use crate::core::error::PyResult;
use crate::core::object::Object;

/// One slot of a type spec.
pub(crate) fn slot(slot: c_int, pfunc: *mut c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot { slot, pfunc }
}

/// A definition table (ending with its sentinel) that a type points to for
/// as long as it lives: leaked, once per process and type.
pub(crate) fn leak_table<T, const N: usize>(table: [T; N]) -> *mut c_void {
    Box::leak(Box::new(table)).as_mut_ptr().cast()
}

/// A getter-only getset definition.
pub(crate) fn getset(
    name: &'static CStr,
    get: unsafe extern "C" fn(*mut ffi::PyObject, *mut c_void) -> *mut ffi::PyObject,
) -> ffi::PyGetSetDef {
    ffi::PyGetSetDef {
        name: name.as_ptr(),
        get: Some(get),
        set: None,
        doc: std::ptr::null(),
        closure: std::ptr::null_mut(),
    }
}

/// A new heap type named `name` (its `tp_name`: module-qualified) of
/// `basicsize`/`itemsize` bytes, from `slots` (up to the first
/// `slot(0, ..)`, which is added when missing).
pub(crate) fn new_type(
    name: &'static CStr,
    basicsize: usize,
    itemsize: usize,
    flags: c_ulong,
    slots: &[ffi::PyType_Slot],
) -> PyResult<Object> {
    let mut slots = slots.to_vec();
    if !matches!(slots.last(), Some(s) if s.slot == 0) {
        slots.push(slot(0, std::ptr::null_mut()));
    }
    let mut spec = ffi::PyType_Spec {
        name: name.as_ptr(),
        basicsize: basicsize as c_int,
        itemsize: itemsize as c_int,
        flags: flags as c_uint,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: a well-formed spec (a 'static name, a terminated slot list)
    // that CPython reads during the call only.
    unsafe { Object::from_owned_or_err(ffi::PyType_FromSpec(&mut spec)) }
}
