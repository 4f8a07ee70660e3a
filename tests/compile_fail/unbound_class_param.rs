// A parameter of a type that was never bound with `ndbind::class!`: by
// reference, by mutable reference and by value.
use ndbind::prelude::*;

pub struct Point {
    pub x: f64,
}

fn norm(p: &Point) -> f64 {
    p.x.abs()
}

fn scale(p: &mut Point, f: f64) {
    p.x *= f;
}

fn take(p: Point) -> f64 {
    p.x
}

ndbind::module!(shapes, |m| {
    m.def("norm", norm, arg("p"))?;
    m.def("scale", scale, (arg("p"), arg("f")))?;
    m.def("take", take, arg("p"))?;
    Ok(())
});

fn main() {}
