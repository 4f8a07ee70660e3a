//! Regressions for soundness bugs found by review A of the object model.
//! Submodule `ndbind_test.review_a`.

use ndbind::prelude::*;

/// A class with an implicit conversion, bound only when a test asks
/// (`bind_temp`), into a module object the test owns: it dies with it.
pub struct TempMeters {
    value: f64,
}
impl From<f64> for TempMeters {
    fn from(value: f64) -> TempMeters {
        TempMeters { value }
    }
}
ndbind::class!(TempMeters, implicit);

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("review_a", "Regressions found by review A.")?;
    // Binds `TempMeters` (a float converts implicitly) and `temp_value(x:
    // TempMeters)` into `module`; the function does not keep the class.
    m.def(
        "bind_temp",
        |module: Object| -> PyResult<()> {
            let t = Module::from_object(module)?;
            t.class::<TempMeters>("TempMeters", ())?
                .init(|value: f64| TempMeters { value }, arg("value"))?
                .implicit_from::<f64>()?;
            t.def("temp_value", |x: &TempMeters| x.value, arg("x"))?;
            Ok(())
        },
        arg("module"),
    )?;
    Ok(())
}
