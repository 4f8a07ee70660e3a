//! The generic shells: one impl per arity turns a Rust callable into
//! [`FuncParts`]. Each monomorphisation is a few lines: load the arguments
//! into stack holders, call, convert the result.

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, IntoPy, Param};
use crate::core::error::PyResult;
use crate::core::func::record::{CallSite, FuncParts, SigList, NEXT_OVERLOAD};
use crate::core::object::{Borrowed, Object};

/// A Rust callable that can be bound as a Python function.
///
/// Implemented for `fn` items and closures of 0 to 12 parameters whose
/// parameter types are [`Param`]s and whose return type is [`IntoPy`]
/// (including `Result<T, E>` with `E: Into<PyErr>`). `M` is an inference
/// marker; callers never name it.
///
/// Parameters may borrow from their arguments (`&str`, `&[u8]`, array
/// views): the second bound asks the callable to accept *any* lifetime, so
/// nothing borrowed can escape the call.
pub trait IntoFunction<M>: 'static {
    /// The record parts the core needs.
    fn into_parts(self) -> FuncParts;
}

/// A callable bound with the GIL released while it runs (see
/// [`crate::Module::def_nogil`]): like [`IntoFunction`], and every parameter
/// type must be `Send` — so no Python handle (`Object`, `Borrowed`,
/// `NdArray`) can reach a GIL-free section; array *views*, plain values and
/// `&str` can. The callable must be `Sync`: Python threads may run it at
/// the same time.
pub trait IntoNoGilFunction<M>: 'static {
    /// The record parts the core needs.
    fn into_parts(self) -> FuncParts;
}

/// Runs `f` with the GIL released, re-acquiring it before returning (also
/// when `f` panics, whose unwinding then continues to the dispatcher).
#[inline]
pub(crate) fn without_gil<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: the GIL is held on entry (every call path holds it); it is
    // re-acquired below on every path out.
    let ts = unsafe { ffi::PyEval_SaveThread() };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    // SAFETY: restores the thread state saved above.
    unsafe { ffi::PyEval_RestoreThread(ts) };
    match r {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Outcome of a failed argument load: an error a caster set aborts the
/// call; else the next overload is tried, or, when the call came through
/// the single-overload fast path (`mismatch` non-NULL), the mismatch
/// `TypeError` is raised (see [`crate::core::func::record::CallImpl`]).
///
/// # Safety
/// `mismatch` and `args` are those the call implementation was given.
#[cold]
#[inline(never)]
pub(crate) unsafe fn load_failed(
    mismatch: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: reads the thread state's error indicator (GIL held); the
    // caller's contract for the rest.
    unsafe {
        if !ffi::PyErr_Occurred().is_null() {
            std::ptr::null_mut()
        } else if mismatch.is_null() {
            NEXT_OVERLOAD
        } else {
            crate::core::func::dispatch::raise_fast_mismatch(mismatch, args)
        }
    }
}

/// Runs a call implementation's body, turning a panic into a Python
/// exception: no panic leaves a [`crate::core::func::record::CallImpl`].
#[inline(always)]
pub(crate) fn guard_call(body: impl FnOnce() -> *mut ffi::PyObject) -> *mut ffi::PyObject {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => panic_caught(payload),
    }
}

#[cold]
#[inline(never)]
fn panic_caught(payload: Box<dyn std::any::Any + Send>) -> *mut ffi::PyObject {
    crate::core::error::panic_to_pyerr(payload).restore_null()
}

/// Converts the call's result into the vectorcall return convention.
#[inline]
pub(crate) fn finish(r: PyResult<Object>) -> *mut ffi::PyObject {
    match r {
        Ok(o) => o.into_ptr(),
        Err(e) => e.restore_null(),
    }
}

/// The steps between loading a call's arguments and calling: what was
/// loaded before the last argument is re-validated (Python code may have
/// run since), the alias check runs and view parameters are lent (only
/// when some parameter writes or lends: compile-time constants), then
/// every argument commits. Evaluates to the loans, to hold for the call;
/// returns NULL (an error set) from the call implementation otherwise.
/// Shared by functions and constructors.
macro_rules! prepare_args {
    ($n:expr; $($P:ident $h:ident $i:tt),*) => {{
        $(
            if $i + 1 < $n && !<$P::Caster as ArgCaster>::recheck(&mut $h) {
                return std::ptr::null_mut();
            }
        )*
        let loans = if false $(|| <$P::Caster as ArgCaster>::MAY_WRITE || <$P::Caster as ArgCaster>::LENDS)* {
            #[allow(unused_mut)]
            let mut spans = crate::core::caster::Spans::default();
            $(
                spans.set_arg($i);
                <$P::Caster as ArgCaster>::spans(&$h, &mut spans);
            )*
            match spans.check() {
                Some(loans) => loans,
                None => return std::ptr::null_mut(),
            }
        } else {
            crate::core::alias::Loans::NONE
        };
        // SAFETY (commit, and `get` after this): each holder was loaded
        // from this call's live arguments, and the alias check ran.
        $( unsafe { <$P::Caster as ArgCaster>::commit(&mut $h) }; )*
        loans
    }};
}
pub(crate) use prepare_args;

macro_rules! impl_into_function {
    ($n:expr; $($P:ident $h:ident $i:tt),*) => { const _: () = {
        impl<F, R, $($P,)*> IntoFunction<(R, $($P,)*)> for F
        where
            F: Fn($($P),*) -> R + 'static,
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
            R: IntoPy,
            $($P: Param,)*
        {
            fn into_parts(self) -> FuncParts {
                parts::<F, R, false, $($P,)*>(self)
            }
        }

        impl<F, R, $($P,)*> IntoNoGilFunction<(R, $($P,)*)> for F
        where
            // Without the GIL, calls from several Python threads run at once.
            F: Fn($($P),*) -> R + Sync + 'static,
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
            $(for<'a> <<$P as Param>::Caster as ArgCaster>::Out<'a>: Send,)*
            R: IntoPy,
            $($P: Param,)*
        {
            fn into_parts(self) -> FuncParts {
                parts::<F, R, true, $($P,)*>(self)
            }
        }

        struct Sig<R, $($P,)*>(std::marker::PhantomData<(R, $($P,)*)>);

        impl<R: IntoPy, $($P: Param,)*> Sig<R, $($P,)*> {
            const LIST: SigList = &[$(<$P::Caster as ArgCaster>::type_name as fn(&mut String),)* R::type_name];
        }

        #[allow(non_snake_case)]
        fn parts<F, R, const NOGIL: bool, $($P,)*>(f: F) -> FuncParts
        where
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R + 'static,
            R: IntoPy,
            $($P: Param,)*
        {
            {
                #[allow(unused_variables, unused_unsafe)]
                unsafe extern "C" fn call<F, R, const NOGIL: bool, $($P,)*>(
                    site: &CallSite,
                    args: *const *mut ffi::PyObject,
                    convert: u64,
                    mismatch: *mut ffi::PyObject,
                ) -> *mut ffi::PyObject
                where
                    F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
                    R: IntoPy,
                    $($P: Param,)*
                {
                    guard_call(|| {
                        // SAFETY: the site's callable is the boxed `F` of
                        // this record, alive as long as the function object.
                        let f = unsafe { site.callable::<F>() };
                        let convert = site.convert & convert;
                        $(
                            let mut $h = <<$P::Caster as ArgCaster>::Holder as Default>::default();
                            // SAFETY: the dispatcher passes exactly `nargs`
                            // valid argument pointers that outlive this call.
                            let obj = unsafe { Borrowed::from_ptr(*args.add($i)) };
                            if !<$P::Caster as ArgCaster>::load(&mut $h, obj, convert & (1u64 << $i) != 0) {
                                // SAFETY: this call's own arguments.
                                return unsafe { load_failed(mismatch, args) };
                            }
                        )*
                        // Re-validation, the alias check and loans, commit.
                        let _loans = crate::core::func::bind::prepare_args!($n; $($P $h $i),*);
                        let r = if NOGIL {
                            without_gil(|| f($(unsafe { <$P::Caster as ArgCaster>::get(&mut $h) }),*))
                        } else {
                            f($(unsafe { <$P::Caster as ArgCaster>::get(&mut $h) }),*)
                        };
                        // SAFETY: a method's arguments start with `self`.
                        finish(r.into_py(&unsafe { site.ctx(args) }))
                    })
                }

                let accepts_none = 0u64 $( | ((<$P::Caster as ArgCaster>::ACCEPTS_NONE as u64) << $i) )*;
                let convert = 0u64 $( | ((<$P::Caster as ArgCaster>::CONVERT_BY_DEFAULT as u64) << $i) )*;
                FuncParts::new(f, call::<F, R, NOGIL, $($P,)*>, $n, Sig::<R, $($P,)*>::LIST, accepts_none, convert)
            }
        }
    }; };
}

impl_into_function!(0;);
impl_into_function!(1; A0 h0 0);
impl_into_function!(2; A0 h0 0, A1 h1 1);
impl_into_function!(3; A0 h0 0, A1 h1 1, A2 h2 2);
impl_into_function!(4; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3);
impl_into_function!(5; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4);
impl_into_function!(6; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5);
impl_into_function!(7; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6);
impl_into_function!(8; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7);
impl_into_function!(9; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8);
impl_into_function!(10; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9);
impl_into_function!(11; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10);
impl_into_function!(12; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10, A11 h11 11);
