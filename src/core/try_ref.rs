//! New references to objects found through ndbind's side tables (the
//! `Arc`, reference, moved-out and trampoline maps), which hold their
//! objects without owning them.
//!
//! An entry is removed when its object dies, but between the last decref
//! and that removal the object is dying: it must not be handed out again.
//! With the GIL, "reference count above zero" decides, read with the GIL
//! held. Free-threaded, another thread may drop the last reference at the
//! same moment, so the count is raised only if it is not zero, in one
//! atomic step (CPython's `_Py_TryIncref`, not public before 3.14's
//! `PyUnstable_TryIncRef`). For that step to see every live object, an
//! object gets the "maybe weakly referenced" state before it enters a
//! table ([`enable`]), which makes its owner thread merge its local count
//! into the shared one instead of freeing the object behind our back.

use pyo3_ffi as ffi;

use crate::core::object::Object;

#[cfg(Py_GIL_DISABLED)]
mod shared {
    //! CPython 3.13/3.14's free-threaded reference count layout
    //! (`Include/internal/pycore_object.h`): the shared count is shifted
    //! left by 2, its low bits are a state.
    pub(super) const SHIFT: isize = 2;
    pub(super) const FLAG_MASK: isize = 3;
    pub(super) const MAYBE_WEAKREF: isize = 1;
    pub(super) const MERGED: isize = 3;
}

/// Prepares `obj` to be found through a side table (see the module doc):
/// call before the table can hand it out. A no-op with the GIL.
///
/// # Safety
/// `obj` is a live object this thread holds a reference to.
#[inline]
pub(crate) unsafe fn enable(obj: *mut ffi::PyObject) {
    #[cfg(Py_GIL_DISABLED)]
    {
        use std::sync::atomic::Ordering::Relaxed;
        // SAFETY: (caller) a live object; its count fields are atomics.
        let (local, shared) = unsafe { (&(*obj).ob_ref_local, &(*obj).ob_ref_shared) };
        if local.load(Relaxed) == u32::MAX {
            return; // immortal
        }
        let mut cur = shared.load(Relaxed);
        // A state already set (maybe-weakref, queued, merged) is kept.
        while cur & shared::FLAG_MASK == 0 {
            match shared.compare_exchange_weak(cur, cur | shared::MAYBE_WEAKREF, Relaxed, Relaxed) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }
    #[cfg(not(Py_GIL_DISABLED))]
    let _ = obj;
}

/// A new reference to `obj` unless it is dying (its count reached zero).
///
/// # Safety
/// `obj` is live or dying but not yet freed: a table entry that its
/// object's deallocation removes (under the table's lock, or the GIL),
/// read while that lock is held; [`enable`] ran on it before it was
/// entered.
#[inline]
pub(crate) unsafe fn try_new_ref(obj: *mut ffi::PyObject) -> Option<Object> {
    #[cfg(not(Py_GIL_DISABLED))]
    // SAFETY: (caller) not freed; the GIL serialises this read with the
    // decref that would free it.
    unsafe {
        (ffi::Py_REFCNT(obj) > 0).then(|| Object::from_borrowed(obj))
    }
    #[cfg(Py_GIL_DISABLED)]
    {
        use std::sync::atomic::Ordering::Relaxed;
        // SAFETY: (caller) not freed; its count fields are atomics.
        let (local, shared) = unsafe { (&(*obj).ob_ref_local, &(*obj).ob_ref_shared) };
        if local.load(Relaxed) == u32::MAX {
            // SAFETY: immortal objects are never freed.
            return Some(unsafe { Object::from_borrowed(obj) });
        }
        let mut cur = shared.load(Relaxed);
        loop {
            // Zero, or merged at zero: its deallocation has begun (or will).
            if cur == 0 || cur == shared::MERGED {
                return None;
            }
            match shared.compare_exchange_weak(cur, cur + (1 << shared::SHIFT), Relaxed, Relaxed) {
                // SAFETY: the shared count this thread just added is now a
                // reference it owns.
                Ok(_) => return unsafe { Object::from_owned(obj) },
                Err(now) => cur = now,
            }
        }
    }
}
