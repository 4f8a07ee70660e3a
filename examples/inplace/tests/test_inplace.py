import array

import numpy as np
import pytest

import inplace


def test_scale_writes_into_the_callers_numpy_array():
    a = np.arange(6.0).reshape(2, 3)
    before = a.ctypes.data
    assert inplace.scale(a, 2.0) is None
    assert a.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert a.ctypes.data == before  # the same memory, written in place


def test_scale_follows_strides():
    a = np.arange(8.0)
    inplace.scale(a[::-2], 10.0)  # every other element, backwards
    assert a.tolist() == [0.0, 10.0, 2.0, 30.0, 4.0, 50.0, 6.0, 70.0]


def test_clip_writes_into_a_torch_tensor():
    torch = pytest.importorskip("torch")
    t = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    ptr = t.data_ptr()
    inplace.clip(t, 0.0, 1.0)
    assert t.tolist() == [0.0, 0.5, 1.0] and t.data_ptr() == ptr


def test_writes_reach_buffers_and_views_of_other_objects():
    buf = array.array("d", [1.0, 2.0, 3.0])
    inplace.scale(buf, -1.0)
    assert buf.tolist() == [-1.0, -2.0, -3.0]
    base = np.zeros(4)
    view = base[1:3]
    inplace.axpy(3.0, np.array([1.0, 2.0]), view)
    assert base.tolist() == [0.0, 3.0, 6.0, 0.0]


def test_axpy():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([10.0, 20.0, 30.0])
    inplace.axpy(0.5, x, y)
    assert y.tolist() == [10.5, 21.0, 31.5]
    assert x.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="axpy: x has 3 elements, y has 2"):
        inplace.axpy(1.0, x, y[:2])


def test_read_only_arrays_are_refused():
    ro = np.ones(3)
    ro.setflags(write=False)
    for call in (
        lambda: inplace.scale(ro, 2.0),
        lambda: inplace.clip(ro, 0.0, 0.5),
        lambda: inplace.axpy(1.0, np.ones(3), ro),
        lambda: inplace.scale(b"\0" * 24, 2.0),  # bytes are read-only too
    ):
        with pytest.raises(TypeError, match="incompatible function arguments"):
            call()
    assert ro.tolist() == [1.0, 1.0, 1.0]
    assert "writable=True" in inplace.scale.__doc__.splitlines()[0]


def test_wrong_dtype_is_refused_not_converted():
    a = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match=r"scale\(\): incompatible function arguments"):
        inplace.scale(a, 2.0)
    assert a.tolist() == [1.0, 1.0, 1.0]  # no converted copy was written


def test_aliased_arguments_are_refused():
    y = np.arange(4.0)
    with pytest.raises(ValueError, match="overlap in memory"):
        inplace.axpy(1.0, y, y)
    with pytest.raises(ValueError, match="overlap in memory"):
        inplace.axpy(1.0, y[1:], y[:3])  # partial overlap
    assert y.tolist() == [0.0, 1.0, 2.0, 3.0]
    # Interleaved but disjoint elements do not overlap: allowed.
    inplace.axpy(1.0, y[::2], y[1::2])
    assert y.tolist() == [0.0, 1.0, 2.0, 5.0]


def test_self_overlapping_writable_array_is_refused():
    # Four elements at one address (a stride of 0), writable: a `&mut [f64]`
    # over it would alias itself.
    b = np.lib.stride_tricks.as_strided(np.zeros(1), (4,), (0,))
    with pytest.raises(ValueError, match="share memory"):
        inplace.scale(b, 2.0)


def test_clip_checks_its_bounds():
    a = np.ones(2)
    with pytest.raises(ValueError, match=r"clip: need lo <= hi \(got lo=1, hi=0\)"):
        inplace.clip(a, 1.0, 0.0)
    with pytest.raises(ValueError, match="got lo=NaN"):
        inplace.clip(a, float("nan"), 0.0)
    assert a.tolist() == [1.0, 1.0]
