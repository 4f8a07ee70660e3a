//! CONFORMANCE section 1: functions, casters and errors.

use std::collections::HashMap;
use std::time::Duration;

use ndbind::prelude::*;
use ndbind::ReturnCtx;

static CUSTOM_ERROR: ExceptionType = ExceptionType::new();

/// `OverflowError` when the sum leaves the 64-bit range.
fn add(a: i64, b: i64) -> PyResult<i64> {
    a.checked_add(b).ok_or_else(|| {
        PyErr::overflow_error(format!("add(): {a} + {b} does not fit in a 64-bit integer"))
    })
}

fn sum_list(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

fn echo_dict(d: HashMap<String, i64>) -> HashMap<String, i64> {
    d
}

fn maybe(x: Option<i64>) -> Option<i64> {
    x
}

fn raise_value_error(msg: String) -> PyResult<()> {
    Err(PyErr::value_error(msg))
}

fn raise_custom(msg: String) -> PyResult<()> {
    Err(PyErr::new(&CUSTOM_ERROR, msg))
}

fn roundtrip_duration(d: Duration) -> Duration {
    d
}

/// A parameter type whose signature name panics (a buggy user caster):
/// rendering `__doc__` must raise, never unwind into CPython.
pub struct PanicName(i64);

impl FromPy for PanicName {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        i64::from_py(obj, convert).map(PanicName)
    }
    fn type_name(_: &mut String) {
        panic!("deliberate panic in type_name")
    }
}

thread_local! {
    /// A handle kept past its call (`keep_in_thread_local`).
    static KEPT: std::cell::RefCell<Option<Object>> = const { std::cell::RefCell::new(None) };
}

pub fn bind(m: &Module) -> PyResult<()> {
    m.def("panicky_signature", |x: PanicName| x.0, arg("x"))?;
    // Beyond CONFORMANCE: safe code on a thread Python did not start gets
    // a panic (not undefined behaviour) when it makes Python objects.
    m.def(
        "python_from_a_rust_thread",
        || -> Vec<bool> {
            let tries: [fn(); 4] = [
                || drop(Object::str("x")),
                || drop(Object::none()),
                || drop(7i64.into_py(&ReturnCtx::default())),
                || drop(PyErr::take()),
            ];
            tries.into_iter().map(|f| std::thread::spawn(f).join().is_err()).collect()
        },
        (),
    )?;
    // A handle in a `thread_local!`: dropped when the thread exits, after
    // it let go of the GIL (its reference is then leaked, never touched).
    m.def("keep_in_thread_local", |o: Object| KEPT.with(|k| *k.borrow_mut() = Some(o)), arg("o"))?;
    m.def("add", add, (arg("a"), arg("b").default(1), doc("Adds two integers.")))?;
    m.def("describe", |_: i64| "int", arg("x"))?;
    m.def("describe", |_: f64| "float", arg("x"))?;
    m.def("describe", |_: &str| "str", arg("x"))?;
    m.def("describe", |_: ndbind::array::NdArray| "ndarray", arg("x"))?;
    m.def("raise_value_error", raise_value_error, arg("msg"))?;
    m.add_exception(&CUSTOM_ERROR, c"CustomError", None)?;
    m.def("raise_custom", raise_custom, arg("msg"))?;
    m.def("panic", || -> () { panic!("deliberate panic from Rust") }, ())?;
    m.def("sum_list", sum_list, arg("xs"))?;
    m.def("echo_dict", echo_dict, arg("d"))?;
    m.def("maybe", maybe, arg("x").default(None::<i64>))?;
    m.def("roundtrip_duration", roundtrip_duration, arg("d"))?;
    // Extra coverage of the binding machinery (markers, borrowed params).
    m.def(
        "markers",
        |a: i64, b: i64, c: i64, d: i64| format!("{a} {b} {c} {d}"),
        (arg("a"), pos_only(), arg("b"), arg("c").default(3), kw_only(), arg("d").default(4)),
    )?;
    m.def("strlen", |s: &str| s.chars().count(), arg("s"))?;
    m.def("bytes_len", |b: &[u8]| b.len(), arg("b"))?;
    m.def(
        "call_back",
        |f: Borrowed<'_>, x: i64| -> PyResult<Object> {
            f.call(&[x.into_py(&Default::default())?.borrow()])
        },
        (arg("f"), arg("x")),
    )?;
    m.def("noconvert_float", |x: f64| x, arg("x").noconvert())?;
    m.def("convert_float", |x: f64| x, arg("x"))?;
    m.def("narrow_u8", |x: u8| x, arg("x"))?;
    m.def("wide_u64", |x: u64| x, arg("x"))?;
    m.def("neg_i8", |x: i8| x, arg("x"))?;
    m.def("tuple_swap", |t: (i64, String)| (t.1, t.0), arg("t"))?;
    m.def(
        "eight",
        |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64, h: i64| {
            a + b + c + d + e + f + g + h
        },
        (),
    )?;
    Ok(())
}
