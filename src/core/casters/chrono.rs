//! The `chrono` feature: chrono's date and time types ↔ `datetime`.
//!
//! | Rust | Python |
//! |---|---|
//! | `TimeDelta` | `datetime.timedelta` (a `float` argument: seconds) |
//! | `NaiveDate` | `datetime.date` (not a `datetime`: its time would be lost) |
//! | `NaiveTime` | `datetime.time` without `tzinfo` |
//! | `NaiveDateTime` | `datetime.datetime` without `tzinfo` |
//! | `DateTime<Utc>` | aware `datetime.datetime`: any offset in (the instant is kept), `timezone.utc` out |
//! | `DateTime<FixedOffset>` | aware `datetime.datetime`, offset kept both ways (whole seconds) |
//!
//! Exact to the microsecond both ways. On the way to Python,
//! sub-microsecond digits are dropped (a `TimeDelta` toward zero, times
//! toward the past), values Python cannot hold (years outside 1 to 9999,
//! timedeltas beyond 999999999 days) raise `OverflowError`, and chrono's
//! leap second (the 60th second, `nanosecond() >= 1_000_000_000`) becomes
//! `:59.999999`, the last microsecond Python has before the next second
//! (order is kept; the value never moves into the next minute or day).
//!
//! A value of the right Python type that the Rust type cannot take (a
//! naive `datetime` for a `DateTime`, an aware one for a `NaiveDateTime`,
//! an aware `time`, a `datetime` for a `NaiveDate`, an offset that is not
//! whole seconds for a `FixedOffset`) does not match in the first overload
//! pass (another overload may take it) and raises `ValueError` saying why
//! once conversions are allowed. Reading an aware value calls its
//! `tzinfo.utcoffset()` (Python code; its exception propagates).

use ::chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc,
};
use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::casters::duration::SignedDuration;
use crate::core::casters::time::{
    delta_to_py, has_tzinfo, new_date, new_datetime, new_time, new_timezone, out_of_range, raise,
    read, refuse, split_micros, utc, utcoffset, Fields, Kind,
};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

impl FromPy for TimeDelta {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<TimeDelta> {
        // A float, as SignedDuration reads it; every timedelta fits.
        let d = SignedDuration::from_py(obj, convert)?;
        TimeDelta::new(d.secs(), d.subsec_nanos())
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta | float")
    }
}

impl IntoPy for TimeDelta {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        let nanos = self.subsec_nanos();
        let secs = self.num_seconds() - (nanos < 0) as i64;
        delta_to_py(secs, nanos.rem_euclid(1_000_000_000) as u32, "TimeDelta")
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.timedelta")
    }
}

/// Fields of chrono's date and time, the leap second clamped.
fn fields_of(date: NaiveDate, time: NaiveTime) -> Fields {
    Fields {
        year: date.year(),
        month: date.month(),
        day: date.day(),
        hour: time.hour(),
        minute: time.minute(),
        second: time.second(),
        micro: (time.nanosecond() / 1000).min(999_999),
    }
}

fn date_of(f: &Fields) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(f.year, f.month, f.day)
}

fn time_of(f: &Fields) -> Option<NaiveTime> {
    NaiveTime::from_hms_micro_opt(f.hour, f.minute, f.second, f.micro)
}

fn check_year(f: Fields, what: &str) -> PyResult<Fields> {
    if (1..=9999).contains(&f.year) {
        Ok(f)
    } else {
        Err(out_of_range(what))
    }
}

impl FromPy for NaiveDate {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<NaiveDate> {
        match read(obj)? {
            (Kind::Date, f) => date_of(&f),
            (Kind::DateTime, _) => refuse(convert, || {
                "a datetime.datetime is not a NaiveDate (its time would be lost): pass its .date()"
                    .to_owned()
            }),
            (Kind::Time, _) => None,
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.date")
    }
}

impl IntoPy for NaiveDate {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        if !(1..=9999).contains(&self.year()) {
            return Err(PyErr::overflow_error(
                "NaiveDate is out of the range of datetime.date (years 1 to 9999)",
            ));
        }
        new_date(self.year(), self.month(), self.day())
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.date")
    }
}

impl FromPy for NaiveTime {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<NaiveTime> {
        match read(obj)? {
            (Kind::Time, f) if !has_tzinfo(obj, Kind::Time) => time_of(&f),
            (Kind::Time, _) => {
                refuse(convert, || "a datetime.time with a tzinfo is not a NaiveTime".to_owned())
            }
            _ => None,
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.time")
    }
}

impl IntoPy for NaiveTime {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_time(&fields_of(NaiveDate::default(), self))
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.time")
    }
}

/// The fields of a `datetime.datetime` argument, or `None` (no match).
fn datetime_fields(obj: Borrowed<'_>) -> Option<Fields> {
    match read(obj)? {
        (Kind::DateTime, f) => Some(f),
        _ => None,
    }
}

impl FromPy for NaiveDateTime {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<NaiveDateTime> {
        let f = datetime_fields(obj)?;
        // A tzinfo whose utcoffset() is None still makes a naive datetime
        // (Python's definition), but asking runs its code: a datetime with
        // any tzinfo is refused here without asking.
        if has_tzinfo(obj, Kind::DateTime) {
            return refuse(convert, || {
                "a datetime.datetime with a tzinfo is not a NaiveDateTime: take a DateTime, \
                 or pass a naive datetime"
                    .to_owned()
            });
        }
        Some(NaiveDateTime::new(date_of(&f)?, time_of(&f)?))
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}

impl IntoPy for NaiveDateTime {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        let f = check_year(fields_of(self.date(), self.time()), "NaiveDateTime")?;
        // SAFETY: None is a valid tzinfo.
        unsafe { new_datetime(&f, ffi::Py_None(), 0) }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}

/// An aware datetime's fields and UTC offset (µs); a naive one refused.
fn aware(obj: Borrowed<'_>, convert: bool, what: &str) -> Option<(Fields, i64)> {
    let f = datetime_fields(obj)?;
    match utcoffset(obj, Kind::DateTime, &f) {
        Ok(Some(off)) => Some((f, off)),
        Ok(None) => refuse(convert, || {
            format!(
                "a naive datetime.datetime (no tzinfo, or utcoffset() is None) is not a {what}: \
                 give it a time zone, e.g. .replace(tzinfo=datetime.timezone.utc)"
            )
        }),
        Err(e) => raise(e),
    }
}

impl FromPy for DateTime<Utc> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<DateTime<Utc>> {
        let (f, off) = aware(obj, convert, "DateTime<Utc>")?;
        DateTime::from_timestamp_micros(f.micros() - off)
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}

impl IntoPy for DateTime<Utc> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        let n = self.naive_utc();
        let f = check_year(fields_of(n.date(), n.time()), "DateTime<Utc>")?;
        // SAFETY: the UTC singleton is a tzinfo, alive for the call.
        unsafe { new_datetime(&f, utc()?.as_ptr(), 0) }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}

impl FromPy for DateTime<FixedOffset> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<DateTime<FixedOffset>> {
        let (f, off) = aware(obj, convert, "DateTime<FixedOffset>")?;
        if off % 1_000_000 != 0 {
            return refuse(convert, || {
                format!(
                    "the UTC offset of this datetime ({off} microseconds) is not a whole number \
                     of seconds, as a chrono::FixedOffset is"
                )
            });
        }
        let offset = FixedOffset::east_opt((off / 1_000_000) as i32)?;
        let (secs, nanos) = split_micros((f.micros() - off) as i128);
        let utc = DateTime::from_timestamp(secs, nanos)?.naive_utc();
        Some(DateTime::from_naive_utc_and_offset(utc, offset))
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}

impl IntoPy for DateTime<FixedOffset> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        let n = self.naive_local();
        let f = check_year(fields_of(n.date(), n.time()), "DateTime<FixedOffset>")?;
        let off = delta_to_py(self.offset().local_minus_utc() as i64, 0, "the offset")?;
        // A timedelta strictly within a day (a FixedOffset is).
        let tz = new_timezone(off.borrow())?;
        // SAFETY: `tz` is a tzinfo, alive for the call.
        unsafe { new_datetime(&f, tz.as_ptr(), 0) }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}
