//! `ndbind_test.introspect`: one binding per parameter kind and signature
//! shape, for `inspect.signature`, `help()` and the rendered `__doc__`.

use ndbind::prelude::*;

/// A name that may be absent: a caster that can represent `None` but does
/// not take it unless the binding says `.none()` (rendered `str | None`).
pub struct MaybeName(Option<String>);

impl FromPy for MaybeName {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        if obj.is_none() {
            return Some(MaybeName(None));
        }
        String::from_py(obj, convert).map(|s| MaybeName(Some(s)))
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

/// A class with a constructor, methods (named, unnamed, overloaded),
/// a static method and `__call__`.
pub struct Gadget {
    name: String,
    size: i64,
}

ndbind::class!(Gadget);

pub fn bind(m: &Module) -> PyResult<()> {
    let m = &m.submodule("introspect", "Signatures for inspect and help().")?;

    m.def("unnamed", |a: i64, b: f64| a as f64 * b, ())?;
    m.def("unnamed_one", |x: i64| x, doc("One unnamed parameter."))?;
    m.def(
        "kinds",
        |a: i64, b: i64, c: i64, d: i64, e: i64| format!("{a} {b} {c} {d} {e}"),
        (
            arg("a"),
            pos_only(),
            arg("b"),
            arg("c").default(2),
            kw_only(),
            arg("d"),
            arg("e").default(5),
        ),
    )?;
    m.def(
        "variadic",
        |a: i64, rest: Args, key: i64, kw: Kwargs| (a, rest.len(), key, kw.len()),
        (arg("a"), arg("rest"), arg("key").default(1), arg("kw")),
    )?;
    m.def(
        "defaults",
        |xs: Vec<i64>, label: String, scale: f64| format!("{label}{}", xs.len() as f64 * scale),
        (arg("xs").default(vec![1i64, 2]), arg("label").default("n="), arg("scale").default(0.5)),
    )?;
    m.def("repr_default", |x: i64| x, arg("x").default(3).default_repr("three"))?;
    m.def(
        "maybe_name",
        |n: MaybeName| n.0.unwrap_or_else(|| "nobody".to_owned()),
        arg("n").none(),
    )?;
    m.def(
        "handles",
        |o: Object, l: List, d: Dict, t: Tuple, s: Set, st: Str| {
            let _ = (l, d, t, s, st);
            o
        },
        (arg("o"), arg("l"), arg("d"), arg("t"), arg("s"), arg("st")),
    )?;
    m.def("optional", |x: Option<f64>| x.map(|v| v * 2.0), arg("x").default(None::<f64>))?;
    // Overloads taking the same parameter: one signature, types joined.
    m.def("pick", |x: i64| x + 1, arg("x"))?;
    m.def("pick", |x: String| x + "!", arg("x"))?;
    // Overloads taking different parameters: `(*args, **kwargs)`.
    m.def("span", |n: i64| n, arg("n"))?;
    m.def("span", |a: i64, b: i64| b - a, (arg("a"), arg("b")))?;
    m.def("custom", |x: i64| x, (arg("x").default(7), sig("(x: int = 7, /) -> int")))?;

    m.class::<Gadget>("Gadget", doc("A gadget with every kind of method."))?
        .init(
            |name: String, size: i64| Gadget { name, size },
            (arg("name"), arg("size").default(1), doc("Makes a gadget.")),
        )?
        .def(
            "label",
            |g: &Gadget, upper: bool| {
                if upper {
                    g.name.to_uppercase()
                } else {
                    g.name.clone()
                }
            },
            (arg("upper").default(false), doc("The gadget's name.")),
        )?
        .def("scaled", |g: &Gadget, f: f64| g.size as f64 * f, ())?
        .def("grow", |g: &mut Gadget, by: i64| g.size += by, arg("by"))?
        .def(
            "grow",
            |g: &mut Gadget, by: i64, times: i64| g.size += by * times,
            (arg("by"), arg("times")),
        )?
        .def("__call__", |g: &Gadget, x: i64| g.size * x, arg("x"))?
        .def_static("make", |n: i64| Gadget { name: "made".to_owned(), size: n }, arg("n"))?
        .def("size", |g: &Gadget| g.size, ())?;
    Ok(())
}
