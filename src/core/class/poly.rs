//! Polymorphic returns (nanobind's most-derived-type lookup and its
//! `type_hook`): a returned `Box<dyn Trait>` becomes an instance of the
//! bound class of the *concrete* value inside it.
//!
//! Design. C++ finds the most-derived type through RTTI; Rust trait
//! objects carry no type information beyond their vtable, except through
//! `Any`: a trait with `Any` as a supertrait dispatches
//! `Any::type_id` dynamically, giving the concrete type's `TypeId`. Every
//! class bound with [`crate::class::Class`] is registered here by its
//! `TypeId` when it is bound, so no per-trait registration is needed: the
//! concrete value's `TypeId` names its bound class, and the box is
//! converted exactly as a `Box<Circle>` would be (no copy; a box that was
//! moved out of an instance goes back into it). The registration is the
//! only table, and a lookup is one hash probe.
//!
//! nanobind's `type_hook` exists because C++ RTTI may be off or
//! insufficient; with `TypeId` the concrete type is always known, so the
//! hook's remaining role (what to do with a type that has no binding) is
//! a fallback class given to [`crate::dyn_return!`], which wraps the box
//! (the "base binding" of the trait object). Without one, an unbound
//! concrete type raises `TypeError`.

use std::any::{Any, TypeId};

use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::class::addr_map::AddrMap;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::GilLock;
use crate::core::object::Object;

/// Converts the `Box<T>` whose value is at the pointer (from
/// `Box::into_raw`, ownership passed) to Python.
type TakeBox = unsafe fn(*mut u8, &ReturnCtx<'_>) -> PyResult<Object>;

/// Bound classes by the `TypeId` of their Rust type.
static BY_TYPE_ID: GilLock<AddrMap<TypeId, TakeBox>> = GilLock::new();

/// # Safety
/// `p` came from `Box::<T>::into_raw`; ownership passes here.
unsafe fn take_box<T: PyClass>(p: *mut u8, ctx: &ReturnCtx<'_>) -> PyResult<Object> {
    // SAFETY: (caller) as stated.
    unsafe { Box::from_raw(p as *mut T) }.into_py(ctx)
}

/// Registers `T`'s bound class for polymorphic returns (called when the
/// class is bound; a later binding of the same type replaces it).
pub(crate) fn register<T: PyClass>() {
    BY_TYPE_ID.with(|m| m.insert(TypeId::of::<T>(), take_box::<T> as TakeBox));
}

/// Converts `b`, a box whose concrete value has the type `id`, to an
/// instance of that type's bound class; gives the box back when the type
/// has none. Plumbing of [`crate::dyn_return!`].
///
/// # Safety
/// `id` is the `TypeId` of the concrete type of `*b`'s value.
#[doc(hidden)]
pub unsafe fn dyn_box_into_py<B: ?Sized>(
    b: Box<B>,
    id: TypeId,
    ctx: &ReturnCtx<'_>,
) -> Result<PyResult<Object>, Box<B>> {
    crate::core::gil::assert_held("converting a Box<dyn Trait> to Python");
    let take = BY_TYPE_ID.with_made(|m| m.get(&id).copied()).flatten();
    match take {
        // SAFETY: `take` was registered for the type `id`, which (caller)
        // is the value's concrete type: the data pointer of the box is a
        // `Box<Concrete>`'s (the cast drops the metadata), whose ownership
        // passes to `take`.
        Some(take) => Ok(unsafe { take(Box::into_raw(b) as *mut u8, ctx) }),
        None => Err(b),
    }
}

/// The error of a returned trait object whose concrete type has no bound
/// class. Plumbing of [`crate::dyn_return!`].
#[doc(hidden)]
#[cold]
pub fn dyn_unbound(trait_name: &str) -> PyErr {
    PyErr::type_error(format!(
        "ndbind: the returned Box<{trait_name}> holds a Rust type that has no bound class \
         (bind it with Module::class, or give dyn_return! a fallback class)"
    ))
}

/// `Box<dyn Any + Send>`: an instance of the bound class of the value's
/// concrete type (`TypeError` when it has none; the box is dropped).
impl IntoPy for Box<dyn Any + Send> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        let id = (*self).type_id();
        // SAFETY: `id` is the concrete type's (dynamic dispatch of `Any`).
        unsafe { dyn_box_into_py(self, id, ctx) }.unwrap_or_else(|_| Err(dyn_unbound("dyn Any")))
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

/// Makes `Box<dyn Trait>` a return type: the result is an instance of the
/// bound class of the value's concrete type (its most-derived bound
/// Python type, as nanobind's polymorphic returns), with the value moved
/// in (no copy). The trait must have `Any` as a supertrait (that is how
/// Rust names the concrete type of a trait object).
///
/// `dyn_return!(Trait)` raises `TypeError` for a concrete type that has
/// no bound class (the box is dropped); `dyn_return!(Trait, else
/// Fallback)` wraps it in `Fallback` instead, a bound class with
/// `From<Box<dyn Trait>>` (the base binding of the trait object).
///
/// ```
/// use std::any::Any;
/// use ndbind::prelude::*;
///
/// pub trait Shape: Any + Send {
///     fn area(&self) -> f64;
/// }
/// pub struct Circle { r: f64 }
/// impl Shape for Circle { fn area(&self) -> f64 { 3.14159 * self.r * self.r } }
/// ndbind::class!(Circle);
/// pub struct Square { side: f64 }
/// impl Shape for Square { fn area(&self) -> f64 { self.side * self.side } }
/// ndbind::class!(Square);
/// pub struct Blob; // bound as nothing of its own
/// impl Shape for Blob { fn area(&self) -> f64 { 0.0 } }
///
/// /// Any other shape, behind the trait.
/// pub struct AnyShape(Box<dyn Shape>);
/// impl From<Box<dyn Shape>> for AnyShape {
///     fn from(b: Box<dyn Shape>) -> AnyShape { AnyShape(b) }
/// }
/// ndbind::class!(AnyShape);
/// ndbind::dyn_return!(Shape, else AnyShape);
///
/// fn make(kind: &str) -> Box<dyn Shape> {
///     match kind {
///         "circle" => Box::new(Circle { r: 1.0 }),
///         "square" => Box::new(Square { side: 2.0 }),
///         _ => Box::new(Blob),
///     }
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     m.class::<Circle>("Circle", ())?;
///     m.class::<Square>("Square", ())?;
///     m.class::<AnyShape>("AnyShape", ())?.def("area", |s: &AnyShape| s.0.area(), ())?;
///     // make("circle") is a Circle, make("square") a Square, make("blob") an AnyShape.
///     m.def("make", make, arg("kind"))?;
///     Ok(())
/// });
/// ```
#[macro_export]
macro_rules! dyn_return {
    ($tr:path) => {
        $crate::dyn_return!(@impl $tr; |b: ::std::boxed::Box<dyn $tr>| {
            ::core::mem::drop(b);
            ::core::result::Result::Err($crate::__core::class::dyn_unbound(::core::stringify!(dyn $tr)))
        });
    };
    ($tr:path, else $fallback:ty) => {
        $crate::dyn_return!(@impl $tr; |b: ::std::boxed::Box<dyn $tr>| {
            $crate::__core::class::into_instance(<$fallback as ::core::convert::From<::std::boxed::Box<dyn $tr>>>::from(b))
        });
    };
    (@impl $tr:path; $unbound:expr) => {
        impl $crate::IntoPy for ::std::boxed::Box<dyn $tr> {
            fn into_py(self, ctx: &$crate::ReturnCtx) -> $crate::PyResult<$crate::Object> {
                // `Any` is a supertrait: dispatched to the concrete type.
                let id = <dyn $tr as ::core::any::Any>::type_id(&*self);
                // SAFETY: `id` is the concrete type of the box's value.
                match unsafe { $crate::__core::class::dyn_box_into_py(self, id, ctx) } {
                    ::core::result::Result::Ok(r) => r,
                    ::core::result::Result::Err(b) => ($unbound)(b),
                }
            }
            fn type_name(out: &mut ::std::string::String) {
                out.push_str("object")
            }
        }
    };
}
