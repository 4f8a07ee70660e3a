"""Issue 19 items 4-6: run-time dtypes, AnyContig, Shape of any rank,
arrays kept in bound classes (StoredArray), return policies on imported
arrays (submodule ndbind_test.rtdtype)."""

import gc
import sys

import numpy as np
import pytest

from ndbind_test import rtdtype as r


# -- item 4: typed views after a run-time dtype check ----------------------

def test_view_as_checks_dtype_and_rank():
    assert r.sum2(np.arange(6, dtype=np.float32).reshape(2, 3)) == 15.0
    assert r.sum2(np.arange(6, dtype=np.float64).reshape(3, 2)[::2]) == 0 + 1 + 4 + 5
    with pytest.raises(TypeError, match="the array has dtype int64, not float64"):
        r.sum2(np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError, match=r"the array has 1 dimension\(s\), not 2"):
        r.sum2(np.zeros(3))


def test_view_as_misaligned_is_a_value_error():
    buf = np.zeros(17, np.uint8)
    a = buf[1:].view(np.float64)  # 8-byte elements at an odd address
    with pytest.raises(ValueError, match="not 8-byte aligned for float64"):
        r.sum2(a.reshape(1, 2))


def test_view_as_mut_writes_by_runtime_dtype():
    a = np.zeros(4)
    r.fill(a, 2.5)
    assert a.tolist() == [2.5] * 4
    b = np.zeros((2, 2), np.int32)
    r.fill(b, 7)
    assert b.tolist() == [[7, 7], [7, 7]]
    c = np.zeros(3, bool)
    r.fill(c, 1)
    assert c.all()


def test_view_as_mut_refuses_read_only_and_invalid_bools():
    ro = np.zeros(3)
    ro.setflags(write=False)
    with pytest.raises(TypeError):
        r.fill(ro, 1.0)
    bad = np.array([0, 2, 1], np.uint8).view(bool)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        r.fill(bad, 1)
    with pytest.raises(TypeError, match="dtype float32, not float64"):
        r.fill(np.zeros(2, np.float32), 1.0)


def test_view_as_mut_never_aliases_a_lent_view():
    a = np.zeros(4)
    with pytest.raises(ValueError):
        r.fill_while_viewed(a, a)
    assert a.tolist() == [0.0] * 4
    b = np.zeros(4)
    assert r.fill_while_viewed(a, b) == 0.0
    assert a.tolist() == [1.0] * 4


def test_views_of_one_handle_in_turn():
    a = np.array([1.0, 2.0])
    assert r.views_in_turn(a) == 3.0
    assert a.tolist() == [6.0, 2.0]


# -- ArrayOut of a run-time dtype --------------------------------------------

@pytest.mark.parametrize("name,size", [("float32", 4), ("int16", 2), ("complex128", 16), ("bool", 1)])
def test_from_bytes(name, size):
    a = r.zeros(name, 3, 3 * size)
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.dtype(name) and a.shape == (3,)
    assert a.flags.writeable and not a.any()
    assert a.ctypes.data % 64 == 0


def test_from_bytes_refuses_bad_input():
    with pytest.raises(ValueError, match=r"shape \[3\] does not match 2 elements"):
        r.zeros("float32", 3, 8)
    with pytest.raises(ValueError, match="not whole float32 elements"):
        r.zeros("float32", 2, 7)
    with pytest.raises(ValueError, match="cannot export elements of dtype"):
        r.zeros("weird", 1, 16)


def test_from_byte_owner_to_torch():
    torch = pytest.importorskip("torch")
    t = r.from_bytes_at("bool", [1, 0, 1, 1], 0, [2, 2])
    assert isinstance(t, torch.Tensor) and t.dtype == torch.bool
    assert t.tolist() == [[True, False], [True, True]]
    with pytest.raises(ValueError, match="bool elements must be the bytes 0 and 1"):
        r.from_bytes_at("bool", [1, 2], 0, [2])


def test_from_byte_owner_checks_alignment():
    with pytest.raises(ValueError, match="aligned for float64"):
        r.from_bytes_at("float64", [0] * 17, 1, [2])


def test_into_any_dtype():
    m = r.ramp(3, True)
    assert isinstance(m, memoryview) and m.format == "d" and m.tolist() == [0.0, 1.0, 2.0]
    assert r.ramp(2, False).format == "f"
    assert "memoryview" in r.ramp.__doc__


# -- AnyContig and Shape of any rank ------------------------------------------

def test_any_contig():
    c = np.zeros((3, 4))
    assert r.contig_nbytes(c) == 96
    assert r.contig_nbytes(np.asfortranarray(c)) == 96
    with pytest.raises(TypeError, match="incompatible function arguments"):
        r.contig_nbytes(c[:, ::2])
    assert "order='A'" in r.contig_nbytes.__doc__
    # A conversion, where allowed, copies to a contiguous array.
    assert r.contig_nbytes_conv(c[:, ::2]) == 48


def test_any_contig_mismatch_reason():
    with pytest.raises(TypeError, match="not C- or F-contiguous"):
        r.contig_nbytes(np.zeros((3, 4))[:, ::2])


def test_shape_of_rank_six():
    assert r.rank6(np.zeros((2, 5, 1, 1, 1, 3), np.uint8)) == 6
    for bad in [(2, 5, 1, 1, 1, 4), (2, 5, 1, 1, 3), (3, 5, 1, 1, 1, 3)]:
        with pytest.raises(TypeError):
            r.rank6(np.zeros(bad, np.uint8))
    assert "shape=(2, *, 1, 1, 1, 3)" in r.rank6.__doc__


# -- item 5: arrays kept in bound classes ------------------------------------

def test_keeper_round_trip_and_refcounts():
    a = np.arange(4.0)
    before = sys.getrefcount(a)
    k = r.Keeper()
    k.store(a)
    assert sys.getrefcount(a) == before + 1
    assert k.array() is a
    assert k.total() == 6.0
    del k
    gc.collect()
    assert sys.getrefcount(a) == before


def test_keeper_take():
    a = np.arange(3.0)
    k = r.Keeper()
    k.store(a)
    assert k.take() is a
    assert k.take() is None and k.array() is None


def test_keeper_dropped_without_the_gil():
    a = np.arange(3.0)
    before = sys.getrefcount(a)
    k = r.Keeper()
    k.store(a)
    assert k.drop_without_gil()
    assert sys.getrefcount(a) == before
    assert not k.drop_without_gil()


def test_keeper_refuses_access_without_the_gil():
    a = np.arange(3.0)
    k = r.Keeper()
    k.store(a)
    assert k.get_without_gil() == "refused"
    assert k.array() is a


class _Buf(bytearray):
    """A buffer exporter with a __dict__ (can point back at the keeper)."""


def test_cycle_through_the_array_is_collected():
    import weakref
    b = _Buf(16)
    k = r.Keeper()
    k.store(b)  # buffer-protocol import: the view and the source are held
    b.keeper = k
    wb = weakref.ref(b)
    del b, k
    gc.collect()
    assert wb() is None


# -- item 6: return policies on imported arrays ------------------------------

def test_copy_policy_numpy():
    a = np.arange(4.0)
    c = r.copy_of(a)
    assert type(c) is np.ndarray and c is not a and c.tolist() == a.tolist()
    c[0] = 9
    assert a[0] == 0
    assert r.same(a) is a


def test_copy_of_read_only_is_writable():
    a = np.arange(3.0)
    a.setflags(write=False)
    c = r.copy_of(a)
    assert c.flags.writeable and c.tolist() == [0.0, 1.0, 2.0]


def test_copy_policy_torch():
    torch = pytest.importorskip("torch")
    t = torch.arange(4.0)
    c = r.copy_of(t)
    assert isinstance(c, torch.Tensor) and c.data_ptr() != t.data_ptr()
    assert c.tolist() == t.tolist()


def test_copy_policy_buffer_and_capsule():
    b = bytearray(b"\x01\x02\x03")
    m = r.copy_of(b)
    assert isinstance(m, memoryview) and bytes(m) == b"\x01\x02\x03" and not m.readonly
    cap = np.arange(3.0).__dlpack__()
    c = r.copy_of(cap)
    assert type(c).__name__ == "PyCapsule"
    assert np.from_dlpack(_Holder(c)).tolist() == [0.0, 1.0, 2.0]


class _Holder:
    def __init__(self, cap):
        self.cap = cap

    def __dlpack__(self, **kw):
        return self.cap

    def __dlpack_device__(self):
        return (1, 0)


def test_copy_policy_jax_returns_the_immutable_array():
    jnp = pytest.importorskip("jax.numpy")
    x = jnp.arange(3.0)
    assert r.copy_of(x) is x


def test_copy_policy_of_a_stored_array():
    a = np.arange(2.0)
    c = r.stored_copy(a)
    assert c is not a and c.tolist() == [0.0, 1.0]
    k = r.Keeper()
    k.store(a)
    c = k.take_copy()
    assert c is not a and c.tolist() == [0.0, 1.0]


def test_reference_internal_on_an_imported_array_raises():
    a = np.arange(2.0)
    with pytest.raises(RuntimeError, match="reference_internal cannot apply to an imported array"):
        r.same_internal(a)
    with pytest.raises(RuntimeError, match="reference_internal"):
        r.Keeper().same_internal(a)
