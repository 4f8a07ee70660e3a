// A view type from another version of `ndarray` (the user's own
// `ndarray = "0.16"`; ndbind uses and re-exports 0.17 as `ndbind::ndarray`).
use ndbind::prelude::*;

fn total(a: ndarray016::ArrayView1<'_, f64>) -> f64 {
    a.sum()
}

ndbind::module!(arrays, |m| {
    m.def("total", total, arg("a"))?;
    Ok(())
});

fn main() {}
