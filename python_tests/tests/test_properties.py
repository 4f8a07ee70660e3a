"""Property-based tests of the import pipeline (issue 7, item 2).

Hypothesis draws a dtype (every one CONFORMANCE section 2 names), a base
array of up to 6 dimensions (extents 0..4, C or F order), a view of it
(per-axis slices with steps of either sign, a transposition) and a
read-only flag, and hands the view to ndbind as a NumPy array, a torch
tensor (``torch.from_numpy`` of positive-stride views; torch has no negative
strides) or a ``memoryview``. ndbind's view of it must agree with NumPy's
(or torch's): shape, strides in elements, ndim, size, itemsize, nbytes,
dtype name and memory order; ``sum_f64`` must equal ``x.sum()``;
``scale(x, f)`` must multiply exactly the viewed elements in place and
leave every other byte of the base untouched; writable parameters must
refuse read-only inputs without writing.

``NDBIND_HYPOTHESIS_EXAMPLES`` sets the number of examples per property
(default 500, what CI runs).
"""
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ndbind_test as t

IFA = "incompatible function arguments"
EXAMPLES = int(os.environ.get("NDBIND_HYPOTHESIS_EXAMPLES", "500"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Every dtype of CONFORMANCE section 2 that NumPy has (bfloat16: torch only).
NP_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "float16", "float32", "float64", "complex64", "complex128"]
# The writable pass_* function for a dtype, and its read-only twin if any.
PASS = {"float32": ("pass_f32", "pass_f32_ro"), "uint32": ("pass_u32", None),
        "bool": ("pass_bool", None), "complex64": ("pass_c64", "pass_c64_ro"),
        "float16": ("pass_f16", None)}


def _torch():
    return pytest.importorskip("torch")


def base_values(n, dtype):
    """n distinct-ish, exactly representable values of ``dtype``."""
    k = np.arange(n)
    if dtype == np.bool_:
        return (k % 3 == 1)
    if dtype.kind in "iu":
        return (k % 100 + 1).astype(dtype)
    if dtype.kind == "c":
        return (k * 0.5 - 3 + 1j * (k % 7)).astype(dtype)
    return (k % 512 * 0.5 - 7).astype(dtype)


@st.composite
def views(draw, dtypes=NP_DTYPES, negative=True, max_ndim=6):
    """(base, index, perm, view): ``view = base[index].transpose(perm)``."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    ndim = draw(st.integers(0, max_ndim))
    shape = draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim))
    order = draw(st.sampled_from("CF"))
    n = math.prod(shape)
    base = np.array(base_values(n, dtype).reshape(shape, order=order), order=order)
    steps = [-3, -2, -1, 1, 2, 3] if negative else [1, 2, 3]
    index = []
    for extent in shape:
        start = draw(st.one_of(st.none(), st.integers(0, extent)))
        stop = draw(st.one_of(st.none(), st.integers(0, extent)))
        step = draw(st.sampled_from(steps))
        index.append(slice(start, stop, step))
    index = tuple(index) + (Ellipsis,)  # a view even for 0-d (base[()] is a scalar)
    perm = tuple(draw(st.permutations(range(ndim))))
    view = base[index].transpose(perm)
    return base, index, perm, view


def expected_order(a):
    return "C" if a.flags.c_contiguous else "F" if a.flags.f_contiguous else "?"


def order_of(shape, strides):
    """NumPy's relaxed contiguity rules, from element strides."""
    def dense(axes):
        expect = 1
        for n, s in axes:
            if n != 1 and s != expect:
                return False
            expect *= n
        return True
    if 0 in shape:
        return "C"
    pairs = list(zip(shape, strides))
    return "C" if dense(reversed(pairs)) else "F" if dense(pairs) else "?"


def check_metadata(x, shape, byte_strides, itemsize, dtype_name, order):
    size = math.prod(shape)
    assert t.shape(x) == list(shape)
    assert t.ndim(x) == len(shape)
    assert t.size(x) == size
    assert t.itemsize(x) == itemsize
    assert t.nbytes(x) == size * itemsize
    assert t.dtype_name(x) == dtype_name
    assert t.device(x) == (1, 0)
    strides = t.strides(x)
    assert len(strides) == len(shape)
    if size > 0:  # strides of an empty array address nothing: unspecified
        assert strides == [s // itemsize for s in byte_strides]
    assert t.order(x) == order
    assert t.is_array(x) is True


# --- metadata ----------------------------------------------------------------

@SETTINGS
@given(views(), st.booleans())
def test_numpy_metadata(v, readonly):
    _, _, _, view = v
    if readonly:
        view.setflags(write=False)
    order = expected_order(view)
    if view.size:
        assert order == order_of(view.shape, [s // view.itemsize for s in view.strides])
    check_metadata(view, view.shape, view.strides, view.itemsize, view.dtype.name, order)


@SETTINGS
@given(views(), st.booleans())
def test_memoryview_metadata(v, readonly):
    _, _, _, view = v
    mv = memoryview(view)
    if readonly:
        mv = mv.toreadonly()
    check_metadata(mv, mv.shape, mv.strides, mv.itemsize, view.dtype.name,
                   expected_order(np.asarray(mv)))


@SETTINGS
@given(views(negative=False), st.booleans())
def test_torch_metadata(v, bf16):
    torch = _torch()
    base, index, perm, view = v
    if bf16:
        # bfloat16 (no NumPy equivalent): the same view of a torch copy.
        x = torch.from_numpy(np.asarray(base.real, np.float32)).to(torch.bfloat16)
        x = x[index].permute(perm) if perm else x[index]
    else:
        x = torch.from_numpy(view)
    shape = tuple(x.shape)
    item = x.element_size()
    byte_strides = [s * item for s in x.stride()]
    order = order_of(shape, list(x.stride()))
    check_metadata(x, shape, byte_strides, item, str(x.dtype).replace("torch.", ""), order)
    if not bf16:  # and torch agrees with NumPy about the view
        assert t.strides(x) == t.strides(view) or view.size == 0


# --- values: sum_f64 ---------------------------------------------------------

@SETTINGS
@given(views(dtypes=["float64"]), st.booleans())
def test_sum_f64_numpy_and_memoryview(v, readonly):
    _, _, _, view = v
    if readonly:
        view.setflags(write=False)
    want = view.sum()
    assert np.isclose(t.sum_f64(view), want, rtol=1e-12, atol=1e-12)
    assert np.isclose(t.sum_f64(memoryview(view)), want, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(views(dtypes=["float64"], negative=False))
def test_sum_f64_torch(v):
    torch = _torch()
    _, _, _, view = v
    assert np.isclose(t.sum_f64(torch.from_numpy(view)), view.sum(), rtol=1e-12, atol=1e-12)


# --- writes: scale -----------------------------------------------------------

def check_scale(v, f, wrap):
    """scale(wrap(view), f) multiplies exactly the viewed elements of the base."""
    base, index, perm, view = v
    expect = base.copy(order="K")
    target = expect[index].transpose(perm)
    target *= f
    before = base.copy(order="K")
    t.scale(wrap(view), f)
    # Bitwise: the same IEEE multiplication, and nothing else touched.
    assert np.array_equal(base.view(np.uint64), expect.view(np.uint64)), (before, base, expect)


FACTORS = st.sampled_from([2.0, -0.5, 0.0, 3.0, 1e300, -1.25])


@SETTINGS
@given(views(dtypes=["float64"]), FACTORS)
def test_scale_numpy_in_place(v, f):
    check_scale(v, f, lambda a: a)


@SETTINGS
@given(views(dtypes=["float64"]), FACTORS)
def test_scale_memoryview_in_place(v, f):
    check_scale(v, f, memoryview)


@SETTINGS
@given(views(dtypes=["float64"], negative=False), FACTORS)
def test_scale_torch_in_place(v, f):
    torch = _torch()
    check_scale(v, f, torch.from_numpy)


# --- read-only inputs --------------------------------------------------------

@SETTINGS
@given(views(), st.sampled_from(["numpy", "memoryview"]))
def test_writable_params_refuse_readonly(v, kind):
    base, _, _, view = v
    before = base.copy(order="K")
    if kind == "numpy":
        view.setflags(write=False)
        x = view
    else:
        x = memoryview(view).toreadonly()
    with pytest.raises(TypeError, match=IFA):
        t.scale(x, 2.0)
    name = view.dtype.name
    if name in PASS:
        writable, ro = PASS[name]
        with pytest.raises(TypeError, match=IFA):
            getattr(t, writable)(x)
        if ro:
            assert getattr(t, ro)(x) is None
    assert np.array_equal(base, before)
    # The writable twin is accepted.
    w = view if kind == "memoryview" else base[v[1]].transpose(v[2])
    if name == "float64":
        t.scale(w, 1.0)
    elif name in PASS:
        assert getattr(t, PASS[name][0])(w) is None


@SETTINGS
@given(views())
def test_typed_params_refuse_other_dtypes_without_consuming_capsules(v):
    """A raw capsule of any view goes where its dtype fits and nowhere else;
    a refusal leaves it usable."""
    _, _, _, view = v
    try:
        cap = view.__dlpack__()
    except (BufferError, TypeError, ValueError):
        return  # NumPy cannot export it this way (e.g. negative strides are fine; bool may not be)
    name = view.dtype.name
    if name != "float64":
        with pytest.raises(TypeError, match=IFA):
            t.sum_f64(cap)
    assert t.dtype_name(cap) == name  # consumes it
    with pytest.raises(TypeError, match=IFA):
        t.dtype_name(cap)
