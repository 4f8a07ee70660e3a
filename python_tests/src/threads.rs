//! `ndbind_test.threads`: a class for the 8-thread stress test
//! (test_threads_stress.py, issue 18 item 3). Its `&mut self` methods
//! update plain (non-atomic) fields: only ndbind's borrow flag keeps two
//! threads from updating them at once, so a lost or torn update shows in
//! the counts. The live count is atomic: it holds on any build.

use std::sync::atomic::{AtomicIsize, Ordering};

use ndbind::prelude::*;

/// Live `Tally` values.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// A counter whose fields must always agree (`n == hi * 2^32 + lo`-style:
/// here `a == b`), updated through `&mut self` only.
pub struct Tally {
    a: u64,
    b: u64,
}

impl Tally {
    fn new() -> Tally {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Tally { a: 0, b: 0 }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        LIVE.fetch_add(-1, Ordering::Relaxed);
    }
}

ndbind::class!(Tally);

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("threads", "Shared state for the multi-threaded stress test.")?;
    let c = m.class::<Tally>("Tally", doc("Two counters updated together through &mut self."))?;
    c.init(Tally::new, ())?
        // A read-modify-write in two steps, with the value re-read between
        // them (a `black_box` the optimiser cannot see through): a second
        // writer slipping in loses an update or breaks `a == b`.
        .def(
            "bump",
            |t: &mut Tally| -> u64 {
                let a = std::hint::black_box(t.a);
                t.a = a + 1;
                let b = std::hint::black_box(t.b);
                t.b = b + 1;
                t.a
            },
            (),
        )?
        // Holds `&mut self` across a call into Python (other threads run
        // meanwhile, with or without a GIL): the stored value is written
        // from the copy read before the call.
        .def(
            "bump_calling",
            |t: &mut Tally, f: Borrowed<'_>| -> PyResult<u64> {
                let (a, b) = (t.a, t.b);
                f.call(&[])?;
                t.a = a + 1;
                t.b = b + 1;
                Ok(t.a)
            },
            arg("f"),
        )?
        // A shared borrow across a call into Python: nobody may write meanwhile.
        .def(
            "read_calling",
            |t: &Tally, f: Borrowed<'_>| -> PyResult<bool> {
                let (a, b) = (t.a, t.b);
                f.call(&[])?;
                Ok(t.a == a && t.b == b && a == b)
            },
            arg("f"),
        )?
        .property_readonly("n", |t: &Tally| t.a)?
        .def("consistent", |t: &Tally| t.a == t.b, ())?
        .static_property_readonly("live", || LIVE.load(Ordering::Relaxed))?;
    m.def(
        "tally_bump",
        |t: &mut Tally, k: u64| {
            for _ in 0..k {
                t.a = std::hint::black_box(t.a) + 1;
                t.b = std::hint::black_box(t.b) + 1;
            }
        },
        (arg("t"), arg("k")),
    )?;
    Ok(())
}
