"""CONFORMANCE section 2: array arguments (the import pipeline).

Every function of section 2 is exercised with NumPy, PyTorch and JAX inputs,
buffer-protocol objects (``memoryview``, ``bytes``, ``bytearray``,
``array.array``), objects that only have ``__dlpack__`` and raw DLPack
capsules (legacy and versioned), over F-ordered, sliced, transposed,
negatively strided, size-0 and 0-d layouts and the dtypes float16, bfloat16,
complex64 and complex128.

The general rules checked throughout:
- "any array" parameters accept read-only arrays; writable parameters never
  do, never convert, and never take a JAX array;
- a legacy capsule is writable, a versioned one unless flagged READ_ONLY;
- a raw capsule is consumed on success, not when an overload rejects it, and
  never by ``is_array``;
- writes through writable parameters land in the caller's memory (zero copy);
- a mismatch is a TypeError whose message contains
  "incompatible function arguments" (TypeError-IFA).

Inputs are built by factories, so that every test gets fresh objects (a
capsule can be used only once).
"""
import array
import gc
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ndbind_test as t

IFA = "incompatible function arguments"
f32, f64, c64, c128 = np.float32, np.float64, np.complex64, np.complex128


# --- helpers ----------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed in this environment")


def _jax():
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return pytest.importorskip("jax", reason="JAX is not installed in this environment")


def _jnp():
    _jax()
    import jax.numpy as jnp
    return jnp


def _ml_dtypes():
    return pytest.importorskip("ml_dtypes", reason="ml_dtypes (JAX's bfloat16) is not installed")


def jax_f64(values):
    """A JAX float64 array (needs x64 only while it is created)."""
    jax = _jax()
    jnp = _jnp()
    enable = getattr(jax, "enable_x64", None)
    if enable is None:
        from jax.experimental import enable_x64 as enable
    with enable(True):
        out = jnp.asarray(np.asarray(values, dtype=np.float64))
    assert out.dtype == np.float64
    return out


def jax_bf16(values):
    ml = _ml_dtypes()
    jnp = _jnp()
    out = jnp.asarray(np.asarray(values, dtype=np.float32).astype(ml.bfloat16))
    assert out.dtype.name == "bfloat16"
    return out


def ro(a):
    """Marks a NumPy array read-only and returns it."""
    a.setflags(write=False)
    return a


def ifa(fn, *args, **kwargs):
    """Asserts that ``fn(*args)`` is TypeError-IFA; returns the message."""
    with pytest.raises(TypeError, match=IFA) as e:
        fn(*args, **kwargs)
    return str(e.value)


def is_used(capsule):
    """True when a DLPack capsule has been renamed to ``used_dltensor*``."""
    return '"used_dltensor' in repr(capsule)


class DLPackOnly:
    """An object that is an array only through ``__dlpack__``."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


class OldDLPack(DLPackOnly):
    """Pre-1.0 protocol: ``__dlpack__`` knows no ``max_version`` keyword."""

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()


def _snapshot(a):
    """A comparable copy of an array's values (torch bfloat16 included)."""
    if type(a).__module__.startswith("torch"):
        return a.float().tolist() if a.dtype is _torch().bfloat16 else a.tolist()
    return np.array(a, copy=True).tolist()


def exp_np(a, dtype=None):
    """Expected (shape, strides-in-elements or None, dtype name, itemsize)."""
    a = np.asarray(a)
    strides = None if a.size == 0 else [s // a.itemsize for s in a.strides]
    return list(a.shape), strides, dtype or a.dtype.name, a.itemsize


def exp_torch(x):
    strides = None if x.numel() == 0 else list(x.stride())
    return list(x.shape), strides, str(x.dtype).replace("torch.", ""), x.element_size()


def c_strides(shape):
    out, acc = [], 1
    for n in reversed(shape):
        out.insert(0, acc)
        acc *= n
    return out


def exp_jax(j):
    shape = list(j.shape)
    return shape, (None if j.size == 0 else c_strides(shape)), j.dtype.name, j.dtype.itemsize


# --- the input catalogue ----------------------------------------------------
# Each factory returns (object, (shape, strides, dtype_name, itemsize)).

def _np(a):
    return a, exp_np(a)


def _tc(x):
    return x, exp_torch(x)


def _jx(j):
    return j, exp_jax(j)


def _buf(obj):
    return obj, exp_np(np.asarray(memoryview(obj)))


def _cap(a, **kw):
    expected = exp_np(a)
    return a.__dlpack__(**kw), expected


def _tcap(x, **kw):
    expected = exp_torch(x)
    return x.__dlpack__(**kw), expected


CASES = {
    # NumPy
    "np-c-2d-f64": lambda: _np(np.arange(12.).reshape(3, 4)),
    "np-f-2d-f32": lambda: _np(np.asfortranarray(np.arange(12, dtype=f32).reshape(3, 4))),
    "np-sliced": lambda: _np(np.arange(48.).reshape(6, 8)[1:5:2, 2:7:2]),
    "np-transposed-i32": lambda: _np(np.arange(6, dtype=np.int32).reshape(2, 3).T),
    "np-neg-1d": lambda: _np(np.arange(10.)[::-2]),
    "np-neg-2d-i16": lambda: _np(np.arange(12, dtype=np.int16).reshape(3, 4)[::-1, ::-2]),
    "np-3d-u8": lambda: _np(np.zeros((2, 3, 4), np.uint8)),
    "np-size0": lambda: _np(np.zeros((0, 3))),
    "np-0d": lambda: _np(np.array(3.5)),
    "np-readonly": lambda: _np(ro(np.arange(6.).reshape(2, 3))),
    "np-f16": lambda: _np(np.arange(6, dtype=np.float16).reshape(3, 2)),
    "np-c64": lambda: _np(np.zeros((2, 2), c64)),
    "np-c128-transposed": lambda: _np(np.zeros((2, 3), c128).T),
    "np-bool": lambda: _np(np.zeros(4, bool)),
    "np-u64": lambda: _np(np.zeros(3, np.uint64)),
    # PyTorch
    "torch-2d": lambda: _tc(_torch().arange(12.).reshape(3, 4)),
    "torch-transposed": lambda: _tc(_torch().arange(12.).reshape(3, 4).t()),
    "torch-step": lambda: _tc(_torch().arange(20)[::3]),
    "torch-bf16": lambda: _tc(_torch().arange(6.).reshape(2, 3).to(_torch().bfloat16)),
    "torch-f16": lambda: _tc(_torch().zeros(2, 3, dtype=_torch().float16)),
    "torch-c128": lambda: _tc(_torch().zeros(3, dtype=_torch().complex128)),
    "torch-0d": lambda: _tc(_torch().tensor(2.0, dtype=_torch().float64)),
    "torch-size0": lambda: _tc(_torch().zeros(0, 3)),
    # JAX (read-only by nature)
    "jax-f32-2d": lambda: _jx(_jnp().arange(12.).reshape(3, 4)),
    "jax-f64": lambda: _jx(jax_f64(np.arange(5.))),
    "jax-bf16": lambda: _jx(jax_bf16(np.arange(6.).reshape(2, 3))),
    "jax-u8": lambda: _jx(_jnp().zeros((2, 2, 3), _jnp().uint8)),
    "jax-c64": lambda: _jx(_jnp().zeros(3, _jnp().complex64)),
    "jax-0d": lambda: _jx(_jnp().asarray(1.5)),
    # buffer protocol
    "mv-2d-i16": lambda: _buf(memoryview(np.arange(6, dtype=np.int16).reshape(2, 3))),
    "mv-step": lambda: _buf(memoryview(bytearray(range(10)))[::3]),
    "mv-readonly": lambda: _buf(memoryview(b"abcd")),
    "mv-cast-f32": lambda: _buf(memoryview(bytearray(24)).cast("f", (2, 3))),
    "mv-Zf": lambda: _buf(memoryview(np.zeros(3, c64))),
    "mv-Zd": lambda: _buf(memoryview(np.zeros(3, c128))),
    "mv-e": lambda: _buf(memoryview(np.zeros(3, np.float16))),
    "mv-?": lambda: _buf(memoryview(np.zeros(3, bool))),
    "bytes": lambda: _buf(b"hello"),
    "bytearray": lambda: _buf(bytearray(7)),
    **{f"array-{code}": (lambda code=code: _buf(array.array(code, [1, 2, 3])))
       for code in "bBhHiIlLqQfd"},
    # objects with __dlpack__ only
    "dlpack-object": lambda: (DLPackOnly(np.arange(6, dtype=f32).reshape(2, 3)),
                              exp_np(np.zeros((2, 3), f32))),
    "dlpack-object-old": lambda: (OldDLPack(np.arange(6, dtype=f32).reshape(2, 3)),
                                  exp_np(np.zeros((2, 3), f32))),
    # raw capsules
    "cap-np-legacy": lambda: _cap(np.arange(6.).reshape(2, 3).T),
    "cap-np-versioned": lambda: _cap(np.arange(6, dtype=f32).reshape(2, 3), max_version=(1, 0)),
    "cap-np-versioned-ro": lambda: _cap(ro(np.arange(4, dtype=np.int8)), max_version=(1, 0)),
    "cap-torch-legacy": lambda: _tcap(_torch().arange(6.).reshape(3, 2)),
    "cap-torch-versioned": lambda: _tcap(_torch().arange(6.).reshape(3, 2).t(), max_version=(1, 0)),
}
CASE_IDS = list(CASES)


@pytest.fixture(params=CASE_IDS)
def case(request):
    return CASES[request.param]()


@pytest.fixture(params=CASE_IDS)
def make_case(request):
    """The factory itself, for tests that need several fresh copies."""
    return CASES[request.param]


# --- shape, strides, dtype_name, device, ndim, size, itemsize, nbytes -------

def test_shape(case):
    obj, (shape, _, _, _) = case
    assert t.shape(obj) == shape


def test_strides_in_elements(case):
    obj, (shape, strides, _, _) = case
    got = t.strides(obj)
    assert isinstance(got, list) and len(got) == len(shape)
    if strides is not None:  # size-0 arrays: strides are arbitrary, only the count matters
        assert got == strides


def test_ndim_size_itemsize_nbytes(make_case):
    # A fresh object per query: a raw capsule can be used only once.
    shape, _, _, itemsize = make_case()[1]
    size = int(np.prod(shape, dtype=np.int64))
    assert t.ndim(make_case()[0]) == len(shape)
    assert t.size(make_case()[0]) == size
    assert t.itemsize(make_case()[0]) == itemsize
    assert t.nbytes(make_case()[0]) == size * itemsize


def test_dtype_name(case):
    obj, (_, _, dtype, _) = case
    assert t.dtype_name(obj) == dtype


def test_device_is_cpu(case):
    obj, _ = case
    assert t.device(obj) == (1, 0)


def test_device_kind_is_cpu(case):
    obj, _ = case
    assert t.device_kind(obj) == "cpu"


NP_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
             "uint64", "float16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("name", NP_DTYPES)
def test_dtype_name_numpy(name):
    a = np.zeros((2, 3), dtype=name)
    assert t.dtype_name(a) == name
    assert t.itemsize(a) == a.itemsize
    assert t.nbytes(a) == a.nbytes


TORCH_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float16", "bfloat16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("name", TORCH_DTYPES)
def test_dtype_name_torch(name):
    torch = _torch()
    x = torch.zeros(2, 3, dtype=getattr(torch, name))
    assert t.dtype_name(x) == name
    assert t.itemsize(x) == x.element_size()


@pytest.mark.parametrize("name", ["bool", "int8", "uint8", "int32", "uint32", "float16",
                                  "bfloat16", "float32", "complex64"])
def test_dtype_name_jax(name):
    jnp = _jnp()
    if name == "bfloat16":
        j = jax_bf16([[1, 2, 3], [4, 5, 6]])
    else:
        j = jnp.zeros((2, 3), dtype=name)
    assert t.dtype_name(j) == name
    assert t.itemsize(j) == j.dtype.itemsize


def test_shape_returns_list_and_device_tuple():
    a = np.zeros((2, 5))
    assert type(t.shape(a)) is list and type(t.strides(a)) is list
    assert t.strides(a) == [5, 1]
    assert type(t.device(a)) is tuple


def test_shape_lists_are_fresh_lists_to_the_caller():
    # ndbind refills the last shape list when nobody holds it any more; a
    # list the caller keeps, grows or fills with other objects is never
    # handed out again.
    x, y = np.ones((4, 4)), np.ones((2, 3, 5))
    a, b = t.shape(x), t.shape(x)
    assert a == b == [4, 4] and a is not b
    a.append(9)
    a[0] = "not an int"
    assert b == [4, 4]
    del a, b
    assert t.shape(x) == [4, 4]
    c = t.shape(y)
    c[1] = 10**30
    del c
    assert t.shape(y) == [2, 3, 5]
    huge = np.broadcast_to(np.zeros(1), (2**40, 300))  # extents beyond one int digit
    assert t.shape(huge) == [2**40, 300] and t.shape(huge) == [2**40, 300]
    kept = [t.shape(np.zeros((i, 7))) for i in range(5)]
    assert kept == [[i, 7] for i in range(5)]


def test_zero_d_has_empty_shape_and_strides():
    a = np.array(7.0)
    assert t.shape(a) == [] and t.strides(a) == []
    assert t.ndim(a) == 0 and t.size(a) == 1 and t.nbytes(a) == 8


@pytest.mark.parametrize("obj", [None, 1, 2.5, "s", [1, 2], (1, 2), object()],
                         ids=["None", "int", "float", "str", "list", "tuple", "object"])
@pytest.mark.parametrize("fn", ["shape", "strides", "dtype_name", "device", "ndim", "size",
                                "itemsize", "nbytes", "order", "device_kind"])
def test_any_array_params_reject_non_arrays(fn, obj):
    ifa(getattr(t, fn), obj)


@settings(max_examples=60, deadline=None, database=None)
@given(st.data())
def test_strides_and_sum_of_random_views(data):
    """Random slicing/transposition of a float64 array: strides (axes of
    extent > 1) and sum_f64 agree with NumPy."""
    ndim = data.draw(st.integers(1, 3))
    shape = data.draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim))
    base = np.arange(1.0, np.prod(shape) + 1).reshape(shape) ** 1.5
    index = []
    for n in shape:
        step = data.draw(st.sampled_from([-3, -2, -1, 1, 2, 3]))
        start = data.draw(st.integers(0, n - 1))
        index.append(slice(start, None, step))
    view = base[tuple(index)]
    view = view.transpose(data.draw(st.permutations(range(ndim))))
    assert t.shape(view) == list(view.shape)
    got = [s for s, n in zip(t.strides(view), view.shape) if n > 1]
    assert got == [s // 8 for s, n in zip(view.strides, view.shape) if n > 1]
    assert t.sum_f64(view) == pytest.approx(view.sum())


# --- is_valid, is_array ------------------------------------------------------

def test_is_valid():
    assert t.is_valid() is False
    assert t.is_valid(None) is False
    assert t.is_valid(np.zeros(3)) is True
    assert t.is_valid(a=np.zeros(3)) is True
    assert t.is_valid(ro(np.zeros(3))) is True
    assert t.is_valid(b"xy") is True
    assert t.is_valid(_jnp().zeros(2)) is True
    ifa(t.is_valid, "x")


def test_is_array_true_for_every_array_kind(case):
    obj, _ = case
    assert t.is_array(obj) is True


@pytest.mark.parametrize("obj", [None, 1, 2.5, "s", [1, 2], (1, 2), {}, object(), type],
                         ids=["None", "int", "float", "str", "list", "tuple", "dict",
                              "object", "type"])
def test_is_array_false_for_non_arrays(obj):
    assert t.is_array(obj) is False


def test_is_array_false_for_unimportable_arrays_and_foreign_capsules():
    import datetime
    assert t.is_array(np.array([1, None], dtype=object)) is False
    assert t.is_array(np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])) is False
    assert t.is_array(datetime.datetime_CAPI) is False  # a capsule, but not DLPack


def test_is_array_never_consumes_a_capsule():
    a = np.arange(3.)
    for c in (a.__dlpack__(), a.__dlpack__(max_version=(1, 0))):
        assert t.is_array(c) is True
        assert t.is_array(c) is True
        assert not is_used(c)
        assert t.shape(c) == [3]  # still usable, and now consumed
        assert t.is_array(c) is False


# --- raw DLPack capsules ---------------------------------------------------

def _capsule_sources():
    return {
        "np-legacy": lambda: np.arange(4, dtype=f32).__dlpack__(),
        "np-versioned": lambda: np.arange(4, dtype=f32).__dlpack__(max_version=(1, 0)),
        "torch-legacy": lambda: _torch().arange(4, dtype=_torch().float32).__dlpack__(),
        "torch-versioned": lambda: _torch().arange(4, dtype=_torch().float32).__dlpack__(
            max_version=(1, 0)),
    }


CAP_KINDS = ["np-legacy", "np-versioned", "torch-legacy", "torch-versioned"]


@pytest.mark.parametrize("kind", CAP_KINDS)
@pytest.mark.parametrize("fn", ["pass_f32", "pass_f32_ro", "shape", "fill_arange"])
def test_capsule_consumed_on_success(kind, fn):
    c = _capsule_sources()[kind]()
    getattr(t, fn)(c)
    assert is_used(c)
    ifa(getattr(t, fn), c)
    ifa(t.shape, c)


@pytest.mark.parametrize("kind", CAP_KINDS)
def test_capsule_not_consumed_when_rejected(kind):
    c = _capsule_sources()[kind]()
    ifa(t.pass_u32, c)          # wrong dtype
    ifa(t.sum_f64, c)           # wrong dtype
    ifa(t.pass_c3, c)           # wrong ndim
    ifa(t.double_pixels, c)
    assert not is_used(c)
    assert t.dtype_name(c) == "float32"
    assert is_used(c)


def test_capsule_not_consumed_by_a_rejecting_overload_before_the_match():
    # order(): the "C" overload rejects an F-ordered capsule, "F" takes it.
    a = np.asfortranarray(np.zeros((2, 3), f32))
    c = a.__dlpack__()
    assert t.order(c) == "F"
    ifa(t.order, c)
    # set_first: the float64 overload must leave a complex128 capsule intact.
    z = np.full(3, 7 + 7j)
    t.set_first(z.__dlpack__(), 5.0)
    assert z.tolist() == [5 + 0j, 7 + 7j, 7 + 7j]


def test_readonly_versioned_capsule_rejected_by_writable_param_not_consumed():
    a = ro(np.arange(4, dtype=f32))
    c = a.__dlpack__(max_version=(1, 0))
    ifa(t.pass_f32, c)
    ifa(t.fill_arange, c)
    assert not is_used(c)
    t.pass_f32_ro(c)
    assert is_used(c)
    assert list(a) == [0, 1, 2, 3]


@pytest.mark.parametrize("versioned", [False, True], ids=["legacy", "versioned"])
@pytest.mark.parametrize("src", ["numpy", "torch"])
def test_writable_capsule_writes_reach_the_source(src, versioned):
    kw = {"max_version": (1, 0)} if versioned else {}
    if src == "numpy":
        a = np.full(5, 9, f32)
        t.fill_arange(a.__dlpack__(**kw))
        assert a.tolist() == [0, 1, 2, 3, 4]
        b = np.arange(3.)
        t.scale(b.__dlpack__(**kw), 2.0)
        assert b.tolist() == [0, 2, 4]
    else:
        torch = _torch()
        x = torch.full((5,), 9.0)
        t.fill_arange(x.__dlpack__(**kw))
        assert x.tolist() == [0, 1, 2, 3, 4]
        y = torch.arange(3, dtype=torch.float64)
        t.scale(y.__dlpack__(**kw), 2.0)
        assert y.tolist() == [0, 2, 4]


def test_capsule_releases_its_source():
    # Consumed or not, once the capsule is gone the source's refcount is back.
    a = np.arange(4.)
    gc.collect()
    before = sys.getrefcount(a)
    for _ in range(50):
        c = a.__dlpack__()
        t.sum_f64(c)      # consumed: ndbind calls the deleter when done
        del c
        c = a.__dlpack__(max_version=(1, 0))
        ifa(t.pass_f32, c)  # rejected: the capsule's own destructor frees it
        del c
        c = a.__dlpack__()
        t.is_array(c)
        del c
    gc.collect()
    assert sys.getrefcount(a) == before


# --- general rules: read-only, JAX, no conversion of writable params -------

def _ro_inputs():
    return {
        "np-readonly": lambda: ro(np.arange(6.).reshape(2, 3)),
        "bytes": lambda: b"abcdef",
        "mv-readonly": lambda: memoryview(b"abcdef"),
        "mv-of-readonly-np": lambda: memoryview(ro(np.arange(6, dtype=f32))),
        "cap-versioned-ro": lambda: ro(np.arange(6.)).__dlpack__(max_version=(1, 0)),
        "jax": lambda: _jnp().arange(6.),
    }


RO_KINDS = ["np-readonly", "bytes", "mv-readonly", "mv-of-readonly-np", "cap-versioned-ro", "jax"]


@pytest.mark.parametrize("kind", RO_KINDS)
@pytest.mark.parametrize("fn,check", [
    ("shape", lambda r: r in ([2, 3], [6])),
    ("strides", lambda r: r in ([3, 1], [1])),
    ("dtype_name", lambda r: r in ("float64", "uint8", "float32")),
    ("device", lambda r: r == (1, 0)),
    ("ndim", lambda r: r in (1, 2)),
    ("size", lambda r: r == 6),
    ("itemsize", lambda r: r in (1, 4, 8)),
    ("nbytes", lambda r: r in (6, 24, 48)),
    ("order", lambda r: r == "C"),
    ("device_kind", lambda r: r == "cpu"),
    ("is_valid", lambda r: r is True),
    ("is_array", lambda r: r is True),
    ("describe", lambda r: r == "ndarray"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_readonly_arrays_accepted_by_any_array_params(kind, fn, check):
    assert check(getattr(t, fn)(_ro_inputs()[kind]()))


def _jax_for_writable():
    jnp = _jnp()
    return [
        ("pass_f32", lambda: (jnp.zeros(3, jnp.float32),)),
        ("pass_u32", lambda: (jnp.zeros(3, jnp.uint32),)),
        ("pass_bool", lambda: (jnp.zeros(3, bool),)),
        ("pass_c64", lambda: (jnp.zeros(3, jnp.complex64),)),
        ("pass_f16", lambda: (jnp.zeros(3, jnp.float16),)),
        ("pass_bf16", lambda: (jax_bf16([1, 2, 3]),)),
        ("fill_arange", lambda: (jnp.zeros(5, jnp.float32),)),
        ("fill_arange", lambda: (jnp.zeros(5, jnp.uint8),)),
        ("fill_arange", lambda: (jnp.zeros((10, 2), jnp.float32),)),
        ("double_pixels", lambda: (jnp.zeros((2, 2, 3), jnp.uint8),)),
        ("scale", lambda: (jax_f64([1, 2, 3]), 2.0)),
        ("set_first", lambda: (jax_f64([1, 2, 3]), 5.0)),
        ("add_into", lambda: (np.ones(3), np.ones(3), jax_f64([0, 0, 0]))),
    ]


WRITABLE_JAX_IDS = ["pass_f32", "pass_u32", "pass_bool", "pass_c64", "pass_f16", "pass_bf16",
                    "fill_arange-f32", "fill_arange-u8", "fill_arange-2d", "double_pixels",
                    "scale", "set_first", "add_into-out"]


@pytest.mark.parametrize("i", range(len(WRITABLE_JAX_IDS)), ids=WRITABLE_JAX_IDS)
def test_jax_rejected_by_writable_params(i):
    fn, make = _jax_for_writable()[i]
    args = make()
    snapshot = [np.array(a) for a in args if not isinstance(a, float)]
    ifa(getattr(t, fn), *args)
    assert all(np.array_equal(np.array(a), s)
               for a, s in zip([a for a in args if not isinstance(a, float)], snapshot))


def test_jax_accepted_by_readonly_params():
    jnp = _jnp()
    t.pass_f32_ro(jnp.zeros(3, jnp.float32))
    t.pass_c64_ro(jnp.zeros(3, jnp.complex64))
    t.pass_shape_3x_x4(jnp.zeros((3, 2, 4), jnp.float32))
    t.pass_c3(jnp.zeros((2, 3, 4), jnp.float32))
    assert t.sum_f64(jax_f64([1.5, 2.5, 4.0])) == 8.0
    assert t.noimplicit(jnp.asarray([[1, 2], [3, 4]], jnp.float32)) == 10.0
    out = np.zeros(2)
    t.add_into(jax_f64([1, 2]), jax_f64([10, 20]), out)
    assert out.tolist() == [11, 22]


def _readonly_for_writable():
    return [
        ("pass_f32", lambda: (ro(np.zeros(3, f32)),)),
        ("pass_u32", lambda: (ro(np.zeros(3, np.uint32)),)),
        ("pass_bool", lambda: (ro(np.zeros(3, bool)),)),
        ("pass_c64", lambda: (ro(np.zeros(3, c64)),)),
        ("pass_f16", lambda: (ro(np.zeros(3, np.float16)),)),
        ("pass_f32", lambda: (memoryview(ro(np.zeros(3, f32))),)),
        ("fill_arange", lambda: (ro(np.zeros(5, f32)),)),
        ("fill_arange", lambda: (ro(np.zeros(5, np.uint8)),)),
        ("fill_arange", lambda: (b"\x09" * 5,)),
        ("fill_arange", lambda: (memoryview(b"\x09" * 5),)),
        ("fill_arange", lambda: (memoryview(bytearray(5)).toreadonly(),)),
        ("double_pixels", lambda: (ro(np.ones((2, 2, 3), np.uint8)),)),
        ("double_pixels", lambda: (memoryview(b"\x01" * 6).cast("B", (1, 2, 3)),)),
        ("scale", lambda: (ro(np.ones(3)), 2.0)),
        ("set_first", lambda: (ro(np.ones(3)), 5.0)),
        ("set_first", lambda: (ro(np.ones(3, c128)), 5.0)),
        ("add_into", lambda: (np.ones(3), np.ones(3), ro(np.zeros(3)))),
    ]


RO_WRITABLE_IDS = ["pass_f32", "pass_u32", "pass_bool", "pass_c64", "pass_f16", "pass_f32-mv",
                   "fill_arange-f32", "fill_arange-u8", "fill_arange-bytes", "fill_arange-mv-bytes",
                   "fill_arange-mv-toreadonly", "double_pixels", "double_pixels-mv",
                   "scale", "set_first-f64", "set_first-c128", "add_into-out"]


@pytest.mark.parametrize("i", range(len(RO_WRITABLE_IDS)), ids=RO_WRITABLE_IDS)
def test_readonly_rejected_by_writable_params(i):
    fn, make = _readonly_for_writable()[i]
    args = make()
    snapshot = [bytes(memoryview(a)) for a in args if not isinstance(a, float)]
    ifa(getattr(t, fn), *args)
    assert [bytes(memoryview(a)) for a in args if not isinstance(a, float)] == snapshot


@pytest.mark.parametrize("fn,args", [
    ("pass_f32", lambda: (np.zeros(3, f64),)),
    ("pass_f32", lambda: ([1.0, 2.0],)),
    ("pass_f32", lambda: (1.0,)),
    ("pass_u32", lambda: (np.zeros(3, np.int32),)),
    ("pass_u32", lambda: (np.zeros(3, np.uint64),)),
    ("pass_bool", lambda: (np.zeros(3, np.uint8),)),
    ("pass_c64", lambda: (np.zeros(3, c128),)),
    ("pass_c64", lambda: (np.zeros(3, f32),)),
    ("pass_f16", lambda: (np.zeros(3, f32),)),
    ("pass_bf16", lambda: (np.zeros(3, np.float16),)),
    ("pass_bf16", lambda: (_torch().zeros(3, dtype=_torch().float16),)),
    ("pass_f16", lambda: (_torch().zeros(3, dtype=_torch().bfloat16),)),
    ("fill_arange", lambda: (np.full(5, 9.0),)),
    ("fill_arange", lambda: (np.full(5, 9, np.int8),)),
    ("fill_arange", lambda: (array.array("d", [9.0] * 5),)),
    ("fill_arange", lambda: (_torch().full((5,), 9.0, dtype=_torch().float64),)),
    ("scale", lambda: (np.ones(3, f32), 2.0)),
    ("set_first", lambda: (np.ones(3, f32), 5.0)),
    ("double_pixels", lambda: (np.ones((2, 2, 3), np.int16),)),
    ("add_into", lambda: (np.ones(3), np.ones(3), np.zeros(3, f32))),
], ids=["pass_f32-f64", "pass_f32-list", "pass_f32-float", "pass_u32-i32", "pass_u32-u64",
        "pass_bool-u8", "pass_c64-c128", "pass_c64-f32", "pass_f16-f32", "pass_bf16-f16",
        "pass_bf16-torch-f16", "pass_f16-torch-bf16", "fill_arange-f64", "fill_arange-i8",
        "fill_arange-array-d", "fill_arange-torch-f64", "scale-f32", "set_first-f32",
        "double_pixels-i16", "add_into-out-f32"])
def test_writable_params_never_convert(fn, args):
    args = args()
    arrays = [a for a in args if not isinstance(a, float)]
    snapshot = [_snapshot(a) for a in arrays]
    ifa(getattr(t, fn), *args)
    assert [_snapshot(a) for a in arrays] == snapshot


# --- pass_* -----------------------------------------------------------------

def _accepted_by_pass():
    torch = _torch()
    return {
        "pass_f32": [np.zeros(3, f32), np.zeros((2, 3), f32).T, np.zeros(6, f32)[::-2],
                     np.zeros((0, 2), f32), np.array(1.0, f32), torch.zeros(3),
                     array.array("f", [1, 2]), memoryview(np.zeros(3, f32)),
                     memoryview(bytearray(8)).cast("f"), DLPackOnly(np.zeros(2, f32))],
        "pass_u32": [np.zeros(3, np.uint32), torch.zeros(3, dtype=torch.uint32),
                     array.array("I", [1, 2])],
        "pass_bool": [np.zeros(3, bool), torch.zeros(3, dtype=torch.bool),
                      memoryview(np.zeros(3, bool))],
        "pass_c64": [np.zeros(3, c64), np.zeros((3, 2), c64)[::2], torch.zeros(3, dtype=torch.complex64),
                     memoryview(np.zeros(3, c64))],
        "pass_f16": [np.zeros(3, np.float16), torch.zeros(3, dtype=torch.float16),
                     memoryview(np.zeros(3, np.float16))],
        "pass_bf16": [torch.zeros(3, dtype=torch.bfloat16), torch.zeros((2, 3), dtype=torch.bfloat16).t(),
                      torch.zeros(3, dtype=torch.bfloat16).__dlpack__(max_version=(1, 0))],
        "pass_f32_ro": [np.zeros(3, f32), ro(np.zeros(3, f32)), torch.zeros(3), _jnp().zeros(3),
                        memoryview(ro(np.zeros(3, f32))), array.array("f", [1.0])],
        "pass_c64_ro": [np.zeros(3, c64), ro(np.zeros(3, c64)), torch.zeros(3, dtype=torch.complex64),
                        _jnp().zeros(3, _jnp().complex64)],
    }


PASS_FNS = ["pass_f32", "pass_u32", "pass_bool", "pass_c64", "pass_f16", "pass_bf16",
            "pass_f32_ro", "pass_c64_ro"]


@pytest.mark.parametrize("fn", PASS_FNS)
def test_pass_accepts_its_dtype(fn):
    for i, a in enumerate(_accepted_by_pass()[fn]):
        assert getattr(t, fn)(a) is None, f"input #{i}: {type(a).__name__}"


@pytest.mark.parametrize("fn,wrong", [
    ("pass_f32", [np.zeros(3, f64), np.zeros(3, np.int32), np.zeros(3, c64), np.zeros(3, np.float16)]),
    ("pass_u32", [np.zeros(3, np.int32), np.zeros(3, np.uint16), np.zeros(3, f32)]),
    ("pass_bool", [np.zeros(3, np.uint8), np.zeros(3, np.int8)]),
    ("pass_c64", [np.zeros(3, c128), np.zeros(3, f32), np.zeros(3, f64)]),
    ("pass_f16", [np.zeros(3, f32), np.zeros(3, np.int16), np.zeros(3, np.uint16)]),
    ("pass_bf16", [np.zeros(3, np.float16), np.zeros(3, np.int16), np.zeros(3, f32)]),
    ("pass_f32_ro", [np.zeros(3, f64), ro(np.zeros(3, f64)), b"abcd", [1.0], 1.0]),
    ("pass_c64_ro", [np.zeros(3, c128), ro(np.zeros(3, f32)), 1j]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_pass_rejects_other_dtypes(fn, wrong):
    for a in wrong:
        ifa(getattr(t, fn), a)


@pytest.mark.parametrize("fn,dtype", [
    ("pass_f32", "float32"), ("pass_u32", "uint32"), ("pass_bool", "bool"),
    ("pass_c64", "complex64"), ("pass_f16", "float16"), ("pass_bf16", "bfloat16"),
    ("pass_f32_ro", "float32"), ("pass_c64_ro", "complex64"),
])
def test_pass_signature_names_the_dtype(fn, dtype):
    f = getattr(t, fn)
    assert f.__doc__.startswith(fn + "(")
    assert f"dtype={dtype}" in f.__doc__
    assert f"dtype={dtype}" in ifa(f, None)


def test_pass_bf16_rejects_jax_bf16_but_dtype_name_reads_it():
    j = jax_bf16([1.0, 2.0])
    ifa(t.pass_bf16, j)
    assert t.dtype_name(j) == "bfloat16" and t.itemsize(j) == 2 and t.shape(j) == [2]


# --- pass_shape_3x_x4 ---------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: np.zeros((3, 0, 4), f32),
    lambda: np.zeros((3, 1, 4), f32),
    lambda: np.zeros((3, 5, 4), f32),
    lambda: ro(np.zeros((3, 2, 4), f32)),
    lambda: _torch().zeros(3, 2, 4),
    lambda: _jnp().zeros((3, 7, 4)),
    lambda: memoryview(bytearray(96)).cast("f", (3, 2, 4)),
], ids=["k0", "k1", "k5", "readonly", "torch", "jax", "memoryview"])
def test_pass_shape_3x_x4_accepts(make):
    assert t.pass_shape_3x_x4(make()) is None


@pytest.mark.parametrize("make", [
    lambda: np.zeros((3, 4), f32),
    lambda: np.zeros((3, 2, 5), f32),
    lambda: np.zeros((2, 2, 4), f32),
    lambda: np.zeros((4, 2, 4), f32),
    lambda: np.zeros((3, 2, 4, 1), f32),
    lambda: np.zeros((3, 2, 4), f64),
    lambda: np.zeros((3, 2, 4), np.float16),
    lambda: _jnp().zeros((4, 3, 3)),
], ids=["2d", "last5", "first2", "first4", "4d", "f64", "f16", "jax-wrong-shape"])
def test_pass_shape_3x_x4_rejects(make):
    ifa(t.pass_shape_3x_x4, make())


def test_pass_shape_3x_x4_doc_and_error_message():
    assert t.pass_shape_3x_x4.__doc__.startswith("pass_shape_3x_x4(")
    assert "shape=(3, *, 4)" in t.pass_shape_3x_x4.__doc__
    msg = ifa(t.pass_shape_3x_x4, np.zeros((3, 4), f32))
    assert "ndarray[" in msg
    assert "dtype=float32" in msg
    assert "shape=(3, *, 4)" in msg
    assert "pass_shape_3x_x4(" in msg


# --- pass_c3, pass_f2 ---------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: np.zeros((2, 3, 4), f32),
    lambda: ro(np.zeros((2, 3, 4), f32)),
    lambda: np.zeros((2, 3, 1), f32).transpose(0, 2, 1),   # size-1 axis with odd stride
    lambda: np.zeros((2, 3, 4), f32)[:, :0, ::-1],          # size-0: contiguous whatever the strides
    lambda: np.zeros((4, 3, 4), f32)[1:3],
    lambda: _torch().zeros(2, 3, 4),
    lambda: _jnp().zeros((2, 3, 4)),
    lambda: memoryview(bytearray(96)).cast("f", (2, 3, 4)),
], ids=["np", "readonly", "size1-axis", "size0", "row-slice", "torch", "jax", "memoryview"])
def test_pass_c3_accepts(make):
    assert t.pass_c3(make()) is None


@pytest.mark.parametrize("make", [
    lambda: np.asfortranarray(np.zeros((2, 3, 4), f32)),
    lambda: np.zeros((2, 3, 8), f32)[:, :, ::2],
    lambda: np.zeros((2, 3, 4), f32)[::-1],
    lambda: np.zeros((2, 3, 4), f32).transpose(1, 0, 2),
    lambda: np.zeros((2, 3), f32),
    lambda: np.zeros((2, 3, 4), f64),
    lambda: _torch().zeros(4, 3, 2).permute(2, 1, 0),
], ids=["F", "strided", "negative", "transposed", "2d", "f64", "torch-permuted"])
def test_pass_c3_rejects(make):
    ifa(t.pass_c3, make())


@pytest.mark.parametrize("make", [
    lambda: np.asfortranarray(np.zeros((3, 4), f32)),
    lambda: np.zeros((4, 3), f32).T,
    lambda: ro(np.asfortranarray(np.zeros((3, 4), f32))),
    lambda: np.zeros((5, 1), f32),                       # size-1 axis: also F
    lambda: np.zeros((1, 5), f32),                       # size-1 axis: also F
    lambda: np.zeros((0, 3), f32),
    lambda: _torch().zeros(4, 3).t(),
    lambda: _jnp().zeros((4, 1)),
], ids=["np-F", "transposed-C", "readonly", "col", "row", "size0", "torch", "jax-col"])
def test_pass_f2_accepts(make):
    assert t.pass_f2(make()) is None


@pytest.mark.parametrize("make", [
    lambda: np.zeros((3, 4), f32),
    lambda: np.asfortranarray(np.zeros((3, 8), f32))[:, ::2],
    lambda: np.asfortranarray(np.zeros((2, 3, 4), f32)),
    lambda: np.asfortranarray(np.zeros((3, 4), f64)),
    lambda: _jnp().zeros((3, 4)),
], ids=["C", "strided", "3d", "f64", "jax-C"])
def test_pass_f2_rejects(make):
    ifa(t.pass_f2, make())


# --- order, device_kind -----------------------------------------------------

@pytest.mark.parametrize("make,expected", [
    (lambda: np.zeros((3, 4)), "C"),
    (lambda: np.zeros(5), "C"),                        # 1-D: both C and F; "C" is tried first
    (lambda: np.array(1.0), "C"),
    (lambda: np.zeros((1, 4)), "C"),
    (lambda: np.zeros((4, 1)), "C"),
    (lambda: np.zeros((2, 3, 4))[:, :0, ::-1], "C"),
    (lambda: np.asfortranarray(np.zeros((3, 4))), "F"),
    (lambda: np.asfortranarray(np.zeros((2, 3, 4), np.int8)), "F"),
    (lambda: np.zeros((3, 4), f32).T, "F"),
    (lambda: ro(np.asfortranarray(np.zeros((3, 4)))), "F"),
    (lambda: np.zeros((3, 4))[:, ::2], "?"),
    (lambda: np.zeros(6)[::2], "?"),
    (lambda: np.zeros(6)[::-1], "?"),
    (lambda: np.zeros((2, 3, 4)).transpose(1, 0, 2), "?"),
    (lambda: _torch().zeros(3, 4), "C"),
    (lambda: _torch().zeros(3, 4).t(), "F"),
    (lambda: _torch().zeros(8)[::2], "?"),
    (lambda: _jnp().zeros((2, 3)), "C"),
    (lambda: memoryview(bytearray(12)).cast("B", (3, 4)), "C"),
    (lambda: memoryview(bytearray(12))[::2], "?"),
    (lambda: b"abc", "C"),
    (lambda: np.asfortranarray(np.zeros((3, 4))).__dlpack__(), "F"),
    (lambda: ro(np.asfortranarray(np.zeros((3, 4)))).__dlpack__(max_version=(1, 0)), "F"),
    (lambda: np.zeros((3, 4))[:, ::2].__dlpack__(), "?"),
], ids=["np-2d", "np-1d", "np-0d", "row", "col", "size0", "np-F", "np-F-3d", "transposed",
        "readonly-F", "strided-2d", "strided-1d", "negative", "permuted", "torch-C", "torch-F",
        "torch-strided", "jax", "mv-2d", "mv-strided", "bytes", "capsule-F", "capsule-ro-F",
        "capsule-strided"])
def test_order(make, expected):
    assert t.order(make()) == expected


@pytest.mark.parametrize("make", [
    lambda: np.zeros(3), lambda: ro(np.zeros(3)), lambda: _torch().zeros(3),
    lambda: _jnp().zeros(3), lambda: b"x", lambda: np.zeros(3).__dlpack__(),
], ids=["numpy", "readonly", "torch", "jax", "bytes", "capsule"])
def test_device_kind(make):
    assert t.device_kind(make()) == "cpu"


# --- implicit, noimplicit, make_contig ---------------------------------------

VALS = [[0.5, 1.25], [2.0, 4.0]]   # sum 7.75


@pytest.mark.parametrize("make", [
    lambda: np.array(VALS, f32),
    lambda: ro(np.array(VALS, f32)),
    lambda: np.array(VALS, f64),
    lambda: np.asfortranarray(np.array(VALS, f64)),
    lambda: np.asfortranarray(np.array(VALS, f32)),
    lambda: np.array(VALS, f32).T,
    lambda: ro(np.array(VALS, f64)),
    lambda: np.array(VALS, np.float16),
    lambda: np.array(VALS, f64)[::-1, ::-1],
    lambda: _torch().tensor(VALS, dtype=_torch().float64),
    lambda: _torch().tensor(VALS, dtype=_torch().float32).t(),
    lambda: _jnp().asarray(VALS, _jnp().float32),
    lambda: jax_f64(VALS),
], ids=["f32", "f32-ro", "f64", "f64-F", "f32-F", "f32-T", "f64-ro", "f16", "f64-neg",
        "torch-f64", "torch-f32-T", "jax-f32", "jax-f64"])
def test_implicit_converts_dtype_and_order(make):
    assert t.implicit(make()) == pytest.approx(7.75)


def test_implicit_converts_integers_and_leaves_the_caller_alone():
    a = np.array([[1, 2], [3, 4]], np.int32)
    assert t.implicit(a) == 10.0
    assert a.dtype == np.int32 and a.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("fn", ["implicit", "noimplicit"])
@pytest.mark.parametrize("make", [
    lambda: np.array(VALS, c64),
    lambda: np.array(VALS, c128),
    lambda: _torch().tensor(VALS, dtype=_torch().complex64),
    lambda: np.zeros((2, 3), f32),
    lambda: np.zeros((3, 2), f64),
    lambda: np.zeros(4, f32),
    lambda: np.zeros((2, 2, 1), f32),
    lambda: [[1.0, 2.0], [3.0, 4.0]],
    lambda: None,
], ids=["c64", "c128", "torch-c64", "f32-2x3", "f64-3x2", "f32-4", "f32-2x2x1", "list", "None"])
def test_implicit_never_converts_complex_nor_shape(fn, make):
    ifa(getattr(t, fn), make())


@pytest.mark.parametrize("make", [
    lambda: np.array(VALS, f32),
    lambda: ro(np.array(VALS, f32)),
    lambda: np.array(VALS, f32).__dlpack__(),
    lambda: _torch().tensor(VALS, dtype=_torch().float32),
    lambda: _jnp().asarray(VALS, _jnp().float32),
], ids=["f32", "f32-ro", "capsule", "torch", "jax"])
def test_noimplicit_accepts_exact_match(make):
    assert t.noimplicit(make()) == pytest.approx(7.75)


@pytest.mark.parametrize("make", [
    lambda: np.array(VALS, f64),
    lambda: np.asfortranarray(np.array(VALS, f32)),
    lambda: np.array(VALS, f32).T,
    lambda: np.array(VALS, f32)[::-1],
    lambda: np.array([[1, 2], [3, 4]], np.int32),
    lambda: _torch().tensor(VALS, dtype=_torch().float64),
    lambda: jax_f64(VALS),
], ids=["f64", "f32-F", "f32-T", "f32-neg", "i32", "torch-f64", "jax-f64"])
def test_noimplicit_rejects_what_implicit_converts(make):
    ifa(t.noimplicit, make())


@pytest.mark.parametrize("make", [
    lambda: np.zeros((2, 3), f32),
    lambda: ro(np.zeros((2, 3), f32)),
    lambda: np.array(2.0, f32),
    lambda: np.zeros((2, 3, 4), f32),
    lambda: np.zeros(0, f32),
    lambda: np.zeros((4, 3), f32)[1:3],
    lambda: _torch().zeros(2, 3),
    lambda: _jnp().zeros((2, 3)),
], ids=["2d", "readonly", "0d", "3d", "size0", "row-slice", "torch", "jax"])
def test_make_contig_returns_same_object_when_no_conversion(make):
    a = make()
    assert t.make_contig(a) is a


@pytest.mark.parametrize("make", [
    lambda: np.arange(6.).reshape(2, 3).T,
    lambda: np.arange(6, dtype=f32).reshape(2, 3).T,
    lambda: np.asfortranarray(np.arange(24, dtype=f32).reshape(2, 3, 4)),
    lambda: np.arange(10, dtype=f32)[::-3],
    lambda: np.arange(6, dtype=np.int32).reshape(3, 2),
    lambda: ro(np.arange(6.).reshape(3, 2)),
    lambda: np.array(2.5),
], ids=["f64-T", "f32-T", "f32-F-3d", "f32-neg", "i32", "f64-ro", "f64-0d"])
def test_make_contig_converts_numpy(make):
    a = make()
    r = t.make_contig(a)
    assert r is not a
    assert isinstance(r, np.ndarray)
    assert r.dtype == f32 and r.flags.c_contiguous
    assert r.shape == a.shape
    np.testing.assert_array_equal(r, a.astype(f32))
    assert not np.shares_memory(r, a)


def test_make_contig_converts_torch():
    torch = _torch()
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3).t()
    r = t.make_contig(x)
    assert r is not x
    got = np.asarray(r)
    assert got.dtype == f32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, x.numpy().astype(f32))


@pytest.mark.parametrize("make", [
    lambda: np.zeros((2, 2), c64), lambda: np.zeros(3, c128), lambda: [1.0, 2.0], lambda: None,
], ids=["c64", "c128", "list", "None"])
def test_make_contig_rejects(make):
    ifa(t.make_contig, make())


# --- fill_arange -------------------------------------------------------------

@pytest.mark.parametrize("make,view,expected", [
    (lambda: np.full(5, 9, np.uint8), None, [0, 1, 2, 3, 4]),
    (lambda: np.full(5, 9, f32), None, [0, 1, 2, 3, 4]),
    (lambda: np.full((10, 3), 9, f32), None, np.arange(30).reshape(10, 3).tolist()),
    (lambda: np.full((10, 1), 9, f32), None, np.arange(10).reshape(10, 1).tolist()),
    (lambda: np.asfortranarray(np.full((10, 3), 9, f32)), None, np.arange(30).reshape(10, 3).tolist()),
    (lambda: np.full(10, 9, f32), lambda a: a[::2], [0, 9, 1, 9, 2, 9, 3, 9, 4, 9]),
    (lambda: np.full(4, 9, np.uint8), lambda a: a[::-1], [3, 2, 1, 0]),
    (lambda: np.full((10, 4), 9, f32), lambda a: a[:, 1:3],
     [[9, 2 * i, 2 * i + 1, 9] for i in range(10)]),
], ids=["u8", "f32", "2d", "2d-col", "2d-F", "f32-strided", "u8-negative", "2d-sliced"])
def test_fill_arange_numpy(make, view, expected):
    a = make()
    t.fill_arange(a if view is None else view(a))
    assert a.tolist() == expected


def test_fill_arange_size0():
    a = np.zeros(0, f32)
    assert t.fill_arange(a) is None
    b = np.zeros((10, 0), f32)
    assert t.fill_arange(b) is None


def test_fill_arange_torch():
    torch = _torch()
    x = torch.full((5,), 9, dtype=torch.uint8)
    t.fill_arange(x)
    assert x.tolist() == [0, 1, 2, 3, 4]
    y = torch.full((10, 2), 9.0)
    t.fill_arange(y)
    assert y.flatten().tolist() == list(range(20))


def test_fill_arange_buffers():
    b = bytearray(5)
    t.fill_arange(b)
    assert b == bytearray(b"\x00\x01\x02\x03\x04")
    a = array.array("B", [9] * 5)
    t.fill_arange(a)
    assert a == array.array("B", [0, 1, 2, 3, 4])
    f = array.array("f", [9.0] * 4)
    t.fill_arange(f)
    assert f == array.array("f", [0, 1, 2, 3])
    raw = bytearray(b"\x09" * 4)
    t.fill_arange(memoryview(raw))
    assert raw == bytearray(b"\x00\x01\x02\x03")
    raw = bytearray(b"\x09" * 8)
    t.fill_arange(memoryview(raw)[::2])
    assert raw == bytearray(b"\x00\x09\x01\x09\x02\x09\x03\x09")
    raw = bytearray(40)
    t.fill_arange(memoryview(raw).cast("f", (10, 1)))
    assert np.frombuffer(raw, f32).tolist() == list(range(10))


def test_fill_arange_dlpack_object():
    a = np.full(3, 9, f32)
    t.fill_arange(DLPackOnly(a))
    assert a.tolist() == [0, 1, 2]
    b = np.full(3, 9, np.uint8)
    t.fill_arange(OldDLPack(b))     # legacy-only exporter: the legacy capsule is writable
    assert b.tolist() == [0, 1, 2]


@pytest.mark.parametrize("make", [
    lambda: np.full(5, 9, np.uint16),
    lambda: np.full((9, 3), 9, f32),
    lambda: np.full((10, 3), 9, np.uint8),
    lambda: np.full((10, 1, 1), 9, f32),
    lambda: np.array(9, f32),
    lambda: array.array("b", [9] * 5),
], ids=["u16", "2d-9rows", "2d-u8", "3d", "0d", "array-int8"])
def test_fill_arange_rejects(make):
    a = make()
    before = bytes(memoryview(a))
    ifa(t.fill_arange, a)
    assert bytes(memoryview(a)) == before


# --- double_pixels -----------------------------------------------------------

PIX = [[[0, 1, 2], [100, 127, 128]], [[200, 254, 255], [3, 4, 5]]]
PIX2 = [[[min(2 * v, 255) for v in px] for px in row] for row in PIX]


def test_double_pixels_saturates():
    a = np.array(PIX, np.uint8)
    assert t.double_pixels(a) is None
    assert a.tolist() == PIX2


def test_double_pixels_torch_and_buffer():
    torch = _torch()
    x = torch.tensor(PIX, dtype=torch.uint8)
    t.double_pixels(x)
    assert x.tolist() == PIX2
    raw = bytearray(np.array(PIX, np.uint8).tobytes())
    t.double_pixels(memoryview(raw).cast("B", (2, 2, 3)))
    assert list(raw) == np.array(PIX2).ravel().tolist()
    c = np.array(PIX, np.uint8)
    t.double_pixels(c.__dlpack__())
    assert c.tolist() == PIX2


def test_double_pixels_row_slice_and_size0():
    a = np.array(PIX + PIX, np.uint8)      # (4, 2, 3)
    t.double_pixels(a[2:])                 # still C-contiguous
    assert a.tolist() == PIX + PIX2
    t.double_pixels(np.zeros((0, 5, 3), np.uint8))


@pytest.mark.parametrize("make", [
    lambda: np.ones((2, 2, 4), np.uint8),
    lambda: np.ones((2, 3), np.uint8),
    lambda: np.ones((2, 2, 3, 1), np.uint8),
    lambda: np.asfortranarray(np.ones((2, 2, 3), np.uint8)),
    lambda: np.ones((2, 4, 3), np.uint8)[:, ::2],
    lambda: np.ones((2, 2, 3), np.uint8)[::-1],
    lambda: np.ones((2, 2, 3), np.int8),
    lambda: np.ones((2, 2, 3), f32),
], ids=["4-channels", "2d", "4d", "F", "strided", "negative", "int8", "f32"])
def test_double_pixels_rejects(make):
    a = make()
    before = a.copy()
    ifa(t.double_pixels, a)
    np.testing.assert_array_equal(a, before)


# --- sum_f64 --------------------------------------------------------------

BASE = (np.arange(24.) * 1.5 + 1).reshape(4, 6)


@pytest.mark.parametrize("view", [
    lambda b: b,
    lambda b: b.ravel()[::-1],
    lambda b: b.ravel()[17:3:-3],
    lambda b: b[:, ::-2],
    lambda b: b[::-1, ::-1],
    lambda b: b.T,
    lambda b: b[1:3, 2:5],
    lambda b: np.asfortranarray(b),
    lambda b: b.reshape(2, 3, 4)[:, ::-2, 1:],
    lambda b: b[2, 3, ...],
    lambda b: b[:0],
    lambda b: b[:, 1:1],
    lambda b: ro(b.copy()[::-2]),
], ids=["contig", "reversed", "neg-step-slice", "neg-step-cols", "both-neg", "transposed",
        "sliced", "F", "3d", "0d", "size0", "size0-cols", "readonly-neg"])
def test_sum_f64_numpy_views(view):
    v = view(BASE)
    assert t.sum_f64(v) == pytest.approx(float(v.sum()))


def test_sum_f64_size0_and_0d_values():
    assert t.sum_f64(np.zeros(0)) == 0.0
    assert t.sum_f64(np.zeros((3, 0))) == 0.0
    assert t.sum_f64(np.array(2.5)) == 2.5


def test_sum_f64_other_sources():
    torch = _torch()
    x = torch.tensor(BASE)
    assert t.sum_f64(x) == pytest.approx(BASE.sum())
    assert t.sum_f64(x.t()) == pytest.approx(BASE.sum())
    assert t.sum_f64(x[::2, 1::3]) == pytest.approx(BASE[::2, 1::3].sum())
    assert t.sum_f64(torch.tensor(4.0, dtype=torch.float64)) == 4.0
    assert t.sum_f64(jax_f64(BASE)) == pytest.approx(BASE.sum())
    assert t.sum_f64(array.array("d", [1.5, 2.5])) == 4.0
    assert t.sum_f64(memoryview(BASE[::-1, ::2])) == pytest.approx(BASE[::-1, ::2].sum())
    assert t.sum_f64(BASE[:, ::-1].__dlpack__()) == pytest.approx(BASE.sum())
    assert t.sum_f64(BASE[::2].__dlpack__(max_version=(1, 0))) == pytest.approx(BASE[::2].sum())
    assert t.sum_f64(ro(BASE.copy()).__dlpack__(max_version=(1, 0))) == pytest.approx(BASE.sum())
    assert t.sum_f64(DLPackOnly(BASE[1:])) == pytest.approx(BASE[1:].sum())


@pytest.mark.parametrize("make", [
    lambda: np.ones(3, f32), lambda: np.ones(3, np.int64), lambda: np.ones(3, c128),
    lambda: np.arange(3, dtype=">f8"), lambda: [1.0, 2.0], lambda: 1.0,
    lambda: array.array("f", [1.0]),
], ids=["f32", "i64", "c128", "big-endian", "list", "float", "array-f"])
def test_sum_f64_rejects(make):
    ifa(t.sum_f64, make())


# --- scale ------------------------------------------------------------------

@pytest.mark.parametrize("view", [
    lambda b: b,
    lambda b: b[::2],
    lambda b: b[:, ::-2],
    lambda b: b[::-1, ::-1],
    lambda b: b.T,
    lambda b: b[1:3, 2:5],
    lambda b: b.reshape(2, 3, 4)[:, ::2, 1:],
    lambda b: b[2, 3, ...],
    lambda b: b[:0],
], ids=["contig", "rows-step", "neg-step-cols", "both-neg", "transposed", "sliced", "3d",
        "0d", "size0"])
def test_scale_numpy_views_in_place(view):
    base = BASE.copy()
    expected = BASE.copy()
    view(expected)[...] *= 3.0
    assert t.scale(view(base), 3.0) is None
    np.testing.assert_array_equal(base, expected)   # untouched elements unchanged too


def test_scale_f_order_and_other_sources():
    a = np.asfortranarray(BASE.copy())
    t.scale(a, 2.0)
    np.testing.assert_array_equal(a, BASE * 2)
    torch = _torch()
    x = torch.tensor(BASE)
    t.scale(x[:, 1::2].t(), -1.0)
    expected = BASE.copy()
    expected[:, 1::2] *= -1
    np.testing.assert_array_equal(x.numpy(), expected)
    ad = array.array("d", [1.0, 2.0])
    t.scale(ad, 4.0)
    assert ad == array.array("d", [4.0, 8.0])
    raw = bytearray(np.array([1.0, 2.0, 3.0]).tobytes())
    t.scale(memoryview(raw).cast("d")[::2], 10.0)
    assert np.frombuffer(raw).tolist() == [10.0, 2.0, 30.0]


@pytest.mark.parametrize("make", [
    lambda: np.ones(3, f32), lambda: np.ones(3, np.int64), lambda: np.ones(3, c128),
    lambda: ro(np.ones(3)), lambda: b"12345678", lambda: [1.0],
], ids=["f32", "i64", "c128", "readonly", "bytes", "list"])
def test_scale_rejects(make):
    a = make()
    ifa(t.scale, a, 2.0)
    if isinstance(a, np.ndarray):
        assert a.tolist() == [1, 1, 1]


# --- add_into -------------------------------------------------------------

def test_add_into_result():
    a, b, out = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0]), np.zeros(3)
    t.add_into(a, b, out)
    assert out.tolist() == [11.0, 22.0, 33.0]
    assert a.tolist() == [1.0, 2.0, 3.0] and b.tolist() == [10.0, 20.0, 30.0]


def test_add_into_readonly_inputs_and_other_sources():
    out = np.zeros(3)
    t.add_into(ro(np.arange(3.)), ro(np.ones(3)), out)
    assert out.tolist() == [1.0, 2.0, 3.0]
    torch = _torch()
    tout = torch.zeros(3, dtype=torch.float64)
    t.add_into(np.arange(3.), torch.ones(3, dtype=torch.float64), tout)
    assert tout.tolist() == [1.0, 2.0, 3.0]
    ad = array.array("d", [0.0, 0.0])
    t.add_into(array.array("d", [1.0, 2.0]), memoryview(np.array([3.0, 4.0])), ad)
    assert ad == array.array("d", [4.0, 6.0])


def test_add_into_same_input_twice_is_fine():
    x = np.array([1.0, 2.0])
    out = np.zeros(2)
    t.add_into(x, x, out)
    assert out.tolist() == [2.0, 4.0]


def test_add_into_size0():
    out = np.zeros(0)
    t.add_into(np.zeros(0), np.zeros(0), out)


def test_add_into_non_overlapping_slices_of_one_buffer():
    buf = np.zeros(12)
    buf[:4] = [1, 2, 3, 4]
    buf[4:8] = [10, 20, 30, 40]
    t.add_into(buf[0:4], buf[4:8], buf[8:12])
    assert buf[8:].tolist() == [11, 22, 33, 44]
    assert buf[:8].tolist() == [1, 2, 3, 4, 10, 20, 30, 40]


@pytest.mark.parametrize("la,lb,lo", [(3, 4, 3), (4, 3, 3), (3, 3, 4), (3, 3, 2)])
def test_add_into_unequal_lengths(la, lb, lo):
    out = np.full(lo, -1.0)
    with pytest.raises(ValueError):
        t.add_into(np.ones(la), np.ones(lb), out)
    assert (out == -1.0).all()


def _overlap_cases():
    torch = _torch()
    cases = {}
    buf = np.arange(4.)
    cases["out-is-a"] = (buf, (buf, np.ones(4), buf))
    buf = np.arange(4.)
    cases["out-is-b"] = (buf, (np.ones(4), buf, buf))
    buf = np.arange(10.)
    cases["slices-overlap-a"] = (buf, (buf[0:5], np.ones(5), buf[3:8]))
    buf = np.arange(10.)
    cases["slices-overlap-b"] = (buf, (np.ones(5), buf[4:9], buf[0:5]))
    buf = np.arange(6.)
    cases["reversed-view"] = (buf, (np.ones(3), buf[::-1][:3], buf[3:6]))
    buf = np.arange(4.)
    cases["other-view-object"] = (buf, (buf.view(), np.ones(4), buf[:]))
    buf = np.arange(4.)
    cases["torch-out-on-numpy-a"] = (buf, (buf, np.ones(4), torch.from_numpy(buf)))
    return cases


OVERLAP_IDS = ["out-is-a", "out-is-b", "slices-overlap-a", "slices-overlap-b", "reversed-view",
               "other-view-object", "torch-out-on-numpy-a"]


@pytest.mark.parametrize("name", OVERLAP_IDS)
def test_add_into_overlap_raises_and_writes_nothing(name):
    buf, args = _overlap_cases()[name]
    before = buf.copy()
    with pytest.raises(ValueError, match="overlap"):
        t.add_into(*args)
    np.testing.assert_array_equal(buf, before)


@pytest.mark.parametrize("args", [
    lambda: (np.ones(3, f32), np.ones(3), np.zeros(3)),
    lambda: (np.ones((3, 1)), np.ones(3), np.zeros(3)),
    lambda: (np.ones(3), np.ones(3), np.zeros((3, 1))),
    lambda: (np.ones(3), np.ones(3), None),
    lambda: (np.ones(3), np.ones(3)),
], ids=["a-f32", "a-2d", "out-2d", "out-None", "missing-out"])
def test_add_into_rejects(args):
    ifa(t.add_into, *args())


# --- set_first ----------------------------------------------------------------

def test_set_first_float64():
    a = np.array([1.0, 2.0, 3.0])
    assert t.set_first(a, 5.5) is None
    assert a.tolist() == [5.5, 2.0, 3.0]


@pytest.mark.parametrize("v", [1 + 2j, 5.0], ids=["complex", "float"])
def test_set_first_complex128(v):
    # With v=5.0 the float64 overload could take v; it must still not take
    # the complex array (else a[0] would keep its imaginary part 7).
    a = np.full(3, 7 + 7j)
    t.set_first(a, v)
    assert a[0] == complex(v)
    assert a[1:].tolist() == [7 + 7j, 7 + 7j]


def test_set_first_torch_and_buffers():
    torch = _torch()
    x = torch.zeros(3, dtype=torch.float64)
    t.set_first(x, 2.0)
    assert x.tolist() == [2.0, 0.0, 0.0]
    z = torch.full((2,), 3 + 3j, dtype=torch.complex128)
    t.set_first(z, 1 + 2j)
    assert z.tolist() == [1 + 2j, 3 + 3j]
    ad = array.array("d", [0.0, 0.0])
    t.set_first(ad, 9.0)
    assert ad[0] == 9.0
    raw = bytearray(16)
    t.set_first(memoryview(raw).cast("d"), 1.5)
    assert np.frombuffer(raw).tolist() == [1.5, 0.0]


@pytest.mark.parametrize("make,v", [
    (lambda: np.zeros(3), 1 + 2j),                    # float64 array, complex value
    (lambda: np.zeros(6)[::2], 1.0),                  # not C-contiguous
    (lambda: np.zeros(6, c128)[::2], 1.0),
    (lambda: np.zeros((2, 3)), 1.0),                  # 2-D
    (lambda: np.zeros(3, f32), 1.0),
    (lambda: np.zeros(3, c64), 1.0),
    (lambda: np.zeros(3), "x"),
], ids=["f64-complex-value", "f64-strided", "c128-strided", "2d", "f32", "c64", "str-value"])
def test_set_first_rejects(make, v):
    a = make()
    before = a.copy()
    msg = ifa(t.set_first, a, v)
    np.testing.assert_array_equal(a, before)
    assert "float64" in msg and "complex128" in msg   # both overloads are listed


# --- hostile-ish inputs --------------------------------------------------------

def test_non_native_byte_order_rejected():
    for fn in (t.pass_f32, t.pass_f32_ro):
        ifa(fn, np.arange(3, dtype=">f4"))
    ifa(t.sum_f64, np.arange(3, dtype=">f8"))


def test_structured_dtype_rejected():
    a = np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])
    for fn in (t.pass_f32, t.pass_f32_ro, t.shape, t.dtype_name):
        ifa(fn, a)


def test_object_array_rejected():
    a = np.array([1.0, None, "x"], dtype=object)
    for fn in (t.pass_f32, t.shape, t.dtype_name, t.sum_f64):
        ifa(fn, a)


def test_strides_not_multiple_of_itemsize_rejected():
    raw = np.zeros(16, np.uint8)
    odd = np.lib.stride_tricks.as_strided(raw.view(f32), shape=(3,), strides=(6,))
    ifa(t.pass_f32_ro, odd)
    ifa(t.pass_f32_ro, memoryview(odd))
    assert t.is_array(odd) is False


def test_dlpack_object_that_raises_falls_back_cleanly():
    class Broken:
        def __dlpack__(self, **kw):
            raise BufferError("nope")

        def __dlpack_device__(self):
            return (1, 0)

    ifa(t.shape, Broken())
    assert t.is_array(Broken()) is False


# --- reference counts and memory ----------------------------------------------

def _leak_cases():
    torch = _torch()
    jnp = _jnp()
    f_arr = np.asfortranarray(np.zeros((3, 4)))
    shared = np.ones(3)
    return {
        "shape-np": (t.shape, (np.zeros((2, 3)),), None),
        "strides-np-T": (t.strides, (np.zeros((2, 3)).T,), None),
        "dtype_name-torch": (t.dtype_name, (torch.zeros(3),), None),
        "device-jax": (t.device, (jnp.zeros(3),), None),
        "sum_f64-neg": (t.sum_f64, (np.arange(10.)[::-2],), None),
        "sum_f64-jax": (t.sum_f64, (jax_f64([1.0, 2.0]),), None),
        "sum_f64-memoryview": (t.sum_f64, (memoryview(np.arange(4.)),), None),
        "sum_f64-bytes-rejected": (t.sum_f64, (b"12345678",), TypeError),
        "pass_f32_ro-readonly": (t.pass_f32_ro, (ro(np.zeros(3, f32)),), None),
        "pass_f32-rejected": (t.pass_f32, (np.zeros(3),), TypeError),
        "pass_f32-readonly-rejected": (t.pass_f32, (ro(np.zeros(3, f32)),), TypeError),
        "implicit-converts": (t.implicit, (np.asfortranarray(np.ones((2, 2))),), None),
        "make_contig-same": (t.make_contig, (np.zeros((2, 3), f32),), None),
        "make_contig-converts": (t.make_contig, (np.arange(6.).reshape(2, 3).T,), None),
        "order-F": (t.order, (f_arr,), None),
        "fill_arange-bytearray": (t.fill_arange, (bytearray(5),), None),
        "fill_arange-array": (t.fill_arange, (array.array("f", [0.0] * 4),), None),
        "double_pixels": (t.double_pixels, (np.zeros((2, 2, 3), np.uint8),), None),
        "scale-view": (t.scale, (np.ones((4, 4))[:, ::2], 1.0), None),
        "add_into": (t.add_into, (np.ones(3), np.ones(3), np.zeros(3)), None),
        "add_into-overlap": (t.add_into, (shared, np.ones(3), shared[:]), ValueError),
        "set_first-complex": (t.set_first, (np.zeros(2, c128), 1j), None),
        "is_array-np": (t.is_array, (np.zeros(3),), None),
        "is_array-None": (t.is_array, (None,), None),
        "is_valid-None": (t.is_valid, (None,), None),
    }


LEAK_IDS = ["shape-np", "strides-np-T", "dtype_name-torch", "device-jax", "sum_f64-neg",
            "sum_f64-jax", "sum_f64-memoryview", "sum_f64-bytes-rejected",
            "pass_f32_ro-readonly", "pass_f32-rejected", "pass_f32-readonly-rejected",
            "implicit-converts", "make_contig-same", "make_contig-converts", "order-F",
            "fill_arange-bytearray", "fill_arange-array", "double_pixels", "scale-view",
            "add_into", "add_into-overlap", "set_first-complex", "is_array-np",
            "is_array-None", "is_valid-None"]


@pytest.mark.parametrize("name", LEAK_IDS)
def test_no_reference_or_memory_leak(name, no_leak):
    fn, args, exc = _leak_cases()[name]
    if exc is None:
        fn(*args)   # the path being measured must be the success path
    else:
        with pytest.raises(exc):
            fn(*args)
    no_leak(fn, *args, n=20_000)
