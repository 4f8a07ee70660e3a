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


# --- holders: Arc ------------------------------------------------------------------
def test_counter_shared_identity():
    a = t.Counter.shared()
    b = t.Counter.shared()
    assert a is b
    assert type(a) is t.Counter
    n = a.count
    a.incr()
    assert b.count == n + 1
    # The static Arc, the Python object's Arc and the parameter's.
    assert t.counter_refs(a) == 3


def test_counter_shared_outlives_python_object():
    gc.collect()
    s = t.Counter.shared()
    s.incr()
    n = s.count
    base = t.arc_instances()
    del s
    gc.collect()
    assert t.arc_instances() == base - 1  # the identity map entry is gone
    s = t.Counter.shared()  # a new Python object for the same Arc
    assert s.count == n and t.counter_refs(s) == 3
    assert t.same_counter(s, t.Counter.shared())


def test_counter_constructed_from_python_is_arc_held():
    c = t.Counter(5)
    assert c.count == 5 and t.counter_count(c) == 5  # &Counter still works
    assert t.counter_refs(c) == 2  # the Python object's Arc and the parameter's
    assert t.Counter().count == 0
    assert t.counters_total([c, t.Counter(2)]) == 7  # list[Counter] as Vec<Arc<Counter>>


def test_rust_keeps_the_value_not_the_object():
    gc.collect()
    base = t.arc_instances()
    c = t.Counter(7)
    t.stash_counter(c)
    assert t.counter_refs(c) == 3
    del c
    gc.collect()
    assert t.arc_instances() == base  # Rust's Arc does not keep the object alive
    c = t.unstash_counter()  # a new Python object for the stashed Arc
    assert type(c) is t.Counter and c.count == 7
    assert t.counter_refs(c) == 2


def test_counter_python_subclass_identity():
    class Sub(t.Counter):
        pass

    x = Sub(2)
    assert t.counter_refs(x) == 2
    t.stash_counter(x)
    assert t.unstash_counter() is x  # same Arc -> the same (subclass) object


def test_counter_no_mut_borrow_of_arc():
    c = t.Counter(3)
    with pytest.raises(RuntimeError, match="shared through an Arc"):
        t.counter_reset(c)
    assert c.count == 3


def test_counter_inline_and_boxed():
    i = t.counter_inline(3)
    assert t.counter_count(i) == 3
    t.counter_reset(i)  # an inline value may be borrowed mutably
    assert i.count == 0
    with pytest.raises(TypeError, match="not held by an Arc"):
        t.counter_refs(i)
    b = t.counter_boxed(4)
    assert type(b) is t.Counter and b.count == 4 and t.inst_state(b) == (True, True)


def test_counter_rejects_other_types():
    for bad in [1, None, "x", t.Meters(1.0)]:
        with pytest.raises(TypeError, match=IFA):
            t.counter_refs(bad)


def test_arc_holders_freed():
    gc.collect()
    before = (t.live_counts(), t.arc_instances())
    for i in range(1000):
        c = t.Counter(i)
        t.counter_refs(c)
        t.stash_counter(c)
        t.unstash_counter()
        t.Counter.shared()
    del c
    gc.collect()
    assert (t.live_counts(), t.arc_instances()) == before


@pytest.mark.parametrize(
    "fn, args",
    [
        (t.Counter.shared, ()),
        (t.counter_refs, (t.Counter(1),)),
        (t.counter_count, (t.Counter(1),)),
        (t.Counter, (3,)),
        (t.counter_refs, (t.counter_inline(1),)),
        (t.counter_reset, (t.Counter(1),)),
    ],
)
def test_holder_no_leak(no_leak, fn, args):
    no_leak(fn, *args, n=N)
