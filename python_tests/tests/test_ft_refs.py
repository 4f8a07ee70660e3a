"""Shared Python objects used by several threads at once (issue 18 item 3):
what free-threaded CPython (no GIL) makes racy, run under any build.

- One DLPack capsule consumed by 8 threads at once: exactly one takes the
  tensor (the rename is atomic), the others get the mismatch TypeError, and
  the producer's array gets back every reference (its deleter ran once).
- A capsule handed back by rejecting overloads while others peek at it or
  take it: at most one takes it, and it is never left half-consumed.
- A list mutated (items replaced by fresh objects, appended, popped) by one
  thread while others convert it to ``Vec<f64>`` or iterate a ``List``: a
  result that some state of the list explains, or the "changed size"
  RuntimeError; no crash (a borrowed item freed under us would be one).
- One ndbind iterator advanced by 8 threads: every item once, none lost;
  a thread that finds it in use gets ValueError ("already executing").
- A class whose ``__qualname__``/``__module__``/``__dlpack__`` another thread
  keeps replacing, while mismatch messages name it and imports look it up.

With a GIL the threads interleave only at switch points (set tiny here), so
these mostly pass trivially on 3.11; they are meant for 3.13t with
``PYTHON_GIL=0``.
"""
import sys
import threading

import numpy as np
import pytest

import ndbind_test as t
from ndbind_test import classproto as cp
from ndbind_test import handles as h
from threadrun import THREADS, TIMEOUT, fast_switching, in_threads, run_each  # noqa: F401 (autouse)

f32 = np.float32


def is_used(capsule):
    return '"used_dltensor' in repr(capsule)


def _capsule(a, versioned):
    return a.__dlpack__(max_version=(1, 0)) if versioned else a.__dlpack__()


def run_rounds(caps, roles):
    """Runs `roles` (one thread each) over every capsule of `caps` in turn,
    all threads starting each round together: `role(c)` per capsule."""
    barrier = threading.Barrier(len(roles), timeout=TIMEOUT)

    def loop(i):
        for c in caps:
            barrier.wait()
            roles[i](c)

    in_threads(loop, len(roles), barriers=(barrier,))


@pytest.mark.parametrize("versioned", [False, True])
def test_one_capsule_many_consumers_exactly_one_takes_it(versioned):
    a = np.arange(4, dtype=f32)
    base = sys.getrefcount(a)
    caps = [_capsule(a, versioned) for _ in range(100)]
    results = {id(c): [] for c in caps}

    def consume(c):
        try:
            results[id(c)].append(t.shape(c))
        except TypeError as e:
            assert "incompatible function arguments" in str(e)
            results[id(c)].append(None)

    run_rounds(caps, [consume] * THREADS)
    for c in caps:
        r = results[id(c)]
        assert len(r) == THREADS
        assert r.count([4]) == 1, r
        assert r.count(None) == THREADS - 1
        assert is_used(c)
    del caps, c
    # Every capsule's tensor deleted exactly once (numpy's deleter drops the
    # reference each export took): a double take would drop two.
    assert sys.getrefcount(a) == base


@pytest.mark.parametrize("versioned", [False, True])
def test_capsule_handed_back_while_others_peek_and_take(versioned):
    a = np.arange(4, dtype=f32)
    base = sys.getrefcount(a)
    caps = [_capsule(a, versioned) for _ in range(100)]
    taken = {id(c): [] for c in caps}

    def reject(c):
        # Takes the tensor provisionally, then hands it back.
        with pytest.raises(TypeError):
            t.pass_u32(c)

    def peek(c):
        assert t.is_array(c) in (True, False)

    def take(c):
        try:
            taken[id(c)].append(t.shape(c))
        except TypeError:
            pass

    run_rounds(caps, [reject, reject, reject, peek, peek, take, take, take])
    for c in caps:
        # Every take may have met a provisional take: none, or one, won.
        r = taken[id(c)]
        assert r in ([], [[4]]), r
        if not r:
            assert not is_used(c)
            assert t.shape(c) == [4]
        assert is_used(c)
        with pytest.raises(TypeError):
            t.shape(c)
    del caps, c
    assert sys.getrefcount(a) == base


def _mutate_list(lst, stop):
    """Replaces items by fresh floats (freeing the old ones) and grows and
    shrinks the list, until `stop` is set."""
    k = 0
    while not stop.is_set():
        k += 1
        i = k % 64
        try:
            lst[i] = float(k % 2 + 1)  # a new object each time
            if k % 7 == 0:
                lst.append(float(1 + k % 2))
            elif k % 7 == 1 and len(lst) > 64:
                lst.pop()
        except IndexError:
            pass


def test_list_converted_while_another_thread_mutates_it():
    lst = [1.0] * 64
    stop = threading.Event()
    counts = []  # (ok, changed) per converting thread

    def convert():
        ok = changed = 0
        try:
            for _ in range(300):
                try:
                    s = t.sum_list(lst)
                except RuntimeError as e:
                    assert "changed size" in str(e)
                    changed += 1
                else:
                    # 64 to 65 items, each 1.0 or 2.0.
                    assert 64.0 <= s <= 130.0 and s == int(s)
                    ok += 1
        finally:
            counts.append((ok, changed))
            stop.set()

    run_each([lambda: _mutate_list(lst, stop)] + [convert] * (THREADS - 1))
    assert [ok + changed for ok, changed in counts] == [300] * (THREADS - 1)


def test_list_handle_iterated_while_another_thread_mutates_it():
    lst = [1.0] * 64
    stop = threading.Event()

    def iterate():
        try:
            for _ in range(200):
                seen = h.list_iter_calling(lst, id)
                assert all(x in (1.0, 2.0) for x in seen)
                assert 0 < len(seen) <= 66
        finally:
            stop.set()

    run_each([lambda: _mutate_list(lst, stop)] + [iterate] * (THREADS - 1))


def test_one_iterator_advanced_by_many_threads():
    n = 3000
    it = iter(cp.Bag(list(range(n))))
    got = [[] for _ in range(THREADS)]
    busy = [0] * THREADS

    def advance(i):
        def run():
            while True:
                try:
                    got[i].append(next(it))
                except StopIteration:
                    return
                except ValueError as e:
                    assert "already executing" in str(e)
                    busy[i] += 1
        return run

    run_each([advance(i) for i in range(THREADS)])
    items = sorted(x for g in got for x in g)
    assert items == list(range(n))  # each item exactly once
    assert next(it, "end") == "end"


def test_type_names_read_while_another_thread_renames_the_class():
    class K:
        pass

    stop = threading.Event()

    # `__module__` only: CPython 3.13's own `type.__qualname__` getter and
    # setter are not thread-safe without a GIL (`Py_NewRef(ht_qualname)`
    # against `Py_SETREF` in typeobject.c, no lock), so no reader of a
    # class's qualified name, ndbind's or Python's, survives renaming it
    # in another thread.
    def rename():
        k = 0
        while not stop.is_set():
            k += 1
            K.__module__ = "mod%d" % k  # fresh strings: the old ones are freed

    def explain():
        try:
            for _ in range(200):
                with pytest.raises(TypeError, match=r"Invoked with types: (mod\d+\.)?[\w.<>]*K$"):
                    t.sum_list(K())
        finally:
            stop.set()

    run_each([rename] + [explain] * (THREADS - 1))


def test_dlpack_method_looked_up_while_another_thread_replaces_it():
    a = np.arange(4, dtype=f32)

    def make():
        def __dlpack__(self, stream=None, max_version=None, **kw):
            return a.__dlpack__()
        return __dlpack__

    class P:
        __dlpack__ = make()

        def __dlpack_device__(self):
            return (1, 0)

    stop = threading.Event()

    def replace():
        while not stop.is_set():
            P.__dlpack__ = make()  # the old function is freed

    def use():
        try:
            for _ in range(200):
                assert t.is_array(P()) is True
                assert t.shape(P()) == [4]
        finally:
            stop.set()

    run_each([replace] + [use] * (THREADS - 1))
