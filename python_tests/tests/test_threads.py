"""Threads and the GIL (issue 7, item 4).

- 8 Python threads call array functions concurrently (each on its own
  arrays) for a bounded number of iterations, with a tiny switch interval
  so that they interleave as often as the interpreter allows: every result
  must be right and ``destruct_count()`` must account for every Rust-owned
  buffer created, exactly once.
- Owners freed from a thread that never held the GIL before: a torch tensor
  made by ``ret_torch()`` dropped in a fresh ``threading.Thread``, and (a
  stronger variant) the last reference to it released by torch itself on
  one of its C++ inter-op threads, which has no Python thread state at all.
  Each scenario runs under a timeout join, so a deadlock fails the test
  instead of hanging the suite.
"""
import gc
import sys
import threading
import time

import numpy as np
import pytest

import ndbind_test as t
from threadrun import THREADS, TIMEOUT, Producer, fast_switching, in_threads  # noqa: F401 (autouse)

ITERATIONS = 1000
RETURN_ITERATIONS = 300  # each makes 3 Rust-owned buffers (torch ones cost more)


def _torch():
    return pytest.importorskip("torch")


def run_threads(target, n=THREADS, timeout=TIMEOUT):
    """Runs ``target(i, barrier)`` in n threads (see ``threadrun``)."""
    barrier = threading.Barrier(n)
    in_threads(lambda i: target(i, barrier), n, timeout, barriers=(barrier,))


def settle():
    gc.collect()
    gc.collect()


# --- 8 threads, concurrent array calls ----------------------------------------

def test_concurrent_imports_on_private_arrays():
    def work(i, barrier):
        rng = np.random.default_rng(i)
        a = rng.standard_normal((16, 9))
        view = a[::-2, 1::3].T          # strided, transposed, negative
        f32 = np.zeros((3, 5, 4), np.float32)
        barrier.wait()
        for k in range(ITERATIONS):
            assert t.shape(view) == [3, 8]
            assert t.strides(view) == [3, -18]
            assert t.dtype_name(f32) == "float32"
            assert t.order(f32) == "C"
            assert np.isclose(t.sum_f64(view), view.sum())
            before = a.copy()
            t.scale(view, 2.0)
            expect = before.copy()
            expect[::-2, 1::3] *= 2.0
            assert np.array_equal(a, expect)
            t.scale(view, 0.5)
            assert np.array_equal(a, before)
            t.fill_arange(f32.reshape(-1))
            assert f32.reshape(-1)[-1] == 59.0
            out = np.empty(9)
            t.add_into(a[0], a[1], out)
            assert np.array_equal(out, a[0] + a[1])
            with pytest.raises(ValueError, match="overlap"):
                t.add_into(a[0], a[1], a[0])
            with pytest.raises(TypeError):
                t.scale(np.zeros(3, np.float32), 2.0)
    run_threads(work)


def test_concurrent_capsules_and_dlpack_producers():
    def work(i, barrier):
        a = np.arange(6.0) + i
        barrier.wait()
        for _ in range(ITERATIONS):
            cap = a.__dlpack__()
            assert t.sum_f64(cap) == a.sum()
            assert "used_dltensor" in repr(cap)
            with pytest.raises(TypeError):
                t.sum_f64(cap)
            assert t.sum_f64(Producer(a)) == a.sum()
            assert t.is_array(a.__dlpack__(max_version=(1, 0))) is True
    run_threads(work)


def test_concurrent_returns_and_destruct_count():
    torch = _torch()
    settle()
    start = t.destruct_count()
    made = [0] * THREADS

    def work(i, barrier):
        barrier.wait()
        keep = []
        for k in range(RETURN_ITERATIONS):
            x = t.ret_numpy()
            assert x.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
            y = t.ret_torch()
            assert y.sum().item() == 36.0
            z = t.ret_numpy_n(k % 7)
            assert z.tolist() == list(range(k % 7))
            v = x[1]                      # a view keeps the owner alive
            del x
            keep.append(v)
            if len(keep) > 5:
                assert keep.pop(0).tolist() == [5, 6, 7, 8]
            made[i] += 3
            del y, z, v
        keep.clear()
    run_threads(work)
    settle()
    assert t.destruct_count() - start == sum(made) == THREADS * RETURN_ITERATIONS * 3


def test_concurrent_returns_consumed_in_other_threads():
    """Arrays made in one thread, handed over and released in others."""
    import queue
    torch = _torch()
    settle()
    start = t.destruct_count()
    q = queue.Queue()
    per_producer = RETURN_ITERATIONS

    def work(i, barrier):
        barrier.wait()
        if i % 2 == 0:  # producers
            for k in range(per_producer):
                q.put(t.ret_torch() if k % 2 else t.ret_numpy())
            q.put(None)
        else:           # consumers: sum it in ndbind (import) and drop it
            while True:
                x = q.get(timeout=TIMEOUT)
                if x is None:
                    return
                assert t.size(x) == 8
                assert t.dtype_name(x) == "float32"
                del x
    run_threads(work)
    settle()
    assert t.destruct_count() - start == (THREADS // 2) * per_producer


# --- owners freed from threads that never held the GIL before -----------------

def test_torch_tensor_dropped_in_a_fresh_thread():
    torch = _torch()
    settle()
    start = t.destruct_count()
    box = [t.ret_torch() for _ in range(50)]
    views = [x[0] for x in box]  # views share the storage: the owner lives on
    done = threading.Event()

    def drop():
        box.clear()                # the tensors die in this thread...
        views.clear()              # ...and with the last view, the owners
        done.set()

    th = threading.Thread(target=drop, daemon=True)
    th.start()
    th.join(TIMEOUT)
    assert not th.is_alive() and done.is_set(), "dropping the tensors deadlocked"
    settle()
    assert t.destruct_count() - start == 50


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torch_storage_released_on_a_torch_cpp_thread():
    """A TorchScript ``fork`` (from scripted code: eager ``fork`` runs
    synchronously) runs on torch's inter-op pool, a C++ thread without a
    Python thread state. It is given the only reference to a ``ret_torch()``
    tensor, so the storage, and with it ndbind's DLPack deleter, is released
    on that thread, which must take the GIL by itself.

    We poll ``done()`` with sleeps (releasing the GIL) rather than call
    ``torch.jit.wait``, which holds the GIL while waiting and so deadlocks
    with any producer whose deleter needs the GIL (a NumPy-backed
    ``torch.from_dlpack`` tensor hangs there just the same)."""
    torch = _torch()
    hold, launch = _scripted(torch)
    settle()
    start = t.destruct_count()
    result = {}

    def scenario():
        futs = [launch(t.ret_torch(), 20000) for _ in range(8)]
        # Our references are gone; only the forked tasks hold the tensors.
        deadline = time.monotonic() + TIMEOUT
        while not all(f.done() for f in futs) and time.monotonic() < deadline:
            time.sleep(0.005)
        result["values"] = [f.value() for f in futs if f.done()]

    th = threading.Thread(target=scenario, daemon=True)
    th.start()
    th.join(TIMEOUT + 5)
    assert not th.is_alive(), "releasing on a torch thread deadlocked"
    assert result["values"] == [20000.0] * 8
    for _ in range(500):  # the C++ thread may finish releasing just after done()
        settle()
        if t.destruct_count() - start == 8:
            break
        time.sleep(0.01)
    assert t.destruct_count() - start == 8


_SCRIPTED = []


def _scripted(torch):
    """TorchScript needs the source file: defined here, compiled once."""
    if not _SCRIPTED:
        @torch.jit.script
        def hold(x: torch.Tensor, n: int) -> float:
            acc = 0.0
            for _ in range(n):
                acc += float(x[0, 0])
            return acc

        @torch.jit.script
        def launch(x: torch.Tensor, n: int) -> torch.jit.Future[float]:
            return torch.jit.fork(hold, x, n)
        _SCRIPTED.extend([hold, launch])
    return _SCRIPTED


def test_numpy_owner_dropped_in_fresh_threads_concurrently():
    settle()
    start = t.destruct_count()
    arrays = [[t.ret_numpy() for _ in range(40)] for _ in range(THREADS)]

    def work(i, barrier):
        mine = arrays[i]
        barrier.wait()
        while mine:
            x = mine.pop()
            assert x[1, 3] == 8.0
            del x
    run_threads(work)
    settle()
    assert t.destruct_count() - start == THREADS * 40
