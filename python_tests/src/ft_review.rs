//! `ndbind_test.ft_review`: bindings for the adversarial review of the
//! free-threaded support (issue 18 item 3, test_ft_review.py): races that
//! only a GIL-free interpreter opens, on the check-then-act steps of
//! `__init__`, `Box<T>` parameters and the identity map of references.

use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;

use ndbind::class::{gc, PyHandle, Traverse, Visit, VisitStop};
use ndbind::prelude::*;

/// Live `FtVal` values (made minus dropped): a value written twice into
/// one instance leaks one (the count stays up), a value moved out twice
/// is dropped twice (the count goes below its start).
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// A value whose drops are counted.
pub struct FtVal {
    v: u64,
}

impl FtVal {
    fn new(v: u64) -> FtVal {
        LIVE.fetch_add(1, Ordering::Relaxed);
        FtVal { v }
    }
}

impl Drop for FtVal {
    fn drop(&mut self) {
        LIVE.fetch_add(-1, Ordering::Relaxed);
    }
}

ndbind::class!(FtVal);

/// A value big enough (64 KiB, inline in its instance) that writing it,
/// and zeroing a new instance, take long enough for another thread to
/// slip in: the windows of the races below, made wide.
pub struct FtBig {
    data: [u64; BIG],
}

const BIG: usize = 8192;

impl Drop for FtBig {
    fn drop(&mut self) {
        LIVE.fetch_add(-1, Ordering::Relaxed);
    }
}

ndbind::class!(FtBig);

/// The value of `shared()`: one for the process (leaked), so that
/// `inst_reference(.., None)` may point at it.
static SHARED: AtomicUsize = AtomicUsize::new(0);

fn shared_ptr() -> *mut FtBig {
    let p = SHARED.load(Ordering::Acquire);
    if p != 0 {
        return p as *mut FtBig;
    }
    let new = Box::into_raw(Box::new(FtBig { data: [7; BIG] })) as usize;
    match SHARED.compare_exchange(0, new, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => new as *mut FtBig,
        Err(won) => {
            // SAFETY: ours, never shared.
            drop(unsafe { Box::from_raw(new as *mut FtBig) });
            LIVE.fetch_add(1, Ordering::Relaxed); // its drop was not a made value's
            won as *mut FtBig
        }
    }
}

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("ft_review", "Free-threaded review: check-then-act races.")?;
    let c = m.class::<FtVal>("FtVal", doc("A value whose drops are counted."))?;
    c.init(
        // `spin` iterations of busy work first: every thread racing to
        // initialise one instance is past `__init__`'s first check.
        |v: u64, spin: u64| {
            let mut x = 0u64;
            for i in 0..spin {
                x = std::hint::black_box(x.wrapping_add(i));
            }
            std::hint::black_box(x);
            FtVal::new(v)
        },
        (arg("v"), arg("spin").default(0u64)),
    )?
    .property_readonly("v", |t: &FtVal| t.v)?
    .def("bump", |t: &mut FtVal| t.v += 1, ())?
    .static_property_readonly("live", || LIVE.load(Ordering::Relaxed))?;
    m.class::<FtBig>("FtBig", doc("A 64 KiB value whose drops are counted."))?
        .init(
            |v: u64| {
                LIVE.fetch_add(1, Ordering::Relaxed);
                FtBig { data: [v; BIG] }
            },
            arg("v"),
        )?
        .property_readonly("v", |t: &FtBig| t.data[0])?
        .def("same", |t: &FtBig| t.data.iter().all(|&x| x == t.data[0]), ())?;
    // `__init__` returning an `Arc` (the instance holds it).
    m.class::<FtArcVal>("FtArcVal", doc("A value held through an Arc."))?
        .init(|v: u64| Arc::new(FtArcVal { v }), arg("v"))?
        .property_readonly("v", |t: &FtArcVal| t.v)?;
    // The value moved out of its instance (a Box parameter).
    m.def("take", |b: Box<FtVal>| b.v, arg("b"))?;
    // Calls `f` while a `Pod` is borrowed (the low-level functions that
    // change its state must refuse meanwhile).
    m.def(
        "pod_borrowed_calling",
        |p: &crate::classes::Pod, f: Borrowed<'_>| -> PyResult<f64> {
            f.call(&[])?;
            Ok(p.sum())
        },
        (arg("p"), arg("f")),
    )?;
    bind_gc(&m)?;
    // A reference instance of one process-wide value (no parent): the same
    // object while one lives.
    m.def(
        "shared",
        // SAFETY: a leaked value, used by Rust only through this instance.
        || unsafe { ndbind::class::inst_reference(shared_ptr(), None) },
        (),
    )?;
    Ok(())
}

/// Handles the collector traverses, replaced through `&mut self` (the
/// vector reallocates): a traversal that ran while they change would read
/// freed memory.
pub struct FtGc {
    items: Vec<PyHandle>,
}

// SAFETY: traverse reports the handles held; clear only drops them.
unsafe impl Traverse for FtGc {
    fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> {
        self.items.iter().try_for_each(|h| v.call(h))
    }
    fn clear(&mut self) {
        self.items.clear();
    }
}

ndbind::class!(FtGc);

fn bind_gc(m: &Module) -> PyResult<()> {
    m.class::<FtGc>("FtGc", (gc::<FtGc>(), doc("Handles, changed through &mut self.")))?
        .init(|| FtGc { items: Vec::new() }, ())?
        .def(
            "churn",
            |g: &mut FtGc, o: Borrowed<'_>, k: usize| {
                for _ in 0..k {
                    if g.items.len() >= 64 {
                        g.items = Vec::new();
                    }
                    g.items.push(PyHandle::new(o));
                }
            },
            (arg("o"), arg("k")),
        )?;
    Ok(())
}

/// A value held through an `Arc`.
pub struct FtArcVal {
    v: u64,
}

ndbind::class!(FtArcVal);
