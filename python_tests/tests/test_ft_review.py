"""Adversarial review of the free-threaded support (issue 18 item 3):
check-then-act steps that the GIL made atomic, raced by 8 threads.

- ``o.__init__(...)`` on one not yet initialised instance from 8 threads:
  exactly one initialises it (a value stored twice would leak one and tear
  the other), for values and for ``Arc`` constructors.
- One instance moved into a ``Box<T>`` parameter by 8 threads: exactly one
  takes it (a value moved out twice would be dropped twice).
- ``inst_reference`` to one value from 8 threads: one instance while any
  lives (two would each hand out ``&mut`` under their own borrow flag).
- ``gc.get_referents`` (which runs with the other threads running) on an
  instance whose handles a ``&mut self`` method keeps replacing: the
  traversal never reads them mid-change.

With a GIL these pass trivially (the switch interval is set tiny anyway);
they are meant for a free-threaded CPython with the GIL disabled, where
``NDBIND_STRESS=k`` multiplies the rounds.
"""
import gc
import os
import sys
import threading

import pytest

import ndbind_test as t
from ndbind_test import ft_review as fr

THREADS = 8
TIMEOUT = 60.0
GIL = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
ROUNDS = int(float(os.environ.get("NDBIND_STRESS", "1")) * (20 if GIL else 300))


@pytest.fixture(autouse=True)
def _fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_rounds(items, role):
    """`role(item)` on 8 threads for each item in turn, the threads
    starting each round together; returns, per item, the 8 results."""
    barrier = threading.Barrier(THREADS, timeout=TIMEOUT)
    results = [[] for _ in items]
    errors = []
    lock = threading.Lock()

    def run():
        try:
            for i, item in enumerate(items):
                barrier.wait()
                r = role(item)
                with lock:
                    results[i].append(r)
        except threading.BrokenBarrierError:
            pass  # another thread failed: its error is reported
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT)
        assert not th.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return results


def _init_once(o, *args):
    try:
        o.__init__(*args)
        return "ok"
    except TypeError as e:
        # Refused as `self` (with nanobind's RuntimeWarning), or found
        # initialised once the constructor ran.
        s = str(e)
        assert "already-initialized" in s or "already initialised" in s, e
        return "twice"


@pytest.mark.filterwarnings("ignore:ndbind. attempted to initialize:RuntimeWarning")
def test_init_of_one_instance_by_many_threads_runs_once():
    base = fr.FtVal.live
    objs = [fr.FtVal.__new__(fr.FtVal) for _ in range(ROUNDS)]
    results = run_rounds(objs, lambda o: _init_once(o, 5, 2000))
    for o, r in zip(objs, results):
        assert r.count("ok") == 1, r
        assert r.count("twice") == THREADS - 1, r
        assert o.v == 5
    # Every value made was stored (none overwritten, so none leaked).
    assert fr.FtVal.live == base + ROUNDS
    del objs, o
    assert fr.FtVal.live == base


@pytest.mark.filterwarnings("ignore:ndbind. attempted to initialize:RuntimeWarning")
def test_init_of_one_big_instance_by_many_threads_runs_once():
    # A 64 KiB value: its write is the window another thread's check needs.
    base = fr.FtVal.live
    objs = [fr.FtBig.__new__(fr.FtBig) for _ in range(ROUNDS)]
    results = run_rounds(objs, lambda o: _init_once(o, 4))
    for o, r in zip(objs, results):
        assert r.count("ok") == 1, r
        assert o.v == 4 and o.same()
    assert fr.FtVal.live == base + ROUNDS
    del objs, o
    assert fr.FtVal.live == base


@pytest.mark.filterwarnings("ignore:ndbind. attempted to initialize:RuntimeWarning")
def test_arc_init_of_one_instance_by_many_threads_runs_once():
    objs = [fr.FtArcVal.__new__(fr.FtArcVal) for _ in range(ROUNDS)]
    results = run_rounds(objs, lambda o: _init_once(o, 3))
    for o, r in zip(objs, results):
        assert r.count("ok") == 1, r
        assert o.v == 3


def _take(o):
    try:
        return fr.take(o)
    except TypeError as e:
        # Moved out already (or, via overload resolution, not takeable).
        assert "moved out" in str(e) or "incompatible function arguments" in str(e), e
        return None
    except RuntimeError as e:
        assert "borrowed" in str(e), e
        return None


def test_box_parameter_takes_one_instance_once():
    base = fr.FtVal.live
    objs = [fr.FtVal(9) for _ in range(ROUNDS)]
    results = run_rounds(objs, _take)
    for r in results:
        assert r.count(9) == 1, r
        assert r.count(None) == THREADS - 1, r
    # Each value dropped once (by `take`): a double move drops one twice.
    assert fr.FtVal.live == base
    del objs
    assert fr.FtVal.live == base


def test_reference_instances_of_one_value_are_one_object():
    results = run_rounds(range(4 * ROUNDS), lambda _: fr.shared())
    for r in results:
        # All 8 held at once: one object.
        assert len({id(x) for x in r}) == 1, r
        assert all(x is r[0] for x in r)
        assert r[0].v == 7 and r[0].same()


def test_get_referents_while_a_method_mutates_the_value():
    g = fr.FtGc()
    marker = object()
    rounds = max(ROUNDS // 30, 2)

    def role(i):
        for _ in range(20):
            if i % 2:
                try:
                    g.churn(marker, 50)
                except RuntimeError as e:
                    assert "borrow" in str(e), e  # another churn holds it
            else:
                refs = gc.get_referents(g)
                assert all(r is marker or r is fr.FtGc for r in refs), refs
        return True

    # Half the threads mutate, half traverse.
    local, lock, taken = threading.local(), threading.Lock(), []

    def pick(_):
        if not hasattr(local, "i"):
            with lock:
                local.i = len(taken)
                taken.append(local.i)
        return role(local.i)

    results = run_rounds(range(rounds), pick)
    assert all(all(r) for r in results)


def test_inst_mark_ready_refuses_while_a_call_borrows_the_instance():
    """``inst_mark_ready`` changes an instance's state like ``inst_zero``:
    refused (RuntimeError) while a running call borrows it (free-threaded,
    that call may be reading it on another thread), and the value stays."""
    q = t.Pod(1.0, 2.0)
    seen = []

    def inside():
        with pytest.raises(RuntimeError, match=r"inst_mark_ready\(\): the instance is borrowed"):
            t.inst_mark_ready(q)
        seen.append(True)

    assert fr.pod_borrowed_calling(q, inside) == 3.0
    assert seen == [True]
    t.inst_mark_ready(q)  # not borrowed: fine
    assert t.inst_state(q) == (True, True) and q.total() == 3.0
