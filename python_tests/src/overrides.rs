//! CONFORMANCE section 6: overrides of Rust traits, holders, implicit
//! conversions.

use ndbind::core::class::type_of;
use ndbind::prelude::*;

// --- implicit conversions ------------------------------------------------------

/// A length, implicitly convertible from `float` (and from `Feet`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meters {
    value: f64,
}

impl From<f64> for Meters {
    fn from(value: f64) -> Self {
        Meters { value }
    }
}

ndbind::class!(Meters, clone);

/// Another unit: converts into `Meters` through `Meters`' constructor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feet {
    value: f64,
}

ndbind::class!(Feet, clone);

/// Converts implicitly from any object into itself through a constructor
/// that itself wants a `Loop`: without the no-nesting rule this would
/// recurse forever.
pub struct Loop;

ndbind::class!(Loop);

fn bind_implicit(m: &Module) -> PyResult<()> {
    let f = m.class::<Feet>("Feet", doc("A length in feet."))?;
    f.init(|value: f64| Feet { value }, arg("value"))?.field_readonly("value", |f| &f.value)?;

    let c = m.class::<Meters>("Meters", doc("A length in meters; a float converts implicitly."))?;
    c.init(|value: f64| Meters { value }, arg("value"))?
        .init(|f: &Feet| Meters { value: f.value * 0.3048 }, arg("feet"))?
        .field_readonly("value", |m| &m.value)?
        .repr(|m| format!("Meters({:?})", m.value))?
        .implicit_from::<f64>()?
        .implicit_from_type(type_of::<Feet>().expect("Feet is bound"))?;
    m.def("double_meters", |m: Meters| Meters { value: 2.0 * m.value }, arg("m"))?;
    m.def("meters_value", |m: &Meters| m.value, arg("m"))?;
    m.def("meters_add", |a: &Meters, b: Meters| Meters { value: a.value + b.value }, (arg("a"), arg("b")))?;
    // `&mut` parameters never convert implicitly.
    m.def("meters_scale", |m: &mut Meters, f: f64| m.value *= f, (arg("m"), arg("f")))?;
    // Overloads: the exact pass prefers `float`; the conversion pass
    // reaches `Meters` for an int.
    m.def("meters_or_float", |_: &Meters| "meters", arg("m"))?;
    m.def("meters_or_float", |_: f64| "float", arg("x"))?;
    m.def("meters_exact", |_: &Meters| "meters", arg("m").noconvert())?;

    let l = m.class::<Loop>("Loop", doc("Implicitly convertible from anything, through itself."))?;
    l.init(|_: &Loop| Loop, arg("other"))?
        .implicit_from_type(Object::import(c"builtins")?.borrow().getattr(c"object")?.borrow())?;
    m.def("takes_loop", |_: &Loop| true, arg("l"))?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    bind_implicit(m)?;
    Ok(())
}
