//! `ndbind_test.classmodel`: the class model as nanobind's (issue 21,
//! items 4 and 5): mutable class types, docstrings of (static)
//! properties, properties returning references, the `keep_alive`
//! annotation, uninitialised instances and a second `__init__`.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

use ndbind::prelude::*;

/// A plain class: `Mut(v)`, `v` read/write, `get()`.
#[derive(Clone)]
pub struct Mut {
    v: i64,
}
ndbind::class!(Mut, clone);

/// A Rust subclass of `Mut` that adds no data (same value size).
#[derive(Clone)]
pub struct MutTag {
    base: Mut,
}
ndbind::class!(MutTag: Mut { base }, clone);

/// A Rust subclass of `Mut` whose invariant differs (`w` is never 0).
#[derive(Clone)]
pub struct MutNonZero {
    base: Mut,
}
ndbind::class!(MutNonZero: Mut { base }, clone);

/// A class whose `__init__` the tests replace from Python code run by
/// its own constructor's argument conversion.
pub struct Victim {
    v: i64,
}
ndbind::class!(Victim);

/// A bag of items kept alive by `keep_alive` annotations.
pub struct Bag {
    n: usize,
}
ndbind::class!(Bag);

/// A leaf class held by value inside `Nest`.
pub struct Leaf {
    v: i64,
}
ndbind::class!(Leaf);

/// Two leaves, exposed by reference.
pub struct Nest {
    a: Leaf,
    b: Leaf,
}
ndbind::class!(Nest);

static LEVEL: AtomicI64 = AtomicI64::new(0);

pub fn bind(m: &Module) -> PyResult<()> {
    let c = m.submodule("classmodel", "The class model as nanobind's.")?;
    c.class::<Mut>("Mut", doc("A mutable class type."))?
        .init(|v: i64| Mut { v }, arg("v"))?
        .field("v", |m| &m.v, |m| &mut m.v)?
        .def("get", |m: &Mut| m.v, ())?
        .def("bump", |m: &mut Mut| m.v += 1, ())?
        .static_property_readonly("version", || 3)?
        .property_doc("version", "The version of the format.")?
        .static_property("level", || LEVEL.load(Relaxed), |v: i64| LEVEL.store(v, Relaxed))?
        .property_doc("level", "A process-wide level.")?
        .property_readonly("double", |m: &Mut| 2 * m.v)?
        .property_doc("double", "Twice v.")?;
    c.class::<MutTag>("MutTag", ())?.init(|v: i64| MutTag { base: Mut { v } }, arg("v"))?;
    c.class::<MutNonZero>("MutNonZero", ())?
        .init(|v: i64| MutNonZero { base: Mut { v: v.max(1) } }, arg("v"))?
        .def("inv", |m: &MutNonZero| 1_000_000 / m.base.v, ())?;
    c.class::<Victim>("Victim", ())?.init(|v: i64| Victim { v }, arg("v"))?.def(
        "get",
        |v: &Victim| v.v,
        (),
    )?;
    c.def("mut_get", |m: &Mut| m.v, arg("m"))?;
    c.def("mut_bump", |m: &mut Mut| m.v += 1, arg("m"))?;
    // keep_alive(nurse, patient): 0 is the result, 1 the first parameter
    // (`self` for a method and a constructor).
    let bag = c.class::<Bag>("Bag", doc("Keeps what it is given alive."))?;
    bag.init(|_first: Object| Bag { n: 1 }, (arg("first"), keep_alive(1, 2)))?
        .def("add", |b: &mut Bag, _item: Object| b.n += 1, (arg("item"), keep_alive(1, 2)))?
        .def("__len__", |b: &Bag| b.n, ())?;
    // An unknown property name is refused when binding.
    let err = match bag.property_doc("nope", "x") {
        Ok(_) => "no error".to_owned(),
        Err(e) => e.message(),
    };
    c.add("property_doc_error", err)?;
    c.def("keep_alive_arg", |_a: Object, b: Object| b, (arg("a"), arg("b"), keep_alive(2, 1)))?;
    c.def("keep_alive_ret", |_a: Object, b: Object| b, (arg("a"), arg("b"), keep_alive(0, 1)))?;
    c.def("keep_alive_none", |_a: Object| (), (arg("a"), keep_alive(0, 1)))?;
    c.def("keep_alive_plain", |_a: Object, b: Object| b, (arg("a"), arg("b")))?;
    c.def(
        "keep_alive_raises",
        |_a: Object| -> PyResult<Object> { Err(PyErr::value_error("no result")) },
        (arg("a"), keep_alive(0, 1)),
    )?;
    let err = match c.def("bad", |a: Object, _b: Object| a, (arg("a"), arg("b"), keep_alive(3, 1)))
    {
        Ok(_) => "no error".to_owned(),
        Err(e) => e.message(),
    };
    c.add("keep_alive_range_error", err)?;

    // Properties and methods returning a field of a bound class by reference.
    c.class::<Leaf>("Leaf", ())?.init(|v: i64| Leaf { v }, arg("v"))?.field(
        "v",
        |l| &l.v,
        |l| &mut l.v,
    )?;
    c.class::<Nest>("Nest", ())?
        .init(|a: i64, b: i64| Nest { a: Leaf { v: a }, b: Leaf { v: b } }, (arg("a"), arg("b")))?
        .property_ref("a", ndbind::field_of!(Nest, a))?
        .property_doc("a", "The first leaf, by reference.")?
        .def_ref("b_ref", ndbind::field_of!(Nest, b), ())?
        .def("set_a", |n: &mut Nest, v: i64| n.a = Leaf { v }, arg("v"))?;
    Ok(())
}
