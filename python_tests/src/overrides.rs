//! CONFORMANCE section 6: overrides of Rust traits, holders, implicit
//! conversions.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use std::ffi::{c_int, c_void};

use ndbind::class::{
    gc,
    lowlevel::{inst_ptr, inst_ready, type_of},
    pure_virtual, raw_slot, Inst, PyHandle, Trampoline, Traverse, Visit, VisitStop,
};
use ndbind::ffi;
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

ndbind::class!(Meters, clone, implicit);

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

ndbind::class!(Loop, implicit);

fn bind_implicit(m: &Module) -> PyResult<()> {
    let f = m.class::<Feet>("Feet", doc("A length in feet."))?;
    f.init(|value: f64| Feet { value }, arg("value"))?.field_readonly("value", |f| &f.value)?;

    let c = m.class::<Meters>("Meters", doc("A length in meters; a float converts implicitly."))?;
    c.init(|value: f64| Meters { value }, arg("value"))?
        .init(|f: &Feet| Meters { value: f.value * 0.3048 }, arg("feet"))?
        .field_readonly("value", |m| &m.value)?
        .repr(|m| format!("Meters({:?})", m.value))?
        .implicit_from::<f64>()?
        .implicit_from_type(type_of::<Feet>().expect("Feet is bound").borrow())?;
    m.def("double_meters", |m: Meters| Meters { value: 2.0 * m.value }, arg("m"))?;
    m.def("meters_value", |m: &Meters| m.value, arg("m"))?;
    m.def(
        "meters_add",
        |a: &Meters, b: Meters| Meters { value: a.value + b.value },
        (arg("a"), arg("b")),
    )?;
    // `&mut` parameters never convert implicitly.
    m.def("meters_scale", |m: &mut Meters, f: f64| m.value *= f, (arg("m"), arg("f")))?;
    // Overloads: the exact pass prefers `float`; the conversion pass
    // reaches `Meters` for an int.
    m.def("meters_or_float", |_: &Meters| "meters", arg("m"))?;
    m.def("meters_or_float", |_: f64| "float", arg("x"))?;
    m.def("meters_exact", |_: &Meters| "meters", arg("m").noconvert())?;

    let l =
        m.class::<Loop>("Loop", doc("Implicitly convertible from anything, through itself."))?;
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

/// Beyond CONFORMANCE: an `Arc`-held class with an overridable method, so
/// that Rust code sharing the value can reach a Python override while the
/// instance is being deallocated (it must get the Rust default then).
pub struct Parrot {
    py: Trampoline,
}

impl Parrot {
    fn speak(&self) -> PyResult<String> {
        ndbind::py_override!(self.py, "speak", (), Ok("squawk".to_owned()))
    }
}

ndbind::class!(Parrot);

/// Parrots kept by Rust alone.
static PARROTS: Mutex<Vec<Arc<Parrot>>> = Mutex::new(Vec::new());

fn bind_parrot(m: &Module) -> PyResult<()> {
    let c =
        m.class::<Parrot>("Parrot", doc("An Arc-held class whose speak() Python may override."))?;
    c.overridable(ndbind::field_of!(Parrot, py))?
        .init(|| Arc::new(Parrot { py: Trampoline::new() }), ())?
        .def("speak", |_: &Parrot| "squawk", ())?;
    m.def("keep_parrot", |p: Arc<Parrot>| PARROTS.lock().expect("parrots").push(p), arg("p"))?;
    m.def(
        "kept_parrot_speaks",
        || -> PyResult<Option<String>> {
            let p = PARROTS.lock().expect("parrots").last().cloned();
            p.map(|p| p.speak()).transpose()
        },
        (),
    )?;
    m.def("release_parrots", || PARROTS.lock().expect("parrots").clear(), ())?;
    Ok(())
}

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
    // Takes the value out of an instance that owns it (inline or boxed).
    m.def("counter_consume", |c: Box<Counter>| c.get(), arg("c"))?;
    m.def("counter_consume_with", |c: Box<Counter>, n: i64| c.get() + n, (arg("c"), arg("n")))?;
    m.def(
        "counter_consume_two",
        |a: Box<Counter>, b: &Counter| a.get() + b.get(),
        (arg("a"), arg("b")),
    )?;
    m.def("stash_counter", |c: Arc<Counter>| STASH.lock().expect("stash").push(c), arg("c"))?;
    m.def("unstash_counter", || STASH.lock().expect("stash").pop(), ())?;
    m.def(
        "same_counter",
        |a: Arc<Counter>, b: Arc<Counter>| Arc::ptr_eq(&a, &b),
        (arg("a"), arg("b")),
    )?;
    m.def(
        "counters_total",
        |cs: Vec<Arc<Counter>>| cs.iter().map(|c| c.get()).sum::<i64>(),
        arg("cs"),
    )?;
    m.def("arc_instances", ndbind::leaks::arc_instances, ())?;
    Ok(())
}

// --- overridable traits --------------------------------------------------------------

/// An animal. Rust types implement it; so may Python subclasses of the
/// bound class `Animal`, by overriding `speak`.
pub trait Animal: Send + Sync {
    fn name(&self) -> String;
    fn speak(&self) -> PyResult<String> {
        Ok("...".to_owned())
    }
}

/// The plain Rust animal behind `Animal(name)`.
struct Basic {
    name: String,
}

impl Animal for Basic {
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// A Rust animal with its own `speak` (see `make_dog`).
struct Dog {
    name: String,
}

impl Animal for Dog {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn speak(&self) -> PyResult<String> {
        Ok(format!("{}: woof", self.name))
    }
}

/// The bound class: a Rust animal (the defaults) and the trampoline that
/// routes overridable methods to a Python subclass's overrides.
/// It also holds a Python reference (`friend`), which the garbage
/// collector sees through `Traverse`.
pub struct PyAnimal {
    inner: Box<dyn Animal>,
    friend: Option<PyHandle>,
    py: Trampoline,
}

impl PyAnimal {
    fn new(inner: impl Animal + 'static) -> PyAnimal {
        PyAnimal { inner: Box::new(inner), friend: None, py: Trampoline::new() }
    }
}

// SAFETY: `traverse` only reports the held handle; `clear` only drops it.
unsafe impl Traverse for PyAnimal {
    fn traverse(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop> {
        visit.call_opt(&self.friend)
    }
    fn clear(&mut self) {
        self.friend = None;
    }
}

impl Animal for PyAnimal {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn speak(&self) -> PyResult<String> {
        ndbind::py_override!(self.py, "speak", (), self.inner.speak())
    }
}

ndbind::class!(PyAnimal);
ndbind::dyn_param!(PyAnimal: Animal);

/// Animals taken out of their instances (`steal_animal`).
static STOLEN: Mutex<Vec<PyAnimal>> = Mutex::new(Vec::new());

/// A shape whose area has no Rust default: only Python subclasses that
/// override `area` can be measured.
pub trait Shape: Send + Sync {
    fn area(&self) -> PyResult<f64>;
    fn scaled_area(&self, factor: f64) -> PyResult<f64> {
        Ok(self.area()? * factor * factor)
    }
}

pub struct PyShape {
    py: Trampoline,
}

impl Shape for PyShape {
    fn area(&self) -> PyResult<f64> {
        ndbind::py_override!(self.py, "area", ())
    }
    fn scaled_area(&self, factor: f64) -> PyResult<f64> {
        ndbind::py_override!(self.py, "scaled_area", (factor), Ok(self.area()? * factor * factor))
    }
}

ndbind::class!(PyShape);
ndbind::dyn_param!(PyShape: Shape);

fn bind_traits(m: &Module) -> PyResult<()> {
    let a = m.class::<PyAnimal>(
        "Animal",
        (
            doc("An animal bound from a Rust trait; Python subclasses may override speak()."),
            gc::<PyAnimal>(),
        ),
    )?;
    a.overridable(ndbind::field_of!(PyAnimal, py))?
        .init(|name: String| PyAnimal::new(Basic { name }), arg("name"))?
        // The Python-visible method is the Rust default: `super().speak()`
        // in an override reaches it instead of recursing.
        .def("speak", |a: &PyAnimal| a.inner.speak(), ())?
        .property_readonly("name", |a: &PyAnimal| a.name())?
        .def(
            "set_friend",
            |a: &mut PyAnimal, f: Option<PyHandle>| a.friend = f,
            arg("friend").none(),
        )?
        .property_readonly("friend", |a: &PyAnimal| -> PyResult<Option<Object>> {
            a.friend.as_ref().map(|h| h.get().map(|o| o.to_owned())).transpose()
        })?;
    m.def("call_speak", |a: &dyn Animal| a.speak(), arg("a"))?;
    // Beyond CONFORMANCE: a value taken out of its instance through `&mut`
    // keeps its trampoline, whose instance may die; calling it later must
    // run the Rust default, never follow the dead back-pointer.
    m.def(
        "steal_animal",
        |a: &mut PyAnimal| {
            let taken = std::mem::replace(a, PyAnimal::new(Basic { name: "replacement".into() }));
            STOLEN.lock().expect("stolen").push(taken);
        },
        arg("a"),
    )?;
    m.def(
        "speak_stolen",
        || -> PyResult<Option<String>> {
            STOLEN.lock().expect("stolen").last().map(|a| a.speak()).transpose()
        },
        (),
    )?;
    m.def("clear_stolen", || STOLEN.lock().expect("stolen").clear(), ())?;
    m.def("call_name", |a: &dyn Animal| a.name(), arg("a"))?;
    m.def("make_dog", |name: String| PyAnimal::new(Dog { name }), arg("name"))?;
    m.def(
        "chorus",
        |animals: Vec<Inst<PyAnimal>>| -> PyResult<Vec<String>> {
            animals.iter().map(|a| a.get()?.speak()).collect()
        },
        arg("animals"),
    )?;
    // The override is called from a Rust thread that does not hold the GIL.
    m.def(
        "call_speak_in_thread",
        |a: &PyAnimal| -> PyResult<String> {
            let r = ndbind::allow_threads(|| {
                std::thread::scope(|s| s.spawn(|| a.speak().map_err(|e| e.message())).join())
            });
            match r {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(msg)) => Err(PyErr::runtime_error(msg)),
                Err(_) => Err(PyErr::runtime_error("the thread panicked")),
            }
        },
        arg("a"),
    )?;

    // The body touches no Python object itself: the override machinery
    // takes the GIL when it calls into Python.
    m.def_nogil("call_speak_nogil", |a: &dyn Animal| a.speak(), arg("a"))?;
    // The friend's reference is released by a Rust thread without the GIL.
    m.def(
        "drop_friend_in_thread",
        |a: &mut PyAnimal| {
            let f = a.friend.take();
            ndbind::allow_threads(|| {
                std::thread::scope(|s| s.spawn(move || drop(f)).join().is_ok())
            })
        },
        arg("a"),
    )?;

    let s = m.class::<PyShape>(
        "Shape",
        doc("An abstract shape: Python subclasses must define area()."),
    )?;
    s.overridable(ndbind::field_of!(PyShape, py))?
        .init(|| PyShape { py: Trampoline::new() }, ())?
        .def("area", |_: &PyShape| -> PyResult<f64> { Err(pure_virtual("Shape.area")) }, ())?
        .def(
            "scaled_area",
            |s: &PyShape, f: f64| -> PyResult<f64> { Ok(s.area()? * f * f) },
            arg("factor"),
        )?;
    m.def(
        "total_area",
        |shapes: Vec<Inst<PyShape>>| -> PyResult<f64> {
            shapes.iter().map(|s| s.get()?.area()).sum()
        },
        arg("shapes"),
    )?;
    m.def("shape_area", |s: &dyn Shape| s.area(), arg("s"))?;
    m.def(
        "shape_scaled_area",
        |s: &dyn Shape, f: f64| s.scaled_area(f),
        (arg("s"), arg("factor")),
    )?;
    Ok(())
}

// --- custom type slots -----------------------------------------------------------------

/// Three bytes, exported read-only through the buffer protocol (a raw
/// `bf_getbuffer` slot).
pub struct Rgb {
    data: [u8; 3],
}

ndbind::class!(Rgb);

unsafe extern "C" fn rgb_getbuffer(
    obj: *mut ffi::PyObject,
    view: *mut ffi::Py_buffer,
    flags: c_int,
) -> c_int {
    // SAFETY: CPython passes a live instance of Rgb's class (or a subclass)
    // and a view to fill; the exported memory lives inside `obj`, which
    // the view keeps alive, and is exported read-only.
    unsafe {
        let o = Borrowed::from_ptr(obj);
        let p = match inst_ready(o).and_then(|ready| {
            if ready {
                inst_ptr::<Rgb>(o)
            } else {
                Err(PyErr::buffer_error("Rgb: the instance is not initialized"))
            }
        }) {
            Ok(p) => p,
            Err(e) => {
                e.restore();
                return -1;
            }
        };
        ffi::PyBuffer_FillInfo(view, obj, (*p).data.as_mut_ptr() as *mut c_void, 3, 1, flags)
    }
}

fn bind_slots(m: &Module) -> PyResult<()> {
    // SAFETY: `rgb_getbuffer` has bf_getbuffer's signature, does not
    // unwind, and checks that the instance is ready.
    let buffer = unsafe { raw_slot(ffi::Py_bf_getbuffer, rgb_getbuffer as *mut c_void) };
    let c = m.class::<Rgb>(
        "Rgb",
        (doc("Three bytes with the buffer protocol (a custom type slot)."), buffer),
    )?;
    c.init(|r: u8, g: u8, b: u8| Rgb { data: [r, g, b] }, (arg("r"), arg("g"), arg("b")))?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    bind_implicit(m)?;
    bind_holders(m)?;
    bind_parrot(m)?;
    bind_traits(m)?;
    bind_slots(m)?;
    Ok(())
}
