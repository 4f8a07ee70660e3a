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
    with pytest.raises(TypeError, match="a Python callable returned str, expected float"):
        callback.apply(lambda x: "no", [1.0])


def test_non_callable_is_refused_by_the_signature():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        callback.apply(42, [1.0])
    assert callback.apply.__doc__.startswith(
        "apply(f: collections.abc.Callable[[float], float], xs: list[float]) -> list[float]"
    )


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


def test_checked_chains_the_callback_error():
    err = ZeroDivisionError("inside f")

    def f(x):
        raise err

    with pytest.raises(ValueError, match=r"f\(2\) failed") as e:
        callback.checked(f, 2.0)
    assert e.value.__cause__ is err
    assert "f" in [fr.name for fr in traceback.extract_tb(err.__traceback__)]
    assert callback.checked(abs, -2.0) == 2.0


def test_derivative_is_a_rust_closure_keeping_f_alive():
    def f(x):
        return x**3

    d = callback.derivative(f, h=1e-4)
    assert d(2.0) == pytest.approx(12.0, rel=1e-6)
    assert d.__name__ == "derivative"
    assert d.__doc__.startswith("derivative(x: float) -> float")
    import sys

    before = sys.getrefcount(f)
    d2 = callback.derivative(f)
    assert sys.getrefcount(f) == before + 1
    del d2
    assert sys.getrefcount(f) == before
    assert callback.derivative(math.sin)(0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="h must be > 0"):
        callback.derivative(f, h=0.0)
