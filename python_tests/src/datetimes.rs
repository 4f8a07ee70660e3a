//! Issue 21 item 2 (datetimes) and item 5's parts (PyErr access, the
//! `*mut c_void` capsule caster, raw docstrings). Submodule
//! `ndbind_test.datetimes`.

use std::ffi::c_void;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "chrono")]
use ndbind::chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc,
};
use ndbind::prelude::*;
use ndbind::SignedDuration;

/// An instant as (seconds since the epoch toward the past, nanoseconds).
fn systime_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let s = -(d.as_secs() as i64);
            if d.subsec_nanos() == 0 {
                (s, 0)
            } else {
                (s - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    }
}

fn systime_from(secs: i64, nanos: u32) -> SystemTime {
    let d = SignedDuration::new(secs, nanos).unwrap();
    if d.is_negative() {
        UNIX_EPOCH - d.unsigned_abs()
    } else {
        UNIX_EPOCH + d.unsigned_abs()
    }
}

/// (type, value, value again, traceback, formatted text).
type ErrInfo = (Object, Object, Object, Option<Object>, String);

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("datetimes", "Datetimes, PyErr access, capsules, raw docstrings.")?;

    // Signed durations.
    m.def("rt_signed", |d: SignedDuration| d, arg("d"))?;
    m.def("signed_parts", |d: SignedDuration| (d.secs(), d.subsec_nanos()), arg("d"))?;
    m.def("signed_from", |s: i64, n: u32| SignedDuration::new(s, n), (arg("secs"), arg("nanos")))?;
    m.def("duration_from", |s: u64, n: u32| Duration::new(s, n), (arg("secs"), arg("nanos")))?;
    // A negative timedelta does not match Duration: it goes to the next.
    m.def("which", |_d: Duration| "unsigned", arg("d"))?;
    m.def("which", |_d: SignedDuration| "signed", arg("d"))?;

    // SystemTime.
    m.def("rt_systime", |t: SystemTime| t, arg("t"))?;
    m.def("systime_parts", systime_parts, arg("t"))?;
    m.def("systime_from", systime_from, (arg("secs"), arg("nanos")))?;

    #[cfg(feature = "chrono")]
    bind_chrono(&m)?;
    bind_item5(&m)
}

/// The chrono casters (feature `chrono`, on in scripts/build.sh).
#[cfg(feature = "chrono")]
fn bind_chrono(m: &Module) -> PyResult<()> {
    m.def("rt_timedelta", |d: TimeDelta| d, arg("d"))?;
    m.def("timedelta_parts", |d: TimeDelta| (d.num_seconds(), d.subsec_nanos()), arg("d"))?;
    m.def("timedelta_from", |s: i64, n: u32| TimeDelta::new(s, n), (arg("secs"), arg("nanos")))?;
    m.def("rt_date", |d: NaiveDate| d, arg("d"))?;
    m.def(
        "date_from",
        |y: i32, mo: u32, d: u32| NaiveDate::from_ymd_opt(y, mo, d),
        (arg("y"), arg("m"), arg("d")),
    )?;
    m.def("rt_time", |t: NaiveTime| t, arg("t"))?;
    m.def("time_nanos", |t: NaiveTime| t.nanosecond(), arg("t"))?;
    m.def(
        "time_from",
        |h: u32, mi: u32, s: u32, n: u32| NaiveTime::from_hms_nano_opt(h, mi, s, n),
        (arg("h"), arg("m"), arg("s"), arg("nanos")),
    )?;
    m.def("rt_naive", |d: NaiveDateTime| d, arg("d"))?;
    m.def(
        "naive_from",
        |y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, n: u32| {
            NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_nano_opt(h, mi, s, n)
        },
        (arg("y"), arg("mo"), arg("d"), arg("h"), arg("mi"), arg("s"), arg("nanos")),
    )?;
    m.def("rt_utc", |d: DateTime<Utc>| d, arg("d"))?;
    m.def("utc_parts", |d: DateTime<Utc>| (d.timestamp(), d.timestamp_subsec_nanos()), arg("d"))?;
    m.def(
        "utc_from",
        |s: i64, n: u32| DateTime::from_timestamp(s, n),
        (arg("secs"), arg("nanos")),
    )?;
    m.def("rt_fixed", |d: DateTime<FixedOffset>| d, arg("d"))?;
    m.def(
        "fixed_parts",
        |d: DateTime<FixedOffset>| {
            (d.timestamp(), d.timestamp_subsec_nanos(), d.offset().local_minus_utc())
        },
        arg("d"),
    )?;
    m.def(
        "fixed_from",
        |s: i64, n: u32, off: i32| {
            Some(DateTime::from_timestamp(s, n)?.with_timezone(&FixedOffset::east_opt(off)?))
        },
        (arg("secs"), arg("nanos"), arg("offset")),
    )?;
    // Naive and aware datetimes told apart by overloads.
    m.def("pick", |_d: NaiveDateTime| "naive", arg("d"))?;
    m.def("pick", |_d: DateTime<Utc>| "aware", arg("d"))?;
    Ok(())
}

/// PyErr access, void* capsules, raw docstrings.
fn bind_item5(m: &Module) -> PyResult<()> {
    // PyErr access: (type, value, value again, traceback, formatted text).
    m.def(
        "err_info",
        |f: Borrowed<'_>| -> PyResult<Option<ErrInfo>> {
            let Err(mut e) = f.call(&[]) else { return Ok(None) };
            let (v1, v2) = (e.value(), e.value());
            Ok(Some((e.get_type(), v1, v2, e.traceback(), e.format_exception())))
        },
        arg("f"),
    )?;
    m.def(
        "lazy_info",
        |chained: bool| {
            let mut e = PyErr::key_error("k");
            if chained {
                e = PyErr::runtime_error("outer").with_cause(e);
            }
            let ty = e.get_type();
            let v = e.value();
            let same = e.value().as_ptr() == v.as_ptr();
            (ty, v, same, e.traceback(), e.format_exception())
        },
        arg("chained"),
    )?;
    // The normalised error, raised: the very object value() gave.
    m.def(
        "raise_after_value",
        |keep: Borrowed<'_>| -> PyResult<()> {
            let mut e = PyErr::value_error("v");
            keep.call(&[e.value().borrow()])?;
            Err(e)
        },
        arg("keep"),
    )?;

    // *mut c_void <-> capsule.
    static CELL: [u8; 4] = [7, 8, 9, 10];
    m.def(
        "void_ptr",
        |null: bool| -> *mut c_void {
            if null {
                std::ptr::null_mut()
            } else {
                CELL.as_ptr() as *mut c_void
            }
        },
        arg("null"),
    )?;
    m.def("void_is_cell", |p: *mut c_void| std::ptr::eq(p as *const u8, CELL.as_ptr()), arg("p"))?;
    m.def("void_addr", |p: *mut c_void| p as usize, arg("p"))?;

    // Raw docstrings.
    m.def("raw", |x: i64| x, (arg("x"), raw_doc("raw(x) -- exactly this")))?;
    m.def("cooked", |x: i64| x, (arg("x"), doc("cooked docs")))?;
    m.def("mixed", |x: i64| x, (arg("x"), doc("first")))?;
    m.def("mixed", |x: f64| x, (arg("x"), raw_doc("the raw one")))?;
    Ok(())
}
