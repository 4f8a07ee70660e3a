import math
import traceback

import pytest

import callback


def test_apply_calls_back_for_each_value():
    assert callback.apply(lambda x: x * x, [1.0, 2.0, 3.0]) == [1.0, 4.0, 9.0]
    assert callback.apply(math.sqrt, (4, 9)) == [2.0, 3.0]  # any sequence, ints convert
    assert callback.apply(lambda x: 1, [0.5]) == [1.0]  # an int result reads as a float
    assert callback.apply(print, []) == []  # never called


def test_callables_of_every_kind():
    class Scale:
        def __init__(self, f):
            self.f = f

        def __call__(self, x):
            return self.f * x

        def method(self, x):
            return x + self.f

    s = Scale(3.0)
    assert callback.apply(s, [1.0, 2.0]) == [3.0, 6.0]
    assert callback.apply(s.method, [1.0]) == [4.0]


def test_exception_in_callback_propagates_unchanged():
    err = KeyError("from the callback")

    def boom(x):
        if x > 1.0:
            raise err
        return x

    with pytest.raises(KeyError) as e:
        callback.apply(boom, [0.0, 1.0, 2.0, 3.0])
    assert e.value is err  # the very same exception object
    # ... with its traceback through the callback's frame.
    frames = [f.name for f in traceback.extract_tb(e.value.__traceback__)]
    assert "boom" in frames


def test_callback_returning_a_non_float_is_a_type_error():
    with pytest.raises(TypeError, match="the callback returned str, not a float"):
        callback.apply(lambda x: "no", [1.0])


def test_non_callable_is_a_type_error():
    with pytest.raises(TypeError, match="not callable"):
        callback.apply(42, [1.0])


def test_bisect_finds_roots():
    root = callback.bisect(lambda x: x * x - 2.0, 0.0, 2.0)
    assert root == pytest.approx(math.sqrt(2.0), abs=1e-11)
    assert callback.bisect(math.cos, 0.0, 3.0, tol=1e-6) == pytest.approx(math.pi / 2, abs=1e-6)
    calls = []

    def f(x):
        calls.append(x)
        return x - 0.25

    assert callback.bisect(f, 0.0, 1.0, tol=0.1) == pytest.approx(0.25, abs=0.1)
    assert len(calls) <= 2 + 4  # both ends, then one call per halving
    with pytest.raises(ValueError, match="same sign"):
        callback.bisect(lambda x: 1.0 + x * x, -1.0, 1.0)


def test_bisect_stops_at_the_first_exception():
    calls = []

    def f(x):
        calls.append(x)
        if len(calls) == 3:
            raise ZeroDivisionError("third call")
        return x

    with pytest.raises(ZeroDivisionError, match="third call"):
        callback.bisect(f, -1.0, 2.0)
    assert len(calls) == 3


def test_call0_returns_any_object():
    marker = object()
    assert callback.call0(lambda: marker) is marker
    assert callback.call0(list) == []
