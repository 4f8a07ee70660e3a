//! Callables across the boundary, both ways: a Python callable as a typed
//! Rust parameter ([`PyFn`], called with Rust values through vectorcall),
//! Rust values as the arguments of any Python call ([`CallArgs`],
//! `Borrowed::call_with`), and Rust closures as Python function objects
//! ([`function`], `Module::function`: the machinery of `Module::def`).

use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::class::PyHandle;
use crate::core::error::{PyErr, PyResult};
use crate::core::extras::Extra;
use crate::core::func::IntoFunction;
use crate::core::module::Module;
use crate::core::object::{Borrowed, Object};

/// The arguments of a Python call made from Rust: a tuple of 0 to 8
/// [`IntoPy`] values (`()` for none, `(x,)` for one), each converted to a
/// Python object, then passed positionally through vectorcall.
///
/// ```
/// use ndbind::prelude::*;
///
/// fn call_twice(f: Borrowed<'_>) -> PyResult<Object> {
///     f.call_with(("first", 1))?;
///     f.call_with(("second", 2.5))
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("call_twice", call_twice, arg("f"))?; Ok(()) });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the arguments of a Python call",
    label = "not a tuple of at most 8 values that convert to Python",
    note = "the arguments are a tuple: `()` for none, `(x,)` for one, `(x, y)` for two; each element implements `ndbind::IntoPy`"
)]
pub trait CallArgs {
    /// Calls `f` with these arguments.
    fn call_on(self, f: Borrowed<'_>) -> PyResult<Object>;
    /// Appends the Python type names of the arguments, comma-separated.
    fn type_names(out: &mut String);
}

/// Calls `f` with `args[1..]` (owned, converted arguments); `args[0]` is an
/// empty slot the callee may use (`PY_VECTORCALL_ARGUMENTS_OFFSET`: a bound
/// method puts `self` there instead of copying the arguments).
#[inline(never)]
fn vectorcall(f: Borrowed<'_>, args: &mut [Option<Object>]) -> PyResult<Object> {
    let n = args.len() - 1;
    // SAFETY: `Option<Object>` has the layout of a nullable `PyObject*`
    // (`Object` is a transparent `NonNull`), so `args` is a `PyObject*`
    // array whose entries after the first are live objects we own for the
    // call; the first entry is ours to lend to the callee, which restores
    // it. `f` is alive and the GIL is held (the handle's contract).
    unsafe {
        let p = (args.as_mut_ptr() as *mut *mut ffi::PyObject).add(1);
        Object::from_owned_or_err(ffi::PyObject_Vectorcall(
            f.as_ptr(),
            p,
            n | ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
            std::ptr::null_mut(),
        ))
    }
}

macro_rules! call_args {
    ($n:expr; $($A:ident $i:tt),*) => {
        impl<$($A: IntoPy),*> CallArgs for ($($A,)*) {
            #[inline]
            #[allow(unused_variables)]
            fn call_on(self, f: Borrowed<'_>) -> PyResult<Object> {
                let ctx = ReturnCtx::held();
                // Converted in order; a failed conversion drops those made.
                let mut args: [Option<Object>; $n + 1] = [None, $(Some(self.$i.into_py(&ctx)?),)*];
                vectorcall(f, &mut args)
            }
            #[allow(unused_variables)]
            fn type_names(out: &mut String) {
                $( if $i > 0 { out.push_str(", "); } <$A as IntoPy>::type_name(out); )*
            }
        }
    };
}

call_args!(0;);
call_args!(1; A 0);
call_args!(2; A 0, B 1);
call_args!(3; A 0, B 1, C 2);
call_args!(4; A 0, B 1, C 2, D 3);
call_args!(5; A 0, B 1, C 2, D 3, E 4);
call_args!(6; A 0, B 1, C 2, D 3, E 4, F 5);
call_args!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
call_args!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// What a Python call made from Rust returns: `()` (the result, whatever
/// it is, is discarded) or any [`FromPy`] type (converted as an argument
/// of that type would be, implicit conversions allowed: an `int` result
/// reads as an `f64`; a result that does not convert is a `TypeError`
/// naming the expected and the returned type).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the result of a Python call",
    label = "not `()` nor a type that converts from Python",
    note = "the result of a call is `()` (discarded), `Object` (anything), or a type implementing `ndbind::FromPy` (owned: `String`, not `&str`)"
)]
pub trait CallResult: Sized {
    /// The Rust value of the call's result `obj`.
    fn from_result(obj: Object) -> PyResult<Self>;
    /// Appends the Python type name (`None` for `()`).
    fn type_name(out: &mut String);
}

impl CallResult for () {
    #[inline]
    fn from_result(_: Object) -> PyResult<()> {
        Ok(())
    }
    fn type_name(out: &mut String) {
        out.push_str("None")
    }
}

impl<T: FromPy> CallResult for T {
    #[inline]
    fn from_result(obj: Object) -> PyResult<T> {
        match T::from_py(obj.borrow(), true) {
            Some(mut v) => {
                // Nothing loads after it: it becomes the caller's now.
                v.commit();
                Ok(v)
            }
            None => Err(wrong_result(obj.borrow(), T::type_name)),
        }
    }
    fn type_name(out: &mut String) {
        T::type_name(out)
    }
}

/// The error of a result that did not convert: the converter's own (a
/// `MemoryError`, say), else a `TypeError` naming both types.
#[cold]
#[inline(never)]
fn wrong_result(obj: Borrowed<'_>, expected: fn(&mut String)) -> PyErr {
    if let Some(e) = PyErr::take() {
        return e;
    }
    let mut msg = String::from("a Python callable returned ");
    msg.push_str(&obj.type_name());
    msg.push_str(", expected ");
    expected(&mut msg);
    PyErr::type_error(msg)
}

impl<'a> Borrowed<'a> {
    /// `self(*args)` with Rust values as the arguments: a tuple of 0 to 8
    /// [`IntoPy`] values ([`CallArgs`]), each converted to a Python
    /// object. The result is any object; [`PyFn`] also converts it back.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// fn greet(f: Borrowed<'_>, name: &str) -> PyResult<Object> {
    ///     f.call_with(("hello", name, 3))
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("greet", greet, (arg("f"), arg("name")))?; Ok(()) });
    /// ```
    #[inline]
    pub fn call_with<A: CallArgs>(self, args: A) -> PyResult<Object> {
        args.call_on(self)
    }
}

/// A Python callable (a function, a lambda, a bound method, a class, any
/// object with `__call__`) as a typed Rust value: `PyFn<(i64, f64), f64>`
/// is called with an `i64` and an `f64` and returns an `f64`, like a Rust
/// `Fn(i64, f64) -> f64`. The argument types are a tuple of 0 to 8
/// [`IntoPy`] values ([`CallArgs`]; `()` for none, `(x,)` for one); the
/// result is `()` (discarded: the default), `Object`, or any [`FromPy`]
/// type ([`CallResult`]).
///
/// As a parameter it accepts any callable (anything else does not match,
/// so overloads go on to the next) and renders as
/// `collections.abc.Callable[[int, float], float]` in signatures. An
/// exception raised by the callable comes back as the `Err` of
/// [`PyFn::call`], unchanged (the same exception object, its traceback
/// included), and `?` raises it again to the caller.
///
/// It owns a reference to the callable, and may be kept after the call
/// that received it: in a bound class's field, in a registry of callbacks.
/// Like [`PyHandle`](crate::class::PyHandle), it is `Send` and `Sync`:
/// calling it needs the GIL (checked: a `RuntimeError` otherwise), and
/// dropping it takes the GIL if needed.
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::PyFn;
///
/// /// `[f(i, x) for i, x in enumerate(xs)]`, computed in Rust.
/// fn map_indexed(f: PyFn<(usize, f64), f64>, xs: Vec<f64>) -> PyResult<Vec<f64>> {
///     xs.into_iter().enumerate().map(|(i, x)| f.call((i, x))).collect()
/// }
///
/// /// Calls `f()` `n` times, ignoring what it returns.
/// fn repeat(f: PyFn<()>, n: usize) -> PyResult<()> {
///     (0..n).try_for_each(|_| f.call(()))
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     // map_indexed(f: collections.abc.Callable[[int, float], float], xs: list[float]) -> list[float]
///     m.def("map_indexed", map_indexed, (arg("f"), arg("xs")))?;
///     m.def("repeat", repeat, (arg("f"), arg("n")))?;
///     Ok(())
/// });
/// ```
///
/// A callable kept in a bound class:
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::PyFn;
///
/// struct Counter {
///     on_change: PyFn<(i64,)>,
///     value: i64,
/// }
/// ndbind::class!(Counter);
///
/// ndbind::module!(doc_ext, |m| {
///     let c = Class::<Counter>::new(m.as_object().borrow(), m.name(), "Counter", ())?;
///     c.init(|on_change: PyFn<(i64,)>| Counter { on_change, value: 0 }, arg("on_change"))?;
///     c.def("increment", |c: &mut Counter| {
///         c.value += 1;
///         c.on_change.call((c.value,))
///     }, ())?;
///     Ok(())
/// });
/// ```
pub struct PyFn<A, R = ()> {
    f: PyHandle,
    // Covariant in both: a `PyFn<(&'static str,)>` may be called with a
    // shorter-lived `&str` (arguments are converted, never kept).
    _sig: PhantomData<fn() -> (A, R)>,
}

impl<A: CallArgs, R: CallResult> PyFn<A, R> {
    /// A callable as a `PyFn` (`TypeError` when `f` is not callable).
    ///
    /// ```
    /// use ndbind::prelude::*;
    /// use ndbind::PyFn;
    ///
    /// fn apply_attr(obj: Borrowed<'_>, x: f64) -> PyResult<f64> {
    ///     let f: PyFn<(f64,), f64> = PyFn::new(obj.getattr(c"apply")?.borrow())?;
    ///     f.call((x,))
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("apply_attr", apply_attr, (arg("obj"), arg("x")))?; Ok(()) });
    /// ```
    pub fn new(f: Borrowed<'_>) -> PyResult<PyFn<A, R>> {
        Self::from_py(f, false).ok_or_else(|| not_callable(f))
    }

    /// Calls the callable with `args` (each converted with [`IntoPy`])
    /// and converts its result to `R`. The callable's exception, if it
    /// raises, is the error; so is a result that does not convert to `R`
    /// (`TypeError`), and a call made without the GIL (`RuntimeError`).
    ///
    /// ```
    /// use ndbind::prelude::*;
    /// use ndbind::PyFn;
    ///
    /// fn twice(f: PyFn<(String,), String>, s: String) -> PyResult<String> {
    ///     let once = f.call((s,))?;
    ///     f.call((once,))
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("twice", twice, (arg("f"), arg("s")))?; Ok(()) });
    /// ```
    #[inline]
    pub fn call(&self, args: A) -> PyResult<R> {
        let f = self.object()?;
        R::from_result(args.call_on(f)?)
    }

    /// The callable object, borrowed from this handle (`RuntimeError` when
    /// this thread does not hold the GIL).
    ///
    /// ```
    /// use ndbind::prelude::*;
    /// use ndbind::PyFn;
    ///
    /// fn name_of(f: PyFn<()>) -> PyResult<Object> {
    ///     f.object()?.getattr(c"__name__")
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("name_of", name_of, arg("f"))?; Ok(()) });
    /// ```
    #[inline]
    pub fn object(&self) -> PyResult<Borrowed<'_>> {
        if !crate::core::gil::held() {
            return Err(no_gil());
        }
        // SAFETY: the handle owns a reference; the GIL is held (checked).
        Ok(unsafe { Borrowed::from_ptr(self.f.as_ptr()) })
    }
}

#[cold]
#[inline(never)]
fn no_gil() -> PyErr {
    PyErr::runtime_error("ndbind: a PyFn was used on a thread that does not hold the GIL")
}

#[cold]
#[inline(never)]
fn not_callable(f: Borrowed<'_>) -> PyErr {
    PyErr::type_error(format!("'{}' object is not callable", f.type_name()))
}

/// Another handle to the same callable. Panics on a thread that does not
/// hold the GIL (as every function that makes a reference from nothing).
impl<A, R> Clone for PyFn<A, R> {
    fn clone(&self) -> Self {
        crate::core::gil::assert_held("PyFn::clone");
        // SAFETY: the handle owns a reference, so the object is alive; the
        // GIL is held (checked).
        PyFn { f: PyHandle::new(unsafe { Borrowed::from_ptr(self.f.as_ptr()) }), _sig: PhantomData }
    }
}

impl<A, R> std::fmt::Debug for PyFn<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if crate::core::gil::held() {
            // SAFETY: the handle owns a reference; the GIL is held.
            unsafe { Borrowed::from_ptr(self.f.as_ptr()) }.fmt(f)
        } else {
            f.write_str("<PyFn>")
        }
    }
}

/// `collections.abc.Callable[[A...], R]`, as nanobind renders it.
fn callable_type_name<A: CallArgs, R: CallResult>(out: &mut String) {
    out.push_str("collections.abc.Callable[[");
    A::type_names(out);
    out.push_str("], ");
    R::type_name(out);
    out.push(']');
}

impl<A: CallArgs, R: CallResult> FromPy for PyFn<A, R> {
    /// Any callable (`callable(obj)`); anything else does not match.
    #[inline]
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Self> {
        // SAFETY: a live object; the GIL is held (a call's argument).
        if unsafe { ffi::PyCallable_Check(obj.as_ptr()) } == 0 {
            return None;
        }
        Some(PyFn { f: PyHandle::new(obj), _sig: PhantomData })
    }
    fn type_name(out: &mut String) {
        callable_type_name::<A, R>(out)
    }
}

impl<A: CallArgs, R: CallResult> IntoPy for PyFn<A, R> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Ok(self.object()?.to_owned())
    }
    fn type_name(out: &mut String) {
        callable_type_name::<A, R>(out)
    }
}

/// A Rust closure (or `fn`) as a Python function object, for returning
/// functions to Python (nanobind's `cpp_function`): the same binding as
/// [`Module::def`] (parameters, annotations, signature, docstring), but the
/// function is not added to any scope. Its `__name__` and `__qualname__`
/// are `name`, its `__module__` is `None` ([`Module::function`] names the
/// module). The closure, with its captures, lives as long as the function
/// object, and is dropped exactly once when Python releases it.
///
/// The closure must be `'static` (it outlives the call that made it) but
/// need not be `Send`, as for `Module::def`: a bound function runs, and is
/// dropped, only with the GIL held. It may capture Python objects
/// (`Object`, [`PyFn`]); a capture that refers back to the function object
/// makes a reference cycle the garbage collector cannot see (the function
/// type does not traverse its closures).
///
/// ```
/// use ndbind::prelude::*;
///
/// /// `make_adder(k)` returns `adder(x) -> x + k`.
/// fn make_adder(k: i64) -> PyResult<Object> {
///     ndbind::function("adder", move |x: i64| x + k, (arg("x"), doc("x + k")))
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     m.def("make_adder", make_adder, arg("k"))?;
///     Ok(())
/// });
/// ```
pub fn function<M, F: IntoFunction<M>>(name: &str, f: F, extras: impl Extra) -> PyResult<Object> {
    crate::core::gil::assert_held("ndbind::function");
    crate::core::func::new_standalone(name, None, f.into_parts(), extras.into_extras())
}

impl Module {
    /// [`ndbind::function`](crate::function) whose `__module__` is this module's
    /// name; the function is not added to the module (use [`Module::def`]
    /// for that).
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     let scale = 2.5;
    ///     let f = m.function("scaled", move |x: f64| x * scale, arg("x"))?;
    ///     m.add("default_transform", f)?; // doc_ext.default_transform(4.0) == 10.0
    ///     Ok(())
    /// });
    /// ```
    pub fn function<M, F: IntoFunction<M>>(
        &self,
        name: &str,
        f: F,
        extras: impl Extra,
    ) -> PyResult<Object> {
        crate::core::func::new_standalone(
            name,
            Some(self.name()),
            f.into_parts(),
            extras.into_extras(),
        )
    }
}
