//! `ndbind_test.enums_ext`: enums as nanobind renders them — `repr`/`str`,
//! member metadata, methods, operators and properties defined on enum
//! classes, `int()`/`hash`, flag arithmetic on every kind.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

use ndbind::prelude::*;
use ndbind::Flags;

/// `enum.Enum` with methods, a property, a static method and operators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Suit {
    Clubs = 1,
    Diamonds = 2,
    Hearts = 3,
    Spades = 4,
}
ndbind::enum_type!(Suit);

/// `enum.IntEnum`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Grade {
    Low = -1,
    Mid = 0,
    High = 7,
}
ndbind::enum_type!(Grade);

/// `enum.Flag` (members are not integers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Opt {
    A = 1,
    B = 2,
    C = 4,
}
ndbind::enum_type!(Opt);

/// `enum.IntFlag`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bits {
    One = 1,
    Two = 2,
    Four = 4,
}
ndbind::enum_type!(Bits);

/// `enum.Flag` over `u64` with a value above `i64::MAX` (nanobind's
/// `UnsignedFlag`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(u64)]
pub enum Mask {
    A = 1,
    B = 2,
    All = u64::MAX,
}
ndbind::enum_type!(Mask);

/// `enum.IntEnum` over `u64`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(u64)]
pub enum Big {
    Zero = 0,
    Max = u64::MAX,
}
ndbind::enum_type!(Big);

/// Bound by `bind_errors` only, never finished.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unbound {
    X = 1,
}
ndbind::enum_type!(Unbound);

/// Bound by `bad_method_error`: a method named like a member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clash {
    X = 1,
}
ndbind::enum_type!(Clash);

/// The per-member weight behind `Suit.weight` (a read/write property).
static WEIGHTS: [AtomicI64; 4] =
    [AtomicI64::new(1), AtomicI64::new(1), AtomicI64::new(1), AtomicI64::new(1)];
/// Drops of the captures of `dropped_builder`'s closures.
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts its drops.
struct DropCount;

impl Drop for DropCount {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Relaxed);
    }
}

fn symbol(s: Suit) -> &'static str {
    match s {
        Suit::Clubs => "♣",
        Suit::Diamonds => "♦",
        Suit::Hearts => "♥",
        Suit::Spades => "♠",
    }
}

fn bind_suit(m: &Module) -> PyResult<()> {
    m.enum_::<Suit>("Suit", EnumKind::Enum)
        .doc("A card suit.")
        .value("Clubs", Suit::Clubs, "Trefoils.")
        .value("Diamonds", Suit::Diamonds, "")
        .value("Hearts", Suit::Hearts, "Hearts.")
        .value("Spades", Suit::Spades, "")
        .def("is_red", |s: Suit| matches!(s, Suit::Diamonds | Suit::Hearts), ())
        .def("beats", |s: Suit, o: Suit| (s as i64) > (o as i64), arg("other"))
        .def("fail", |_: Suit| -> PyResult<()> { Err(PyErr::value_error("Suit.fail")) }, ())
        // Overloads: a second `def` of a name adds one.
        .def("describe", |s: Suit, n: i64| format!("{n} of {}", symbol(s)), arg("n"))
        .def("describe", |s: Suit, t: &str| format!("{t} {}", symbol(s)), arg("text"))
        .def_static("trump", || Suit::Spades, ())
        .def_operator("__lt__", |a: Suit, b: Suit| (a as i64) < (b as i64), arg("other"))
        .def_operator("__add__", |a: Suit, n: i64| a as i64 + n, arg("n"))
        // `int()` on a plain Enum member is refused by Python's Enum (and
        // by nanobind); a binding that wants it defines `__int__`/`__index__`.
        .def("__index__", |s: Suit| s as i64, ())
        .property_readonly("symbol", symbol)
        .property(
            "weight",
            |s: Suit| WEIGHTS[s as usize - 1].load(Relaxed),
            |s: Suit, w: i64| WEIGHTS[s as usize - 1].store(w, Relaxed),
        )
        .finish()?;
    m.def("suit_value", |s: Suit| s as i64, arg("s"))?;
    m.def(
        "suit_of",
        |i: i64| -> PyResult<Suit> {
            match i {
                1 => Ok(Suit::Clubs),
                2 => Ok(Suit::Diamonds),
                3 => Ok(Suit::Hearts),
                4 => Ok(Suit::Spades),
                _ => Err(PyErr::value_error("no such suit")),
            }
        },
        arg("i"),
    )?;
    Ok(())
}

fn bind_kinds(m: &Module) -> PyResult<()> {
    m.enum_::<Grade>("Grade", EnumKind::IntEnum)
        .value("Low", Grade::Low, "")
        .value("Mid", Grade::Mid, "")
        .value("High", Grade::High, "The top.")
        .def("doubled", |g: Grade| 2 * g as i64, ())
        .finish()?;
    m.enum_::<Opt>("Opt", EnumKind::Flag)
        .doc("Options.")
        .value("A", Opt::A, "")
        .value("B", Opt::B, "")
        .value("C", Opt::C, "")
        // `self` as `Flags<Opt>`: members and their combinations.
        .def("count", |f: Flags<Opt>| f.bits().count_ones(), ())
        .property_readonly("bits", |f: Flags<Opt>| f.bits())
        .finish()?;
    m.def("opt_bits", |f: Flags<Opt>| f.bits(), arg("f"))?;
    m.def("opt_single", |o: Opt| o as i64, arg("o"))?;
    m.def("opt_make", |bits: i64| Flags::<Opt>::from_bits(bits), arg("bits"))?;
    m.enum_::<Bits>("Bits", EnumKind::IntFlag)
        .value("One", Bits::One, "")
        .value("Two", Bits::Two, "")
        .value("Four", Bits::Four, "")
        .finish()?;
    m.def("bits_value", |f: Flags<Bits>| f.bits(), arg("f"))?;
    m.enum_::<Mask>("Mask", EnumKind::Flag)
        .value("A", Mask::A, "")
        .value("B", Mask::B, "")
        .value("All", Mask::All, "")
        .finish()?;
    m.def("mask_bits", |f: Flags<Mask>| f.bits() as u64, arg("f"))?;
    m.def("mask_make", |bits: u64| Flags::<Mask>::from_bits(bits as i64), arg("bits"))?;
    m.def("mask_all", || Mask::All, ())?;
    m.enum_::<Big>("Big", EnumKind::IntEnum)
        .value("Zero", Big::Zero, "")
        .value("Max", Big::Max, "")
        .finish()?;
    m.def("big_is_max", |b: Big| b == Big::Max, arg("b"))?;
    Ok(())
}

fn bind_errors(m: &Module) -> PyResult<()> {
    // A builder dropped before `finish` releases its closures' captures.
    let before = DROPS.load(Relaxed);
    {
        let d = DropCount;
        let d2 = DropCount;
        let _builder = m
            .enum_::<Unbound>("Unbound", EnumKind::Enum)
            .value("X", Unbound::X, "")
            .def(
                "f",
                move |_: Unbound| {
                    let _ = &d;
                },
                (),
            )
            .property_readonly("p", move |_: Unbound| {
                let _ = &d2;
                1
            });
    }
    let drops = DROPS.load(Relaxed) - before;
    m.as_object()
        .borrow()
        .setattr(c"builder_drops", drops.into_py(&ReturnCtx::default())?.borrow())?;
    // A method named like a member: the class refuses it; nothing is bound.
    let err = m
        .enum_::<Clash>("Clash", EnumKind::Enum)
        .value("X", Clash::X, "")
        .def("X", |_: Clash| 0, ())
        .finish()
        .err()
        .map(|e| e.message());
    m.as_object().borrow().setattr(c"clash_error", err.into_py(&ReturnCtx::default())?.borrow())?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    let sub = m.submodule("enums_ext", "Enums as nanobind renders them.")?;
    bind_suit(&sub)?;
    bind_kinds(&sub)?;
    bind_errors(&sub)?;
    Ok(())
}
