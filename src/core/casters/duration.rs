//! Durations ↔ `datetime.timedelta`: `std::time::Duration` (unsigned) and
//! [`SignedDuration`], a span of time that may be negative (the reading
//! and building of timedeltas are `time.rs`'s).

use std::time::Duration;

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::casters::time::{delta_micros, delta_to_py, split_micros};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

impl FromPy for Duration {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Duration> {
        let p = obj.as_ptr();
        // SAFETY: exact type checks before the type-specific accessors.
        if unsafe { ffi::PyFloat_Check(p) } != 0 {
            // SAFETY: `p` is a float.
            return Duration::try_from_secs_f64(unsafe { crate::core::abi::float_value(p) }).ok();
        }
        let (secs, nanos) = split_micros(delta_micros(obj)?);
        Some(Duration::new(u64::try_from(secs).ok()?, nanos))
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta")
    }
}

impl IntoPy for Duration {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        let secs = i64::try_from(self.as_secs())
            .map_err(|_| PyErr::overflow_error("Duration too large for datetime.timedelta"))?;
        delta_to_py(secs, self.subsec_nanos(), "Duration")
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta")
    }
}

/// A span of time that may be negative: `datetime.timedelta` both ways,
/// negative ones included (`std::time::Duration` is unsigned and does not
/// match a negative timedelta). Nanosecond resolution; a `float` argument
/// is taken as seconds (as nanobind's duration caster does).
///
/// Converting to Python truncates toward zero to microseconds; values
/// beyond ±999999999 days raise `OverflowError`. With the `chrono`
/// feature, `chrono::TimeDelta` converts the same way.
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::SignedDuration;
/// use std::time::Duration;
///
/// fn shift(d: SignedDuration) -> SignedDuration {
///     -d
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("shift", shift, arg("d"))?; Ok(()) });
/// let d = SignedDuration::from(Duration::from_millis(1500));
/// assert_eq!((-d).secs(), -2); // -1.5 s = -2 s + 0.5 s
/// assert_eq!((-d).subsec_nanos(), 500_000_000);
/// assert_eq!((-d).unsigned_abs(), Duration::from_millis(1500));
/// assert!(Duration::try_from(-d).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignedDuration {
    /// Whole seconds, rounded toward the past.
    secs: i64,
    /// `0 <= nanos < 1e9`, added to `secs`.
    nanos: u32,
}

impl SignedDuration {
    /// Zero.
    pub const ZERO: SignedDuration = SignedDuration { secs: 0, nanos: 0 };

    /// `secs + nanos / 1e9` seconds (`nanos` may exceed a second; it is
    /// carried). `None` if that overflows.
    pub const fn new(secs: i64, nanos: u32) -> Option<SignedDuration> {
        let carry = (nanos / 1_000_000_000) as i64;
        match secs.checked_add(carry) {
            Some(secs) => Some(SignedDuration { secs, nanos: nanos % 1_000_000_000 }),
            None => None,
        }
    }

    /// `us` microseconds.
    pub const fn from_micros(us: i64) -> SignedDuration {
        SignedDuration {
            secs: us.div_euclid(1_000_000),
            nanos: us.rem_euclid(1_000_000) as u32 * 1000,
        }
    }

    /// The whole seconds, rounded toward the past (`-1.5 s` gives `-2`).
    pub const fn secs(&self) -> i64 {
        self.secs
    }

    /// The nanoseconds added to [`secs`](Self::secs): `0..1_000_000_000`.
    pub const fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Whether this is below zero.
    pub const fn is_negative(&self) -> bool {
        self.secs < 0
    }

    /// The magnitude.
    pub const fn unsigned_abs(&self) -> Duration {
        if self.secs >= 0 {
            Duration::new(self.secs as u64, self.nanos)
        } else if self.nanos == 0 {
            Duration::new(self.secs.unsigned_abs(), 0)
        } else {
            Duration::new((self.secs + 1).unsigned_abs(), 1_000_000_000 - self.nanos)
        }
    }

    /// The value in seconds.
    pub fn as_secs_f64(&self) -> f64 {
        self.secs as f64 + self.nanos as f64 * 1e-9
    }
}

impl From<Duration> for SignedDuration {
    /// Saturates at `i64::MAX` seconds.
    fn from(d: Duration) -> SignedDuration {
        match i64::try_from(d.as_secs()) {
            Ok(secs) => SignedDuration { secs, nanos: d.subsec_nanos() },
            Err(_) => SignedDuration { secs: i64::MAX, nanos: 999_999_999 },
        }
    }
}

impl TryFrom<SignedDuration> for Duration {
    type Error = PyErr;
    /// A negative duration is a `ValueError`.
    fn try_from(d: SignedDuration) -> PyResult<Duration> {
        if d.is_negative() {
            return Err(PyErr::value_error("a negative duration is not a std::time::Duration"));
        }
        Ok(d.unsigned_abs())
    }
}

impl std::ops::Neg for SignedDuration {
    type Output = SignedDuration;
    /// Saturates at the most negative value's negation.
    fn neg(self) -> SignedDuration {
        if self.nanos == 0 {
            SignedDuration { secs: self.secs.saturating_neg(), nanos: 0 }
        } else {
            // -(s + n) = (-s - 1) + (1e9 - n); -s - 1 is !s (no overflow).
            SignedDuration { secs: !self.secs, nanos: 1_000_000_000 - self.nanos }
        }
    }
}

impl FromPy for SignedDuration {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<SignedDuration> {
        let p = obj.as_ptr();
        // SAFETY: type check before the accessor.
        if unsafe { ffi::PyFloat_Check(p) } != 0 {
            // SAFETY: `p` is a float.
            let s = unsafe { crate::core::abi::float_value(p) };
            let floor = s.floor();
            // Finite and within i64 (2^63 is exact in f64), else no match.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
            if !(-LIMIT..LIMIT).contains(&floor) {
                return None;
            }
            let nanos = (((s - floor) * 1e9) as u32).min(999_999_999);
            return Some(SignedDuration { secs: floor as i64, nanos });
        }
        let (secs, nanos) = split_micros(delta_micros(obj)?);
        Some(SignedDuration { secs, nanos })
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta | float")
    }
}

impl IntoPy for SignedDuration {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        delta_to_py(self.secs, self.nanos, "SignedDuration")
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta")
    }
}
