// A closure whose parameter type is not written out: nothing in
// `Module::def` says what it is.
use ndbind::prelude::*;

ndbind::module!(numbers, |m| {
    m.def("double", |x| x * 2, arg("x"))?;
    Ok(())
});

fn main() {}
