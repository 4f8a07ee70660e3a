//! `ndbind_test.classproto`: Python protocols of bound classes — pickling
//! and copying (`Class::pickle`), iterators (`make_iterator`,
//! `make_iterator_ref`, `Class::def_iter`, `Class::def_next`) — and the
//! enum additions (`EnumKind::StrEnum`, `IntEnum` parameters accepting a
//! plain `int` in the conversion pass).

use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use ndbind::class::{dynamic_attr, make_iterator, make_iterator_ref, Inst, PyHandle};
use ndbind::prelude::*;

// --- pickling ---------------------------------------------------------------------

static SAMPLE_LIVE: AtomicIsize = AtomicIsize::new(0);

/// A value with heap data (a leak or a double drop shows in `live()`).
pub struct Sample {
    name: String,
    xs: Vec<f64>,
}
ndbind::class!(Sample);

impl Sample {
    fn new(name: String, xs: Vec<f64>) -> PyResult<Sample> {
        if name.is_empty() {
            return Err(PyErr::value_error("Sample: empty name"));
        }
        SAMPLE_LIVE.fetch_add(1, Relaxed);
        Ok(Sample { name, xs })
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        SAMPLE_LIVE.fetch_sub(1, Relaxed);
    }
}

/// The same, with a `__dict__` (`dynamic_attr`).
pub struct Tagged {
    n: i64,
}
ndbind::class!(Tagged);

/// No `pickle`: stays unpicklable.
pub struct Opaque {
    _n: i64,
}
ndbind::class!(Opaque);

fn bind_pickle(m: &Module) -> PyResult<()> {
    m.class::<Sample>("Sample", "A picklable value: a name and floats.")?
        .init(Sample::new, (arg("name"), arg("xs")))?
        .property_readonly("name", |s: &Sample| s.name.clone())?
        .property_readonly("xs", |s: &Sample| s.xs.clone())?
        .def("append", |s: &mut Sample, x: f64| s.xs.push(x), arg("x"))?
        .pickle(
            |s: &Sample| (s.name.clone(), s.xs.clone()),
            |(name, xs): (String, Vec<f64>)| Sample::new(name, xs),
        )?;
    m.def("sample_live", || SAMPLE_LIVE.load(Relaxed), ())?;
    m.class::<Tagged>("Tagged", dynamic_attr())?
        .init(|n: i64| Tagged { n }, arg("n"))?
        .property_readonly("n", |t: &Tagged| t.n)?
        .pickle(|t: &Tagged| t.n, |n: i64| Tagged { n })?;
    m.class::<Opaque>("Opaque", ())?.init(|n: i64| Opaque { _n: n }, arg("n"))?;
    Ok(())
}

// --- iterators --------------------------------------------------------------------

/// A container iterated over by borrowing (`def_iter`, `make_iterator_ref`).
pub struct Bag {
    items: Vec<i64>,
}
ndbind::class!(Bag);

/// An item whose conversion calls back into Python (`f(x)`).
struct CallOnConvert(PyHandle, i64);

impl IntoPy for CallOnConvert {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        let x = self.1.into_py(ctx)?;
        self.0.get()?.call(&[x.borrow()])
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

/// Counts down from `n` (`def_next`).
pub struct Countdown {
    n: u32,
}
ndbind::class!(Countdown);

fn bind_iterators(m: &Module) -> PyResult<()> {
    m.class::<Bag>("Bag", "Integers; iter(bag) borrows them.")?
        .init(|items: Vec<i64>| Bag { items }, arg("items"))?
        .def_iter(|b: &Bag| Box::new(b.items.iter().copied()))?
        .def("push", |b: &mut Bag, x: i64| b.items.push(x), arg("x"))?
        .def("total", |b: &Bag| b.items.iter().sum::<i64>(), ())?
        // Negative items fail to convert (ValueError from next()).
        .def(
            "checked",
            |b: Inst<Bag>| {
                make_iterator_ref(b, |b| {
                    Box::new(b.items.iter().map(|&x| {
                        if x < 0 {
                            Err(PyErr::value_error(format!("negative item {x}")))
                        } else {
                            Ok(x)
                        }
                    }))
                })
            },
            (),
        )?
        // Each item is `f(x)`, called while converting it.
        .def(
            "mapped",
            |b: Inst<Bag>, f: Borrowed<'_>| {
                let f = PyHandle::new(f);
                make_iterator_ref(b, move |b| {
                    Box::new(
                        b.items.iter().map(move |&x| {
                            CallOnConvert(PyHandle::new(f.get().expect("GIL held")), x)
                        }),
                    )
                })
            },
            arg("f"),
        )?
        // Only the even items: a size hint that is not exact.
        .def(
            "evens",
            |b: Inst<Bag>| {
                make_iterator_ref(b, |b| Box::new(b.items.iter().copied().filter(|x| x % 2 == 0)))
            },
            (),
        )?
        // Panics at item `at`.
        .def(
            "panicking",
            |b: Inst<Bag>, at: usize| {
                make_iterator_ref(b, move |b| {
                    Box::new(b.items.iter().enumerate().map(move |(i, &x)| {
                        assert!(i != at, "iterator panic at {i}");
                        x
                    }))
                })
            },
            arg("at"),
        )?;
    m.def("count_to", |n: u64| make_iterator(None, 0..n), arg("n"))?;
    // Without the GIL, making a Python iterator is refused (not undefined).
    m.def_nogil("count_to_nogil", |n: u64| make_iterator(None, 0..n), arg("n"))?;
    m.def(
        "chars_of",
        |s: Borrowed<'_>| -> PyResult<Object> {
            let chars: Vec<char> = s.to_str()?.chars().collect();
            make_iterator(Some(s), chars.into_iter())
        },
        arg("s"),
    )?;
    m.class::<Countdown>("Countdown", "An iterator itself: n-1, ..., 0.")?
        .init(|n: u32| Countdown { n }, arg("n"))?
        .def_next(|c: &mut Countdown| {
            c.n = c.n.checked_sub(1)?;
            Some(c.n)
        })?;
    Ok(())
}

// --- enums ------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Read,
    Write,
    Append,
}
ndbind::enum_type!(Mode);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rank {
    Low = 1,
    Mid = 2,
    High = 3,
}
ndbind::enum_type!(Rank);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shade {
    Light = 1,
    Dark = 2,
}
ndbind::enum_type!(Shade);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BadStr {
    A,
}
ndbind::enum_type!(BadStr);

fn bind_enums(m: &Module) -> PyResult<()> {
    m.enum_::<Mode>("Mode", EnumKind::StrEnum)
        .doc("How to open a file.")
        .str_value("Read", Mode::Read, "r", "For reading.")
        .str_value("Write", Mode::Write, "w", "")
        .value("Append", Mode::Append, "") // "append"
        .finish()?;
    m.def(
        "mode_letter",
        |md: Mode| match md {
            Mode::Read => "r",
            Mode::Write => "w",
            Mode::Append => "a",
        },
        arg("m"),
    )?;
    m.def("mode_write", || Mode::Write, ())?;
    m.enum_::<Rank>("Rank", EnumKind::IntEnum)
        .value("Low", Rank::Low, "")
        .value("Mid", Rank::Mid, "")
        .value("High", Rank::High, "")
        .finish()?;
    m.def("rank_value", |r: Rank| r as i64, arg("r"))?;
    m.def("rank_value_strict", |r: Rank| r as i64, arg("r").noconvert())?;
    m.def("rank_or_int", |_: Rank| "rank", arg("r"))?;
    m.def("rank_or_int", |_: i64| "int", arg("r"))?;
    m.enum_::<Shade>("Shade", EnumKind::Enum)
        .value("Light", Shade::Light, "")
        .value("Dark", Shade::Dark, "")
        .finish()?;
    m.def("shade_value", |s: Shade| s as i64, arg("s"))?;
    // A str value on an IntEnum is refused when the class is made.
    let err = m
        .enum_::<BadStr>("BadStr", EnumKind::IntEnum)
        .str_value("A", BadStr::A, "a", "")
        .finish()
        .err()
        .map(|e| e.message());
    m.as_object()
        .borrow()
        .setattr(c"bad_str_enum_error", err.into_py(&ReturnCtx::default())?.borrow())?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    let sub = m.submodule("classproto", "Pickling, iterators and enum additions.")?;
    bind_pickle(&sub)?;
    bind_iterators(&sub)?;
    bind_enums(&sub)?;
    Ok(())
}
