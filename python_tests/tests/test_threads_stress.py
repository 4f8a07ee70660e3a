"""The 8-thread stress test (issue 18, item 3): ndbind's shared state under
concurrent use, on every build — with the GIL (3.11: thread switches every
microsecond) and on a free-threaded CPython with the GIL disabled (3.13t,
``PYTHON_GIL=0``), where the threads really run at once.

Every test starts 8 threads together (``threading.Barrier``), runs a fixed
number of iterations (no sleeps), collects the threads' errors and raises the
first in the main thread. Shared objects are hammered where the contract
allows it; an operation that may legitimately lose a race (a writable view
of an array another thread has lent out, a borrow of an instance another
thread holds mutably, a capsule another thread consumed) must then raise its
documented error, and the outcome must still add up exactly: counts of
mutations, of freed Rust buffers, of live instances, reference counts of the
shared arguments. What a FIRST use initialises (interned names, type and
framework caches, identity maps) is raced in fresh subprocesses.

``test_gil_state`` prints whether the GIL is enabled (``pytest -s``).
Nothing here is skipped on a GIL build; torch only where it imports.
"""
import gc
import math
import os
import re
import subprocess
import sys
import sysconfig
import threading

import numpy as np
import pytest

import ndbind_test as t
from threadrun import THREADS, TIMEOUT, Producer, fast_switching, in_threads  # noqa: F401 (autouse)

THREADS = 8
TIMEOUT = 60.0
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
GIL = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
# Iterations per thread. Without a GIL the threads run at once and the loops
# are cheap: ten times more, to give the races a chance on a 2-core machine.
# NDBIND_STRESS=k multiplies them (a longer hunt).
SCALE = float(os.environ.get("NDBIND_STRESS", "1")) * (1 if GIL else 10)
N = max(1, int(150 * SCALE))
HOT = 4 * N      # for loops of one or two calls
Tally = t.threads.Tally

BORROW_ERR = (r"^ndbind: cannot borrow the 'ndbind_test\.threads\.Tally' instance"
              r"(: it is mutably borrowed| mutably: it is already borrowed)$")
LOAN_ERR = r"cannot make a (mutable )?view of memory that overlaps a live (mutable )?view \("


def settle():
    gc.collect()
    gc.collect()


def refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


def is_pow2(x):
    return x > 0 and math.frexp(x)[0] == 0.5


def test_in_threads_reports_errors_and_results():
    assert in_threads(lambda i: i * i) == [i * i for i in range(THREADS)]

    def boom(i):
        if i == 3:
            raise ValueError("thread three")
        return i
    with pytest.raises(AssertionError, match="thread 3 failed: ValueError"):
        in_threads(boom)


def test_gil_state():
    enabled = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print(f"\n[threads] Python {sys.version.split()[0]} free-threaded build: {FREE_THREADED}; "
          f"sys._is_gil_enabled() = {enabled}; PYTHON_GIL={os.environ.get('PYTHON_GIL')}; "
          f"{N} iterations per thread")
    if not FREE_THREADED:
        assert enabled
    elif os.environ.get("PYTHON_GIL") == "0":
        assert not enabled  # the stress below ran without a GIL


# --- imports ----------------------------------------------------------------------

def test_shared_arrays_read_concurrently():
    base = np.arange(48.0).reshape(6, 8)
    view = base[::-2, 1::3].T                 # strided, transposed, negative
    f32 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    ro = np.arange(5.0)
    ro.flags.writeable = False
    mv, by, ba = memoryview(np.arange(6.0)), bytes(range(16)), bytearray(12)

    prod = Producer(base)
    shared = [base, view, f32, ro, mv, by, ba, prod]
    rc = refcounts(shared)
    expect_sum = float(view.sum())

    def work(i):
        for _ in range(N):
            assert t.shape(view) == [3, 3] and t.strides(view) == [3, -16]
            assert t.sum_f64(view) == expect_sum
            assert t.sum_f64(ro) == 10.0
            assert t.sum_f64(mv) == 15.0
            assert t.sum_f64(prod) == base.sum()
            assert t.dtype_name(f32) == "float32" and t.order(f32) == "C"
            assert t.shape(by) == [16] and t.dtype_name(by) == "uint8"
            assert t.size(ba) == 12 and t.nbytes(mv) == 48
            assert t.describe(view) == "ndarray" and t.describe(i) == "int"
            assert t.is_array(prod) and not t.is_array("x")
            assert t.passthrough(f32) is f32
            t.pass_f32_ro(f32)
            t.pass_shape_3x_x4(np.zeros((3, i + 1, 4), np.float32))
            assert t.implicit(np.ones((2, 2), np.int64)) == 4.0
            assert t.sum_f64(base.__dlpack__(max_version=(1, 0))) == base.sum()
        return True
    assert in_threads(work) == [True] * THREADS
    assert refcounts(shared) == rc


def test_capsules_consumed_by_exactly_one_thread():
    """Eight threads try to import each capsule: one wins, the others get
    the ordinary mismatch (the capsule is ``used_``); a Rust-owned capsule's
    buffer is freed exactly once."""
    rounds = 3 * (N // 6)
    settle()
    start = t.destruct_count()
    caps = []
    for k in range(rounds):
        caps.append(np.arange(6.0).__dlpack__() if k % 3 == 0 else
                    np.arange(6.0).__dlpack__(max_version=(1, 0)) if k % 3 == 1 else
                    t.ret_capsule())
    rc = refcounts(caps)

    def work(i):
        won = []
        for k, cap in enumerate(caps):
            fn = t.size if k % 3 == 2 else t.sum_f64
            want = 8 if k % 3 == 2 else 15.0
            try:
                r = fn(cap)
            except TypeError as e:
                assert "incompatible function arguments" in str(e)
                assert str(e).endswith("Invoked with types: PyCapsule"), str(e)
                continue
            assert r == want
            won.append(k)
        return won
    wins = [k for won in in_threads(work) for k in won]
    assert sorted(wins) == list(range(rounds)), "each capsule imported exactly once"
    assert all('"used_dltensor' in repr(c) for c in caps)
    assert refcounts(caps) == rc
    del caps
    settle()
    assert t.destruct_count() - start == rounds // 3


def test_writable_views_of_one_array():
    """``scale`` (a mutable view for the call) on ONE array from 8 threads:
    each call succeeds or is refused (a live mutable view of that memory:
    another thread's call still runs), never both, never lost. Each thread
    alternates x2 and x0.5 on success, so its own net exponent is 0 or 1
    and the final value says exactly how many calls ran."""
    a = np.ones(4)
    f32 = np.zeros(10, np.float32)
    shared = [a, f32]
    rc = refcounts(shared)

    def work(i):
        net = done = refused = 0
        for k in range(HOT):
            scale = t.scale_nogil if k % 3 == 0 else t.scale
            try:
                scale(a, 0.5 if net else 2.0)
                net ^= 1
                done += 1
            except ValueError as e:  # another thread's call views it (mutably or not)
                assert re.match("array argument 0: " + LOAN_ERR, e.args[0]), e.args[0]
                refused += 1
            try:
                s = t.sum_f64(a)
                assert is_pow2(s / 4), s  # never a half-scaled array
            except ValueError as e:
                assert e.args[0].startswith(
                    "array argument 0: cannot make a view of memory that overlaps a live "
                    "mutable view"), e.args[0]
            if k % 8 == 0:
                try:
                    t.fill_arange(f32)  # NdArray::view_mut(): a view for the call only
                    assert f32.tolist() == list(range(10))  # others write the same values
                except ValueError as e:  # not with a GIL: it never releases it
                    assert not GIL and re.match("NdArray: " + LOAN_ERR, e.args[0]), e.args[0]
                t.pass_f32(f32)    # writable, no view: never refused
        return net, done, refused
    res = in_threads(work)
    assert sum(d + r for _, d, r in res) == THREADS * HOT
    assert sum(d for _, d, _ in res) > 0
    assert a.tolist() == [2.0 ** sum(n for n, _, _ in res)] * 4
    assert refcounts(shared) == rc


def test_torch_tensors_shared():
    torch = pytest.importorskip("torch")
    x = torch.ones(4, dtype=torch.float64)
    y = torch.arange(6, dtype=torch.float32)
    shared = [x, y]
    rc = refcounts(shared)

    def work(i):
        net = 0
        for _ in range(N):
            assert t.shape(y) == [6] and t.dtype_name(y) == "float32"
            try:
                t.scale(x, 0.5 if net else 2.0)
                net ^= 1
            except ValueError as e:
                assert "overlaps a live mutable view" in e.args[0]
        return net
    k = sum(in_threads(work))
    assert x.tolist() == [2.0 ** k] * 4
    assert refcounts(shared) == rc


# --- exports ----------------------------------------------------------------------

def test_exports_freed_exactly_once():
    settle()
    start = t.destruct_count()
    api = t.ret_array_api()         # one shared exporter, many consumers
    rc = sys.getrefcount(api)
    expect = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]

    def work(i):
        keep = []
        for k in range(N):
            x = t.ret_numpy()
            assert x.tolist() == expect
            keep.append(x[k % 2])       # a view keeps the owner alive
            z = t.ret_numpy_n(k % 5)
            assert z.tolist() == list(range(k % 5))
            n = np.from_dlpack(api)
            assert n.tolist() == expect
            assert np.asarray(t.ret_memview()).tolist() == expect
            if len(keep) > 4:
                assert keep.pop(0).tolist() in expect
        return 3 * N  # Rust-owned buffers made (the api's exports are not counted)
    made = sum(in_threads(work))
    assert sys.getrefcount(api) == rc
    del api
    settle()
    assert t.destruct_count() - start == made + 1


def test_one_holder_viewed_from_all_threads():
    settle()
    h = t.Holder(16)
    rc = sys.getrefcount(h)
    start = t.destruct_count()

    def work(i):
        views = []
        for _ in range(N):
            v = h.view()
            assert v[i] == float(i) and v.base is not None
            views.append(v)
            assert h.copy().tolist() == [float(j) for j in range(16)]
        return len(views)
    assert sum(in_threads(work)) == THREADS * N
    settle()
    assert sys.getrefcount(h) == rc and t.destruct_count() == start
    del h
    settle()
    assert t.destruct_count() - start == 1


# --- class borrows ----------------------------------------------------------------

def test_one_instance_borrowed_from_all_threads():
    """&mut self and &self methods, a free function taking &mut, a property,
    all on ONE instance: every refused borrow raises the documented
    RuntimeError; every accepted mutation is counted exactly and the two
    fields never disagree. ``bump_calling`` holds &mut across a Python call,
    so conflicts happen with a GIL too."""
    tally = Tally()
    rc = sys.getrefcount(tally)

    def work(i):
        done = 0
        for k in range(HOT):
            op = (i + k) % 5
            try:
                if op == 0:
                    tally.bump()
                    done += 1
                elif op == 1:
                    tally.bump_calling(lambda: sum(range(20)))
                    done += 1
                elif op == 2:
                    t.threads.tally_bump(tally, 3)
                    done += 3
                elif op == 3:
                    assert tally.read_calling(lambda: sum(range(20))) is True
                else:
                    assert tally.consistent() and tally.n >= 0
            except RuntimeError as e:
                assert e.args[0] is not None
                assert re.match(BORROW_ERR, e.args[0]), e.args[0]
        return done
    total = sum(in_threads(work))
    assert tally.n == total and tally.consistent()
    assert sys.getrefcount(tally) == rc


def test_one_point_scaled_and_read_from_all_threads():
    p = t.Point(1.0, 1.0)
    q = t.Point(3.0, 4.0)
    shared = [p, q]
    rc = refcounts(shared)
    unit = math.hypot(1.0, 1.0)

    def work(i):
        net = 0
        for j in range(HOT):
            try:
                if j % 2:
                    p.scale(0.5 if net else 2.0)
                else:
                    t.scale_by(p, 1.0)  # &mut as a plain parameter
                    assert is_pow2(p.y)  # a field getter
                    p.scale(0.5 if net else 2.0)
                net ^= 1
            except RuntimeError as e:
                assert "cannot borrow the 'ndbind_test.Point' instance" in e.args[0], e.args[0]
            try:
                n = p.norm()
                assert is_pow2(n / unit), n  # x == y: never half-scaled
                r = repr(p)
                xs, ys = r[len("Point(x="):-1].split(", y=")
                assert xs == ys, r
            except RuntimeError as e:
                assert "cannot borrow the 'ndbind_test.Point' instance" in e.args[0], e.args[0]
            assert q.norm() == 5.0 and t.norm_of(q) == 5.0
            assert (q + q).x == 6.0
        return net
    k = sum(in_threads(work))
    assert (p.x, p.y) == (2.0 ** k, 2.0 ** k)
    assert refcounts(shared) == rc


def test_instances_made_and_freed_concurrently():
    class PyPoint(t.Point):
        pass
    settle()
    live = (t.Point.live, Tally.live, t.live_counts()[0], t.arc_instances(), t.dyn_drops())
    shared = t.Counter(0)

    def work(i):
        keep = []
        for k in range(N):
            objs = [t.Point(k, i), t.Point3(1, 2, 3), PyPoint(0, k), Tally(),
                    t.Pod(1.0, 2.0), t.Counter(k), t.Dyn(k), t.Meters(1.0), t.pod_owned(1, 2)]
            objs[-3].cycle = objs[-3]  # a reference cycle through __dict__
            assert t.norm_of(objs[2]) == k and t.z_of(objs[1]) == 3.0
            assert objs[5].incr() == k + 1 and shared.incr() >= 1
            keep.append(objs if k % 3 == 0 else None)
            if len(keep) > 6:
                keep.pop(0)
        return True
    in_threads(work)
    assert shared.count == THREADS * N
    del shared
    settle()
    after = (t.Point.live, Tally.live, t.live_counts()[0], t.arc_instances(), t.dyn_drops())
    assert after[:4] == live[:4]
    assert after[4] - live[4] == THREADS * N  # every Dyn dropped exactly once


# --- overrides --------------------------------------------------------------------

def test_overrides_called_from_rust_while_the_class_is_patched():
    class Cat(t.Animal):
        def speak(self):
            return "meow"

    class Square(t.Shape):
        def __init__(self, s):
            super().__init__()
            self.s = s

        def area(self):
            return self.s * self.s
    cat, dog = Cat("tom"), t.make_dog("rex")
    sq = [Square(2.0), Square(3.0)]
    allowed = {"meow", "purr", "hiss"}
    shared = [cat, dog] + sq
    rc = refcounts(shared)

    def patch(word):
        Cat.speak = lambda self: word

    def work(i):
        for k in range(N):
            if i < 2 and k % 10 == 0:  # two threads patch the class mid-run
                patch(["purr", "hiss", "meow"][(k // 10 + i) % 3])
            assert t.call_speak(cat) in allowed
            if k % 4 == 0:
                assert t.call_speak_nogil(cat) in allowed
                assert set(t.chorus([cat, cat])) <= allowed
            assert t.call_speak(dog) == "rex: woof" and t.call_name(cat) == "tom"
            assert t.total_area(sq) == 13.0
            assert t.shape_scaled_area(sq[0], 2.0) == 16.0
            if k % 25 == 0:  # a new subclass, made while others call
                Sub = type(f"Sub{i}_{k}", (t.Animal,), {"speak": lambda self: f"sub{i}"})
                assert t.call_speak(Sub("x")) == f"sub{i}"
        return True
    in_threads(work)
    patch("hiss")
    assert t.call_speak(cat) == "hiss"  # the last patch is seen
    del Cat.speak
    assert t.call_speak(cat) == "..."    # back to the Rust default
    assert refcounts(shared) == rc


# --- exceptions -------------------------------------------------------------------

def test_exceptions_exact_in_every_thread():
    def message(fn, *args):
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001
            return type(e), str(e)
        raise AssertionError("did not raise")
    # The expected messages, made once in the main thread.
    ifa_add = message(t.add, "x")
    ifa_scale = message(t.scale, np.zeros(3, np.float32), 2.0)

    class NoArea(t.Shape):
        pass
    no_area = message(t.shape_area, NoArea())
    assert no_area[0] is RuntimeError

    def work(i):
        for k in range(N):
            msg = f"thread {i} iteration {k}"
            assert message(t.raise_value_error, msg) == (ValueError, msg)
            assert message(t.raise_custom, msg) == (t.CustomError, msg)
            assert message(t.add, "x") == ifa_add
            assert message(t.scale, np.zeros(3, np.float32), 2.0) == ifa_scale
            assert message(t.shape_area, NoArea()) == no_area
            if k % 10 == 0:
                e = message(t.panic)
                assert issubclass(e[0], RuntimeError) and "deliberate panic from Rust" in e[1]
            assert sys.exc_info() == (None, None, None)
        return True
    in_threads(work)


# --- enums, implicit conversions, keep_alive ---------------------------------------

def test_enums_implicit_conversions_and_keep_alive():
    settle()
    patient = t.Dyn(7)
    rc = sys.getrefcount(patient)
    drops = t.dyn_drops()
    Nurse = type("Nurse", (), {})
    nxt = {t.Color.Red: t.Color.Green, t.Color.Green: t.Color.Blue, t.Color.Blue: t.Color.Red}

    def work(i):
        c = t.Color.Red
        for k in range(N):
            assert t.next_color(c) is nxt[c]
            c = nxt[c]
            assert t.perm_bits(t.Perm.R | t.Perm.X) == 5 and t.Low is t.Level.Low
            assert t.double_meters(float(k)).value == 2.0 * k
            assert t.meters_value(t.Feet(1.0)) == 0.3048
            nurse = t.Point(0, 0) if k % 2 else Nurse()
            t.keep_alive(nurse, patient)
            t.keep_alive(nurse, patient)
        return True
    in_threads(work)
    settle()
    assert sys.getrefcount(patient) == rc  # every nurse released its patient
    assert patient.value == 7
    del patient
    settle()
    assert t.dyn_drops() == drops + 1


# --- first uses, raced in fresh processes -----------------------------------------

FIRST_USE = r"""
import sys, threading, datetime
import numpy as np
import ndbind_test as t

class Cat(t.Animal):
    def speak(self):
        return "meow"

ops = [
    lambda: t.ret_numpy().tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]],
    lambda: t.sum_f64(np.arange(4.0)) == 6.0,
    lambda: t.sum_f64(np.arange(4.0).__dlpack__()) == 6.0,
    lambda: np.from_dlpack(t.ret_array_api()).shape == (2, 4),
    lambda: t.next_color(t.Color.Blue) is t.Color.Red,
    lambda: t.perm_bits(t.Perm.W) == 2,
    lambda: t.double_meters(2.0).value == 4.0,
    lambda: t.Counter.shared(),
    lambda: t.call_speak(Cat("c")) == "meow",
    lambda: repr(t.Point(1, 2)) == "Point(x=1.0, y=2.0)",
    lambda: t.describe(np.zeros(1)) == "ndarray",
    lambda: t.roundtrip_duration(datetime.timedelta(seconds=1)) == datetime.timedelta(seconds=1),
    lambda: t.sum_list([1.0, 2.0]) == 3.0,
    lambda: t.Holder(3).view().tolist() == [0.0, 1.0, 2.0],
    lambda: isinstance(t.threads.Tally().n, int),
]
SHIFT = int(sys.argv[1])
barrier = threading.Barrier(8)
out = [None] * 8
def run(i):
    try:
        barrier.wait()
        res = []
        for j in range(len(ops)):
            k = (j + i * SHIFT) % len(ops)  # SHIFT 0: every thread the same first call
            res.append((k, ops[k]()))
        out[i] = res
    except BaseException as e:
        out[i] = repr(e)
ths = [threading.Thread(target=run, args=(i,)) for i in range(8)]
for th in ths: th.start()
for th in ths: th.join()
shared = [dict(r)[7] for r in out if isinstance(r, list)]
for i, r in enumerate(out):
    if not isinstance(r, list):
        print("thread", i, "failed:", r); sys.exit(1)
    bad = [k for k, ok in r if ok is False]
    if bad:
        print("thread", i, "wrong results of ops", bad); sys.exit(1)
if any(s is not shared[0] for s in shared):
    print("Counter.shared() gave different objects"); sys.exit(1)
print("ok gil", getattr(sys, "_is_gil_enabled", lambda: True)())
"""


@pytest.mark.parametrize("shift", [0, 1, 5])
def test_first_use_raced_in_a_fresh_process(shift):
    for _ in range(max(1, int(SCALE) // 4)):  # more processes without a GIL
        r = subprocess.run([sys.executable, "-c", FIRST_USE, str(shift)], capture_output=True,
                           text=True, timeout=TIMEOUT)
        assert r.returncode == 0 and r.stdout.startswith("ok"), (
            f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr[-3000:]}")
        assert r.stdout.strip() == f"ok gil {GIL}"  # the child runs as we do
