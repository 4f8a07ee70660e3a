//! The call wrapper: one generic shell (`call`) runs every bound callable
//! — free functions, methods, static methods, constructors and `def_ref`
//! methods. A constructor is an ordinary bound function whose first
//! parameter is the instance being initialised (as in nanobind): that
//! parameter is a `Receiver`, which takes the callable's result.
//!
//! One macro implements, per arity: the parameter list (`Params`: load
//! every argument into stack holders, then re-validate, alias-check and
//! commit), the signature table (`Signature`), how a callable is invoked
//! (`Invoke`), and the traits bindings use ([`IntoFunction`],
//! [`IntoNoGilFunction`], `IntoReceiving`).

use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::alias::Loans;
use crate::core::caster::{ArgCaster, IntoPy, Param};
use crate::core::func::record::{CallSite, ExplainList, FuncParts, SigList, NEXT_OVERLOAD};
use crate::core::object::Borrowed;

/// A Rust callable that can be bound as a Python function.
///
/// Implemented for `fn` items and closures of 0 to 12 parameters whose
/// parameter types are [`Param`]s and whose return type is [`IntoPy`]
/// (including `Result<T, E>` with `E: Into<PyErr>`). `M` is an inference
/// marker; callers never name it.
///
/// Parameters may borrow from their arguments (`&str`, `&[u8]`, array
/// views): the signature check asks the callable to accept them at *any*
/// lifetime, so nothing borrowed can escape the call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a Python function",
    label = "not a function ndbind can bind",
    note = "ndbind binds `fn` items and closures of at most 12 parameters: pass more values in a tuple, a `Vec`, a `dict` or a bound class",
    note = "a closure's parameter types must be written out: `|x: f64, s: &str| ...`"
)]
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a GIL-free Python function",
    label = "not a function ndbind can bind without the GIL",
    note = "ndbind binds `fn` items and closures of at most 12 parameters: pass more values in a tuple, a `Vec`, a `dict` or a bound class",
    note = "a closure's parameter types must be written out: `|x: f64, s: &str| ...`",
    note = "without the GIL, every parameter is `Send` (no `Object`, `Borrowed` or `NdArray`: take array views) and the callable is `Sync`"
)]
pub trait IntoNoGilFunction<M>: 'static {
    /// The record parts the core needs.
    fn into_parts(self) -> FuncParts;
}

/// A callable of 0 to 12 parameters bound behind a leading parameter `S`
/// that receives its result ([`Receiver`]): a constructor, whose `S` is the
/// instance being initialised (see `IntoInit`).
pub(crate) trait IntoReceiving<S, M>: 'static {
    /// The record parts of the function `(S, parameters...)`.
    fn into_parts(self) -> FuncParts;
}

impl<F, M> IntoFunction<M> for F
where
    F: Callable<M> + 'static,
    M: FnSignature<F>,
{
    #[inline]
    fn into_parts(self) -> FuncParts {
        M::parts(self)
    }
}

impl<F, M> IntoNoGilFunction<M> for F
where
    F: Callable<M> + 'static,
    M: NoGilSignature<F>,
{
    #[inline]
    fn into_parts(self) -> FuncParts {
        M::parts(self)
    }
}

impl<S, F, M> IntoReceiving<S, M> for F
where
    F: Callable<M> + 'static,
    M: ReceivingSignature<S, F>,
{
    #[inline]
    fn into_parts(self) -> FuncParts {
        M::parts(self)
    }
}

// The binding traits are implemented in two steps, so that a compile
// error names its cause rather than "`fn(..) {f}: IntoFunction<_>` is not
// satisfied" (all rustc says when each of several impls fails):
// `Callable` infers `M`, the return and parameter types `(R, P0, ...)`,
// from the callable's arity alone (one impl applies); the signature
// traits, implemented for that tuple (again one impl applies), then
// require `Pi: Param` and `R: IntoPy`, so rustc reports the very type
// that does not convert (`&Point: FromPy`, `ArrayView1<f64>: IntoPy`),
// with those traits' notes. (A result that borrows from a parameter is a
// lifetime error, which rustc reports as "implementation of `FnOnce` is
// not general enough"; making it name `IntoFunction` instead would also
// repeat every parameter error.) The code generated is the same as with
// one impl per arity.

/// A function or closure of 0 to 12 parameters; `M` is `(R, P0, P1, ...)`,
/// its return and parameter types.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a Python function",
    label = "not a function or closure of at most 12 parameters",
    note = "ndbind binds `fn` items and closures of at most 12 parameters: pass more values in a tuple, a `Vec`, a `dict` or a bound class",
    note = "a closure's parameter types must be written out: `|x: f64, s: &str| ...`"
)]
pub trait Callable<M> {}

/// The parameter and return types `(R, P0, P1, ...)` of a callable `F`
/// that [`IntoFunction`] binds: every `Pi` is a [`Param`] and `R` is
/// [`IntoPy`].
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the parameter and return types `{Self}` cannot cross to Python",
    label = "not convertible to and from Python",
    note = "each parameter converts from Python (`FromPy`; or borrowed: `&str`, `&[u8]`, array views, bound classes) and the return type converts to Python (`IntoPy`)"
)]
pub trait FnSignature<F> {
    /// The record parts of `f`.
    fn parts(f: F) -> FuncParts;
}

/// [`FnSignature`] for [`IntoNoGilFunction`]: also, every parameter is
/// `Send` and `F` is `Sync`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the parameter and return types `{Self}` cannot cross to Python without the GIL",
    label = "not convertible, or not `Send`",
    note = "each parameter converts from Python (`FromPy`; or borrowed: `&str`, `&[u8]`, array views, bound classes) and the return type converts to Python (`IntoPy`)",
    note = "without the GIL, every parameter is `Send` (no `Object`, `Borrowed` or `NdArray`: take array views) and the callable is `Sync`"
)]
pub trait NoGilSignature<F> {
    /// The record parts of `f`, called with the GIL released.
    fn parts(f: F) -> FuncParts;
}

/// [`FnSignature`] for [`IntoReceiving`]: the callable's result goes to
/// the receiver `S`.
pub(crate) trait ReceivingSignature<S, F> {
    /// The record parts of the function `(S, parameters...)`.
    fn parts(f: F) -> FuncParts;
}

/// A leading parameter that receives the result of the callable bound
/// behind it (the `self` of `__init__`: it stores the constructed value).
pub(crate) trait Receiver<R>: Param {
    /// What the bound function returns.
    type Output: IntoPy;
    /// Takes the callable's result `r`.
    fn receive(slf: <Self::Caster as ArgCaster>::Out<'_>, r: R) -> Self::Output;
}

/// A callable `F` behind a leading parameter `S` (see [`IntoReceiving`]).
pub(crate) struct WithReceiver<S, F>(F, PhantomData<fn(S)>);

/// A parameter list: a tuple of [`Param`]s, whose arguments load into a
/// tuple of holders on the call shell's stack.
pub(crate) trait Params {
    /// The number of parameters.
    const N: usize;
    /// Per-call state of the arguments (see [`ArgCaster::Holder`]).
    type Holders;
    /// Bit `i`: parameter `i`'s caster accepts `None`.
    const ACCEPTS_NONE: u64;
    /// Empty holders (a tuple's `Default` stops at 12).
    fn holders() -> Self::Holders;
    /// Bit `i`: parameter `i` converts by default.
    const CONVERT_DEFAULT: u64;
    /// Bit `i`: parameter `i` is `*args` ([`crate::Args`]).
    const VAR_ARGS: u64;
    /// Bit `i`: parameter `i` is `**kwargs` ([`crate::Kwargs`]).
    const VAR_KW: u64;
    /// Loads argument `i` into holder `i`, in order, allowing conversion
    /// where bit `i` of `convert` is set; false at the first mismatch (an
    /// error may be set: see [`load_failed`]).
    ///
    /// # Safety
    /// `args` holds `N` valid argument pointers that outlive the call.
    unsafe fn load(h: &mut Self::Holders, args: *const *mut ffi::PyObject, convert: u64) -> bool;
    /// The steps between loading and calling: what was loaded before the
    /// last argument is re-validated (Python code may have run since), the
    /// alias check runs and view parameters are lent (only when some
    /// parameter writes or lends: compile-time constants), then every
    /// argument commits. The loans, to hold for the call; `None` with an
    /// error set.
    ///
    /// # Safety
    /// `h` was filled by a successful [`Params::load`] of this call.
    unsafe fn prepare(h: &mut Self::Holders) -> Option<Loans>;
}

/// The type names of a parameter list and return type `R` (one static
/// table per signature; see [`SigList`]).
pub(crate) trait Signature<R>: Params {
    /// The parameters' names, then the return type's.
    const LIST: SigList;
    /// The parameters' `explain` functions (mismatch errors).
    const EXPLAIN: ExplainList;
}

/// How the call shell runs a callable on loaded parameters `Ps`.
pub(crate) trait Invoke<Ps: Params> {
    /// The callable's result, converted by the shell.
    type Output;
    /// Hands each holder's value to the callable.
    ///
    /// # Safety
    /// `h` was loaded and prepared by this call, and is used once.
    unsafe fn invoke(&self, h: &mut Ps::Holders) -> Self::Output;
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
unsafe fn load_failed(
    mismatch: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: reads the thread state's error indicator (GIL held).
    if !unsafe { ffi::PyErr_Occurred() }.is_null() {
        std::ptr::null_mut()
    } else if mismatch.is_null() {
        NEXT_OVERLOAD
    } else {
        // SAFETY: the caller's contract.
        unsafe { crate::core::func::dispatch::raise_fast_mismatch(mismatch, args) }
    }
}

#[cold]
#[inline(never)]
fn panic_caught(payload: Box<dyn std::any::Any + Send>) -> *mut ffi::PyObject {
    crate::core::error::panic_to_pyerr(payload).restore_null()
}

/// The callable's error, raised; or, when it declined the arguments
/// ([`PyErr::next_overload`]), the next overload is tried as after a
/// load mismatch (see [`load_failed`]).
///
/// # Safety
/// `mismatch` and `args` are those the call implementation was given.
#[cold]
#[inline(never)]
unsafe fn failed(
    e: crate::core::error::PyErr,
    mismatch: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    if e.is_next_overload() {
        drop(e);
        // SAFETY: the caller's contract.
        unsafe { load_failed(mismatch, args) }
    } else {
        e.restore_null()
    }
}

/// The call shell (a [`crate::core::func::record::CallImpl`]): loads the
/// arguments into stack holders, prepares them ([`Params::prepare`]),
/// invokes the callable (GIL released when `NOGIL`), converts its result.
/// No panic leaves it.
///
/// # Safety
/// As for `CallImpl`; `site` belongs to a record made by [`parts`] with
/// this `F` and `Ps`.
unsafe extern "C" fn call<F, Ps, const NOGIL: bool>(
    site: &CallSite,
    args: *const *mut ffi::PyObject,
    convert: u64,
    mismatch: *mut ffi::PyObject,
) -> *mut ffi::PyObject
where
    F: Invoke<Ps>,
    Ps: Params,
    F::Output: IntoPy,
{
    let body = || {
        // SAFETY: the site's callable is the boxed `F` of this record,
        // alive as long as the function object.
        let f = unsafe { site.callable::<F>() };
        let mut h = Ps::holders();
        // SAFETY: the dispatcher passes exactly `Ps::N` valid arguments
        // that outlive this call.
        if !unsafe { Ps::load(&mut h, args, site.convert & convert) } {
            // SAFETY: this call's own `mismatch` and `args`.
            return unsafe { load_failed(mismatch, args) };
        }
        // SAFETY: every holder was loaded just above.
        let Some(_loans) = (unsafe { Ps::prepare(&mut h) }) else {
            return std::ptr::null_mut();
        };
        let r = if NOGIL {
            // SAFETY: every call path holds the GIL; the callable's
            // parameters are `Send` and it is `Sync` (`NoGilSignature`).
            // Loaded and prepared above, invoked once.
            unsafe { crate::core::gil::released(|| f.invoke(&mut h)) }
        } else {
            // SAFETY: as above.
            unsafe { f.invoke(&mut h) }
        };
        // SAFETY: a method's arguments start with `self`; `args` holds
        // this call's `Ps::N` live arguments.
        match r.into_py(&unsafe { site.ctx(args, Ps::N) }) {
            Ok(o) => o.into_ptr(),
            // SAFETY: this call's own `mismatch` and `args`.
            Err(e) => unsafe { failed(e, mismatch, args) },
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => panic_caught(payload),
    }
}

/// The record parts of callable `f` with parameters `Ps`.
pub(crate) fn parts<F, Ps, const NOGIL: bool>(f: F) -> FuncParts
where
    F: Invoke<Ps> + 'static,
    Ps: Signature<F::Output>,
    F::Output: IntoPy,
{
    let mut parts = FuncParts::new(
        f,
        call::<F, Ps, NOGIL>,
        Ps::N,
        <Ps as Signature<F::Output>>::LIST,
        Ps::ACCEPTS_NONE,
        Ps::CONVERT_DEFAULT,
        (Ps::VAR_ARGS, Ps::VAR_KW),
    );
    parts.explain = <Ps as Signature<F::Output>>::EXPLAIN;
    parts
}

/// [`Params`] and [`Signature`] of one arity.
macro_rules! impl_params {
    ($n:expr; $($P:ident $h:ident $i:tt),*) => {
        impl<$($P: Param,)*> Params for ($($P,)*) {
            const N: usize = $n;
            type Holders = ($(<$P::Caster as ArgCaster>::Holder,)*);
            const ACCEPTS_NONE: u64 =
                0 $( | ((<$P::Caster as ArgCaster>::ACCEPTS_NONE as u64) << $i) )*;
            const CONVERT_DEFAULT: u64 =
                0 $( | ((<$P::Caster as ArgCaster>::CONVERT_BY_DEFAULT as u64) << $i) )*;
            const VAR_ARGS: u64 = 0 $( | (((<$P::Caster as ArgCaster>::VARIADIC
                == crate::core::func::varargs::VARIADIC_ARGS) as u64) << $i) )*;
            const VAR_KW: u64 = 0 $( | (((<$P::Caster as ArgCaster>::VARIADIC
                == crate::core::func::varargs::VARIADIC_KWARGS) as u64) << $i) )*;

            #[inline(always)]
            #[allow(clippy::unused_unit)]
            fn holders() -> Self::Holders {
                ($(<<$P::Caster as ArgCaster>::Holder as Default>::default(),)*)
            }

            #[inline(always)]
            #[allow(unused_variables)]
            unsafe fn load(
                h: &mut Self::Holders,
                args: *const *mut ffi::PyObject,
                convert: u64,
            ) -> bool {
                let ($($h,)*) = h;
                $(
                    // SAFETY: the caller's contract: argument `$i` is valid.
                    let obj = unsafe { Borrowed::from_ptr(*args.add($i)) };
                    if !<$P::Caster as ArgCaster>::load($h, obj, convert & (1u64 << $i) != 0) {
                        return false;
                    }
                )*
                true
            }

            #[inline(always)]
            unsafe fn prepare(h: &mut Self::Holders) -> Option<Loans> {
                let ($($h,)*) = h;
                $(
                    if $i + 1 < $n && !<$P::Caster as ArgCaster>::recheck($h) {
                        return None;
                    }
                )*
                let loans = if false $(|| <$P::Caster as ArgCaster>::MAY_WRITE || <$P::Caster as ArgCaster>::LENDS)* {
                    #[allow(unused_mut)]
                    let mut spans = crate::core::caster::Spans::default();
                    $(
                        spans.set_arg($i);
                        <$P::Caster as ArgCaster>::spans($h, &mut spans);
                    )*
                    spans.check()?
                } else {
                    Loans::NONE
                };
                $(
                    // SAFETY: (for commit, and `get` after it) each holder
                    // was loaded from this call's live arguments (the
                    // caller's contract), and the alias check ran.
                    unsafe { <$P::Caster as ArgCaster>::commit($h) };
                )*
                Some(loans)
            }
        }

        impl<R: IntoPy, $($P: Param,)*> Signature<R> for ($($P,)*) {
            const LIST: SigList =
                &[$(<$P::Caster as ArgCaster>::type_name as fn(&mut String),)* R::type_name];
            const EXPLAIN: ExplainList = &[$(
                <$P::Caster as ArgCaster>::explain as fn(Borrowed<'_>, bool) -> Option<String>,
            )*];
        }
    };
}

/// Everything of one arity: [`Params`], [`Signature`], [`Invoke`] of plain
/// callables and of receivers, the binding traits. The receiver's list has
/// one parameter more (`$S` first).
macro_rules! impl_callables {
    ($n:expr; $($P:ident $h:ident $i:tt),*) => { const _: () = {
        impl_params!($n; $($P $h $i),*);

        impl<F, R, $($P: Param,)*> Invoke<($($P,)*)> for F
        where
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
        {
            type Output = R;

            #[inline(always)]
            unsafe fn invoke(&self, h: &mut <($($P,)*) as Params>::Holders) -> R {
                let ($($h,)*) = h;
                // SAFETY: the caller's contract: loaded, prepared, used once.
                self($(unsafe { <$P::Caster as ArgCaster>::get($h) }),*)
            }
        }

        impl<S, G, R, $($P: Param,)*> Invoke<(S, $($P,)*)> for WithReceiver<S, G>
        where
            S: Receiver<R>,
            G: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
        {
            type Output = S::Output;

            #[inline(always)]
            unsafe fn invoke(&self, h: &mut <(S, $($P,)*) as Params>::Holders) -> S::Output {
                let (hs, $($h,)*) = h;
                // SAFETY: the caller's contract: loaded, prepared, used once.
                let slf = unsafe { <S::Caster as ArgCaster>::get(hs) };
                // SAFETY: as above.
                S::receive(slf, (self.0)($(unsafe { <$P::Caster as ArgCaster>::get($h) }),*))
            }
        }

        impl<F, R, $($P,)*> Callable<(R, $($P,)*)> for F where F: Fn($($P),*) -> R {}

        impl<F, R, $($P,)*> FnSignature<F> for (R, $($P,)*)
        where
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R + 'static,
            R: IntoPy,
            $($P: Param,)*
        {
            #[inline]
            fn parts(f: F) -> FuncParts {
                parts::<F, ($($P,)*), false>(f)
            }
        }

        impl<F, R, $($P,)*> NoGilSignature<F> for (R, $($P,)*)
        where
            // Without the GIL, calls from several Python threads run at once.
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R + Sync + 'static,
            $(for<'a> <<$P as Param>::Caster as ArgCaster>::Out<'a>: Send,)*
            R: IntoPy,
            $($P: Param,)*
        {
            #[inline]
            fn parts(f: F) -> FuncParts {
                parts::<F, ($($P,)*), true>(f)
            }
        }

        impl<S, F, R, $($P,)*> ReceivingSignature<S, F> for (R, $($P,)*)
        where
            S: Receiver<R> + 'static,
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R + 'static,
            $($P: Param,)*
        {
            #[inline]
            fn parts(f: F) -> FuncParts {
                parts::<WithReceiver<S, F>, (S, $($P,)*), false>(WithReceiver(f, PhantomData))
            }
        }
    }; };
}

impl_callables!(0;);
impl_callables!(1; A0 h0 0);
impl_callables!(2; A0 h0 0, A1 h1 1);
impl_callables!(3; A0 h0 0, A1 h1 1, A2 h2 2);
impl_callables!(4; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3);
impl_callables!(5; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4);
impl_callables!(6; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5);
impl_callables!(7; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6);
impl_callables!(8; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7);
impl_callables!(9; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8);
impl_callables!(10; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9);
impl_callables!(11; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10);
impl_callables!(12; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10, A11 h11 11);
// A receiver and 12 parameters.
const _: () = {
    impl_params!(13; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10, A11 h11 11, A12 h12 12);
};
