// A return value of a type that was never bound with `ndbind::class!`.
use ndbind::prelude::*;

pub struct Point {
    pub x: f64,
}

fn make(x: f64) -> Point {
    Point { x }
}

ndbind::module!(shapes, |m| {
    m.def("make", make, arg("x"))?;
    Ok(())
});

fn main() {}
