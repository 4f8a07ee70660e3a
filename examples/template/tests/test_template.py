import numpy as np
import pytest

import my_ext


def test_total_reads_the_array_in_place():
    a = np.arange(12.0).reshape(3, 4)
    assert my_ext.total(a) == 66.0
    assert my_ext.total(a[:, ::-2]) == a[:, ::-2].sum()  # any strides, no copy


def test_wrong_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        my_ext.total(np.ones(3, dtype=np.int32))


def test_signature():
    assert my_ext.total.__doc__.startswith("total(a: ndarray[dtype=float64")
