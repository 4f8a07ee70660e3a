"""CONFORMANCE section 3: array returns (the export pipeline).

Checked here, as a user of ``ndbind_test`` relies on it:
- every ``ret_*`` function returns the promised type, dtype, shape, memory
  order, values and writability, and its ``__doc__`` shows the signature;
- the data is never copied: writes through one consumer of a Rust buffer are
  seen through another consumer of the very same buffer (NumPy, torch, the
  buffer protocol), JAX views share the data pointer, and bench arrays are
  64-byte aligned;
- ownership: ``destruct_count()`` rises by exactly one when the *last*
  consumer of a Rust-owned buffer lets go (NumPy, torch, JAX, memoryview,
  ndbind array objects, raw capsules consumed or not, chains of consumers
  freed in every order, and from another thread), never while one lives;
- the ``__dlpack__``/``__dlpack_device__``/buffer protocols of the ndbind
  array object (keyword-only arguments, versioned vs legacy capsules,
  ``copy=True`` flagged IS_COPIED, device and stream checks);
- ``passthrough`` returns the same object, ``passthrough_copy`` other memory;
- reference counts and memory stay flat over many calls, and every counted
  buffer made in those loops is freed.
"""
import ctypes
import gc
import itertools
import os
import threading
import time

import numpy as np
import pytest

import ndbind_test as t

EXPECTED = np.arange(1, 9, dtype=np.float64).reshape(2, 4)
EXPECTED_F = np.array([[1, 3, 5, 7], [2, 4, 6, 8]], dtype=np.float64)

# Every ret_* buffer except ret_empty and ret_scalar is Rust-owned and counted.
COUNTED = [
    "ret_numpy", "ret_numpy_f", "ret_numpy_ro", "ret_torch", "ret_jax", "ret_memview",
    "ret_array_api", "ret_capsule", "ret_f16", "ret_c128", "ret_bf16_torch",
]
UNCOUNTED = ["ret_empty", "ret_scalar"]

DLPACK_FLAG_READ_ONLY = 1 << 0
DLPACK_FLAG_IS_COPIED = 1 << 1


# --- helpers ----------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed in this environment")


def _jax():
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    jax = pytest.importorskip("jax", reason="JAX is not installed in this environment")
    import jax.dlpack  # noqa: F401
    return jax


@pytest.fixture(autouse=True)
def _no_automatic_gc():
    """No collection at random points inside a test (a full collection costs
    ~0.1 s with torch and JAX loaded; the tests collect where they need to)."""
    gc.disable()
    yield
    gc.enable()


def count():
    return t.destruct_count()


def wait_count(expected, timeout=2.0):
    """destruct_count() once it reaches ``expected`` -- after a collection
    and, as JAX may free asynchronously, polling -- or after ``timeout`` s."""
    now = t.destruct_count()
    if now >= expected:
        return now
    gc.collect()
    deadline = time.monotonic() + timeout
    while True:
        now = t.destruct_count()
        if now >= expected or time.monotonic() > deadline:
            return now
        time.sleep(0.005)


def quiet_count(timeout=1.0):
    """destruct_count() once earlier releases are done: after a collection,
    when two reads 10 ms apart agree (JAX frees on its own threads, and a
    free-threaded CPython may free an object another thread released only
    when its owner thread next runs)."""
    gc.collect()
    deadline = time.monotonic() + timeout
    now = t.destruct_count()
    while time.monotonic() < deadline:
        time.sleep(0.01)
        again = t.destruct_count()
        if again == now:
            break
        now = again
    return now


def settle(jaxy):
    """destruct_count(), after giving an asynchronous (JAX) release the
    chance to happen (too early)."""
    if jaxy:
        time.sleep(0.02)
    return t.destruct_count()


class Shim:
    """An object whose ``__dlpack__`` hands out a fixed capsule."""

    def __init__(self, cap):
        self.cap = cap

    def __dlpack__(self, **kwargs):
        cap, self.cap = self.cap, None
        return cap

    def __dlpack_device__(self):
        return (1, 0)


_api = ctypes.pythonapi
_api.PyCapsule_GetName.restype = ctypes.c_char_p
_api.PyCapsule_GetName.argtypes = [ctypes.py_object]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyObject_GetBuffer.restype = ctypes.c_int
_api.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_int]
_api.PyBuffer_Release.restype = None
_api.PyBuffer_Release.argtypes = [ctypes.c_void_p]

PyBUF_WRITABLE = 0x0001
PyBUF_FORMAT = 0x0004
PyBUF_ND = 0x0008
PyBUF_STRIDES = 0x0010 | PyBUF_ND
PyBUF_C_CONTIGUOUS = 0x0020 | PyBUF_STRIDES


def capsule_name(cap):
    return _api.PyCapsule_GetName(cap).decode()


def versioned_header(cap):
    """(major, minor, flags) of a ``dltensor_versioned`` capsule.

    DLManagedTensorVersioned: {uint32 major, uint32 minor}, void *manager_ctx,
    void (*deleter)(...), uint64 flags, DLTensor dl_tensor.
    """
    p = _api.PyCapsule_GetPointer(cap, b"dltensor_versioned")
    major = ctypes.c_uint32.from_address(p).value
    minor = ctypes.c_uint32.from_address(p + 4).value
    flags = ctypes.c_uint64.from_address(p + 24).value
    return major, minor, flags


def get_buffer(obj, flags):
    """PyObject_GetBuffer(obj, flags) from C; raises what the exporter raises."""
    view = ctypes.create_string_buffer(256)  # larger than any Py_buffer
    _api.PyObject_GetBuffer(obj, view, flags)
    _api.PyBuffer_Release(view)


def data_range(x):
    """[start, end) byte range of a NumPy array's data."""
    return np.lib.array_utils.byte_bounds(x)


# --- types, dtypes, shapes, values, writability ----------------------------

@pytest.mark.parametrize("name,dtype", [
    ("ret_numpy", np.float32), ("ret_f16", np.float16), ("ret_c128", np.complex128),
])
def test_numpy_c_order_returns(name, dtype):
    a = getattr(t, name)()
    assert type(a) is np.ndarray
    assert a.dtype == dtype and a.shape == (2, 4)
    assert a.flags.c_contiguous and a.flags.writeable
    assert a.flags.aligned
    np.testing.assert_array_equal(a, EXPECTED.astype(dtype))
    # Zero copy from Rust: NumPy does not own the data.
    assert not a.flags.owndata
    a[1, 3] = 80
    assert a[1, 3] == 80


def test_ret_numpy_f():
    a = t.ret_numpy_f()
    assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (2, 4)
    assert a.flags.f_contiguous and not a.flags.c_contiguous
    assert a.strides == (4, 8)
    assert a.flags.writeable
    np.testing.assert_array_equal(a, EXPECTED_F)


def test_ret_numpy_ro():
    a = t.ret_numpy_ro()
    assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (2, 4)
    np.testing.assert_array_equal(a, EXPECTED)
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 42
    with pytest.raises(ValueError):
        a.setflags(write=True)
    assert memoryview(a).readonly
    np.testing.assert_array_equal(a, EXPECTED)
    assert "writable=False" in t.ret_numpy_ro.__doc__


def test_read_only_array_object_refuses_writable_buffer():
    """A read-only ndbind array object's buffer protocol refuses a writable
    request (and a legacy DLPack export, which has no read-only flag)."""
    a = t.ret_array_api_ro()
    assert memoryview(a).readonly
    with pytest.raises(BufferError):
        get_buffer(a, PyBUF_WRITABLE)
    get_buffer(a, PyBUF_STRIDES | PyBUF_FORMAT)  # a read-only request is fine
    with pytest.raises(BufferError):
        a.__dlpack__()
    n = np.from_dlpack(a)
    assert not n.flags.writeable


def test_f_ordered_array_object_refuses_c_contiguous_request():
    a = t.ret_array_api_f()
    with pytest.raises(BufferError):
        get_buffer(a, PyBUF_C_CONTIGUOUS)
    m = memoryview(a)
    assert m.f_contiguous and not m.c_contiguous and m.strides == (4, 8)
    np.testing.assert_array_equal(np.asarray(m), [[1, 3, 5, 7], [2, 4, 6, 8]])


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_ret_numpy_n(n):
    a = t.ret_numpy_n(n)
    assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (n,)
    assert a.flags.writeable and not a.flags.owndata
    np.testing.assert_array_equal(a, np.arange(n, dtype=np.float32))


def test_ret_numpy_n_distinct_buffers_shared_views():
    a, b = t.ret_numpy_n(64), t.ret_numpy_n(64)
    assert a.ctypes.data != b.ctypes.data
    assert not np.shares_memory(a, b)
    v = a[10:20][::3]
    assert np.shares_memory(a, v)
    v[1] = -1
    assert a[13] == -1 and b[13] == 13


def test_ret_torch():
    torch = _torch()
    x = t.ret_torch()
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.float32 and tuple(x.shape) == (2, 4)
    assert x.device.type == "cpu" and x.is_contiguous()
    assert not x.requires_grad
    np.testing.assert_array_equal(x.numpy(), EXPECTED)
    x[0, 0] = 42  # writable
    assert x[0, 0].item() == 42


def test_ret_bf16_torch():
    torch = _torch()
    x = t.ret_bf16_torch()
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.bfloat16 and tuple(x.shape) == (2, 4)
    np.testing.assert_array_equal(x.float().numpy(), EXPECTED)


def test_ret_jax():
    jax = _jax()
    x = t.ret_jax()
    assert isinstance(x, jax.Array)
    assert x.dtype == np.float32 and x.shape == (2, 4)
    assert x.devices() == {jax.devices("cpu")[0]}
    np.testing.assert_array_equal(np.asarray(x), EXPECTED)
    assert float((x * 2).sum()) == 72.0


@pytest.mark.parametrize("fn, dtype", [("ret_jax", np.float32), ("ret_jax_i8", np.int8), ("ret_jax_f64", None)])
def test_ret_jax_is_what_jax_dlpack_from_dlpack_makes(fn, dtype):
    # ndbind calls jaxlib's converter directly (dtypes JAX keeps as they are)
    # or jax.dlpack.from_dlpack (64-bit dtypes, which JAX canonicalises):
    # either way the result is the array from_dlpack makes of the same data.
    jax = _jax()
    import jax.numpy as jnp
    x = getattr(t, fn)()
    ref = jax.dlpack.from_dlpack(np.arange(1, 9, dtype=dtype or np.float64).reshape(2, 4))
    assert type(x) is type(ref)
    assert x.dtype == ref.dtype and x.shape == ref.shape == (2, 4)
    assert x.sharding == ref.sharding and x.committed == ref.committed and x.weak_type == ref.weak_type
    np.testing.assert_array_equal(np.asarray(x), np.asarray(ref))
    assert jnp.array_equal(x + 1, ref + 1)
    if dtype is None:
        assert x.dtype == (np.float64 if jax.config.jax_enable_x64 else np.float32)


def test_ret_jax_frees_its_buffer_once():
    _jax()
    before = t.destruct_count()
    xs = [t.ret_jax() for _ in range(50)] + [t.ret_jax_i8() for _ in range(50)]
    assert t.destruct_count() == before
    del xs
    assert wait_count(before + 100) == before + 100
    assert settle(True) == before + 100


def test_ret_memview():
    m = t.ret_memview()
    assert type(m) is memoryview
    assert m.format == "d" and m.itemsize == 8
    assert m.shape == (2, 4) and m.strides == (32, 8)
    assert m.readonly is False
    assert m.tolist() == EXPECTED.tolist()
    m[1, 2] = 42.0
    assert m[1, 2] == 42.0
    assert np.asarray(m)[1, 2] == 42.0


def test_ret_array_api():
    a = t.ret_array_api()
    assert hasattr(a, "__dlpack__") and hasattr(a, "__dlpack_device__")
    assert a.__dlpack_device__() == (1, 0)
    m = memoryview(a)
    assert m.format == "f" and m.shape == (2, 4) and m.strides == (16, 4)
    assert m.readonly is False
    assert m.tolist() == EXPECTED.tolist()
    n = np.from_dlpack(a)
    assert n.dtype == np.float32 and n.shape == (2, 4) and n.flags.writeable
    np.testing.assert_array_equal(n, EXPECTED)


def test_ret_capsule():
    cap = t.ret_capsule()
    assert type(cap).__name__ == "PyCapsule"
    assert capsule_name(cap) in ("dltensor", "dltensor_versioned")
    n = np.from_dlpack(Shim(cap))
    assert n.dtype == np.float32 and n.shape == (2, 4)
    np.testing.assert_array_equal(n, EXPECTED)
    assert capsule_name(cap).startswith("used_")


def test_ret_empty():
    a = t.ret_empty()
    assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (0,)
    assert a.size == 0


def test_ret_scalar():
    a = t.ret_scalar()
    assert type(a) is np.ndarray and a.dtype == np.float64
    assert a.ndim == 0 and a.shape == ()
    assert a == 1.0 and a.item() == 1.0


@pytest.mark.parametrize("name,fragment", [
    ("ret_numpy", "numpy.ndarray[dtype=float32, shape=(2, 4)"),
    ("ret_numpy_ro", "writable=False"),
    ("ret_f16", "dtype=float16"),
    ("ret_c128", "dtype=complex128"),
    ("ret_scalar", "shape=()"),
])
def test_return_signature_docs(name, fragment):
    doc = getattr(t, name).__doc__
    assert doc.startswith(name + "(")
    assert fragment in doc


def test_writable_returns_doc_not_read_only():
    assert "writable=False" not in t.ret_numpy.__doc__


# --- zero copy ----------------------------------------------------------------

def test_array_api_numpy_and_buffer_share_memory():
    a = t.ret_array_api()
    n = np.from_dlpack(a)
    m = np.asarray(memoryview(a))
    assert n.ctypes.data == m.ctypes.data
    n[0, 0] = 42
    assert m[0, 0] == 42
    m[1, 3] = -8
    assert n[1, 3] == -8


def test_array_api_writable_buffer_request_writes_through():
    a = t.ret_array_api()
    n = np.from_dlpack(a)
    c = (ctypes.c_float * 8).from_buffer(a)  # PyBUF_WRITABLE request
    c[5] = 123.0
    assert n[1, 1] == 123.0


def test_array_api_torch_shares_memory():
    torch = _torch()
    a = t.ret_array_api()
    x = torch.from_dlpack(a)
    m = np.asarray(memoryview(a))
    assert x.data_ptr() == m.ctypes.data
    x[0, 1] = 42
    assert m[0, 1] == 42
    m[1, 0] = -5
    assert x[1, 0].item() == -5


def test_array_api_jax_shares_memory():
    jax = _jax()
    a = t.ret_array_api()
    n = np.from_dlpack(a)
    j = jax.dlpack.from_dlpack(a)
    assert j.unsafe_buffer_pointer() == n.ctypes.data
    np.testing.assert_array_equal(np.asarray(j), EXPECTED)


def test_capsule_torch_zero_copy():
    torch = _torch()
    cap = t.ret_capsule()
    x = torch.from_dlpack(cap)
    np.testing.assert_array_equal(x.numpy(), EXPECTED)
    n = x.numpy()
    x[1, 1] = 99
    assert n[1, 1] == 99


def test_capsule_jax():
    jax = _jax()
    j = jax.dlpack.from_dlpack(Shim(t.ret_capsule()))
    assert j.dtype == np.float32 and j.shape == (2, 4)
    np.testing.assert_array_equal(np.asarray(j), EXPECTED)


@pytest.mark.parametrize("n", [1, 3, 1000, 4097])
def test_bench_arrays_are_64_byte_aligned(n):
    a = t.bench.make_array(n)
    assert a.shape == (n,) and a.dtype == np.float32
    assert a.ctypes.data % 64 == 0
    _torch()
    x = t.bench.make_torch(n)
    assert tuple(x.shape) == (n,) and x.data_ptr() % 64 == 0
    _jax()
    j = t.bench.make_jax(n)
    assert j.shape == (n,) and j.unsafe_buffer_pointer() % 64 == 0


# --- ownership ------------------------------------------------------------------
# Each builder returns the live consumers of ONE counted Rust buffer (and keeps
# no other reference); the tests release them in some order.

def _numpy():
    return [t.ret_numpy()]


def _torch_t():
    _torch()
    return [t.ret_torch()]


def _jax_a():
    _jax()
    return [t.ret_jax()]


def _memview():
    return [t.ret_memview()]


def _array_api():
    return [t.ret_array_api()]


def _capsule():
    return [t.ret_capsule()]


def _capsule_torch():
    torch = _torch()
    return [torch.from_dlpack(t.ret_capsule())]


def _capsule_numpy():
    return [np.from_dlpack(Shim(t.ret_capsule()))]


def _capsule_jax():
    jax = _jax()
    return [jax.dlpack.from_dlpack(Shim(t.ret_capsule()))]


def _api_capsule_legacy():
    a = t.ret_array_api()
    return [a, a.__dlpack__()]


def _api_capsule_versioned():
    a = t.ret_array_api()
    return [a, a.__dlpack__(max_version=(1, 0))]


def _api_numpy():
    a = t.ret_array_api()
    return [a, np.from_dlpack(a)]


def _api_memoryview():
    a = t.ret_array_api()
    return [a, memoryview(a)]


def _api_jax():
    jax = _jax()
    a = t.ret_array_api()
    return [a, jax.dlpack.from_dlpack(a)]


def _jax_numpy():
    _jax()
    j = t.ret_jax()
    return [j, np.from_dlpack(j)]


def _torch_numpy_view():
    _torch()
    x = t.ret_torch()
    return [x, x.numpy(), x[1:]]


def _chain_api_torch_numpy():
    torch = _torch()
    a = t.ret_array_api()
    x = torch.from_dlpack(a)
    return [a, x, x.numpy()]


def _chain_api_memoryview_numpy():
    a = t.ret_array_api()
    m = memoryview(a)
    return [a, m, np.asarray(m)]


def _chain_api_numpy_torch():
    torch = _torch()
    a = t.ret_array_api()
    n = np.from_dlpack(a)
    return [a, n, torch.from_dlpack(n)]


def _chain_numpy_ro_memoryview():
    a = t.ret_numpy_ro()
    return [a, memoryview(a), a[::-1]]


BUILDERS = {
    "numpy": _numpy, "torch": _torch_t, "jax": _jax_a, "memoryview": _memview,
    "array_api": _array_api, "capsule_unconsumed": _capsule,
    "capsule_torch": _capsule_torch, "capsule_numpy": _capsule_numpy, "capsule_jax": _capsule_jax,
    "api_capsule_legacy": _api_capsule_legacy, "api_capsule_versioned": _api_capsule_versioned,
    "api_numpy": _api_numpy, "api_memoryview": _api_memoryview, "api_jax": _api_jax,
    "jax_numpy": _jax_numpy, "torch_numpy_view": _torch_numpy_view,
    "chain_api_torch_numpy": _chain_api_torch_numpy,
    "chain_api_memoryview_numpy": _chain_api_memoryview_numpy,
    "chain_api_numpy_torch": _chain_api_numpy_torch,
    "chain_numpy_ro_memoryview": _chain_numpy_ro_memoryview,
}

CASES = [
    pytest.param(name, order, id=f"{name}-{''.join(map(str, order))}")
    for name, k in [
        ("numpy", 1), ("torch", 1), ("jax", 1), ("memoryview", 1), ("array_api", 1),
        ("capsule_unconsumed", 1), ("capsule_torch", 1), ("capsule_numpy", 1), ("capsule_jax", 1),
        ("api_capsule_legacy", 2), ("api_capsule_versioned", 2), ("api_numpy", 2),
        ("api_memoryview", 2), ("api_jax", 2), ("jax_numpy", 2), ("torch_numpy_view", 3),
        ("chain_api_torch_numpy", 3), ("chain_api_memoryview_numpy", 3),
        ("chain_api_numpy_torch", 3), ("chain_numpy_ro_memoryview", 3),
    ]
    for order in itertools.permutations(range(k))
]
assert {p.values[0] for p in CASES} == set(BUILDERS)


@pytest.mark.parametrize("name,order", CASES)
def test_freed_once_when_last_consumer_lets_go(name, order):
    jaxy = "jax" in name
    before = count()
    objs = BUILDERS[name]()
    assert len(objs) == len(order)
    assert settle(jaxy) == before, "freed while a consumer still lives"
    for i in order[:-1]:
        objs[i] = None
        assert settle(jaxy) == before, f"freed after releasing consumer {i} while others live"
        if jaxy:
            time.sleep(0.01)
    objs[order[-1]] = None
    assert wait_count(before + 1) == before + 1
    # ... and never again.
    assert settle(jaxy) == before + 1


@pytest.mark.parametrize("consumer", ["numpy", "torch", "jax"])
def test_consumed_capsule_is_not_an_owner(consumer):
    """Once a consumer took the capsule (renamed ``used_*``), the importer owns
    the buffer: it is freed when the importer goes, though the capsule lives."""
    before = count()
    cap = t.ret_capsule()
    if consumer == "numpy":
        x = np.from_dlpack(Shim(cap))
    elif consumer == "torch":
        x = _torch().from_dlpack(cap)
    else:
        x = _jax().dlpack.from_dlpack(Shim(cap))
    assert capsule_name(cap).startswith("used_")
    assert settle(consumer == "jax") == before
    del x
    assert wait_count(before + 1) == before + 1
    del cap
    assert settle(consumer == "jax") == before + 1


def test_jax_delete_frees():
    _jax()
    before = count()
    j = t.ret_jax()
    assert settle(True) == before
    j.delete()
    assert wait_count(before + 1) == before + 1
    assert j.is_deleted()
    del j
    assert settle(True) == before + 1


@pytest.mark.parametrize("name", ["numpy", "torch", "jax", "memoryview", "array_api",
                                  "capsule_unconsumed", "capsule_torch", "chain_api_torch_numpy"])
def test_freed_from_another_thread(name):
    before = count()
    objs = BUILDERS[name]()
    # Keep all but one consumer's reference in the list; the thread drops the last.
    errors = []

    def drop():
        try:
            while objs:
                objs.pop()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    th = threading.Thread(target=drop)
    th.start()
    th.join()
    assert not errors
    assert wait_count(before + 1) == before + 1
    assert settle("jax" in name) == before + 1


@pytest.mark.parametrize("name", UNCOUNTED)
def test_uncounted_returns(name):
    before = count()
    a = getattr(t, name)()
    del a
    assert count() == before


@pytest.mark.parametrize("name", COUNTED)
def test_each_counted_return_freed_exactly_once(name):
    if name in ("ret_torch", "ret_bf16_torch"):
        _torch()
    if name == "ret_jax":
        _jax()
    before = count()
    a = getattr(t, name)()
    assert settle(name == "ret_jax") == before  # alive: not freed (so not copied)
    del a
    assert wait_count(before + 1) == before + 1
    assert settle(name == "ret_jax") == before + 1


def test_copy_capsule_does_not_keep_original():
    before = count()
    a = t.ret_array_api()
    cap = a.__dlpack__(max_version=(1, 0), copy=True)
    del a
    assert count() == before + 1  # the copy is independent of the original
    c = np.from_dlpack(Shim(cap))
    np.testing.assert_array_equal(c, EXPECTED)


# --- __dlpack__ / __dlpack_device__ ------------------------------------------

def test_dlpack_device():
    assert t.ret_array_api().__dlpack_device__() == (1, 0)


def test_dlpack_keyword_only():
    a = t.ret_array_api()
    with pytest.raises(TypeError):
        a.__dlpack__(None)
    with pytest.raises(TypeError):
        a.__dlpack__(None, None)
    with pytest.raises(TypeError):
        a.__dlpack__(bogus=1)
    with pytest.raises(TypeError):
        a.__dlpack__(max_version=(1, 0), unknown=None)


@pytest.mark.parametrize("kwargs,name", [
    ({}, "dltensor"),
    ({"max_version": None}, "dltensor"),
    ({"max_version": (0, 8)}, "dltensor"),
    ({"max_version": (1, 0)}, "dltensor_versioned"),
    ({"max_version": (1, 3)}, "dltensor_versioned"),
    ({"max_version": (2, 0)}, "dltensor_versioned"),
    ({"dl_device": (1, 0)}, "dltensor"),
    ({"dl_device": None}, "dltensor"),
    ({"copy": False}, "dltensor"),
    ({"copy": None}, "dltensor"),
    ({"stream": None}, "dltensor"),
    ({"stream": 1}, "dltensor"),
    ({"max_version": (1, 0), "dl_device": (1, 0), "copy": False, "stream": None}, "dltensor_versioned"),
])
def test_dlpack_capsule_kinds(kwargs, name):
    a = t.ret_array_api()
    cap = a.__dlpack__(**kwargs)
    assert capsule_name(cap) == name
    if name == "dltensor_versioned":
        major, minor, flags = versioned_header(cap)
        assert major == 1
        assert not flags & DLPACK_FLAG_READ_ONLY  # the array is writable
        assert not flags & DLPACK_FLAG_IS_COPIED
    # The capsule is a view of the array's own data.
    n = np.from_dlpack(Shim(cap))
    np.testing.assert_array_equal(n, EXPECTED)
    assert n.ctypes.data == np.from_dlpack(a).ctypes.data


def test_dlpack_other_device_is_buffer_error():
    a = t.ret_array_api()
    with pytest.raises(BufferError):
        a.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError):
        a.__dlpack__(dl_device=(1, 1), max_version=(1, 0))


def test_dlpack_bad_stream_is_type_error():
    a = t.ret_array_api()
    with pytest.raises(TypeError):
        a.__dlpack__(stream="x")


@pytest.mark.parametrize("max_version", [(1, 0), (1, 3)])
def test_dlpack_copy_true_versioned(max_version):
    a = t.ret_array_api()
    n = np.from_dlpack(a)
    cap = a.__dlpack__(copy=True, max_version=max_version)
    assert capsule_name(cap) == "dltensor_versioned"
    _, _, flags = versioned_header(cap)
    assert flags & DLPACK_FLAG_IS_COPIED
    c = np.from_dlpack(Shim(cap))
    np.testing.assert_array_equal(c, EXPECTED)
    assert not np.shares_memory(c, n)
    c[0, 0] = 99
    assert n[0, 0] == 1
    n[1, 1] = -1
    assert c[1, 1] == 6


def test_dlpack_copy_true_legacy():
    """Without max_version there is no IS_COPIED flag to set: either a
    BufferError, or a capsule of a copy."""
    a = t.ret_array_api()
    n = np.from_dlpack(a)
    try:
        cap = a.__dlpack__(copy=True)
    except BufferError:
        return
    c = np.from_dlpack(Shim(cap))
    np.testing.assert_array_equal(c, EXPECTED)
    assert not np.shares_memory(c, n)
    n[0, 0] = 42
    assert c[0, 0] == 1


@pytest.mark.parametrize("consumer", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("source", ["array_api", "capsule"])
def test_consumers_import(consumer, source):
    obj = t.ret_array_api() if source == "array_api" else t.ret_capsule()
    if consumer == "numpy":
        r = np.from_dlpack(obj if source == "array_api" else Shim(obj))
        got = r
    elif consumer == "torch":
        torch = _torch()
        r = torch.from_dlpack(obj)
        assert r.dtype == torch.float32
        got = r.numpy()
    else:
        jax = _jax()
        r = jax.dlpack.from_dlpack(obj if source == "array_api" else Shim(obj))
        assert isinstance(r, jax.Array)
        got = np.asarray(r)
    assert got.dtype == np.float32 and got.shape == (2, 4)
    np.testing.assert_array_equal(got, EXPECTED)


# --- passthrough / passthrough_copy -------------------------------------------

def _inputs():
    import array
    torch = _torch()
    jnp = _jax().numpy
    return {
        "numpy": np.arange(6.0).reshape(2, 3),
        "numpy_ro": np.frombuffer(b"\x00" * 16, dtype=np.float32),
        "numpy_f": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "numpy_T": np.arange(12, dtype=np.int32).reshape(3, 4).T,
        "numpy_strided": np.arange(20.0)[::-3],
        "numpy_0d": np.array(3.5),
        "numpy_c64": (np.arange(4) + 1j).astype(np.complex64),
        "torch": torch.arange(6.0).reshape(2, 3),
        "torch_T": torch.arange(12.0).reshape(3, 4).T,
        "torch_0d": torch.tensor(2.5),
        "jax": jnp.arange(6.0).reshape(2, 3),
        "memoryview": memoryview(np.arange(4.0)),
        "bytes": b"abcdefgh",
        "bytearray": bytearray(b"xyz"),
        "array.array": array.array("i", [1, 2, 3]),
        "array_api": t.ret_array_api(),
    }


PASS_NAMES = ["numpy", "numpy_ro", "numpy_f", "numpy_T", "numpy_strided", "numpy_0d", "numpy_c64",
              "torch", "torch_T", "torch_0d", "jax", "memoryview", "bytes", "bytearray",
              "array.array", "array_api"]


@pytest.mark.parametrize("kind", PASS_NAMES)
def test_passthrough_same_object(kind):
    x = _inputs()[kind]
    assert t.passthrough(x) is x


def _as_numpy(x):
    """A NumPy view (no copy) of the caller's data, where one exists."""
    if hasattr(x, "data_ptr"):  # torch
        return x.numpy()
    if hasattr(x, "__dlpack__") and not hasattr(x, "unsafe_buffer_pointer"):
        return np.from_dlpack(x)
    if isinstance(x, (bytes, bytearray)):
        return np.frombuffer(x, dtype=np.uint8)
    return np.asarray(x)


def _data_span(x):
    """[lo, hi) bytes spanned by the caller's data."""
    if hasattr(x, "unsafe_buffer_pointer"):  # JAX
        lo = x.unsafe_buffer_pointer()
        return lo, lo + x.nbytes
    return data_range(_as_numpy(x))


@pytest.mark.parametrize("kind", PASS_NAMES)
def test_passthrough_copy(kind):
    x = _inputs()[kind]
    expected = np.array(_as_numpy(x), copy=True)
    c = t.passthrough_copy(x)
    assert type(c) is np.ndarray
    assert c.dtype == expected.dtype and c.shape == expected.shape
    np.testing.assert_array_equal(c, expected)
    assert c.flags.writeable
    if isinstance(x, np.ndarray):
        assert not np.shares_memory(c, x)
    # Other memory: the copy's bytes do not overlap the original's.
    if c.size:
        lo, hi = _data_span(x)
        clo, chi = data_range(c)
        assert chi <= lo or clo >= hi, "the copy overlaps the original"
        c[...] = 0
        np.testing.assert_array_equal(_as_numpy(x), expected)  # original untouched


# --- reference counts and memory -------------------------------------------------

@pytest.mark.parametrize("name", COUNTED + UNCOUNTED)
def test_ret_no_leak_and_all_freed(no_leak, name):
    if name in ("ret_torch", "ret_bf16_torch"):
        _torch()
    fn = getattr(t, name)
    if name == "ret_jax":
        _jax()
        # JAX's own allocator grows for its first tens of thousands of
        # imports, then stays flat: warm it up beyond no_leak's 1000 calls.
        for _ in range(30_000):
            fn()
    before = quiet_count()
    no_leak(fn, n=20_000)
    made = 21_000 if name in COUNTED else 0  # no_leak warms up with 1000 calls
    assert wait_count(before + made) == before + made


def test_ret_numpy_n_no_leak_and_all_freed(no_leak):
    n = int("1000")  # not a cached small int: its refcount is checked
    before = count()
    no_leak(t.ret_numpy_n, n, n=20_000)
    assert wait_count(before + 21_000) == before + 21_000


def test_array_api_dlpack_no_leak(no_leak):
    a = t.ret_array_api()
    before = count()

    def protocol(a):
        a.__dlpack__()
        a.__dlpack__(max_version=(1, 0), dl_device=(1, 0), stream=None)
        a.__dlpack__(max_version=(1, 0), copy=True)
        a.__dlpack_device__()
        memoryview(a).release()

    no_leak(protocol, a, n=20_000)
    assert count() == before  # capsules and buffers of `a` do not free it
    del a
    assert wait_count(before + 1) == before + 1


@pytest.mark.parametrize("fn", ["passthrough", "passthrough_copy"])
def test_passthrough_no_leak(no_leak, fn):
    inputs = _inputs()
    xs = [inputs[k] for k in ("numpy", "numpy_T", "numpy_0d", "torch", "jax", "memoryview", "bytes", "array_api")]
    f = getattr(t, fn)
    for x in xs:
        f(x)  # each works, outside no_leak (which swallows errors)

    def call_all(*xs):
        for x in xs:
            f(x)

    before = count()
    no_leak(call_all, *xs, n=20_000)
    assert count() == before  # no counted buffer made or freed
