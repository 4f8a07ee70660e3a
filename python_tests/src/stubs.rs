//! `ndbind_test.stubs`: shapes the stub generator (python/ndbind_stubgen)
//! reads from a module: property types in `__doc__` (read-only, a setter
//! of another type, a class bound after the property, static ones), and a
//! default known by its text only.

use ndbind::prelude::*;

pub struct Gauge {
    level: i64,
}
ndbind::class!(Gauge);

#[derive(Clone)]
pub struct Later {
    n: i64,
}
ndbind::class!(Later, clone);

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("stubs", "Shapes the stub generator reads.")?;
    m.class::<Gauge>("Gauge", doc("A gauge."))?
        .init(|| Gauge { level: 1 }, ())?
        .property_readonly("reading", |g: &Gauge| g.level as f64 / 2.0)?
        // Reads an int, takes any float (rounded).
        .property("level", |g: &Gauge| g.level, |g: &mut Gauge, v: f64| g.level = v.round() as i64)?
        // `Later` is bound below: the property's type is rendered now, by
        // the Rust name, which is the Python name too.
        .property_readonly("later", |g: &Gauge| Later { n: g.level })?
        .static_property_readonly("unit", || "kPa")?;
    m.class::<Later>("Later", ())?.field_readonly("n", |l: &Later| &l.n)?;
    // `SIZE` is no Python literal: the signature's default stays its text.
    m.def("text_default", |rest: Args| rest.len(), sig("(n: int = SIZE) -> int"))?;
    Ok(())
}
