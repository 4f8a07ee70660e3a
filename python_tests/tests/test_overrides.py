"""CONFORMANCE section 6: overrides of Rust traits, holders, implicit conversions."""
import gc
import sys

import pytest

import ndbind_test as t

IFA = "incompatible function arguments"
N = 20_000


# --- implicit conversions --------------------------------------------------------
def test_meters_basics():
    assert t.Meters(3.0).value == 3.0
    assert repr(t.Meters(3.0)) == "Meters(3.0)"
    m = t.double_meters(t.Meters(2.0))
    assert type(m) is t.Meters and m.value == 4.0


def test_meters_from_float():
    m = t.double_meters(2.0)
    assert type(m) is t.Meters and m.value == 4.0
    assert t.double_meters(2).value == 4.0  # int -> float -> Meters (conversion pass)
    assert t.meters_value(2.5) == 2.5  # &Meters parameter
    assert t.meters_add(1.0, 2.5).value == 3.5  # both parameters


def test_meters_from_python_type():
    # Feet converts through Meters' constructor (a Python-type source).
    assert t.meters_value(t.Feet(10.0)) == pytest.approx(3.048)
    assert t.double_meters(t.Feet(10.0)).value == pytest.approx(6.096)


@pytest.mark.parametrize("bad", ["x", None, [1.0], b"2.0"])
def test_meters_rejects(bad):
    with pytest.raises(TypeError, match=IFA):
        t.double_meters(bad)
    with pytest.raises(TypeError, match=IFA):
        t.meters_value(bad)


def test_implicit_only_in_conversion_pass():
    # The exact pass prefers the float overload even though Meters comes first.
    assert t.meters_or_float(2.0) == "float"
    assert t.meters_or_float(t.Meters(1.0)) == "meters"
    # No exact match for an int: the conversion pass tries Meters first.
    assert t.meters_or_float(2) == "meters"
    # A parameter marked noconvert never converts implicitly.
    assert t.meters_exact(t.Meters(1.0)) == "meters"
    with pytest.raises(TypeError, match=IFA):
        t.meters_exact(2.0)


def test_implicit_never_for_mut():
    m = t.Meters(2.0)
    with pytest.raises(TypeError, match=IFA):
        t.meters_scale(2.0, 3.0)
    t.meters_scale(m, 3.0)
    assert m.value == 6.0


def test_implicit_does_not_nest():
    # Loop converts from any object through a constructor that wants a Loop:
    # the nested conversion is refused, so this is a clean TypeError.
    with pytest.raises(TypeError, match=IFA):
        t.takes_loop(1)
    with pytest.raises(TypeError, match=IFA):
        t.Loop(1)


def test_implicit_temporaries_freed():
    gc.collect()
    before = t.live_counts()
    for _ in range(1000):
        t.meters_value(2.0)
        t.double_meters(2.0)
        try:
            t.double_meters("x")
        except TypeError:
            pass
    gc.collect()
    assert t.live_counts() == before


@pytest.mark.parametrize(
    "fn, args",
    [
        (t.double_meters, (2.0,)),
        (t.meters_value, (2.5,)),
        (t.meters_value, (t.Feet(1.0),)),
        (t.double_meters, ("x",)),
        (t.takes_loop, (1,)),
    ],
)
def test_implicit_no_leak(no_leak, fn, args):
    no_leak(fn, *args, n=N)
