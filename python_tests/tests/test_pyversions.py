"""What newer CPython versions changed under ndbind (scripts/test-versions.sh
runs the whole suite on each)."""
import gc
import subprocess
import sys

import ndbind_test as t


def test_collector_sees_a_class_held_by_another_class():
    # `Meters` converts implicitly from `Feet` (implicit_from_type): its
    # record holds `Feet`. The metaclass's tp_traverse reports that edge, so
    # the collector frees both together; without it, 3.13+ left `Feet`
    # alive at exit (its last collection freed `Meters` only).
    assert t.Feet in gc.get_referents(t.Meters)
    assert t.Meters not in gc.get_referents(t.Feet)


def test_exit_frees_a_class_held_by_another_class():
    code = "import ndbind_test as t; assert t.Meters(t.Feet(1.0)).value > 0.3"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "leaked" not in r.stderr, r.stderr
