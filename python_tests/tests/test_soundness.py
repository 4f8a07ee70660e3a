"""Soundness: what a user may rely on even when Python code, aliasing memory,
invalid values, failed allocations or foreign code try to break a call.

One section per class of the soundness issue:

1. Python code that runs while arguments are loaded (``__float__``,
   ``__index__``, ``__dlpack__`` of a later argument) must not invalidate
   what earlier arguments already loaded (lists, dicts, capsules, tensors,
   buffers, class instances).
2. A writable view never aliases itself, and ``add_into`` refuses exactly
   the calls whose ``out`` overlaps an input (checked against NumPy's exact
   ``shares_memory`` by property tests).
3. Values Rust forbids (a bool byte other than 0/1, torch's lazy negation
   bit) never reach Rust code.
5. Allocation failure is a ``MemoryError``, not an abort.
6. Error messages and keyword names with NUL / unencodable characters, and
   DLPack deleters written in Python running while an error is pending.
7. Arc-held instances handed back to Python while their Python object dies.
8. DLPack dtypes ndbind does not know are refused, never read as "unknown".
9. Small contract points: ``add`` overflow, ``inst_*`` on non-trivial
   types, ``passthrough`` of a raw capsule.

Everything that could crash the interpreter runs in a fresh interpreter
(``run_isolated``): a crash there is a failed test, not a dead pytest. The
scripts record every failed check (``FAILS``) instead of stopping at the
first one, so a failure message lists all the behaviours that are wrong.
"""
import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

import ndbind_test as t
from dlpack_ctypes import BOOL, COMPLEX, FLOAT, INT
from test_hostile import Forged, collect, is_used, rejected_unconsumed

IFA = "incompatible function arguments"
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


# --- helpers ------------------------------------------------------------------

def run_isolated(code: str, timeout: float = 90):
    """Runs ``code`` in a fresh interpreter (tests folder on ``sys.path``,
    the exit-time leak report enabled); returns (returncode, stdout, stderr).
    A crash shows up as a negative return code (the signal).

    Skipped under scripts/sanitize.sh: the fresh interpreter would run
    outside valgrind anyway (and its fork leaves valgrind a truncated log);
    the normal suite runs these."""
    if os.environ.get("NDBIND_SANITIZE"):
        pytest.skip("a fresh interpreter runs outside valgrind: covered by the normal test run")
    env = {k: v for k, v in os.environ.items() if k not in ("NDBIND_NO_LEAK_REPORT", "RUST_BACKTRACE")}
    env["PYTHONPATH"] = TESTS_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("JAX_PLATFORMS", "cpu")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, errors="replace", timeout=timeout,
                       env=env, cwd=TESTS_DIR)
    return r.returncode, r.stdout, r.stderr


# Shared by every isolated script: ``outcome`` turns a call into
# ("ok", result) or (exception type name, message); ``expect``/``check``
# record failed checks; ``done`` reports them (exit 1) or prints DONE.
PRELUDE = '''
import gc, sys
import numpy as np
import ndbind_test as t
IFA = "incompatible function arguments"
FAILS = []

def outcome(fn, *a, **k):
    try:
        return ("ok", fn(*a, **k))
    except Exception as e:
        return (type(e).__name__, str(e))

def check(tag, cond, got=""):
    if not cond:
        FAILS.append(f"{tag}: got {str(got)[:300]}")

def expect(tag, got, exc, frag=""):
    check(f"{tag} (expected {exc}{' ~ ' + repr(frag) if frag else ''})",
          got[0] == exc and frag in str(got[1]), got)

def used(cap):
    return '"used_dltensor' in repr(cap)

class Hook:
    """A float (and an index) whose conversion runs ``fn`` first: Python
    code running in the middle of argument loading. What ``fn`` raised is
    kept in ``inner`` and re-raised."""
    def __init__(self, fn, value=2.0):
        self.fn, self.value, self.inner = fn, value, None
    def _run(self):
        try:
            self.fn()
        except Exception as e:
            self.inner = (type(e).__name__, str(e))
            raise
    def __float__(self):
        self._run()
        return float(self.value)
    def __index__(self):
        self._run()
        return int(self.value)

def done():
    sys.stdout.flush()
    if FAILS:
        print("FAILED CHECKS:\\n" + "\\n".join(FAILS), file=sys.stderr)
        sys.exit(1)
    print("DONE")
'''


def isolated(body: str, timeout: float = 90):
    """Runs PRELUDE + ``body`` + ``done()`` isolated; asserts that it did not
    crash and that every check passed; returns (stdout, stderr)."""
    rc, out, err = run_isolated(PRELUDE + textwrap.dedent(body) + "\ndone()\n", timeout)
    if rc < 0:
        why = f"the interpreter crashed (signal {-rc})"
    elif rc != 0:
        why = f"exit status {rc}"
    else:
        why = "no DONE"
    assert rc == 0 and "DONE" in out, f"{why}; stderr tail:\n{err[-2500:]}"
    return out, err


def need(module):
    """Visible skip when ``module`` is not installed, without importing it
    here (the isolated script imports it)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def addresses(v):
    """Byte address of every element of ``v`` (brute force over indices)."""
    ptr = v.__array_interface__["data"][0]
    return [ptr + sum(i * s for i, s in zip(idx, v.strides)) for idx in np.ndindex(*v.shape)]


def self_overlaps(v):
    """True when two distinct indices of ``v`` reach overlapping bytes."""
    a = sorted(addresses(v))
    return any(y - x < v.itemsize for x, y in zip(a, a[1:]))


# --- 1. Python code running while arguments are loaded (re-entrancy) ----------

def test_sum_list_item_hook_that_resizes_the_list():
    """list[float]: items are converted one by one, each ``__float__`` may
    change the list; a size change is a RuntimeError ("changed size"), never
    a read past the end or of a freed item. Same-length changes are fine,
    as is replacing the very item being converted (the caster must hold it),
    and tuples (immutable) of such items."""
    isolated('''
    xs = []
    muts = {"clear": lambda: xs.clear(), "shrink": lambda: xs.pop(),
            "append": lambda: xs.append(9.0), "extend-big": lambda: xs.extend([0.5] * 10000)}
    for pos in (0, 1, 3):
        for name, mut in muts.items():
            xs[:] = [1.0, 2.0, 3.0, 4.0]
            xs[pos] = Hook(mut, 1.0)
            expect(f"sum_list/{name}@{pos}", outcome(t.sum_list, xs), "RuntimeError", "changed size")
    gc.collect()

    xs[:] = [1.0, None, 3.0]
    xs[1] = Hook(lambda: xs.__setitem__(2, 5.0), 1.0)       # same length, another item
    got = outcome(t.sum_list, xs)
    check("replace another item -> float (5.0 or 7.0)", got[0] == "ok" and got[1] in (5.0, 7.0), got)
    xs[:] = [1.0, None, 3.0]
    xs[1] = Hook(lambda: xs.__setitem__(1, 2.0), 1.0)       # drops the item being converted
    got = outcome(t.sum_list, xs)
    check("replace the item being converted -> 5.0", got == ("ok", 5.0), got)
    xs[:] = [1.0, 2.0]
    tup = (1.0, Hook(lambda: xs.clear(), 1.0), 3.0)
    check("tuple of hostile items", outcome(t.sum_list, tup) == ("ok", 5.0), outcome(t.sum_list, tup))
    xs[:] = [1.0, 2.0]
    gen = (x for x in [1.0, Hook(lambda: xs.clear(), 1.0), 3.0])
    got = outcome(t.sum_list, gen)
    check("generator: a float or TypeError-IFA", got == ("ok", 5.0) or (got[0] == "TypeError" and IFA in got[1]), got)
    check("still works", t.sum_list([1.0, 2.5]) == 3.5)
    ''')


def test_echo_dict_value_hook_that_resizes_the_dict():
    """dict[str, int]: a value's ``__index__`` (convert pass) that adds or
    deletes keys is a RuntimeError ("changed size"); replacing its own
    value (same size) must not crash (the caster holds the value)."""
    isolated('''
    for name, mut in {"add key": lambda d: d.__setitem__("zz", 1), "delete other key": lambda d: d.pop("b"),
                      "delete own key": lambda d: d.pop("a"), "clear": lambda d: d.clear()}.items():
        d = {"a": None, "b": 2}
        d["a"] = Hook(lambda d=d, mut=mut: mut(d), 7)
        expect(f"echo_dict/{name}", outcome(t.echo_dict, d), "RuntimeError", "changed size")
    d = {"a": None, "b": 2}
    d["a"] = Hook(lambda: d.__setitem__("a", 3), 7)         # drops the value being converted
    gc.collect()
    got = outcome(t.echo_dict, d)
    check("replace own value -> dict", got[0] == "ok" and got[1] in ({"a": 7, "b": 2}, {"a": 3, "b": 2}), got)
    check("still works", t.echo_dict({"x": 1}) == {"x": 1})
    ''')


CAPSULE_HOOK_BODY = '''
for kw in ({}, {"max_version": (1, 0)}):
    v = "versioned" if kw else "legacy"
    for consumer in CONSUMERS:
        a = np.arange(1e6); cap = a.__dlpack__(**kw); del a   # the capsule owns the only reference
        def hostile(consumer=consumer):
            try:
                consumer(cap)          # must fail: the outer call holds the tensor
            finally:
                gc.collect()
                junk = [np.full(10**6, 7.0) for _ in range(8)]   # reuse any freed memory
                del junk
        h = Hook(hostile)
        tag = f"{v}/{getattr(consumer, '__name__', consumer)}"
        expect(f"{tag}: scale(cap, hook)", outcome(t.scale, cap, h), "TypeError", IFA)
        check(f"{tag}: the inner consumer must fail", h.inner is not None, "it succeeded")
        check(f"{tag}: capsule handed back unconsumed", not used(cap), repr(cap))
        got = outcome(t.sum_f64, cap)
        check(f"{tag}: capsule still usable, right values", got == ("ok", 499999500000.0), got)
        check(f"{tag}: consumed by that last use", used(cap), repr(cap))
        del cap
        gc.collect()
'''


def test_raw_capsule_cannot_be_taken_by_a_hook_in_a_later_argument():
    """``scale(cap, E())``: while ``E.__float__`` runs, the capsule's tensor
    belongs to the outer call, so another consumer (``t.shape``,
    ``t.sum_f64``) fails inside the hook; the outer call then fails
    (TypeError-IFA) and hands the capsule back unconsumed and intact (its
    memory was not freed meanwhile, though the hook collected and
    allocated)."""
    isolated("CONSUMERS = [t.shape, t.sum_f64]\n" + CAPSULE_HOOK_BODY)


def test_raw_capsule_hook_that_drops_every_other_reference():
    """The argument tuple holds the only reference to the capsule; the hook
    drops everything else, collects and allocates: no crash, the tensor is
    released exactly once (no double free at exit)."""
    isolated('''
    for kw in ({}, {"max_version": (1, 0)}):
        caps = [np.arange(1e6).__dlpack__(**kw)]
        def hostile():
            caps.clear(); gc.collect()
            junk = [np.full(10**6, 7.0) for _ in range(8)]
            t.sum_f64(np.zeros(3))
            raise ValueError("hook gave up")
        expect(f"{kw or 'legacy'}", outcome(t.scale, caps.pop(), Hook(hostile)), "TypeError", IFA)
        gc.collect()
    check("still works", t.sum_f64(np.arange(4.0)) == 6.0)
    ''')


def test_raw_capsule_with_a_harmless_hook_writes_through():
    """Control for the two tests above: a hook that does nothing hostile
    lets ``scale(cap, E())`` write into the NumPy source and consumes the
    capsule."""
    isolated('''
    for kw in ({}, {"max_version": (1, 0)}):
        a = np.arange(4.0); cap = a.__dlpack__(**kw)
        expect(f"{kw or 'legacy'}: scale", outcome(t.scale, cap, Hook(lambda: None, 2.0)), "ok")
        check(f"{kw or 'legacy'}: written through", a.tolist() == [0.0, 2.0, 4.0, 6.0], a)
        check(f"{kw or 'legacy'}: consumed", used(cap), repr(cap))
    ''')


def test_torch_hooks_capsule_consumer_and_resize_or_replace():
    """torch: (a) ``torch.from_dlpack(cap)`` inside the hook fails (the outer
    call holds the tensor), the capsule comes back unconsumed and usable;
    (b) a tensor taken through the exchange API and resized (``resize_``) or
    re-pointed (``set_``) by a later argument's hook is a RuntimeError
    ("resized or replaced"), never a write to freed storage; (c) without
    a hook ``scale`` doubles the tensor in place."""
    pytest.importorskip("torch")
    isolated("import torch\nCONSUMERS = [torch.from_dlpack]\n" + CAPSULE_HOOK_BODY + '''
muts = {"resize_": lambda x: x.resize_(10**6),
        "set_": lambda x: x.set_(torch.zeros(3, dtype=torch.float64))}
for name, mut in muts.items():
    x = torch.ones(4, dtype=torch.float64)
    got = outcome(t.scale, x, Hook(lambda x=x, mut=mut: mut(x)))
    expect(f"torch {name} in hook", got, "RuntimeError", "resized or replaced")
    junk = [torch.full((10**6,), 7.0, dtype=torch.float64) for _ in range(4)]
    got = outcome(lambda x=x: (x.fill_(1.0), float(x.sum()))[1])
    check(f"torch {name}: tensor still usable", got == ("ok", float(x.numel())), got)
x = torch.ones(4, dtype=torch.float64)
expect("torch plain scale", outcome(t.scale, x, 2.0), "ok")
check("torch plain scale doubles in place", x.tolist() == [2.0] * 4, x)
''')


def test_numpy_hook_that_reshapes_or_retypes_the_array():
    """NumPy: a hook setting ``x.shape`` or ``x.dtype`` of an array loaded
    earlier may raise or not, but never crashes, and the 64 bytes hold
    either the old values (the call failed) or the scaled ones (it ran)."""
    isolated('''
    muts = {"shape": lambda x: setattr(x, "shape", (2, 4)), "dtype": lambda x: setattr(x, "dtype", np.float32)}
    for name, mut in muts.items():
        x = np.ones(8)
        got = outcome(t.scale, x, Hook(lambda x=x, mut=mut: mut(x)))
        check(f"{name}: no unexpected exception type",
              got[0] in ("ok", "TypeError", "RuntimeError", "ValueError", "AttributeError"), got)
        vals = set(np.frombuffer(x.tobytes(), np.float64).tolist())
        check(f"{name}: memory consistent with the outcome {got[0]}",
              x.nbytes == 64 and vals == ({2.0} if got[0] == "ok" else {1.0}), vals)
    ''')


def test_buffer_exports_are_held_while_hooks_run():
    """array.array arguments: their buffer export is held from load on, so a
    hook that resizes them gets BufferError (and the call is TypeError-IFA
    when the hook lets it propagate); nothing is written to reallocated
    memory. A read-only argument too (``add_into``'s ``a``, while ``out``'s
    ``__dlpack__`` tries the resize and then goes on). No conformance function
    takes a uint8 buffer followed by another argument, so ``bytearray`` is
    not covered here."""
    isolated('''
    import array
    for fn, code in ((t.scale, "d"), (t.bench.scale_inplace, "f")):
        b = array.array(code, [1.0, 2.0])
        h = Hook(lambda b=b: b.extend([0.0] * 100000))
        tag = f"{fn.__name__}(array('{code}'))"
        expect(tag, outcome(fn, b, h), "TypeError", IFA)
        check(f"{tag}: resize refused inside the hook", h.inner is not None and h.inner[0] == "BufferError", h.inner)
        check(f"{tag}: contents unchanged", b.tolist() == [1.0, 2.0], b)
        b.extend([3.0]); check(f"{tag}: resizable after the call", len(b) == 3, b)

    ra, rb, o = array.array("d", [1.0, 2.0]), array.array("d", [3.0, 4.0]), np.zeros(2)
    inner = []
    class Out:
        def __dlpack__(self, **kw):
            try:
                ra.extend([0.0] * 100000)
            except BufferError as e:
                inner.append("BufferError")
            return o.__dlpack__(**kw)
        def __dlpack_device__(self):
            return (1, 0)
    expect("add_into(array, array, hostile out)", outcome(t.add_into, ra, rb, Out()), "ok")
    check("read-only export held during loading", inner == ["BufferError"] and len(ra) == 2, (inner, len(ra)))
    check("add_into result", o.tolist() == [4.0, 6.0], o)
    ''')


def test_instance_mutably_borrowed_while_hooks_run():
    """``scale_by(p: &mut Point, f)``: while ``f.__float__`` runs, ``p`` is
    mutably borrowed, so destroying it, assigning a field or borrowing it
    again raises ("borrowed") inside the hook; the outer call is then
    TypeError-IFA and ``p`` stays valid and unchanged. (``inst_destruct``
    of a Point is refused anyway, see section 9: any TypeError/RuntimeError
    will do there.) Likewise ``counter_consume_with(c: Box<Counter>, n)``:
    the value being moved out cannot be moved, borrowed or mutated by ``n``'s
    ``__index__``, and stays in ``c`` when the call fails."""
    isolated('''
    ops = {"inst_destruct": lambda p: t.inst_destruct(p), "setattr": lambda p: setattr(p, "x", 5.0),
           "norm_of": lambda p: t.norm_of(p), "scale_by": lambda p: t.scale_by(p, 3.0)}
    for name, op in ops.items():
        p = t.Point(1.0, 2.0)
        h = Hook(lambda p=p, op=op: op(p))
        expect(f"scale_by with {name} in hook", outcome(t.scale_by, p, h), "TypeError", IFA)
        check(f"{name}: refused inside the hook (borrowed)",
              h.inner is not None and h.inner[0] in ("RuntimeError", "TypeError")
              and ("borrowed" in h.inner[1] or name == "inst_destruct"), h.inner)
        got = outcome(p.norm)
        check(f"{name}: p valid and unchanged afterwards", got == ("ok", 5 ** 0.5) and p.x == 1.0, got)
        t.scale_by(p, 2.0)
        check(f"{name}: p usable afterwards", p.x == 2.0, p)

    ops = {"counter_consume": lambda c: t.counter_consume(c), "incr": lambda c: c.incr(),
           "counter_reset": lambda c: t.counter_reset(c)}
    for name, op in ops.items():
        c = t.counter_boxed(5)
        h = Hook(lambda c=c, op=op: op(c), 1)
        expect(f"counter_consume_with with {name} in hook", outcome(t.counter_consume_with, c, h), "TypeError", IFA)
        check(f"{name}: refused inside the hook (borrowed)",
              h.inner is not None and h.inner[0] in ("RuntimeError", "TypeError") and "borrowed" in h.inner[1], h.inner)
        check(f"{name}: c still holds its value", outcome(lambda: c.count) == ("ok", 5), outcome(lambda: c.count))
        check(f"{name}: c consumable afterwards", outcome(t.counter_consume_with, c, 1) == ("ok", 6))
    ''')


# --- 2. writable views over self-aliasing memory; exact overlap check ---------

def _refused_self_alias(v, base, before):
    with pytest.raises(ValueError, match="share memory"):
        t.scale(v, 2.0)
    assert base.tolist() == before


def test_self_aliasing_numpy_views_are_not_writable():
    """A Rust ``&mut`` cannot alias itself: a writable view where distinct
    indices reach the same element is a ValueError ("share memory"), and
    nothing is written; read-only functions accept the same views."""
    x = np.ones(1)
    v = as_strided(x, (4,), (0,))
    _refused_self_alias(v, x, [1.0])
    assert t.sum_f64(v) == 4.0
    y = np.arange(5.0)
    w = as_strided(y, (3, 3), (8, 8))  # rows overlap: [0,1,2], [1,2,3], [2,3,4]
    _refused_self_alias(w, y, [0.0, 1.0, 2.0, 3.0, 4.0])
    assert t.sum_f64(w) == 18.0


def test_self_aliasing_torch_view_is_not_writable():
    torch = pytest.importorskip("torch")
    base = torch.ones(1, dtype=torch.float64)
    v = base.expand(4)
    with pytest.raises(ValueError, match="share memory"):
        t.scale(v, 2.0)
    assert base.tolist() == [1.0]
    assert t.sum_f64(v) == 4.0


def test_add_into_interleaved_disjoint_views_are_accepted():
    """Views of one buffer that never touch the same bytes are no overlap:
    even/odd strides, and the real/imaginary parts of a complex array."""
    x = np.zeros(8)
    t.add_into(x[::2], np.ones(4), x[1::2])
    assert x.tolist() == [0.0, 1.0] * 4
    c = np.arange(4.0) + 10j
    t.add_into(c.real, np.ones(4), c.imag)
    assert c.tolist() == [complex(i, i + 1) for i in range(4)]


def test_add_into_overlapping_views_are_refused():
    x = np.zeros(10)
    with pytest.raises(ValueError, match="overlap"):
        t.add_into(x[:5], np.ones(5), x[4:9])  # one shared element
    with pytest.raises(ValueError, match="overlap"):
        t.add_into(x, np.ones(10), x)  # out is a
    with pytest.raises(ValueError, match="overlap"):
        t.add_into(np.ones(10), x, x)  # out is b
    assert x.tolist() == [0.0] * 10


N = 64


@st.composite
def view_1d(draw, base, n=None):
    """An n-element float64 view of ``base`` (64 elements): element step in
    [-8, 8] (0: one element repeated), any in-bounds start; by slicing when
    the step allows, otherwise by ``as_strided``."""
    if n is None:
        n = draw(st.integers(0, 16))
    most = min(8, (N - 1) // (n - 1)) if n > 1 else 8
    step = draw(st.integers(-most, most))
    span = (n - 1) * abs(step) if n else 0
    start = draw(st.integers(0, N - 1 - span) if step >= 0 else st.integers(span, N - 1))
    if step != 0 and draw(st.booleans()):
        stop = start + n * step
        v = base[start:(stop if stop >= 0 else None):step]
    else:
        v = as_strided(base[start:], (n,), (step * 8,))
    assert len(v) == n
    return v


@st.composite
def view_nd(draw, base):
    """A 1-D or 2-D float64 view of ``base`` with element strides in [-6, 6]
    (0 allowed), extents in [0, 6], staying in bounds."""
    ndim = draw(st.integers(1, 2))
    shape = [draw(st.integers(0, 6)) for _ in range(ndim)]
    steps = [draw(st.integers(-6, 6)) for _ in range(ndim)]
    lo = sum(min(0, (s - 1) * k) for s, k in zip(shape, steps) if s)
    hi = sum(max(0, (s - 1) * k) for s, k in zip(shape, steps) if s)
    start = draw(st.integers(-lo, N - 1 - hi))
    return as_strided(base[start:], shape, [8 * k for k in steps])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_add_into_refuses_exactly_the_overlapping_outputs(data):
    """``add_into(a, b, out)`` raises ValueError exactly when ``out`` shares
    memory with ``a`` (NumPy's exact answer) or with itself, and then
    writes nothing; otherwise ``out == a + 1`` with ``a`` read before the
    call, and nothing outside ``out`` changes. (The base holds 0..63, not
    zeros, so a misplaced element shows.)"""
    base = np.arange(float(N))
    out = data.draw(view_1d(base), "out")
    a = data.draw(view_1d(base, len(out)), "a")
    b = np.ones(len(out))
    a0, before = a.copy(), base.copy()
    shares, aliased = np.shares_memory(a, out, max_work=None), self_overlaps(out)
    event(f"shares={bool(shares)} self-aliased={aliased}")
    if shares or aliased:
        with pytest.raises(ValueError) as e:
            t.add_into(a, b, out)
        msg = str(e.value)
        assert ("overlap" in msg and shares) or ("share memory" in msg and aliased), msg
        assert np.array_equal(base, before), "a refused call wrote"
    else:
        t.add_into(a, b, out)
        assert out.tolist() == (a0 + 1).tolist()
        touched = {(p - base.ctypes.data) // 8 for p in addresses(out)}
        rest = [i for i in range(N) if i not in touched]
        assert np.array_equal(base[rest], before[rest]), "wrote outside out"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_scale_refuses_exactly_the_self_aliasing_views(data):
    """``scale(v, 2.0)`` raises ValueError ("share memory") exactly when two
    distinct indices of ``v`` reach the same element (brute force), writing
    nothing; otherwise every element reached is doubled exactly once."""
    base = np.arange(float(N))
    v = data.draw(view_nd(base), "v")
    before = base.copy()
    event(f"ndim={v.ndim} self-aliased={self_overlaps(v)}")
    if self_overlaps(v):
        with pytest.raises(ValueError, match="share memory"):
            t.scale(v, 2.0)
        assert np.array_equal(base, before)
    else:
        t.scale(v, 2.0)
        expected = before.copy()
        for p in addresses(v):
            expected[(p - base.ctypes.data) // 8] *= 2
        assert np.array_equal(base, expected)


# --- 2b. views of arrays kept by Rust after their call (loans) ------------------

@pytest.fixture
def stash():
    t.unstash_arrays()
    yield
    t.unstash_arrays()


def test_two_stored_writable_handles_of_one_array_never_alias(stash):
    # Each call's alias check sees only its own arguments; the handles live
    # on: their mutable views must still not exist at once.
    x = np.zeros(4)
    t.stash_array(x)
    t.stash_array(x)
    with pytest.raises(ValueError, match="live mutable view"):
        t.stash_fill_both(3.0)
    assert x.tolist() == [0.0] * 4
    t.stash_fill(2.0)  # one view at a time is fine
    assert x.tolist() == [2.0] * 4
    y = np.zeros(4)
    t.unstash_arrays()
    t.stash_array(x)
    t.stash_array(y)  # distinct memory: both views at once are fine
    t.stash_fill_both(5.0)
    assert x.tolist() == y.tolist() == [5.0] * 4


def test_call_cannot_view_memory_a_stored_handles_view_holds(stash):
    x = np.zeros(4)
    t.stash_array(x)
    seen = []

    def inner():
        for call in (lambda: t.scale(x, 2.0), lambda: t.sum_f64(x), lambda: t.scale(x[1:3], 2.0)):
            try:
                call()
                seen.append("ok")
            except ValueError as e:
                seen.append(str(e))
        t.sum_f64(np.ones(2))  # other memory is fine meanwhile
    t.stash_fill_calling(7.0, inner)
    assert len(seen) == 3 and all("live mutable view" in m for m in seen), seen
    assert x.tolist() == [7.0] * 4
    assert t.sum_f64(x) == 28.0  # the loan ended with the view


def test_stored_handle_cannot_view_memory_a_running_call_lends(stash):
    x = np.arange(4.0)
    t.stash_array(x)
    assert t.stash_sum_with(x) == 12.0  # two shared views: fine
    with pytest.raises(ValueError, match="live view"):
        t.stash_fill_with(x)  # a mutable view while the parameter reads it
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert t.stash_fill_with(np.ones(3)) == 3.0 and x.tolist() == [1.0] * 4


def test_nogil_view_is_lent_while_the_gil_is_released():
    # Another thread cannot take a conflicting view while a GIL-free call
    # holds one (before: two threads writing one array at once).
    import threading
    x = np.zeros(1000)
    started = threading.Event()
    out = []

    def hold():
        started.set()
        out.append(t.hold_view_nogil(x, 300))
    th = threading.Thread(target=hold)
    th.start()
    started.wait()
    import time
    time.sleep(0.1)
    with pytest.raises(ValueError, match="live mutable view"):
        t.scale(x, 2.0)
    th.join()
    assert out == [1000]
    t.scale(x, 2.0)  # after the call: fine


def test_stored_bool_handle_is_checked_again_when_viewed():
    # A handle kept across calls: Python may write other bytes meanwhile,
    # which must not become Rust bools when the handle is viewed later.
    b = np.ones(3, dtype=bool)
    t.stash_bools(b)
    try:
        assert t.stashed_bools_all() is True
        b.view(np.uint8)[1] = 2
        with pytest.raises(ValueError, match="0 and 1"):
            t.stashed_bools_all()
        assert t.stashed_bool(0) is True and t.stashed_bool(1) is None
        b.view(np.uint8)[1] = 0
        assert t.stashed_bools_all() is False and t.stashed_bool(1) is False
    finally:
        t.stash_bools(None)


# --- 3. values Rust forbids ---------------------------------------------------

def test_bool_bytes_other_than_0_and_1_never_reach_rust():
    """A Rust ``bool`` must be 0 or 1: a NumPy bool view of other bytes is a
    ValueError (naming bool, 0 and 1), through NumPy, a memoryview and a
    DLPack capsule (legacy and versioned); a proper bool array passes.
    (The module has no read-only bool function: ``pass_bool`` only.)"""
    raw = np.array([0, 1, 2, 255], np.uint8)
    with pytest.raises(ValueError) as e:
        t.pass_bool(raw.view(bool))
    msg = str(e.value)
    assert "bool" in msg and "0" in msg and "1" in msg, msg
    with pytest.raises(ValueError, match="bool"):
        t.pass_bool(memoryview(raw.view(bool)))
    src = np.array([0, 2], np.uint8)
    with pytest.raises(ValueError, match="bool"):
        t.pass_bool(src.view(bool).__dlpack__())
    with pytest.raises(ValueError, match="bool"):
        t.pass_bool(src.view(bool).__dlpack__(max_version=(1, 0)))
    assert src.tolist() == [0, 2] and raw.tolist() == [0, 1, 2, 255]
    assert t.pass_bool(np.array([True, False, True])) is None
    assert t.pass_bool(np.array([0, 1], np.uint8).view(bool).__dlpack__()) is None


def test_torch_negative_bit_views_are_refused_like_conjugates():
    """torch's lazy negation (``is_neg()``): the memory holds the opposite
    values, so a raw view would read (or write) wrong numbers. Refused
    (TypeError-IFA) for reading and writing; ``resolve_neg()`` is fine."""
    torch = pytest.importorskip("torch")
    im = torch.tensor([1 + 2j], dtype=torch.complex128).conj().imag
    assert im.dtype == torch.float64 and im.is_neg()
    with pytest.raises(TypeError, match=IFA):
        t.sum_f64(im)
    base = torch.ones(3, dtype=torch.float64)
    neg = torch._neg_view(base)
    assert neg.is_neg()
    with pytest.raises(TypeError, match=IFA):
        t.sum_f64(neg)
    with pytest.raises(TypeError, match=IFA):
        t.scale(neg, 3.0)
    assert base.tolist() == [1.0, 1.0, 1.0]
    assert t.sum_f64(neg.resolve_neg()) == -3.0
    assert t.sum_f64(im.resolve_neg()) == -2.0


def test_torch_lazy_bits_checked_when_an_ndarray_parameter_reads_values():
    """A read-only ``NdArray`` parameter only looks at the bits when its
    values are read (``view()``, ``get()``, a copy): shape and dtype queries
    stay cheap and correct, reads raise ``ValueError``."""
    torch = pytest.importorskip("torch")
    neg = torch._neg_view(torch.ones(4, 4))
    conj = torch.ones(2, dtype=torch.complex64).conj()
    assert t.shape(neg) == [4, 4] and t.dtype_name(conj) == "complex64"
    with pytest.raises(ValueError, match="negative or conjugate bit"):
        t.bench.ro_sum(neg)  # NdArray::view()
    for x in (neg, conj):
        with pytest.raises(ValueError, match="negative or conjugate bit"):
            t.passthrough_copy(x)  # reads every value
    assert t.bench.ro_sum(neg.resolve_neg()) == -16.0
    assert np.allclose(t.passthrough_copy(conj.resolve_conj()), [1 - 0j, 1 - 0j])


# --- 5. allocation failure ----------------------------------------------------

HUGE = {
    "ret_numpy_n": (None, "t.ret_numpy_n(2**40)"),
    "Holder": (None, "t.Holder(2**40)"),
    "passthrough_copy": (None, "t.passthrough_copy(np.broadcast_to(np.zeros(1), (2**40,)))"),
    "bench.make_array": (None, "t.bench.make_array(2**40)"),
    "bench.make_torch": ("torch", "t.bench.make_torch(2**40)"),
    "bench.make_jax": ("jax", "t.bench.make_jax(2**40)"),
}


@pytest.mark.parametrize("case", list(HUGE))
def test_failed_allocation_is_a_memory_error(case):
    """Terabytes cannot be allocated (the address space is also capped at
    512 GiB, so even an always-overcommitting machine refuses): the call
    raises MemoryError, the process goes on and the module still works."""
    module, expr = HUGE[case]
    if module:
        need(module)
    isolated(f'''
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (2**39, 2**39))
    {f"import {module}" if module else ""}
    expect({case!r}, outcome(lambda: {expr}), "MemoryError")
    got = outcome(t.ret_numpy_n, 4)
    check("a normal call afterwards", got[0] == "ok" and got[1].tolist() == [0, 1, 2, 3], got)
    check("sum_list afterwards", t.sum_list([1.0, 2.0]) == 3.0)
    ''')


def test_dlpack_copy_of_a_huge_ndbind_array():
    """``__dlpack__(copy=True)`` of a huge ``ndbind.ndarray`` (one element
    repeated 2**40 times by a zero stride): ``MemoryError``, not an abort;
    a small one copies."""
    isolated("""
    base = np.array([3.0], np.float32)
    big = t.broadcast_first(base, 2**40)
    check("shape", t.shape(big) == [2**40], t.shape(big))
    for kw in ({}, {"max_version": (1, 0)}):
        expect(f"copy {kw}", outcome(lambda: big.__dlpack__(copy=True, **kw)), "MemoryError")
    small = t.broadcast_first(base, 3)
    cap = small.__dlpack__(copy=True, max_version=(1, 0))
    check("small copy", t.sum_f64 is not None and t.shape(cap) == [3], cap)
    expect("read-only, so never writable", outcome(t.pass_f32, t.broadcast_first(base, 3)), "TypeError", IFA)
    """)


# --- 6. errors and foreign code -----------------------------------------------

def test_error_message_with_nul_is_kept():
    """``ValueError(msg)`` raised from Rust carries the message verbatim,
    NUL included."""
    isolated('''
    got = outcome(t.raise_value_error, "a\\0b")
    check("raise_value_error('a\\\\0b')", got == ("ValueError", "a\\x00b"), got)
    ''')


def test_keyword_names_with_nul_or_unencodable_characters():
    """Keyword names are matched without assuming they are C strings or
    valid UTF-8: no match is TypeError-IFA, never a crash or another
    error."""
    isolated('''
    expect("add(1, **{'b\\\\0': 2})", outcome(lambda: t.add(1, **{"b\\0": 2})), "TypeError", IFA)
    expect("add(1, **{'\\\\udcff': 2})", outcome(lambda: t.add(1, **{"\\udcff": 2})), "TypeError")
    check("add(1, b=2) afterwards", t.add(1, b=2) == 3)
    ''')


def test_python_deleter_runs_once_while_the_functions_error_is_pending():
    """A forged capsule whose DLPack deleter is Python code calling C
    functions. ``add_into`` consumes it and then raises ValueError from its
    body ("lengths differ"); the deleter runs while that error is pending,
    so ndbind must save and restore it: the ValueError arrives intact (not
    a SystemError), nothing is reported as ignored, and the deleter ran
    exactly once over the capsule's life."""
    _, err = isolated('''
    from test_hostile import Forged
    from dlpack_ctypes import DELETER
    calls = []
    def deleter(ptr):
        calls.append(ptr)                 # C calls with an error possibly pending
        sorted(calls); repr(calls); isinstance(ptr, int)
    f = Forged(shape=(3,))
    f._deleter = DELETER(deleter)
    f.mt.deleter = f._deleter
    cap = f.capsule()
    got = outcome(t.add_into, cap, np.ones(3), np.zeros(2))
    expect("add_into(cap, ones(3), zeros(2))", got, "ValueError", "lengths differ")
    del cap
    gc.collect()
    check("deleter ran exactly once", len(calls) == 1, len(calls))
    check("module still works", t.sum_f64(np.arange(3.0)) == 3.0)
    ''')
    assert "Exception ignored" not in err and "SystemError" not in err, err


# --- 7. lifetimes of Arc-held instances (identity map) -------------------------

ARC_BODY = '''
t.set_leak_warnings(True)
class Sub(t.Counter):
    pass
c = Sub(5)
t.stash_counter(c)                 # Rust keeps an Arc clone
seen = []
class D:
    def __del__(self):
        x = t.unstash_counter()    # Rust hands the Arc back while c dies
        seen.append(x)
        EXTRA(x)
c.d = D()
if CYCLE:
    c.me = c
del c
gc.collect()
check("unstash_counter() gave a Counter", len(seen) == 1 and isinstance(seen[0], t.Counter), seen)
s = seen[0]
check("count", outcome(lambda: s.count) == ("ok", 5), outcome(lambda: s.count))
check("incr", outcome(s.incr)[0] == "ok" and s.count == 6, s.count)
refs = outcome(t.counter_refs, s)
check("a live Arc (small strong count)", refs[0] == "ok" and 1 <= refs[1] <= 8, refs)
check("counter_count", outcome(t.counter_count, s) == ("ok", 6), outcome(t.counter_count, s))
t.stash_counter(s)
check("identity map: the same object comes back", t.unstash_counter() is s)
del s, seen
gc.collect()
'''


@pytest.mark.parametrize("cycle", [False, True], ids=["refcount", "gc-cycle"])
@pytest.mark.parametrize("extra", ["none", "shared"])
def test_arc_handed_back_while_its_python_object_dies(cycle, extra):
    """A Python subclass instance of the Arc-held ``Counter`` is stashed by
    Rust; while it is being deallocated (by refcount or by the cycle
    collector) a ``__del__`` asks Rust for the Arc back. The result must be
    a live, usable Counter (not the dying object), and at exit there is no
    identity-map complaint and no leak report. The "shared" variant also
    calls ``Counter.shared()``-style functions on it inside ``__del__``."""
    extra_fn = {"none": "lambda x: None",
                "shared": "lambda x: (t.Counter.shared().incr(), t.same_counter(x, x), "
                          "t.counters_total([x, t.Counter.shared()]), t.counter_refs(x))"}[extra]
    _, err = isolated(f"CYCLE = {cycle}\nEXTRA = {extra_fn}\n" + ARC_BODY)
    assert "missing from the identity map" not in err, err
    assert "leaked" not in err, err


# --- 8. DLPack dtypes ndbind does not know -----------------------------------

BAD_DTYPES = {
    "code-99": (99, 8, 1), "code-200": (200, 32, 1), "complex-48": (COMPLEX, 48, 1),
    "int-12": (INT, 12, 1), "lanes-2": (FLOAT, 64, 2), "bool-16": (BOOL, 16, 1),
    "float6-e2m3": (15, 6, 1), "float6-e3m2": (16, 6, 1), "float4-e2m1": (17, 4, 1),
}


@pytest.mark.parametrize("fn", ["dtype_name", "shape", "describe"])
@pytest.mark.parametrize("case", list(BAD_DTYPES))
def test_unknown_dlpack_dtype_is_refused_not_unknown(case, fn):
    """A dtype ndbind cannot name is a ValueError ("DLPack") even for "any
    array" parameters: an unknown element type must not be handed to Rust
    as "unknown" bytes. The capsule stays unconsumed and its deleter runs
    once, when it dies."""
    rejected_unconsumed(Forged(dtype=BAD_DTYPES[case], shape=(1,)), getattr(t, fn), ValueError, "DLPack")


@pytest.mark.parametrize("code", range(7, 15))
def test_float8_dlpack_codes_are_named_or_refused(code):
    """DLPack 1.1 float8 codes (7..14, 8 bits): either a specific name or a
    ValueError, never "unknown"; deleted exactly once either way."""
    f = Forged(dtype=(code, 8, 1), shape=(1,))
    cap = f.capsule()
    try:
        name = t.dtype_name(cap)
    except ValueError as e:
        assert "DLPack" in str(e)
        name = None
    assert name != "unknown"
    del cap
    collect()
    assert (f.deletes, f.capsule_freed) == (1, 1)


# --- 9. the conformance module ------------------------------------------------

@pytest.mark.parametrize("a,b", [(2**62, 2**62), (-2**63, -1), (2**63 - 1, 1)])
def test_add_never_wraps(a, b):
    """``add`` overflowing i64 raises OverflowError or returns the exact sum
    (a bigger integer type); it never wraps around."""
    try:
        r = t.add(a, b)
    except OverflowError:
        return
    assert r == a + b


def test_inst_functions_refuse_non_trivial_types_and_non_instances():
    """``inst_destruct``/``inst_zero``/``inst_mark_ready``/``inst_set_state``
    change an instance's state behind Rust's back: only for trivial types
    (Pod). A ``Point`` (or an int) is TypeError, and the Point still works."""
    isolated('''
    calls = {"inst_destruct": lambda o: t.inst_destruct(o), "inst_zero": lambda o: t.inst_zero(o),
             "inst_mark_ready": lambda o: t.inst_mark_ready(o),
             "inst_set_state": lambda o: t.inst_set_state(o, False, False)}
    for name, call in calls.items():
        p = t.Point(1.0, 2.0)
        expect(f"{name}(Point)", outcome(call, p), "TypeError")
        got = outcome(p.norm)
        check(f"{name}(Point): p.norm() afterwards", got == ("ok", 5 ** 0.5), got)
        expect(f"{name}(5)", outcome(call, 5), "TypeError")
    ''')


def test_inst_functions_still_work_on_pod():
    q = t.Pod(1.0, 2.0)
    t.inst_destruct(q)
    assert t.inst_state(q) == (False, False)
    t.inst_zero(q)
    t.inst_mark_ready(q)
    assert t.inst_state(q) == (True, True) and q.total() == 0.0
    t.inst_set_state(q, True, True)
    assert t.inst_state(q) == (True, True)


@pytest.mark.parametrize("kw", [{}, {"max_version": (1, 0)}], ids=["legacy", "versioned"])
def test_passthrough_of_a_raw_capsule_returns_a_fresh_unconsumed_capsule(kw):
    """``passthrough(cap)``: the import consumed ``cap``, so the result is a
    new capsule over the same memory, unconsumed, usable by a consumer of
    raw capsules (but not by ``np.from_dlpack``, which wants ``__dlpack__``)."""
    a = np.arange(4.0)
    cap = a.__dlpack__(**kw)
    r = t.passthrough(cap)
    assert type(r).__name__ == "PyCapsule" and r is not cap
    assert not is_used(r), repr(r)
    with pytest.raises((AttributeError, TypeError)):
        np.from_dlpack(r)
    assert t.sum_f64(r) == 6.0 and is_used(r)
    del r, cap
    collect()


@pytest.mark.parametrize("kw", [{}, {"max_version": (1, 0)}], ids=["legacy", "versioned"])
def test_passthrough_capsule_shares_memory_with_torch(kw):
    torch = pytest.importorskip("torch")
    a = np.arange(4.0)
    x = torch.from_dlpack(t.passthrough(a.__dlpack__(**kw)))
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]
    x[0] = 42.0
    assert a[0] == 42.0


# --- 4. safe API: what bound code and hostile Python cannot break --------------

def test_a_class_named_numpy_ndarray_is_not_read_as_one():
    # Array structs are read directly only for NumPy's own type; a class
    # that merely bears its name goes through the general routes (and is
    # no array at all here).
    victim = np.arange(4.0)
    Fake = type("numpy.ndarray", (), {"__slots__": tuple("abcdefg")})
    f = Fake()
    f.a, f.f = victim, 12 << 30
    for fn in (t.sum_f64, t.shape, t.is_array):
        r = fn(f) if fn is t.is_array else None
        if fn is t.is_array:
            assert r is False
        else:
            with pytest.raises(TypeError, match=IFA):
                fn(f)
    assert t.sum_f64(victim) == 6.0  # the real type still takes the fast route


def test_value_taken_out_of_its_instance_does_not_follow_a_dead_back_pointer():
    isolated('''
    class Dog(t.Animal):
        def speak(self):
            return "woof"
    d = Dog("rex")
    check("override", t.call_speak(d) == "woof", t.call_speak(d))
    t.steal_animal(d)                       # the value (and its trampoline) leaves `d`
    check("stolen value: Rust default", outcome(t.speak_stolen) == ("ok", "..."), outcome(t.speak_stolen))
    del d
    gc.collect()
    big = [Dog(str(i)) for i in range(200)]  # reuse the memory
    check("after the instance died", outcome(t.speak_stolen) == ("ok", "..."), outcome(t.speak_stolen))
    t.clear_stolen()
    ''')


def test_reference_into_a_value_moved_out_through_a_box_is_refused():
    isolated('''
    o = t.pair_boxed(t.Pod(1, 2), t.Pod(3, 4))
    r = o.first_ref()
    check("reference works", r.total() == 3.0, r.total())
    check("consumed", t.pair_consume(o) == 4.0)
    expect("after the move", outcome(r.total), "TypeError", "destructed")
    t.Pair.__init__(o, t.Pod(5, 6), t.Pod(7, 8))   # rebuilt inline
    expect("after a rebuild elsewhere", outcome(r.total), "TypeError", "moved or rebuilt")
    expect("low-level on it", outcome(t.inst_state, r), "TypeError", "moved or rebuilt")
    check("the parent is fine", o.first.total() == 11.0, o.first.total())
    ''')


def test_a_panicking_type_name_raises_instead_of_unwinding_into_python():
    # A user caster's `type_name` that panics: rendering `__doc__` and the
    # mismatch message raise (ndbind's panic exception, a RuntimeError).
    for get in (lambda: t.panicky_signature.__doc__, lambda: t.panicky_signature("x")):
        with pytest.raises(RuntimeError, match="deliberate panic in type_name"):
            get()
    assert t.panicky_signature(3) == 3


def test_python_objects_made_on_a_rust_thread_panic_instead_of_racing():
    # std::thread::spawn inside a bound function: the thread does not hold
    # the GIL, so every way to make a Python object from nothing panics
    # there (joined as an error), never touching the C API.
    assert t.python_from_a_rust_thread() == [True, True, True, True]


def test_handle_in_a_thread_local_is_released_safely_when_the_thread_exits():
    # The thread-local destructor runs after the Python thread let go of the
    # GIL (while another thread runs Python): the reference is leaked, not
    # decremented without the GIL.
    isolated("""
    import threading, sys
    obj = object()
    before = sys.getrefcount(obj)
    stop = False
    def busy():
        n = 0
        while not stop:
            n += 1  # other Python code holds the GIL meanwhile
    b = threading.Thread(target=busy)
    b.start()
    for _ in range(50):
        th = threading.Thread(target=t.keep_in_thread_local, args=(obj,))
        th.start()
        th.join()
    stop = True
    b.join()
    gc.collect()
    check("leaked, never decremented", sys.getrefcount(obj) == before + 50, (before, sys.getrefcount(obj)))
    """)


def test_a_user_dtype_with_bfloat16s_type_char_is_not_read_as_bfloat16():
    # ml_dtypes.uint1 shares bfloat16's type char and kind but has one-byte
    # elements: reading it as bfloat16 read and wrote past the buffer.
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, "uint1"):
        pytest.skip("this ml_dtypes has no uint1")
    base = np.zeros(7, np.uint8)
    u1 = base.view(ml_dtypes.uint1)[::2]
    assert t.dtype_name(np.zeros(2, ml_dtypes.bfloat16)) == "bfloat16"
    for fn in (t.dtype_name, t.pass_bf16):
        with pytest.raises(TypeError, match=IFA):
            fn(u1)
    assert base.tolist() == [0] * 7


def test_kept_torch_handle_refuses_to_view_a_resized_or_replaced_tensor():
    need("torch")
    isolated("""
    import torch
    for how in ("resize", "set"):
        x = torch.zeros(1_000_000, dtype=torch.float64)
        t.stash_array(x)
        t.stash_fill(1.0)
        check(f"{how}: before", float(x[0]) == 1.0)
        if how == "resize":
            x.resize_(20_000_000)   # the old storage is freed
        else:
            x.set_(torch.zeros(4, dtype=torch.float64))
        expect(how, outcome(t.stash_fill, 7.0), "RuntimeError", "resized or replaced")
        t.unstash_arrays()
    """)


def test_shared_rust_data_goes_out_as_a_copy():
    # A static exported to torch, which writes through DLPack's read-only
    # flag: a copy, so the static (in read-only memory) never sees it.
    torch = pytest.importorskip("torch")
    x = t.ret_table_torch()
    x[0] = 100.0
    assert t.table_sum() == 10.0 and t.ret_table_torch().tolist() == [1.0, 2.0, 3.0, 4.0]


def test_an_exported_view_pins_its_instance():
    # Holder.view() (reference_internal) shares the Holder's own buffer:
    # while the view lives, the value can be neither mutated from Rust,
    # moved nor destructed (before: a write to freed memory).
    h = t.Holder(4)
    v = h.view()
    with pytest.raises(RuntimeError, match="borrowed"):
        h.set(0, 5.0)
    with pytest.raises(RuntimeError, match="borrowed"):
        t.inst_destruct_any(h)
    v[1] = 7.0  # Python may still write its own view
    assert h.copy().tolist() == [0.0, 7.0, 2.0, 3.0]
    del v
    import gc
    gc.collect()
    h.set(0, 5.0)
    assert h.copy().tolist() == [5.0, 7.0, 2.0, 3.0]
    t.inst_destruct_any(h)
