//! `ndbind_test.varargs`: `*args` / `**kwargs` parameters (`Args`,
//! `Kwargs`), custom signature texts (`sig`), and releasing the GIL inside
//! a binding (`allow_threads`).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use ndbind::prelude::*;

/// A rendezvous with another Python thread: 0 idle, 1 Rust is waiting,
/// 2 signalled. `signal()` needs the GIL to run at all.
static STATE: (Mutex<u8>, Condvar) = (Mutex::new(0), Condvar::new());

/// Says it waits, then waits (at most `timeout_ms`) for `signal()`;
/// whether it came.
fn wait_signal(timeout_ms: u64) -> bool {
    let (lock, cv) = &STATE;
    let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
    *g = 1;
    cv.notify_all();
    let (mut g, _) = cv
        .wait_timeout_while(g, Duration::from_millis(timeout_ms), |s| *s != 2)
        .unwrap_or_else(|e| e.into_inner());
    std::mem::replace(&mut *g, 0) == 2
}

/// Waits (GIL released, at most `timeout_ms`) until Rust waits in
/// `wait_signal`.
fn until_waiting(timeout_ms: u64) -> bool {
    let (lock, cv) = &STATE;
    let g = lock.lock().unwrap_or_else(|e| e.into_inner());
    let (g, _) = cv
        .wait_timeout_while(g, Duration::from_millis(timeout_ms), |s| *s != 1)
        .unwrap_or_else(|e| e.into_inner());
    *g == 1
}

fn signal() {
    let (lock, cv) = &STATE;
    *lock.lock().unwrap_or_else(|e| e.into_inner()) = 2;
    cv.notify_all();
}

/// A class whose methods and constructor take `*args` / `**kwargs`.
pub struct VarHolder {
    n_args: usize,
    keys: Vec<String>,
}

ndbind::class!(VarHolder);

fn keys_of(kw: &Kwargs) -> PyResult<Vec<String>> {
    kw.items()?.map(|(k, _)| Ok(k.borrow().to_str()?.to_owned())).collect()
}

/// Tries a binding the rules refuse; its error message.
fn refused(m: &Module, f: impl FnOnce(&Module) -> PyResult<()>) -> String {
    match f(m) {
        Ok(()) => "accepted".to_owned(),
        Err(e) => e.message(),
    }
}

pub fn bind(m: &Module) -> PyResult<()> {
    let m = &m.submodule("varargs", "*args / **kwargs, sig(...), allow_threads.")?;

    // --- *args / **kwargs --------------------------------------------------
    m.def("collect", |a: i64, rest: Args, kw: Kwargs| (a, rest, kw), arg("a"))?;
    m.def("only_args", |rest: Args| rest, ())?;
    m.def("only_kwargs", |kw: Kwargs| kw, ())?;
    m.def(
        "kwonly_after",
        |a: i64, rest: Args, b: i64, kw: Kwargs| (a, rest.len(), b, kw.len()),
        (arg("a"), arg("items"), arg("b").default(5), arg("options")),
    )?;
    m.def(
        "required_kwonly",
        |rest: Args, key: &str| format!("{}:{key}", rest.len()),
        (arg("rest"), arg("key")),
    )?;
    m.def("posonly_kwargs", |a: i64, kw: Kwargs| (a, kw), (arg("a"), pos_only()))?;
    m.def("no_kwargs", |a: i64, rest: Args| (a, rest.len()), arg("a"))?;
    m.def(
        "sum_args",
        |rest: Args| -> PyResult<f64> {
            // `iter`, not `items`: the abi3 build has no `Tuple::items`.
            rest.iter()
                .map(|x| {
                    f64::from_py(x.borrow(), true).ok_or_else(|| PyErr::type_error("not a number"))
                })
                .sum()
        },
        (),
    )?;
    m.def(
        "arg_at",
        |i: usize, rest: Args| (i < rest.len()).then(|| rest.get_item(i as isize)).transpose(),
        arg("i"),
    )?;
    m.def(
        "kwarg",
        |key: &str, kw: Kwargs| -> PyResult<Option<Object>> { kw.get_item(key) },
        (arg("key"), pos_only()),
    )?;
    m.def("kwarg_keys", |kw: Kwargs| keys_of(&kw), ())?;
    // Overloads: tried in order, as before.
    m.def("overloaded", |x: i64| format!("int {x}"), arg("x"))?;
    m.def("overloaded", |x: i64, rest: Args| format!("int+{} {x}", rest.len()), arg("x"))?;
    m.def("overloaded", |rest: Args, kw: Kwargs| format!("any {} {}", rest.len(), kw.len()), ())?;
    // Keywords whose hash is Python code (`str` subclasses) go into the dict.
    m.def("kwargs_len", |kw: Kwargs| kw.len(), ())?;

    m.class::<VarHolder>("VarHolder", doc("A class with *args / **kwargs."))?
        .init(
            |rest: Args, kw: Kwargs| -> PyResult<VarHolder> {
                Ok(VarHolder { n_args: rest.len(), keys: keys_of(&kw)? })
            },
            (),
        )?
        .def("n_args", |h: &VarHolder| h.n_args, ())?
        .def("keys", |h: &VarHolder| h.keys.clone(), ())?
        .def(
            "call",
            |h: &VarHolder, tag: &str, rest: Args, kw: Kwargs| {
                format!("{tag}:{}:{}:{}", h.n_args, rest.len(), kw.len())
            },
            arg("tag"),
        )?;

    // Bindings the rules refuse (at import: the error messages).
    let bad = vec![
        refused(m, |m| m.def("_bad", |_: Args, _: Args| (), ()).map(drop)),
        refused(m, |m| m.def("_bad", |_: Kwargs, _: i64| (), ()).map(drop)),
        refused(m, |m| m.def("_bad", |_: Kwargs, _: Kwargs| (), ()).map(drop)),
        refused(m, |m| {
            m.def("_bad", |_: i64, _: Args, _: i64| (), (arg("a"), kw_only(), arg("b"))).map(drop)
        }),
        refused(m, |m| m.def("_bad", |_: Args, _: i64| (), ()).map(drop)),
        refused(m, |m| m.def("_bad", |_: Args| (), arg("a").default(1)).map(drop)),
        refused(m, |m| {
            m.def("_bad", |_: i64, _: Args| (), (arg("a"), arg("b"), arg("c"))).map(drop)
        }),
    ];
    m.add("REFUSED", bad)?;

    // --- sig(...) -----------------------------------------------------------
    m.def("sig_full", |x: i64| x, (arg("x").default(0), sig("def sig_full(x: int = 0) -> int")))?;
    m.def(
        "sig_part",
        |x: f64, scale: f64| x * scale,
        (
            arg("x"),
            kw_only(),
            arg("scale").default(1.0),
            sig("(x: float, *, scale: float = 1.0, tag: str = 'a,b') -> float"),
        ),
    )?;
    m.def("sig_over", |x: i64| x, (arg("x"), sig("(x: SmallInt) -> int")))?;
    m.def("sig_over", |s: &str| s.len() as i64, arg("s"))?;
    m.def("sig_varargs", |rest: Args| rest.len(), sig("def sig_varargs(*values: int) -> int"))?;

    // --- allow_threads ------------------------------------------------------
    m.def("signal", signal, ())?;
    m.def_nogil("until_waiting", until_waiting, arg("timeout_ms"))?;
    m.def(
        "wait_for_signal",
        |timeout_ms: u64| allow_threads(|| wait_signal(timeout_ms)),
        arg("timeout_ms"),
    )?;
    m.def("wait_with_gil", wait_signal, arg("timeout_ms"))?;
    m.def(
        "sum_released",
        |a: ndbind::ndarray::ArrayView1<f64>| allow_threads(|| a.sum()),
        arg("a"),
    )?;
    m.def("panic_released", || -> i64 { allow_threads(|| panic!("inside allow_threads")) }, ())?;
    m.def(
        "python_inside_released",
        || allow_threads(|| std::panic::catch_unwind(|| drop(Object::none())).is_err()),
        (),
    )?;
    m.def(
        "str_inside_released",
        || -> String {
            allow_threads(|| {
                std::panic::catch_unwind(|| Object::str("x").map(drop))
                    .err()
                    .and_then(|p| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            })
        },
        (),
    )?;
    m.def("nested_released", || allow_threads(|| allow_threads(|| 7i64)), ())?;
    m.def(
        "released_in_rust_thread",
        || std::thread::spawn(|| allow_threads(|| 3i64)).join().unwrap_or(-1),
        (),
    )?;
    Ok(())
}
