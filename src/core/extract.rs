//! The raising cast: a Python object converted to a Rust value, or a
//! `RuntimeError` (nanobind's `nb::cast`, whose `cast_error` becomes a
//! `RuntimeError` when it leaves a binding).

use pyo3_ffi as ffi;

use crate::core::caster::FromPy;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

impl Borrowed<'_> {
    /// This object converted to `T`, as an argument of type `T` converts
    /// (implicit conversions allowed, as nanobind's `nb::cast`), or an
    /// error: the one the conversion raised, else `RuntimeError("expected
    /// <T's Python type>, got <type name>")` (what nanobind's failed
    /// `nb::cast` raises). The raising counterpart of
    /// [`FromPy::from_py`], which gives `None` instead.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// The sum of `d[key]` for each key: `RuntimeError` when one is not a number.
    /// fn total(d: Dict, keys: Vec<String>) -> PyResult<f64> {
    ///     let mut sum = 0.0;
    ///     for k in keys {
    ///         let v = d.get_item(k.as_str())?.ok_or_else(|| PyErr::key_error(k))?;
    ///         sum += v.borrow().extract::<f64>()?;
    ///     }
    ///     Ok(sum)
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("total", total, (arg("d"), arg("keys")))?; Ok(()) });
    /// ```
    pub fn extract<T: FromPy>(self) -> PyResult<T> {
        T::from_py(self, true).ok_or_else(|| cast_failed(self, T::type_name))
    }
}

impl Object {
    /// [`Borrowed::extract`] of this object.
    pub fn extract<T: FromPy>(&self) -> PyResult<T> {
        self.borrow().extract()
    }
}

/// The error of a failed [`Borrowed::extract`]: the one the conversion
/// set, else a `RuntimeError` naming both types.
#[cold]
#[inline(never)]
fn cast_failed(obj: Borrowed<'_>, type_name: fn(&mut String)) -> PyErr {
    // SAFETY: reads the thread state's error indicator (a handle exists
    // only where the GIL is held).
    if !unsafe { ffi::PyErr_Occurred() }.is_null() {
        return PyErr::fetch();
    }
    let mut expected = String::new();
    type_name(&mut expected);
    PyErr::runtime_error(format!("expected {expected}, got {}", obj.type_name()))
}
