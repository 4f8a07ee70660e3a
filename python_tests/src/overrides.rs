//! CONFORMANCE section 6: overrides of Rust traits, holders, implicit
//! conversions.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ndbind::core::class::{arc_instances, type_of};
use ndbind::prelude::*;

// --- implicit conversions ------------------------------------------------------

/// A length, implicitly convertible from `float` (and from `Feet`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meters {
    value: f64,
}

impl From<f64> for Meters {
    fn from(value: f64) -> Self {
        Meters { value }
    }
}

ndbind::class!(Meters, clone);

/// Another unit: converts into `Meters` through `Meters`' constructor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feet {
    value: f64,
}

ndbind::class!(Feet, clone);

/// Converts implicitly from any object into itself through a constructor
/// that itself wants a `Loop`: without the no-nesting rule this would
/// recurse forever.
pub struct Loop;

ndbind::class!(Loop);

fn bind_implicit(m: &Module) -> PyResult<()> {
    let f = m.class::<Feet>("Feet", doc("A length in feet."))?;
    f.init(|value: f64| Feet { value }, arg("value"))?.field_readonly("value", |f| &f.value)?;

    let c = m.class::<Meters>("Meters", doc("A length in meters; a float converts implicitly."))?;
    c.init(|value: f64| Meters { value }, arg("value"))?
        .init(|f: &Feet| Meters { value: f.value * 0.3048 }, arg("feet"))?
        .field_readonly("value", |m| &m.value)?
        .repr(|m| format!("Meters({:?})", m.value))?
        .implicit_from::<f64>()?
        .implicit_from_type(type_of::<Feet>().expect("Feet is bound"))?;
    m.def("double_meters", |m: Meters| Meters { value: 2.0 * m.value }, arg("m"))?;
    m.def("meters_value", |m: &Meters| m.value, arg("m"))?;
    m.def("meters_add", |a: &Meters, b: Meters| Meters { value: a.value + b.value }, (arg("a"), arg("b")))?;
    // `&mut` parameters never convert implicitly.
    m.def("meters_scale", |m: &mut Meters, f: f64| m.value *= f, (arg("m"), arg("f")))?;
    // Overloads: the exact pass prefers `float`; the conversion pass
    // reaches `Meters` for an int.
    m.def("meters_or_float", |_: &Meters| "meters", arg("m"))?;
    m.def("meters_or_float", |_: f64| "float", arg("x"))?;
    m.def("meters_exact", |_: &Meters| "meters", arg("m").noconvert())?;

    let l = m.class::<Loop>("Loop", doc("Implicitly convertible from anything, through itself."))?;
    l.init(|_: &Loop| Loop, arg("other"))?
        .implicit_from_type(Object::import(c"builtins")?.borrow().getattr(c"object")?.borrow())?;
    m.def("takes_loop", |_: &Loop| true, arg("l"))?;
    Ok(())
}

// --- holders: Arc ---------------------------------------------------------------

/// A counter shared between Rust and Python through an `Arc` (interior
/// mutability: an `Arc`-held value is never borrowed mutably).
pub struct Counter {
    count: AtomicI64,
}

impl Counter {
    fn new(start: i64) -> Counter {
        Counter { count: AtomicI64::new(start) }
    }
    fn incr(&self) -> i64 {
        self.count.fetch_add(1, Ordering::Relaxed) + 1
    }
    fn get(&self) -> i64 {
        self.count.load(Ordering::Relaxed)
    }
}

ndbind::class!(Counter);

/// The process-wide counter that `Counter.shared()` returns.
static SHARED: OnceLock<Arc<Counter>> = OnceLock::new();
/// Counters kept by Rust alone (`stash_counter` / `unstash_counter`).
static STASH: Mutex<Vec<Arc<Counter>>> = Mutex::new(Vec::new());

fn bind_holders(m: &Module) -> PyResult<()> {
    let c = m.class::<Counter>("Counter", doc("A counter held by an Arc."))?;
    c.init(|start: i64| Arc::new(Counter::new(start)), arg("start").default(0))?
        .def("incr", Counter::incr, ())?
        .property_readonly("count", Counter::get)?
        .def_static("shared", || SHARED.get_or_init(|| Arc::new(Counter::new(0))).clone(), ())?;
    m.def("counter_refs", |c: Arc<Counter>| Arc::strong_count(&c), arg("c"))?;
    m.def("counter_count", |c: &Counter| c.get(), arg("c"))?;
    // An inline (not Arc-held) Counter: `&Counter` works, `Arc<Counter>` does not.
    m.def("counter_inline", |start: i64| Counter::new(start), arg("start"))?;
    m.def("counter_boxed", |start: i64| Box::new(Counter::new(start)), arg("start"))?;
    m.def("counter_reset", |c: &mut Counter| *c.count.get_mut() = 0, arg("c"))?;
    m.def("stash_counter", |c: Arc<Counter>| STASH.lock().expect("stash").push(c), arg("c"))?;
    m.def("unstash_counter", || STASH.lock().expect("stash").pop(), ())?;
    m.def("same_counter", |a: Arc<Counter>, b: Arc<Counter>| Arc::ptr_eq(&a, &b), (arg("a"), arg("b")))?;
    m.def("counters_total", |cs: Vec<Arc<Counter>>| cs.iter().map(|c| c.get()).sum::<i64>(), arg("cs"))?;
    m.def("arc_instances", arc_instances, ())?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    bind_implicit(m)?;
    bind_holders(m)?;
    Ok(())
}
