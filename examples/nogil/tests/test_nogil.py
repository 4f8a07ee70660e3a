import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nogil


def test_total_and_histogram_agree_with_numpy():
    a = np.random.default_rng(0).normal(size=(300, 200))
    assert nogil.total(a) == pytest.approx(a.sum(), rel=1e-12)
    assert nogil.total(a[::3, ::-7]) == pytest.approx(a[::3, ::-7].sum(), rel=1e-12)
    counts, _ = np.histogram(a, bins=12, range=(-3.0, 3.0))
    assert nogil.histogram(a, 12, -3.0, 3.0) == counts.tolist()


def test_histogram_edges_match_numpy():
    a = np.array([0.0, 10.0, 5.0, 9.999, -1.0, 11.0, np.nan])
    assert nogil.histogram(a, 10, 0.0, 10.0) == [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    with pytest.raises(ValueError, match="bins > 0 and finite lo < hi"):
        nogil.histogram(a, 0, 0.0, 1.0)
    with pytest.raises(ValueError, match="bins > 0 and finite lo < hi"):
        nogil.histogram(a, 4, 1.0, 1.0)


def test_wrong_input_is_refused_before_the_gil_is_released():
    with pytest.raises(TypeError, match=r"total\(\): incompatible function arguments"):
        nogil.total(np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="incompatible function arguments"):
        nogil.estimate_pi(10, None)


def test_parallel_calls_from_a_thread_pool():
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(-1.0, 1.0, size=2_000_000) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        hists = list(pool.map(lambda a: nogil.histogram(a, 16, -1.0, 1.0), arrays))
        totals = list(pool.map(nogil.total, arrays))
    for a, h, t in zip(arrays, hists, totals):
        assert h == np.histogram(a, bins=16, range=(-1.0, 1.0))[0].tolist()
        assert t == pytest.approx(a.sum(), rel=1e-9)


def test_estimate_pi_is_deterministic_and_reports_progress():
    p1, p2 = nogil.Progress(), nogil.Progress()
    assert p1.done == 0
    x = nogil.estimate_pi(200_000, p1, seed=7)
    assert x == nogil.estimate_pi(200_000, p2, seed=7)
    assert abs(x - math.pi) < 0.02
    assert p1.done == 200_000
    assert nogil.estimate_pi(200_000, nogil.Progress(), seed=6) != x
    with pytest.raises(ValueError, match="samples must be > 0"):
        nogil.estimate_pi(0, nogil.Progress())


def test_a_cancelled_progress_stops_at_once():
    p = nogil.Progress()
    p.cancel()
    assert nogil.estimate_pi(10**6, p) is None and p.done == 0


# Uncancelled, this many samples take tens of seconds.
LONG = 4_000_000_000


def test_other_threads_run_while_rust_computes():
    """This thread watches and cancels a computation running in another
    one. It can only do so because the computation released the GIL: were
    the GIL held, this thread would first run again once the computation
    had finished (done == LONG), and its cancel would come too late."""
    progress = nogil.Progress()
    result = []
    worker = threading.Thread(target=lambda: result.append(nogil.estimate_pi(LONG, progress)))
    worker.start()
    while progress.done == 0 and worker.is_alive():
        time.sleep(0.001)
    seen = progress.done
    progress.cancel()
    worker.join()
    assert result == [None]  # cancelled part-way
    assert 0 < seen <= progress.done < LONG
