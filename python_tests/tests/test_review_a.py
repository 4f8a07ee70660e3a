"""Regressions for soundness bugs found by review A of the object model."""

import gc
import types
import weakref

import ndbind_test

ra = ndbind_test.review_a


def test_class_kept_alive_during_its_implicit_conversion():
    # The only strong references to a bound class are its module's; the
    # conversion of an argument to it runs Python code (`__float__`), which
    # drops the module and collects: the class (and the record the
    # conversion is reading) must stay alive until the conversion ends.
    mod = types.ModuleType("review_a_temp")
    ra.bind_temp(mod)
    fn = mod.temp_value
    cls = weakref.ref(mod.TempMeters)
    namespace = mod.__dict__
    seen = []

    class Hostile:
        def __float__(self):
            namespace.clear()
            gc.collect()
            seen.append(cls() is not None)
            return 2.5

    del mod
    try:
        result = fn(Hostile())
    except TypeError as e:
        result = e
    assert seen == [True]
    assert result == 2.5
    gc.collect()
    assert cls() is None
