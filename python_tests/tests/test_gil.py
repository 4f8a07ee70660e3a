"""Releasing the GIL while Rust runs (Module::def_nogil): other Python threads
progress meanwhile, arguments stay valid, results are right."""
import sys
import threading
import time

import numpy as np
import pytest

import ndbind_test as t


def _ticks_during(call):
    """How many times another Python thread ran its loop while `call` ran."""
    ticks = 0
    stop = threading.Event()
    started = threading.Event()

    def spin():
        nonlocal ticks
        started.set()
        while not stop.is_set():
            ticks += 1
            time.sleep(0)  # yield the GIL between ticks

    th = threading.Thread(target=spin)
    th.start()
    started.wait()
    ticks = 0
    call()
    n = ticks
    stop.set()
    th.join(timeout=10)
    assert not th.is_alive()
    return n


def test_other_threads_run_while_nogil_function_runs():
    free = _ticks_during(lambda: t.nogil_sleep(300))
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        # Free-threaded, GIL disabled: other threads run either way.
        assert free > 50
        assert _ticks_during(lambda: t.gil_sleep(300)) > 50
        return
    held = _ticks_during(lambda: t.gil_sleep(300))
    # With the GIL held for 300 ms, the other thread cannot run at all (at
    # most a tick or two around the call); without it, it runs freely.
    assert held <= 5, held
    assert free > 50 and free > 10 * max(held, 1), (free, held)


def test_nogil_results_and_writes():
    x = np.arange(12.0).reshape(3, 4)[:, ::-1]
    assert t.sum_f64_nogil(x) == x.sum()
    y = np.ones(5)
    t.scale_nogil(y[::2], 3.0)
    assert y.tolist() == [3.0, 1.0, 3.0, 1.0, 3.0]


def test_nogil_functions_from_many_threads():
    arrays = [np.full(1000, float(i)) for i in range(8)]
    results = [None] * 8

    def work(i):
        for _ in range(200):
            results[i] = t.sum_f64_nogil(arrays[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert results == [1000.0 * i for i in range(8)]


def test_nogil_rejects_mismatches_and_keeps_the_alias_check():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        t.sum_f64_nogil(np.ones(3, np.float32))
    ro = np.ones(3)
    ro.setflags(write=False)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        t.scale_nogil(ro, 2.0)
    assert ro.tolist() == [1.0, 1.0, 1.0]


def test_nogil_no_leak(no_leak):
    x = np.ones(16)
    no_leak(t.sum_f64_nogil, x, n=20_000)
