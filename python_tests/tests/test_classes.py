"""CONFORMANCE section 4: classes, enums and the low-level interface."""
import copy
import enum
import gc
import inspect
import os
import subprocess
import sys
import weakref

import pytest

import ndbind_test as t

IFA = "incompatible function arguments"
N = 20_000


# --- Point ---------------------------------------------------------------------
def test_point_basics():
    p = t.Point(1.0, 2.0)
    assert (p.x, p.y) == (1.0, 2.0)
    assert p.norm() == pytest.approx(5 ** 0.5)
    assert repr(p) == "Point(x=1.0, y=2.0)"
    p.x = 3.0
    p.y = 4
    assert p.norm() == 5.0
    assert isinstance(p.y, float)
    assert t.Point(x=1, y=2) == t.Point(1.0, 2.0)


def test_point_field_type_errors():
    p = t.Point(1, 2)
    with pytest.raises(TypeError):
        p.x = "a"
    with pytest.raises(TypeError):
        p.x = None
    with pytest.raises(AttributeError):
        del p.x
    assert p.x == 1.0


def test_point_eq_and_hash():
    assert t.Point(1, 2) == t.Point(1, 2)
    assert t.Point(1, 2) != t.Point(1, 3)
    assert (t.Point(1, 2) == "x") is False
    assert (t.Point(1, 2) != "x") is True
    assert ("x" == t.Point(1, 2)) is False
    with pytest.raises(TypeError):
        hash(t.Point(1, 2))  # __eq__ without __hash__: unhashable, as in Python


def test_point_static_method_and_names():
    o = t.Point.origin()
    assert type(o) is t.Point and (o.x, o.y) == (0.0, 0.0)
    assert t.Point.__module__ == "ndbind_test"
    assert t.Point.__qualname__ == "Point" and t.Point.__name__ == "Point"
    assert t.Point.__doc__ == "A point in the plane."
    assert t.Point.norm.__qualname__ == "Point.norm"
    assert t.Point.norm.__module__ == "ndbind_test"
    assert t.Point.norm.__doc__.startswith("norm(self) -> float")
    assert "Distance from the origin." in t.Point.norm.__doc__
    assert t.Point.__init__.__doc__.startswith("__init__(self, x: float, y: float) -> None")
    assert t.Point.origin.__qualname__ == "Point.origin"
    assert t.Point.origin.__doc__.startswith("origin() -> ndbind_test.Point")
    assert t.Point.scale.__doc__.startswith("scale(self, f: float) -> None")
    assert str(inspect.signature(t.Point.scale)) == "(self, /, f: 'float') -> 'None'"
    assert str(inspect.signature(t.Point(1, 2).scale)) == "(f: 'float') -> 'None'"
    assert repr(t.Point) == "<class 'ndbind_test.Point'>"


def test_operators_and_protocols():
    a, b = t.Point(1, 2), t.Point(3, 4)
    assert a + b == t.Point(4, 6)
    assert a * 2 == t.Point(2, 4) and 2 * a == t.Point(2, 4)
    assert -a == t.Point(-1, -2)
    with pytest.raises(TypeError):
        a + 1  # NotImplemented both ways: Python raises TypeError
    with pytest.raises(TypeError):
        a * "x"
    # Called directly (the single-overload fast path), a mismatched operator
    # returns NotImplemented rather than raising; with a keyword argument
    # (the general path) too.
    assert a.__add__(1) is NotImplemented
    assert t.Point.__add__(a, "x") is NotImplemented
    assert a.__add__(other=1) is NotImplemented
    assert a.__add__(other=b) == t.Point(4, 6)
    pair = t.Pair(t.Pod(1, 2), t.Pod(3, 4))
    assert len(pair) == 2
    assert pair[0].total() == 3.0 and pair[-1].total() == 7.0
    assert [p.a for p in pair] == [1.0, 3.0]  # iteration through __getitem__
    with pytest.raises(IndexError):
        pair[2]


def test_copy_and_deepcopy_clone_classes():
    p = t.Point(1, 2)
    for q in (copy.copy(p), copy.deepcopy(p)):
        assert q == p and q is not p and t.inst_state(q) == (True, True)
        q.x = 5
        assert p.x == 1.0
    q3 = copy.copy(t.Point3(1, 2, 3))
    assert type(q3) is t.Point3 and q3.z == 3.0
    s = PyPoint(2)
    s2 = copy.copy(s)
    assert type(s2) is PyPoint and s2.tag == "py" and s2.y == 4.0
    with pytest.raises(TypeError):
        copy.copy(t.inst_alloc(t.Point))  # not ready
    with pytest.raises(TypeError):
        copy.copy(t.Tensor())  # not declared clone


def test_overloaded_constructor():
    assert t.Dyn(5).value == 5
    assert t.Dyn().value == -1
    assert t.Dyn(value=7).value == 7
    with pytest.raises(TypeError, match=IFA):
        t.Dyn("x")
    doc = t.Dyn.__init__.__doc__
    assert "__init__(self, value: int) -> None" in doc and "__init__(self) -> None" in doc


def test_classes_are_immutable_to_python_code():
    from conftest import ABI3

    # The stable-ABI build's classes are mutable (the limited API cannot
    # lift Py_TPFLAGS_IMMUTABLETYPE while ndbind adds attributes).
    if not ABI3:
        with pytest.raises(TypeError):
            t.Point.extra = 1
        with pytest.raises(TypeError):
            t.Point.norm = None
    with pytest.raises(AttributeError):
        t.Point(1, 2).extra = 1  # no __dict__

    class Sub(t.Point):
        pass

    Sub.extra = 1  # Python subclasses are ordinary classes
    s = Sub(1, 2)
    s.tag = "x"
    assert (Sub.extra, s.tag) == (1, "x")


def test_methods_are_descriptors():
    p = t.Point(3, 4)
    assert t.Point.norm(p) == 5.0
    bound = p.norm
    assert bound() == 5.0 and bound.__self__ is p
    p.scale(2)
    assert (p.x, p.y) == (6.0, 8.0)
    with pytest.raises(TypeError, match=IFA):
        t.Point.norm("x")
    with pytest.raises(TypeError, match=IFA):
        p.scale("x")


def test_constructor_errors():
    with pytest.raises(TypeError, match=IFA):
        t.Point("a", 2)
    with pytest.raises(TypeError, match=IFA):
        t.Point(None, 2)
    with pytest.raises(TypeError, match=IFA):
        t.Point(1, 2, 3)
    with pytest.raises(TypeError, match=IFA):
        t.Point(1, z=2)
    with pytest.raises(TypeError, match=IFA):
        t.Point(1)
    p = t.Point(1, 2)
    with pytest.raises(TypeError, match="already initialised"):
        p.__init__(3, 4)
    assert (p.x, p.y) == (1.0, 2.0)


def test_live_counts_points_point3_and_subclasses():
    gc.collect()
    base = t.Point.live

    class Sub(t.Point):
        pass

    objs = [t.Point(1, 2), t.Point3(1, 2, 3), Sub(5, 6), t.Point.origin(), t.point_copy(t.Point(1, 1))]
    assert t.Point.live == base + 5
    assert t.Point(0, 0).live == base + 6  # through an instance (the temporary counts)
    del objs
    gc.collect()
    assert t.Point.live == base


def test_static_property_assignment_calls_setter():
    gc.collect()
    live = t.Point.live
    t.Point.live = live + 100
    try:
        assert t.Point.live == live + 100
        assert isinstance(t.Point.__dict__["live"], object)
        assert "live" in t.Point.__dict__  # the descriptor was not replaced
    finally:
        t.Point.live = live
    assert t.Point.live == live
    with pytest.raises(TypeError):
        t.Point.live = "many"


# --- Point3: a Rust subclass ------------------------------------------------------
def test_point3_is_a_point():
    q = t.Point3(3, 4, 12)
    assert isinstance(q, t.Point) and issubclass(t.Point3, t.Point)
    assert t.Point3.__mro__[1] is t.Point
    assert (q.x, q.y, q.z) == (3.0, 4.0, 12.0)
    assert q.norm() == 5.0
    assert t.norm_of(q) == 5.0
    assert t.z_of(q) == 12.0
    t.scale_by(q, 2)
    assert q.x == 6.0 and q.z == 12.0
    assert repr(q) == "Point3(x=6.0, y=4.0, z=12.0)"
    assert q.plus(t.Point(1, 1)) == t.Point(7, 5)
    with pytest.raises(TypeError, match=IFA):
        t.z_of(t.Point(1, 2))
    with pytest.raises(TypeError, match=IFA):
        t.Point.__init__(t.Point3.__new__(t.Point3), 1, 2)  # a Point3 is not a bare Point


# --- Python subclasses -----------------------------------------------------------------
class PyPoint(t.Point):
    def __init__(self, x):
        super().__init__(x, 2 * x)
        self.tag = "py"

    def twice(self):
        return 2 * self.norm()


def test_python_subclass_with_own_init():
    p = PyPoint(3)
    assert (p.x, p.y, p.tag) == (3.0, 6.0, "py")
    assert t.norm_of(p) == pytest.approx(45 ** 0.5)
    assert p.twice() == pytest.approx(2 * 45 ** 0.5)
    t.scale_by(p, 2)
    assert p.x == 6.0
    assert repr(p) == "Point(x=6.0, y=6.0)"
    assert t.type_check(PyPoint) and t.inst_check(p)


def test_python_subclass_without_base_init_is_not_ready():
    class Lazy(t.Point):
        def __init__(self):
            pass

    p = Lazy()
    assert t.inst_state(p) == (False, False)
    with pytest.raises(TypeError, match="uninitialized"):
        p.norm()
    with pytest.raises(TypeError, match="uninitialized"):
        t.norm_of(p)
    with pytest.raises(TypeError, match="uninitialized"):
        p.x


# --- borrows ------------------------------------------------------------------------------
def test_mut_borrow_conflicts_raise():
    p = t.Point(1, 2)
    with pytest.raises(RuntimeError, match="borrow"):
        p.mutate_with(lambda: p.norm())  # &mut self is live during the callback
    with pytest.raises(RuntimeError, match="borrow"):
        p.mutate_with(lambda: p.x)
    with pytest.raises(RuntimeError, match="borrow"):
        p.mutate_with(lambda: t.scale_by(p, 2))
    with pytest.raises(RuntimeError, match="borrow"):
        t.swap_xy(p, p)
    # Every borrow was released.
    assert p.norm() > 0 and p.mutate_with(lambda: 7) == 7
    q = t.Point(10, 20)
    x = p.x  # mutate_with added 1 before each callback
    t.swap_xy(p, q)
    assert (p.x, q.x) == (10.0, x)
    assert p.mutate_with(lambda: q.norm()) > 0  # another instance is free


def test_lowlevel_refuses_borrowed_instances():
    p = t.Pod(1, 2)
    pair = t.Pair(p, p)
    assert pair.first.total() == 3.0


# --- Tensor: final class with a supplement ---------------------------------------------------
def test_tensor_supplement_and_final():
    assert t.Tensor.supplement() == 42
    assert t.Tensor().rank == 0
    with pytest.raises(TypeError):
        class Sub(t.Tensor):
            pass
    assert t.type_check(t.Tensor)


# --- Pod and the low-level interface (seed 003) ----------------------------------------------------
def test_lowlevel_sequence():
    o = t.inst_alloc(t.Pod)
    assert type(o) is t.Pod and t.inst_check(o) and t.type_check(t.Pod)
    assert not t.inst_ready(o) and t.inst_state(o) == (False, False)
    with pytest.raises(TypeError):
        o.total()  # not ready: rejected, never touched
    with pytest.raises(TypeError):
        t.pod_total(o)
    t.inst_zero(o)
    assert t.inst_ready(o) and t.inst_state(o) == (True, True)
    assert (o.a, o.b, o.total()) == (0.0, 0.0, 0.0)
    t.inst_destruct(o)
    assert t.inst_state(o) == (False, False)
    t.pod_placement_init(o, 3.0, 4.0)  # "placement new"
    assert not t.inst_ready(o)
    t.inst_mark_ready(o)
    assert t.inst_state(o) == (True, True) and o.total() == 7.0
    t.inst_destruct(o)

    src = t.Pod(1.0, 2.0)
    t.inst_copy(o, src)
    assert t.inst_state(o) == (True, True) and (o.a, o.b) == (1.0, 2.0)
    o.a = 10.0
    assert src.a == 1.0  # independent copy
    t.inst_destruct(o)
    t.inst_move(o, src)
    assert (o.a, o.b) == (1.0, 2.0) and t.inst_state(o) == (True, True)
    assert t.inst_state(src) == (False, False)  # moved from

    other = t.Pod(5.0, 6.0)
    t.inst_replace_copy(o, other)
    assert (o.a, o.b) == (5.0, 6.0) and t.inst_ready(other)
    third = t.Pod(7.0, 8.0)
    t.inst_replace_move(o, third)
    assert (o.a, o.b) == (7.0, 8.0) and not t.inst_ready(third)

    t.inst_set_state(o, True, False)
    assert t.inst_state(o) == (True, False)
    t.inst_set_state(o, True, True)
    assert t.inst_state(o) == (True, True)


def test_lowlevel_pod_init_and_queries():
    o = t.inst_alloc(t.Pod)
    t.pod_init(o, 1.5, 2.5)
    assert t.inst_state(o) == (True, True) and o.total() == 4.0
    with pytest.raises(TypeError):
        t.pod_init(o, 1, 2)  # already initialised
    assert t.type_layout(t.Pod) == (16, 8)
    assert t.type_name(t.Pod) == "ndbind_test.Pod"
    assert t.inst_name(o) == "ndbind_test.Pod"
    assert t.type_name(int) == "int" and t.inst_name(1) == "int"
    assert not t.type_check(int) and not t.type_check(1) and not t.inst_check(1)

    class SubPod(t.Pod):
        pass

    s = SubPod(1, 2)
    assert t.type_check(SubPod) and t.inst_check(s) and t.inst_state(s) == (True, True)
    assert t.type_name(SubPod).endswith("SubPod")
    d = t.inst_alloc(SubPod)
    t.inst_copy(d, s)  # same underlying bound type
    assert d.total() == 3.0


@pytest.mark.parametrize("call", [
    lambda: t.inst_zero(1),
    lambda: t.inst_mark_ready("x"),
    lambda: t.inst_destruct(None),
    lambda: t.inst_copy(t.inst_alloc(t.Pod), t.Point(1, 2)),
    lambda: t.inst_move(t.inst_alloc(t.Pod), t.Point(1, 2)),
    lambda: t.inst_replace_copy(t.Pod(1, 2), t.Point(1, 2)),
    lambda: t.inst_replace_move(t.Point(1, 2), t.Pod(1, 2)),
    lambda: t.inst_set_state(3.0, True, True),
    lambda: t.inst_alloc(int),
    lambda: t.inst_state([]),
    lambda: t.inst_zero(t.Point(1, 2)),  # not zeroable
    lambda: t.inst_mark_ready(t.inst_alloc(t.Point)),  # not trivial
    lambda: t.inst_set_state(t.inst_alloc(t.Point), True, True),
    lambda: t.inst_copy(t.inst_alloc(t.Pod), t.inst_alloc(t.Pod)),  # source not ready
    lambda: t.inst_copy(t.Pod(1, 2), t.Pod(3, 4)),  # destination already ready
    lambda: t.type_layout(int),
])
def test_lowlevel_refuses_wrong_objects(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize("name", ["inst_zero", "inst_mark_ready", "inst_destruct"])
def test_lowlevel_functions_that_modify_take_pods_only(name):
    # CONFORMANCE: another bound class is refused, and left intact.
    p = t.Point(1, 2)
    with pytest.raises(TypeError, match="Pod"):
        getattr(t, name)(p)
    with pytest.raises(TypeError, match="Pod"):
        t.inst_set_state(p, False, False)
    with pytest.raises(TypeError, match="Pod"):
        t.inst_copy(t.inst_alloc(t.Point), p)
    assert t.inst_state(p) == (True, True) and p.norm() == 5 ** 0.5


def test_lowlevel_refuses_while_borrowed():
    p = t.Point(1, 2)
    with pytest.raises(RuntimeError):
        p.mutate_with(lambda: t.inst_destruct_any(p))
    assert t.inst_ready(p)


def test_uninitialised_point_after_destruct():
    p = t.Point(1, 2)
    t.inst_destruct_any(p)
    assert t.inst_state(p) == (False, False)
    with pytest.raises(TypeError):
        p.norm()
    t.Point.__init__(p, 3, 4)  # re-construct in place
    assert p.norm() == 5.0


# --- Pair: references into an instance ------------------------------------------------------------------
def test_pair_first_ref_is_a_reference():
    pair = t.Pair(t.Pod(1, 2), t.Pod(3, 4))
    f = pair.first_ref()
    assert type(f) is t.Pod and t.inst_state(f) == (True, False)
    assert f is pair.first_ref()  # the same object while it lives
    f.a = 10.0
    assert pair.first.a == 10.0  # writes reach the Pair
    pair.swap()
    assert (f.a, f.b) == (3.0, 4.0)  # and the Pair's changes are seen
    t.inst_replace_copy(f, t.Pod(7, 8))
    assert pair.first.total() == 15.0


def test_pair_ref_keeps_pair_alive():
    pair = t.Pair(t.Pod(1, 2), t.Pod(3, 4))
    r = weakref.ref(pair) if hasattr(pair, "__weakref__") else None
    before = sys.getrefcount(pair)
    f = pair.first_ref()
    assert sys.getrefcount(pair) == before + 1
    del pair
    gc.collect()
    assert f.total() == 3.0
    del f, r


def test_pair_ref_after_parent_destruct():
    pair = t.Pair(t.Pod(1, 2), t.Pod(3, 4))
    s = pair.second_ref()
    t.inst_destruct_any(pair)
    with pytest.raises(TypeError):
        s.total()
    with pytest.raises(TypeError):
        t.inst_move(t.inst_alloc(t.Pod), t.inst_alloc(t.Pod))


def test_pair_ref_shares_the_borrow():
    pair = t.Pair(t.Pod(1, 2), t.Pod(3, 4))
    f = pair.first_ref()
    # `f` and `pair` guard the same memory: a function holding &mut to one
    # cannot coexist with a borrow of the other.
    assert t.inst_state(f) == (True, False)
    assert f.total() == 3.0 and pair.first.total() == 3.0


def test_pod_owned():
    p = t.pod_owned(1.5, 2.5)
    assert type(p) is t.Pod and t.inst_state(p) == (True, True)
    assert p.total() == 4.0
    p.a = 2.0
    assert p.total() == 4.5
    q = t.inst_alloc(t.Pod)
    t.inst_move(q, p)
    assert q.total() == 4.5 and not t.inst_ready(p)


# --- dynamic attributes, weak references, GC ----------------------------------------------------------------
def test_dynamic_attributes_and_gc_cycle():
    gc.collect()
    drops = t.dyn_drops()
    d = t.Dyn(5)
    d.me = d  # a cycle through the instance __dict__
    d.extra = [d, 1]
    assert d.value == 5 and d.__dict__["extra"][1] == 1
    w = weakref.ref(d)
    del d
    assert w() is not None
    gc.collect()
    assert w() is None
    assert t.dyn_drops() == drops + 1


def test_python_subclass_with_dict_cycle_is_collected():
    class Node(t.Point):
        pass

    gc.collect()
    live = t.Point.live
    n = Node(1, 2)
    n.other = Node(3, 4)
    n.other.other = n
    w = weakref.ref(n)
    del n
    gc.collect()
    assert w() is None
    assert t.Point.live == live


@pytest.mark.parametrize("make_nurse", [lambda: t.Point(1, 2), lambda: type("X", (), {})()], ids=["ndbind", "python"])
def test_keep_alive(make_nurse):
    gc.collect()
    drops = t.dyn_drops()
    nurse, patient = make_nurse(), t.Dyn(1)
    w = weakref.ref(patient)
    t.keep_alive(nurse, patient)
    del patient
    gc.collect()
    assert w() is not None and w().value == 1
    del nurse
    gc.collect()
    assert w() is None and t.dyn_drops() == drops + 1


# --- enums ----------------------------------------------------------------------------------------------------
def test_color_enum():
    C = t.Color
    assert issubclass(C, enum.Enum) and not issubclass(C, int)
    assert [m.name for m in C] == ["Red", "Green", "Blue"]
    assert (C.Red.value, C.Green.value, C.Blue.value) == (1, 2, 4)
    assert C(2) is C.Green
    assert t.next_color(C.Red) is C.Green
    assert t.next_color(C.Blue) is C.Red
    assert C.__module__ == "ndbind_test" and C.__qualname__ == "Color"
    assert C.__doc__ == "A color."
    assert C.Red.__doc__ == "The color of tomatoes."
    with pytest.raises(TypeError, match=IFA):
        t.next_color(1)
    with pytest.raises(TypeError, match=IFA):
        t.next_color(t.Level.High)
    assert t.next_color.__doc__.startswith("next_color(c: ndbind_test.Color) -> ndbind_test.Color")


def test_level_int_enum_exported():
    L = t.Level
    assert issubclass(L, enum.IntEnum)
    assert t.Low is L.Low and t.High is L.High
    assert L.Low == -1 and L.High + 1 == 2
    assert t.level_value(L.Low) == -1
    assert t.level_value(-1) == -1  # an int that is a member's value: conversion pass
    with pytest.raises(TypeError, match=IFA):
        t.level_value(0)


def test_perm_int_flag():
    P = t.Perm
    assert issubclass(P, enum.IntFlag)
    assert (P.R, P.W, P.X) == (4, 2, 1)
    assert t.perm_bits(P.R) == 4
    assert t.perm_bits(P.R | P.W) == 6
    assert t.perm_bits(P.R | P.W | P.X) == 7
    assert t.perm_single(P.W) == 2
    with pytest.raises(TypeError, match=IFA):
        t.perm_single(P.R | P.W)  # no single Rust variant
    with pytest.raises(TypeError, match=IFA):
        t.perm_bits(4)
    assert P.W.__doc__ == "Write."


# --- reference counts and leaks -------------------------------------------------------------------------------------
def _construct_and_call():
    return t.Point(1.0, 2.0).norm()


def _lowlevel_cycle():
    o = t.inst_alloc(t.Pod)
    t.inst_zero(o)
    t.inst_destruct(o)
    t.pod_placement_init(o, 1, 2)
    t.inst_mark_ready(o)
    t.inst_replace_copy(o, t.Pod(3, 4))
    return o


def _pair_refs():
    pair = t.Pair(t.Pod(1, 2), t.Pod(3, 4))
    return pair.first_ref().total() + pair.second_ref().a


def _errors(p):
    try:
        p.x = "a"
    except TypeError:
        pass
    try:
        t.norm_of(None)
    except TypeError:
        pass
    try:
        p.mutate_with(lambda: p.norm())
    except RuntimeError:
        pass


LEAK_CASES = [
    (_construct_and_call, ()),
    (t.Point.norm, (t.Point(3, 4),)),
    (t.norm_of, (t.Point3(1, 2, 3),)),
    (t.Point.plus, (t.Point(1, 2), t.Point(3, 4))),
    (t.point_copy, (t.Point(1, 2),)),
    (repr, (t.Point(1, 2),)),
    (getattr, (t.Point(1, 2), "x")),
    (setattr, (t.Point(1, 2), "y", 3.0)),
    (_lowlevel_cycle, ()),
    (_pair_refs, ()),
    (t.pod_owned, (1.0, 2.0)),
    (t.next_color, (t.Color.Blue,)),
    (t.perm_bits, (t.Perm.R | t.Perm.X,)),
    (_errors, (t.Point(1, 2),)),
    (lambda: t.Point.live, ()),
    (PyPoint, (2.0,)),
]


@pytest.mark.parametrize("fn,args", LEAK_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_no_leak(no_leak, fn, args):
    no_leak(fn, *args, n=N)


def test_instances_are_freed():
    gc.collect()
    before = t.live_counts()[0]
    objs = [t.Point(1, 2), t.Point3(1, 2, 3), t.pod_owned(1, 2), t.Pair(t.Pod(1, 2), t.Pod(3, 4)).first_ref(), t.Dyn(1)]
    assert t.live_counts()[0] > before
    del objs
    gc.collect()
    assert t.live_counts()[0] == before


def _run(code):
    env = {k: v for k, v in os.environ.items() if k != "NDBIND_NO_LEAK_REPORT"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_leak_report_is_silent():
    code = (
        "import ndbind_test as t\n"
        "p = t.Point(1, 2); q = t.Point3(1, 2, 3); r = t.Pair(t.Pod(1, 2), t.Pod(3, 4)).first_ref()\n"
        "d = t.Dyn(1); d.me = d; o = t.pod_owned(1, 2); c = t.next_color(t.Color.Red)\n"
        "class Sub(t.Point): pass\n"
        "s = Sub(1, 2)\n"
        "assert p.norm() > 0 and q.norm() > 0 and r.total() == 3\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr
    assert "leaked" not in res.stderr, res.stderr
    assert res.stderr == ""


def test_leak_report_reports_a_leak():
    code = (
        "import ctypes, ndbind_test as t\n"
        "p = t.Point(1, 2)\n"
        "ctypes.pythonapi.Py_IncRef(ctypes.py_object(p))\n"  # a deliberate leak
    )
    res = _run(code)
    assert res.returncode == 0
    assert "ndbind: leaked 1 instance(s)!" in res.stderr
    assert "ndbind_test.Point" in res.stderr
