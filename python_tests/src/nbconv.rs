//! `ndbind_test.nbconv`: calls and errors as nanobind (issue 21, item 5):
//! a function body that declines its arguments so that the next overload
//! is tried; the raising cast (`Object::extract`); nested classes.

use ndarray::ArrayViewMut1;
use ndbind::prelude::*;

/// A class whose constructor's first overload declines negative values.
#[derive(Clone)]
pub struct Picky {
    value: i64,
    how: &'static str,
}

ndbind::class!(Picky, clone);

/// A class with classes nested in it.
pub struct Outer;
ndbind::class!(Outer);

/// `Outer.Inner`.
#[derive(Clone)]
pub struct Inner {
    n: i64,
}
ndbind::class!(Inner, clone);

/// `Outer.Inner.Deep`.
pub struct Deep;
ndbind::class!(Deep);

pub fn bind(m: &Module) -> PyResult<()> {
    let n = m.submodule("nbconv", "Calls and errors as nanobind.")?;
    // Two overloads: the first declines odd numbers.
    // (Overloads of one signature: the stubs show one.)
    n.def(
        "half",
        |x: i64| -> PyResult<String> {
            if x % 2 != 0 {
                return Err(PyErr::next_overload());
            }
            Ok(format!("{} (even)", x / 2))
        },
        arg("x"),
    )?;
    n.def("half", |x: i64| format!("{} (odd)", x as f64 / 2.0), arg("x"))?;
    // A single overload that declines (the single-overload fast path):
    // the mismatch TypeError.
    n.def(
        "only_even",
        |x: i64| -> PyResult<i64> {
            if x % 2 != 0 {
                return Err(PyErr::next_overload());
            }
            Ok(x)
        },
        arg("x"),
    )?;
    // Every overload declines: the mismatch TypeError.
    for _ in 0..2 {
        n.def("never", |_: i64| -> PyResult<()> { Err(PyErr::next_overload()) }, arg("x"))?;
    }
    // The first overload lends the array mutably, then declines: the loan
    // must be released before the second borrows it again.
    n.def(
        "fill",
        |a: ArrayViewMut1<f64>, v: f64| -> PyResult<&'static str> {
            if v < 0.0 {
                return Err(PyErr::next_overload());
            }
            a.into_iter().for_each(|x| *x = v);
            Ok("first")
        },
        (arg("a"), arg("v")),
    )?;
    n.def(
        "fill",
        |a: ArrayViewMut1<f64>, v: f64| {
            a.into_iter().for_each(|x| *x = -v);
            "second"
        },
        (arg("a"), arg("v")),
    )?;
    // An object argument declined: the reference the call held is dropped.
    n.def(
        "keep_if_list",
        |o: Object| -> PyResult<(bool, Object)> {
            if o.clone().downcast::<List>().is_err() {
                return Err(PyErr::next_overload());
            }
            Ok((true, o))
        },
        arg("o"),
    )?;
    n.def("keep_if_list", |o: Object| (false, o), arg("o"))?;
    // A Python callback runs, then the body declines; an error the
    // callback raised is not swallowed (it is raised, not a decline).
    n.def(
        "call_then_decline",
        |f: Borrowed<'_>| -> PyResult<&'static str> {
            f.call(&[])?;
            Err(PyErr::next_overload())
        },
        arg("f"),
    )?;
    n.def("call_then_decline", |_: Borrowed<'_>| "second", arg("f"))?;
    // The error, returned outside an overload dispatch.
    n.def("is_next_overload", || PyErr::next_overload().is_next_overload(), ())?;
    // The raising cast.
    n.def("extract_f64", |o: Object| o.extract::<f64>(), arg("o"))?;
    n.def("extract_ints", |o: Borrowed<'_>| o.extract::<Vec<i64>>(), arg("o"))?;
    // Constructors decline too.
    let c = n.class::<Picky>("Picky", doc("A constructor with a declining overload."))?;
    c.init(
        |value: i64| -> PyResult<Picky> {
            if value < 0 {
                return Err(PyErr::next_overload());
            }
            Ok(Picky { value, how: "first" })
        },
        arg("value"),
    )?
    .init(|value: i64| Picky { value: -value, how: "second" }, arg("value"))?
    .def("value", |p: &Picky| p.value, ())?
    .def("how", |p: &Picky| p.how, ())?;
    // Nested classes: Outer.Inner, Outer.Inner.Deep.
    let o = n.class::<Outer>("Outer", ())?;
    o.init(|| Outer, ())?;
    let i = o.class::<Inner>("Inner", doc("A class nested in Outer."))?;
    i.init(|n: i64| Inner { n }, arg("n"))?.def("n", |i: &Inner| i.n, ())?;
    i.class::<Deep>("Deep", ())?.init(|| Deep, ())?;
    Ok(())
}
