"""Streams on import and ``__cuda_array_interface__`` (issue 19, item 2).

No GPU is needed: fake producers record the ``stream`` they are asked for
and hand out crafted CUDA/ROCm tensors whose data pointer is never
dereferenced; the binding reads back what it saw (address, shape, strides,
read-only, device, stream).

- ``__dlpack__``: a CUDA parameter passes the spec's default (legacy
  default stream, 1; ROCm: 0), an ``OnStream<S>`` parameter the stream
  ``S`` gives; a CPU array gets no stream (and an unconstrained parameter
  asks nothing: no ``__dlpack_device__`` call); an old producer without the
  ``stream`` keyword is retried without it only for the default stream /
  ``-1``, and is an error otherwise.
- the exchange API: the producer's ``current_work_stream`` for the device
  is the array's stream; an ``OnStream`` parameter goes through
  ``__dlpack__(stream=…)`` instead.
- ``__cuda_array_interface__`` (versions 0-3): valid, read-only, strided,
  masked (refused), bad typestr, stream; hostile properties; the producer
  is kept alive by the array and released after.
"""
import ctypes
import gc
import sys
from ctypes import POINTER, c_int, c_int32, c_int64, c_void_p

import numpy as np
import pytest

import ndbind_test as t
from dlpack_ctypes import FLOAT, DLDevice, DLTensor
from test_hostile import Forged

S = t.streams
IFA = "incompatible function arguments"
FAKE = 0x7F0000001000  # a device address: never dereferenced
CPU, CUDA, ROCM = (1, 0), (2, 0), (10, 0)


class Producer:
    """A ``__dlpack__`` producer recording the keywords it is called with."""

    def __init__(self, device=CUDA, takes_stream=True, refuse_stream=False):
        self.device = device
        self.calls = []
        self.forged = []
        self.takes_stream = takes_stream
        self.refuse_stream = refuse_stream
        self.device_calls = 0

    def __dlpack_device__(self):
        self.device_calls += 1
        return self.device

    def _export(self, max_version):
        data = "buffer" if self.device == CPU else FAKE
        f = Forged(shape=(2, 3), dtype=(FLOAT, 32, 1), data=data, device=self.device,
                   versioned=max_version is not None)
        self.forged.append(f)
        return f.capsule()


class StreamProducer(Producer):
    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        self.calls.append(("stream", stream))
        if self.refuse_stream and stream is not None:
            raise TypeError("no streams here")
        return self._export(max_version)


class OldProducer(Producer):
    """Knows neither ``stream`` nor ``max_version`` (DLPack < 0.8)."""

    def __dlpack__(self):
        self.calls.append(("bare", None))
        return self._export(None)


def streams(p):
    return [s for k, s in p.calls if k == "stream"]


# --- __dlpack__(stream=...) ----------------------------------------------------

def test_cuda_parameter_passes_the_legacy_default_stream():
    p = StreamProducer()
    addr, shape, strides, ro, dev, stream = S.cuda(p)
    assert (addr, shape, strides, dev, stream) == (FAKE, [2, 3], [3, 1], CUDA, 1)
    assert streams(p) == [1] and p.device_calls == 1
    assert [f.deletes for f in p.forged] == [1]


def test_unconstrained_parameter_asks_nothing_and_reports_the_default():
    p = StreamProducer()
    assert S.any(p)[4:] == (CUDA, 1)  # None was passed: the legacy default
    assert streams(p) == [None] and p.device_calls == 0


def test_on_stream_passes_the_binding_stream():
    p = StreamProducer(device=(2, 3))
    assert S.lib(p)[4:] == ((2, 3), 0x5003)
    assert streams(p) == [0x5003]
    p = StreamProducer()
    assert S.per_thread(p)[5] == 2 and streams(p) == [2]
    p = StreamProducer()
    assert S.no_sync(p)[5] == -1 and streams(p) == [-1]


class LyingProducer(StreamProducer):
    """Says CUDA in ``__dlpack_device__`` but hands out CPU memory."""

    def _export(self, max_version):
        f = Forged(shape=(2, 3), dtype=(FLOAT, 32, 1), data="buffer", device=CPU,
                   versioned=max_version is not None)
        self.forged.append(f)
        return f.capsule()


def test_the_capsule_not_dlpack_device_decides_the_stream():
    p = LyingProducer()
    # The stream was asked for CUDA; the memory that came is on the CPU,
    # which has no streams: none is reported.
    assert S.any_lib(p)[4:] == (CPU, None)
    assert streams(p) == [0x5000] and p.device_calls == 1

def test_rocm_default_is_zero():
    p = StreamProducer(device=ROCM)
    assert S.per_thread(p)[4:] == (ROCM, 0)  # no per-thread stream on ROCm
    assert streams(p) == [0]


def test_cpu_arrays_get_no_stream():
    p = StreamProducer(device=CPU)
    assert S.any_lib(p)[4:] == (CPU, None)
    assert streams(p) == [None] and p.device_calls == 1
    p = StreamProducer(device=CPU)
    assert S.cpu(p)[3:] == (False, CPU, None)
    assert streams(p) == [None] and p.device_calls == 0


def test_device_mismatch_refused_before_export():
    p = StreamProducer(device=CPU)
    with pytest.raises(TypeError, match=IFA):
        S.cuda(p)
    assert p.calls == [] and p.device_calls >= 1


def test_old_producer_retried_without_the_default_stream():
    p = OldProducer()
    assert S.cuda(p)[5] == 1  # same meaning: None is the legacy default
    assert p.calls == [("bare", None)]
    p = OldProducer()
    assert S.no_sync(p)[5] == 1  # -1 dropped: the producer synchronised more
    p = OldProducer()
    with pytest.raises(TypeError, match=r"refused stream=20480.*cannot synchronise"):
        S.lib(p)
    assert p.calls == [] and p.forged == []


def test_producer_refusing_a_stream_is_an_error_not_a_silent_drop():
    p = StreamProducer(refuse_stream=True)
    with pytest.raises(TypeError, match="refused stream=2"):
        S.per_thread(p)
    assert streams(p) == [2, 2]


def test_bad_dlpack_device():
    class Bad(StreamProducer):
        def __dlpack_device__(self):
            return "cuda"
    with pytest.raises(TypeError, match=r"__dlpack_device__\(\) returned str"):
        S.cuda(Bad())

    class Raises(StreamProducer):
        def __dlpack_device__(self):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        S.cuda(Raises())


def test_numpy_and_buffer_paths_have_no_stream():
    a = np.arange(6, dtype=np.float32)
    assert S.cpu(a)[5] is None and S.any(a)[5] is None
    assert S.any(memoryview(bytearray(8)))[5] is None


# --- exchange API: current_work_stream -------------------------------------------

class _Header(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("prev_api", c_void_p)]


class _API(ctypes.Structure):
    _fields_ = [("header", _Header), ("alloc", c_void_p), ("from_py", c_void_p),
                ("to_py", c_void_p), ("dltensor_from_py", c_void_p), ("current_work_stream", c_void_p)]


_DLTENSOR_FROM_PY = ctypes.PYFUNCTYPE(c_int, ctypes.py_object, POINTER(DLTensor))
_STREAM = ctypes.PYFUNCTYPE(c_int, c_int32, c_int32, POINTER(c_void_p))
_PyCapsule_New = ctypes.PYFUNCTYPE(ctypes.py_object, c_void_p, c_void_p, c_void_p)(
    ("PyCapsule_New", ctypes.pythonapi))
_SHAPE = (c_int64 * 2)(2, 3)
_QUERIES = []


@_DLTENSOR_FROM_PY
def _fill(obj, out):
    out.contents.data = FAKE
    out.contents.device = DLDevice(*obj.device)
    out.contents.ndim = 2
    out.contents.dtype.code, out.contents.dtype.bits, out.contents.dtype.lanes = FLOAT, 32, 1
    out.contents.shape = ctypes.cast(_SHAPE, POINTER(c_int64))
    out.contents.strides = None
    out.contents.byte_offset = 0
    return 0


@_STREAM
def _current(device_type, device_id, out):
    _QUERIES.append((device_type, device_id))
    out[0] = None if device_id == 1 else 0xABC00 + device_id
    return 0


_TABLE = _API(_Header(1, 3, None), None, None, None,
              ctypes.cast(_fill, c_void_p).value, ctypes.cast(_current, c_void_p).value)
_CAPSULE_NAME = ctypes.create_string_buffer(b"dlpack_exchange_api")


class Exchanging(StreamProducer):
    """An exchange-API producer with a ``__dlpack__`` fallback."""


Exchanging.__dlpack_c_exchange_api__ = _PyCapsule_New(
    ctypes.addressof(_TABLE), ctypes.addressof(_CAPSULE_NAME), None)


def test_exchange_api_current_work_stream():
    _QUERIES.clear()
    p = Exchanging(device=(2, 2))
    assert S.cuda(p)[4:] == ((2, 2), 0xABC02)
    assert _QUERIES == [(2, 2)] and p.calls == []  # no __dlpack__ call
    assert S.any(Exchanging(device=(2, 1)))[5] == 1  # NULL: the default stream
    assert S.any(Exchanging(device=(10, 1)))[5] == 0  # ROCm's NULL is 0


def test_exchange_api_with_on_stream_goes_through_dlpack():
    _QUERIES.clear()
    p = Exchanging(device=(2, 0))
    assert S.lib(p)[5] == 0x5000
    assert streams(p) == [0x5000] and _QUERIES == []


# --- __cuda_array_interface__ -----------------------------------------------------

class CAI:
    def __init__(self, **kw):
        self.iface = dict(shape=(2, 3), typestr="<f4", data=(FAKE, False), version=3)
        self.iface.update(kw)
        self.reads = 0

    @property
    def __cuda_array_interface__(self):
        self.reads += 1
        return self.iface


def test_cai_valid():
    c = CAI()
    assert S.any(c) == (FAKE, [2, 3], [3, 1], False, CUDA, None)
    assert S.cuda(c)[0] == FAKE and c.reads == 2


def test_cai_read_only_strided_and_stream():
    c = CAI(data=(FAKE, True), strides=(4, 8), stream=0x4242)
    assert S.any(c) == (FAKE, [2, 3], [1, 2], True, CUDA, 0x4242)
    with pytest.raises(TypeError, match=IFA):
        S.writable(c)
    assert S.any(CAI(version=2, stream=0x4242))[5] is None  # v2 has no stream
    assert S.any(CAI(shape=(0,), data=(0, False), typestr="|u1"))[1] == [0]
    for ts, dev in [("|b1", "bool"), ("<i8", "int64"), ("<c16", "complex128"), ("<f2", "float16")]:
        assert S.any(CAI(typestr=ts))[1] == [2, 3], dev


@pytest.mark.parametrize("kw, exc, match", [
    (dict(mask=object()), ValueError, "masked arrays"),
    (dict(typestr=">f4"), ValueError, "typestr \">f4\" is not a supported"),
    (dict(typestr="<V8"), ValueError, "not a supported dtype"),
    (dict(typestr=3), TypeError, "typestr is not a str"),
    (dict(version=4), ValueError, "version 4 is not supported"),
    (dict(shape=[2, 3]), TypeError, "shape is a list, not a tuple"),
    (dict(shape=(2, -3)), ValueError, "negative extent"),
    (dict(shape=(1,) * 65), ValueError, "at most 64"),
    (dict(shape=(2**40, 2**40)), ValueError, "invalid array"),
    (dict(shape=(2, "3")), TypeError, "holds a str, not an int"),
    (dict(data=(FAKE,)), TypeError, r"\(pointer, read_only\) pair"),
    (dict(data=(-5, False)), ValueError, "pointer is negative"),
    (dict(data=(2**70, False)), ValueError, "out of range"),
    (dict(data=(0, False)), ValueError, "invalid array"),  # NULL, not empty
    (dict(strides=(4,)), ValueError, "different lengths"),
    (dict(strides=(3, 8)), ValueError, "multiples of the item size"),
    (dict(stream=0), ValueError, "stream 0 is disallowed"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_cai_refused(kw, exc, match):
    with pytest.raises(exc, match=match):
        S.any(CAI(**kw))


def test_cai_hostile():
    class NotDict(CAI):
        __cuda_array_interface__ = property(lambda self: [1, 2])
    with pytest.raises(TypeError, match="a list, not a dict"):
        S.any(NotDict())

    class Raises(CAI):
        @property
        def __cuda_array_interface__(self):
            raise KeyError("gone")
    with pytest.raises(KeyError, match="gone"):
        S.any(Raises())
    c = CAI()
    del c.iface["version"]
    with pytest.raises(TypeError, match="'version' is missing"):
        S.any(c)
    # A CPU parameter never reads it.
    c = CAI()
    with pytest.raises(TypeError, match=IFA):
        S.cpu(c)
    assert c.reads == 0


def test_cai_owner_kept_and_released():
    c = CAI()
    before = sys.getrefcount(c)
    for _ in range(3):
        S.any(c)
    assert sys.getrefcount(c) == before
    iface = c.iface
    before = sys.getrefcount(iface)
    S.any(c)
    gc.collect()
    assert sys.getrefcount(iface) == before


def test_dlpack_preferred_over_cai():
    class Both(StreamProducer, CAI):
        def __init__(self):
            StreamProducer.__init__(self)
            CAI.__init__(self, data=(FAKE + 64, False))
    b = Both()
    assert S.any(b)[0] == FAKE and b.reads == 0
