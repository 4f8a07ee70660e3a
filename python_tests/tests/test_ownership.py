"""Issue 21 item 4 (ownership): the same object back (`Same<T>`),
polymorphic returns (`dyn_return!`), shared ownership of any instance
(`Inst<T>`), the `Box<T>` round trip."""

import sys

import pytest

from ndbind_test import ownership as o


@pytest.fixture(autouse=True)
def _released():
    yield
    o.release_kept()
    o.unstash()
    while o.unstash_shape() is not None:
        pass


# --- returning self or an argument --------------------------------------


def test_me_is_self_with_exact_refcounts():
    a = o.Node(3)
    before = sys.getrefcount(a)
    r = a.me()
    assert r is a
    assert sys.getrefcount(a) == before + 1
    del r
    assert sys.getrefcount(a) == before
    for _ in range(100):
        a.me()
    assert sys.getrefcount(a) == before


def test_argument_returned_is_that_argument():
    a, b = o.Node(3), o.Node(5)
    assert o.larger(a, b) is b
    assert o.larger(b, a) is b
    rb = sys.getrefcount(b)
    o.larger(a, b)
    assert sys.getrefcount(b) == rb


def test_field_at_offset_zero_is_not_its_parent():
    a = o.Node(3)
    # The leaf has the node's address, but it is no Node: never `a` itself.
    with pytest.raises(TypeError, match="returned reference to a 'ndbind_test.ownership.Leaf' is to no existing Python object"):
        a.leaf_same()
    leaf = a.leaf_ref()
    assert type(leaf) is o.Leaf and leaf.w == 30
    # Now a reference instance holds the field: that one comes back.
    assert a.leaf_same() is leaf
    assert o.same_as_leaf(a, leaf) is leaf
    del leaf
    with pytest.raises(TypeError, match="no existing Python object"):
        a.leaf_same()


def test_arc_held_instance_found():
    x = o.node_arc(7)
    before = sys.getrefcount(x)
    assert o.arc_same(x) is x
    assert sys.getrefcount(x) == before


def test_moved_out_argument_is_not_returned():
    a = o.Node(1)
    o.stash(a)
    with pytest.raises(TypeError, match="moved out into a Rust Box"):
        a.me()


# --- polymorphic returns --------------------------------------------------


def test_most_derived_bound_type():
    c = o.make_shape("circle")
    s = o.make_shape("square")
    assert type(c) is o.Circle and c.area() == 3.0
    assert type(s) is o.Square and s.area() == 4.0
    assert type(o.make_solid("circle")) is o.Circle


def test_unbound_concrete_type_uses_fallback_or_raises():
    b = o.make_shape("blob")
    assert type(b) is o.AnyShape and b.area() == -1.0
    with pytest.raises(TypeError, match=r"returned Box<dyn Solid> holds a Rust type that has no bound class"):
        o.make_solid("blob")


def test_box_dyn_any():
    assert type(o.make_any("square")) is o.Square
    with pytest.raises(TypeError, match=r"Box<dyn Any> holds a Rust type that has no bound class"):
        o.make_any("u8")


def test_trait_object_round_trip_restores_same_object():
    c = o.Circle(2.0)
    o.stash_circle(c)
    with pytest.raises(TypeError, match="moved out"):
        c.area()
    assert o.unstash_shape() is c
    assert c.area() == 12.0


# --- shared ownership of any instance -------------------------------------


def test_inst_keeps_instance_alive_after_python_drops_it():
    drops = o.drops()
    k = o.Node(9)
    rc = sys.getrefcount(k)
    o.keep(k)
    assert sys.getrefcount(k) == rc + 1
    del k
    assert o.drops() == drops  # not dropped: Rust still owns a reference
    assert o.kept_values() == [9]
    (back,) = o.kept_objects()
    assert back.value == 9
    rc = sys.getrefcount(back)
    o.release_kept()
    assert sys.getrefcount(back) == rc - 1
    del back
    assert o.drops() == (drops[0] + 1, drops[1] + 1)


def test_inst_accepts_every_instance():
    o.keep(o.Node(1))  # made from a value
    o.keep(o.node_arc(2))  # Arc-held
    assert o.kept_values() == [1, 2]


def test_inst_borrow_rules_against_mut_methods():
    a = o.Node(1)

    def mutate():
        a.set(10)

    with pytest.raises(RuntimeError, match="cannot borrow the 'ndbind_test.ownership.Node' instance mutably: it is already borrowed"):
        o.hold_and_call(a, mutate)
    assert a.value == 1
    assert o.hold_and_call(a, lambda: None) == 1
    o.set_through(a, 11)
    assert a.value == 11


def test_inst_send_to_thread_without_gil():
    n = o.Node(1)
    rc = sys.getrefcount(n)
    assert o.use_on_thread(n) == "ndbind: an Inst was used on a thread that does not hold the GIL"
    assert sys.getrefcount(n) == rc  # dropped on that thread, the GIL taken


# --- the Box round trip -----------------------------------------------------


def test_box_round_trip_restores_same_object():
    drops = o.drops()
    n = o.Node(4)
    rc = sys.getrefcount(n)
    o.stash(n)
    assert sys.getrefcount(n) == rc  # the box does not own the object
    with pytest.raises(TypeError, match="uninitialized instance of type 'ndbind_test.ownership.Node': its value was moved out into a Rust Box"):
        n.value
    with pytest.raises(TypeError, match="moved out"):
        o.consume(n)
    back = o.unstash()
    assert back is n and n.value == 4
    assert sys.getrefcount(n) == rc + 1
    del back
    assert o.roundtrip(n) is n and n.value == 4
    assert o.drops() == drops
    del n
    assert o.drops() == (drops[0] + 1, drops[1] + 1)


def test_box_back_after_instance_died_is_a_new_object():
    drops = o.drops()
    n = o.Node(6)
    o.stash(n)
    del n
    assert o.drops() == drops  # the value lives on in the box
    m = o.unstash()
    assert type(m) is o.Node and m.value == 6
    del m
    assert o.drops() == (drops[0] + 1, drops[1] + 1)


def test_box_back_after_reinit_is_a_new_object():
    n = o.Node(6)
    o.stash(n)
    n.__init__(8)
    m = o.unstash()
    assert m is not n and m.value == 6 and n.value == 8


def test_box_refused_when_borrowed_or_not_owned():
    a = o.Node(2)
    with pytest.raises(RuntimeError, match="it is borrowed"):
        o.arg_then_box(a, a)
    assert a.value == 2
    with pytest.raises(TypeError, match="not held by an Arc|does not own its value"):
        o.consume(o.node_arc(3))
    leaf_parent = o.Node(5)
    with pytest.raises(TypeError):
        o.consume(leaf_parent.leaf_ref())
    drops = o.drops()
    assert o.consume(o.Node(7)) == 7
    assert o.drops() == (drops[0] + 1, drops[1] + 1)
