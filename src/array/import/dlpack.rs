//! Importing through DLPack: `__dlpack__` producers and raw capsules.

use ndbind_dlpack::{CapsuleKind, Layout};
use pyo3_ffi as ffi;

use crate::array::check::check;
use crate::array::frameworks::is_jax;
use crate::array::handle::{ArrayHandle, Owner};
use crate::array::requirements::Requirements;
use crate::core::error::PyErr;
use crate::core::gil_cell::GilCell;
use crate::core::object::{Borrowed, Object};

/// `name` looked up through the MRO of `tp` (the raw value, a new
/// reference; `None` if absent), without raising: public API in both
/// builds (`crate::core::abi::mro_lookup`).
///
/// # Safety
/// The GIL is held; `tp` is a valid type; `name` an exact `str`.
#[inline]
pub(crate) unsafe fn type_lookup(tp: *mut ffi::PyTypeObject, name: Borrowed<'_>) -> Option<Object> {
    // SAFETY: forwarded.
    unsafe { crate::core::abi::mro_lookup(tp, name.as_ptr()) }
}

/// Whether `obj`'s type defines `__dlpack__` (no exception raised).
#[inline]
pub(crate) fn has_dlpack(obj: Borrowed<'_>) -> bool {
    // SAFETY: valid type and interned name.
    unsafe { type_lookup(obj.type_ptr(), crate::interned!(c"__dlpack__")) }.is_some()
}

/// `("max_version",)` and `(1, 3)`, built once.
fn versioned_args() -> (Borrowed<'static>, Borrowed<'static>) {
    static CELL: GilCell<(Object, Object)> = GilCell::new();
    let (names, version) = CELL.get_or_init(|| {
        // SAFETY: building two small tuples of fresh objects.
        unsafe {
            let names =
                Object::from_owned(ffi::PyTuple_Pack(1, crate::interned!(c"max_version").as_ptr()))
                    .expect("tuple");
            let major =
                Object::from_owned(ffi::PyLong_FromLong(ndbind_dlpack::DLPACK_MAJOR_VERSION as _))
                    .expect("int");
            let minor =
                Object::from_owned(ffi::PyLong_FromLong(ndbind_dlpack::DLPACK_MINOR_VERSION as _))
                    .expect("int");
            let version = Object::from_owned(ffi::PyTuple_Pack(2, major.as_ptr(), minor.as_ptr()))
                .expect("tuple");
            (names, version)
        }
    });
    // SAFETY: kept alive forever by the static.
    unsafe { (Borrowed::from_ptr(names.as_ptr()), Borrowed::from_ptr(version.as_ptr())) }
}

/// Calls `obj.__dlpack__()` (legacy) or `obj.__dlpack__(max_version=...)`
/// (versioned) through vectorcall.
fn call_dlpack(obj: Borrowed<'_>, versioned: bool) -> *mut ffi::PyObject {
    let name = crate::interned!(c"__dlpack__");
    // SAFETY: a valid argument vector: [self] or [self, max_version] with
    // one keyword name; PY_VECTORCALL_ARGUMENTS_OFFSET is not set.
    unsafe {
        if versioned {
            let (names, version) = versioned_args();
            let args = [obj.as_ptr(), version.as_ptr()];
            ffi::PyObject_VectorcallMethod(name.as_ptr(), args.as_ptr(), 1, names.as_ptr())
        } else {
            let args = [obj.as_ptr()];
            ffi::PyObject_VectorcallMethod(name.as_ptr(), args.as_ptr(), 1, std::ptr::null_mut())
        }
    }
}

/// Whether the pending error is a TypeError or BufferError (which mean
/// "try the other capsule kind"); if so it is cleared.
fn clear_retryable() -> bool {
    // SAFETY: error-indicator queries with the GIL held.
    unsafe {
        if ffi::PyErr_ExceptionMatches(ffi::PyExc_TypeError) != 0
            || ffi::PyErr_ExceptionMatches(ffi::PyExc_BufferError) != 0
        {
            ffi::PyErr_Clear();
            true
        } else {
            false
        }
    }
}

/// Takes ownership of the managed tensor in a fresh capsule and validates it.
/// Errors (invalid tensor, not a capsule) are raised: they are the
/// producer's bugs, not mismatches.
///
/// # Safety
/// The GIL is held.
unsafe fn take_capsule(cap: &Object) -> Result<(Layout, Owner), ()> {
    let p = cap.as_ptr();
    // SAFETY: `p` is a live object (the GIL is held); a taken tensor is
    // owned by the `Owner` made right away (deleted when it drops).
    if let Some(t) = unsafe { ndbind_dlpack::take_versioned(p) } {
        let owner = Owner::Versioned(t);
        // SAFETY: a live versioned managed tensor, owned by `owner`.
        return validated(unsafe { ndbind_dlpack::validate_versioned(t.as_ptr()) }, owner);
    }
    // SAFETY: as above.
    if let Some(t) = unsafe { ndbind_dlpack::take_legacy(p) } {
        let owner = Owner::Legacy(t);
        // SAFETY: a live legacy managed tensor, owned by `owner`.
        return validated(unsafe { ndbind_dlpack::validate_legacy(t.as_ref()) }, owner);
    }
    PyErr::type_error(format!(
        "__dlpack__ returned a {} object, not a DLPack capsule",
        cap.borrow().type_name()
    ))
    .restore();
    Err(())
}

/// Imports a `__dlpack__` producer. `Ok(None)`: refused (mismatch);
/// `Err(())`: a Python error is set and aborts the call.
///
/// # Safety
/// The GIL is held.
pub(crate) unsafe fn import_producer(
    obj: Borrowed<'_>,
    req: &Requirements,
) -> Result<Option<ArrayHandle>, ()> {
    let jax = is_jax(obj);
    if jax && req.writable {
        return Ok(None);
    }
    // torch without the exchange table: its `__dlpack__` exports a tensor
    // with the negative bit raw (and refuses one with the conjugate bit by
    // raising); both are mismatches here, as on the exchange route.
    if crate::array::import::exchange::lazy_flags_set(obj) {
        return Ok(None);
    }
    // Versioned capsules carry the read-only flag: ask for one when
    // writability matters; the legacy protocol is cheaper otherwise.
    let mut versioned = req.writable;
    let mut cap = call_dlpack(obj, versioned);
    if cap.is_null() {
        if !clear_retryable() {
            return Err(());
        }
        versioned = !versioned;
        cap = call_dlpack(obj, versioned);
        if cap.is_null() {
            return if clear_retryable() { Ok(None) } else { Err(()) };
        }
    }
    // SAFETY: a new reference from a successful call.
    let cap = unsafe { Object::from_owned(cap) }.expect("non-null");
    // SAFETY: the GIL is held (caller contract).
    let (layout, owner) = unsafe { take_capsule(&cap)? };
    // A legacy capsule carries no read-only flag; JAX arrays are immutable.
    let read_only = layout.is_read_only() || jax;
    Ok(Some(ArrayHandle::general(layout, owner, read_only, obj.to_owned())))
}

/// A taken tensor's layout with its owner, or (the tensor deleted)
/// `ValueError` raised.
fn validated(
    checked: Result<Layout, ndbind_dlpack::InvalidTensor>,
    owner: Owner,
) -> Result<(Layout, Owner), ()> {
    match checked {
        Ok(l) => Ok((l, owner)),
        Err(e) => {
            drop(owner);
            PyErr::value_error(format!("invalid DLPack tensor: {e}")).restore();
            Err(())
        }
    }
}

/// The validated layout of an unconsumed capsule's tensor, peeked (the
/// tensor stays the capsule's), and whether the capsule is versioned;
/// `None` for a consumed or foreign capsule.
///
/// # Safety
/// The GIL is held; `obj` is a capsule.
pub(crate) unsafe fn peek_capsule(
    obj: Borrowed<'_>,
) -> Option<(Result<Layout, ndbind_dlpack::InvalidTensor>, bool)> {
    let p = obj.as_ptr();
    // SAFETY: `obj` is a live capsule (caller contract).
    let kind = unsafe { ndbind_dlpack::capsule_kind(p) };
    match kind {
        CapsuleKind::Versioned => {
            // SAFETY: an unconsumed versioned capsule.
            let t = unsafe { ndbind_dlpack::peek_versioned(p) }.expect("versioned capsule");
            // SAFETY: the capsule's live tensor.
            Some((unsafe { ndbind_dlpack::validate_versioned(t.as_ptr()) }, true))
        }
        CapsuleKind::Legacy => {
            // SAFETY: an unconsumed legacy capsule.
            let t = unsafe { ndbind_dlpack::peek_legacy(p) }.expect("legacy capsule");
            // SAFETY: the capsule's live tensor.
            Some((unsafe { ndbind_dlpack::validate_legacy(t.as_ref()) }, false))
        }
        _ => None,
    }
}

/// Imports a raw DLPack capsule, taking its tensor provisionally (see
/// [`Owner::TakenCapsule`]): an overload that rejects it, on this or any
/// other argument, hands it back and leaves the capsule usable.
///
/// # Safety
/// The GIL is held; `obj` is a capsule.
pub(crate) unsafe fn import_capsule(
    obj: Borrowed<'_>,
    req: &Requirements,
) -> Result<Option<ArrayHandle>, ()> {
    let p = obj.as_ptr();
    // SAFETY: `obj` is a live capsule (caller contract).
    let Some((checked, versioned)) = (unsafe { peek_capsule(obj) }) else { return Ok(None) };
    let layout = match checked {
        Ok(l) => l,
        Err(e) => {
            PyErr::value_error(format!("invalid DLPack tensor: {e}")).restore();
            return Err(());
        }
    };
    let read_only = layout.is_read_only();
    let mut h = ArrayHandle::general(layout, Owner::Source, read_only, obj.to_owned());
    if check(&h, req).is_err() {
        return Ok(None);
    }
    // Taken now, not at commit: Python code that runs while later
    // arguments load cannot give the tensor to another consumer (which
    // could free it). An overload that fails hands it back.
    // SAFETY: the live capsule just peeked (no Python code ran since); the
    // taken tensor is owned by the handle's owner set below.
    let tensor = unsafe {
        if versioned {
            ndbind_dlpack::take_versioned(p).map(|t| t.cast())
        } else {
            ndbind_dlpack::take_legacy(p).map(|t| t.cast())
        }
    };
    let tensor = tensor.expect("an unconsumed capsule, just validated");
    let capsule = std::ptr::NonNull::new(p).expect("a live object");
    h.owner = Owner::TakenCapsule(Box::new(crate::array::handle::TakenCapsule {
        tensor,
        capsule,
        versioned,
    }));
    Ok(Some(h))
}

/// Whether `obj` is an unconsumed DLPack capsule whose tensor is valid
/// (for `is_array`; never consumes).
pub(crate) fn is_valid_capsule(obj: Borrowed<'_>) -> bool {
    // SAFETY: peeking only; the GIL is held.
    unsafe {
        match ndbind_dlpack::capsule_kind(obj.as_ptr()) {
            CapsuleKind::Versioned => ndbind_dlpack::peek_versioned(obj.as_ptr())
                .is_some_and(|t| ndbind_dlpack::validate_versioned(t.as_ptr()).is_ok()),
            CapsuleKind::Legacy => ndbind_dlpack::peek_legacy(obj.as_ptr())
                .is_some_and(|t| ndbind_dlpack::validate_legacy(t.as_ref()).is_ok()),
            _ => false,
        }
    }
}
