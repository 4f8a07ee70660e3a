"""Running test code in several threads at once: the one runner of the
thread tests (test_threads.py, test_threads_stress.py, test_ft_refs.py)."""
import sys
import threading

import pytest

THREADS = 8
TIMEOUT = 60.0


def in_threads(fn, n=THREADS, timeout=TIMEOUT, barriers=()):
    """Runs ``fn(i)`` for i in range(n), each in its own thread, all released
    at once by a barrier; returns the results in order, or raises the first
    error a thread raised. A thread still running after ``timeout`` fails
    the test (a deadlock) instead of hanging it. ``barriers``: more barriers
    ``fn`` waits on, broken when a thread fails so that the others stop."""
    start = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            start.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append((i, e))
            for b in (start, *barriers):
                b.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout)
    alive = [th.name for th in threads if th.is_alive()]
    assert not alive, f"threads still running after {timeout}s (deadlock?): {alive}"
    for i, e in errors:
        if not isinstance(e, threading.BrokenBarrierError):
            raise AssertionError(f"thread {i} failed: {e!r}") from e
    if errors:
        raise errors[0][1]
    return results


class Producer:
    """A Python `__dlpack__` producer in front of array `a` (for threads
    importing one shared producer)."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kw):
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return (1, 0)


def run_each(targets, timeout=TIMEOUT):
    """Runs each callable of ``targets`` in a thread of its own, at once."""
    return in_threads(lambda i: targets[i](), len(targets), timeout)


@pytest.fixture(autouse=True)
def fast_switching():
    """A tiny switch interval, so that threads interleave as often as the
    interpreter allows (with the GIL; free-threaded, they run at once).
    Autouse in each module that imports it."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)
