"""Calls and errors as nanobind (issue 21, item 5): a body that declines its
arguments (`PyErr::next_overload`), the raising cast."""

import sys

import numpy as np
import pytest

from ndbind_test import nbconv


def test_decline_tries_next_overload():
    assert nbconv.half(4) == "2 (even)"
    assert nbconv.half(3) == "1.5 (odd)"


def test_decline_single_overload_is_mismatch():
    assert nbconv.only_even(2) == 2
    with pytest.raises(TypeError, match=r"only_even\(\): incompatible function arguments"):
        nbconv.only_even(3)


def test_every_overload_declines():
    with pytest.raises(TypeError, match=r"never\(\): incompatible function arguments"):
        nbconv.never(1)


def test_decline_releases_loans():
    a = np.zeros(3)
    assert nbconv.fill(a, 2.0) == "first"
    assert a.tolist() == [2.0, 2.0, 2.0]
    # The first overload lent `a` mutably and declined; the second lends it again.
    assert nbconv.fill(a, -1.0) == "second"
    assert a.tolist() == [1.0, 1.0, 1.0]
    # Nothing stays lent: a third call works.
    assert nbconv.fill(a, 5.0) == "first"


def test_decline_releases_references():
    o = object()
    before = sys.getrefcount(o)
    for _ in range(100):
        assert nbconv.keep_if_list(o) == (False, o)
    assert sys.getrefcount(o) == before
    lst = [1]
    assert nbconv.keep_if_list(lst)[1] is lst
    assert nbconv.keep_if_list(lst)[0] is True


def test_callback_error_is_not_a_decline():
    calls = []

    def ok():
        calls.append(1)

    assert nbconv.call_then_decline(ok) == "second"
    assert calls == [1]

    def bad():
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        nbconv.call_then_decline(bad)


def test_constructor_declines():
    p = nbconv.Picky(3)
    assert (p.value(), p.how()) == (3, "first")
    q = nbconv.Picky(-4)
    assert (q.value(), q.how()) == (4, "second")


def test_is_next_overload():
    assert nbconv.is_next_overload() is True


def test_extract():
    assert nbconv.extract_f64(1.5) == 1.5
    assert nbconv.extract_f64(2) == 2.0  # implicit conversion, as nb::cast
    with pytest.raises(TypeError, match=r"^expected float, got str$"):
        nbconv.extract_f64("x")
    assert nbconv.extract_ints([1, 2, 3]) == [1, 2, 3]
    with pytest.raises(TypeError, match=r"^expected list\[int\], got list$"):
        nbconv.extract_ints([1, "a"])


def test_extract_hostile():
    class Bad:
        def __float__(self):
            raise ZeroDivisionError("no float")

    class L(list):
        def __iter__(self):
            raise ZeroDivisionError("no iter")

    # As for an argument: the refusal is the cast's TypeError, nothing pending after.
    with pytest.raises(TypeError, match=r"^expected float, got Bad$"):
        nbconv.extract_f64(Bad())
    with pytest.raises(TypeError, match=r"^expected list\[int\], got L$"):
        nbconv.extract_ints(L([1]))
    assert nbconv.extract_f64(0.5) == 0.5
    o = [1, 2]
    before = sys.getrefcount(o)
    for _ in range(10):
        nbconv.extract_ints(o)
    assert sys.getrefcount(o) == before


def test_nested_classes():
    O = nbconv.Outer
    assert O.Inner.__name__ == "Inner"
    assert O.Inner.__qualname__ == "Outer.Inner"
    assert O.Inner.__module__ == "ndbind_test.nbconv"
    assert O.Inner.Deep.__qualname__ == "Outer.Inner.Deep"
    assert repr(O.Inner) == "<class 'ndbind_test.nbconv.Outer.Inner'>"
    assert O.Inner.__doc__ == "A class nested in Outer."
    x = O.Inner(5)
    assert x.n() == 5
    assert O.Inner.n.__qualname__ == "Outer.Inner.n"
    assert O.Inner.__copy__.__qualname__ == "Outer.Inner.__copy__"
    assert type(O.Inner.Deep()) is O.Inner.Deep
    # The outer class stays immutable to Python code (the stable-ABI
    # build's classes are mutable).
    from conftest import ABI3

    if not ABI3:
        with pytest.raises(TypeError):
            O.Other = 1
        with pytest.raises(TypeError):
            O.Inner = None
    assert "Inner" in O.__dict__
