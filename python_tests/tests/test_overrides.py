"""CONFORMANCE section 6: overrides of Rust traits, holders, implicit conversions."""
import gc
import sys

import pytest

import ndbind_test as t

IFA = "incompatible function arguments"
N = 20_000


# --- implicit conversions --------------------------------------------------------
def test_meters_basics():
    assert t.Meters(3.0).value == 3.0
    assert repr(t.Meters(3.0)) == "Meters(3.0)"
    m = t.double_meters(t.Meters(2.0))
    assert type(m) is t.Meters and m.value == 4.0


def test_meters_from_float():
    m = t.double_meters(2.0)
    assert type(m) is t.Meters and m.value == 4.0
    assert t.double_meters(2).value == 4.0  # int -> float -> Meters (conversion pass)
    assert t.meters_value(2.5) == 2.5  # &Meters parameter
    assert t.meters_add(1.0, 2.5).value == 3.5  # both parameters


def test_meters_from_python_type():
    # Feet converts through Meters' constructor (a Python-type source).
    assert t.meters_value(t.Feet(10.0)) == pytest.approx(3.048)
    assert t.double_meters(t.Feet(10.0)).value == pytest.approx(6.096)


@pytest.mark.parametrize("bad", ["x", None, [1.0], b"2.0"])
def test_meters_rejects(bad):
    with pytest.raises(TypeError, match=IFA):
        t.double_meters(bad)
    with pytest.raises(TypeError, match=IFA):
        t.meters_value(bad)


def test_implicit_only_in_conversion_pass():
    # The exact pass prefers the float overload even though Meters comes first.
    assert t.meters_or_float(2.0) == "float"
    assert t.meters_or_float(t.Meters(1.0)) == "meters"
    # No exact match for an int: the conversion pass tries Meters first.
    assert t.meters_or_float(2) == "meters"
    # A parameter marked noconvert never converts implicitly.
    assert t.meters_exact(t.Meters(1.0)) == "meters"
    with pytest.raises(TypeError, match=IFA):
        t.meters_exact(2.0)


def test_implicit_never_for_mut():
    m = t.Meters(2.0)
    with pytest.raises(TypeError, match=IFA):
        t.meters_scale(2.0, 3.0)
    t.meters_scale(m, 3.0)
    assert m.value == 6.0


def test_implicit_does_not_nest():
    # Loop converts from any object through a constructor that wants a Loop:
    # the nested conversion is refused, so this is a clean TypeError.
    with pytest.raises(TypeError, match=IFA):
        t.takes_loop(1)
    with pytest.raises(TypeError, match=IFA):
        t.Loop(1)


def test_implicit_temporaries_freed():
    gc.collect()
    before = t.live_counts()
    for _ in range(1000):
        t.meters_value(2.0)
        t.double_meters(2.0)
        try:
            t.double_meters("x")
        except TypeError:
            pass
    gc.collect()
    assert t.live_counts() == before


@pytest.mark.parametrize(
    "fn, args",
    [
        (t.double_meters, (2.0,)),
        (t.meters_value, (2.5,)),
        (t.meters_value, (t.Feet(1.0),)),
        (t.double_meters, ("x",)),
        (t.takes_loop, (1,)),
    ],
)
def test_implicit_no_leak(no_leak, fn, args):
    no_leak(fn, *args, n=N)


# --- holders: Arc ------------------------------------------------------------------
def test_counter_shared_identity():
    a = t.Counter.shared()
    b = t.Counter.shared()
    assert a is b
    assert type(a) is t.Counter
    n = a.count
    a.incr()
    assert b.count == n + 1
    # The static Arc, the Python object's Arc and the parameter's.
    assert t.counter_refs(a) == 3


def test_counter_shared_outlives_python_object():
    gc.collect()
    s = t.Counter.shared()
    s.incr()
    n = s.count
    base = t.arc_instances()
    del s
    gc.collect()
    assert t.arc_instances() == base - 1  # the identity map entry is gone
    s = t.Counter.shared()  # a new Python object for the same Arc
    assert s.count == n and t.counter_refs(s) == 3
    assert t.same_counter(s, t.Counter.shared())


def test_counter_constructed_from_python_is_arc_held():
    c = t.Counter(5)
    assert c.count == 5 and t.counter_count(c) == 5  # &Counter still works
    assert t.counter_refs(c) == 2  # the Python object's Arc and the parameter's
    assert t.Counter().count == 0
    assert t.counters_total([c, t.Counter(2)]) == 7  # list[Counter] as Vec<Arc<Counter>>


def test_rust_keeps_the_value_not_the_object():
    gc.collect()
    base = t.arc_instances()
    c = t.Counter(7)
    t.stash_counter(c)
    assert t.counter_refs(c) == 3
    del c
    gc.collect()
    assert t.arc_instances() == base  # Rust's Arc does not keep the object alive
    c = t.unstash_counter()  # a new Python object for the stashed Arc
    assert type(c) is t.Counter and c.count == 7
    assert t.counter_refs(c) == 2


def test_counter_python_subclass_identity():
    class Sub(t.Counter):
        pass

    x = Sub(2)
    assert t.counter_refs(x) == 2
    t.stash_counter(x)
    assert t.unstash_counter() is x  # same Arc -> the same (subclass) object


def test_counter_no_mut_borrow_of_arc():
    c = t.Counter(3)
    with pytest.raises(RuntimeError, match="shared through an Arc"):
        t.counter_reset(c)
    assert c.count == 3


def test_counter_inline_and_boxed():
    i = t.counter_inline(3)
    assert t.counter_count(i) == 3
    t.counter_reset(i)  # an inline value may be borrowed mutably
    assert i.count == 0
    with pytest.raises(TypeError, match="not held by an Arc"):
        t.counter_refs(i)
    b = t.counter_boxed(4)
    assert type(b) is t.Counter and b.count == 4 and t.inst_state(b) == (True, True)


def test_counter_rejects_other_types():
    for bad in [1, None, "x", t.Meters(1.0)]:
        with pytest.raises(TypeError, match=IFA):
            t.counter_refs(bad)


def test_arc_holders_freed():
    gc.collect()
    before = (t.live_counts(), t.arc_instances())
    for i in range(1000):
        c = t.Counter(i)
        t.counter_refs(c)
        t.stash_counter(c)
        t.unstash_counter()
        t.Counter.shared()
    del c
    gc.collect()
    assert (t.live_counts(), t.arc_instances()) == before


@pytest.mark.parametrize(
    "fn, args",
    [
        (t.Counter.shared, ()),
        (t.counter_refs, (t.Counter(1),)),
        (t.counter_count, (t.Counter(1),)),
        (t.Counter, (3,)),
        (t.counter_refs, (t.counter_inline(1),)),
        (t.counter_reset, (t.Counter(1),)),
    ],
)
def test_holder_no_leak(no_leak, fn, args):
    no_leak(fn, *args, n=N)


# --- overridable traits -----------------------------------------------------------
class Cat(t.Animal):
    def speak(self):
        return self.name + ": meow"


class Quiet(t.Animal):
    pass


class Loud(t.Animal):
    def speak(self):
        return super().speak().upper() + "!"  # reaches the Rust default


class Square(t.Shape):
    def __init__(self, side):
        super().__init__()
        self.side = side

    def area(self):
        return self.side * self.side


class Circle(t.Shape):
    def __init__(self, r):
        super().__init__()
        self.r = r

    def area(self):
        return 3.0 * self.r * self.r


class NoArea(t.Shape):
    pass


def test_animal_base():
    a = t.Animal("rex")
    assert a.speak() == "..." and a.name == "rex"
    assert t.call_speak(a) == "..."
    assert t.call_name(a) == "rex"
    assert t.Animal.speak.__doc__.startswith("speak(self) -> str")


def test_animal_python_override_runs_from_rust():
    c = Cat("tom")
    assert isinstance(c, t.Animal)
    assert t.call_speak(c) == "tom: meow"
    assert t.call_name(c) == "tom"
    assert t.call_speak(Quiet("q")) == "..."  # no override: the Rust default
    assert t.call_speak(Loud("l")) == "...!"  # super() reaches the default, no recursion


def test_animal_rust_implementations():
    d = t.make_dog("fido")
    assert type(d) is t.Animal
    assert t.call_speak(d) == "fido: woof" and d.speak() == "fido: woof"
    assert t.chorus([t.Animal("a"), Cat("c"), d]) == ["...", "c: meow", "fido: woof"]


def test_override_lookup_follows_class_changes():
    class Parrot(t.Animal):
        def speak(self):
            return "hello"

    p = Parrot("p")
    assert t.call_speak(p) == "hello"
    Parrot.speak = lambda self: "changed"  # invalidates the cached lookup
    assert t.call_speak(p) == "changed"
    del Parrot.speak  # back to the Rust default
    assert t.call_speak(p) == "..."


def test_override_errors():
    class BadReturn(t.Animal):
        def speak(self):
            return 3

    class Raises(t.Animal):
        def speak(self):
            raise ValueError("boom")

    with pytest.raises(TypeError, match=r"override returned int, expected str"):
        t.call_speak(BadReturn("x"))
    with pytest.raises(ValueError, match="boom"):
        t.call_speak(Raises("x"))


def test_override_recursion_is_an_error():
    class Rec(t.Animal):
        def speak(self):
            return t.call_speak(self)

    with pytest.raises(RecursionError):
        t.call_speak(Rec("r"))


def test_override_from_thread_without_gil():
    assert t.call_speak_in_thread(Cat("tom")) == "tom: meow"
    assert t.call_speak_in_thread(t.Animal("a")) == "..."

    class Raises(t.Animal):
        def speak(self):
            raise ValueError("boom")

    with pytest.raises(RuntimeError, match="ValueError: boom"):
        t.call_speak_in_thread(Raises("x"))


def test_uninitialized_subclass():
    class NoInit(t.Animal):
        def __init__(self):
            pass  # never calls Animal.__init__

    # nanobind's test: its RuntimeWarning, then the overload error.
    with pytest.warns(RuntimeWarning, match="uninitialized instance of type 'NoInit'!"):
        with pytest.raises(TypeError, match="incompatible function arguments"):
            t.call_speak(NoInit())


def test_shape_total_area():
    assert t.total_area([Square(2.0), Circle(1.0)]) == 7.0
    assert t.total_area([]) == 0.0
    assert t.shape_area(Square(3.0)) == 9.0
    # The Rust default of scaled_area calls the (overridden) area.
    assert t.shape_scaled_area(Square(1.0), 3.0) == 9.0
    assert Square(1.0).scaled_area(2.0) == 4.0


def test_shape_pure_virtual():
    with pytest.raises(RuntimeError, match=r"Shape\.area\(\) is pure virtual.*'NoArea' does not override it"):
        t.total_area([Square(1.0), NoArea()])
    with pytest.raises(RuntimeError, match=r"Shape\.area\(\) is pure virtual"):
        t.shape_area(t.Shape())
    with pytest.raises(RuntimeError, match=r"Shape\.area\(\) is pure virtual"):
        NoArea().area()
    with pytest.raises(RuntimeError, match=r"area\(\) is pure virtual"):
        t.shape_scaled_area(NoArea(), 2.0)


def test_shape_rejects_other_types():
    with pytest.raises(TypeError, match=IFA):
        t.total_area([Square(1.0), 3])
    with pytest.raises(TypeError, match=IFA):
        t.shape_area(t.Animal("x"))
    with pytest.raises(TypeError, match=IFA):
        t.call_speak(Square(1.0))


def test_subclass_instances_collected():
    gc.collect()
    before = t.live_counts()
    c = Cat("tom")
    c.me = c  # a cycle through the subclass's __dict__
    s = Square(2.0)
    s.other = s
    t.call_speak(c)
    t.total_area([s])
    del c, s
    gc.collect()
    assert t.live_counts() == before


@pytest.mark.parametrize(
    "fn, args",
    [
        (t.call_speak, (t.Animal("a"),)),
        (t.call_speak, (Cat("c"),)),
        (t.call_speak, (Loud("l"),)),
        (t.total_area, ([Square(1.0), Circle(2.0)],)),
        (t.total_area, ([NoArea()],)),
        (t.shape_scaled_area, (Square(1.0), 2.0)),
        (t.chorus, ([Cat("c"), t.Animal("a")],)),
    ],
)
def test_overrides_no_leak(no_leak, fn, args):
    no_leak(fn, *args, n=N)


def test_override_error_no_leak(no_leak):
    class Raises(t.Animal):
        def speak(self):
            raise ValueError("boom")

    r = Raises("x")
    no_leak(t.call_speak, r, n=N)


# --- the garbage collector and Rust-held references ---------------------------------
def test_gc_cycle_through_rust_value():
    import weakref

    gc.collect()
    before = t.live_counts()
    c = Cat("tom")
    c.set_friend(c)  # Rust -> Python: the value holds a reference to its own object
    c.me = c  # Python -> Python
    assert c.friend is c
    w = weakref.ref(c)
    assert t.call_speak(c) == "tom: meow"
    del c
    gc.collect()
    assert w() is None
    assert t.live_counts() == before


def test_gc_cycle_between_base_and_subclass():
    import weakref

    gc.collect()
    before = t.live_counts()
    a, b = t.Animal("a"), Cat("b")
    a.set_friend(b)
    b.set_friend(a)
    w = weakref.ref(b)
    del a, b
    gc.collect()
    assert w() is None
    assert t.live_counts() == before


def test_friend_refcounts():
    a = t.Animal("a")
    o = object()
    n = sys.getrefcount(o)
    a.set_friend(o)
    assert sys.getrefcount(o) == n + 1 and a.friend is o
    a.set_friend(None)
    assert sys.getrefcount(o) == n and a.friend is None
    a.set_friend(o)
    assert t.drop_friend_in_thread(a) is True  # released by a thread without the GIL
    assert sys.getrefcount(o) == n and a.friend is None


# --- custom type slots ----------------------------------------------------------------
def test_raw_slot_buffer_protocol():
    c = t.Rgb(1, 2, 3)
    m = memoryview(c)
    assert m.readonly and m.nbytes == 3 and bytes(m) == b"\x01\x02\x03"
    assert m.obj is c
    n = sys.getrefcount(c)
    del m
    assert sys.getrefcount(c) == n - 1
    assert bytes(t.Rgb(255, 0, 7)) == b"\xff\x00\x07"

    class NoInit(t.Rgb):
        def __init__(self):
            pass

    with pytest.raises(BufferError, match="not initialized"):
        memoryview(NoInit())


def test_override_from_nogil_binding():
    import threading

    assert t.call_speak_nogil(t.Animal("a")) == "..."
    assert t.call_speak_nogil(Cat("tom")) == "tom: meow"

    class Raises(t.Animal):
        def speak(self):
            raise ValueError("boom")

    with pytest.raises(RuntimeError, match="ValueError: boom"):
        t.call_speak_nogil(Raises("x"))

    animals = [Cat(f"c{i}") for i in range(4)] + [t.Animal("a"), Loud("l")]
    expected = [t.call_speak(a) for a in animals]
    errors = []

    def work():
        try:
            for _ in range(300):
                assert [t.call_speak_nogil(a) for a in animals] == expected
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


# --- holders: Box parameters take ownership ----------------------------------------------
def test_box_parameter_moves_value_out():
    gc.collect()
    before = t.live_counts()
    i = t.counter_inline(3)
    assert t.counter_consume(i) == 3
    assert t.inst_state(i) == (False, False)  # moved out: not ready
    with pytest.raises(TypeError, match="uninitialized"):
        i.count
    with pytest.raises(TypeError, match="uninitialized"):
        t.counter_consume(i)
    b = t.counter_boxed(5)  # an instance owning a Box
    assert t.counter_consume(b) == 5 and t.inst_state(b) == (False, False)
    del i, b
    gc.collect()
    assert t.live_counts() == before


def test_box_parameter_refusals():
    # An Arc-held value is shared: it cannot be moved into a Box.
    with pytest.raises(TypeError, match="does not own its value"):
        t.counter_consume(t.Counter(1))
    # A failed match of another argument leaves the value in place.
    i = t.counter_inline(4)
    with pytest.raises(TypeError, match=IFA):
        t.counter_consume_with(i, "x")
    assert i.count == 4
    # The same object cannot be moved and borrowed in one call.
    with pytest.raises(RuntimeError):
        t.counter_consume_two(i, i)
    assert i.count == 4
    assert t.counter_consume_two(i, t.counter_inline(1)) == 5
    with pytest.raises(TypeError, match=IFA):
        t.counter_consume(1)


def test_box_parameter_no_leak(no_leak):
    no_leak(lambda: t.counter_consume(t.counter_inline(1)), n=N)
    no_leak(lambda: t.counter_consume(t.counter_boxed(1)), n=N)
