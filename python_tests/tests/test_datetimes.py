"""Issue 21 item 2: datetimes (SignedDuration, SystemTime, the chrono
feature), and item 5's parts (PyErr access, void* capsules, raw docs)."""

import datetime as dt
import os
import sys
import time

import pytest

from conftest import ONE_OWNER

from ndbind_test import datetimes as m

IFA = "incompatible function arguments"
UTC = dt.timezone.utc
TD = dt.timedelta


# --- signed durations --------------------------------------------------------

@pytest.mark.parametrize("td", [
    TD(0), TD(microseconds=1), TD(microseconds=-1), TD(days=-3, seconds=5, microseconds=7),
    TD(seconds=-1.5), TD.max, TD.min,
])
def test_signed_duration_round_trips(td):
    assert m.rt_signed(td) == td
    assert m.rt_timedelta(td) == td


def test_signed_duration_parts_and_float():
    assert m.signed_parts(TD(microseconds=-1)) == (-1, 999_999_000)
    assert m.signed_parts(-1.5) == (-2, 500_000_000)
    assert m.rt_signed(-0.25) == TD(seconds=-0.25)
    assert m.timedelta_parts(TD(seconds=-1.5)) == (-1, -500_000_000)


@pytest.mark.parametrize("bad", [1, "1", None, float("nan"), float("inf"), 1e300])
def test_signed_duration_mismatches(bad):
    with pytest.raises(TypeError, match=IFA):
        m.rt_signed(bad)
    with pytest.raises(TypeError, match=IFA):
        m.rt_timedelta(bad)


def test_sub_microsecond_durations_truncate_toward_zero():
    assert m.signed_from(0, 999) == TD(0)
    assert m.signed_from(0, 1999) == TD(microseconds=1)
    assert m.signed_from(-1, 1) == TD(microseconds=-999_999)  # -0.999999999 s
    assert m.signed_from(-1, 999_999_999) == TD(0)            # -1 ns
    assert m.timedelta_from(-1, 1) == TD(microseconds=-999_999)
    assert m.duration_from(1, 999) == TD(seconds=1)


def test_duration_overflow():
    with pytest.raises(OverflowError, match="SignedDuration is out of the range of datetime.timedelta"):
        m.signed_from(1_000_000_000 * 86_400, 0)
    with pytest.raises(OverflowError, match="SignedDuration"):
        m.signed_from(-1_000_000_000 * 86_400, 0)
    with pytest.raises(OverflowError, match="TimeDelta"):
        m.timedelta_from(1_000_000_000 * 86_400, 0)
    with pytest.raises(OverflowError, match="Duration"):
        m.duration_from(2**63, 0)
    with pytest.raises(OverflowError, match="Duration"):
        m.duration_from(1_000_000_000 * 86_400, 0)


def test_negative_timedelta_goes_past_unsigned_overload():
    assert m.which(TD(seconds=1)) == "unsigned"
    assert m.which(TD(seconds=-1)) == "signed"
    assert m.which(-1.0) == "signed"


# --- SystemTime --------------------------------------------------------------

@pytest.mark.parametrize("d", [
    dt.datetime(1970, 1, 1, tzinfo=UTC),
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    dt.datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
])
def test_systime_round_trips_aware_utc(d):
    out = m.rt_systime(d)
    assert out == d and out.tzinfo is UTC
    secs, nanos = m.systime_parts(d)
    assert secs * 10**6 + nanos // 1000 == (d - dt.datetime(1970, 1, 1, tzinfo=UTC)) // TD(microseconds=1)


def test_systime_aware_keeps_the_instant():
    tz = dt.timezone(TD(hours=-7, minutes=-30))
    d = dt.datetime(2001, 2, 3, 4, 5, 6, 789, tzinfo=tz)
    assert m.rt_systime(d) == d
    assert m.rt_systime(d).tzinfo is UTC


@pytest.fixture
def eastern():
    """The process's local zone set to US Eastern (with DST)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "EST+05EDT,M3.2.0,M11.1.0"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset")
def test_systime_naive_date_and_time_are_local(eastern):
    assert m.rt_systime(dt.datetime(2020, 1, 1)) == dt.datetime(2020, 1, 1, 5, tzinfo=UTC)
    assert m.rt_systime(dt.datetime(2020, 7, 1)) == dt.datetime(2020, 7, 1, 4, tzinfo=UTC)
    # date: local midnight; time: that time on 1970-01-01 (as nanobind).
    assert m.rt_systime(dt.date(2020, 1, 1)) == dt.datetime(2020, 1, 1, 5, tzinfo=UTC)
    assert m.rt_systime(dt.time(12, 0, 0, 5)) == dt.datetime(1970, 1, 1, 17, 0, 0, 5, tzinfo=UTC)
    # An aware time keeps its offset.
    assert m.rt_systime(dt.time(12, tzinfo=UTC)) == dt.datetime(1970, 1, 1, 12, tzinfo=UTC)
    # The repeated hour: fold picks the instant, as datetime.timestamp does.
    a = dt.datetime(2020, 11, 1, 1, 30)
    b = a.replace(fold=1)
    assert m.rt_systime(a).timestamp() == a.timestamp()
    assert m.rt_systime(b).timestamp() == b.timestamp()
    assert m.rt_systime(b) - m.rt_systime(a) == TD(hours=1)


def test_systime_sub_microsecond_toward_the_past():
    assert m.systime_from(0, 999) == dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert m.systime_from(-1, 1) == dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert m.systime_from(-1, 999_999_999) == dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def test_systime_out_of_range():
    with pytest.raises(OverflowError, match=r"SystemTime is out of the range of datetime.datetime \(years 1 to 9999\)"):
        m.systime_from(253_402_300_800, 0)  # 10000-01-01
    with pytest.raises(OverflowError, match="SystemTime"):
        m.systime_from(-62_135_596_801, 0)  # 0000-12-31 23:59:59


@pytest.mark.parametrize("bad", [1, 1.5, "2020-01-01", None, TD(1)])
def test_systime_mismatches(bad):
    with pytest.raises(TypeError, match=IFA):
        m.rt_systime(bad)


# --- hostile tzinfo ----------------------------------------------------------

class Raising(dt.tzinfo):
    def utcoffset(self, d):
        raise KeyError("no offset today")


class Wrong(dt.tzinfo):
    def __init__(self, value):
        self.value = value

    def utcoffset(self, d):
        return self.value


class Counting(dt.tzinfo):
    calls = 0

    def utcoffset(self, d):
        Counting.calls += 1
        return TD(hours=2)


def test_tzinfo_exceptions_propagate():
    d = dt.datetime(2020, 1, 1, tzinfo=Raising())
    for f in (m.rt_systime, m.rt_utc, m.rt_fixed):
        with pytest.raises(KeyError, match="no offset today"):
            f(d)


@pytest.mark.parametrize("value, exc", [(5, TypeError), (TD(hours=25), ValueError)])
def test_tzinfo_bad_offsets_are_python_errors(value, exc):
    d = dt.datetime(2020, 1, 1, tzinfo=Wrong(value))
    with pytest.raises(exc):
        m.rt_utc(d)
    with pytest.raises(exc):
        m.rt_systime(d)


def test_tzinfo_none_offset_is_naive():
    d = dt.datetime(2020, 1, 1, tzinfo=Wrong(None))
    with pytest.raises(ValueError, match="naive datetime.datetime"):
        m.rt_utc(d)
    # A tzinfo at all refuses NaiveDateTime (asking would run its code).
    with pytest.raises(ValueError, match="with a tzinfo is not a NaiveDateTime"):
        m.rt_naive(d)


def test_datetime_subclass_methods_are_not_called():
    class Sneaky(dt.datetime):
        def utcoffset(self):
            raise AssertionError("subclass utcoffset called")

        def astimezone(self, tz=None):
            raise AssertionError("subclass astimezone called")

    Counting.calls = 0
    d = Sneaky(2020, 1, 1, 12, tzinfo=Counting())
    assert m.rt_utc(d) == dt.datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert m.rt_systime(d) == dt.datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert Counting.calls == 2  # the tzinfo's own utcoffset, once per call
    assert m.rt_systime(Sneaky(2020, 1, 1)) == dt.datetime(2020, 1, 1).astimezone(UTC)


def test_conversion_keeps_reference_counts():
    tz = dt.timezone(TD(hours=3))
    d = dt.datetime(2020, 1, 1, tzinfo=tz)
    before = (sys.getrefcount(d), sys.getrefcount(tz))
    for _ in range(100):
        m.rt_fixed(d)
        m.rt_utc(d)
        m.rt_systime(d)
    assert (sys.getrefcount(d), sys.getrefcount(tz)) == before


# --- chrono ------------------------------------------------------------------

@pytest.mark.parametrize("v", [dt.date.min, dt.date.max, dt.date(2024, 2, 29)])
def test_naive_date(v):
    assert m.rt_date(v) == v and type(m.rt_date(v)) is dt.date


@pytest.mark.parametrize("v", [dt.time.min, dt.time.max, dt.time(12, 34, 56, 7)])
def test_naive_time(v):
    assert m.rt_time(v) == v
    assert m.time_nanos(v) == v.microsecond * 1000


@pytest.mark.parametrize("v", [dt.datetime.min, dt.datetime.max, dt.datetime(2000, 2, 29, 1, 2, 3, 4)])
def test_naive_datetime(v):
    out = m.rt_naive(v)
    assert out == v and out.tzinfo is None


def test_chrono_sub_microsecond_and_leap_second():
    assert m.time_from(1, 2, 3, 4_567_891) == dt.time(1, 2, 3, 4_567)
    # chrono's leap second: the last microsecond of second 59.
    assert m.time_from(23, 59, 59, 1_500_000_000) == dt.time(23, 59, 59, 999_999)
    assert m.naive_from(2016, 12, 31, 23, 59, 59, 1_000_000_000) == dt.datetime(2016, 12, 31, 23, 59, 59, 999_999)
    leap = m.naive_from(2016, 12, 31, 23, 59, 59, 1_999_999_999)
    assert leap == dt.datetime(2016, 12, 31, 23, 59, 59, 999_999)
    assert m.naive_from(2016, 12, 31, 23, 59, 59, 999_999_999) <= leap  # order kept


def test_chrono_out_of_range():
    with pytest.raises(OverflowError, match=r"NaiveDate is out of the range of datetime.date \(years 1 to 9999\)"):
        m.date_from(10_000, 1, 1)
    with pytest.raises(OverflowError, match="NaiveDate"):
        m.date_from(0, 12, 31)
    with pytest.raises(OverflowError, match="NaiveDateTime"):
        m.naive_from(-5, 1, 1, 0, 0, 0, 0)
    with pytest.raises(OverflowError, match=r"DateTime<Utc> is out of the range"):
        m.utc_from(253_402_300_800, 0)
    # In range in UTC, out of range in its own offset.
    with pytest.raises(OverflowError, match=r"DateTime<FixedOffset> is out of the range"):
        m.fixed_from(253_402_300_799, 0, 3600)


@pytest.mark.parametrize("d", [
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    dt.datetime(2020, 5, 6, 7, 8, 9, 123_456, tzinfo=dt.timezone(TD(hours=5, minutes=30))),
    dt.datetime(2020, 5, 6, 7, 8, 9, tzinfo=dt.timezone(TD(hours=-23, minutes=-59, seconds=-59))),
])
def test_aware_datetimes(d):
    u = m.rt_utc(d)
    assert u == d and u.tzinfo is UTC
    f = m.rt_fixed(d)
    assert f == d and f.utcoffset() == d.utcoffset()
    assert f.replace(tzinfo=None) == d.replace(tzinfo=None)  # wall time kept
    ts, nanos, off = m.fixed_parts(d)
    assert off == d.utcoffset() // TD(seconds=1)
    assert (ts, nanos) == m.utc_parts(d)


def test_aware_year_one_with_positive_offset():
    # 0001-01-01 00:00+01:00 is in year 0 in UTC: fine in chrono, not in Python.
    d = dt.datetime(1, 1, 1, tzinfo=dt.timezone(TD(hours=1)))
    assert m.rt_fixed(d) == d
    with pytest.raises(OverflowError, match="DateTime<Utc>"):
        m.rt_utc(d)


def test_fixed_from_keeps_offset():
    out = m.fixed_from(0, 5000, -3600)
    assert out == dt.datetime(1970, 1, 1, tzinfo=UTC) + TD(microseconds=5)
    assert out.utcoffset() == TD(hours=-1)
    assert m.utc_from(0, 0) == dt.datetime(1970, 1, 1, tzinfo=UTC)


def test_naive_and_aware_pick_their_overload():
    assert m.pick(dt.datetime(2000, 1, 1)) == "naive"
    assert m.pick(dt.datetime(2000, 1, 1, tzinfo=UTC)) == "aware"


@pytest.mark.parametrize("f, v, msg", [
    (m.rt_utc, dt.datetime(2000, 1, 1), r"a naive datetime.datetime .* is not a DateTime<Utc>"),
    (m.rt_fixed, dt.datetime(2000, 1, 1), r"is not a DateTime<FixedOffset>"),
    (m.rt_naive, dt.datetime(2000, 1, 1, tzinfo=UTC), r"with a tzinfo is not a NaiveDateTime"),
    (m.rt_date, dt.datetime(2000, 1, 1), r"a datetime.datetime is not a NaiveDate"),
    (m.rt_time, dt.time(1, tzinfo=UTC), r"a datetime.time with a tzinfo is not a NaiveTime"),
    (m.rt_fixed, dt.datetime(2000, 1, 1, tzinfo=dt.timezone(TD(microseconds=5))), r"not a whole number of seconds"),
])
def test_chrono_refusals(f, v, msg):
    with pytest.raises(ValueError, match=msg):
        f(v)


@pytest.mark.parametrize("f, v", [
    (m.rt_date, dt.time(1)), (m.rt_time, dt.date(2000, 1, 1)), (m.rt_naive, dt.date(2000, 1, 1)),
    (m.rt_utc, "2000-01-01"), (m.rt_fixed, 0.0), (m.rt_date, None),
])
def test_chrono_mismatches(f, v):
    with pytest.raises(TypeError, match=IFA):
        f(v)


def test_signatures():
    assert m.rt_signed.__doc__.startswith("rt_signed(d: datetime.timedelta | float) -> datetime.timedelta")
    assert m.rt_systime.__doc__.startswith(
        "rt_systime(t: datetime.datetime | datetime.date | datetime.time) -> datetime.datetime")
    assert m.rt_date.__doc__.startswith("rt_date(d: datetime.date) -> datetime.date")


# --- PyErr access (item 5) ---------------------------------------------------

def test_err_info_of_a_python_exception():
    def boom():
        raise KeyError("x")

    ty, v1, v2, tb, text = m.err_info(boom)
    assert ty is KeyError and isinstance(v1, KeyError) and v1 is v2
    assert tb is v1.__traceback__ and tb is not None
    assert text.startswith("Traceback (most recent call last):\n")
    assert "in boom" in text and text.endswith("KeyError: 'x'\n")
    assert m.err_info(lambda: None) is None


def test_err_info_of_a_c_level_exception_is_normalised():
    # int("x") sets its error from C: the value is created on demand.
    ty, v1, v2, tb, text = m.err_info(lambda: int("x"))
    assert ty is ValueError and type(v1) is ValueError and v1 is v2
    assert text.endswith("ValueError: invalid literal for int() with base 10: 'x'\n")


def test_err_info_hostile_str():
    class Bad(Exception):
        def __str__(self):
            raise RuntimeError("no str")

    def boom():
        raise Bad()

    ty, v, _, _, text = m.err_info(boom)
    assert ty is Bad and type(v) is Bad
    assert "Bad" in text  # formatted, or the fallback; never an exception


def test_lazy_error_value_and_chain():
    ty, v, same, tb, text = m.lazy_info(False)
    assert ty is KeyError and type(v) is KeyError and v.args == ("k",) and same and tb is None
    assert text == "KeyError: 'k'\n"
    ty, v, same, tb, text = m.lazy_info(True)
    assert ty is RuntimeError and same and type(v.__cause__) is KeyError
    assert text.endswith("direct cause of the following exception:\n\nRuntimeError: outer\n")


def test_normalised_error_raises_the_same_object():
    kept = []
    with pytest.raises(ValueError, match="^v$") as info:
        m.raise_after_value(kept.append)
    assert info.value is kept[0]


# --- *mut c_void <-> capsule (item 5) ----------------------------------------

def test_void_pointer_capsule_round_trip():
    cap = m.void_ptr(False)
    assert type(cap).__name__ == "PyCapsule"
    assert sys.getrefcount(cap) == ONE_OWNER
    assert m.void_is_cell(cap) is True
    assert sys.getrefcount(cap) == ONE_OWNER
    assert m.void_ptr(True) is None
    assert m.void_addr(None) == 0 and m.void_is_cell(None) is False
    # Any capsule gives its pointer, whatever its name.
    assert m.void_addr(dt.datetime_CAPI) != 0
    assert m.void_is_cell(dt.datetime_CAPI) is False


@pytest.mark.parametrize("bad", [0, 1, "x", b"", object()])
def test_void_pointer_mismatches(bad):
    with pytest.raises(TypeError, match=IFA):
        m.void_addr(bad)
    assert "void_addr(p: types.CapsuleType | None) -> int" in m.void_addr.__doc__


# --- raw docstrings (item 5) -------------------------------------------------

def test_raw_doc():
    assert m.raw.__doc__ == "raw(x) -- exactly this"
    assert m.raw.__text_signature__ == "(x)"
    assert m.cooked.__doc__ == "cooked(x: int) -> int\n\ncooked docs"
    assert m.mixed.__doc__ == "the raw one"
    with pytest.raises(TypeError, match=r"1\. raw\(x: int\) -> int"):
        m.raw("no")
