//! Whether this thread holds the GIL.
//!
//! ndbind's handles (`Object`, `Borrowed`, arrays, errors) are `!Send`:
//! made on a thread that holds the GIL, they stay there. Two ways remain
//! for safe code to reach the C API without the GIL, and both are checked
//! here: creating Python objects *from nothing* on a thread that does not
//! hold it (a `std::thread` spawned by bound code), and dropping a handle
//! kept in a `thread_local!`, whose destructor runs when the thread exits,
//! after the interpreter has let go of it (a reference is then leaked,
//! never touched).

use pyo3_ffi as ffi;

/// Whether this thread holds the GIL of a running interpreter (also while
/// it finalizes: modules are torn down with the GIL held).
#[inline]
pub(crate) fn held() -> bool {
    // SAFETY: callable on any thread, with or without the GIL, before,
    // during and after the interpreter's life. From 3.12 on, the thread
    // state is per thread (non-NULL: this thread is attached, so holds the
    // GIL); on 3.11 it is the GIL holder's, any thread's, so this thread's
    // own is compared too (`PyGILState_Check`, which on its own answers
    // "held" once the interpreter is gone).
    unsafe {
        !ffi::compat::PyThreadState_GetUnchecked().is_null()
            && (ffi::Py_Version >= 0x030C_0000 || ffi::PyGILState_Check() != 0)
    }
}

/// Whether a handle may release what it holds now (`Drop`): the cheap test
/// for the only way a handle is dropped without the GIL — in a
/// `thread_local!` destructor, once the thread's Python state is gone (at
/// thread exit, or after finalization for the main thread). Handles are
/// `!Send` and made with the GIL, and no GIL-free section (`def_nogil`)
/// can hold one (its parameters are `Send`, its callable `Sync`), so a
/// thread that still has its Python state holds the GIL whenever Rust code
/// on it drops a handle.
#[inline(never)]
pub(crate) fn may_release() -> bool {
    // SAFETY: callable on any thread, before, during and after the
    // interpreter's life. From 3.12 on: this thread's attached state (a
    // thread-local read); on 3.11: this thread's own state, if any (one
    // thread-specific-data read, half of `PyGILState_Check`).
    unsafe {
        if ffi::Py_Version >= 0x030C_0000 {
            !ffi::compat::PyThreadState_GetUnchecked().is_null()
        } else {
            !ffi::PyGILState_GetThisThreadState().is_null()
        }
    }
}

/// Panics (a Rust panic, which bound code turns into a Python exception)
/// unless this thread holds the GIL: the guard of the safe functions that
/// reach the C API without a Python object in hand.
#[inline]
#[track_caller]
pub(crate) fn assert_held(what: &str) {
    if !held() {
        not_held(what)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn not_held(what: &str) -> ! {
    panic!("ndbind: {what} needs the GIL, and this thread does not hold it (a thread Python did not start, or one that released it)")
}
