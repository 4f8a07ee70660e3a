"""ndbind_test.callables: PyFn (Python callables called from Rust),
ndbind::function (Rust closures as Python functions), exception chaining
and translation of Rust error types."""

import gc
import math
import sys
import traceback

import pytest

from ndbind_test import callables as c


# --- PyFn: a typed Python callable ------------------------------------------


def test_pyfn_calls_with_rust_values_and_converts_the_result():
    assert c.apply(lambda x: x * x, [1.0, 2.0, 3.0]) == [1.0, 4.0, 9.0]
    assert c.apply(math.sqrt, (4, 9)) == [2.0, 3.0]
    assert c.apply(lambda x: 1, [0.5]) == [1.0]  # an int result reads as a float
    assert c.apply(print, []) == []  # never called


def test_pyfn_argument_types_and_result_kinds():
    seen = []

    def f(*args):
        seen.append(args)
        return "ok"

    assert c.call6(f) == "ok"
    assert seen == [(1, 2.5, "three", True, [4, 5], None)]
    assert type(seen[0][0]) is int and type(seen[0][1]) is float
    assert c.call_str(lambda s: s.upper() + "!", "héllo") == "HÉLLO!"
    marker = object()
    assert c.call0(lambda: marker) is marker
    assert c.call_discard(lambda: "anything, discarded") is None
    assert c.call_with(lambda a, b: (a, b), 7, "x") == (7, "x")


def test_pyfn_accepts_every_kind_of_callable():
    class Scale:
        def __init__(self, f):
            self.f = f

        def __call__(self, x):
            return self.f * x

        def method(self, x):
            return x + self.f

        @staticmethod
        def static(x):
            return -x

    s = Scale(3.0)
    assert c.apply(s, [1.0, 2.0]) == [3.0, 6.0]
    assert c.apply(s.method, [1.0]) == [4.0]
    assert c.apply(Scale.static, [1.0]) == [-1.0]
    assert c.apply(float, [2]) == [2.0]  # a class
    assert c.apply(c.scaled, [2]) == [5.0]  # an ndbind function


def test_pyfn_signature_renders_like_nanobind():
    assert c.apply.__doc__.startswith(
        "apply(f: collections.abc.Callable[[float], float], xs: list[float]) -> list[float]"
    )
    assert "f: collections.abc.Callable[[], object]" in c.call0.__doc__
    assert "f: collections.abc.Callable[[], None]" in c.call_discard.__doc__
    assert "collections.abc.Callable[[int, float, str, bool, list[int], int | None], object]" in c.call6.__doc__
    assert "f: collections.abc.Callable[[int], int] | None" in c.maybe_call.__doc__


def test_non_callable_is_a_mismatch_not_an_error():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        c.apply(42, [1.0])
    assert c.kind(len) == "callable"
    assert c.kind(42) == "other"  # the next overload, no error raised
    assert c.kind(None) == "other"
    assert c.maybe_call(None, 3) == 3
    assert c.maybe_call(lambda x: x * 10, 3) == 30


def test_exception_in_callback_propagates_unchanged():
    err = KeyError("from the callback")

    def boom(x):
        if x > 1.0:
            raise err
        return x

    with pytest.raises(KeyError) as e:
        c.apply(boom, [0.0, 1.0, 2.0, 3.0])
    assert e.value is err
    assert "boom" in [f.name for f in traceback.extract_tb(e.value.__traceback__)]


def test_wrong_result_type_is_a_type_error_naming_both_types():
    with pytest.raises(TypeError, match=r"^a Python callable returned str, expected float$"):
        c.apply(lambda x: "no", [1.0])
    with pytest.raises(TypeError, match="returned NoneType, expected str"):
        c.call_str(lambda s: None, "x")


def test_arguments_and_results_hold_exact_references():
    arg = object()
    f = lambda: arg  # noqa: E731
    before = sys.getrefcount(arg), sys.getrefcount(f)
    for _ in range(100):
        assert c.call0(f) is arg
    assert (sys.getrefcount(arg), sys.getrefcount(f)) == before
    before = sys.getrefcount(f)
    with pytest.raises(TypeError):
        c.apply(f, [1.0])  # wrong arity: the callback raises
    assert sys.getrefcount(f) == before


def test_pyfn_kept_in_a_class_field():
    calls = []

    def f(x):
        calls.append(x)
        return x * 2

    before = sys.getrefcount(f)
    k = c.Keeper(f)
    assert sys.getrefcount(f) == before + 1
    assert k.fire(3) == 6 and k.fire(4) == 8
    assert calls == [3, 4] and k.calls() == 2
    assert k.callback() is f
    del k
    gc.collect()
    assert sys.getrefcount(f) == before


def test_callback_reentering_the_keeper_is_refused_not_a_crash():
    holder = []

    def f(x):
        return holder[0].fire(x)  # re-enters while `fire` holds &mut Keeper

    k = c.Keeper(f)
    holder.append(k)
    with pytest.raises(RuntimeError):
        k.fire(1)
    holder.clear()


def test_pyfn_without_the_gil_is_a_runtime_error():
    f = lambda: None  # noqa: E731
    before = sys.getrefcount(f)
    with pytest.raises(RuntimeError, match="does not hold the GIL"):
        c.call_without_gil(f)
    assert sys.getrefcount(f) == before  # dropped (taking the GIL) once


# --- ndbind::function: Rust closures as Python functions --------------------


def test_closure_returned_as_a_function():
    add5 = c.make_adder(5)
    assert add5(1) == 6 and add5(x=-5) == 0
    assert add5.__name__ == "adder" and add5.__qualname__ == "adder"
    assert add5.__module__ is None
    assert add5.__doc__ == "adder(x: int) -> int\n\nx + k"
    with pytest.raises(TypeError, match="incompatible function arguments"):
        add5("no")
    # Each call makes its own function with its own capture.
    add7 = c.make_adder(7)
    assert (add5(0), add7(0)) == (5, 7)


def test_function_with_a_module_name():
    assert c.scaled(4.0) == 10.0
    assert c.scaled.__module__ == "ndbind_test.callables"
    assert c.scaled.__name__ == "scaled"
    assert c.scaled.__doc__.startswith("scaled(x: float) -> float")


def test_closure_captures_are_released_when_the_function_dies():
    obj = object()
    before = sys.getrefcount(obj)
    get = c.make_capture(obj)
    assert sys.getrefcount(obj) == before + 1
    assert get() is obj and get() is obj
    assert sys.getrefcount(obj) == before + 1
    del get
    assert sys.getrefcount(obj) == before


def test_closure_captures_are_dropped_exactly_once():
    start = c.drops()
    f = c.make_counted()
    assert c.drops() == start
    assert f() == 7 and f() == 7
    g = f
    del f
    assert c.drops() == start
    del g
    assert c.drops() == start + 1
    gc.collect()
    assert c.drops() == start + 1


def test_closure_errors_and_composition():
    r = c.make_raiser()
    with pytest.raises(ValueError, match="^boom$"):
        r("boom")
    h = c.compose(lambda x: x * 10, lambda x: x + 1)
    assert h(1) == 20

    def bad(x):
        raise ZeroDivisionError("inner")

    with pytest.raises(ZeroDivisionError, match="inner"):
        c.compose(bad, abs)(1)
    f, g = (lambda x: x), (lambda x: x)
    before = sys.getrefcount(f), sys.getrefcount(g)
    h = c.compose(f, g)
    del h
    assert (sys.getrefcount(f), sys.getrefcount(g)) == before


# --- exception chaining ---------------------------------------------------


def test_wrapped_python_error_is_the_cause_with_its_traceback():
    err = KeyError("original")

    def callback():
        raise err

    with pytest.raises(RuntimeError, match="callback failed") as e:
        c.wrap_error(callback)
    assert e.value.__cause__ is err
    assert e.value.__suppress_context__ is True
    assert "callback" in [f.name for f in traceback.extract_tb(err.__traceback__)]
    text = "".join(traceback.format_exception(e.value))
    assert "The above exception was the direct cause" in text
    assert "KeyError: 'original'" in text
    assert c.wrap_error(lambda: None) is None


def test_rust_errors_chain_through_several_levels():
    with pytest.raises(ValueError, match="outer") as e:
        c.raise_chained()
    mid = e.value.__cause__
    assert type(mid) is KeyError and mid.args == ("middle",)
    assert type(mid.__cause__) is TypeError and str(mid.__cause__) == "inner"
    assert mid.__cause__.__cause__ is None
    with pytest.raises(ValueError, match="outer") as e:
        c.raise_chained_nogil()
    assert type(e.value.__cause__) is KeyError


def test_chaining_again_replaces_the_cause():
    with pytest.raises(ValueError) as e:
        c.raise_recaused()
    assert type(e.value.__cause__) is IndexError and e.value.__cause__.args == ("second",)


def test_chained_error_inside_an_except_block_keeps_its_context():
    try:
        try:
            raise OSError("being handled")
        except OSError:
            c.raise_chained()
    except ValueError as e:
        assert type(e.__context__) is OSError
        assert e.__suppress_context__ is True


def test_source_chain_becomes_causes():
    with pytest.raises(ValueError, match="^top$") as e:
        c.raise_with_sources()
    cause = e.value.__cause__
    assert type(cause) is FileNotFoundError and "nothing here" in str(cause)
    assert cause.__cause__ is None


# --- translating a Rust error type ---------------------------------------


def test_rust_error_type_maps_to_a_module_exception(tmp_path):
    assert issubclass(c.AppError, Exception)
    with pytest.raises(c.AppError, match="^cannot read the input$") as e:
        c.read_file(str(tmp_path / "missing.txt"))
    assert type(e.value.__cause__) is FileNotFoundError
    (tmp_path / "x.txt").write_text("hi")
    assert c.read_file(str(tmp_path / "x.txt")) == "hi"
    with pytest.raises(c.AppError, match="not a number") as e:
        c.parse_int("12x")
    assert type(e.value.__cause__) is RuntimeError
    assert "invalid digit" in str(e.value.__cause__)
    assert c.parse_int(" 42 ") == 42
    with pytest.raises(c.AppError, match="plain failure") as e:
        c.plain_app_error()
    assert e.value.__cause__ is None


def test_boxed_error_keeps_its_source_chain():
    with pytest.raises(RuntimeError, match="^outer$") as e:
        c.boxed_error()
    assert type(e.value.__cause__) is PermissionError and str(e.value.__cause__) == "locked"


def test_python_error_inside_a_rust_error_keeps_its_identity():
    err = ArithmeticError("from python")

    def f():
        raise err

    with pytest.raises(c.AppError, match="the callback failed") as e:
        c.through_callback(f)
    assert e.value.__cause__ is err
    assert "f" in [fr.name for fr in traceback.extract_tb(err.__traceback__)]
    with pytest.raises(c.AppError) as e:
        c.through_callback(lambda: "not an int")
    assert type(e.value.__cause__) is TypeError
    assert c.through_callback(lambda: 3) == 3
