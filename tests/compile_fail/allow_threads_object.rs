// A Python handle captured by a closure that runs without the GIL.
use ndbind::prelude::*;

fn type_name(o: Object) -> String {
    allow_threads(|| o.borrow().type_name())
}

ndbind::module!(threads, |m| {
    m.def("type_name", type_name, arg("o"))?;
    Ok(())
});

fn main() {}
