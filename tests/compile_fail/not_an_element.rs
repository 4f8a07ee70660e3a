// An array element type that no dtype matches.
use ndbind::prelude::*;

fn take(_a: NdArray<usize>) {}

ndbind::module!(arrays, |m| {
    m.def("take", take, arg("a"))?;
    Ok(())
});

fn main() {}
