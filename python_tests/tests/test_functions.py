"""CONFORMANCE section 1: functions, casters and errors."""
import datetime
import sys

import pytest

import ndbind_test as t

IFA = "incompatible function arguments"


# --- add --------------------------------------------------------------------

def test_add_positional_keywords_defaults():
    assert t.add(1, 2) == 3
    assert t.add(1) == 2
    assert t.add(a=3, b=4) == 7
    assert t.add(5, b=6) == 11
    assert t.add(b=2, a=40) == 42


def test_add_doc_starts_with_signature():
    assert t.add.__doc__.startswith("add(a: int, b: int = 1) -> int")
    assert t.add.__name__ == "add"
    assert t.add.__module__ == "ndbind_test"


def test_add_text_signature_is_inspectable():
    assert t.add.__text_signature__ == "(a, b=1)"


@pytest.mark.parametrize("args,kwargs", [
    (("x",), {}),
    ((), {}),
    ((1, 2, 3), {}),
    ((1,), {"c": 2}),
    ((1,), {"a": 2}),
    ((1.5,), {}),
    ((None,), {}),
])
def test_add_mismatch_is_type_error_ifa(args, kwargs):
    with pytest.raises(TypeError, match=IFA) as e:
        t.add(*args, **kwargs)
    assert "add(a: int, b: int = 1) -> int" in str(e.value)


def test_ifa_message_shape():
    with pytest.raises(TypeError) as e:
        t.add("x")
    msg = str(e.value)
    assert msg.startswith("add(): incompatible function arguments. The following argument types are supported:\n")
    assert "    1. add(a: int, b: int = 1) -> int\n" in msg
    assert msg.endswith("Invoked with types: str")


def test_ifa_lists_keywords():
    with pytest.raises(TypeError) as e:
        t.add(1, c=2.0)
    assert "kwargs = { c: float }" in str(e.value)


def test_integer_bounds_fail_instead_of_wrapping():
    assert t.narrow_u8(255) == 255
    assert t.neg_i8(-128) == -128
    assert t.wide_u64(2**64 - 1) == 2**64 - 1
    for f, v in [(t.narrow_u8, 256), (t.narrow_u8, -1), (t.neg_i8, -129), (t.wide_u64, 2**64), (t.wide_u64, -1)]:
        with pytest.raises(TypeError, match=IFA):
            f(v)


def test_float_accepts_int_only_when_converting():
    assert t.convert_float(3) == 3.0
    assert t.noconvert_float(2.5) == 2.5
    with pytest.raises(TypeError, match=IFA):
        t.noconvert_float(3)


def test_markers_positional_only_and_keyword_only():
    assert t.markers(1, 2) == "1 2 3 4"
    assert t.markers(1, b=2, c=5, d=6) == "1 2 5 6"
    with pytest.raises(TypeError, match=IFA):
        t.markers(a=1, b=2)  # a is positional-only
    with pytest.raises(TypeError, match=IFA):
        t.markers(1, 2, 3, 4)  # d is keyword-only
    assert t.markers.__doc__.startswith("markers(a: int, /, b: int, c: int = 3, *, d: int = 4) -> str")


def test_eight_arguments():
    assert t.eight(1, 2, 3, 4, 5, 6, 7, 8) == 36


# --- describe (overloads) -----------------------------------------------------

def test_describe_overloads_in_order():
    assert t.describe(1) == "int"
    assert t.describe(1.5) == "float"
    assert t.describe("s") == "str"
    assert t.describe(True) == "int"  # bool is an int, as in Python


def test_describe_none_lists_every_signature():
    with pytest.raises(TypeError, match=IFA) as e:
        t.describe(None)
    msg = str(e.value)
    lines = [l.strip() for l in msg.splitlines() if l.strip()[:2] in ("1.", "2.", "3.", "4.")]
    assert len(lines) == len(t.describe.__doc__.strip().splitlines()[:len(lines)])
    assert "describe(x: int) -> str" in msg
    assert "describe(x: float) -> str" in msg
    assert "describe(x: str) -> str" in msg
    assert "Invoked with types: NoneType" in msg


def test_describe_doc_lists_overloads():
    doc = t.describe.__doc__.splitlines()
    assert doc[0] == "describe(x: int) -> str"
    assert doc[1] == "describe(x: float) -> str"
    assert doc[2] == "describe(x: str) -> str"


# --- errors -------------------------------------------------------------------

def test_raise_value_error():
    with pytest.raises(ValueError) as e:
        t.raise_value_error("boom")
    assert str(e.value) == "boom"
    assert type(e.value) is ValueError


def test_custom_error():
    assert issubclass(t.CustomError, Exception)
    assert t.CustomError.__module__ == "ndbind_test"
    with pytest.raises(t.CustomError, match="custom message"):
        t.raise_custom("custom message")


def test_panic_becomes_exception_and_interpreter_survives():
    with pytest.raises(Exception) as e:
        t.panic()
    assert "deliberate panic from Rust" in str(e.value)
    assert isinstance(e.value, RuntimeError)
    # The interpreter and the module still work.
    assert t.add(1, 2) == 3
    with pytest.raises(Exception):
        t.panic()


def test_callback_exception_propagates_unchanged():
    def inner(x):
        raise KeyError("from python")

    with pytest.raises(KeyError) as e:
        t.call_back(inner, 1)
    assert e.value.args == ("from python",)
    # The traceback still reaches into the Python callback.
    tb = e.traceback
    assert any(entry.name == "inner" for entry in tb)
    assert t.call_back(lambda x: x * 2, 21) == 42


# --- casters ------------------------------------------------------------------

def test_sum_list():
    assert t.sum_list([1.0, 2.5]) == 3.5
    assert t.sum_list((1.0, 2.0)) == 3.0  # any sequence
    assert t.sum_list([1, 2]) == 3.0  # int -> float in the conversion pass
    assert t.sum_list([]) == 0.0
    assert t.sum_list.__doc__.startswith("sum_list(xs: list[float]) -> float")
    for bad in ["ab", [1.0, "x"], 3, None, {1.0: 1}]:
        with pytest.raises(TypeError, match=IFA):
            t.sum_list(bad)


def test_echo_dict():
    d = {"a": 1, "b": -2}
    out = t.echo_dict(d)
    assert out == d and out is not d
    assert t.echo_dict({}) == {}
    assert t.echo_dict.__doc__.startswith("echo_dict(d: dict[str, int]) -> dict[str, int]")
    for bad in [{1: 1}, {"a": "b"}, [("a", 1)]]:
        with pytest.raises(TypeError, match=IFA):
            t.echo_dict(bad)


def test_maybe():
    assert t.maybe() is None
    assert t.maybe(None) is None
    assert t.maybe(3) == 3
    assert t.maybe(x=4) == 4
    assert t.maybe.__doc__.startswith("maybe(x: int | None = None) -> int | None")
    with pytest.raises(TypeError, match=IFA):
        t.maybe("3")


def test_roundtrip_duration():
    td = datetime.timedelta(days=3, seconds=7, microseconds=123456)
    assert t.roundtrip_duration(td) == td
    assert t.roundtrip_duration(datetime.timedelta(0)) == datetime.timedelta(0)
    assert t.roundtrip_duration(1.5) == datetime.timedelta(seconds=1.5)
    assert t.roundtrip_duration(0.000001) == datetime.timedelta(microseconds=1)
    big = datetime.timedelta(days=999_999_999, seconds=86399, microseconds=999999)
    assert t.roundtrip_duration(big) == big


@pytest.mark.parametrize("bad", [1, "1", None, datetime.timedelta(seconds=-1), -1.0])
def test_roundtrip_duration_rejects(bad):
    with pytest.raises(TypeError, match=IFA):
        t.roundtrip_duration(bad)


def test_borrowed_str_and_bytes():
    assert t.strlen("héllo") == 5
    assert t.bytes_len(b"abc") == 3
    with pytest.raises(TypeError, match=IFA):
        t.strlen(b"abc")
    with pytest.raises(TypeError, match=IFA):
        t.bytes_len("abc")
    with pytest.raises(TypeError, match=IFA):
        t.strlen("\ud800")  # lone surrogate: no UTF-8 form


def test_tuple():
    assert t.tuple_swap((1, "a")) == ("a", 1)
    with pytest.raises(TypeError, match=IFA):
        t.tuple_swap((1, "a", 2))


def test_function_repr_and_type():
    assert "add" in repr(t.add)
    with pytest.raises(TypeError):
        type(t.add)()


# --- leaks ---------------------------------------------------------------------

SECTION1_CALLS = [
    (t.add, (1, 2), {}),
    (t.add, (1,), {"b": 2}),
    (t.add, ("x",), {}),
    (t.describe, (1.5,), {}),
    (t.describe, ("s",), {}),
    (t.describe, (None,), {}),
    (t.raise_value_error, ("m",), {}),
    (t.raise_custom, ("m",), {}),
    (t.sum_list, ([1.0, 2.0, 3.0],), {}),
    (t.echo_dict, ({"a": 1, "b": 2},), {}),
    (t.maybe, (5,), {}),
    (t.maybe, (None,), {}),
    (t.roundtrip_duration, (datetime.timedelta(seconds=5),), {}),
    (t.roundtrip_duration, (2.5,), {}),
    (t.roundtrip_duration, (1,), {}),
]


@pytest.mark.parametrize("fn,args,kwargs", SECTION1_CALLS, ids=lambda v: getattr(v, "__name__", None))
def test_no_leak_100k(no_leak, fn, args, kwargs):
    no_leak(fn, *args, n=100_000, **kwargs)


def test_panic_does_not_leak(no_leak):
    no_leak(t.panic, n=300)
