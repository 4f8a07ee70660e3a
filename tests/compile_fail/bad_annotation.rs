// A function annotation tuple with an element that is not an annotation.
use ndbind::prelude::*;

fn add(a: i64, b: i64) -> i64 {
    a + b
}

ndbind::module!(numbers, |m| {
    m.def("add", add, (arg("a"), arg("b"), 1))?;
    Ok(())
});

fn main() {}
