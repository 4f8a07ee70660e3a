//! Python exceptions as Rust errors.

use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3_ffi as ffi;

use crate::core::object::{Borrowed, Object};

mod access;

/// `Result` whose error is a Python exception.
pub type PyResult<T> = Result<T, PyErr>;

/// A Python exception, either still to be created (cheap: a type and a
/// message) or fetched from the interpreter (type, value and traceback are
/// kept, so re-raising it preserves the traceback, `__cause__` and
/// `__context__`). An error can carry a cause, raised as
/// `raise err from cause` ([`PyErr::with_cause`]).
///
/// ```
/// use ndbind::{PyErr, PyResult};
///
/// fn checked_div(a: i64, b: i64) -> PyResult<i64> {
///     if b == 0 {
///         return Err(PyErr::value_error("division by zero"));
///     }
///     Ok(a / b)
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("checked_div", checked_div, (ndbind::arg("a"), ndbind::arg("b")))?; Ok(()) });
/// assert_eq!(checked_div(7, 2).unwrap(), 3);
/// assert_eq!(checked_div(1, 0).unwrap_err().message(), "division by zero");
/// ```
pub struct PyErr {
    /// Dropped by `Drop for PyErr`, out of line (see there).
    state: ManuallyDrop<State>,
}

impl Drop for PyErr {
    /// Out of line: errors are dropped on cold paths all over the crate,
    /// and `State`'s drop glue (a `Cow` and three objects) is ~200 bytes
    /// at each of them.
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: the state is dropped once, here (`into_state` forgets the
        // error after taking it).
        unsafe { ManuallyDrop::drop(&mut self.state) }
    }
}

enum State {
    /// An exception type (a borrowed pointer to a type that outlives the
    /// interpreter's use of it: a builtin or a registered one) and a message.
    Lazy { ty: *mut ffi::PyObject, msg: Cow<'static, str> },
    /// An exception fetched from the interpreter.
    Fetched { ty: Object, value: Option<Object>, tb: Option<Object> },
    /// An error and its cause (`raise err from cause`), both kept as they
    /// are until raised: boxed, so plain errors stay small.
    Chained(Box<Chain>),
}

struct Chain {
    err: PyErr,
    cause: PyErr,
}

macro_rules! builtin_ctor {
    ($($(#[$doc:meta])* $fn:ident => $exc:ident;)*) => {$(
        $(#[$doc])*
        pub fn $fn(msg: impl Into<Cow<'static, str>>) -> PyErr {
            // SAFETY: reading the address of a builtin exception type, which
            // the interpreter keeps alive for its whole life.
            PyErr::lazy(unsafe { ffi::$exc }, msg.into())
        }
    )*};
}

impl PyErr {
    fn lazy(ty: *mut ffi::PyObject, msg: Cow<'static, str>) -> PyErr {
        PyErr::from_state(State::Lazy { ty, msg })
    }

    fn from_state(state: State) -> PyErr {
        PyErr { state: ManuallyDrop::new(state) }
    }

    /// The state, moved out (the error is not dropped).
    fn into_state(self) -> State {
        let mut me = ManuallyDrop::new(self);
        // SAFETY: taken once; `me` is never dropped.
        unsafe { ManuallyDrop::take(&mut me.state) }
    }

    builtin_ctor! {
        /// `ValueError(msg)`.
        value_error => PyExc_ValueError;
        /// `TypeError(msg)`.
        type_error => PyExc_TypeError;
        /// `IndexError(msg)`.
        index_error => PyExc_IndexError;
        /// `KeyError(msg)`.
        key_error => PyExc_KeyError;
        /// `RuntimeError(msg)`.
        runtime_error => PyExc_RuntimeError;
        /// `OverflowError(msg)`.
        overflow_error => PyExc_OverflowError;
        /// `BufferError(msg)`.
        buffer_error => PyExc_BufferError;
        /// `AttributeError(msg)`.
        attribute_error => PyExc_AttributeError;
        /// `NotImplementedError(msg)`.
        not_implemented_error => PyExc_NotImplementedError;
        /// `OSError(msg)`.
        os_error => PyExc_OSError;
        /// `MemoryError(msg)`.
        memory_error => PyExc_MemoryError;
        /// `StopIteration(msg)`.
        stop_iteration => PyExc_StopIteration;
        /// `ZeroDivisionError(msg)`.
        zero_division_error => PyExc_ZeroDivisionError;
    }

    /// Declines the call's arguments so that the function's next overload
    /// is tried (nanobind's `nb::next_overload`): return it from a bound
    /// function's body, `Err(PyErr::next_overload())`, when the arguments
    /// converted but are not ones this overload handles. If no later
    /// overload accepts them, the call raises the usual "incompatible
    /// function arguments" `TypeError`. Decline before any side effect:
    /// arguments the body took by value (a `Box<T>` moved out of its
    /// instance, an array that consumed a DLPack capsule) are not handed
    /// back. Returned anywhere else (a property, a slot, a Python
    /// callback), it is a `TypeError` saying so; so is this error once a
    /// cause is attached to it (`with_cause`: then it is an ordinary error).
    /// A body declines before it changes anything: what it did to its
    /// arguments stays done when the next overload runs. Needs no GIL.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// Handles even numbers only; odd ones go to the next overload.
    /// fn half(x: i64) -> PyResult<i64> {
    ///     if x % 2 != 0 {
    ///         return Err(PyErr::next_overload());
    ///     }
    ///     Ok(x / 2)
    /// }
    /// fn half_odd(x: i64) -> f64 {
    ///     x as f64 / 2.0
    /// }
    /// ndbind::module!(doc_ext, |m| {
    ///     m.def("half", half, arg("x"))?;
    ///     m.def("half", half_odd, arg("x"))?; // half(3) == 1.5
    ///     Ok(())
    /// });
    /// assert!(half(3).unwrap_err().is_next_overload());
    /// ```
    pub fn next_overload() -> PyErr {
        // SAFETY: reading the address of a builtin exception type, which
        // the interpreter keeps alive for its whole life.
        PyErr::lazy(unsafe { ffi::PyExc_TypeError }, Cow::Borrowed(next_overload_msg()))
    }

    /// Whether this is the error of [`PyErr::next_overload`].
    pub fn is_next_overload(&self) -> bool {
        matches!(&*self.state, State::Lazy { msg: Cow::Borrowed(m), .. }
            if std::ptr::eq(m.as_ptr(), NEXT_OVERLOAD_MSG.as_ptr()))
    }

    /// An exception of a type registered with [`crate::Module::add_exception`].
    ///
    /// Panics if the type was not registered yet (a programming error).
    pub fn new(ty: &ExceptionType, msg: impl Into<Cow<'static, str>>) -> PyErr {
        let p = ty.ptr.load(Ordering::Acquire);
        assert!(!p.is_null(), "ndbind: exception type used before registration");
        PyErr::lazy(p, msg.into())
    }

    /// An exception of the given type object (kept alive by the error).
    /// An object that is not an exception class gives a `TypeError` saying
    /// so instead.
    pub fn from_type(ty: Borrowed<'_>, msg: impl Into<Cow<'static, str>>) -> PyErr {
        // SAFETY: type-flag tests of a live object.
        let is_exc = unsafe {
            ffi::PyType_Check(ty.as_ptr()) != 0
                && ffi::PyType_HasFeature(
                    ty.as_ptr() as *mut ffi::PyTypeObject,
                    ffi::Py_TPFLAGS_BASE_EXC_SUBCLASS,
                ) != 0
        };
        if !is_exc {
            return PyErr::type_error(format!(
                "PyErr::from_type: {} is not an exception class",
                ty.type_name()
            ));
        }
        PyErr::from_state(State::Fetched {
            ty: ty.to_owned(),
            value: Object::str_held(&msg.into()).ok(),
            tb: None,
        })
    }

    /// Takes the pending Python exception. If none is pending (a bug in the
    /// caller), a `SystemError` stands in for it. Out of line: every fallible
    /// C API call site has this as its (cold) error path.
    #[cold]
    #[inline(never)]
    pub fn fetch() -> PyErr {
        Self::take().unwrap_or_else(|| {
            // SAFETY: address of a builtin exception type.
            PyErr::lazy(
                unsafe { ffi::PyExc_SystemError },
                "error return without exception set".into(),
            )
        })
    }

    /// Takes the pending Python exception, if any.
    pub fn take() -> Option<PyErr> {
        crate::core::gil::assert_held("PyErr::take");
        // SAFETY: `fetch_raw` transfers ownership of the three (possibly
        // NULL) references to us; the GIL is held.
        unsafe {
            let [ty, value, tb] = fetch_raw();
            let ty = Object::from_owned(ty)?;
            Some(PyErr::from_state(State::Fetched {
                ty,
                value: Object::from_owned(value),
                tb: Object::from_owned(tb),
            }))
        }
    }

    /// Sets this exception as the interpreter's pending exception.
    pub fn restore(self) {
        crate::core::gil::assert_held("PyErr::restore");
        // SAFETY: the GIL is held; `restore_raw` steals the references.
        unsafe {
            match self.into_state() {
                // Through a `str` of the exact bytes: a message may hold
                // NUL characters (a Python string passed through).
                State::Lazy { ty, msg } => {
                    let m = ffi::PyUnicode_FromStringAndSize(
                        msg.as_ptr().cast(),
                        msg.len() as ffi::Py_ssize_t,
                    );
                    if !m.is_null() {
                        ffi::PyErr_SetObject(ty, m);
                        ffi::Py_DECREF(m);
                    }
                }
                State::Fetched { ty, value, tb } => restore_raw(
                    ty.into_ptr(),
                    value.map_or(std::ptr::null_mut(), Object::into_ptr),
                    tb.map_or(std::ptr::null_mut(), Object::into_ptr),
                ),
                State::Chained(chain) => restore_chained(*chain),
            }
        }
    }

    /// This error, raised as `raise self from cause`: when Python sees it,
    /// its `__cause__` is the cause's exception object (the very object,
    /// with its traceback, when the cause came from Python) and
    /// `__suppress_context__` is true. Nothing is created until the error
    /// is raised (no GIL needed here). Chaining again replaces the cause.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// fn parse_setting(f: Borrowed<'_>) -> PyResult<i64> {
    ///     // The callback's exception becomes the cause of ours.
    ///     let v = f.call(&[]).map_err(|e| {
    ///         PyErr::value_error("the settings callback failed").with_cause(e)
    ///     })?;
    ///     i64::from_py(v.borrow(), false).ok_or_else(|| PyErr::type_error("not an int"))
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("parse_setting", parse_setting, arg("f"))?; Ok(()) });
    /// let e = PyErr::runtime_error("outer").with_cause(PyErr::key_error("inner"));
    /// assert_eq!(e.message(), "outer");
    /// assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "inner");
    /// ```
    pub fn with_cause(self, cause: PyErr) -> PyErr {
        let err = match self.into_state() {
            // Replaces the cause of an error that had one.
            State::Chained(chain) => chain.err,
            state => PyErr::from_state(state),
        };
        PyErr::from_state(State::Chained(Box::new(Chain { err, cause })))
    }

    /// This error with `err`'s [`source`](std::error::Error::source) chain
    /// as its causes: each source becomes an exception whose `__cause__` is
    /// the next one. A source that is a [`PyErr`] is raised as itself (a
    /// Python exception keeps its identity); an [`std::io::Error`] as the
    /// matching `OSError` subclass; any other as a `RuntimeError`; each
    /// with the source's `Display` text as its message. `err` itself is not
    /// part of the chain (it is what `self` describes).
    ///
    /// ```
    /// use ndbind::PyErr;
    ///
    /// #[derive(Debug)]
    /// struct LoadError(std::io::Error);
    ///
    /// impl std::fmt::Display for LoadError {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("cannot load the configuration")
    ///     }
    /// }
    ///
    /// impl std::error::Error for LoadError {
    ///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    ///         Some(&self.0)
    ///     }
    /// }
    ///
    /// let e = LoadError(std::io::Error::new(std::io::ErrorKind::NotFound, "config.toml"));
    /// // `raise ValueError("cannot load ...") from FileNotFoundError("config.toml")`
    /// let err = PyErr::value_error(e.to_string()).with_sources(&e);
    /// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "config.toml");
    /// ```
    pub fn with_sources(self, err: &(dyn std::error::Error + 'static)) -> PyErr {
        match cause_chain(err.source()) {
            Some(cause) => self.with_cause(cause),
            None => self,
        }
    }

    /// An exception of a registered class for a Rust error: its message is
    /// `err`'s `Display` text, and its causes are `err`'s `source()` chain
    /// (see [`PyErr::with_sources`]). This is the translation of an error
    /// type of your own: implement `From<YourError> for PyErr` with it, and
    /// bound functions return `Result<T, YourError>` directly.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// static CONFIG_ERROR: ExceptionType = ExceptionType::new();
    ///
    /// #[derive(Debug)]
    /// enum ConfigError {
    ///     Missing(&'static str),
    ///     Io(std::io::Error),
    /// }
    ///
    /// impl std::fmt::Display for ConfigError {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         match self {
    ///             ConfigError::Missing(key) => write!(f, "missing key {key:?}"),
    ///             ConfigError::Io(_) => f.write_str("cannot read the configuration"),
    ///         }
    ///     }
    /// }
    ///
    /// impl std::error::Error for ConfigError {
    ///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    ///         match self {
    ///             ConfigError::Io(e) => Some(e),
    ///             _ => None,
    ///         }
    ///     }
    /// }
    ///
    /// // The translation: `raise ConfigError("...") from OSError(...)`.
    /// impl From<ConfigError> for PyErr {
    ///     fn from(e: ConfigError) -> PyErr {
    ///         PyErr::from_error(&CONFIG_ERROR, &e)
    ///     }
    /// }
    ///
    /// fn load(path: &str) -> Result<String, ConfigError> {
    ///     std::fs::read_to_string(path).map_err(ConfigError::Io)
    /// }
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     m.add_exception(&CONFIG_ERROR, c"ConfigError", None)?;
    ///     m.def("load", load, arg("path"))?; // raises doc_ext.ConfigError
    ///     Ok(())
    /// });
    /// ```
    ///
    /// Panics if the class was not registered yet (as [`PyErr::new`]).
    pub fn from_error(ty: &ExceptionType, err: &(dyn std::error::Error + 'static)) -> PyErr {
        PyErr::new(ty, err.to_string()).with_sources(err)
    }

    /// A copy of this error: the same exception objects (new references)
    /// for a fetched one.
    fn duplicate(&self) -> PyErr {
        PyErr::from_state(match &*self.state {
            State::Lazy { ty, msg } => State::Lazy { ty: *ty, msg: msg.clone() },
            State::Fetched { ty, value, tb } => {
                State::Fetched { ty: ty.clone(), value: value.clone(), tb: tb.clone() }
            }
            State::Chained(c) => State::Chained(Box::new(Chain {
                err: c.err.duplicate(),
                cause: c.cause.duplicate(),
            })),
        })
    }

    /// Raises this exception and returns NULL, for `extern "C"` entry points.
    pub fn restore_null<T>(self) -> *mut T {
        self.restore();
        std::ptr::null_mut()
    }

    /// `isinstance(self, ty)` for the exception's type.
    pub fn is_instance_of(&self, ty: Borrowed<'_>) -> bool {
        let mine = match &*self.state {
            State::Lazy { ty, .. } => *ty,
            State::Fetched { ty, .. } => ty.as_ptr(),
            State::Chained(c) => return c.err.is_instance_of(ty),
        };
        // SAFETY: both are exception type objects.
        unsafe { ffi::PyErr_GivenExceptionMatches(mine, ty.as_ptr()) != 0 }
    }

    /// The message (`str(exc)`), for diagnostics.
    pub fn message(&self) -> String {
        match &*self.state {
            State::Lazy { msg, .. } => msg.to_string(),
            State::Fetched { value: Some(v), .. } => v.borrow().str().unwrap_or_default(),
            State::Fetched { value: None, .. } => String::new(),
            State::Chained(c) => c.err.message(),
        }
    }
}

/// The message of [`PyErr::next_overload`]'s error: the address of this
/// static (unique, unlike a literal's) tells the error apart.
static NEXT_OVERLOAD_MSG: [u8; 93] =
    *b"a bound function declined its arguments (PyErr::next_overload) where no overload can be tried";

fn next_overload_msg() -> &'static str {
    // SAFETY: ASCII bytes.
    unsafe { std::str::from_utf8_unchecked(&NEXT_OVERLOAD_MSG) }
}

/// The causes of an error, from the first of its sources on (see
/// [`PyErr::with_sources`]).
fn cause_chain(source: Option<&(dyn std::error::Error + 'static)>) -> Option<PyErr> {
    let source = source?;
    let err = if let Some(e) = source.downcast_ref::<PyErr>() {
        // Its own causes come with it.
        return Some(e.duplicate());
    } else if let Some(e) = source.downcast_ref::<std::io::Error>() {
        PyErr::lazy(io_error_type(e.kind()), e.to_string().into())
    } else {
        PyErr::runtime_error(source.to_string())
    };
    Some(match cause_chain(source.source()) {
        Some(cause) => err.with_cause(cause),
        None => err,
    })
}

/// Raises `chain.err` with `chain.cause` as its `__cause__`.
///
/// # Safety
/// The GIL is held.
#[cold]
#[inline(never)]
unsafe fn restore_chained(chain: Chain) {
    // SAFETY: the GIL is held (caller); each `raised` returns owned
    // references, which `PyException_SetCause` (steals the cause) and
    // `restore_raw` (steals all three) take over.
    unsafe {
        let (cty, cvalue, ctb) = raised(chain.cause);
        ffi::Py_XDECREF(cty);
        ffi::Py_XDECREF(ctb);
        let (ty, value, tb) = raised(chain.err);
        if value.is_null() {
            ffi::Py_XDECREF(cvalue);
        } else if !cvalue.is_null() {
            // Also sets `__suppress_context__`.
            ffi::PyException_SetCause(value, cvalue);
        }
        restore_raw(ty, value, tb);
    }
}

/// `err` as an exception object (normalized, its traceback attached),
/// with its type and traceback: three owned references, any NULL. The
/// interpreter's pending exception, if any, is cleared.
///
/// # Safety
/// The GIL is held.
unsafe fn raised(err: PyErr) -> (*mut ffi::PyObject, *mut ffi::PyObject, *mut ffi::PyObject) {
    err.restore();
    // SAFETY: the GIL is held (caller); `fetch_raw` hands over three owned
    // references, which NormalizeException replaces in place (by those of
    // the error raised by a failing constructor, if any; from 3.12 on, a
    // fetched exception is normalised already).
    unsafe {
        #[cfg_attr(Py_3_12, allow(unused_mut))]
        let [mut ty, mut value, mut tb] = fetch_raw();
        #[cfg(not(Py_3_12))]
        ffi::PyErr_NormalizeException(&mut ty, &mut value, &mut tb);
        if !value.is_null() && !tb.is_null() {
            // Where Python reads a chained exception's traceback from.
            ffi::PyException_SetTraceback(value, tb);
        }
        (ty, value, tb)
    }
}

/// Takes the pending exception as (type, value, traceback): three owned
/// references, any NULL (all three when none is pending). Before 3.12 the
/// value may be unnormalised (`PyErr_Fetch`); from 3.12 on it is the
/// exception object, with its type and `__traceback__`.
///
/// # Safety
/// The GIL is held.
#[inline]
unsafe fn fetch_raw() -> [*mut ffi::PyObject; 3] {
    #[cfg(not(Py_3_12))]
    // SAFETY: the GIL is held (caller); Fetch hands over three owned references.
    unsafe {
        let (mut ty, mut value, mut tb) =
            (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        ffi::PyErr_Fetch(&mut ty, &mut value, &mut tb);
        [ty, value, tb]
    }
    #[cfg(Py_3_12)]
    // SAFETY: the GIL is held (caller); each call returns an owned reference
    // (the traceback NULL when there is none).
    unsafe {
        let exc = ffi::PyErr_GetRaisedException();
        if exc.is_null() {
            return [std::ptr::null_mut(); 3];
        }
        [ffi::PyObject_Type(exc), exc, ffi::PyException_GetTraceback(exc)]
    }
}

/// Raises (type, value, traceback), stealing the three references (value
/// and traceback may be NULL; `ty` is NULL only if all are): the inverse of
/// [`fetch_raw`], `PyErr_Restore`'s meaning on every version. A value that
/// is not an exception instance is the constructor's argument (a tuple: its
/// arguments), as in `PyErr_Restore`.
///
/// # Safety
/// The GIL is held; `ty` is an exception class.
#[inline]
unsafe fn restore_raw(ty: *mut ffi::PyObject, value: *mut ffi::PyObject, tb: *mut ffi::PyObject) {
    #[cfg(not(Py_3_12))]
    // SAFETY: the GIL is held (caller); Restore steals all three.
    unsafe {
        ffi::PyErr_Restore(ty, value, tb)
    }
    #[cfg(Py_3_12)]
    // SAFETY: the GIL is held (caller). SetRaisedException steals the
    // exception; the other references are released here once used.
    unsafe {
        if ty.is_null() {
            ffi::Py_XDECREF(value);
            ffi::Py_XDECREF(tb);
            return;
        }
        if value.is_null() || ffi::PyExceptionInstance_Check(value) == 0 {
            // Creates the instance (`ty(*value)` for a tuple, `ty(value)`,
            // or `ty()`); a failing constructor's error stands instead.
            ffi::PyErr_SetObject(ty, value);
            ffi::Py_XDECREF(value);
            ffi::Py_DECREF(ty);
            if tb.is_null() {
                return;
            }
            let exc = ffi::PyErr_GetRaisedException();
            ffi::PyException_SetTraceback(exc, tb);
            ffi::Py_DECREF(tb);
            ffi::PyErr_SetRaisedException(exc);
            return;
        }
        if !tb.is_null() {
            // Cannot fail for a traceback object (what a fetch gives).
            ffi::PyException_SetTraceback(value, tb);
            ffi::Py_DECREF(tb);
        }
        ffi::Py_DECREF(ty);
        ffi::PyErr_SetRaisedException(value);
    }
}

/// The `OSError` subclass of an I/O error kind.
fn io_error_type(kind: std::io::ErrorKind) -> *mut ffi::PyObject {
    use std::io::ErrorKind::*;
    // SAFETY: addresses of builtin exception types.
    unsafe {
        match kind {
            NotFound => ffi::PyExc_FileNotFoundError,
            PermissionDenied => ffi::PyExc_PermissionError,
            AlreadyExists => ffi::PyExc_FileExistsError,
            TimedOut => ffi::PyExc_TimeoutError,
            Interrupted => ffi::PyExc_InterruptedError,
            _ => ffi::PyExc_OSError,
        }
    }
}

/// A `PyErr` is a Rust error too: it can be the `source()` of an error of
/// your own (and [`PyErr::with_sources`] then raises it as itself); its
/// `source()` is its cause ([`PyErr::with_cause`]).
impl std::error::Error for PyErr {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.state {
            State::Chained(c) => Some(&c.cause),
            _ => None,
        }
    }
}

impl std::fmt::Debug for PyErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PyErr({:?})", self.message())
    }
}

impl std::fmt::Display for PyErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Maps common Rust errors onto the matching Python exception classes.
macro_rules! map_error {
    ($($ty:ty => $ctor:ident;)*) => {$(
        impl From<$ty> for PyErr {
            fn from(e: $ty) -> PyErr { PyErr::$ctor(e.to_string()) }
        }
    )*};
}

map_error! {
    std::num::ParseIntError => value_error;
    std::num::ParseFloatError => value_error;
    std::num::TryFromIntError => overflow_error;
    std::str::Utf8Error => value_error;
    std::string::FromUtf8Error => value_error;
    std::fmt::Error => runtime_error;
    std::collections::TryReserveError => memory_error;
    std::time::TryFromFloatSecsError => value_error;
}

/// A boxed error of any type is a `RuntimeError` with the error's text, and
/// its `source()` chain as causes (see [`PyErr::with_sources`]).
impl From<Box<dyn std::error::Error + Send + Sync>> for PyErr {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> PyErr {
        PyErr::runtime_error(e.to_string()).with_sources(&*e)
    }
}

impl From<std::io::Error> for PyErr {
    fn from(e: std::io::Error) -> PyErr {
        PyErr::lazy(io_error_type(e.kind()), e.to_string().into())
    }
}

/// A module-registered exception class, declared as a `static` and created
/// by [`crate::Module::add_exception`].
///
/// ```
/// use ndbind::prelude::*;
///
/// static CUSTOM: ExceptionType = ExceptionType::new();
///
/// fn check(x: i64) -> PyResult<i64> {
///     if x < 0 {
///         return Err(PyErr::new(&CUSTOM, "it went wrong"));
///     }
///     Ok(x)
/// }
///
/// ndbind::module!(my_ext, |m| {
///     m.add_exception(&CUSTOM, c"CustomError", None)?; // my_ext.CustomError
///     m.def("check", check, arg("x"))?;
///     Ok(())
/// });
/// ```
pub struct ExceptionType {
    ptr: AtomicPtr<ffi::PyObject>,
}

impl ExceptionType {
    /// An unregistered exception type.
    pub const fn new() -> Self {
        ExceptionType { ptr: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// The type object, once registered.
    pub fn get(&self) -> Option<Borrowed<'static>> {
        crate::core::gil::assert_held("ExceptionType::get");
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a registered type is kept alive forever (one strong
        // reference is leaked into this static).
        (!p.is_null()).then(|| unsafe { Borrowed::from_ptr(p) })
    }

    pub(crate) fn set(&self, ty: Object) {
        // A type registered before (the static bound again, say by a second
        // module) stays alive forever: `get()` handed out `'static` borrows
        // of it, and lazy errors may still point to it.
        self.ptr.store(ty.into_ptr(), Ordering::Release);
    }
}

impl Default for ExceptionType {
    fn default() -> Self {
        Self::new()
    }
}

/// Turns a caught panic payload into a Python exception (see
/// [`crate::core::internals::panic_exception`]).
pub(crate) fn panic_to_pyerr(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Rust panic (payload is not a string)".to_owned()
    };
    match crate::core::internals::panic_exception() {
        Some(ty) => PyErr::lazy(ty, format!("Rust panic: {msg}").into()),
        None => PyErr::runtime_error(format!("Rust panic: {msg}")),
    }
}

pub(crate) use ndbind_dlpack::preserving_error;

/// Appends `n` in decimal, for messages built on cold paths without
/// `format!` (whose machinery is large where a few `push_str` do).
pub(crate) fn push_decimal(s: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(s, n / 10);
    }
    s.push((b'0' + (n % 10) as u8) as char);
}

/// Runs the body of an `extern "C"` function that cannot report an error
/// (a deallocator dropping user values, a finaliser): a panic is reported
/// on stderr and swallowed, never unwound into C; the pending exception,
/// if any, is kept (user `Drop` code may run Python code).
///
/// A thin shell over one non-generic body.
///
/// # Safety
/// The GIL is held.
#[inline]
pub(crate) unsafe fn guard_silent(what: &str, f: impl FnOnce()) {
    let mut f = Some(f);
    // SAFETY: the caller's contract.
    unsafe {
        guard_silent_dyn(what, &mut || {
            if let Some(f) = f.take() {
                f()
            }
        })
    }
}

/// [`guard_silent`]'s body.
///
/// # Safety
/// The GIL is held.
#[inline(never)]
unsafe fn guard_silent_dyn(what: &str, f: &mut dyn FnMut()) {
    // SAFETY: the GIL is held (caller).
    let r =
        unsafe { preserving_error(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))) };
    if r.is_err() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "ndbind: a panic in {what} was caught (it cannot be raised there)"
        );
    }
}
