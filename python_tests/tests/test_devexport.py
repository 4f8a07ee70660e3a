"""Device export and device accessors (issue 19, items 1 and 3;
``ndbind_test.devexport``, beyond CONFORMANCE).

``ArrayOut::from_device`` exports memory on any DLPack device with a byte
offset, strides and an owner. The tests run on every machine with FAKE
device pointers (``0xdead0000``): ndbind must never dereference them, so
any host access would crash the test run. Checked through ctypes:
- raw capsules (legacy, and versioned with READ_ONLY for read-only
  arrays): device type and id, data pointer *without* the offset folded
  in, byte_offset, shape, strides (non-contiguous too), dtype, flags; the
  deleter runs exactly once (the owner's drop counter), whoever calls it;
- the ``ndbind.ndarray``: ``__dlpack_device__``, ``__dlpack__`` (its
  keywords; copy refused), the C exchange API; the buffer protocol,
  ``__array__``, ``numpy.asarray`` and a ``numpy.ndarray`` / ``memoryview``
  target are refused with BufferError; ``repr`` shows the device, no values;
- torch / JAX consumers on a CPU-only machine fail cleanly (no crash, the
  owner dropped once); a CuPy-style consumer (``__dlpack_device__`` then
  ``__dlpack__(stream=…, max_version=…)``) reads the right tensor;
- return policies: ``reference`` without an owner works, a policy that
  would copy device memory raises;
- CPU memory with a byte offset: NumPy, torch and the array object;
- import: ``NdArray::raw_data`` / ``byte_offset`` / ``device`` read back
  from crafted CUDA capsules (also by a ``Cuda`` parameter).
The GPU tests at the end run only where torch sees a CUDA device.
"""
import ctypes
import gc
import sys
from ctypes import POINTER, c_char_p, c_int, c_int64, c_void_p

import numpy as np
import pytest

import ndbind_test as t
from dlpack_ctypes import (
    DELETER, FLOAT, READ_ONLY, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion,
)

d = t.devexport
IFA = "incompatible function arguments"
CPU, CUDA, CUDA_HOST, ROCM, ONE_API, OPENCL = (1, 0), (2, 0), (3, 0), (10, 1), (14, 0), (4, 0)
FAKE = 0xDEAD0000
F32 = (FLOAT, 32, 1)

# Private prototypes: never touch the shared ``ctypes.pythonapi`` attributes.
_api = ctypes.pythonapi
_GetName = ctypes.PYFUNCTYPE(c_char_p, ctypes.py_object)(("PyCapsule_GetName", _api))
_GetPointer = ctypes.PYFUNCTYPE(c_void_p, ctypes.py_object, c_char_p)(("PyCapsule_GetPointer", _api))
_SetName = ctypes.PYFUNCTYPE(c_int, ctypes.py_object, c_char_p)(("PyCapsule_SetName", _api))
_CapsuleNew = ctypes.PYFUNCTYPE(ctypes.py_object, c_void_p, c_char_p, c_void_p)(("PyCapsule_New", _api))
# Capsules keep the name pointer: these live as long as the module.
USED = {b"dltensor": b"used_dltensor", b"dltensor_versioned": b"used_dltensor_versioned"}


def managed_of(cap):
    """The managed tensor of an unconsumed capsule, and whether it is versioned."""
    name = _GetName(cap)
    p = _GetPointer(cap, name)
    if name == b"dltensor_versioned":
        return DLManagedTensorVersioned.from_address(p), True
    assert name == b"dltensor"
    return DLManagedTensor.from_address(p), False


def read(cap):
    """Everything a consumer reads from a capsule (nothing at ``data``)."""
    mt, versioned = managed_of(cap)
    dl = mt.dl_tensor
    n = dl.ndim
    return {
        "versioned": versioned,
        "flags": mt.flags if versioned else None,
        "version": (mt.version.major, mt.version.minor) if versioned else None,
        "data": dl.data or 0,
        "device": (dl.device.device_type, dl.device.device_id),
        "shape": list(dl.shape[:n]),
        "strides": list(dl.strides[:n]) if dl.strides else None,
        "byte_offset": dl.byte_offset,
        "dtype": (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes),
    }


def consume_and_delete(cap):
    """What a consumer does: rename the capsule, then call the deleter (here
    through CFUNCTYPE, without the GIL)."""
    name = _GetName(cap)
    mt, _ = managed_of(cap)
    assert _SetName(cap, USED[name]) == 0
    mt.deleter(ctypes.addressof(mt))


@pytest.fixture(autouse=True)
def _owners_dropped_with_the_gil():
    """Owners are dropped with the GIL held, also when a consumer deletes
    the tensor without it (``consume_and_delete`` does)."""
    yield
    assert d.drops_without_gil() == 0


class Dropped:
    """Counts the drops of the Rust owners made by ``devexport`` functions."""

    def __init__(self):
        self.start = d.drops()

    def __call__(self):
        return d.drops() - self.start


def _torch():
    return pytest.importorskip("torch")


# --- raw capsules -----------------------------------------------------------

@pytest.mark.parametrize("device", [CUDA, (2, 3), CUDA_HOST, ROCM, ONE_API, OPENCL])
def test_capsule_describes_the_device_tensor(device):
    n = Dropped()
    cap = d.to_capsule(device, FAKE, [2, 3], byte_offset=64)
    assert _GetName(cap) == b"dltensor"
    assert read(cap) == {
        "versioned": False, "flags": None, "version": None, "data": FAKE, "device": device,
        "shape": [2, 3], "strides": [3, 1], "byte_offset": 64, "dtype": F32,
    }
    assert n() == 0
    del cap  # never consumed: the capsule's destructor deletes the tensor
    assert n() == 1


def test_read_only_capsule_is_versioned_with_the_flag():
    cap = d.to_capsule(ROCM, FAKE, [4], read_only=True, byte_offset=4)
    r = read(cap)
    assert (r["versioned"], r["flags"], r["version"][0]) == (True, READ_ONLY, 1)
    assert (r["data"], r["byte_offset"], r["device"]) == (FAKE, 4, ROCM)


@pytest.mark.parametrize("shape, strides", [
    ([2, 3], [1, 2]),        # Fortran order
    ([3, 2], [6, 2]),        # every other column of a wider array
    ([4], [-1]),             # reversed (the offset points at the last element)
    ([2, 2], [0, 1]),        # broadcast
])
def test_capsule_keeps_strides(shape, strides):
    cap = d.to_capsule(CUDA, FAKE, shape, strides=strides, byte_offset=12)
    r = read(cap)
    assert (r["shape"], r["strides"], r["byte_offset"], r["data"]) == (shape, strides, 12, FAKE)


@pytest.mark.parametrize("shape", [[0], [3, 0], [0, 5, 2]])
def test_zero_size_arrays(shape):
    n = Dropped()
    for ptr in (FAKE, 0):  # NULL data is allowed for an empty array only
        r = read(d.to_capsule(CUDA, ptr, shape))
        assert (r["shape"], r["data"]) == (shape, ptr)
    assert n() == 2


def test_invalid_extents_are_refused():
    n = Dropped()
    with pytest.raises(ValueError, match=r"invalid array on device kDLCUDA:0: .*NULL"):
        d.to_capsule(CUDA, 0, [2])
    with pytest.raises(ValueError, match="invalid array on device kDLROCM:1"):
        d.to_capsule(ROCM, 2**64 - 8, [4])  # past the end of the address space
    with pytest.raises(ValueError, match="invalid array on device"):
        d.to_capsule(CUDA, 4, [4], strides=[-1])  # below address 0
    with pytest.raises(ValueError, match="invalid array on device"):
        d.to_capsule(CUDA, FAKE, [2], byte_offset=2**64 - 1)
    with pytest.raises(ValueError, match="strides and shape differ in length"):
        d.to_capsule(CUDA, FAKE, [2, 2], strides=[1])
    with pytest.raises(ValueError, match="kDLCPU"):
        d.to_capsule(CPU, FAKE, [2])  # the test binding's own guard
    # The owners of refused arrays were dropped, once each (the last one
    # never made one).
    assert n() == 5


def test_deleter_runs_once_when_a_consumer_deletes():
    n = Dropped()
    for ro in (False, True):
        cap = d.to_capsule(CUDA, FAKE, [8], read_only=ro)
        consume_and_delete(cap)
        assert n() == (2 if ro else 1)
        del cap  # renamed: the capsule's destructor leaves it alone
        assert n() == (2 if ro else 1)


def test_python_owner_is_kept_alive_and_released():
    owner = object()
    before = sys.getrefcount(owner)
    n = Dropped()
    cap = d.to_capsule(CUDA, FAKE, [4], owner=owner)
    assert sys.getrefcount(owner) == before + 1
    consume_and_delete(cap)
    assert sys.getrefcount(owner) == before
    arr = d.to_array(CUDA, FAKE, [4], owner=owner)
    assert sys.getrefcount(owner) == before + 1
    del arr
    assert sys.getrefcount(owner) == before
    assert n() == 0  # no Rust owner involved


# --- the ndbind.ndarray object ---------------------------------------------

def test_array_object_reports_its_device():
    a = d.to_array(ROCM, FAKE, [2, 3], byte_offset=16)
    assert a.__dlpack_device__() == ROCM
    assert a.shape == (2, 3) and a.dtype == "float32"
    assert repr(a) == "ndbind.ndarray(shape=[2, 3], dtype=float32, writable=True, device=kDLROCM:1)"


def test_array_object_dlpack_keywords():
    n = Dropped()
    a = d.to_array(CUDA, FAKE, [2, 3], strides=[1, 2], byte_offset=16)
    before = sys.getrefcount(a)
    legacy = a.__dlpack__()
    versioned = a.__dlpack__(stream=None, max_version=(1, 3), dl_device=CUDA, copy=False)
    streamed = a.__dlpack__(stream=1)  # the CUDA legacy default stream
    assert sys.getrefcount(a) == before + 3  # each tensor keeps the array alive
    for cap, v in ((legacy, False), (versioned, True), (streamed, False)):
        r = read(cap)
        assert (r["versioned"], r["device"], r["data"], r["byte_offset"]) == (v, CUDA, FAKE, 16)
        assert (r["shape"], r["strides"]) == ([2, 3], [1, 2])
    assert read(versioned)["flags"] == 0
    with pytest.raises(BufferError, match=r"cannot export to device \(1, 0\)"):
        a.__dlpack__(dl_device=CPU)
    with pytest.raises(BufferError, match="never reads device memory"):
        a.__dlpack__(copy=True)
    consume_and_delete(legacy)
    del versioned, streamed, cap
    assert sys.getrefcount(a) == before
    assert n() == 0
    del a
    assert n() == 1


def test_read_only_array_object_needs_a_versioned_capsule():
    a = d.to_array(CUDA, FAKE, [3], read_only=True)
    with pytest.raises(BufferError, match="read-only"):
        a.__dlpack__()
    assert read(a.__dlpack__(max_version=(1, 0)))["flags"] == READ_ONLY


def test_host_access_is_refused():
    n = Dropped()
    a = d.to_array(CUDA, FAKE, [4])
    with pytest.raises(BufferError, match=r"on device kDLCUDA:0 \(2, 0\), not the CPU"):
        memoryview(a)
    for f in (np.asarray, np.array, lambda x: np.array(x, dtype=np.float64),
              lambda x: x.__array__(), lambda x: x.__array__(np.float32, copy=True)):
        with pytest.raises(BufferError, match="cannot become a NumPy array"):
            f(a)
    with pytest.raises((BufferError, RuntimeError)):
        np.from_dlpack(a)  # NumPy's own refusal
    del a
    assert n() == 1


def test_pinned_host_memory_is_exported_as_itself():
    # kDLCUDAHost is host-readable, but ndbind only reads kDLCPU memory: a
    # binding that wants NumPy access describes it as CPU memory itself.
    a = d.to_array(CUDA_HOST, FAKE, [4])
    assert a.__dlpack_device__() == CUDA_HOST
    with pytest.raises(BufferError):
        memoryview(a)
    with pytest.raises(BufferError, match="numpy.ndarray"):
        d.to_numpy(CUDA_HOST, FAKE, [4])


@pytest.mark.parametrize("fn, what", [("to_numpy", "numpy.ndarray"), ("to_memoryview", "memoryview")])
def test_host_targets_refuse_device_memory(fn, what):
    n = Dropped()
    with pytest.raises(BufferError, match=f"kDLCUDA:0 .* cannot be returned as a {what}: ndbind never reads"):
        getattr(d, fn)(CUDA, FAKE, [4])
    assert n() == 1


def test_exchange_api_exports_device_arrays():
    import test_exchange_api as xa
    n = Dropped()
    a = d.to_array(ONE_API, FAKE, [2, 3], strides=[1, 2], byte_offset=8)
    mt = xa.managed(a)
    dl = mt.contents.dl_tensor
    assert (dl.data, dl.byte_offset, dl.device.device_type, dl.device.device_id) == (FAKE, 8, 14, 0)
    assert (list(dl.shape[:2]), list(dl.strides[:2])) == ([2, 3], [1, 2])
    view = xa.DLTensor()
    assert xa.dltensor_from_py(a, ctypes.byref(view)) == 0
    assert (view.data, view.byte_offset, view.device.device_type) == (FAKE, 8, 14)
    xa.delete(mt)
    del a
    assert n() == 1


class CupyStyleConsumer:
    """What ``cupy.from_dlpack`` does with a producer: asks the device, then
    a versioned capsule for its stream, and takes the tensor."""

    def __init__(self, producer):
        self.device = producer.__dlpack_device__()
        stream = 1 if self.device[0] == 2 else None  # CUDA: legacy default stream
        cap = producer.__dlpack__(stream=stream, max_version=(1, 0))
        self.tensor = read(cap)
        consume_and_delete(cap)


def test_cupy_style_consumer():
    n = Dropped()
    c = CupyStyleConsumer(d.to_array((2, 1), FAKE, [5], byte_offset=20))
    assert c.device == (2, 1)
    assert (c.tensor["data"], c.tensor["byte_offset"], c.tensor["device"]) == (FAKE, 20, (2, 1))
    assert n() == 1


# --- return policies without an owner ---------------------------------------

def test_reference_policy_needs_no_owner():
    n = Dropped()
    a = d.ref_array(CUDA, FAKE, 4)
    assert a.__dlpack_device__() == CUDA and read(a.__dlpack__())["data"] == FAKE
    del a
    assert n() == 0


def test_copying_policies_refuse_device_memory():
    n = Dropped()
    with pytest.raises(BufferError, match="cannot be copied by the return policy"):
        d.auto_array(CUDA, FAKE, 4)  # automatic, nobody owns it: would copy
    with pytest.raises(BufferError, match="cannot be copied by the return policy"):
        d.copy_array(CUDA, FAKE)
    assert n() == 1  # copy_array's owner, dropped once


# --- frameworks without the device --------------------------------------------

def test_torch_refuses_fake_cuda_memory_cleanly():
    torch = _torch()
    if torch.cuda.is_available():
        pytest.skip("a real GPU: torch would accept the fake pointer")
    n = Dropped()
    with pytest.raises(RuntimeError):
        d.to_torch(CUDA, FAKE, [4])
    assert n() == 1
    cap = d.to_capsule(CUDA, FAKE, [4], byte_offset=16)
    with pytest.raises(RuntimeError):
        torch.from_dlpack(cap)
    # torch consumed the capsule before it failed, and deleted the tensor.
    del cap
    assert n() == 2
    with pytest.raises(RuntimeError):
        torch.from_dlpack(d.to_array(CUDA, FAKE, [4]))
    assert n() == 3


def test_jax_refuses_fake_cuda_memory_cleanly():
    jax = pytest.importorskip("jax")
    if any(dev.platform == "gpu" for dev in jax.devices()):
        pytest.skip("a real GPU")
    n = Dropped()
    with pytest.raises(RuntimeError):
        d.to_jax(CUDA, FAKE, [4])
    assert n() == 1


# --- CPU memory with a byte offset ------------------------------------------

def test_cpu_byte_offset():
    n = Dropped()
    assert d.cpu_offset_numpy().tolist() == [2.0, 4.0, 6.0]
    a = d.cpu_offset_array()
    r = read(a.__dlpack__())
    assert (r["byte_offset"], r["strides"], r["device"]) == (8, [2], CPU)
    view = np.asarray(a)
    assert view.tolist() == [2.0, 4.0, 6.0]
    assert view.ctypes.data == r["data"] + 8
    assert a.__array__().tolist() == [2.0, 4.0, 6.0]
    assert a.__array__("f8").dtype == np.float64
    del a, view
    assert n() == 2
    torch = _torch()
    x = d.cpu_offset_torch()
    assert x.tolist() == [2.0, 4.0, 6.0] and x.stride() == (2,)
    del x
    assert n() == 3


# --- import: accessors --------------------------------------------------------

def test_accessors_of_a_numpy_array():
    x = np.arange(6.0)[1:]
    raw, off, dev, first = d.info(x)
    assert (raw, off, dev, first) == (x.ctypes.data, 0, CPU, x.ctypes.data)
    assert type(dev) is tuple


def test_accessors_of_device_capsules():
    n = Dropped()
    assert d.info(d.to_capsule(ROCM, FAKE, [4], byte_offset=16)) == (FAKE, 16, ROCM, FAKE + 16)
    assert d.cuda_info(d.to_array((2, 1), FAKE, [2, 2], byte_offset=4)) == (FAKE, 4, (2, 1), FAKE + 4)
    with pytest.raises(TypeError, match=IFA):
        d.cuda_info(np.zeros(3))
    with pytest.raises(TypeError, match=IFA):
        d.cuda_info(d.to_capsule(ROCM, FAKE, [4]))
    gc.collect()
    assert n() == 3  # the refused capsule's tensor too


class Crafted:
    """A versioned CUDA tensor forged here (data at a fake address), in a
    ``dltensor_versioned`` capsule; its deleter counts."""

    def __init__(self, device=(2, 1), offset=64):
        self.deletes = []
        self.deleter = DELETER(self.deletes.append)
        self.shape = (c_int64 * 2)(3, 4)
        mt = self.mt = DLManagedTensorVersioned()
        mt.version = DLPackVersion(1, 0)
        mt.deleter = self.deleter
        dl = mt.dl_tensor
        dl.data, dl.byte_offset, dl.ndim = FAKE, offset, 2
        dl.device.device_type, dl.device.device_id = device
        dl.dtype.code, dl.dtype.bits, dl.dtype.lanes = F32
        dl.shape = ctypes.cast(self.shape, POINTER(c_int64))
        self.capsule = _CapsuleNew(ctypes.addressof(mt), b"dltensor_versioned", None)


_CRAFTED = []  # alive for the session: a late deleter call finds its counter


def test_crafted_cuda_capsule_into_a_cuda_parameter():
    c = Crafted()
    _CRAFTED.append(c)
    assert d.cuda_info(c.capsule) == (FAKE, 64, (2, 1), FAKE + 64)
    assert _GetName(c.capsule) == b"used_dltensor_versioned"
    assert c.deletes == [ctypes.addressof(c.mt)]  # once, when the argument was released
    rocm = Crafted(device=ROCM)
    _CRAFTED.append(rocm)
    with pytest.raises(TypeError, match=IFA):
        d.cuda_info(rocm.capsule)
    assert rocm.deletes == [] and _GetName(rocm.capsule) == b"dltensor_versioned"


# --- on a real GPU (skipped elsewhere) ------------------------------------------

def _cuda_torch():
    torch = _torch()
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (these tests have not run on real hardware yet)")
    return torch


def test_gpu_torch_roundtrip_same_pointer():
    torch = _cuda_torch()
    src = torch.arange(12.0, device="cuda").reshape(3, 4)
    before = sys.getrefcount(src)
    x = d.to_torch((2, src.device.index), src.data_ptr(), [3, 2], strides=[4, 2],
                   byte_offset=4, owner=src)
    assert x.device == src.device and x.data_ptr() == src.data_ptr() + 4
    assert x.tolist() == src[:, 1::2].tolist()
    assert sys.getrefcount(src) == before + 1
    del x
    gc.collect()
    assert sys.getrefcount(src) == before


def test_gpu_cuda_parameter_reads_torch_tensor():
    torch = _cuda_torch()
    src = torch.zeros(8, device="cuda")[2:]
    raw, off, dev, first = d.cuda_info(src)
    assert dev == (2, src.device.index) and raw + off == first == src.data_ptr()
