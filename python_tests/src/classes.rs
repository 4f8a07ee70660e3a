//! CONFORMANCE section 4: classes, enums and the low-level interface.

use std::sync::atomic::{AtomicIsize, Ordering};

use ndbind::class::lowlevel as cls;
use ndbind::class::{dynamic_attr, supplement, weak_referenceable, Zeroable};
use ndbind::prelude::*;
use ndbind::{EnumKind, Flags};

// --- Point, Point3 -----------------------------------------------------------

/// Live `Point` values (also those inside `Point3` and Python subclasses).
/// Points are only made and dropped with the GIL held, which serialises
/// the updates: a load and a store, no locked instruction.
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn live_add(d: isize) {
    if ndbind::FREE_THREADED {
        LIVE.fetch_add(d, Ordering::Relaxed);
    } else {
        LIVE.store(LIVE.load(Ordering::Relaxed) + d, Ordering::Relaxed);
    }
}

#[derive(Debug, PartialEq)]
pub struct Point {
    x: f64,
    y: f64,
}

impl Point {
    fn new(x: f64, y: f64) -> Point {
        live_add(1);
        Point { x, y }
    }
    fn norm(&self) -> f64 {
        self.x.hypot(self.y)
    }
}

impl Clone for Point {
    fn clone(&self) -> Point {
        Point::new(self.x, self.y)
    }
}

impl Drop for Point {
    fn drop(&mut self) {
        live_add(-1);
    }
}

ndbind::class!(Point, clone);

#[derive(Clone, Debug, PartialEq)]
pub struct Point3 {
    base: Point,
    z: f64,
}

ndbind::class!(Point3: Point { base }, clone);

fn bind_points(m: &Module) -> PyResult<()> {
    let c = m.class::<Point>("Point", doc("A point in the plane."))?;
    c.init(Point::new, (arg("x"), arg("y")))?
        .def("norm", Point::norm, doc("Distance from the origin."))?
        .def(
            "scale",
            |p: &mut Point, f: f64| {
                p.x *= f;
                p.y *= f;
            },
            arg("f"),
        )?
        .def("plus", |a: &Point, b: &Point| Point::new(a.x + b.x, a.y + b.y), arg("other"))?
        // Calls back into Python while `self` is mutably borrowed.
        .def(
            "mutate_with",
            |p: &mut Point, f: Borrowed<'_>| -> PyResult<Object> {
                p.x += 1.0;
                f.call(&[])
            },
            arg("f"),
        )?
        .field("x", |p| &p.x, |p| &mut p.x)?
        .field("y", |p| &p.y, |p| &mut p.y)?
        .def_static("origin", || Point::new(0.0, 0.0), ())?
        .static_property(
            "live",
            || LIVE.load(Ordering::Relaxed),
            |v: isize| LIVE.store(v, Ordering::Relaxed),
        )?
        .repr(|p| format!("Point(x={:?}, y={:?})", p.x, p.y))?
        .eq()?
        .def_operator(
            "__add__",
            |a: &Point, b: &Point| Point::new(a.x + b.x, a.y + b.y),
            arg("other"),
        )?
        .def_operator("__mul__", |a: &Point, f: f64| Point::new(a.x * f, a.y * f), arg("f"))?
        .def_operator("__rmul__", |a: &Point, f: f64| Point::new(a.x * f, a.y * f), arg("f"))?
        .def("__neg__", |a: &Point| Point::new(-a.x, -a.y), ())?;
    m.def("norm_of", |p: &Point| p.norm(), arg("p"))?;
    m.def("scale_by", |p: &mut Point, f: f64| p.x *= f, (arg("p"), arg("f")))?;
    m.def(
        "swap_xy",
        |a: &mut Point, b: &mut Point| std::mem::swap(&mut a.x, &mut b.x),
        (arg("a"), arg("b")),
    )?;
    m.def("point_copy", |p: Point| p, arg("p"))?;

    let c3 = m.class::<Point3>("Point3", doc("A point in space: a Rust subclass of Point."))?;
    c3.init(
        |x: f64, y: f64, z: f64| Point3 { base: Point::new(x, y), z },
        (arg("x"), arg("y"), arg("z")),
    )?
    .field("z", |p| &p.z, |p| &mut p.z)?
    .repr(|p| format!("Point3(x={:?}, y={:?}, z={:?})", p.base.x, p.base.y, p.z))?;
    m.def("z_of", |p: &Point3| p.z, arg("p"))?;
    Ok(())
}

// --- Pod and the low-level interface ------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pod {
    a: f64,
    b: f64,
}

// SAFETY: two f64 fields; all-zero bytes are 0.0, 0.0.
unsafe impl Zeroable for Pod {}

impl Pod {
    /// `a + b` (what `Pod.total()` returns).
    pub fn sum(&self) -> f64 {
        self.a + self.b
    }
}

ndbind::class!(Pod, clone, zeroable);

/// `o`, if it is a `Pod` (or a Python subclass of it); else `TypeError`.
fn pod(o: Borrowed<'_>) -> PyResult<Borrowed<'_>> {
    cls::inst_ptr::<Pod>(o)?;
    Ok(o)
}

fn bind_pod(m: &Module) -> PyResult<()> {
    let c = m.class::<Pod>("Pod", doc("Plain old data for the low-level interface."))?;
    c.init(|a: f64, b: f64| Pod { a, b }, (arg("a"), arg("b")))?
        .field("a", |p| &p.a, |p| &mut p.a)?
        .field("b", |p| &p.b, |p| &mut p.b)?
        .def("total", |p: &Pod| p.a + p.b, ())?
        .repr(|p| format!("Pod(a={:?}, b={:?})", p.a, p.b))?;

    // The functions that modify an instance take Pods only (CONFORMANCE).
    m.def("inst_alloc", |t: Borrowed<'_>| cls::inst_alloc(t), arg("t"))?;
    m.def("inst_ready", |o: Borrowed<'_>| cls::inst_ready(o), arg("o"))?;
    m.def("inst_zero", |o: Borrowed<'_>| cls::inst_zero(pod(o)?), arg("o"))?;
    m.def("inst_mark_ready", |o: Borrowed<'_>| cls::inst_mark_ready(pod(o)?), arg("o"))?;
    m.def("inst_destruct", |o: Borrowed<'_>| cls::inst_destruct(pod(o)?), arg("o"))?;
    m.def(
        "inst_copy",
        |d: Borrowed<'_>, s: Borrowed<'_>| cls::inst_copy(pod(d)?, pod(s)?),
        (arg("dst"), arg("src")),
    )?;
    m.def(
        "inst_move",
        |d: Borrowed<'_>, s: Borrowed<'_>| cls::inst_move(pod(d)?, pod(s)?),
        (arg("dst"), arg("src")),
    )?;
    m.def(
        "inst_replace_copy",
        |d: Borrowed<'_>, s: Borrowed<'_>| cls::inst_replace_copy(pod(d)?, pod(s)?),
        (arg("dst"), arg("src")),
    )?;
    m.def(
        "inst_replace_move",
        |d: Borrowed<'_>, s: Borrowed<'_>| cls::inst_replace_move(pod(d)?, pod(s)?),
        (arg("dst"), arg("src")),
    )?;
    // Beyond CONFORMANCE: the library function itself, on any instance.
    m.def("inst_destruct_any", |o: Borrowed<'_>| cls::inst_destruct(o), arg("o"))?;
    m.def("inst_state", |o: Borrowed<'_>| cls::inst_state(o), arg("o"))?;
    m.def(
        "inst_set_state",
        |o: Borrowed<'_>, ready: bool, destruct: bool| {
            cls::inst_set_state(pod(o)?, ready, destruct)
        },
        (arg("o"), arg("ready"), arg("destruct")),
    )?;
    m.def("type_check", |t: Borrowed<'_>| cls::type_check(t), arg("t"))?;
    m.def("inst_check", |o: Borrowed<'_>| cls::inst_check(o), arg("o"))?;
    m.def("type_name", |t: Borrowed<'_>| cls::type_name(t), arg("t"))?;
    m.def("inst_name", |o: Borrowed<'_>| cls::inst_name(o), arg("o"))?;
    m.def(
        "type_layout",
        |t: Borrowed<'_>| -> PyResult<(usize, usize)> {
            Ok((cls::type_size(t)?, cls::type_align(t)?))
        },
        arg("t"),
    )?;
    // The seed's "placement new": construct a Pod inside an uninitialised
    // instance, without marking it ready (inst_mark_ready does that).
    m.def(
        "pod_placement_init",
        |o: Borrowed<'_>, a: f64, b: f64| -> PyResult<()> {
            if cls::inst_ready(o)? {
                return Err(PyErr::type_error(
                    "pod_placement_init(): the instance is already initialised",
                ));
            }
            let p = cls::inst_ptr::<Pod>(o)?;
            // SAFETY: `p` is the storage of a Pod instance that is not ready,
            // hence not borrowed by any running function; Pod has no drop glue.
            unsafe { p.write(Pod { a, b }) };
            Ok(())
        },
        (arg("o"), arg("a"), arg("b")),
    )?;
    // The idiomatic Rust spelling of the same: construct and mark ready.
    m.def(
        "pod_init",
        |o: Borrowed<'_>, a: f64, b: f64| cls::inst_init(o, Pod { a, b }),
        (arg("o"), arg("a"), arg("b")),
    )?;
    m.def(
        "pod_owned",
        |a: f64, b: f64| ndbind::class::inst_take_ownership(Box::new(Pod { a, b })),
        (arg("a"), arg("b")),
    )?;
    m.def("pod_total", |p: &Pod| p.a + p.b, arg("p"))?;
    Ok(())
}

// --- Wide: an over-aligned value -------------------------------------------------

/// Live `Wide` values (made and dropped with the GIL held, like `LIVE`).
static WIDE_LIVE: AtomicIsize = AtomicIsize::new(0);

/// Beyond CONFORMANCE: a value aligned above anything an allocator gives a
/// Python object; every way an instance gets its value must honour it.
#[derive(Debug, PartialEq)]
#[repr(C, align(128))]
pub struct Wide {
    v: [f64; 3],
}

impl Wide {
    fn new(a: f64) -> Wide {
        WIDE_LIVE.fetch_add(1, Ordering::Relaxed);
        Wide { v: [a, 2.0 * a, 3.0 * a] }
    }
    /// The value's address modulo its alignment: 0 unless misplaced.
    /// (Through `black_box`: the compiler may otherwise fold it to 0, since
    /// a reference is aligned by definition.)
    fn misalignment(&self) -> usize {
        std::hint::black_box(self as *const Wide as usize) % std::mem::align_of::<Wide>()
    }
}

impl Clone for Wide {
    fn clone(&self) -> Wide {
        WIDE_LIVE.fetch_add(1, Ordering::Relaxed);
        Wide { v: self.v }
    }
}

impl Drop for Wide {
    fn drop(&mut self) {
        WIDE_LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

// SAFETY: three f64 (and padding): all-zero bytes are [0.0; 3]. A zeroed
// value counts as made by `inst_zero` (see `wide_zero`).
unsafe impl Zeroable for Wide {}

ndbind::class!(Wide, clone, zeroable);

/// A zero-sized value with an alignment: its address must still be aligned.
#[derive(Clone, Copy)]
#[repr(align(64))]
pub struct Empty64;

ndbind::class!(Empty64, clone);

/// `o`, if it is a `Wide` (or a Python subclass of it); else `TypeError`.
fn wide(o: Borrowed<'_>) -> PyResult<Borrowed<'_>> {
    cls::inst_ptr::<Wide>(o)?;
    Ok(o)
}

fn bind_wide(m: &Module) -> PyResult<()> {
    let c = m.class::<Wide>("Wide", (doc("A value aligned to 128 bytes."), dynamic_attr()))?;
    c.init(Wide::new, arg("a"))?
        .def("misalignment", Wide::misalignment, ())?
        .def("values", |w: &Wide| w.v.to_vec(), ())?
        .def("scale", |w: &mut Wide, f: f64| w.v.iter_mut().for_each(|x| *x *= f), arg("f"))?
        .def_static("shared", |a: f64| std::sync::Arc::new(Wide::new(a)), arg("a"))?;
    m.def("wide_make", Wide::new, arg("a"))?;
    m.def("wide_boxed", |a: f64| Box::new(Wide::new(a)), arg("a"))?;
    m.def(
        "wide_owned",
        |a: f64| ndbind::class::inst_take_ownership(Box::new(Wide::new(a))),
        arg("a"),
    )?;
    m.def("wide_consume", |w: Box<Wide>| (w.misalignment(), w.v[0]), arg("w"))?;
    m.def("wide_arc", |w: std::sync::Arc<Wide>| (w.misalignment(), w.v[0]), arg("w"))?;
    m.def(
        "wide_init",
        |o: Borrowed<'_>, a: f64| cls::inst_init(o, Wide::new(a)),
        (arg("o"), arg("a")),
    )?;
    m.def(
        "wide_zero",
        |o: Borrowed<'_>| -> PyResult<()> {
            cls::inst_zero(wide(o)?)?;
            WIDE_LIVE.fetch_add(1, Ordering::Relaxed);
            Ok(())
        },
        arg("o"),
    )?;
    m.def(
        "wide_copy",
        |d: Borrowed<'_>, s: Borrowed<'_>| cls::inst_copy(wide(d)?, wide(s)?),
        (arg("dst"), arg("src")),
    )?;
    m.def(
        "wide_move",
        |d: Borrowed<'_>, s: Borrowed<'_>| cls::inst_move(wide(d)?, wide(s)?),
        (arg("dst"), arg("src")),
    )?;
    m.def("wide_live", || WIDE_LIVE.load(Ordering::Relaxed), ())?;
    let e = m.class::<Empty64>("Empty64", doc("A zero-sized value aligned to 64 bytes."))?;
    e.init(|| Empty64, ())?.def(
        "misalignment",
        |e: &Empty64| std::hint::black_box(e as *const Empty64 as usize) % 64,
        (),
    )?;
    m.def("empty64_boxed", || Box::new(Empty64), ())?;
    Ok(())
}

// --- Pair, Tensor, Dyn ----------------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub struct Pair {
    first: Pod,
    second: Pod,
}

ndbind::class!(Pair, clone);

pub struct Tensor {
    rank: u32,
}

ndbind::class!(Tensor);

/// Drops of `Dyn` values (the GC test watches them).
static DYN_DROPS: AtomicIsize = AtomicIsize::new(0);

pub struct Dyn {
    value: i64,
}

impl Drop for Dyn {
    fn drop(&mut self) {
        DYN_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

ndbind::class!(Dyn);

fn bind_others(m: &Module) -> PyResult<()> {
    // Beyond CONFORMANCE: a Pair owned through a Box, whose value a
    // `Box<Pair>` parameter takes out (references into it must notice).
    m.def(
        "pair_boxed",
        |a: &Pod, b: &Pod| Box::new(Pair { first: *a, second: *b }),
        (arg("a"), arg("b")),
    )?;
    m.def("pair_consume", |p: Box<Pair>| p.first.a + p.second.a, arg("p"))?;
    let c = m.class::<Pair>("Pair", doc("Two Pods."))?;
    c.init(|a: &Pod, b: &Pod| Pair { first: *a, second: *b }, (arg("a"), arg("b")))?
        .def_ref("first_ref", ndbind::field_of!(Pair, first), doc("The first Pod, by reference."))?
        .def_ref("second_ref", ndbind::field_of!(Pair, second), ())?
        .property_readonly("first", |p: &Pair| p.first)?
        .property_readonly("second", |p: &Pair| p.second)?
        .def("swap", |p: &mut Pair| std::mem::swap(&mut p.first, &mut p.second), ())?
        .def("__len__", |_: &Pair| 2usize, ())?
        .def(
            "__getitem__",
            |p: &Pair, i: isize| -> PyResult<Pod> {
                match i {
                    0 | -2 => Ok(p.first),
                    1 | -1 => Ok(p.second),
                    _ => Err(PyErr::index_error("Pair index out of range")),
                }
            },
            arg("i"),
        )?;

    let t = m.class::<Tensor>(
        "Tensor",
        (doc("A final class with a type supplement."), supplement::<u64>()),
    )?;
    cls::set_type_supplement::<u64>(t.type_object(), 42)?;
    t.init(|| Tensor { rank: 0 }, ())?.field_readonly("rank", |t| &t.rank)?.def_static(
        "supplement",
        || -> PyResult<u64> {
            let ty = cls::type_of::<Tensor>()
                .ok_or_else(|| PyErr::runtime_error("Tensor is not bound"))?;
            cls::type_supplement::<u64>(ty.borrow())
        },
        (),
    )?;

    let d = m.class::<Dyn>(
        "Dyn",
        (doc("Dynamic attributes and weak references."), dynamic_attr(), weak_referenceable()),
    )?;
    d.init(|value: i64| Dyn { value }, arg("value"))?
        .init(|| Dyn { value: -1 }, ())? // an overloaded constructor
        .field("value", |d| &d.value, |d| &mut d.value)?;
    m.def("dyn_drops", || DYN_DROPS.load(Ordering::Relaxed), ())?;
    m.def(
        "keep_alive",
        |n: Borrowed<'_>, p: Borrowed<'_>| ndbind::class::keep_alive(n, p),
        (arg("nurse"), arg("patient")),
    )?;
    m.def("live_counts", ndbind::leaks::live_counts, ())?;
    m.def("set_leak_warnings", ndbind::leaks::set_leak_warnings, arg("enabled"))?;
    Ok(())
}

// --- enums ------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Color {
    Red = 1,
    Green = 2,
    Blue = 4,
}
ndbind::enum_type!(Color);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Level {
    Low = -1,
    High = 1,
}
ndbind::enum_type!(Level);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Perm {
    R = 4,
    W = 2,
    X = 1,
}
ndbind::enum_type!(Perm);

fn next_color(c: Color) -> Color {
    match c {
        Color::Red => Color::Green,
        Color::Green => Color::Blue,
        Color::Blue => Color::Red,
    }
}

fn bind_enums(m: &Module) -> PyResult<()> {
    m.enum_::<Color>("Color", EnumKind::Enum)
        .doc("A color.")
        .value("Red", Color::Red, "The color of tomatoes.")
        .value("Green", Color::Green, "The color of leaves.")
        .value("Blue", Color::Blue, "")
        .finish()?;
    m.def("next_color", next_color, arg("c"))?;
    m.enum_::<Level>("Level", EnumKind::IntEnum)
        .value("Low", Level::Low, "")
        .value("High", Level::High, "")
        .export_values()
        .finish()?;
    m.def("level_value", |l: Level| l as i64, arg("l"))?;
    m.enum_::<Perm>("Perm", EnumKind::IntFlag)
        .value("R", Perm::R, "Read.")
        .value("W", Perm::W, "Write.")
        .value("X", Perm::X, "Execute.")
        .finish()?;
    m.def("perm_bits", |p: Flags<Perm>| p.bits(), arg("p"))?;
    m.def("perm_single", |p: Perm| p as i64, arg("p"))?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    bind_points(m)?;
    bind_pod(m)?;
    bind_wide(m)?;
    bind_others(m)?;
    bind_enums(m)?;
    Ok(())
}
