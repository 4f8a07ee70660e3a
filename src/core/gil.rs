//! Whether this thread holds the GIL, and releasing it ([`allow_threads`]).
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
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: as said above.
    unsafe {
        !ffi::compat::PyThreadState_GetUnchecked().is_null()
            && (ffi::Py_Version >= 0x030C_0000 || ffi::PyGILState_Check() != 0)
    }
    // SAFETY: callable on any thread (the abi3 build: 3.12 and newer).
    #[cfg(Py_LIMITED_API)]
    unsafe {
        crate::core::abi::attached()
    }
}

/// Whether a handle may release what it holds now (`Drop`): the cheap test
/// for the only way a handle is dropped without the GIL — in a
/// `thread_local!` destructor, once the thread's Python state is gone (at
/// thread exit, or after finalization for the main thread). Handles are
/// `!Send` and made with the GIL, and no GIL-free section (`def_nogil`,
/// `allow_threads`) can hold one (its parameters and captures are `Send`;
/// a handle kept in a `thread_local!` is the exception SOUNDNESS.md
/// names), so a
/// thread that still has its Python state holds the GIL whenever Rust code
/// on it drops a handle.
#[inline(never)]
pub(crate) fn may_release() -> bool {
    // SAFETY: callable on any thread, before, during and after the
    // interpreter's life. From 3.12 on: this thread's attached state (a
    // thread-local read); on 3.11: this thread's own state, if any (one
    // thread-specific-data read, half of `PyGILState_Check`).
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: as said above.
    unsafe {
        if ffi::Py_Version >= 0x030C_0000 {
            !ffi::compat::PyThreadState_GetUnchecked().is_null()
        } else {
            !ffi::PyGILState_GetThisThreadState().is_null()
        }
    }
    // SAFETY: callable on any thread (the abi3 build: 3.12 and newer).
    #[cfg(Py_LIMITED_API)]
    unsafe {
        crate::core::abi::attached()
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

/// Runs `f` with the GIL released, so other Python threads run meanwhile
/// (pyo3's `allow_threads`, nanobind's `gil_scoped_release`), and takes
/// the GIL back before returning — also when `f` panics, whose unwinding
/// then goes on (a bound function turns it into a Python exception).
///
/// `f` and its result are `Send`: Python handles (`Object`, `Borrowed`,
/// `NdArray`, `PyErr`, `Args`, `Kwargs`, instance borrows, `ReturnCtx`)
/// are not, so the closure can neither capture nor return one. Capture
/// plain Rust values, array *views* (lent for the call: other threads'
/// calls cannot write the same memory) and `&T` of a `Sync` bound class.
/// Python objects made inside the closure from nothing (`Object::none()`,
/// `ReturnCtx::default()`, `PyErr::restore`, `ExceptionType::get`) panic:
/// they need the GIL. Called on a thread that does not hold the GIL
/// (inside another `allow_threads`, a Rust thread), it just runs `f`.
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::ndarray::ArrayView1;
///
/// fn total(a: ArrayView1<f64>) -> f64 {
///     // Other Python threads run while this sums.
///     allow_threads(|| a.sum())
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     m.def("total", total, arg("a"))?;
///     Ok(())
/// });
/// ```
///
/// A Python handle cannot cross into the closure:
///
/// ```compile_fail,E0277
/// use ndbind::prelude::*;
/// fn f(o: Object) -> usize {
///     allow_threads(|| o.borrow().type_name().len())
/// }
/// ```
pub fn allow_threads<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if held() {
        // SAFETY: this thread holds the GIL (checked just above).
        unsafe { released(f) }
    } else {
        f()
    }
}

/// Runs `f` with the GIL released, re-acquiring it before returning (also
/// when `f` panics: the guard's drop runs while the panic unwinds).
///
/// # Safety
/// This thread holds the GIL; `f` does not touch Python without taking it.
#[inline]
pub(crate) unsafe fn released<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(*mut ffi::PyThreadState);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: restores the thread state saved below, on this
            // thread (the guard is neither sent nor leaked).
            unsafe { ffi::PyEval_RestoreThread(self.0) }
        }
    }
    // SAFETY: the caller's contract: the GIL is held.
    let _restore = Restore(unsafe { ffi::PyEval_SaveThread() });
    f()
}

#[cfg(test)]
mod tests {
    /// Resolves only for a type that is not `Send` (ambiguous otherwise).
    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

    struct P;
    crate::class!(P);

    /// Every Python handle is `!Send`, so no `allow_threads` closure can
    /// capture or return one.
    #[test]
    fn python_handles_are_not_send() {
        use crate::core::class::{SharedGuard, UniqueGuard};
        <crate::Object as AmbiguousIfSend<_>>::check();
        <crate::Borrowed<'static> as AmbiguousIfSend<_>>::check();
        <crate::PyErr as AmbiguousIfSend<_>>::check();
        <crate::ReturnCtx<'static> as AmbiguousIfSend<_>>::check();
        <crate::Module as AmbiguousIfSend<_>>::check();
        <crate::Args as AmbiguousIfSend<_>>::check();
        <crate::Kwargs as AmbiguousIfSend<_>>::check();
        <crate::array::NdArray as AmbiguousIfSend<_>>::check();
        <crate::array::NdArray<f64> as AmbiguousIfSend<_>>::check();
        <crate::array::ArrayOut as AmbiguousIfSend<_>>::check();
        <crate::class::Class<P> as AmbiguousIfSend<_>>::check();
        <crate::class::InstRef<'static, P> as AmbiguousIfSend<_>>::check();
        <crate::class::InstMut<'static, P> as AmbiguousIfSend<_>>::check();
        <SharedGuard as AmbiguousIfSend<_>>::check();
        <UniqueGuard as AmbiguousIfSend<_>>::check();
    }

    /// The owned handles that check the GIL on every use and take it to
    /// drop are `Send` and `Sync`: they may be kept in Rust structures.
    #[test]
    fn checked_handles_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::class::PyHandle>();
        send_sync::<crate::class::Inst<P>>();
        send_sync::<crate::PyFn<(i64,), i64>>();
    }
}
