//! `num_complex::Complex<f32/f64>` ↔ `complex`.

use num_complex::Complex;
use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

impl FromPy for Complex<f64> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        let p = obj.as_ptr();
        // SAFETY: type check first; accessors of a complex object.
        unsafe {
            if ffi::PyComplex_Check(p) != 0 {
                return Some(Complex::new(
                    ffi::PyComplex_RealAsDouble(p),
                    ffi::PyComplex_ImagAsDouble(p),
                ));
            }
        }
        // Conversion pass: any real number.
        if convert {
            return f64::from_py(obj, true).map(|re| Complex::new(re, 0.0));
        }
        None
    }
    fn type_name(out: &mut String) {
        out.push_str("complex")
    }
}

impl FromPy for Complex<f32> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        Complex::<f64>::from_py(obj, convert).map(|c| Complex::new(c.re as f32, c.im as f32))
    }
    fn type_name(out: &mut String) {
        out.push_str("complex")
    }
}

impl IntoPy for Complex<f64> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        // SAFETY: plain constructor returning a new reference or NULL.
        unsafe { Object::from_owned_or_err(ffi::PyComplex_FromDoubles(self.re, self.im)) }
    }
    fn type_name(out: &mut String) {
        out.push_str("complex")
    }
}

impl IntoPy for Complex<f32> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        Complex::new(self.re as f64, self.im as f64).into_py(ctx)
    }
    fn type_name(out: &mut String) {
        out.push_str("complex")
    }
}
