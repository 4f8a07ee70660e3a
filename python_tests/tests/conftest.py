"""Shared fixtures and helpers for the ndbind conformance suite."""
import gc
import os
import sys

import pytest

import ndbind_test  # noqa: F401  (fail early, with a clear error, if not built)

# Whether the module under test is the stable-ABI build (the `abi3` feature).
ABI3 = ndbind_test.ndbind_test.__file__.endswith(".abi3.so")

# pytest itself keeps test objects (holding ndbind functions and instances)
# alive past interpreter exit once torch is loaded, so the exit-time leak
# report would list them. test_classes.py checks the report in clean
# subprocesses instead (silent when nothing leaks, loud when something does).
ndbind_test.set_leak_warnings(False)


def _local_refs():
    o = object()
    return sys.getrefcount(o)


# ``sys.getrefcount(x)`` of an object that only the local variable ``x``
# holds: 2 up to 3.13 (the variable and the call's argument), 1 from 3.14 on,
# where loading a local for a call may borrow it (LOAD_FAST_BORROW).
ONE_OWNER = _local_refs()


def rss_bytes():
    """Resident set size of this process."""
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def assert_no_leak(fn, *args, n=100_000, **kwargs):
    """Calls ``fn(*args, **kwargs)`` n times and asserts that the reference
    counts of the arguments are unchanged and that memory stays flat.

    A warm-up round runs first, so caches (interned names, lazily imported
    modules) are filled before measuring.
    """
    for _ in range(1000):
        try:
            fn(*args, **kwargs)
        except Exception:
            pass
    gc.collect()
    before_refs = [sys.getrefcount(a) for a in args] + [sys.getrefcount(v) for v in kwargs.values()]
    before_rss = rss_bytes()
    for _ in range(n):
        try:
            fn(*args, **kwargs)
        except Exception:
            pass
    gc.collect()
    after_refs = [sys.getrefcount(a) for a in args] + [sys.getrefcount(v) for v in kwargs.values()]
    grown = rss_bytes() - before_rss
    assert after_refs == before_refs, f"reference counts changed: {before_refs} -> {after_refs}"
    # 100k calls leaking even 16 bytes each would grow by 1.6 MB.
    assert grown < 1_000_000, f"memory grew by {grown} bytes over {n} calls"


@pytest.fixture
def no_leak():
    return assert_no_leak


@pytest.fixture(autouse=True)
def _counted_owners_freed_with_the_gil():
    """DESIGN.md: an exported array's owner is freed with the GIL held, on
    whichever thread the last consumer lets go (torch, for one, drops its
    tensors with the GIL released). Every counted buffer checks it as it
    is freed."""
    before = ndbind_test.freed_without_gil()
    yield
    assert ndbind_test.freed_without_gil() == before, "an exported array's owner was freed without the GIL"
