"""CONFORMANCE section 4, row Holder: a class owning Rust data that hands out
zero-copy NumPy views (keeping the Holder alive) and independent copies."""
import gc
import sys
import threading

import numpy as np
import pytest

from conftest import ONE_OWNER

import ndbind_test as t


def test_view_shares_the_holders_memory():
    h = t.Holder(5)
    v = h.view()
    assert type(v) is np.ndarray and v.dtype == np.float32 and v.shape == (5,)
    np.testing.assert_array_equal(v, np.arange(5, dtype=np.float32))
    assert v.flags.writeable
    v[2] = 42.0
    w = h.view()
    assert w[2] == 42.0  # a second view sees the write: same Rust buffer
    assert np.shares_memory(v, w)


def test_copy_is_independent():
    h = t.Holder(4)
    c = h.copy()
    np.testing.assert_array_equal(c, np.arange(4, dtype=np.float32))
    c[0] = -1.0
    assert h.view()[0] == 0.0
    assert not np.shares_memory(c, h.view())


def test_view_keeps_the_holder_alive_and_drop_counts_once():
    before = t.destruct_count()
    h = t.Holder(3)
    v = h.view()
    del h
    gc.collect()
    assert t.destruct_count() == before  # the view keeps the Holder alive
    assert v.tolist() == [0.0, 1.0, 2.0]
    del v
    gc.collect()
    assert t.destruct_count() == before + 1


def test_torch_view_keeps_the_holder_alive_until_its_last_release():
    """Beyond CONFORMANCE: a torch tensor over the Holder's data (exported
    through torch's exchange API with the Holder as a Python owner, whose
    release takes the GIL), dropped on the main thread and on another."""
    torch = pytest.importorskip("torch")
    for on_thread in (False, True):
        before = t.destruct_count()
        h = t.Holder(4)
        x = h.view_torch()
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and tuple(x.shape) == (4,)
        x[1] = 7.0  # zero copy: the Holder's own buffer
        assert h.view()[1] == 7.0
        del h
        gc.collect()
        assert t.destruct_count() == before and x.tolist() == [0.0, 7.0, 2.0, 3.0]
        if on_thread:
            box = [x]
            del x
            th = threading.Thread(target=box.clear)
            th.start()
            th.join(30)
            assert not th.is_alive()
        else:
            del x
        gc.collect()
        assert t.destruct_count() == before + 1


def test_holder_without_views_is_freed_on_delete():
    before = t.destruct_count()
    h = t.Holder(10)
    c = h.copy()
    del h
    gc.collect()
    assert t.destruct_count() == before + 1
    assert c.tolist() == list(range(10))  # copies are not counted buffers


def test_empty_holder():
    h = t.Holder(0)
    assert h.view().shape == (0,) and h.copy().shape == (0,)


def test_signatures():
    assert "numpy.ndarray[dtype=float32" in t.Holder.view.__doc__
    with pytest.raises(TypeError, match="incompatible function arguments"):
        t.Holder(-1)


def test_refcounts_and_leaks(no_leak):
    h = t.Holder(8)
    before = t.destruct_count()
    no_leak(h.view, n=20_000)
    no_leak(h.copy, n=20_000)
    no_leak(t.Holder, 4, n=20_000)
    gc.collect()
    # Every Holder made by the loop was freed; `h` itself lives on.
    assert t.destruct_count() == before + 21_000
    assert sys.getrefcount(h) == ONE_OWNER
