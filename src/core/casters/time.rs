//! Durations and instants ↔ the `datetime` module, microsecond exact.
//!
//! - `std::time::Duration` ↔ `datetime.timedelta` (a `float` is taken as
//!   seconds). Unsigned: a negative timedelta or float is a failed match
//!   (so an overload taking a [`SignedDuration`] can take it); `int`/`str`
//!   arguments are failed matches too.
//! - [`SignedDuration`] ↔ `datetime.timedelta`, negative ones included.
//! - `std::time::SystemTime` ↔ `datetime.datetime` (see its impls).
//!
//! Rust values finer than a microsecond lose their sub-microsecond digits
//! on the way to Python: a duration is truncated toward zero (as nanobind's
//! `duration_cast`; `-d` converts to minus what `d` converts to), an
//! instant or time of day toward the past (it never rounds up into the next
//! second or day). Values Python cannot represent raise `OverflowError`.
//!
//! The version-specific build reads the C API of `datetime` through
//! pyo3-ffi's checked accessors only (each after its type check; the
//! `tzinfo` field through the accessor that tests `hastzinfo` first) and
//! builds values with the C API's constructors. The stable-ABI build (the
//! `abi3` feature), whose limited API has no `datetime` C API, reads the
//! same fields through the C types' own attribute descriptors (`year`,
//! `days`, `tzinfo`, ...: their C getters, so no Python code of a subclass
//! runs) and builds values by calling the `datetime` classes, cached per
//! process ([`Classes`]). Both go through the functions below, which give
//! the same values and raise the same errors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The datetime C API, imported on first use. The table is a static of
/// the `_datetime` extension, which is never unloaded.
#[cfg(not(Py_LIMITED_API))]
fn api() -> PyResult<&'static ffi::PyDateTime_CAPI> {
    // SAFETY: PyDateTime_IMPORT is idempotent and needs only the GIL
    // (every caller holds it: it converts Python objects).
    unsafe {
        if ffi::PyDateTimeAPI().is_null() {
            ffi::PyDateTime_IMPORT();
            if ffi::PyDateTimeAPI().is_null() {
                return Err(PyErr::fetch());
            }
        }
        Ok(&*ffi::PyDateTimeAPI())
    }
}

/// [`api`] for `FromPy`: `None` with the error cleared (a failed match).
#[cfg(not(Py_LIMITED_API))]
fn api_or_mismatch() -> Option<&'static ffi::PyDateTime_CAPI> {
    api().ok()
}

/// A C attribute getter of a `datetime` type (a getset or member
/// descriptor from the type's own dict) and its `tp_descr_get`.
#[cfg(Py_LIMITED_API)]
struct Getter {
    descr: Object,
    get: ffi::descrgetfunc,
}

#[cfg(Py_LIMITED_API)]
impl Getter {
    /// The descriptor `name` in `cls`'s own dict.
    fn new(cls: &Object, name: &std::ffi::CStr) -> PyResult<Getter> {
        // SAFETY: `cls` is a live, ready type; the GIL is held.
        let descr = unsafe { crate::core::abi::own_attr_str(cls.as_ptr().cast(), name) }
            .ok_or_else(|| {
                PyErr::type_error(format!(
                    "datetime: {} has no {} attribute of its own",
                    cls.borrow().type_name(),
                    name.to_string_lossy()
                ))
            })?;
        // SAFETY: the descriptor's type is live (it holds a reference).
        let get = unsafe { ffi::PyType_GetSlot(descr.borrow().type_ptr(), ffi::Py_tp_descr_get) };
        if get.is_null() {
            return Err(PyErr::type_error("datetime: an attribute is not a descriptor"));
        }
        // SAFETY: the `Py_tp_descr_get` slot is a `descrgetfunc`.
        let get = unsafe { std::mem::transmute::<*mut std::ffi::c_void, ffi::descrgetfunc>(get) };
        Ok(Getter { descr, get })
    }

    /// The attribute of `obj`, an instance of the descriptor's class: a
    /// C getter, no Python code runs.
    fn get(&self, obj: Borrowed<'_>) -> PyResult<Object> {
        // SAFETY: `obj` is an instance of the class the descriptor belongs
        // to (the caller's type check; the getter checks it as well).
        unsafe {
            Object::from_owned_or_err((self.get)(
                self.descr.as_ptr(),
                obj.as_ptr(),
                obj.type_ptr().cast(),
            ))
        }
    }

    /// An `int` attribute.
    fn int(&self, obj: Borrowed<'_>) -> PyResult<i64> {
        let v = self.get(obj)?;
        // SAFETY: a live object; -1 with an error set is a failure.
        let n = unsafe { ffi::PyLong_AsLongLong(v.as_ptr()) };
        // SAFETY: the GIL is held.
        if n == -1 && unsafe { !ffi::PyErr_Occurred().is_null() } {
            return Err(PyErr::fetch());
        }
        Ok(n)
    }
}

/// The `datetime` classes, `timezone.utc` and the field getters, for the
/// stable-ABI build (the version-specific one uses the C API's table).
#[cfg(Py_LIMITED_API)]
struct Classes {
    datetime: Object,
    date: Object,
    time: Object,
    timedelta: Object,
    timezone: Object,
    utc: Object,
    /// `("fold",)`, the keyword of `datetime(...)`.
    fold_kw: Object,
    /// `date.year`, `.month`, `.day` (inherited by `datetime`).
    ymd: [Getter; 3],
    /// `datetime.hour`, `.minute`, `.second`, `.microsecond`, `.tzinfo`,
    /// `.fold`.
    datetime_hms: [Getter; 6],
    /// The same of `time`.
    time_hms: [Getter; 6],
    /// `timedelta.days`, `.seconds`, `.microseconds`.
    delta: [Getter; 3],
}

#[cfg(Py_LIMITED_API)]
static CLASSES: crate::core::gil_cell::GilCell<Classes> = crate::core::gil_cell::GilCell::new();

#[cfg(Py_LIMITED_API)]
const HMS: [&std::ffi::CStr; 6] =
    [c"hour", c"minute", c"second", c"microsecond", c"tzinfo", c"fold"];

/// The `datetime` classes, imported on first use (the GIL is held: every
/// caller converts Python objects).
#[cfg(Py_LIMITED_API)]
fn api() -> PyResult<&'static Classes> {
    CLASSES.get_or_try_init(|| {
        let m = Object::import_held(c"datetime")?;
        let m = m.borrow();
        let (datetime, date, time) =
            (m.getattr(c"datetime")?, m.getattr(c"date")?, m.getattr(c"time")?);
        let (timedelta, timezone) = (m.getattr(c"timedelta")?, m.getattr(c"timezone")?);
        let utc = timezone.borrow().getattr(c"utc")?;
        let fold = Object::intern_held(c"fold")?;
        // SAFETY: the GIL is held; a fresh 1-tuple, its slot filled with a
        // new reference.
        let fold_kw = unsafe {
            let t = Object::from_owned_or_err(ffi::PyTuple_New(1))?;
            crate::core::abi::tuple_set_item(t.as_ptr(), 0, fold.into_ptr());
            t
        };
        let getters = |cls: &Object, names: &[&std::ffi::CStr]| -> PyResult<Vec<Getter>> {
            names.iter().map(|n| Getter::new(cls, n)).collect()
        };
        fn arr<const N: usize>(v: Vec<Getter>) -> [Getter; N] {
            v.try_into().unwrap_or_else(|_| unreachable!("one getter per name"))
        }
        Ok(Classes {
            ymd: arr(getters(&date, &[c"year", c"month", c"day"])?),
            datetime_hms: arr(getters(&datetime, &HMS)?),
            time_hms: arr(getters(&time, &HMS)?),
            delta: arr(getters(&timedelta, &[c"days", c"seconds", c"microseconds"])?),
            datetime,
            date,
            time,
            timedelta,
            timezone,
            utc,
            fold_kw,
        })
    })
}

/// [`api`] for `FromPy`: `None` with the error cleared (a failed match).
#[cfg(Py_LIMITED_API)]
fn api_or_mismatch() -> Option<&'static Classes> {
    api().ok()
}

/// Whether `obj` is an instance of the class `cls` (a subclass too).
#[cfg(Py_LIMITED_API)]
fn instance_of(obj: Borrowed<'_>, cls: &Object) -> bool {
    // SAFETY: a live object and a live type.
    unsafe { ffi::PyObject_TypeCheck(obj.as_ptr(), cls.as_ptr().cast()) != 0 }
}

/// `cls(*ints, *rest, **kw)` (`kwnames` names the last of `rest`).
#[cfg(Py_LIMITED_API)]
fn call_with_ints(
    cls: &Object,
    ints: &[i64],
    rest: &[Borrowed<'_>],
    kwnames: Option<Borrowed<'_>>,
) -> PyResult<Object> {
    let ints = ints
        .iter()
        // SAFETY: the GIL is held; a new reference or NULL with an error.
        .map(|&n| unsafe { Object::from_owned_or_err(ffi::PyLong_FromLongLong(n)) })
        .collect::<PyResult<Vec<Object>>>()?;
    let mut args: Vec<Borrowed<'_>> = ints.iter().map(Object::borrow).collect();
    args.extend_from_slice(rest);
    cls.borrow().call_kw(&args, kwnames)
}

/// Leaves `err` set and returns `None` (the call is aborted with it).
#[cold]
pub(crate) fn raise<T>(err: PyErr) -> Option<T> {
    err.restore();
    None
}

/// A value of the right Python type that the Rust type cannot take: a
/// failed match in the first overload pass (another overload may take
/// it), a `ValueError` saying why once conversions are allowed.
#[cold]
#[cfg_attr(not(feature = "chrono"), allow(dead_code))]
pub(crate) fn refuse<T>(convert: bool, why: impl FnOnce() -> String) -> Option<T> {
    if convert {
        PyErr::value_error(why()).restore();
    }
    None
}

// ---------------------------------------------------------------------------
// The proleptic Gregorian calendar (Howard Hinnant's algorithms), as
// Python's `datetime` uses it.

/// Days from 1970-01-01 to `y-m-d`.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01: (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// The wall-clock fields of a `date`, `time` or `datetime` (a `date` has
/// a zero time, a `time` the date 1970-01-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
}

impl Fields {
    /// Microseconds from 1970-01-01 00:00 to these fields, on the same
    /// clock (no time zone involved).
    pub(crate) fn micros(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month, self.day);
        let secs = (self.hour * 3600 + self.minute * 60 + self.second) as i64;
        days * MICROS_PER_DAY + secs * 1_000_000 + self.micro as i64
    }

    /// The fields of `micros` microseconds after 1970-01-01 00:00; an
    /// `OverflowError` outside the years 1 to 9999.
    pub(crate) fn from_micros(micros: i128, what: &str) -> PyResult<Fields> {
        let days = micros.div_euclid(MICROS_PER_DAY as i128);
        let rem = micros.rem_euclid(MICROS_PER_DAY as i128) as i64;
        // Years 1..=9999 span days -719162..=2932896; outside that, and
        // before the cast, it is an overflow.
        if !(-719_162..=2_932_896).contains(&days) {
            return Err(out_of_range(what));
        }
        let (year, month, day) = civil_from_days(days as i64);
        let secs = (rem / 1_000_000) as u32;
        Ok(Fields {
            year: year as i32,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            micro: (rem % 1_000_000) as u32,
        })
    }
}

#[cold]
pub(crate) fn out_of_range(what: &str) -> PyErr {
    PyErr::overflow_error(format!(
        "{what} is out of the range of datetime.datetime (years 1 to 9999)"
    ))
}

/// Which `datetime` type an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    DateTime,
    Date,
    Time,
}

/// The kind and fields of `obj`, if it is a `datetime`, `date` or `time`
/// (or a subclass: the fields are read from the C struct, or by the C
/// type's own getters, so no Python code runs).
pub(crate) fn read(obj: Borrowed<'_>) -> Option<(Kind, Fields)> {
    let api = api_or_mismatch()?;
    #[cfg(not(Py_LIMITED_API))]
    let _ = api;
    let p = obj.as_ptr();
    #[cfg(Py_LIMITED_API)]
    {
        let _ = p;
        // Only a broken `datetime` module fails here: a failed match.
        let r = (|| -> PyResult<Option<(Kind, Fields)>> {
            let date = |f: &mut Fields| -> PyResult<()> {
                let [y, m, d] = &api.ymd;
                f.year = y.int(obj)? as i32;
                f.month = m.int(obj)? as u32;
                f.day = d.int(obj)? as u32;
                Ok(())
            };
            let hms = |f: &mut Fields, g: &[Getter; 6]| -> PyResult<()> {
                f.hour = g[0].int(obj)? as u32;
                f.minute = g[1].int(obj)? as u32;
                f.second = g[2].int(obj)? as u32;
                f.micro = g[3].int(obj)? as u32;
                Ok(())
            };
            let mut f =
                Fields { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, micro: 0 };
            Ok(if instance_of(obj, &api.datetime) {
                date(&mut f)?;
                hms(&mut f, &api.datetime_hms)?;
                Some((Kind::DateTime, f))
            } else if instance_of(obj, &api.date) {
                date(&mut f)?;
                Some((Kind::Date, f))
            } else if instance_of(obj, &api.time) {
                hms(&mut f, &api.time_hms)?;
                Some((Kind::Time, f))
            } else {
                None
            })
        })();
        r.ok().flatten()
    }
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: the API is imported; each accessor runs after the type check
    // that makes its layout the object's.
    unsafe {
        if ffi::PyDateTime_Check(p) != 0 {
            Some((
                Kind::DateTime,
                Fields {
                    year: ffi::PyDateTime_GET_YEAR(p),
                    month: ffi::PyDateTime_GET_MONTH(p) as u32,
                    day: ffi::PyDateTime_GET_DAY(p) as u32,
                    hour: ffi::PyDateTime_DATE_GET_HOUR(p) as u32,
                    minute: ffi::PyDateTime_DATE_GET_MINUTE(p) as u32,
                    second: ffi::PyDateTime_DATE_GET_SECOND(p) as u32,
                    micro: ffi::PyDateTime_DATE_GET_MICROSECOND(p) as u32,
                },
            ))
        } else if ffi::PyDate_Check(p) != 0 {
            Some((
                Kind::Date,
                Fields {
                    year: ffi::PyDateTime_GET_YEAR(p),
                    month: ffi::PyDateTime_GET_MONTH(p) as u32,
                    day: ffi::PyDateTime_GET_DAY(p) as u32,
                    hour: 0,
                    minute: 0,
                    second: 0,
                    micro: 0,
                },
            ))
        } else if ffi::PyTime_Check(p) != 0 {
            Some((
                Kind::Time,
                Fields {
                    year: 1970,
                    month: 1,
                    day: 1,
                    hour: ffi::PyDateTime_TIME_GET_HOUR(p) as u32,
                    minute: ffi::PyDateTime_TIME_GET_MINUTE(p) as u32,
                    second: ffi::PyDateTime_TIME_GET_SECOND(p) as u32,
                    micro: ffi::PyDateTime_TIME_GET_MICROSECOND(p) as u32,
                },
            ))
        } else {
            None
        }
    }
}

/// The `tzinfo` and `fold` of a `datetime` or `time` (`None`, 0 for a
/// `date`). No Python code runs.
fn tzinfo_fold(obj: Borrowed<'_>, kind: Kind) -> PyResult<(Object, i32)> {
    #[cfg(Py_LIMITED_API)]
    {
        let api = api()?;
        let g = match kind {
            Kind::DateTime => &api.datetime_hms,
            Kind::Time => &api.time_hms,
            Kind::Date => return Ok((Object::none_held(), 0)),
        };
        Ok((g[4].get(obj)?, g[5].int(obj)? as i32))
    }
    #[cfg(not(Py_LIMITED_API))]
    {
        let p = obj.as_ptr();
        // SAFETY: `kind` came from `read`'s type checks; the TZINFO accessors
        // read the field only when `hastzinfo` says it exists (a borrowed
        // reference, taken).
        unsafe {
            Ok(match kind {
                Kind::DateTime => (
                    Object::from_borrowed(ffi::PyDateTime_DATE_GET_TZINFO(p)),
                    ffi::PyDateTime_DATE_GET_FOLD(p) as i32,
                ),
                Kind::Time => (
                    Object::from_borrowed(ffi::PyDateTime_TIME_GET_TZINFO(p)),
                    ffi::PyDateTime_TIME_GET_FOLD(p) as i32,
                ),
                Kind::Date => (Object::none_held(), 0),
            })
        }
    }
}

/// Whether a `datetime` or `time` has a `tzinfo` (not whether it is
/// aware: its `utcoffset` may still be `None`). No Python code runs.
pub(crate) fn has_tzinfo(obj: Borrowed<'_>, kind: Kind) -> bool {
    // `obj` came from `read`: its getters cannot fail.
    tzinfo_fold(obj, kind).is_ok_and(|(tz, _)| !tz.borrow().is_none())
}

/// An exact `datetime.datetime` (no subclass: its methods are the C
/// ones) with `fields`, and `obj`'s `tzinfo` and `fold`.
fn exact_datetime(obj: Borrowed<'_>, kind: Kind, fields: &Fields) -> PyResult<Object> {
    let api = api()?;
    #[cfg(not(Py_LIMITED_API))]
    let exact = {
        let _ = api;
        // SAFETY: type check of a live object (the API is imported).
        unsafe { ffi::PyDateTime_CheckExact(obj.as_ptr()) != 0 }
    };
    #[cfg(Py_LIMITED_API)]
    let exact = obj.type_ptr() == api.datetime.as_ptr().cast();
    if kind == Kind::DateTime && exact {
        return Ok(obj.to_owned());
    }
    let (tz, fold) = tzinfo_fold(obj, kind)?;
    // SAFETY: `tz` is None or a tzinfo, alive for the call.
    unsafe { new_datetime(fields, tz.as_ptr(), fold) }
}

/// `timedelta` → microseconds, if `obj` is one.
pub(crate) fn delta_micros(obj: Borrowed<'_>) -> Option<i128> {
    let api = api_or_mismatch()?;
    #[cfg(Py_LIMITED_API)]
    let (days, secs, us) = {
        if !instance_of(obj, &api.timedelta) {
            return None;
        }
        let [d, s, u] = &api.delta;
        // A timedelta's C getters cannot fail: a failure is a mismatch.
        (d.int(obj).ok()? as i128, s.int(obj).ok()? as i128, u.int(obj).ok()? as i128)
    };
    #[cfg(not(Py_LIMITED_API))]
    let (days, secs, us) = {
        let _ = api;
        let p = obj.as_ptr();
        // SAFETY: the accessors run after the type check.
        unsafe {
            if ffi::PyDelta_Check(p) == 0 {
                return None;
            }
            (
                ffi::PyDateTime_DELTA_GET_DAYS(p) as i128,
                ffi::PyDateTime_DELTA_GET_SECONDS(p) as i128,
                ffi::PyDateTime_DELTA_GET_MICROSECONDS(p) as i128,
            )
        }
    };
    Some(days * MICROS_PER_DAY as i128 + secs * 1_000_000 + us)
}

/// Microseconds as whole seconds (toward the past) and nanoseconds; the
/// seconds of a `timedelta` fit an `i64` by far.
pub(crate) fn split_micros(us: i128) -> (i64, u32) {
    (us.div_euclid(1_000_000) as i64, us.rem_euclid(1_000_000) as u32 * 1000)
}

/// The UTC offset of a `datetime` (or a `time` placed on 1970-01-01) in
/// microseconds, `None` for a naive one. Calls `tzinfo.utcoffset` (Python
/// code, which may raise) through the C `datetime.utcoffset` of an exact
/// copy, which checks its result (a `timedelta` strictly within a day).
pub(crate) fn utcoffset(obj: Borrowed<'_>, kind: Kind, fields: &Fields) -> PyResult<Option<i64>> {
    if !has_tzinfo(obj, kind) {
        return Ok(None);
    }
    let dt = exact_datetime(obj, kind, fields)?;
    let off = dt.borrow().call_method(c"utcoffset", &[])?;
    if off.borrow().is_none() {
        return Ok(None);
    }
    delta_micros(off.borrow())
        .map(|us| Some(us as i64)) // strictly within a day (checked by Python)
        .ok_or_else(|| PyErr::type_error("utcoffset() did not return a datetime.timedelta"))
}

/// A naive wall time read as local time, as `datetime.astimezone` and
/// `datetime.timestamp` read it (honouring `fold`): microseconds since
/// the Unix epoch.
fn local_micros(obj: Borrowed<'_>, kind: Kind, fields: &Fields) -> PyResult<i64> {
    let dt = exact_datetime(obj, kind, fields)?;
    let u = dt.borrow().call_method(c"astimezone", &[utc()?])?;
    match read(u.borrow()) {
        Some((Kind::DateTime, f)) => Ok(f.micros()),
        _ => Err(PyErr::type_error("datetime.astimezone did not return a datetime")),
    }
}

/// Microseconds since the Unix epoch of a `datetime`, `date` or `time`
/// for [`SystemTime`]: aware values by their offset, naive ones as local
/// time (nanobind's `mktime`).
fn instant_micros(obj: Borrowed<'_>, kind: Kind, fields: &Fields) -> PyResult<i64> {
    match utcoffset(obj, kind, fields)? {
        Some(off) => Ok(fields.micros() - off),
        None => local_micros(obj, kind, fields),
    }
}

/// `datetime.timezone.utc`.
pub(crate) fn utc() -> PyResult<Borrowed<'static>> {
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: a borrowed pointer to the static UTC singleton of the
    // `_datetime` extension, which is never unloaded.
    return Ok(unsafe { Borrowed::from_ptr(api()?.TimeZone_UTC) });
    #[cfg(Py_LIMITED_API)]
    return Ok(api()?.utc.borrow());
}

/// A `datetime.datetime` with `fields`, `tzinfo` (borrowed; may be
/// `Py_None`) and `fold`.
///
/// # Safety
/// `tzinfo` is `Py_None` or a live `tzinfo` object.
pub(crate) unsafe fn new_datetime(
    fields: &Fields,
    tzinfo: *mut ffi::PyObject,
    fold: i32,
) -> PyResult<Object> {
    let api = api()?;
    #[cfg(Py_LIMITED_API)]
    {
        // SAFETY: (caller) a live object, borrowed for the call.
        let tz = unsafe { Borrowed::from_ptr(tzinfo) };
        // SAFETY: the GIL is held; a new reference or NULL with an error.
        let fold = unsafe { Object::from_owned_or_err(ffi::PyLong_FromLong(fold as _))? };
        let f = fields;
        call_with_ints(
            &api.datetime,
            &[f.year as i64, f.month as i64, f.day as i64, f.hour as i64]
                .into_iter()
                .chain([f.minute as i64, f.second as i64, f.micro as i64])
                .collect::<Vec<_>>(),
            &[tz, fold.borrow()],
            Some(api.fold_kw.borrow()),
        )
    }
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: the caller's contract on `tzinfo`; the constructor checks the
    // field ranges itself.
    unsafe {
        Object::from_owned_or_err((api.DateTime_FromDateAndTimeAndFold)(
            fields.year,
            fields.month as i32,
            fields.day as i32,
            fields.hour as i32,
            fields.minute as i32,
            fields.second as i32,
            fields.micro as i32,
            tzinfo,
            fold,
            api.DateTimeType,
        ))
    }
}

/// A `datetime.date` (the constructor checks the ranges).
#[cfg_attr(not(feature = "chrono"), allow(dead_code))]
pub(crate) fn new_date(year: i32, month: u32, day: u32) -> PyResult<Object> {
    let api = api()?;
    #[cfg(Py_LIMITED_API)]
    return call_with_ints(&api.date, &[year as i64, month as i64, day as i64], &[], None);
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: the API is imported; the constructor checks the ranges.
    unsafe {
        Object::from_owned_or_err((api.Date_FromDate)(year, month as i32, day as i32, api.DateType))
    }
}

/// A naive `datetime.time` with the time fields of `f`.
#[cfg_attr(not(feature = "chrono"), allow(dead_code))]
pub(crate) fn new_time(f: &Fields) -> PyResult<Object> {
    let api = api()?;
    #[cfg(Py_LIMITED_API)]
    return call_with_ints(
        &api.time,
        &[f.hour as i64, f.minute as i64, f.second as i64, f.micro as i64],
        &[],
        None,
    );
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: the API is imported; None is a valid tzinfo; the constructor
    // checks the ranges.
    unsafe {
        Object::from_owned_or_err((api.Time_FromTime)(
            f.hour as i32,
            f.minute as i32,
            f.second as i32,
            f.micro as i32,
            ffi::Py_None(),
            api.TimeType,
        ))
    }
}

/// `datetime.timezone(offset)` (the constructor checks that `offset` is a
/// `timedelta` strictly within a day).
#[cfg_attr(not(feature = "chrono"), allow(dead_code))]
pub(crate) fn new_timezone(offset: Borrowed<'_>) -> PyResult<Object> {
    let api = api()?;
    #[cfg(Py_LIMITED_API)]
    return api.timezone.borrow().call(&[offset]);
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: `offset` is live for the call; a NULL name is allowed.
    unsafe {
        Object::from_owned_or_err((api.TimeZone_FromTimeZone)(
            offset.as_ptr(),
            std::ptr::null_mut(),
        ))
    }
}

/// A `datetime.timedelta` of `secs + nanos / 1e9` seconds (`nanos` below
/// 1e9), truncated toward zero to microseconds.
pub(crate) fn delta_to_py(secs: i64, nanos: u32, what: &str) -> PyResult<Object> {
    let api = api()?;
    let mut micros = secs as i128 * 1_000_000 + (nanos / 1000) as i128;
    if secs < 0 && nanos % 1000 != 0 {
        micros += 1; // toward zero, not toward the past
    }
    let days = micros.div_euclid(MICROS_PER_DAY as i128);
    let rem = micros.rem_euclid(MICROS_PER_DAY as i128) as i64;
    if days.unsigned_abs() > 999_999_999 {
        return Err(PyErr::overflow_error(format!(
            "{what} is out of the range of datetime.timedelta (at most 999999999 days either way)"
        )));
    }
    #[cfg(Py_LIMITED_API)]
    return call_with_ints(
        &api.timedelta,
        &[days as i64, rem / 1_000_000, rem % 1_000_000],
        &[],
        None,
    );
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: the API is imported; the parts are normalised and in range.
    unsafe {
        Object::from_owned_or_err((api.Delta_FromDelta)(
            days as i32,
            (rem / 1_000_000) as i32,
            (rem % 1_000_000) as i32,
            1,
            api.DeltaType,
        ))
    }
}

// ---------------------------------------------------------------------------
// SystemTime

/// `datetime.datetime` → the instant it names; also `datetime.date`
/// (midnight) and `datetime.time` (that time on 1970-01-01), as
/// nanobind's `std::chrono::system_clock` caster. An aware value converts
/// by its `utcoffset()` (Python code of its `tzinfo` runs; its exception
/// propagates); a naive one is read as local time, as Python's own
/// `datetime.timestamp()` reads it (nanobind uses `mktime`; this honours
/// `fold` in the repeated hour).
impl FromPy for SystemTime {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<SystemTime> {
        let (kind, fields) = read(obj)?;
        let us = match instant_micros(obj, kind, &fields) {
            Ok(us) => us,
            Err(e) => return raise(e),
        };
        let d = Duration::from_micros(us.unsigned_abs());
        let t = if us >= 0 { UNIX_EPOCH.checked_add(d) } else { UNIX_EPOCH.checked_sub(d) };
        t.or_else(|| raise(PyErr::overflow_error("the datetime is out of the range of SystemTime")))
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime | datetime.date | datetime.time")
    }
}

/// An aware `datetime.datetime` in UTC (`tzinfo=datetime.timezone.utc`),
/// where nanobind returns a naive local time: an aware value round-trips
/// exactly whatever the local time zone, and `.astimezone()` gives local
/// time. Truncated to the microsecond (toward the past); outside the
/// years 1 to 9999, `OverflowError`.
impl IntoPy for SystemTime {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        let (d, neg) = match self.duration_since(UNIX_EPOCH) {
            Ok(d) => (d, false),
            Err(e) => (e.duration(), true),
        };
        let mut us = d.as_secs() as i128 * 1_000_000 + d.subsec_micros() as i128;
        if neg {
            us = -us - (d.subsec_nanos() % 1000 != 0) as i128; // toward the past
        }
        let fields = Fields::from_micros(us, "SystemTime")?;
        // SAFETY: the UTC singleton is a tzinfo, alive for the call.
        unsafe { new_datetime(&fields, utc()?.as_ptr(), 0) }
    }
    fn type_name(out: &mut String) {
        out.push_str("datetime.datetime")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::casters::duration::SignedDuration;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        for days in [-719_162, -1, 0, 1, 59, 60, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn signed_duration_arithmetic() {
        let d = SignedDuration::from_micros(-1);
        assert_eq!((d.secs(), d.subsec_nanos()), (-1, 999_999_000));
        assert_eq!(d.unsigned_abs(), Duration::from_micros(1));
        assert_eq!(-(-d), d);
        assert_eq!(-SignedDuration::ZERO, SignedDuration::ZERO);
        assert_eq!(SignedDuration::new(1, 2_500_000_000), SignedDuration::new(3, 500_000_000));
        assert!(SignedDuration::new(i64::MAX, 1_000_000_000).is_none());
    }
}
