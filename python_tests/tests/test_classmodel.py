"""The class model as nanobind's (issue 21, items 4 and 5): mutable class
types and what ndbind guards in them, docstrings of (static) properties,
properties returning references, the keep_alive annotation, uninitialised
instances and a second __init__."""
import gc
import sys
import warnings
import weakref

import pytest

import ndbind_test as t
from ndbind_test import classmodel as c

IFA = "incompatible function arguments"
M = c.Mut


# --- mutable class types -----------------------------------------------------------------------------------
def test_attributes_can_be_added_replaced_and_deleted():
    M.extra = 1
    M.tripled = lambda self: 3 * self.get()
    orig = M.get
    try:
        m = M(2)
        assert (M.extra, m.extra, m.tripled()) == (1, 1, 6)
        # A replaced method is what Python callers see; Rust code that takes
        # a Mut is not affected.
        M.get = lambda self: -1
        assert m.get() == -1 and c.mut_get(m) == 2
        del M.get
        with pytest.raises(AttributeError):
            m.get()
        assert c.mut_get(m) == 2
    finally:
        M.get = orig
        del M.extra, M.tripled
    assert M(4).get() == 4 and not hasattr(M, "extra")


def test_replacing_and_deleting_init():
    orig = M.__init__
    try:
        M.__init__ = lambda self, v: orig(self, 2 * v)
        assert M(5).v == 10
        del M.__init__  # object.__init__ now: no value is constructed
        m = M(1)
        with pytest.warns(RuntimeWarning, match="uninitialized instance of type 'ndbind_test.classmodel.Mut'!"):
            with pytest.raises(TypeError, match=IFA):
                m.get()
    finally:
        M.__init__ = orig
    assert M(5).v == 5 and M(v=6).v == 6


def test_init_replaced_while_it_runs():
    """The argument conversion of the fast construction path replaces
    __init__, whose old function only the class held: the running call
    completes, later calls use the new __init__."""
    V = c.Victim
    calls = []

    class Evil:
        def __index__(self):
            calls.append(1)
            V.__init__ = lambda self, v: None  # the only reference to the old one goes
            gc.collect()
            return 7

    v = V(Evil())
    assert v.get() == 7 and calls == [1]
    w = V(1)  # the new __init__ constructs nothing
    with pytest.warns(RuntimeWarning, match="uninitialized"):
        with pytest.raises(TypeError, match=IFA):
            w.get()


def test_new_of_a_bound_class_stays_ndbinds():
    with pytest.raises(TypeError, match=r"cannot replace or delete __new__ of the bound class 'ndbind_test.classmodel.Mut'"):
        M.__new__ = staticmethod(lambda cls, *a: object.__new__(cls))
    with pytest.raises(TypeError, match="cannot replace or delete __new__"):
        del M.__new__
    with pytest.raises(TypeError, match="is not safe"):
        object.__new__(M)  # an instance without ndbind's header: refused by CPython

    class Sub(M):
        def __new__(cls, *args):  # allowed on a Python subclass...
            return super().__new__(cls)

    assert Sub(3).get() == 3
    with pytest.raises(TypeError, match="is not safe"):
        object.__new__(Sub)  # ...which still cannot bypass ndbind's __new__
    Sub.__new__ = staticmethod(lambda cls, *a: object.__new__(cls))
    with pytest.raises(TypeError, match="is not safe"):
        Sub(1)
    assert M(1).get() == 1


def test_class_assignment_never_mixes_rust_types():
    # A Rust subclass that adds no data, siblings, Python subclasses without
    # a __dict__: never layout-compatible across Rust types.
    class OnTag(c.MutTag):
        __slots__ = ()

    class OnNonZero(c.MutNonZero):
        __slots__ = ()

    class OnMut(M):
        __slots__ = ()

    for obj, cls in [
        (M(1), c.MutTag),
        (c.MutTag(1), M),
        (c.MutTag(1), c.MutNonZero),
        (OnTag(1), OnNonZero),
        (OnNonZero(1), OnMut),
        (OnMut(0), OnNonZero),
        (OnMut(0), c.MutNonZero),
    ]:
        with pytest.raises(TypeError, match=r"__class__ assignment: .* differs from"):
            obj.__class__ = cls
    # Between Python subclasses of one Rust type it is allowed (the same
    # value layout and record).
    class OnMut2(M):
        __slots__ = ()

    o = OnMut(4)
    o.__class__ = OnMut2
    assert type(o) is OnMut2 and o.get() == 4 and c.mut_get(o) == 4
    with pytest.raises(TypeError):
        c.MutNonZero.__bases__ = (c.MutTag,)
    with pytest.raises(TypeError):
        c.MutTag.__bases__ = (OnNonZero,)
    assert c.MutNonZero(0).inv() == 1_000_000


def test_overridable_default_is_not_looked_up_on_the_bound_class():
    """As nanobind: an instance of the bound class itself runs the Rust
    default when Rust calls the method; a Python subclass looks it up."""
    orig = t.Animal.speak
    try:
        t.Animal.speak = lambda self: "patched"
        a = t.Animal("a")
        assert a.speak() == "patched" and t.call_speak(a) == "..."

        class Cat(t.Animal):
            pass

        class Dog(t.Animal):
            def speak(self):
                return "woof"

        assert t.call_speak(Cat("c")) == "patched"  # found through the MRO
        assert t.call_speak(Dog("d")) == "woof"
    finally:
        t.Animal.speak = orig
    assert t.call_speak(Cat("c")) == "..." and t.Animal("a").speak() == "..."


def test_static_property_still_routes_assignment():
    M.level = 5
    assert M.level == 5 and c.Mut.__dict__["level"].__get__(None, M) == 5
    with pytest.raises(AttributeError, match="cannot be deleted"):
        del M.level
    with pytest.raises(TypeError, match="expected a value of type int"):
        M.level = "x"
    M.level = 0


# --- docstrings of properties ------------------------------------------------------------------------------
def test_static_property_docs():
    assert M.__dict__["version"].__doc__ == "version: int; read-only\nThe version of the format."
    assert M.__dict__["level"].__doc__ == "level: int\nA process-wide level."
    assert M.__dict__["double"].__doc__ == "double: int; read-only\nTwice v."
    assert c.Nest.__dict__["a"].__doc__ == "a: ndbind_test.classmodel.Leaf; read-only\nThe first leaf, by reference."
    assert M.version == 3 and M(4).double == 8
    assert c.property_doc_error == "Bag: no property 'nope' is defined on this class"


# --- properties returning references -----------------------------------------------------------------------
def test_property_ref_keeps_the_parent_alive():
    gc.collect()
    n = c.Nest(1, 2)
    before = sys.getrefcount(n)
    a = n.a
    assert sys.getrefcount(n) == before + 1  # the child holds its parent
    assert n.a is a and a.v == 1
    a.v = 7  # no copy: writes reach the parent
    assert n.a.v == 7
    n.set_a(9)  # the parent replaces the field: the child sees the new value
    assert a.v == 9
    w = weakref.ref(a) if hasattr(a, "__weakref__") else None
    del n
    gc.collect()
    assert a.v == 9  # the parent lives on through the child
    a.v = 10
    assert a.v == 10
    b = c.Nest(3, 4)
    br = b.b_ref()  # the method form (def_ref)
    before = sys.getrefcount(b)
    del br
    assert sys.getrefcount(b) == before - 1
    del a, w


# --- keep_alive(nurse, patient) ----------------------------------------------------------------------------
class Obj:
    pass


def test_keep_alive_arguments():
    a, b = Obj(), Obj()
    wa = weakref.ref(a)
    assert c.keep_alive_arg(a, b) is b  # keep_alive(2, 1): b keeps a alive
    del a
    gc.collect()
    assert wa() is not None
    del b
    gc.collect()
    assert wa() is None


def test_keep_alive_result():
    a, b = Obj(), Obj()
    wa = weakref.ref(a)
    assert c.keep_alive_ret(a, b) is b  # keep_alive(0, 1): the result keeps a
    del a
    gc.collect()
    assert wa() is not None
    del b
    gc.collect()
    assert wa() is None


def test_keep_alive_on_methods_and_constructors():
    x, y = Obj(), Obj()
    rx, ry = sys.getrefcount(x), sys.getrefcount(y)
    bag = c.Bag(x)  # keep_alive(1, 2) on __init__: self keeps `first`
    bag.add(y)
    bag.add(y)
    assert len(bag) == 3
    assert sys.getrefcount(x) == rx + 1 and sys.getrefcount(y) == ry + 2
    del bag
    gc.collect()
    assert sys.getrefcount(x) == rx and sys.getrefcount(y) == ry


def test_keep_alive_none_and_failures():
    a = Obj()
    r = sys.getrefcount(a)
    assert c.keep_alive_none(a) is None  # the nurse is None: nothing to do
    assert c.keep_alive_ret(a, None) is None
    assert sys.getrefcount(a) == r
    # A nurse that takes no weak references: nanobind's RuntimeError, and
    # the result is released.
    nurse = 123456789
    rn = sys.getrefcount(nurse)
    with pytest.raises(RuntimeError, match=r"keep_alive\(\): could not create a weak reference") as e:
        c.keep_alive_ret(a, nurse)
    assert isinstance(e.value.__cause__, TypeError)
    del e
    assert sys.getrefcount(nurse) == rn and sys.getrefcount(a) == r
    # A call that raises ties nothing.
    with pytest.raises(ValueError, match="no result"):
        c.keep_alive_raises(a)
    assert sys.getrefcount(a) == r
    assert c.keep_alive_range_error == (
        "bad: keep_alive(3, 1): an index is out of range (0 is the return value, 1 to 2 the parameters)"
    )


def test_keep_alive_renders_nothing():
    assert c.keep_alive_ret.__doc__ == "keep_alive_ret(a: object, b: object) -> object"
    assert c.Bag.add.__doc__ == "add(self, item: object) -> None"
    assert c.Bag.__init__.__doc__ == "__init__(self, first: object) -> None"


def test_keep_alive_with_an_ndbind_nurse_that_dies_first():
    bag = c.Bag(Obj())
    p = Obj()
    wp = weakref.ref(p)
    bag.add(p)
    del p
    gc.collect()
    assert wp() is not None
    del bag
    gc.collect()
    assert wp() is None


# --- uninitialised instances and a second __init__ ---------------------------------------------------------
def test_subclass_skipping_super_init():
    class Incomplete(M):
        def __init__(self):
            pass  # missing super().__init__()

    o = Incomplete()
    with pytest.warns(RuntimeWarning, match=r"^ndbind: attempted to access an uninitialized instance of type 'Incomplete'!$"):
        with pytest.raises(TypeError, match=IFA) as e:
            c.mut_get(o)
    assert "Argument 1 (m) was refused: attempted to access an uninitialized instance of type 'Incomplete'" in str(e.value)
    with pytest.warns(RuntimeWarning, match="uninitialized instance of type 'Incomplete'!"):
        with pytest.raises(TypeError, match=IFA):
            o.bump()
    with pytest.raises(TypeError, match="uninitialized instance of type 'Incomplete'!"):
        o.v  # a property: the message as TypeError
    # Warnings turned into errors: the warning is what the call raises.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="uninitialized instance"):
            o.get()
    # It can still be constructed later.
    M.__init__(o, 3)
    assert o.get() == 3


def test_second_init():
    m = M(1)
    with pytest.warns(RuntimeWarning, match=r"^ndbind: attempted to initialize an already-initialized instance of type 'ndbind_test.classmodel.Mut'!$"):
        with pytest.raises(TypeError, match=IFA) as e:
            m.__init__(2)
    assert "was refused: attempted to initialize an already-initialized instance" in str(e.value)
    assert m.get() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="already-initialized"):
            M.__init__(m, 5)
    assert m.get() == 1
