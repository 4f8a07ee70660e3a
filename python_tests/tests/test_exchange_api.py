"""The DLPack C exchange API of ``ndbind.ndarray`` (issue 4).

``type(a).__dlpack_c_exchange_api__`` is a ``"dlpack_exchange_api"`` capsule
holding a ``DLPackExchangeAPI`` table (``dlpack.h`` 1.3). ctypes reads the
table and calls every function in it:
- the header (version 1.3, no older table) and five non-NULL functions;
- ``managed_tensor_from_py_object_no_sync``: shape, strides, dtype, device
  and data pointer of the array; one more reference to the array while the
  tensor lives, none once its deleter ran (from this thread or another);
  the buffer lives until then; READ_ONLY on read-only arrays; writes
  through the tensor's data pointer are seen by NumPy (zero copy);
- ``dltensor_from_py_object_no_sync``: the same description, no reference
  taken, shape/strides pointing into the array object; read-only arrays
  refused with BufferError (a bare DLTensor has no read-only flag);
- ``managed_tensor_to_py_object_no_sync``: a new ``ndbind.ndarray`` sharing
  the tensor's memory (read-only when flagged) whose death runs the
  deleter exactly once; invalid tensors refused with the deleter not run
  (the caller still owns them);
- ``managed_tensor_allocator``: zeroed, C-contiguous, 64-byte aligned CPU
  memory of the prototype's dtype and shape, freed by the deleter (memory
  stays flat over a loop); refusals reported once through ``SetError``;
- ``current_work_stream``: NULL for every device;
- any other object (including a class that copied the attribute onto
  itself, then handed to an ndbind function) gives TypeError, not a crash.

Functions that take Python objects are called through ``PYFUNCTYPE`` (the
GIL held, as the protocol requires); ctypes turns a failure of theirs (-1
with a Python exception set) into that exception, and their output stays
NULL. The allocator, the stream query and the deleters need no GIL: they
are called through ``CFUNCTYPE``, which releases it.
"""
import ctypes
import gc
import sys
import threading
from ctypes import POINTER, byref, c_char_p, c_int, c_int32, c_int64, c_void_p

import numpy as np
import pytest

import ndbind_test as t
from dlpack_ctypes import (
    BFLOAT, BOOL, COMPLEX, DELETER, FLOAT, INT, READ_ONLY, UINT, DLDataType, DLDevice,
    DLManagedTensorVersioned, DLPackVersion, DLTensor,
)
from conftest import rss_bytes

IFA = "incompatible function arguments"
CPU, CUDA = (1, 0), (2, 0)


# --- the exchange table (dlpack.h 1.3) --------------------------------------

class DLPackExchangeAPIHeader(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("prev_api", c_void_p)]


class DLPackExchangeAPI(ctypes.Structure):
    _fields_ = [("header", DLPackExchangeAPIHeader),
                ("managed_tensor_allocator", c_void_p),
                ("managed_tensor_from_py_object_no_sync", c_void_p),
                ("managed_tensor_to_py_object_no_sync", c_void_p),
                ("dltensor_from_py_object_no_sync", c_void_p),
                ("current_work_stream", c_void_p)]


assert ctypes.sizeof(DLPackExchangeAPI) == 56

MT_P = POINTER(DLManagedTensorVersioned)
SET_ERROR = ctypes.CFUNCTYPE(None, c_void_p, c_char_p, c_char_p)
ALLOCATOR = ctypes.CFUNCTYPE(c_int, POINTER(DLTensor), POINTER(MT_P), c_void_p, c_void_p)
FROM_PY = ctypes.PYFUNCTYPE(c_int, ctypes.py_object, POINTER(MT_P))
TO_PY = ctypes.PYFUNCTYPE(c_int, MT_P, POINTER(c_void_p))
DLTENSOR_FROM_PY = ctypes.PYFUNCTYPE(c_int, ctypes.py_object, POINTER(DLTensor))
STREAM = ctypes.CFUNCTYPE(c_int, c_int32, c_int32, POINTER(c_void_p))

# Private prototypes: never touch the shared ``ctypes.pythonapi`` attributes.
_PyCapsule_GetPointer = ctypes.PYFUNCTYPE(c_void_p, ctypes.py_object, c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))
_Py_DecRef = ctypes.PYFUNCTYPE(None, ctypes.py_object)(("Py_DecRef", ctypes.pythonapi))

ARRAY_TYPE = type(t.ret_array_api())
CAPSULE = ARRAY_TYPE.__dlpack_c_exchange_api__
API = DLPackExchangeAPI.from_address(_PyCapsule_GetPointer(CAPSULE, b"dlpack_exchange_api"))
allocator = ALLOCATOR(API.managed_tensor_allocator)
from_py = FROM_PY(API.managed_tensor_from_py_object_no_sync)
to_py_raw = TO_PY(API.managed_tensor_to_py_object_no_sync)
dltensor_from_py = DLTENSOR_FROM_PY(API.dltensor_from_py_object_no_sync)
current_work_stream = STREAM(API.current_work_stream)


def managed(obj):
    out = MT_P()
    assert from_py(obj, byref(out)) == 0
    assert out
    return out


def delete(mt):
    """Calls the tensor's deleter through CFUNCTYPE: without the GIL."""
    mt.contents.deleter(ctypes.addressof(mt.contents))


def to_py(mt):
    out = c_void_p()
    assert to_py_raw(mt, byref(out)) == 0
    obj = ctypes.cast(out.value, ctypes.py_object).value
    _Py_DecRef(obj)  # the function's new reference now belongs to `obj`
    return obj


def described(dl):
    """(data address, shape, strides, (code, bits, lanes), device) of a DLTensor."""
    n = dl.ndim
    return (dl.data + dl.byte_offset, list(dl.shape[:n]), list(dl.strides[:n]),
            (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes),
            (dl.device.device_type, dl.device.device_id))


def floats_at(address, n):
    return np.ctypeslib.as_array((ctypes.c_float * n).from_address(address))


# Foreign tensors stay alive for the whole session, so a deleter called late
# (or twice) is counted instead of touching freed memory.
_FOREIGN = []


class Foreign:
    """A versioned tensor made here over NumPy memory; its deleter counts."""

    def __init__(self, values=None, version=(1, 3), flags=0, dtype=None, ndim=None):
        self.values = np.arange(1.0, 7.0).reshape(2, 3) if values is None else values
        self.deletes = []
        self.shape = (c_int64 * 2)(*self.values.shape)
        self.deleter = DELETER(self.deletes.append)
        mt = self.mt = DLManagedTensorVersioned()
        mt.version = DLPackVersion(*version)
        mt.flags = flags
        mt.deleter = self.deleter
        mt.dl_tensor.data = self.values.ctypes.data
        mt.dl_tensor.device = DLDevice(*CPU)
        mt.dl_tensor.ndim = self.values.ndim if ndim is None else ndim
        mt.dl_tensor.dtype = DLDataType(*(dtype or (FLOAT, 64, 1)))
        mt.dl_tensor.shape = ctypes.cast(self.shape, POINTER(c_int64))
        _FOREIGN.append(self)

    def ptr(self):
        return ctypes.pointer(self.mt)

    def delete_count(self):
        assert all(p == ctypes.addressof(self.mt) for p in self.deletes)
        return len(self.deletes)


# --- the table ----------------------------------------------------------------

def test_table_is_published_on_the_type():
    assert "__dlpack_c_exchange_api__" in ARRAY_TYPE.__dict__
    assert type(t.ret_array_api_ro()).__dlpack_c_exchange_api__ is CAPSULE
    assert (API.header.version.major, API.header.version.minor) == (1, 3)
    assert API.header.prev_api is None
    for name, _ in DLPackExchangeAPI._fields_[1:]:
        assert getattr(API, name), name


# --- managed_tensor_from_py_object_no_sync ----------------------------------

def test_managed_tensor_describes_the_array_and_holds_one_reference():
    a = t.ret_array_api()
    view = np.asarray(a)
    before = sys.getrefcount(a)
    mt = managed(a)
    assert sys.getrefcount(a) == before + 1
    m = mt.contents
    assert (m.version.major, m.version.minor) == (1, 3)
    assert m.flags == 0
    assert described(m.dl_tensor) == (view.ctypes.data, [2, 4], [4, 1], (FLOAT, 32, 1), CPU)
    # Zero copy: a write through the DLPack pointer is what NumPy reads.
    floats_at(m.dl_tensor.data + m.dl_tensor.byte_offset, 8)[5] = 42.0
    assert view[1, 1] == 42.0 and np.asarray(a)[1, 1] == 42.0
    delete(mt)
    assert sys.getrefcount(a) == before


def test_managed_tensor_keeps_the_array_alive_until_deleted():
    freed = t.destruct_count()
    a = t.ret_array_api()
    mt = managed(a)
    del a
    gc.collect()
    assert t.destruct_count() == freed
    dl = mt.contents.dl_tensor
    np.testing.assert_array_equal(floats_at(dl.data + dl.byte_offset, 8), np.arange(1, 9))
    delete(mt)
    assert t.destruct_count() == freed + 1


def test_managed_tensor_deleted_from_another_thread():
    freed = t.destruct_count()
    mt = managed(t.ret_array_api())
    th = threading.Thread(target=delete, args=(mt,))
    th.start()
    th.join()
    assert t.destruct_count() == freed + 1


def test_managed_tensor_flags_and_order():
    ro = managed(t.ret_array_api_ro())
    assert ro.contents.flags & READ_ONLY
    f = managed(t.ret_array_api_f())
    assert f.contents.flags == 0
    assert described(f.contents.dl_tensor)[1:3] == ([2, 4], [1, 2])
    delete(ro)
    delete(f)


# --- dltensor_from_py_object_no_sync ----------------------------------------

def test_dltensor_is_a_borrowed_view_into_the_object():
    a = t.ret_array_api()
    view = np.asarray(a)
    before = sys.getrefcount(a)
    dl = DLTensor()
    assert dltensor_from_py(a, byref(dl)) == 0
    assert sys.getrefcount(a) == before
    mt = managed(a)
    assert described(dl) == described(mt.contents.dl_tensor)
    assert described(dl)[0] == view.ctypes.data
    delete(mt)
    # Shape and strides are lent out of the array object itself.
    for p in (dl.shape, dl.strides):
        address = ctypes.cast(p, c_void_p).value
        assert id(a) <= address < id(a) + ARRAY_TYPE.__basicsize__
    fa = t.ret_array_api_f()  # alive while its borrowed view is read
    f = DLTensor()
    assert dltensor_from_py(fa, byref(f)) == 0
    assert described(f)[1:3] == ([2, 4], [1, 2])


def test_dltensor_refuses_a_read_only_array():
    dl = DLTensor(ndim=-7)
    with pytest.raises(BufferError, match="read-only"):
        dltensor_from_py(t.ret_array_api_ro(), byref(dl))
    assert dl.ndim == -7


# --- managed_tensor_to_py_object_no_sync ------------------------------------

def test_round_trip_shares_memory_and_deletes_once():
    freed = t.destruct_count()
    a = t.ret_array_api()
    before = sys.getrefcount(a)
    b = to_py(managed(a))
    assert type(b) is ARRAY_TYPE and b is not a
    assert (b.shape, b.dtype) == ((2, 4), "float32")
    assert sys.getrefcount(a) == before + 1  # held by the tensor b owns
    nb = np.asarray(b)
    assert nb.ctypes.data == np.asarray(a).ctypes.data
    nb[0, 0] = -1.0
    assert np.asarray(a)[0, 0] == -1.0
    assert t.shape(b) == [2, 4] and t.passthrough(b) is b
    del nb, b
    gc.collect()
    assert sys.getrefcount(a) == before  # the deleter ran
    del a
    assert t.destruct_count() == freed + 1


def test_round_trip_keeps_read_only():
    b = to_py(managed(t.ret_array_api_ro()))
    assert memoryview(b).readonly and not np.asarray(b).flags.writeable
    with pytest.raises(TypeError, match=IFA):
        t.pass_f32(b)
    t.pass_f32_ro(b)


def test_foreign_tensor_deleted_exactly_once():
    f = Foreign()
    b = to_py(f.ptr())
    assert f.delete_count() == 0
    np.testing.assert_array_equal(np.asarray(b), f.values)
    assert np.asarray(b).ctypes.data == f.values.ctypes.data
    assert t.sum_f64(b) == 21.0
    del b
    gc.collect()
    assert f.delete_count() == 1


def test_foreign_read_only_tensor():
    f = Foreign(flags=READ_ONLY)
    b = to_py(f.ptr())
    assert memoryview(b).readonly
    del b
    assert f.delete_count() == 1


@pytest.mark.parametrize("kwargs", [
    {"version": (2, 0)},           # another major version: unreadable
    {"dtype": (FLOAT, 32, 4)},     # vector lanes
    {"dtype": (FLOAT, 4, 1)},      # sub-byte
    {"ndim": -1},
], ids=["major2", "lanes", "subbyte", "ndim"])
def test_invalid_tensor_is_refused_and_stays_the_callers(kwargs):
    f = Foreign(**kwargs)
    out = c_void_p()
    with pytest.raises(ValueError, match="DLPack"):
        to_py_raw(f.ptr(), byref(out))
    assert out.value is None
    assert f.delete_count() == 0  # not stolen on failure: ours to delete
    f.mt.deleter(ctypes.addressof(f.mt))
    assert f.delete_count() == 1


def test_null_arguments_are_refused():
    out = c_void_p()
    with pytest.raises(ValueError):
        to_py_raw(None, byref(out))
    with pytest.raises(ValueError):
        to_py_raw(Foreign().ptr(), None)
    with pytest.raises(ValueError):
        from_py(t.ret_array_api(), None)
    with pytest.raises(ValueError):
        dltensor_from_py(t.ret_array_api(), None)


# --- managed_tensor_allocator -----------------------------------------------

def allocate(shape, dtype=(FLOAT, 32, 1), device=CPU, with_set_error=True):
    """(return code, tensor pointer, [(kind, message)] reported)."""
    errors = []
    shape_arr = (c_int64 * max(len(shape), 1))(*shape)
    proto = DLTensor(device=DLDevice(*device), ndim=len(shape), dtype=DLDataType(*dtype),
                     shape=ctypes.cast(shape_arr, POINTER(c_int64)) if shape else None)
    cb = SET_ERROR(lambda ctx, kind, msg: errors.append((kind.decode(), msg.decode())))
    out = MT_P()
    rc = allocator(byref(proto), byref(out), None, ctypes.cast(cb, c_void_p) if with_set_error else None)
    return rc, out, errors


@pytest.mark.parametrize("shape,dtype,itemsize", [
    ((3, 5), (FLOAT, 32, 1), 4),
    ((2, 3, 4), (COMPLEX, 128, 1), 16),
    ((7,), (BOOL, 8, 1), 1),
    ((4, 4), (BFLOAT, 16, 1), 2),
    ((0, 3), (INT, 64, 1), 8),
    ((), (UINT, 16, 1), 2),
])
def test_allocator_gives_aligned_c_contiguous_zeroed_memory(shape, dtype, itemsize):
    rc, mt, errors = allocate(shape, dtype)
    assert (rc, errors) == (0, [])
    m = mt.contents
    assert (m.version.major, m.version.minor, m.flags) == (1, 3, 0)
    data, got_shape, strides, got_dtype, device = described(m.dl_tensor)
    assert m.dl_tensor.byte_offset == 0 and data % 64 == 0
    assert (got_shape, got_dtype, device) == (list(shape), dtype, CPU)
    assert strides == [int(np.prod(shape[i + 1:])) for i in range(len(shape))]  # C order
    nbytes = int(np.prod(shape)) * itemsize
    assert ctypes.string_at(data, nbytes) == bytes(nbytes)
    ctypes.memset(data, 0xAB, nbytes)  # every byte is ours to write
    delete(mt)


def test_allocated_tensor_becomes_an_ndarray():
    rc, mt, _ = allocate((2, 4))
    assert rc == 0
    b = to_py(mt)
    nb = np.asarray(b)
    assert nb.flags.c_contiguous and nb.flags.writeable and nb.dtype == np.float32
    nb[:] = 3.0
    assert t.shape(b) == [2, 4]
    del nb, b  # frees the allocation through its deleter


def test_allocator_does_not_leak():
    shape = (1024, 1024)  # 4 MiB each: 256 MiB over the loop if leaked
    for _ in range(4):
        rc, mt, _ = allocate(shape)
        ctypes.memset(mt.contents.dl_tensor.data, 1, 4 << 20)
        delete(mt)
    before = rss_bytes()
    for _ in range(64):
        rc, mt, _ = allocate(shape)
        assert rc == 0
        ctypes.memset(mt.contents.dl_tensor.data, 1, 4 << 20)  # make it resident
        delete(mt)
    assert rss_bytes() - before < 32 << 20


@pytest.mark.parametrize("shape,dtype,device,kind", [
    ((2,), (FLOAT, 32, 1), CUDA, "ValueError"),
    ((2,), (FLOAT, 32, 4), CPU, "TypeError"),
    ((2,), (99, 8, 1), CPU, "TypeError"),  # a type code DLPack does not define
    ((2, -1), (FLOAT, 32, 1), CPU, "ValueError"),
    ((1 << 40, 1 << 40), (FLOAT, 32, 1), CPU, "ValueError"),  # size overflows
    ((1 << 60,), (FLOAT, 32, 1), CPU, "MemoryError"),  # 4 EiB: no allocator has it
], ids=["cuda", "lanes", "unknown-code", "negative", "overflow", "huge"])
def test_allocator_reports_refusals_through_set_error(shape, dtype, device, kind):
    rc, mt, errors = allocate(shape, dtype, device)
    assert rc == -1 and not mt
    assert len(errors) == 1 and errors[0][0] == kind, errors
    rc, mt, errors = allocate(shape, dtype, device, with_set_error=False)
    assert rc == -1 and not mt


# --- current_work_stream ----------------------------------------------------

@pytest.mark.parametrize("device", [CPU, CUDA])
def test_current_work_stream_is_null(device):
    stream = c_void_p(0x1234)
    assert current_work_stream(*device, byref(stream)) == 0
    assert stream.value is None


# --- objects of other types -------------------------------------------------

class CopiesTheTable:
    """A plain class that copied the attribute onto itself."""
    __dlpack_c_exchange_api__ = CAPSULE


class CopiesTheTableAndDelegates(CopiesTheTable):
    def __init__(self):
        self.a = t.ret_array_api()

    def __dlpack__(self, **kw):
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


@pytest.mark.parametrize("obj", [
    1, "x", None, np.zeros(3, np.float32), memoryview(b"ab"), CopiesTheTable(),
], ids=["int", "str", "None", "numpy", "memoryview", "copier"])
def test_other_objects_give_type_error(obj):
    before = sys.getrefcount(obj)
    out = MT_P()
    with pytest.raises(TypeError, match="ndbind.ndarray"):
        from_py(obj, byref(out))
    assert not out
    dl = DLTensor(ndim=-7)
    with pytest.raises(TypeError, match="ndbind.ndarray"):
        dltensor_from_py(obj, byref(dl))
    assert dl.ndim == -7
    if obj is not None:  # None's count moves with everything else
        assert sys.getrefcount(obj) == before


def test_class_that_copied_the_table_is_refused_by_ndbind_functions():
    # ndbind's import pipeline finds the table on the class, calls it, is
    # refused, and goes on with the other routes (none applies here).
    with pytest.raises(TypeError, match=IFA):
        t.shape(CopiesTheTable())
    assert not t.is_array(CopiesTheTable())
    # With a real __dlpack__ behind it, the fallback imports the array.
    d = CopiesTheTableAndDelegates()
    assert t.shape(d) == [2, 4]
    assert t.dtype_name(d) == "float32"


def test_no_leak(no_leak):
    a = t.ret_array_api()

    def round_trip(a):
        dl = DLTensor()
        dltensor_from_py(a, byref(dl))
        to_py(managed(a))

    no_leak(round_trip, a, n=20_000)
