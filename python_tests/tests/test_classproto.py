"""ndbind_test.classproto: pickling and copying of bound classes, Rust
iterators as Python iterators, the iterator protocol on bound classes,
StrEnum enums and IntEnum parameters accepting a plain int."""
import copy
import copyreg
import enum
import gc
import operator
import pickle
import sys
import weakref

import pytest

import ndbind_test as t
from ndbind_test import classproto as c

IFA = "incompatible function arguments"
PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


class SubSample(c.Sample):
    """A Python subclass (has a __dict__): pickled with its attributes."""


class SubTagged(c.Tagged):
    pass


# --- pickling and copying ---------------------------------------------------------------
@pytest.mark.parametrize("proto", PROTOCOLS)
def test_pickle_round_trip_every_protocol(proto):
    live = c.sample_live()
    s = c.Sample("a", [1.0, 2.5])
    r = pickle.loads(pickle.dumps(s, proto))
    assert type(r) is c.Sample and r is not s
    assert (r.name, r.xs) == ("a", [1.0, 2.5])
    r.append(3.0)  # an independent value
    assert s.xs == [1.0, 2.5] and r.xs == [1.0, 2.5, 3.0]
    del s, r
    assert c.sample_live() == live


def test_getstate_setstate_reduce():
    s = c.Sample("a", [1.0])
    assert s.__getstate__() == (("a", [1.0]),)
    func, args, state = s.__reduce__()
    assert func is copyreg.__newobj__ and args == (c.Sample,) and state == (("a", [1.0]),)
    assert s.__reduce_ex__(2)[0] is copyreg.__newobj__
    # The unpickling sequence by hand: an unconstructed instance, then __setstate__.
    o = c.Sample.__new__(c.Sample)
    with pytest.raises(TypeError, match="uninitialized"):
        o.name
    assert o.__setstate__((("b", [2.0]),)) is None
    assert (o.name, o.xs) == ("b", [2.0])


def test_copy_and_deepcopy():
    live = c.sample_live()
    s = c.Sample("a", [1.0, 2.0])
    for cp in (copy.copy(s), copy.deepcopy(s), copy.deepcopy([s, s])[0]):
        assert type(cp) is c.Sample and cp is not s
        assert (cp.name, cp.xs) == ("a", [1.0, 2.0])
    d = copy.deepcopy([s, s])
    assert d[0] is d[1]  # the memo: one copy per object
    del s, cp, d
    assert c.sample_live() == live


def test_setstate_on_an_initialised_instance_raises():
    live = c.sample_live()
    s = c.Sample("a", [1.0])
    with pytest.raises(TypeError, match=r"Sample.__setstate__\(\): the instance is already initialised"):
        s.__setstate__((("b", [2.0]),))
    assert (s.name, s.xs) == ("a", [1.0])  # untouched
    assert c.sample_live() == live + 1  # the refused value was dropped, the old one kept
    del s
    assert c.sample_live() == live


@pytest.mark.parametrize(
    "state",
    [("a", [1.0]), (("a", "x"),), (("a",),), (), (("a", [1.0]), 5), (("a", [1.0]), {}, 1), None, [("a", [1.0])]],
)
def test_setstate_wrong_state_is_a_type_error(state):
    live = c.sample_live()
    o = c.Sample.__new__(c.Sample)
    with pytest.raises(TypeError, match=IFA):
        o.__setstate__(state)
    with pytest.raises(TypeError, match="uninitialized"):
        o.name  # still not constructed
    del o
    assert c.sample_live() == live


def test_setstate_refused_by_the_rust_function():
    o = c.Sample.__new__(c.Sample)
    with pytest.raises(ValueError, match="empty name"):
        o.__setstate__((("", [1.0]),))
    o.__setstate__((("ok", []),))  # a failed construction leaves it constructible
    assert o.name == "ok"

    class Emptied(c.Sample):
        def __getstate__(self):
            return (("", []),)

    with pytest.raises(ValueError, match="empty name"):
        copy.copy(Emptied("x", []))


def test_setstate_on_other_objects():
    with pytest.raises(TypeError, match=r"classproto.Sample.__setstate__\(\): cannot construct a ndbind_test.classproto.Sample value in a ndbind_test.classproto.Tagged object"):
        c.Sample.__setstate__(c.Tagged.__new__(c.Tagged), (("a", []),))
    with pytest.raises(TypeError):
        c.Sample.__setstate__(5, (("a", []),))


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_python_subclass_pickles_with_its_dict(proto):
    s = SubSample("a", [1.0])
    s.tag = "t"
    s.more = [1, 2]
    assert s.__getstate__() == (("a", [1.0]), {"tag": "t", "more": [1, 2]})
    r = pickle.loads(pickle.dumps(s, proto))
    assert type(r) is SubSample
    assert (r.name, r.xs, r.tag, r.more) == ("a", [1.0], "t", [1, 2])
    plain = SubSample("b", [])
    assert plain.__getstate__() == (("b", []),)  # an empty __dict__ is left out
    assert type(pickle.loads(pickle.dumps(plain, proto))) is SubSample


def test_python_subclass_copy_and_deepcopy():
    s = SubSample("a", [1.0])
    s.box = [1]
    shallow, deep = copy.copy(s), copy.deepcopy(s)
    assert type(shallow) is SubSample and type(deep) is SubSample
    assert shallow.box is s.box and deep.box == [1] and deep.box is not s.box
    assert shallow.__dict__ is not s.__dict__


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_dynamic_attr_class_pickles_its_dict(proto):
    x = c.Tagged(7)
    x.label = "seven"
    r = pickle.loads(pickle.dumps(x, proto))
    assert (r.n, r.label) == (7, "seven")
    y = SubTagged(8)
    assert (pickle.loads(pickle.dumps(y, proto)).n, type(pickle.loads(pickle.dumps(y, proto)))) == (8, SubTagged)


def test_setstate_dict_needs_a_dict_slot():
    o = c.Sample.__new__(c.Sample)
    with pytest.raises(AttributeError):
        o.__setstate__((("a", []), {"x": 1}))
    assert o.name == "a"  # the value was constructed before


def test_class_without_pickle_stays_unpicklable():
    o = c.Opaque(1)
    for proto in PROTOCOLS:
        with pytest.raises(TypeError, match="cannot pickle"):
            pickle.dumps(o, proto)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(o)
    assert not hasattr(o, "__setstate__")


def test_pickle_refcounts():
    s = c.Sample("a", [1.0])

    def run():
        for proto in PROTOCOLS:
            pickle.loads(pickle.dumps(s, proto))
        copy.copy(s), copy.deepcopy(s)

    run()  # warm up caches
    gc.collect()
    before = sys.getrefcount(s), sys.getrefcount(c.Sample)
    run()
    gc.collect()
    assert (sys.getrefcount(s), sys.getrefcount(c.Sample)) == before


def test_hostile_getstate_override():
    class Bad(c.Sample):
        def __getstate__(self):
            return None  # pickle would skip __setstate__: the copy stays unconstructed

    r = copy.copy(Bad("a", []))
    with pytest.raises(TypeError, match="uninitialized"):
        r.name


# --- iterators: make_iterator_ref / def_iter ------------------------------------------------
def test_def_iter_protocols():
    b = c.Bag([1, 2, 3])
    assert list(b) == [1, 2, 3]
    assert [x for x in b] == [1, 2, 3]
    assert sum(x * x for x in b) == 14
    assert list(zip(b, b)) == [(1, 1), (2, 2), (3, 3)]
    it = iter(b)
    assert type(it).__name__ == "iterator" and type(it).__module__ == "ndbind"
    assert iter(it) is it
    assert next(it) == 1 and next(it) == 2 and next(it) == 3
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(StopIteration):
        next(it)  # stays exhausted
    assert next(iter(c.Bag([])), "end") == "end"
    assert type(iter(b)) is type(c.count_to(1)) is type(c.chars_of("a"))  # one type


def test_make_iterator_needs_the_gil():
    with pytest.raises(RuntimeError, match="make_iterator"):
        c.count_to_nogil(3)
    assert list(c.count_to(3)) == [0, 1, 2]


def test_iterator_type_cannot_be_instantiated():
    with pytest.raises(TypeError):
        type(iter(c.Bag([])))()


def test_iterator_keeps_its_owner_alive_and_borrowed():
    b = c.Bag([1, 2, 3])
    rc = sys.getrefcount(b)
    it = iter(b)
    assert sys.getrefcount(b) == rc + 1
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="already borrowed"):
        b.push(4)  # a &mut method while the iterator reads the value
    assert b.total() == 6  # & methods are fine
    assert list(it) == [2, 3]
    assert sys.getrefcount(b) == rc  # exhausted: borrow and owner released
    b.push(4)
    assert list(b) == [1, 2, 3, 4]
    it = iter(b)
    del it  # dropped unexhausted
    assert sys.getrefcount(b) == rc
    b.push(5)


def test_iterator_outlives_its_owner_variable():
    def make():
        return iter(c.Bag([10, 20]))

    it = make()
    gc.collect()
    assert list(it) == [10, 20]
    it = c.Bag([7]).checked()
    assert next(it) == 7


def test_iteration_while_iterating_shares_the_borrow():
    b = c.Bag([1, 2])
    assert [(x, y) for x in b for y in b] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    b.push(3)


def test_item_conversion_errors_propagate():
    b = c.Bag([1, -2, 3])
    it = b.checked()
    assert next(it) == 1
    with pytest.raises(ValueError, match="negative item -2"):
        next(it)
    assert next(it) == 3  # an item's error does not end the iterator
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(ValueError):
        list(c.Bag([-1]).checked())
    b.push(1)  # borrow released by the exhausted iterator


def test_python_code_during_next_cannot_reenter_or_mutate():
    b = c.Bag([1, 2, 3])
    seen = []

    def f(x):
        with pytest.raises(ValueError, match="already executing"):
            next(it)
        with pytest.raises(RuntimeError, match="already borrowed"):
            b.push(0)
        seen.append(x)
        return -x

    it = b.mapped(f)
    assert list(it) == [-1, -2, -3] and seen == [1, 2, 3]

    def boom(x):
        raise KeyError(x)

    with pytest.raises(KeyError):
        list(b.mapped(boom))
    b.push(4)


def test_iterator_of_a_mutably_borrowed_or_uninitialised_instance():
    o = c.Bag.__new__(c.Bag)
    with pytest.raises(TypeError, match="uninitialized"):
        iter(o)


def test_panic_in_the_iterator():
    b = c.Bag([1, 2, 3])
    it = b.panicking(1)
    assert next(it) == 1
    with pytest.raises(BaseException, match="iterator panic at 1"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)  # released after the panic
    b.push(4)


def test_length_hint():
    b = c.Bag([1, 2, 3, 4])
    it = iter(b)
    assert operator.length_hint(it) == 4
    next(it)
    assert it.__length_hint__() == 3
    list(it)
    assert it.__length_hint__() == 0
    ev = b.evens()
    assert ev.__length_hint__() is NotImplemented  # filter: not exact
    assert operator.length_hint(ev, 99) == 99
    assert list(ev) == [2, 4]
    assert operator.length_hint(c.count_to(5)) == 5


class SubBag(c.Bag):
    pass


def test_gc_cycle_through_the_iterator():
    b = SubBag([1, 2])
    b.it = iter(b)  # owner -> __dict__ -> iterator -> owner
    assert next(b.it) == 1
    w = weakref.ref(b)
    del b
    gc.collect()
    assert w() is None


def test_gc_sees_the_owner():
    it = iter(c.Bag([1]))
    assert any(type(o).__name__ == "Bag" for o in gc.get_referents(it))


# --- make_iterator -----------------------------------------------------------------------
def test_make_iterator():
    assert list(c.count_to(3)) == [0, 1, 2]
    assert list(c.count_to(0)) == []
    s = "".join(chr(0x41 + i) for i in range(5))  # not interned
    rc = sys.getrefcount(s)
    it = c.chars_of(s)
    assert sys.getrefcount(s) == rc + 1
    assert next(it) == "A"
    assert list(it) == ["B", "C", "D", "E"]
    assert sys.getrefcount(s) == rc
    it = c.chars_of(s)
    del it
    assert sys.getrefcount(s) == rc


def test_iterator_refcounts_back_to_start():
    b = c.Bag(list(range(10)))
    rc = sys.getrefcount(b), sys.getrefcount(c.Bag)
    for _ in range(3):
        list(b), list(zip(b, b)), next(iter(b)), [x for x in b.evens()]
    gc.collect()
    assert (sys.getrefcount(b), sys.getrefcount(c.Bag)) == rc


# --- def_next: a class that is an iterator --------------------------------------------------
def test_def_next():
    cd = c.Countdown(3)
    assert iter(cd) is cd
    assert list(cd) == [2, 1, 0]
    with pytest.raises(StopIteration) as e:
        next(cd)
    assert e.value.value is None
    assert next(c.Countdown(0), "done") == "done"
    assert [x for x, _ in zip(c.Countdown(5), range(2))] == [4, 3]

    def gen():
        r = yield from c.Countdown(2)
        assert r is None

    assert list(gen()) == [1, 0]


# --- enums: StrEnum, IntEnum parameters accepting int -------------------------------------
def test_str_enum():
    M = c.Mode
    assert issubclass(M, enum.StrEnum) and issubclass(M, str)
    assert [m.name for m in M] == ["Read", "Write", "Append"]
    assert (M.Read.value, M.Write.value, M.Append.value) == ("r", "w", "append")
    assert M.Read == "r" and str(M.Write) == "w" and M("append") is M.Append
    assert M.__doc__ == "How to open a file." and M.Read.__doc__ == "For reading."
    assert c.mode_letter(M.Append) == "a"
    assert c.mode_write() is M.Write
    with pytest.raises(TypeError, match=IFA):
        c.mode_letter("r")  # a str equal to a value is not a member
    assert c.bad_str_enum_error == "BadStr.A: a str value needs EnumKind::StrEnum or EnumKind::Enum, not IntEnum"
    assert not hasattr(c, "BadStr")


def test_int_enum_accepts_int_in_the_conversion_pass():
    R = c.Rank
    assert c.rank_value(R.Mid) == 2
    assert c.rank_value(2) == 2 and c.rank_value(3) == 3
    for bad in (0, 4, -1, 2**70, True, 2.0, "2", t.Level.High, c.Shade.Dark):
        with pytest.raises(TypeError, match=IFA):
            c.rank_value(bad)
    assert c.rank_value_strict(R.High) == 3
    with pytest.raises(TypeError, match=IFA):
        c.rank_value_strict(3)  # no conversion pass
    assert c.rank_or_int(R.Low) == "rank" and c.rank_or_int(1) == "int"  # exact matches first
    assert t.level_value(1) == 1  # the conformance module's IntEnum too


def test_plain_enum_still_refuses_int():
    assert c.shade_value(c.Shade.Dark) == 2
    with pytest.raises(TypeError, match=IFA):
        c.shade_value(2)
    with pytest.raises(TypeError, match=IFA):
        t.next_color(1)
