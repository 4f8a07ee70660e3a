// A function returning a view of its argument: the view cannot outlive
// the call.
use ndbind::ndarray::{s, ArrayView1};
use ndbind::prelude::*;

fn head(a: ArrayView1<'_, f64>) -> ArrayView1<'_, f64> {
    a.slice_move(s![..2])
}

ndbind::module!(arrays, |m| {
    m.def("head", head, arg("a"))?;
    Ok(())
});

fn main() {}
