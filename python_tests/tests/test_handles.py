"""Issue 20 items 3 and 8: typed handles, Object's protocol calls, and the
set, fixed-size array, path and Cow<str> casters (ndbind_test.handles)."""
import os
import pathlib
import sys

import pytest

from conftest import ONE_OWNER

import ndbind_test.handles as h

IFA = "incompatible function arguments"


# --- parameters: type checks -------------------------------------------------

class MyList(list):
    pass


class MyDict(dict):
    pass


@pytest.mark.parametrize("value,kind", [
    ([1], "list"), (MyList(), "list"), ((1,), "tuple"), ({}, "dict"),
    (MyDict(), "dict"), (set(), "set"), ("x", "str"),
])
def test_each_handle_accepts_its_type_and_subclasses(value, kind):
    assert h.kind(value) == kind


@pytest.mark.parametrize("fn,value", [
    (h.list_len, (1, 2)),          # a tuple is not a list (as nb::list)
    (h.tuple_len, [1, 2]),
    (h.dict_len, [("a", 1)]),
    (h.set_len, frozenset({1})),  # Set is set only
    (h.str_len, b"abc"),
    (h.list_len, None),
])
def test_each_handle_refuses_other_types(fn, value):
    with pytest.raises(TypeError, match=IFA):
        fn(value)


def test_signatures_render_builtin_names():
    assert h.list_append.__doc__.startswith("list_append(l: list, x: object) -> list")
    assert h.tuple_new.__doc__.startswith("tuple_new(xs: list[int]) -> tuple")
    assert h.dict_new.__doc__.startswith("dict_new() -> dict")
    assert h.set_new.__doc__.startswith("set_new() -> set")
    assert h.str_same.__doc__.startswith("str_same(s: str) -> str")


# --- List --------------------------------------------------------------------

def test_list_is_the_callers_object_no_copy():
    lst = [1]
    before = sys.getrefcount(lst)
    out = h.list_append(lst, 2)
    assert out is lst and lst == [1, 2]
    del out
    assert sys.getrefcount(lst) == before


def test_list_constructors():
    assert h.list_new() == [] and type(h.list_new()) is list
    assert h.list_of(4) == [0, 1, 4, 9]


def test_list_indexing_is_pythons():
    lst = [10, 20, 30]
    assert h.list_get(lst, 0) == 10 and h.list_get(lst, -1) == 30 and h.list_get(lst, -3) == 10
    for i in (3, -4, sys.maxsize, -sys.maxsize - 1):
        with pytest.raises(IndexError, match="list index out of range"):
            h.list_get(lst, i)
    with pytest.raises(IndexError, match="list index out of range"):
        h.list_get([], 0)


def test_list_set_del_insert():
    lst = [1, 2, 3]
    h.list_set(lst, -1, "x")
    assert lst == [1, 2, "x"]
    with pytest.raises(IndexError, match="assignment index out of range"):
        h.list_set(lst, 3, 0)
    h.list_del(lst, 0)
    assert lst == [2, "x"]
    with pytest.raises(IndexError):
        h.list_del(lst, -3)
    h.list_insert(lst, 0, "a")
    h.list_insert(lst, 100, "z")
    h.list_insert(lst, -100, "first")
    assert lst == ["first", "a", 2, "x", "z"]


def test_list_set_releases_the_old_item_and_holds_the_new():
    old, new = object(), object()
    lst = [old]
    ro, rn = sys.getrefcount(old), sys.getrefcount(new)
    h.list_set(lst, 0, new)
    assert sys.getrefcount(old) == ro - 1 and sys.getrefcount(new) == rn + 1


def test_list_iteration_survives_mutation():
    lst = [1, 2, 3, 4]
    # Clearing the list mid-iteration: the iteration ends, no stale length.
    assert h.list_iter_calling(lst, lambda x: lst.clear()) == [1]
    lst = [1, 2]
    # Appending: new items are seen (until f stops appending).
    assert h.list_iter_calling(lst, lambda x: lst.append(x + 10) if x < 10 else None) == [1, 2, 11, 12]


def test_list_iteration_holds_the_item_it_yields():
    class Item:
        pass
    item = Item()
    lst = [item]
    rc = sys.getrefcount(item)

    def f(x):
        lst.clear()  # the list's reference to x goes; the iterator's stays
    out = h.list_iter_calling(lst, f)  # appends the item after f returned
    assert out == [item] and lst == []
    del out
    assert sys.getrefcount(item) == rc - 1


def test_list_iteration_callback_error_propagates():
    def f(x):
        raise KeyError("boom")
    with pytest.raises(KeyError, match="boom"):
        h.list_iter_calling([1], f)


def test_list_to_tuple():
    assert h.list_to_tuple([1, "a"]) == (1, "a")


# --- Tuple -------------------------------------------------------------------

def test_tuple_new_get_iter():
    t = h.tuple_new([1, 2, 3])
    assert t == (1, 2, 3) and type(t) is tuple
    assert h.tuple_new([]) == ()
    assert h.tuple_len(t) == 3
    assert h.tuple_get(t, -1) == 3
    with pytest.raises(IndexError, match="tuple index out of range"):
        h.tuple_get(t, 3)
    assert h.tuple_iter(("a", None)) == ["a", None]


# --- Dict --------------------------------------------------------------------

def test_dict_operations():
    d = h.dict_new()
    assert d == {} and type(d) is dict
    h.dict_set(d, "a", 1)
    assert h.dict_get(d, "a") == 1 and h.dict_get(d, "b") is None
    assert h.dict_contains(d, "a") and not h.dict_contains(d, "b")
    assert h.dict_len(d) == 1
    assert h.dict_keys(d) == ["a"] and h.dict_values(d) == [1]
    h.dict_del(d, "a")
    assert d == {}
    with pytest.raises(KeyError):
        h.dict_del(d, "a")
    with pytest.raises(TypeError, match="unhashable"):
        h.dict_get(d, [])


def test_dict_get_refcounts():
    v = object()
    d = {"k": v}
    before = sys.getrefcount(v)
    got = h.dict_get(d, "k")
    assert got is v
    del got
    assert sys.getrefcount(v) == before


class BadKey:
    def __hash__(self):
        raise ValueError("no hash")


class EqRaises:
    def __hash__(self):
        return 1

    def __eq__(self, other):
        raise RuntimeError("eq raised")


def test_dict_hostile_keys():
    with pytest.raises(ValueError, match="no hash"):
        h.dict_get({}, BadKey())
    with pytest.raises(ValueError, match="no hash"):
        h.dict_set({}, BadKey(), 1)
    d = {EqRaises(): 1}
    with pytest.raises(RuntimeError, match="eq raised"):
        h.dict_contains(d, EqRaises())


def test_dict_items_iterate_a_snapshot_while_the_dict_mutates():
    d = {i: i for i in range(10)}

    def f(k, v):
        d.clear()
        d.update({100 + j: j for j in range(50)})
    assert h.dict_items_calling(d, f) == list(range(10))

    d = {"a": 1, "b": 2}
    assert h.dict_items_calling(d, lambda k, v: d.pop("b", None)) == ["a", "b"]


# --- Set ---------------------------------------------------------------------

def test_set_operations():
    s = h.set_new()
    assert s == set() and type(s) is set
    h.set_add(s, 1)
    assert h.set_contains(s, 1) and not h.set_contains(s, 2)
    assert h.set_discard(s, 1) is True and h.set_discard(s, 1) is False
    assert h.set_len(s) == 0
    with pytest.raises(TypeError, match="unhashable"):
        h.set_add(s, [])


def test_set_iteration_mutated_raises_runtime_error():
    s = {1, 2, 3}
    assert sorted(h.set_iter_calling(s, lambda x: None)) == [1, 2, 3]
    with pytest.raises(RuntimeError, match="changed size"):
        h.set_iter_calling(s, lambda x: s.add(x + 100))


# --- Str ---------------------------------------------------------------------

def test_str_handle():
    s = "héllo wörld"
    assert h.str_same(s) is s
    assert h.str_to_str(s) == s
    assert h.str_len(s) == len(s) == 11
    assert h.str_new("abc") == "abc"
    with pytest.raises(UnicodeEncodeError):
        h.str_to_str("\ud800")


# --- downcast ----------------------------------------------------------------

def test_downcast():
    lst = [1]
    assert h.downcast(lst, "list") is lst
    assert h.downcast(MyDict(a=1), "dict") == {"a": 1}
    with pytest.raises(TypeError, match="expected list, got tuple"):
        h.downcast((1,), "list")
    with pytest.raises(TypeError, match="expected str, got int"):
        h.downcast(1, "str")


# --- Object protocol calls ---------------------------------------------------

def test_protocol_calls_on_plain_objects():
    assert h.obj_len([1, 2]) == 2 and h.obj_len("héllo") == 5
    assert h.obj_getitem({"a": 1}, "a") == 1
    assert h.obj_getitem_int([5, 6], -1) == 6
    d = {}
    h.obj_setitem(d, "k", 2)
    assert d == {"k": 2}
    h.obj_delitem(d, "k")
    assert d == {}
    assert h.obj_contains([1, 2], 2) and not h.obj_contains("abc", "d")
    assert h.obj_iter(range(3)) == [0, 1, 2]
    assert h.obj_iter({"a": 1}) == ["a"]
    assert h.obj_compare(1, 2, "<") and h.obj_compare(2, 2, "<=") and not h.obj_compare(1, 2, ">")
    assert h.obj_compare(2, 2.0, "==") and h.obj_compare(1, 2, "!=") and h.obj_compare(3, 2, ">=")
    assert h.obj_hash("abc") == hash("abc")
    assert h.obj_truthy([1]) is True and h.obj_truthy([]) is False


def test_protocol_errors_are_python_exceptions():
    with pytest.raises(TypeError, match="has no len"):
        h.obj_len(1)
    with pytest.raises(KeyError):
        h.obj_getitem({}, "a")
    with pytest.raises(IndexError):
        h.obj_getitem_int([], 0)
    with pytest.raises(TypeError, match="not iterable"):
        h.obj_iter(1)
    with pytest.raises(TypeError, match="unhashable"):
        h.obj_hash([])
    with pytest.raises(TypeError, match="not supported"):
        h.obj_compare(1, "a", "<")


class Hostile:
    def __len__(self):
        return -1

    def __getitem__(self, k):
        raise ZeroDivisionError("getitem")

    def __setitem__(self, k, v):
        raise ZeroDivisionError("setitem")

    def __delitem__(self, k):
        raise ZeroDivisionError("delitem")

    def __contains__(self, v):
        raise ZeroDivisionError("contains")

    def __iter__(self):
        return self

    def __next__(self):
        raise ZeroDivisionError("next")

    def __eq__(self, other):
        raise ZeroDivisionError("eq")

    def __lt__(self, other):
        return NotImplemented

    def __hash__(self):
        raise ZeroDivisionError("hash")

    def __bool__(self):
        raise ZeroDivisionError("bool")


class HugeLen:
    def __len__(self):
        return 2**70


def test_hostile_protocol_methods_raise_not_crash():
    x = Hostile()
    with pytest.raises(ValueError, match=">= 0"):
        h.obj_len(x)
    with pytest.raises(OverflowError):
        h.obj_len(HugeLen())
    for fn, args in [
        (h.obj_getitem, (x, 1)), (h.obj_setitem, (x, 1, 2)), (h.obj_delitem, (x, 1)),
        (h.obj_contains, (x, 1)), (h.obj_iter, (x,)), (h.obj_hash, (x,)),
        (h.obj_truthy, (x,)),
    ]:
        with pytest.raises(ZeroDivisionError):
            fn(*args)
    with pytest.raises(ZeroDivisionError, match="eq"):
        h.obj_compare(x, 1, "==")
    assert h.obj_compare(x, x, "==")  # identity shortcut of RichCompareBool
    with pytest.raises(TypeError):
        h.obj_compare(x, 1, "<")


def test_iter_stops_after_a_partial_error():
    def gen():
        yield 1
        raise ValueError("midway")
    with pytest.raises(ValueError, match="midway"):
        h.obj_iter(gen())


def test_protocol_calls_keep_refcounts():
    k, v = object(), object()
    d = {}
    rk, rv = sys.getrefcount(k), sys.getrefcount(v)
    h.obj_setitem(d, k, v)
    h.obj_getitem(d, k)
    h.obj_contains(d, k)
    h.obj_delitem(d, k)
    assert (sys.getrefcount(k), sys.getrefcount(v)) == (rk, rv)


# --- set casters -------------------------------------------------------------

def test_set_casters_round_trip():
    out = h.hash_set({1, 2, 3})
    assert out == {1, 2, 3} and type(out) is set
    assert h.hash_set(frozenset({4})) == {4}
    assert h.btree_set({"b", "a", "c"}) == ["a", "b", "c"]
    assert h.hash_set.__doc__.startswith("hash_set(s: set[int]) -> set[int]")


@pytest.mark.parametrize("value", [[1, 2], (1,), {1: 2}, "ab", {1, "x"}, None])
def test_set_casters_refuse(value):
    with pytest.raises(TypeError, match=IFA):
        h.hash_set(value)


def test_set_mutated_during_conversion_raises():
    s = set()

    class Sneaky:
        def __index__(self):
            s.add(object())
            return 1
    s.add(Sneaky())
    with pytest.raises(RuntimeError, match="set changed size"):
        h.hash_set(s)


def test_set_whose_elements_mutate_it_in_hash_and_eq():
    s = set()

    class Evil(int):
        def __hash__(self):
            s.clear()
            return int.__hash__(self)

        def __eq__(self, other):
            s.clear()
            return int.__eq__(self, other)
    s.update({Evil(1), Evil(2)})
    s_items = list(s)
    # Converting the items (ints) runs neither __hash__ nor __eq__: the
    # result is the set as it was.
    assert h.hash_set(s) == {1, 2} and list(s) == s_items


# --- [T; N] ------------------------------------------------------------------

def test_fixed_array_round_trip():
    assert h.array3([1.0, 2.0, 3.0]) == [2.0, 4.0, 6.0]
    assert h.array3((1, 2, 3)) == [2.0, 4.0, 6.0]
    assert h.array2_sum(range(5, 7)) == 11
    assert h.array3.__doc__.startswith(
        "array3(a: Annotated[list[float], FixedSize(3)]) -> list[float]")


@pytest.mark.parametrize("value", [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0], (), "abc", [1.0, "x", 3.0]])
def test_fixed_array_wrong_length_is_a_mismatch_naming_the_size(value):
    with pytest.raises(TypeError, match=r"FixedSize\(3\)"):
        h.array3(value)


def test_fixed_array_length_checked_before_items_convert():
    calls = []

    class F:
        def __float__(self):
            calls.append(1)
            return 1.0
    with pytest.raises(TypeError, match=IFA):
        h.array3([F(), F()])
    assert calls == []


# --- paths -------------------------------------------------------------------

def test_path_round_trip_returns_pathlib():
    out = h.path_same("a/b.txt")
    assert out == pathlib.Path("a/b.txt") and isinstance(out, pathlib.Path)
    assert h.path_same(pathlib.Path("/tmp")) == pathlib.Path("/tmp")
    assert h.path_same(b"rel/x") == pathlib.Path("rel/x")
    assert h.path_join(pathlib.PurePosixPath("d"), "f") == pathlib.Path("d/f")
    assert h.path_same.__doc__.startswith("path_same(p: str | os.PathLike) -> pathlib.Path")


def test_path_accepts_any_pathlike(tmp_path):
    (tmp_path / "f").write_text("")
    entry = next(os.scandir(tmp_path))
    assert h.path_same(entry) == tmp_path / "f"

    class P:
        def __fspath__(self):
            return "from/fspath"
    assert h.path_same(P()) == pathlib.Path("from/fspath")


@pytest.mark.skipif(sys.platform == "win32", reason="bytes file names are Unix")
def test_path_non_utf8_file_name_round_trips(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9-\xff"
    with open(raw, "w"):
        pass
    name = [n for n in os.listdir(tmp_path)][0]  # a str with surrogates
    assert "\udce9" in name
    full = os.path.join(str(tmp_path), name)
    assert h.path_bytes(full) == raw
    assert h.path_bytes(raw) == raw
    back = h.path_same(full)
    assert os.fsencode(back) == raw and back.exists()
    assert os.fsencode(h.path_from_bytes(raw)) == raw


@pytest.mark.parametrize("value", [1, None, [b"x"], bytearray(b"x")])
def test_path_refuses_non_paths(value):
    with pytest.raises(TypeError, match=IFA):
        h.path_same(value)


def test_path_hostile_fspath():
    class Raises:
        def __fspath__(self):
            raise ZeroDivisionError("fspath")

    class ReturnsInt:
        def __fspath__(self):
            return 1
    with pytest.raises(ZeroDivisionError, match="fspath"):
        h.path_same(Raises())
    with pytest.raises(TypeError, match="__fspath__"):
        h.path_same(ReturnsInt())
    with pytest.raises(ValueError, match="null"):
        h.path_same("a\0b")


def test_path_returned_refcount_is_one_owner():
    p = h.path_same("x")
    assert sys.getrefcount(p) == ONE_OWNER


# --- Cow<str> ----------------------------------------------------------------

def test_cow_str_is_borrowed():
    assert h.cow_borrowed("héllo") is True
    assert h.cow_upper("abc") == "ABC"
    assert h.cow_upper.__doc__.startswith("cow_upper(s: str) -> str")
    with pytest.raises(TypeError, match=IFA):
        h.cow_upper(b"abc")
