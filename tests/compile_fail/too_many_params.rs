// A function of 13 parameters: ndbind binds at most 12.
use ndbind::prelude::*;

#[allow(clippy::too_many_arguments)]
fn sum13(
    a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64,
    h: i64, i: i64, j: i64, k: i64, l: i64, n: i64,
) -> i64 {
    a + b + c + d + e + f + g + h + i + j + k + l + n
}

ndbind::module!(numbers, |m| {
    m.def("sum13", sum13, arg("a"))?;
    Ok(())
});

fn main() {}
