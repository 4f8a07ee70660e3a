//! The leak report: at interpreter exit, ndbind tells on stderr which of
//! its instances, types and functions are still alive (as nanobind does),
//! and says nothing when there are none.
//!
//! Counting is a plain load and store per event with the GIL (which
//! serialises every creation and deallocation), so the hot construction
//! path pays no locked instruction; an atomic add when free-threaded. The report runs from `Py_AtExit`, after the interpreter has
//! torn down its modules, and touches no Python object.
//!
//! Set the environment variable `NDBIND_NO_LEAK_REPORT` to silence it.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::core::gil_cell::GilCounter;
use std::sync::Mutex;

use pyo3_ffi as ffi;

static FUNCS: GilCounter = GilCounter::new();
static INSTANCES: GilCounter = GilCounter::new();
static TYPES: GilCounter = GilCounter::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the report off (or back on), e.g. in a process that imports a
/// library known to keep objects alive past interpreter exit (nanobind's
/// `set_leak_warnings`).
///
/// ```
/// ndbind::leaks::set_leak_warnings(false);
/// ```
pub fn set_leak_warnings(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Addresses of the live bound-function objects (creation and death are
/// cold: binding time and module teardown).
static LIVE_FUNCS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

pub(crate) fn func_created(f: usize) {
    FUNCS.add(1);
    if let Ok(mut l) = LIVE_FUNCS.lock() {
        l.push(f);
    }
}

pub(crate) fn func_freed(f: usize) {
    if let Ok(mut p) = PERMANENT_FUNCS.lock() {
        if let Some(i) = p.iter().rposition(|&q| q == f) {
            p.swap_remove(i);
            return;
        }
    }
    FUNCS.add(-1);
    if let Ok(mut l) = LIVE_FUNCS.lock() {
        if let Some(i) = l.iter().rposition(|&p| p == f) {
            l.swap_remove(i);
        }
    }
}

/// Functions kept alive on purpose until the process ends (the methods
/// and properties of enum classes, which their `EnumSlot` holds for
/// good): not counted as live, so never reported.
static PERMANENT_FUNCS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Moves a live function to the permanent ones (once; idempotent).
pub(crate) fn func_permanent(f: usize) {
    let Ok(mut l) = LIVE_FUNCS.lock() else { return };
    if let Some(i) = l.iter().rposition(|&p| p == f) {
        l.swap_remove(i);
        FUNCS.add(-1);
        if let Ok(mut p) = PERMANENT_FUNCS.lock() {
            p.push(f);
        }
    }
}

/// Appends a line ` - leaked function "NAME"` per live bound function.
fn push_live_functions(msg: &mut String) {
    let Ok(l) = LIVE_FUNCS.lock() else { return };
    for &p in l.iter() {
        // SAFETY: registered function objects are unregistered in their
        // dealloc; a listed one is alive (leaked), and the report runs
        // single-threaded at exit.
        let name = unsafe { &(*(p as *const crate::core::func::func_type::FuncObject)).qualname };
        push_line(msg, &[" - leaked function \"", name, "\"\n"]);
    }
}

/// Appends the pieces of one line (no `format!`: cold code kept small).
#[inline(never)]
fn push_line(msg: &mut String, pieces: &[&str]) {
    for p in pieces {
        msg.push_str(p);
    }
}

/// Appends `ndbind: leaked N WHAT(s)!`.
#[inline(never)]
fn push_count(msg: &mut String, n: isize, what: &str) {
    msg.push_str("ndbind: leaked ");
    crate::core::error::push_decimal(msg, n as usize);
    push_line(msg, &[" ", what, "(s)!\n"]);
}

#[inline]
pub(crate) fn inst_created() {
    INSTANCES.add(1)
}
#[inline]
pub(crate) fn inst_freed() {
    INSTANCES.add(-1)
}
#[inline]
pub(crate) fn type_created() {
    TYPES.add(1)
}
#[inline]
pub(crate) fn type_freed() {
    TYPES.add(-1)
}

/// Live counts `(instances, types, functions)`, for tests and diagnostics.
///
/// ```
/// let (instances, types, functions) = ndbind::leaks::live_counts();
/// assert_eq!((instances, types, functions), (0, 0, 0)); // nothing bound in this process
/// ```
pub fn live_counts() -> (isize, isize, isize) {
    (INSTANCES.get(), TYPES.get(), FUNCS.get())
}

/// Registers the report with `Py_AtExit` (once per process).
pub(crate) fn install() {
    if INSTALLED.swap(true, Ordering::Relaxed) {
        return;
    }
    // SAFETY: Py_AtExit only stores the function pointer; `report` is a
    // plain `extern "C"` function that never unwinds into C.
    unsafe {
        ffi::Py_AtExit(Some(report));
    }
}

extern "C" fn report() {
    // Nothing here may unwind into the interpreter's finalisation.
    let _ = std::panic::catch_unwind(|| {
        if !ENABLED.load(Ordering::Relaxed) || std::env::var_os("NDBIND_NO_LEAK_REPORT").is_some() {
            return;
        }
        let (i, t, f) = live_counts();
        if i <= 0 && t <= 0 && f <= 0 {
            return;
        }
        let mut msg = String::new();
        if i > 0 {
            push_count(&mut msg, i, "instance");
            for (name, n) in crate::core::class::record::live_instances_at_exit() {
                if n > 0 {
                    msg.push_str(" - leaked ");
                    crate::core::error::push_decimal(&mut msg, n as usize);
                    push_line(&mut msg, &[" instance(s) of type \"", &name, "\"\n"]);
                }
            }
        }
        if t > 0 {
            push_count(&mut msg, t, "type");
            for (name, _) in crate::core::class::record::live_instances_at_exit() {
                push_line(&mut msg, &[" - leaked type \"", &name, "\"\n"]);
            }
        }
        if f > 0 {
            push_count(&mut msg, f, "function");
            push_live_functions(&mut msg);
        }
        msg.push_str(
            "ndbind: this is likely caused by a reference counting issue in the binding code \
             (set NDBIND_NO_LEAK_REPORT=1 to silence this report).\n",
        );
        // One write of the whole report (not `eprint!`, which brings the
        // test harness's output capture along).
        use std::io::Write;
        let _ = std::io::stderr().write_all(msg.as_bytes());
    });
}
