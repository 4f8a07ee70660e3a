//! `std::time::Duration` ↔ `datetime.timedelta` (microsecond exact).
//!
//! A `float` is taken as seconds. Negative durations, and `int`/`str`
//! arguments, are failed matches.

use std::time::Duration;

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// Makes the datetime C API available; false (error cleared) if it cannot.
fn datetime_api() -> bool {
    // SAFETY: PyDateTime_IMPORT is idempotent and needs only the GIL.
    unsafe {
        if ffi::PyDateTimeAPI().is_null() {
            ffi::PyDateTime_IMPORT();
            if ffi::PyDateTimeAPI().is_null() {
                ffi::PyErr_Clear();
                return false;
            }
        }
        true
    }
}

impl FromPy for Duration {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Duration> {
        let p = obj.as_ptr();
        // SAFETY: exact type checks before the type-specific accessors.
        unsafe {
            if ffi::PyFloat_Check(p) != 0 {
                return Duration::try_from_secs_f64(ffi::PyFloat_AS_DOUBLE(p)).ok();
            }
            if !datetime_api() || ffi::PyDelta_Check(p) == 0 {
                return None;
            }
            let days = ffi::PyDateTime_DELTA_GET_DAYS(p) as i64;
            let secs = ffi::PyDateTime_DELTA_GET_SECONDS(p) as i64;
            let us = ffi::PyDateTime_DELTA_GET_MICROSECONDS(p) as u32;
            // timedelta normalises seconds and microseconds to be >= 0, so
            // the sign lives in `days` only.
            let total = days.checked_mul(86_400)?.checked_add(secs)?;
            let total = u64::try_from(total).ok()?;
            Some(Duration::new(total, us * 1_000))
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta")
    }
}

impl IntoPy for Duration {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        if !datetime_api() {
            return Err(PyErr::runtime_error("the datetime module is not available"));
        }
        let secs = self.as_secs();
        let days = i32::try_from(secs / 86_400)
            .map_err(|_| PyErr::overflow_error("Duration too large for datetime.timedelta"))?;
        // SAFETY: the datetime API is imported; arguments are in range
        // (timedelta itself validates `days`).
        unsafe {
            let api = ffi::PyDateTimeAPI();
            Object::from_owned_or_err(((*api).Delta_FromDelta)(
                days,
                (secs % 86_400) as i32,
                self.subsec_micros() as i32,
                1,
                (*api).DeltaType,
            ))
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta")
    }
}
