//! Calling Python from Rust: functions that take a Python callable (any
//! object with `__call__`) as a typed `PyFn` and call it with Rust values.
//! An exception raised by the callable propagates to the caller unchanged
//! (same object, same traceback) through `?`; one wrapped by Rust code
//! keeps it as its `__cause__`. And the other way: a Rust closure returned
//! to Python as a function.

use ndbind::prelude::*;
use ndbind::PyFn;

/// A function of one float: `f(x)` converts `x` to a Python float and
/// reads the result back as an `f64` (an `int` result is accepted too, as
/// it would be for a `float` parameter; anything else is a `TypeError`).
/// Its signature reads `collections.abc.Callable[[float], float]`.
type RealFn = PyFn<(f64,), f64>;

/// `[f(x) for x in xs]`, computed in Rust. The values were copied into a
/// `Vec` when the call began, so whatever `f` does to the caller's list
/// cannot affect this loop.
fn apply(f: RealFn, xs: Vec<f64>) -> PyResult<Vec<f64>> {
    xs.into_iter().map(|x| f.call((x,))).collect()
}

/// A root of `f` in `[lo, hi]` by bisection, `f(lo)` and `f(hi)` of
/// opposite signs; stops when the bracket is narrower than `tol`.
fn bisect(f: RealFn, mut lo: f64, mut hi: f64, tol: f64) -> PyResult<f64> {
    if tol.is_nan() || tol <= 0.0 {
        return Err(PyErr::value_error("bisect: tol must be > 0"));
    }
    let (mut f_lo, f_hi) = (f.call((lo,))?, f.call((hi,))?);
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
        let f_mid = f.call((mid,))?;
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
fn call0(f: PyFn<(), Object>) -> PyResult<Object> {
    f.call(())
}

/// `f(x)`, where an exception of `f` is reported as a `ValueError` whose
/// `__cause__` is `f`'s own exception (`raise ValueError(...) from e`).
fn checked(f: RealFn, x: f64) -> PyResult<f64> {
    f.call((x,)).map_err(|e| PyErr::value_error(format!("f({x}) failed")).with_cause(e))
}

/// The derivative of `f`, by central differences with step `h`: a Rust
/// closure returned to Python as a function, which keeps `f` alive.
fn derivative(f: RealFn, h: f64) -> PyResult<Object> {
    if h.is_nan() || h <= 0.0 {
        return Err(PyErr::value_error("derivative: h must be > 0"));
    }
    ndbind::function(
        "derivative",
        move |x: f64| -> PyResult<f64> { Ok((f.call((x + h,))? - f.call((x - h,))?) / (2.0 * h)) },
        (arg("x"), doc("(f(x + h) - f(x - h)) / 2h")),
    )
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
    m.def(
        "checked",
        checked,
        (arg("f"), arg("x"), doc("f(x); its error as the cause of a ValueError.")),
    )?;
    m.def(
        "derivative",
        derivative,
        (arg("f"), arg("h").default(1e-6), doc("The derivative of f, as a function.")),
    )?;
    Ok(())
});
