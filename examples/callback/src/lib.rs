//! Calling Python from Rust: functions that take a Python callable (any
//! object with `__call__`) as a `Borrowed` handle and call it. An exception
//! raised by the callable propagates to the caller unchanged (same object,
//! same traceback) through `?`.

use ndbind::prelude::*;

/// Calls `f(x)` with a Python float and reads the result back as a Rust
/// `f64` (an `int` result is accepted too, as it would be for a `float`
/// parameter); anything else is a `TypeError`.
fn call_f64(f: Borrowed<'_>, x: f64) -> PyResult<f64> {
    let arg = x.into_py(&ReturnCtx::default())?;
    let result = f.call(&[arg.borrow()])?;
    f64::from_py(result.borrow(), true).ok_or_else(|| {
        PyErr::type_error(format!(
            "the callback returned {}, not a float",
            result.borrow().type_name()
        ))
    })
}

/// `[f(x) for x in xs]`, computed in Rust. The values were copied into a
/// `Vec` when the call began, so whatever `f` does to the caller's list
/// cannot affect this loop.
fn apply(f: Borrowed<'_>, xs: Vec<f64>) -> PyResult<Vec<f64>> {
    xs.into_iter().map(|x| call_f64(f, x)).collect()
}

/// A root of `f` in `[lo, hi]` by bisection, `f(lo)` and `f(hi)` of
/// opposite signs; stops when the bracket is narrower than `tol`.
fn bisect(f: Borrowed<'_>, mut lo: f64, mut hi: f64, tol: f64) -> PyResult<f64> {
    if tol.is_nan() || tol <= 0.0 {
        return Err(PyErr::value_error("bisect: tol must be > 0"));
    }
    let (mut f_lo, f_hi) = (call_f64(f, lo)?, call_f64(f, hi)?);
    if f_lo == 0.0 {
        return Ok(lo);
    }
    if f_hi == 0.0 {
        return Ok(hi);
    }
    if f_lo.signum() == f_hi.signum() {
        return Err(PyErr::value_error(format!("bisect: f({lo}) and f({hi}) have the same sign")));
    }
    // Each step halves the bracket: a few thousand steps at most, whatever
    // `tol` is (the midpoint stops moving once the bracket is 1 ulp wide).
    while hi - lo > tol {
        let mid = lo + (hi - lo) / 2.0;
        if mid == lo || mid == hi {
            break;
        }
        let f_mid = call_f64(f, mid)?;
        if f_mid == 0.0 {
            return Ok(mid);
        }
        if f_mid.signum() == f_lo.signum() {
            (lo, f_lo) = (mid, f_mid);
        } else {
            hi = mid;
        }
    }
    Ok(lo + (hi - lo) / 2.0)
}

/// Calls `f()` and returns whatever it returned, as is: an `Object` is any
/// Python value.
fn call0(f: Borrowed<'_>) -> PyResult<Object> {
    f.call(&[])
}

ndbind::module!(callback, |m| {
    m.doc("ndbind example: calling Python callables from Rust.")?;
    m.def("apply", apply, (arg("f"), arg("xs"), doc("[f(x) for x in xs], in Rust.")))?;
    m.def(
        "bisect",
        bisect,
        (
            arg("f"),
            arg("lo"),
            arg("hi"),
            arg("tol").default(1e-12),
            doc("A root of f in [lo, hi] by bisection."),
        ),
    )?;
    m.def("call0", call0, (arg("f"), doc("f(), returned unchanged.")))?;
    Ok(())
});
