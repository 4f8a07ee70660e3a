// A constructor of `Point` that returns something else.
use ndbind::prelude::*;

pub struct Point {
    pub x: f64,
}
ndbind::class!(Point);

ndbind::module!(shapes, |m| {
    m.class::<Point>("Point", ())?.init(|x: f64| x * 2.0, arg("x"))?;
    Ok(())
});

fn main() {}
