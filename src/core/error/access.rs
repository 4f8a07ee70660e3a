//! Access to an error's parts from Rust: its type, value and traceback,
//! and Python's formatted traceback text (nanobind's `python_error`).

use pyo3_ffi as ffi;

use std::borrow::Cow;

use super::{preserving_error, raised, PyErr, PyResult, State};
use crate::core::object::Object;

impl PyErr {
    /// The exception's type (nanobind's `python_error::type()`).
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// Calls `f`; on an error, returns the exception's type name.
    /// fn failure_kind(f: Borrowed<'_>) -> PyResult<Option<String>> {
    ///     match f.call(&[]) {
    ///         Ok(_) => Ok(None),
    ///         Err(e) => Ok(Some(e.get_type().borrow().getattr(c"__name__")?.borrow().str()?)),
    ///     }
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("failure_kind", failure_kind, arg("f"))?; Ok(()) });
    /// ```
    ///
    /// Panics without the GIL.
    pub fn get_type(&self) -> Object {
        crate::core::gil::assert_held("PyErr::get_type");
        match &*self.state {
            // SAFETY: a live exception type (see `State::Lazy`), the GIL held.
            State::Lazy { ty, .. } => unsafe { Object::from_borrowed(*ty) },
            State::Fetched { ty, .. } => ty.clone(),
            State::Chained(c) => c.err.get_type(),
        }
    }

    /// The exception object (nanobind's `python_error::value()`): the very
    /// object Python raised, or, for an error made in Rust, one created
    /// now, once (the error is normalised in place: later calls, and
    /// raising it, give the same object). A chained error's object has its
    /// cause as `__cause__`; once normalised, the error is that one Python
    /// object and its Rust [`source`](std::error::Error::source) is gone.
    /// An exception raised while creating the object (a failing
    /// constructor) takes its place, as in Python. The interpreter's
    /// pending exception, if any, is left alone.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// Calls `f` and returns the exception it raised, if any.
    /// fn caught(f: Borrowed<'_>) -> Option<Object> {
    ///     f.call(&[]).err().map(|mut e| e.value())
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("caught", caught, arg("f"))?; Ok(()) });
    /// ```
    ///
    /// Panics without the GIL.
    pub fn value(&mut self) -> Object {
        self.normalize();
        match &*self.state {
            State::Fetched { value: Some(v), .. } => v.clone(),
            _ => Object::none_held(),
        }
    }

    /// The traceback object (`exc.__traceback__`), `None` for an error made
    /// in Rust and not raised yet (normalises the error, as
    /// [`PyErr::value`]).
    ///
    /// Panics without the GIL.
    pub fn traceback(&mut self) -> Option<Object> {
        self.normalize();
        match &*self.state {
            State::Fetched { tb, .. } => tb.clone(),
            _ => None,
        }
    }

    /// The exception as Python prints an uncaught one, with its traceback
    /// and its causes (`traceback.format_exception`): `"Traceback (most
    /// recent call last):\n ...\nKeyError: 'k'\n"`, or `"KeyError: 'k'\n"`
    /// without a traceback (nanobind's `python_error::what()`). Normalises
    /// the error (as [`PyErr::value`]). If formatting itself fails (a
    /// hostile `__str__`), the text is `"<type name>: <message>"`. The
    /// interpreter's pending exception, if any, is left alone.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// Calls `f`, logging a failure the way Python prints it.
    /// fn call_logged(f: Borrowed<'_>) -> PyResult<Object> {
    ///     f.call(&[]).map_err(|mut e| {
    ///         eprint!("{}", e.format_exception());
    ///         e
    ///     })
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("call_logged", call_logged, arg("f"))?; Ok(()) });
    /// ```
    ///
    /// Panics without the GIL.
    pub fn format_exception(&mut self) -> String {
        self.normalize();
        let State::Fetched { ty, value, tb } = &*self.state else { unreachable!() };
        let none = Object::none_held();
        let parts = [
            ty.borrow(),
            value.as_ref().unwrap_or(&none).borrow(),
            tb.as_ref().unwrap_or(&none).borrow(),
        ];
        let format = || -> PyResult<String> {
            let tb_mod = Object::import_held(c"traceback")?;
            let lines = tb_mod.borrow().call_method(c"format_exception", &parts)?;
            let text = Object::str_held("")?.borrow().call_method(c"join", &[lines.borrow()])?;
            Ok(text.borrow().to_str()?.to_owned())
        };
        // SAFETY: the GIL is held (normalize asserted it).
        unsafe { preserving_error(format) }.unwrap_or_else(|_| {
            let name = ty
                .borrow()
                .getattr(c"__qualname__")
                .and_then(|n| n.borrow().str())
                .unwrap_or_else(|_| "exception".to_owned());
            // SAFETY: as above.
            let msg = unsafe { preserving_error(|| self.message()) };
            format!("{name}: {msg}")
        })
    }

    /// Makes the state `Fetched` with an exception instance as its value,
    /// its traceback attached.
    fn normalize(&mut self) {
        crate::core::gil::assert_held("PyErr::value");
        if let State::Fetched { value: Some(v), tb, .. } = &*self.state {
            // SAFETY: a type test of a live object.
            if unsafe { ffi::PyExceptionInstance_Check(v.as_ptr()) } != 0 {
                if let Some(tb) = tb {
                    // Where Python reads it from (a fetched exception has it
                    // apart until Python code catches it).
                    // SAFETY: an exception instance and a traceback (the
                    // interpreter's own, from a fetch); takes a new
                    // reference, cannot fail for a traceback object.
                    unsafe { ffi::PyException_SetTraceback(v.as_ptr(), tb.as_ptr()) };
                }
                return;
            }
        }
        // A placeholder while the state is out (never raised: replaced below).
        let err = std::mem::replace(self, PyErr::lazy(std::ptr::null_mut(), Cow::Borrowed("")));
        // SAFETY: the GIL is held; `raised` leaves no exception pending, and
        // one pending before is put back.
        let (ty, value, tb) = unsafe { preserving_error(|| raised(err)) };
        // SAFETY: `raised` hands over three owned references (any NULL).
        let state = unsafe {
            match Object::from_owned(ty) {
                Some(ty) => State::Fetched {
                    ty,
                    value: Object::from_owned(value),
                    tb: Object::from_owned(tb),
                },
                None => {
                    ffi::Py_XDECREF(value);
                    ffi::Py_XDECREF(tb);
                    State::Lazy {
                        ty: ffi::PyExc_SystemError,
                        msg: "error return without exception set".into(),
                    }
                }
            }
        };
        *self = PyErr::from_state(state);
        if matches!(&*self.state, State::Lazy { .. }) {
            // Only the SystemError above; normalise it once more.
            self.normalize();
        }
    }
}
