"""Mismatch errors that say what failed (issue 17, item 3).

nanobind's text stays as it is (`incompatible function arguments`, the
numbered overloads, `Invoked with types:` with full type names); after it
comes one line per array argument refused although its type is one the
parameter takes: `Argument 1 (a) was refused: dtype float64, expected float32`
(`... by overload N: ...` when there are several). Also: return annotations
that tell the truth.
"""

import re
import sys

import numpy as np
import pytest

import ndbind_test as m

r = m.reasons

IFA = "incompatible function arguments"
INVOKED = "\nInvoked with types: "


def refusal(f, *args, **kwargs):
    """The mismatch message's lines after `Invoked with types:`."""
    with pytest.raises(TypeError) as e:
        f(*args, **kwargs)
    msg = str(e.value)
    assert IFA in msg
    head, tail = msg.split(INVOKED)
    assert head.endswith("\n")  # nanobind's blank line before it
    types, *lines = tail.split("\n")
    assert e.value.__context__ is None  # no error left by an explanation
    return types, lines


def only(f, *args, **kwargs):
    types, lines = refusal(f, *args, **kwargs)
    assert len(lines) == 1, lines
    prefix = "Argument 1 (a) was refused: "
    assert lines[0].startswith(prefix), lines
    return lines[0][len(prefix):]


# --- the format ---------------------------------------------------------------

def test_full_message_keeps_nanobind_text_then_one_line():
    with pytest.raises(TypeError) as e:
        r.f32(np.zeros(3))
    assert str(e.value) == (
        "f32(): incompatible function arguments. The following argument types are supported:\n"
        "    1. f32(a: ndarray[dtype=float32, writable=False]) -> None\n"
        "\n"
        "Invoked with types: numpy.ndarray\n"
        "Argument 1 (a) was refused: dtype float64, expected float32"
    )


def test_no_line_when_the_type_itself_is_wrong():
    for bad in (1, [1.0], None, "x"):
        types, lines = refusal(r.f32, bad)
        assert lines == []
    with pytest.raises(TypeError) as e:
        r.f32(1)
    assert str(e.value).endswith("Invoked with types: int")


def test_several_overloads_say_which_and_keywords_count():
    a = np.zeros((2, 2))
    expect = [
        "Argument 1 (a) was refused by overload 1: dtype float64, expected float32",
        "Argument 1 (a) was refused by overload 2: shape (2, 2), expected (*,)",
    ]
    assert refusal(r.pick, a, 1) == ("numpy.ndarray, int", expect)
    assert refusal(r.pick, a=a, n=1) == ("kwargs = { a: numpy.ndarray, n: int }", expect)
    # Every refused argument, not only the first.
    types, lines = refusal(r.two, np.zeros(3), b=np.zeros(3, np.float32))
    assert types == "numpy.ndarray, kwargs = { b: numpy.ndarray }"
    assert lines == [
        "Argument 1 (a) was refused: dtype float64, expected float32",
        "Argument 2 (b) was refused: dtype float32, expected float64",
    ]


def test_a_refusal_conversion_fixes_is_not_one():
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    # `a` converts (float64 -> float32): only the read-only `out` is refused.
    types, lines = refusal(r.convert_into, np.zeros(3), ro)
    assert lines == ["Argument 2 (out) was refused: read-only, expected a writable array"]
    r.convert_into(np.zeros(3), np.zeros(3, np.float32))


def test_optional_array():
    assert r.maybe(None) is False
    assert only(r.maybe, np.zeros(3)) == "dtype float64, expected float32"


# --- one test per refusal -------------------------------------------------------

def test_dtype():
    torch = pytest.importorskip("torch")
    assert only(r.f32, np.zeros(3)) == "dtype float64, expected float32"
    assert only(r.f32, torch.zeros(3, dtype=torch.int64)) == "dtype int64, expected float32"
    assert only(r.f32, np.zeros(3, np.complex64)) == "dtype complex64, expected float32"


def test_dtype_jax():
    jnp = pytest.importorskip("jax.numpy")
    assert only(r.f32, jnp.zeros(3, jnp.int32)) == "dtype int32, expected float32"


def test_dtype_numpy_cannot_read():
    assert only(r.f32, np.zeros(3, ">f4")) == "dtype float32 in big-endian byte order, which ndbind cannot read"
    assert only(r.f32, np.zeros(3, object)) == "dtype object_, which ndbind cannot read"


def test_shape():
    torch = pytest.importorskip("torch")
    want = "shape (3, 4), expected (3, *, 5)"
    assert only(r.shape_3x5, np.zeros((3, 4), np.float32)) == want
    assert only(r.shape_3x5, torch.zeros(3, 4)) == want
    assert only(r.shape_3x5, np.zeros((3, 2, 4), np.float32)) == "shape (3, 2, 4), expected (3, *, 5)"
    assert only(r.ndim3, np.zeros(3, np.float32)) == "shape (3,), expected (*, *, *)"
    r.shape_3x5(np.zeros((3, 7, 5), np.float32))


def test_order():
    torch = pytest.importorskip("torch")
    a = np.zeros((3, 4), np.float32)
    assert only(r.c_order, a.T) == (
        "not C-contiguous (shape (4, 3), strides (1, 4) in elements), expected order='C'"
    )
    assert only(r.c_order, torch.zeros(3, 4).t()) == (
        "not C-contiguous (shape (4, 3), strides (1, 4) in elements), expected order='C'"
    )
    assert only(r.f_order, a) == (
        "not F-contiguous (shape (3, 4), strides (4, 1) in elements), expected order='F'"
    )


def test_device():
    torch = pytest.importorskip("torch")
    assert only(r.on_cuda, np.zeros(3, np.float32)) == "device cpu, expected cuda"
    assert only(r.on_cuda, torch.zeros(3)) == "device cpu, expected cuda"


def test_device_of_a_producer_without_a_second_export():
    log = []

    class Producer:
        def __dlpack__(self, **kwargs):
            log.append("__dlpack__")
            raise BufferError("not now")

        def __dlpack_device__(self):
            log.append("__dlpack_device__")
            return (2, 1)

    types, lines = refusal(r.on_cpu, Producer())
    assert types == Producer.__module__ + "." + Producer.__qualname__
    assert lines == ["Argument 1 (a) was refused: device cuda:1, expected cpu"]
    # The explanation asked for the device only, after the load's exports.
    assert log.count("__dlpack_device__") == 1 and log[-1] == "__dlpack_device__"


def test_explanation_that_raises_is_silent():
    class Producer:
        def __dlpack__(self, **kwargs):
            raise BufferError("not now")

        def __dlpack_device__(self):
            raise RuntimeError("boom")

    types, lines = refusal(r.on_cpu, Producer())
    assert lines == []


def test_read_only():
    torch = pytest.importorskip("torch")
    a = np.zeros(3, np.float32)
    a.flags.writeable = False
    want = "read-only, expected a writable array"
    assert only(r.writable, a) == want
    assert only(r.writable, memoryview(np.zeros(3, np.float32).tobytes()).cast("f")) == want
    assert only(r.view_mut, a) == want
    # A torch tensor is writable: accepted.
    r.writable(torch.zeros(3))


def test_read_only_jax():
    jnp = pytest.importorskip("jax.numpy")
    assert only(r.writable, jnp.zeros(3, jnp.float32)) == "read-only, expected a writable array"


def test_requires_grad():
    torch = pytest.importorskip("torch")
    t = torch.zeros(3, requires_grad=True)
    assert only(r.writable, t) == (
        "requires_grad=True, expected a tensor that does not require grad "
        "(a write would bypass autograd: pass .detach())"
    )
    r.f32(t)  # read-only: accepted
    r.writable(t.detach())


def test_negative_and_conjugate_bits():
    torch = pytest.importorskip("torch")
    neg = torch._neg_view(torch.zeros(3))
    assert neg.is_neg()
    want = ("a torch tensor with the negative or conjugate bit set, whose memory does not hold its "
            "values (call .resolve_neg() / .resolve_conj() first)")
    assert only(r.writable, neg) == want
    assert only(r.view, neg) == want
    assert r.view(neg.resolve_neg()) == 3


def test_misaligned():
    buf = np.zeros(17, np.uint8)
    a = np.frombuffer(buf.data, np.float32, 4, offset=1)
    reason = only(r.f32, a)
    assert re.fullmatch(r"misaligned data \(address 0x[0-9a-f]+\), expected 4-byte alignment for float32", reason)


def test_capsule_is_explained_without_being_consumed():
    cap = np.arange(3.0).__dlpack__()
    assert only(r.f32, cap) == "dtype float64, expected float32"
    # Still unconsumed: another function takes it.
    assert m.dtype_name(cap) == "float64"


def test_capsule_taken_by_an_earlier_argument_is_not_explained():
    # `a` takes the capsule (provisionally) and `b` is refused: `a` was
    # accepted, and its capsule, handed back, is usable afterwards.
    cap = np.zeros(3, np.float32).__dlpack__()
    types, lines = refusal(r.two, cap, np.zeros(3, np.float32))
    assert types == "PyCapsule, numpy.ndarray"
    assert lines == ["Argument 2 (b) was refused: dtype float32, expected float64"]
    assert m.dtype_name(cap) == "float32"
    # A consumed capsule: no line (its type says it all).
    types, lines = refusal(r.f32, cap)
    assert lines == []


def test_overlap_and_bools_say_what_failed():
    # Not mismatches: errors of their own, which already say why.
    a = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), (3,), (0,))
    assert a.flags.writeable
    with pytest.raises(ValueError, match="share memory"):
        r.view_mut(a)
    with pytest.raises(ValueError, match="bytes other than 0 and 1"):
        r.bools(np.array([0, 2], np.uint8).view(bool))


# --- full type names ---------------------------------------------------------------

def test_full_type_names():
    torch = pytest.importorskip("torch")

    class Local:
        pass

    types, _ = refusal(r.f32, torch.zeros(3, dtype=torch.int64))
    assert types == "torch.Tensor"
    types, _ = refusal(r.f32, Local())
    assert types == Local.__module__ + ".test_full_type_names.<locals>.Local"
    types, _ = refusal(r.f32, None)
    assert types == "NoneType"


def test_full_type_name_jax():
    jnp = pytest.importorskip("jax.numpy")
    x = jnp.zeros(3, jnp.int32)
    types, _ = refusal(r.f32, x)
    assert types == type(x).__module__ + "." + type(x).__qualname__


def test_type_name_ignores_a_bad_module_attribute():
    class Odd:
        pass

    Odd.__module__ = 42  # not a str: the qualified name alone
    types, _ = refusal(r.f32, Odd())
    assert types == "test_type_name_ignores_a_bad_module_attribute.<locals>.Odd"


# --- return annotations ---------------------------------------------------------

def test_returned_argument_is_not_declared_read_only():
    assert r.same.__doc__.startswith(
        "same(a: ndarray[dtype=float32, writable=False]) -> ndarray[dtype=float32]")
    assert r.same_writable.__doc__.startswith(
        "same_writable(a: ndarray[dtype=float32, writable=True]) -> ndarray[dtype=float32, writable=True]")
    assert m.passthrough.__doc__.startswith("passthrough(a: ndarray[writable=False]) -> ndarray")
    a = np.zeros(2, np.float32)
    assert r.same(a) is a and a.flags.writeable


def test_jax_export_is_not_writable():
    assert r.to_jax.__doc__.startswith("to_jax() -> jax.Array[dtype=float32, writable=False]")
    assert r.to_numpy.__doc__.startswith("to_numpy() -> numpy.ndarray[dtype=float32, writable=True]")
    assert r.to_numpy_ro.__doc__.startswith("to_numpy_ro() -> numpy.ndarray[dtype=float32, writable=False]")
    assert "writable=False" in m.ret_jax.__doc__


def test_explaining_keeps_reference_counts():
    torch = pytest.importorskip("torch")
    objs = [np.zeros(3), torch.zeros(3, dtype=torch.float64), memoryview(b"abcd"),
            np.arange(3.0).__dlpack__()]
    for o in objs:
        before = sys.getrefcount(o)
        for _ in range(20):
            with pytest.raises(TypeError):
                r.f32(o)
        assert sys.getrefcount(o) == before


def test_bound_class_type_name():
    types, lines = refusal(r.f32, m.Point(1.0, 2.0))
    assert (types, lines) == ("ndbind_test.Point", [])
