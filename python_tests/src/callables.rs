//! `ndbind_test.callables`: Python callables called from Rust (`PyFn`),
//! Rust closures returned as Python functions (`ndbind::function`), and
//! exception chaining and translation (`PyErr::with_cause`, `from_error`).

use std::sync::atomic::{AtomicUsize, Ordering};

use ndbind::class::Class;
use ndbind::prelude::*;
use ndbind::PyFn;

/// `[f(x) for x in xs]`.
fn apply(f: PyFn<(f64,), f64>, xs: Vec<f64>) -> PyResult<Vec<f64>> {
    xs.into_iter().map(|x| f.call((x,))).collect()
}

/// `f()`, its result as is.
fn call0(f: PyFn<(), Object>) -> PyResult<Object> {
    f.call(())
}

/// `f()`, its result discarded.
fn call_discard(f: PyFn<()>) -> PyResult<()> {
    f.call(())
}

/// `f(1, 2.5, "three", True, [4, 5], None)`.
type Six = PyFn<(i64, f64, &'static str, bool, Vec<i64>, Option<i64>), Object>;
fn call6(f: Six) -> PyResult<Object> {
    f.call((1, 2.5, "three", true, vec![4, 5], None))
}

/// `f(s)` with a borrowed `&str` argument, the result a `String`.
fn call_str(f: PyFn<(&str,), String>, s: &str) -> PyResult<String> {
    f.call((s,))
}

/// `f(x)` for an optional callback (`None`: `x` unchanged).
fn maybe_call(f: Option<PyFn<(i64,), i64>>, x: i64) -> PyResult<i64> {
    match f {
        Some(f) => f.call((x,)),
        None => Ok(x),
    }
}

/// Untyped: `f(a, b)` with Rust values.
fn call_with(f: Borrowed<'_>, a: i64, b: &str) -> PyResult<Object> {
    f.call_with((a, b))
}

/// A callable kept in a bound class's field, called later.
pub struct Keeper {
    f: PyFn<(i64,), i64>,
    calls: i64,
}
ndbind::class!(Keeper);

/// Counts the drops of the values captured by `make_counted` closures.
static DROPS: AtomicUsize = AtomicUsize::new(0);

struct DropCounter;

impl Drop for DropCounter {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

static APP_ERROR: ExceptionType = ExceptionType::new();

/// An error type of the user's, translated with `PyErr::from_error`.
#[derive(Debug)]
enum AppError {
    Io(std::io::Error),
    Parse(std::num::ParseIntError),
    Callback(PyErr),
    Plain,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Io(_) => f.write_str("cannot read the input"),
            AppError::Parse(_) => f.write_str("the input is not a number"),
            AppError::Callback(_) => f.write_str("the callback failed"),
            AppError::Plain => f.write_str("plain failure"),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Io(e) => Some(e),
            AppError::Parse(e) => Some(e),
            AppError::Callback(e) => Some(e),
            AppError::Plain => None,
        }
    }
}

impl From<AppError> for PyErr {
    fn from(e: AppError) -> PyErr {
        PyErr::from_error(&APP_ERROR, &e)
    }
}

/// An error whose `source()` chain is two Rust errors deep.
#[derive(Debug)]
struct Outer(std::io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outer")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn read_file(path: &str) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(AppError::Io)
}

fn parse_int(s: &str) -> Result<i64, AppError> {
    s.trim().parse().map_err(AppError::Parse)
}

fn through_callback(f: PyFn<(), i64>) -> Result<i64, AppError> {
    f.call(()).map_err(AppError::Callback)
}

fn plain_app_error() -> Result<(), AppError> {
    Err(AppError::Plain)
}

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("callables", "Callables both ways; exception chaining.")?;

    // Python callables called from Rust.
    m.def("apply", apply, (arg("f"), arg("xs")))?;
    m.def("call0", call0, arg("f"))?;
    m.def("call_discard", call_discard, arg("f"))?;
    m.def("call6", call6, arg("f"))?;
    m.def("call_str", call_str, (arg("f"), arg("s")))?;
    m.def("maybe_call", maybe_call, (arg("f").none(), arg("x")))?;
    m.def("call_with", call_with, (arg("f"), arg("a"), arg("b")))?;
    // Overloads: a callable goes to the first, anything else to the second.
    m.def("kind", |_f: PyFn<(), Object>| "callable", arg("x"))?;
    m.def("kind", |_x: Object| "other", arg("x"))?;
    // A PyFn is Send: it can reach a GIL-free section, where calling it
    // is a RuntimeError (and dropping it takes the GIL).
    m.def_nogil("call_without_gil", |f: PyFn<()>| f.call(()), arg("f"))?;

    let keeper = Class::<Keeper>::new(m.as_object().borrow(), m.name(), "Keeper", ())?;
    keeper.init(|f: PyFn<(i64,), i64>| Keeper { f, calls: 0 }, arg("f"))?;
    keeper.def(
        "fire",
        |k: &mut Keeper, x: i64| {
            k.calls += 1;
            k.f.call((x,))
        },
        arg("x"),
    )?;
    keeper.def("calls", |k: &Keeper| k.calls, ())?;
    keeper.def("callback", |k: &Keeper| k.f.clone(), ())?;

    // Rust closures returned as Python functions.
    m.def(
        "make_adder",
        |k: i64| ndbind::function("adder", move |x: i64| x + k, (arg("x"), doc("x + k"))),
        arg("k"),
    )?;
    m.def(
        "make_capture",
        |obj: Object| ndbind::function("get", move || obj.clone(), ()),
        arg("obj"),
    )?;
    m.def(
        "make_counted",
        || {
            let c = DropCounter;
            ndbind::function(
                "counted",
                move || {
                    let _keep = &c;
                    7
                },
                (),
            )
        },
        (),
    )?;
    m.def("drops", || DROPS.load(Ordering::SeqCst), ())?;
    m.def(
        "make_raiser",
        || {
            ndbind::function(
                "raiser",
                |msg: String| -> PyResult<()> { Err(PyErr::value_error(msg)) },
                arg("msg"),
            )
        },
        (),
    )?;
    // A function returned through a typed callback: Rust calls it back.
    m.def(
        "compose",
        |f: PyFn<(i64,), i64>, g: PyFn<(i64,), i64>| {
            ndbind::function("composed", move |x: i64| f.call((g.call((x,))?,)), arg("x"))
        },
        (arg("f"), arg("g")),
    )?;
    let scale = 2.5;
    let scaled = m.function("scaled", move |x: f64| x * scale, (arg("x"), doc("x * 2.5")))?;
    m.add("scaled", scaled)?;

    // Exception chaining.
    m.def(
        "wrap_error",
        |f: PyFn<()>| f.call(()).map_err(|e| PyErr::runtime_error("callback failed").with_cause(e)),
        arg("f"),
    )?;
    m.def(
        "raise_chained",
        || -> PyResult<()> {
            Err(PyErr::value_error("outer")
                .with_cause(PyErr::key_error("middle").with_cause(PyErr::type_error("inner"))))
        },
        (),
    )?;
    m.def(
        "raise_recaused",
        || -> PyResult<()> {
            Err(PyErr::value_error("outer")
                .with_cause(PyErr::key_error("first"))
                .with_cause(PyErr::index_error("second")))
        },
        (),
    )?;
    // Made and chained without the GIL: nothing touches Python until raised.
    m.def_nogil(
        "raise_chained_nogil",
        || -> PyResult<()> {
            Err(PyErr::value_error("outer").with_cause(PyErr::key_error("inner")))
        },
        (),
    )?;
    m.def(
        "raise_with_sources",
        || -> PyResult<()> {
            let e = Outer(std::io::Error::new(std::io::ErrorKind::NotFound, "nothing here"));
            Err(PyErr::value_error("top").with_sources(&e))
        },
        (),
    )?;

    // Translation of a Rust error type of the user's.
    m.add_exception(&APP_ERROR, c"AppError", None)?;
    m.def("read_file", read_file, arg("path"))?;
    m.def("parse_int", parse_int, arg("s"))?;
    m.def("through_callback", through_callback, arg("f"))?;
    m.def("plain_app_error", plain_app_error, ())?;
    m.def(
        "boxed_error",
        || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            Err(Box::new(Outer(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "locked",
            ))))
        },
        (),
    )?;
    Ok(())
}
