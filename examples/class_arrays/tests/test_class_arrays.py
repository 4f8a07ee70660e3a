import gc
import weakref

import numpy as np
import pytest

from class_arrays import Grid


def test_view_shares_the_grids_memory():
    g = Grid(2, 3)
    assert g.shape == (2, 3)
    v = g.view()
    assert type(v) is np.ndarray and v.dtype == np.float64 and v.shape == (2, 3)
    assert v.flags.writeable and v.flags.c_contiguous
    w = g.view()
    assert np.shares_memory(v, w)  # both over the Grid's one buffer
    v[1, 2] = 5.0  # writes through a view reach the Rust data
    assert w[1, 2] == 5.0 and g.total() == 5.0


def test_copy_is_independent():
    g = Grid(2, 2)
    c = g.copy()
    c[0, 0] = 1.0
    assert g.total() == 0.0
    assert not np.shares_memory(c, g.view())


def test_mutating_methods_are_seen_by_later_views():
    g = Grid(2, 2)
    g.fill(1.5)
    g.set(0, 1, -1.0)
    assert g.view().tolist() == [[1.5, -1.0], [1.5, 1.5]]
    assert g.total() == 3.5
    with pytest.raises(IndexError, match=r"Grid.set: \(2, 0\) is out of range"):
        g.set(2, 0, 0.0)


def test_view_keeps_the_grid_alive():
    g = Grid(3, 1)
    g.fill(2.0)
    ref = weakref.ref(g)
    v = g.view()
    del g
    gc.collect()
    assert ref() is not None  # the view holds the Grid
    assert v.tolist() == [[2.0], [2.0], [2.0]]
    del v
    gc.collect()
    assert ref() is None  # and lets it go with its last view


def test_grid_is_borrowed_while_a_view_lives():
    g = Grid(1, 2)
    v = g.view()
    # `fill` takes `&mut self`: Rust must not write memory a live view
    # reaches, so the call is refused while the view exists.
    with pytest.raises(RuntimeError, match="borrowed"):
        g.fill(1.0)
    assert g.total() == 0.0  # `&self` methods still work
    del v
    gc.collect()
    g.fill(1.0)
    assert g.total() == 2.0


def test_constructor_errors():
    with pytest.raises(OverflowError):
        Grid(2**62, 2**62)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        Grid(-1, 2)
