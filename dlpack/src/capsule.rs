//! The Python side of DLPack: tensors travel in `PyCapsule`s.
//!
//! A producer's `__dlpack__()` returns a capsule named `"dltensor_versioned"`
//! (or `"dltensor"` for legacy, unversioned tensors) holding a pointer to a
//! managed tensor. A consumer takes ownership by renaming the capsule to
//! `"used_dltensor_versioned"` / `"used_dltensor"`; from then on the consumer
//! must call the tensor's deleter, and the capsule's own destructor must not.
//!
//! Every function here calls the CPython C API: **the GIL must be held**
//! (on a free-threaded interpreter: the thread must be attached).
//!
//! Free-threaded CPython: two threads may consume the same capsule at
//! once. Each check of a capsule's name followed by a rename (a take, a
//! hand-back) and each peek followed by a read of the tensor
//! ([`peek_layout`]) runs in a critical section on the capsule, so exactly
//! one consumer takes a tensor, and no peek reads one that another thread
//! took (and may have deleted). A tensor returned by [`peek_legacy`] /
//! [`peek_versioned`] stays the capsule's: without a GIL, another thread may
//! take and free it at any time; use [`peek_layout`] to read it.

use core::ffi::{c_void, CStr};
use core::ptr::NonNull;

use pyo3_ffi::{
    PyCapsule_CheckExact, PyCapsule_GetName, PyCapsule_GetPointer, PyCapsule_IsValid,
    PyCapsule_New, PyCapsule_SetName, PyErr_Clear, PyObject,
};

use crate::abi::{DLManagedTensor, DLManagedTensorVersioned, DLPackExchangeAPI};
use crate::validate::{validate_legacy, validate_versioned, InvalidTensor, Layout};

/// Runs `f` with the capsule locked against other threads doing the same:
/// a critical section on `cap` on a free-threaded interpreter, nothing
/// with a GIL (which excludes them already). `f` must not run Python code
/// or block (a critical section is suspended while its thread detaches).
///
/// # Safety
/// The thread is attached (GIL held); `cap` is NULL or a valid object.
#[inline(always)]
unsafe fn locked<R>(cap: *mut PyObject, f: impl FnOnce() -> R) -> R {
    #[cfg(Py_GIL_DISABLED)]
    {
        if cap.is_null() {
            return f();
        }
        /// Ends the section on every exit (a panic in `f` included).
        struct End(pyo3_ffi::PyCriticalSection);
        impl Drop for End {
            fn drop(&mut self) {
                // SAFETY: begun below on this thread, ended once.
                unsafe { pyo3_ffi::PyCriticalSection_End(&mut self.0) }
            }
        }
        // SAFETY: plain data (two words), written by `Begin` below.
        let mut cs = End(unsafe { core::mem::zeroed() });
        // SAFETY: an attached thread and a live object (caller contract);
        // the section is ended by `End` before this frame returns.
        unsafe { pyo3_ffi::PyCriticalSection_Begin(&mut cs.0, cap) };
        f()
    }
    #[cfg(not(Py_GIL_DISABLED))]
    {
        let _ = cap;
        f()
    }
}

/// Name of an unconsumed legacy capsule.
pub const LEGACY_NAME: &CStr = c"dltensor";
/// Name of a legacy capsule after a consumer took ownership.
pub const USED_LEGACY_NAME: &CStr = c"used_dltensor";
/// Name of an unconsumed versioned capsule.
pub const VERSIONED_NAME: &CStr = c"dltensor_versioned";
/// Name of a versioned capsule after a consumer took ownership.
pub const USED_VERSIONED_NAME: &CStr = c"used_dltensor_versioned";
/// Name of the capsule holding a [`DLPackExchangeAPI`] table.
pub const EXCHANGE_API_NAME: &CStr = c"dlpack_exchange_api";
/// Type attribute under which array types publish their exchange table.
pub const EXCHANGE_API_ATTR: &CStr = c"__dlpack_c_exchange_api__";

/// What kind of object [`capsule_kind`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapsuleKind {
    /// Unconsumed `"dltensor"` capsule.
    Legacy,
    /// Unconsumed `"dltensor_versioned"` capsule.
    Versioned,
    /// `"used_dltensor"`: already consumed.
    UsedLegacy,
    /// `"used_dltensor_versioned"`: already consumed.
    UsedVersioned,
    /// A capsule with any other (or no) name.
    OtherCapsule,
    /// Not a `PyCapsule` at all (or NULL).
    NotCapsule,
}

/// Classifies `obj` by capsule name. Never raises; never changes the error
/// indicator.
///
/// # Safety
/// The GIL must be held and `obj` must be NULL or a valid object pointer.
pub unsafe fn capsule_kind(obj: *mut PyObject) -> CapsuleKind {
    // SAFETY: `obj` is non-NULL and valid (caller contract) when dereferenced
    // by the type check; the GIL is held.
    if obj.is_null() || unsafe { PyCapsule_CheckExact(obj) } == 0 {
        return CapsuleKind::NotCapsule;
    }
    // SAFETY: `obj` is an exact capsule; capsules always hold a non-NULL
    // pointer (CPython refuses to create or set a NULL one), so GetName
    // cannot fail. A NULL result means an unnamed capsule.
    let name = unsafe { PyCapsule_GetName(obj) };
    if name.is_null() {
        return CapsuleKind::OtherCapsule;
    }
    // SAFETY: a capsule name is a NUL-terminated string that outlives the
    // capsule (CPython documents this requirement for PyCapsule_New/SetName).
    let name = unsafe { CStr::from_ptr(name) };
    match name.to_bytes() {
        b"dltensor_versioned" => CapsuleKind::Versioned,
        b"dltensor" => CapsuleKind::Legacy,
        b"used_dltensor_versioned" => CapsuleKind::UsedVersioned,
        b"used_dltensor" => CapsuleKind::UsedLegacy,
        _ => CapsuleKind::OtherCapsule,
    }
}

/// Pointer stored in `cap` if it is a capsule named exactly `name`; no error
/// is ever raised.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer.
#[inline]
unsafe fn peek_named(cap: *mut PyObject, name: &CStr) -> Option<NonNull<c_void>> {
    if cap.is_null() {
        return None;
    }
    // SAFETY: GIL held and `cap` valid. PyCapsule_IsValid never raises; it
    // checks the exact type, a non-NULL pointer and the name.
    if unsafe { PyCapsule_IsValid(cap, name.as_ptr()) } == 0 {
        return None;
    }
    // SAFETY: IsValid just confirmed type and name, so GetPointer succeeds
    // without setting an error.
    NonNull::new(unsafe { PyCapsule_GetPointer(cap, name.as_ptr()) })
}

/// Consumes `cap` if it is named `name`, renaming it to `used`.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer.
#[inline]
unsafe fn take_named(
    cap: *mut PyObject,
    name: &CStr,
    used: &'static CStr,
) -> Option<NonNull<c_void>> {
    // SAFETY: forwarded caller contract; the check and the rename form
    // one step for other threads (`locked`); neither runs Python code.
    unsafe {
        locked(cap, || {
            let p = peek_named(cap, name)?;
            // `cap` is a valid capsule (checked above); `used` is 'static
            // so it outlives the capsule as CPython requires.
            if PyCapsule_SetName(cap, used.as_ptr()) != 0 {
                // Unreachable for a valid capsule; do not leave an error
                // behind and do not claim ownership we failed to record.
                PyErr_Clear();
                return None;
            }
            Some(p)
        })
    }
}

/// Takes ownership of the tensor in an unconsumed `"dltensor"` capsule,
/// renaming it to `"used_dltensor"`. Returns `None` (with no Python error
/// set) for anything else, including an already-used capsule.
///
/// The caller must eventually call [`delete_legacy`] on the result (or hand
/// it back with [`untake_legacy`]).
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer.
pub unsafe fn take_legacy(cap: *mut PyObject) -> Option<NonNull<DLManagedTensor>> {
    // SAFETY: forwarded caller contract.
    unsafe { take_named(cap, LEGACY_NAME, USED_LEGACY_NAME) }.map(NonNull::cast)
}

/// Takes ownership of the tensor in an unconsumed `"dltensor_versioned"`
/// capsule, renaming it to `"used_dltensor_versioned"`. Returns `None` (with
/// no Python error set) for anything else.
///
/// The caller must eventually call [`delete_versioned`] on the result and
/// must check the version before reading anything but the deleter.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer.
pub unsafe fn take_versioned(cap: *mut PyObject) -> Option<NonNull<DLManagedTensorVersioned>> {
    // SAFETY: forwarded caller contract.
    unsafe { take_named(cap, VERSIONED_NAME, USED_VERSIONED_NAME) }.map(NonNull::cast)
}

/// Undoes [`take_legacy`]: if `cap` is named `"used_dltensor"` and holds
/// `tensor`, renames it back to `"dltensor"`, so that the capsule owns the
/// tensor again (a consumer that took it provisionally and then did not
/// use it). Returns false, changing nothing, otherwise: the caller still
/// owns the tensor.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer; `tensor` was taken from
/// `cap` and is still owned by the caller.
pub unsafe fn untake_legacy(cap: *mut PyObject, tensor: NonNull<DLManagedTensor>) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { untake_named(cap, USED_LEGACY_NAME, LEGACY_NAME, tensor.cast()) }
}

/// [`untake_legacy`] for versioned capsules.
///
/// # Safety
/// As for [`untake_legacy`].
pub unsafe fn untake_versioned(
    cap: *mut PyObject,
    tensor: NonNull<DLManagedTensorVersioned>,
) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { untake_named(cap, USED_VERSIONED_NAME, VERSIONED_NAME, tensor.cast()) }
}

/// # Safety
/// As for [`untake_legacy`].
unsafe fn untake_named(
    cap: *mut PyObject,
    used: &CStr,
    name: &'static CStr,
    tensor: NonNull<c_void>,
) -> bool {
    // SAFETY: forwarded caller contract; the check and the rename form one
    // step for other threads (`locked`); renaming runs no Python code.
    unsafe {
        locked(cap, || {
            if peek_named(cap, used) != Some(tensor) {
                return false;
            }
            if PyCapsule_SetName(cap, name.as_ptr()) != 0 {
                PyErr_Clear();
                return false;
            }
            true
        })
    }
}

/// The validated layout of the tensor in an unconsumed capsule (`true`
/// with it for a versioned one), read without consuming: `None` for
/// anything else (a consumed capsule, another object). The layout is a
/// copy (shape, strides, data address): it stays readable after the
/// capsule is consumed, though the memory at its data address is only
/// the capsule's, or its consumer's, to keep alive.
///
/// Unlike [`peek_legacy`] followed by [`validate_legacy`], this is safe
/// against another thread consuming (and freeing) the tensor meanwhile on
/// a free-threaded interpreter.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer; an unconsumed capsule
/// with one of the DLPack names holds a live managed tensor of its kind.
pub unsafe fn peek_layout(cap: *mut PyObject) -> Option<(Result<Layout, InvalidTensor>, bool)> {
    // SAFETY: forwarded caller contract; the name check and the reads of
    // the tensor happen while no other thread can take it (`locked`);
    // validation runs no Python code.
    unsafe {
        locked(cap, || {
            if let Some(t) = peek_named(cap, VERSIONED_NAME) {
                return Some((validate_versioned(t.as_ptr().cast()), true));
            }
            let t = peek_named(cap, LEGACY_NAME)?;
            Some((validate_legacy(t.cast::<DLManagedTensor>().as_ref()), false))
        })
    }
}

/// Like [`take_legacy`] but without consuming: the capsule still owns the
/// tensor, which stays valid only while the capsule is alive and unconsumed
/// (on a free-threaded interpreter another thread may consume it at any
/// time: [`peek_layout`] reads the tensor safely).
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer.
pub unsafe fn peek_legacy(cap: *mut PyObject) -> Option<NonNull<DLManagedTensor>> {
    // SAFETY: forwarded caller contract.
    unsafe { peek_named(cap, LEGACY_NAME) }.map(NonNull::cast)
}

/// Like [`take_versioned`] but without consuming.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer.
pub unsafe fn peek_versioned(cap: *mut PyObject) -> Option<NonNull<DLManagedTensorVersioned>> {
    // SAFETY: forwarded caller contract.
    unsafe { peek_named(cap, VERSIONED_NAME) }.map(NonNull::cast)
}

/// Calls the tensor's deleter if both the pointer and the deleter are
/// non-NULL.
///
/// # Safety
/// `p` is NULL or an owned managed tensor not yet deleted; it must not be
/// used afterwards. The GIL should be held if the producer's deleter may
/// touch Python objects (most do).
pub unsafe fn delete_legacy(p: *mut DLManagedTensor) {
    if p.is_null() {
        return;
    }
    // SAFETY: `p` is a live managed tensor we own (caller contract); the
    // deleter frees it, after which we do not touch it.
    unsafe {
        if let Some(deleter) = (*p).deleter {
            deleter(p);
        }
    }
}

/// Calls the versioned tensor's deleter if both are non-NULL. Safe for any
/// major version: the deleter's offset is ABI-stable.
///
/// # Safety
/// As for [`delete_legacy`].
pub unsafe fn delete_versioned(p: *mut DLManagedTensorVersioned) {
    if p.is_null() {
        return;
    }
    // SAFETY: as in `delete_legacy`; `deleter` lies in the version-stable
    // prefix of the struct.
    unsafe {
        if let Some(deleter) = (*p).deleter {
            deleter(p);
        }
    }
}

/// Runs `f` (foreign code: a deleter, a buffer release, a user `Drop`)
/// with the pending exception, if any, saved and restored around it: code
/// written in Python cannot run while an exception is pending, and an
/// error it leaves behind must not replace the caller's. An error `f`
/// leaves is discarded (such hooks have no way to report one).
///
/// # Safety
/// The GIL is held.
#[inline]
pub unsafe fn preserving_error<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: GIL held; Fetch (GetRaisedException from 3.12 on) moves the
    // references into our locals and Restore (SetRaisedException) moves them
    // back (replacing anything `f` raised).
    unsafe {
        if pyo3_ffi::PyErr_Occurred().is_null() {
            let r = f();
            if !pyo3_ffi::PyErr_Occurred().is_null() {
                pyo3_ffi::PyErr_Clear();
            }
            return r;
        }
        #[cfg(not(Py_3_12))]
        {
            let (mut ty, mut value, mut tb) =
                (core::ptr::null_mut(), core::ptr::null_mut(), core::ptr::null_mut());
            pyo3_ffi::PyErr_Fetch(&mut ty, &mut value, &mut tb);
            let r = f();
            pyo3_ffi::PyErr_Restore(ty, value, tb);
            r
        }
        #[cfg(Py_3_12)]
        {
            let exc = pyo3_ffi::PyErr_GetRaisedException();
            let r = f();
            pyo3_ffi::PyErr_SetRaisedException(exc);
            r
        }
    }
}

unsafe extern "C" fn legacy_capsule_destructor(cap: *mut PyObject) {
    // SAFETY: CPython calls this with the GIL held on a capsule being
    // deallocated. Only an unconsumed capsule still owns its tensor; a
    // renamed one was handed over to a consumer.
    unsafe {
        preserving_error(|| {
            if let Some(p) = peek_named(cap, LEGACY_NAME) {
                delete_legacy(p.as_ptr().cast());
            }
        });
    }
}

unsafe extern "C" fn versioned_capsule_destructor(cap: *mut PyObject) {
    // SAFETY: as in `legacy_capsule_destructor`.
    unsafe {
        preserving_error(|| {
            if let Some(p) = peek_named(cap, VERSIONED_NAME) {
                delete_versioned(p.as_ptr().cast());
            }
        });
    }
}

/// Wraps an owned legacy tensor in a new `"dltensor"` capsule.
///
/// The capsule destructor calls the deleter only if nobody consumed the
/// capsule, and never disturbs a pending Python exception. On failure the
/// deleter is called here and NULL is returned with a Python error set, so
/// ownership of `p` always passes to this function.
///
/// # Safety
/// GIL held; `p` is an owned, live managed tensor.
pub unsafe fn new_legacy_capsule(p: NonNull<DLManagedTensor>) -> *mut PyObject {
    // SAFETY: GIL held; the name is 'static; the destructor matches the
    // pointer's type.
    let cap = unsafe {
        PyCapsule_New(p.as_ptr().cast(), LEGACY_NAME.as_ptr(), Some(legacy_capsule_destructor))
    };
    if cap.is_null() {
        // SAFETY: we still own `p`; keep the creation error intact.
        unsafe { preserving_error(|| delete_legacy(p.as_ptr())) };
    }
    cap
}

/// Wraps an owned versioned tensor in a new `"dltensor_versioned"` capsule.
/// Same contract as [`new_legacy_capsule`].
///
/// # Safety
/// GIL held; `p` is an owned, live managed tensor.
pub unsafe fn new_versioned_capsule(p: NonNull<DLManagedTensorVersioned>) -> *mut PyObject {
    // SAFETY: as in `new_legacy_capsule`.
    let cap = unsafe {
        PyCapsule_New(
            p.as_ptr().cast(),
            VERSIONED_NAME.as_ptr(),
            Some(versioned_capsule_destructor),
        )
    };
    if cap.is_null() {
        // SAFETY: we still own `p`; keep the creation error intact.
        unsafe { preserving_error(|| delete_versioned(p.as_ptr())) };
    }
    cap
}

/// Reads a [`DLPackExchangeAPI`] table out of a `"dlpack_exchange_api"`
/// capsule (the value of `type(x).__dlpack_c_exchange_api__`), walking the
/// `prev_api` chain to the first table whose major version this crate
/// understands. Returns `None` without raising otherwise.
///
/// # Safety
/// GIL held; `cap` NULL or a valid object pointer; a capsule with that name
/// must really hold a table with a valid header chain, which (as `dlpack.h`
/// requires of producers) lives for the rest of the process.
pub unsafe fn exchange_api_from_capsule(cap: *mut PyObject) -> Option<&'static DLPackExchangeAPI> {
    // SAFETY: forwarded caller contract.
    let mut hdr = unsafe { peek_named(cap, EXCHANGE_API_NAME) }?
        .cast::<crate::abi::DLPackExchangeAPIHeader>();
    // Bounded walk: a foreign (possibly cyclic) chain must not hang us.
    for _ in 0..16 {
        // SAFETY: the header prefix is version-stable and the table lives for
        // the whole process (dlpack.h requirement).
        let h = unsafe { hdr.as_ref() };
        if h.version.is_compatible() {
            // SAFETY: major version 1: the full 1.x table layout applies.
            return Some(unsafe { hdr.cast::<DLPackExchangeAPI>().as_ref() });
        }
        hdr = NonNull::new(h.prev_api)?;
    }
    None
}
