"""Regressions found reviewing the array layer (issue 19 work).

An empty array (a zero extent) made by ``ArrayOut::from_bytes`` /
``from_byte_owner`` / ``from_vec`` passes the element-count check for any
other extents, however large: an extent above ``i64::MAX`` became a
negative DLPack / buffer-protocol extent handed to every consumer. It is
refused with ``ValueError`` before any object exists.
"""
import pytest

import ndbind_test as t

R = t.review_b
HUGE = [[0, 2**63], [0, 2**64 - 1], [2**63, 0, 3]]


@pytest.mark.parametrize("shape", HUGE)
@pytest.mark.parametrize("make", ["empty_numpy", "empty_memoryview", "empty_array", "empty_jax"])
def test_extent_beyond_i64_refused(make, shape):
    with pytest.raises(ValueError, match="extent .* too large"):
        getattr(R, make)(shape)


@pytest.mark.parametrize("shape", HUGE)
def test_extent_beyond_i64_refused_torch(shape):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="extent .* too large"):
        t.rtdtype.from_bytes_at("float32", [], 0, shape)


def test_large_but_valid_empty_extents_still_exported():
    a = R.empty_array([0, 2**62])
    assert a.shape == (0, 2**62)
    assert R.empty_numpy([3, 0]).shape == (3, 0)
    pytest.importorskip("torch")
    assert t.rtdtype.from_bytes_at("float32", [], 0, [0, 2**63 - 1]).shape == (0, 2**63 - 1)
