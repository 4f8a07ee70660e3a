// `m.class::<T>` for a type that was never bound with `ndbind::class!`.
use ndbind::prelude::*;

pub struct Point {
    pub x: f64,
}

ndbind::module!(shapes, |m| {
    m.class::<Point>("Point", ())?;
    Ok(())
});

fn main() {}
