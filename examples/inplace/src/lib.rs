//! In-place numeric kernels: they write into the caller's float64 array
//! (NumPy, torch, `array.array('d')`, a writable `memoryview`, ...), no copy.
//!
//! Two ways to take a writable array: an `ndarray` view parameter
//! (`ArrayViewMut`, any strides), or an `NdArray` handle whose type states
//! the requirements, viewed with `view_mut()` inside the function.

use ndbind::array::{NdArray, Writable};
use ndbind::ndarray::{ArrayView1, ArrayViewMut, ArrayViewMut1, IxDyn, Zip};
use ndbind::prelude::*;

/// `a *= f`, for any rank and any strides (`x[::2]`, transposes, negative
/// steps): the view walks the caller's memory as it is laid out.
fn scale(mut a: ArrayViewMut<f64, IxDyn>, f: f64) {
    a *= f;
}

/// Clamps every element into `[lo, hi]`. A read-only array never matches
/// a `Writable` parameter: it is a `TypeError` before the call.
fn clip(mut a: NdArray<f64, Writable>, lo: f64, hi: f64) -> PyResult<()> {
    // `f64::clamp` panics on these (a panic would become a RuntimeError).
    if lo > hi || lo.is_nan() || hi.is_nan() {
        return Err(PyErr::value_error(format!("clip: need lo <= hi (got lo={lo}, hi={hi})")));
    }
    // The view is lent until it drops: no other view of this memory can be
    // made meanwhile (see ndbind's SOUNDNESS.md).
    a.view_mut()?.mapv_inplace(|v| v.clamp(lo, hi));
    Ok(())
}

/// `y += alpha * x`. `x` and `y` may not overlap: a Rust `&mut` never
/// aliases, so ndbind refuses such a call with a `ValueError` before it runs.
fn axpy(alpha: f64, x: ArrayView1<f64>, mut y: ArrayViewMut1<f64>) -> PyResult<()> {
    if x.len() != y.len() {
        return Err(PyErr::value_error(format!(
            "axpy: x has {} elements, y has {}",
            x.len(),
            y.len()
        )));
    }
    Zip::from(&mut y).and(&x).for_each(|y, &x| *y += alpha * x);
    Ok(())
}

ndbind::module!(inplace, |m| {
    m.doc("ndbind example: in-place kernels on the caller's float64 arrays.")?;
    m.def("scale", scale, (arg("a"), arg("f"), doc("Multiplies `a` by `f` in place.")))?;
    m.def(
        "clip",
        clip,
        (arg("a"), arg("lo"), arg("hi"), doc("Clamps `a` into [lo, hi] in place.")),
    )?;
    m.def(
        "axpy",
        axpy,
        (
            arg("alpha"),
            arg("x"),
            arg("y"),
            doc("y += alpha * x, in place; x and y must not overlap."),
        ),
    )?;
    Ok(())
});
