//! Computations that release the GIL (`Module::def_nogil`): other Python
//! threads run while Rust computes, and several calls run in parallel.
//!
//! A GIL-free function loads its arguments and converts its result with
//! the GIL held; in between it may use only Rust values: array views,
//! numbers, and references to bound classes that are `Sync`: its
//! parameters must be `Send`, so no Python object can reach it. (To
//! release the GIL for part of a function only, use `ndbind::allow_threads`.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ndbind::ndarray::{ArrayView, IxDyn};
use ndbind::prelude::*;

/// The sum of a float64 array of any shape and strides.
fn total(a: ArrayView<f64, IxDyn>) -> f64 {
    a.sum()
}

/// Counts of `a`'s values in `bins` equal bins over `[lo, hi]` (the last
/// bin includes `hi`, as `numpy.histogram`'s does); values outside, and
/// NaN, are not counted.
fn histogram(a: ArrayView<f64, IxDyn>, bins: usize, lo: f64, hi: f64) -> PyResult<Vec<u64>> {
    // Errors are built without touching Python (the exception object is
    // made once the GIL is back), so they may be returned from here.
    if bins == 0 || !lo.is_finite() || !hi.is_finite() || lo >= hi {
        return Err(PyErr::value_error(format!(
            "histogram: need bins > 0 and finite lo < hi (got bins={bins}, lo={lo}, hi={hi})"
        )));
    }
    let mut counts = vec![0u64; bins];
    let width = (hi - lo) / bins as f64;
    for &v in a.iter().filter(|v| (lo..=hi).contains(*v)) {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    Ok(counts)
}

/// Progress of a long computation, and a way to stop it: readable and
/// settable from Python threads while the computation runs without the GIL.
/// Atomics make it `Sync`, which a reference taken by a GIL-free function
/// must be.
#[derive(Default)]
pub struct Progress {
    done: AtomicU64,
    cancelled: AtomicBool,
}

ndbind::class!(Progress);

/// Estimates π from `samples` random points in the unit square (the
/// share inside the quarter circle is π/4), deterministic for a `seed`.
/// Reports progress to `progress` and returns `None` if cancelled there
/// (a cancelled `Progress` stays cancelled).
fn estimate_pi(samples: u64, progress: &Progress, seed: u64) -> PyResult<Option<f64>> {
    const CHUNK: u64 = 1 << 16;
    if samples == 0 {
        return Err(PyErr::value_error("estimate_pi: samples must be > 0"));
    }
    // xorshift64*, small and fast, from a state that must not be 0: the
    // seed mixed by splitmix64 (each seed its own sequence).
    let mut state = {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).max(1)
    };
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        // The top 53 bits, as a float in [0, 1).
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut inside, mut done) = (0u64, 0u64);
    while done < samples {
        if progress.cancelled.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let n = CHUNK.min(samples - done);
        for _ in 0..n {
            let (x, y) = (next(), next());
            inside += u64::from(x * x + y * y < 1.0);
        }
        done += n;
        progress.done.store(done, Ordering::Relaxed);
    }
    Ok(Some(4.0 * inside as f64 / samples as f64))
}

ndbind::module!(nogil, |m| {
    m.doc("ndbind example: computations that release the GIL.")?;
    m.class::<Progress>("Progress", doc("Progress of estimate_pi, and its cancellation."))?
        .init(Progress::default, ())?
        .property_readonly("done", |p: &Progress| p.done.load(Ordering::Relaxed))?
        .def(
            "cancel",
            |p: &Progress| p.cancelled.store(true, Ordering::Relaxed),
            doc("Asks the computation to stop."),
        )?;
    m.def_nogil("total", total, (arg("a"), doc("The sum of a float64 array.")))?;
    m.def_nogil(
        "histogram",
        histogram,
        (arg("a"), arg("bins"), arg("lo"), arg("hi"), doc("Counts per bin, as numpy.histogram.")),
    )?;
    m.def_nogil(
        "estimate_pi",
        estimate_pi,
        (
            arg("samples"),
            arg("progress"),
            arg("seed").default(1u64),
            doc("Monte Carlo estimate of pi; None if cancelled through `progress`."),
        ),
    )?;
    Ok(())
});
