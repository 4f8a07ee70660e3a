//! Issue 21 item 4 (ownership): returning `self` or an argument gives the
//! same object (`Same<T>`), polymorphic returns (`dyn_return!`), shared
//! ownership of any instance (`Inst<T>`, `Send`), the `Box<T>` round trip.
//! Submodule `ndbind_test.ownership`.

use std::any::Any;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};

use ndbind::class::{Inst, Same};
use ndbind::prelude::*;

static LEAF_DROPS: AtomicIsize = AtomicIsize::new(0);
static NODE_DROPS: AtomicIsize = AtomicIsize::new(0);

/// A field of `Node` at offset 0, of another class.
pub struct Leaf {
    w: i64,
}
impl Drop for Leaf {
    fn drop(&mut self) {
        LEAF_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}
ndbind::class!(Leaf);

#[repr(C)]
pub struct Node {
    leaf: Leaf,
    value: i64,
}
impl Node {
    fn me(&self) -> &Self {
        self
    }
}
impl Drop for Node {
    fn drop(&mut self) {
        NODE_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}
ndbind::class!(Node);

fn larger<'a>(a: &'a Node, b: &'a Node) -> &'a Node {
    if a.value >= b.value {
        a
    } else {
        b
    }
}

/// Instances kept alive from Rust (`keep`).
static KEPT: Mutex<Vec<Inst<Node>>> = Mutex::new(Vec::new());
/// A value taken out of its instance (`stash`).
static STASH: Mutex<Option<Box<Node>>> = Mutex::new(None);

pub trait Shape: Any + Send + Sync {
    fn area(&self) -> f64;
}
pub struct Circle {
    r: f64,
}
impl Shape for Circle {
    fn area(&self) -> f64 {
        3.0 * self.r * self.r
    }
}
ndbind::class!(Circle);
pub struct Square {
    side: f64,
}
impl Shape for Square {
    fn area(&self) -> f64 {
        self.side * self.side
    }
}
ndbind::class!(Square);
/// A shape with no class of its own.
pub struct Blob;
impl Shape for Blob {
    fn area(&self) -> f64 {
        -1.0
    }
}
/// The base binding of `dyn Shape`: any other shape.
pub struct AnyShape(Box<dyn Shape>);
impl From<Box<dyn Shape>> for AnyShape {
    fn from(b: Box<dyn Shape>) -> AnyShape {
        AnyShape(b)
    }
}
ndbind::class!(AnyShape);
ndbind::dyn_return!(Shape, else AnyShape);

/// A trait without a fallback: unbound concrete types raise.
pub trait Solid: Any + Send {}
impl Solid for Circle {}
impl Solid for Blob {}
ndbind::dyn_return!(Solid);

fn shape(kind: &str) -> Box<dyn Shape> {
    match kind {
        "circle" => Box::new(Circle { r: 1.0 }),
        "square" => Box::new(Square { side: 2.0 }),
        _ => Box::new(Blob),
    }
}

static CIRCLES: Mutex<Vec<Box<dyn Shape>>> = Mutex::new(Vec::new());

pub fn bind(m: &Module) -> PyResult<()> {
    let m =
        m.submodule("ownership", "Same objects, polymorphic returns, shared and Box ownership.")?;
    m.class::<Leaf>("Leaf", ())?.property_readonly("w", |l: &Leaf| l.w)?;
    m.class::<Node>("Node", ())?
        .init(|value: i64| Node { leaf: Leaf { w: value * 10 }, value }, arg("value"))?
        .property_readonly("value", |n: &Node| n.value)?
        .def("set", |n: &mut Node, v: i64| n.value = v, arg("v"))?
        .def("me", |n: &Node| Same::of(n.me()), ())?
        // The field at offset 0: the same address as the node, another class.
        .def("leaf_same", |n: &Node| Same::of(&n.leaf), ())?
        .def_ref("leaf_ref", ndbind::field_of!(Node, leaf), ())?;
    m.def("larger", |a: &Node, b: &Node| Same::of(larger(a, b)), (arg("a"), arg("b")))?;
    m.def("same_as_leaf", |_n: &Node, l: &Leaf| Same::of(l), (arg("n"), arg("l")))?;
    m.def("node_arc", |v: i64| Arc::new(Node { leaf: Leaf { w: 0 }, value: v }), arg("v"))?;
    m.def(
        "arc_same",
        |a: Arc<Node>| -> PyResult<Same<Node>> {
            // Not an argument here: found among the Arc-held instances.
            let r = Same::of(&*a);
            drop(a);
            Ok(r)
        },
        arg("a"),
    )?;
    m.def(
        "drops",
        || (NODE_DROPS.load(Ordering::Relaxed), LEAF_DROPS.load(Ordering::Relaxed)),
        (),
    )?;

    // Shared ownership of any instance.
    m.def("keep", |n: Inst<Node>| KEPT.lock().unwrap().push(n), arg("n"))?;
    m.def(
        "kept_values",
        || -> PyResult<Vec<i64>> {
            KEPT.lock().unwrap().iter().map(|n| Ok(n.get()?.value)).collect()
        },
        (),
    )?;
    m.def("kept_objects", || KEPT.lock().unwrap().clone(), ())?;
    m.def("release_kept", || KEPT.lock().unwrap().clear(), ())?;
    m.def(
        "hold_and_call",
        |n: Inst<Node>, f: PyFn<()>| -> PyResult<i64> {
            let r = n.get()?; // a shared borrow while Python runs
            f.call(())?;
            Ok(r.value)
        },
        (arg("n"), arg("f")),
    )?;
    m.def(
        "set_through",
        |n: Inst<Node>, v: i64| -> PyResult<()> {
            n.get_mut()?.value = v;
            Ok(())
        },
        (arg("n"), arg("v")),
    )?;
    // An Inst moved to a thread without the GIL: using it is refused,
    // dropping it there takes the GIL.
    m.def(
        "use_on_thread",
        |n: Inst<Node>| -> String {
            ndbind::allow_threads(move || {
                std::thread::spawn(move || {
                    let msg = match n.get() {
                        Ok(_) => "borrowed".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    drop(n);
                    msg
                })
                .join()
                .unwrap()
            })
        },
        arg("n"),
    )?;

    // The Box round trip.
    m.def("stash", |b: Box<Node>| *STASH.lock().unwrap() = Some(b), arg("n"))?;
    m.def("unstash", || STASH.lock().unwrap().take(), ())?;
    m.def("roundtrip", |b: Box<Node>| b, arg("n"))?;
    m.def("consume", |b: Box<Node>| b.value, arg("n"))?;
    m.def("arg_then_box", |a: &Node, b: Box<Node>| a.value + b.value, (arg("a"), arg("b")))?;

    // Polymorphic returns.
    m.class::<Circle>("Circle", ())?.init(|r: f64| Circle { r }, arg("r"))?.def(
        "area",
        |c: &Circle| c.area(),
        (),
    )?;
    m.class::<Square>("Square", ())?.def("area", |s: &Square| s.area(), ())?;
    m.class::<AnyShape>("AnyShape", ())?.def("area", |s: &AnyShape| s.0.area(), ())?;
    m.def("make_shape", shape, arg("kind"))?;
    m.def(
        "make_solid",
        |kind: &str| -> Box<dyn Solid> {
            if kind == "circle" {
                Box::new(Circle { r: 2.0 })
            } else {
                Box::new(Blob)
            }
        },
        arg("kind"),
    )?;
    m.def(
        "make_any",
        |kind: &str| -> Box<dyn Any + Send> {
            match kind {
                "square" => Box::new(Square { side: 3.0 }),
                _ => Box::new(5u8),
            }
        },
        arg("kind"),
    )?;
    // A circle taken out of its instance, kept as a trait object, and
    // given back through the trait object: the same Python object.
    m.def("stash_circle", |c: Box<Circle>| CIRCLES.lock().unwrap().push(c), arg("c"))?;
    m.def("unstash_shape", || CIRCLES.lock().unwrap().pop(), ())?;
    Ok(())
}
