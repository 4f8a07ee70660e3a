"""ndbind_test.enums_ext: enums as nanobind 2+ renders them (repr/str, member
metadata), methods, operators and properties defined on enum classes, int()
and hash, flag arithmetic. Written for the Python this project tests on
(3.11); where Python's own enum output changes between versions, the test
compares with the enum module's function instead of a literal."""
import enum
import operator
import os
import pickle
import subprocess
import sys

import pytest

import ndbind_test as t
from ndbind_test import enums_ext as e

IFA = "incompatible function arguments"
S, G, O, B = e.Suit, e.Grade, e.Opt, e.Bits


# --- repr / str ---------------------------------------------------------------------------------
def test_repr_and_str_of_enum_and_int_enum_are_class_dot_name():
    # nanobind: `__str__` and `__repr__` are both `enum.Enum.__str__`.
    for m, text in [(S.Clubs, "Suit.Clubs"), (G.Low, "Grade.Low"), (G.High, "Grade.High"),
                    (t.Color.Red, "Color.Red"), (t.Level.Low, "Level.Low")]:
        assert repr(m) == text and str(m) == text
    assert repr([S.Hearts, G.Mid]) == "[Suit.Hearts, Grade.Mid]"
    # format() follows str() (Python's Enum.__format__ with an overridden __str__).
    assert format(S.Clubs) == "Suit.Clubs" and f"{G.Low}" == str(G.Low)


def test_repr_and_str_of_flags_are_their_kinds_str():
    # Flag: `enum.Flag.__str__` for both (combinations included).
    assert repr(O.A) == str(O.A) == "Opt.A"
    assert repr(O.A | O.C) == str(O.A | O.C) == enum.Flag.__str__(O.A | O.C)
    assert repr(O.A | O.C) in ("Opt.A|C", "Opt.C|A")
    # IntFlag: `enum.IntFlag.__str__` for both: the integer on 3.11+.
    for m in (B.One, B.One | B.Four):
        assert repr(m) == str(m) == enum.IntFlag.__str__(m)
    if sys.version_info >= (3, 11):
        assert repr(B.One) == "1" and repr(B.One | B.Four) == "5"
    assert repr(t.Perm.R | t.Perm.W) == str(t.Perm.R | t.Perm.W)


def test_str_enum_keeps_pythons_repr_and_str():
    from ndbind_test import classproto as c

    assert str(c.Mode.Read) == "r" and repr(c.Mode.Read) == "<Mode.Read: 'r'>"


# --- member metadata ----------------------------------------------------------------------------------
def test_docstrings_and_names():
    assert S.__doc__ == "A card suit." and O.__doc__ == "Options."
    assert G.__doc__ is None  # no docstring given: None, as nanobind
    assert S.Clubs.__doc__ == "Trefoils." and S.Hearts.__doc__ == "Hearts."
    # A member without a docstring has None, not the class's.
    assert S.Diamonds.__doc__ is None and G.Low.__doc__ is None and t.Color.Blue.__doc__ is None
    assert G.High.__doc__ == "The top."
    assert S.Spades.__name__ == "Spades" and S.Spades.name == "Spades" and B.Four.__name__ == "Four"
    assert S.Clubs.__objclass__ is S


def test_class_and_member_module_and_qualname():
    assert S.__module__ == "ndbind_test.enums_ext" and S.__qualname__ == "Suit"
    assert S.Clubs.__module__ == "ndbind_test.enums_ext"
    for m in (S.Hearts, G.Low, O.B, B.Two):
        assert pickle.loads(pickle.dumps(m)) is m


# --- int() and hash ---------------------------------------------------------------------------------
def test_int_of_int_kinds_and_refusal_on_plain_enum():
    assert int(G.Low) == -1 and int(B.Four) == 4 and operator.index(G.High) == 7
    # nanobind 2+ defines no `__int__`/`__index__` on a plain Enum or Flag:
    # Python's Enum refuses int().
    for m in (t.Color.Red, O.A):
        with pytest.raises(TypeError):
            int(m)
        with pytest.raises(TypeError):
            operator.index(m)
    # ... unless the binding defines one (Suit binds `__index__`).
    assert int(S.Hearts) == 3 and operator.index(S.Hearts) == 3 and hex(S.Spades) == "0x4"


def test_hash():
    assert hash(G.High) == hash(7) and hash(B.Two) == hash(2)
    assert hash(t.Color.Red) == hash("Red") and hash(O.A) == hash("A")
    assert {S.Clubs: 1}[S.Clubs] == 1 and len({S.Clubs, S.Clubs, S.Hearts}) == 2


# --- flag arithmetic ----------------------------------------------------------------------------------
@pytest.mark.parametrize("F, a, b, c", [(O, O.A, O.B, O.C), (B, B.One, B.Two, B.Four),
                                        (t.Perm, t.Perm.X, t.Perm.W, t.Perm.R)])
def test_flag_operators_return_members(F, a, b, c):
    ab = a | b
    assert type(ab) is F and ab.value == a.value | b.value
    assert type(ab & a) is F and (ab & a) is a
    assert type(ab ^ a) is F and (ab ^ a) is b
    assert type(~a) is F and (~a).value == (b | c).value
    assert type(a & b) is F and (a & b).value == 0
    assert F(a.value | c.value) == a | c


def test_flags_round_trip_and_refusals():
    assert e.opt_bits(O.A | O.C) == 5 and e.opt_single(O.B) == 2
    assert e.opt_make(3) == O.A | O.B and type(e.opt_make(3)) is O
    with pytest.raises(TypeError, match=IFA):
        e.opt_single(O.A | O.B)  # no single Rust variant
    with pytest.raises(TypeError, match=IFA):
        e.opt_bits(1)
    with pytest.raises(ValueError):
        e.opt_make(8)  # Flag's boundary (STRICT) refuses unknown bits
    with pytest.raises(TypeError):
        O.A | 1  # a plain Flag does not mix with int
    assert e.bits_value(B.One | 8) == 9  # IntFlag keeps unknown bits


def test_unsigned_64_bit_values():
    # `#[repr(u64)]` values above i64::MAX keep their value (nanobind's UnsignedFlag).
    M = e.Mask
    assert M.All.value == 2**64 - 1 and e.mask_all() is M.All
    assert (M.A | M.B).value == 3 and type(M.A | M.B) is M
    assert M(M.All) is M.All and (M.All & M.B) is M.B
    assert e.mask_bits(M.All) == 2**64 - 1 and e.mask_bits(M.A | M.B) == 3
    assert e.mask_make(2**64 - 1) is M.All and e.mask_make(2) is M.B
    assert e.Big.Max == 2**64 - 1
    assert e.big_is_max(e.Big.Max) and e.big_is_max(2**64 - 1)  # conversion pass
    assert not e.big_is_max(0)
    for bad in (2**64, -1, 5):
        with pytest.raises(TypeError, match=IFA):
            e.big_is_max(bad)


# --- methods, operators, properties ---------------------------------------------------------------------
def test_methods():
    assert S.Hearts.is_red() and not S.Clubs.is_red()
    assert S.is_red(S.Diamonds) is True  # through the class
    assert S.Spades.beats(S.Clubs) and not S.Clubs.beats(other=S.Spades)
    assert S.Clubs.describe(3) == "3 of ♣" and S.Clubs.describe("ace") == "ace ♣"
    assert S.trump() is S.Spades and S.Clubs.trump() is S.Spades
    assert G.High.doubled() == 14 and G.doubled(G.Low) == -2
    assert S.is_red.__qualname__ == "Suit.is_red" and S.is_red.__module__ == "ndbind_test.enums_ext"
    assert S.is_red.__doc__ == "is_red(self) -> bool"
    assert S.__dict__["is_red"] is S.is_red  # defined on the class, not its members
    # A method whose `self` is `Flags<T>` takes combinations too.
    assert O.A.count() == 1 and (O.A | O.B | O.C).count() == 3


def test_method_errors():
    with pytest.raises(ValueError, match="Suit.fail"):
        S.Clubs.fail()
    with pytest.raises(TypeError, match=IFA):
        S.Clubs.beats(1)
    with pytest.raises(TypeError, match=IFA):
        S.is_red(t.Color.Red)  # a member of another enum
    with pytest.raises(TypeError, match=IFA):
        S.is_red(3)  # a plain Enum takes members only
    with pytest.raises(TypeError, match=IFA):
        G.doubled(5)  # 5 is no Grade value
    assert G.doubled(7) == 14  # an IntEnum's `self` converts a member's value, as any parameter
    with pytest.raises(TypeError):
        S.Clubs.describe()


def test_operators_and_number_slots():
    assert S.Clubs < S.Spades and not S.Spades < S.Clubs
    assert S.Hearts > S.Diamonds  # reflected __lt__
    with pytest.raises(TypeError, match="not supported"):
        S.Clubs < 1  # NotImplemented both ways
    assert S.Clubs + 2 == 3
    with pytest.raises(TypeError, match="unsupported operand"):
        S.Clubs + "a"
    with pytest.raises(TypeError, match="unsupported operand"):
        2 + S.Clubs  # no __radd__ bound


def test_properties():
    assert S.Hearts.symbol == "♥" and isinstance(S.__dict__["symbol"], property)
    with pytest.raises(AttributeError):
        S.Hearts.symbol = "x"
    assert S.Clubs.weight == 1
    try:
        S.Clubs.weight = 5
        assert S.Clubs.weight == 5 and S.Diamonds.weight == 1
        with pytest.raises(TypeError, match=IFA):
            S.Clubs.weight = "heavy"
        assert S.Clubs.weight == 5
    finally:
        S.Clubs.weight = 1
    assert (O.A | O.C).bits == 5


def test_refcounts_stay_exact():
    before = [sys.getrefcount(x) for x in (S.Clubs, S.Spades, S.is_red)]
    for _ in range(100):
        S.Clubs.is_red(); S.Clubs.symbol; S.trump(); S.Clubs < S.Spades; S.Clubs.beats(S.Spades)
        try:
            S.Clubs.fail()
        except ValueError:
            pass
    assert [sys.getrefcount(x) for x in (S.Clubs, S.Spades, S.is_red)] == before


def test_builder_errors_and_drops():
    # A builder dropped before `finish` dropped its closures' captures.
    assert e.builder_drops == 2
    assert not hasattr(e, "Unbound")
    # A method named like a member: refused, and the class is not published.
    assert e.clash_error == "cannot reassign member 'X'"
    assert not hasattr(e, "Clash")


def test_leak_report_silent_with_enum_methods():
    code = (
        "from ndbind_test import enums_ext as e\n"
        "assert e.Suit.Clubs.symbol and e.Suit.trump()\n"
        "del e.Suit.describe\n"  # frees that function before exit
    )
    env = {k: v for k, v in os.environ.items() if k != "NDBIND_NO_LEAK_REPORT"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
