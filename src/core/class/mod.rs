//! Classes: Rust types bound as Python classes whose instances store the
//! Rust value inline (nanobind's `nb_type`).
//!
//! A Rust type is declared once with [`crate::class!`] (which implements
//! [`PyClass`], `&T`/`&mut T` parameters and `T` return values), then bound
//! with [`crate::Module::class`]:
//!
//! ```
//! use ndbind::prelude::*;
//!
//! #[derive(Clone, PartialEq)]
//! pub struct Point { x: f64, y: f64 }
//! ndbind::class!(Point, clone);
//!
//! ndbind::module!(geometry, |m| {
//!     let c = m.class::<Point>("Point", doc("A point."))?;
//!     c.init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?
//!         .def("norm", |p: &Point| p.x.hypot(p.y), ())?
//!         .field("x", |p| &p.x, |p| &mut p.x)?;
//!     Ok(())
//! });
//! ```
//!
//! Files: [`record`] (the per-class record and slot), `borrow` (the
//! borrow state of instances: cell, guards, flags), `meta` (the
//! metaclass), `create` (type creation), `inst` (instance layout and
//! life cycle), `cast` (parameters and returns), `init` (constructors),
//! `getset` (fields, properties, static properties), `refs` (references
//! into `self`), [`lowlevel`] (the `inst_*` / `type_*` interface).
//! Part 2: `implicit` (implicit conversions: [`Class::implicit_from`]),
//! `holder` (`Arc<T>` / `Box<T>` holders), `trampoline` (Python overrides
//! of Rust traits: [`Trampoline`], [`crate::py_override!`],
//! [`crate::dyn_param!`]), `handle` ([`Inst<T>`]: owned instance handles),
//! `gc` ([`PyHandle`], [`Traverse`]: values holding Python references),
//! `slots` ([`raw_slot`]: custom CPython type slots), `pickle`
//! ([`Class::pickle`]: pickling and copying), `iter` ([`make_iterator`],
//! [`make_iterator_ref`], [`Class::def_iter`], [`Class::def_next`]).

mod addr_map;
mod borrow;
mod builder;
mod cast;
mod create;
mod flags;
mod gc;
mod getset;
mod handle;
mod holder;
mod implicit;
mod init;
mod inst;
mod iter;
pub mod lowlevel;
pub(crate) mod meta;
mod pickle;
mod poly;
pub mod record;
mod refs;
mod same;
mod slots;
mod trampoline;

pub use borrow::{SharedGuard, UniqueGuard};
pub use builder::{
    dynamic_attr, is_final, supplement, weak_referenceable, Class, ClassExtra, ClassOptions,
};
pub(crate) use cast::pin_instance;
pub use cast::{
    into_instance, push_type_name, return_type_name, ClassMut, ClassRef, ClassValue, ConvGuard,
    ExportPin, RefHolder,
};
pub use gc::{gc, Gc, PyHandle, Traverse, Visit, VisitStop};
pub use handle::{Inst, InstMut, InstRef};
pub use holder::{arc_instances, arc_into_instance, BoxHolder, ClassBox};
pub use init::{Constructed, InitReturn, IntoInit};
pub use iter::{make_iterator, make_iterator_ref};
pub use lowlevel::*;
pub use poly::{dyn_box_into_py, dyn_unbound};
pub use record::{live_instances_by_type, CloneFn, TypeRecord, TypeSlot};
pub use refs::FieldProj;
pub use refs::{inst_reference, inst_take_ownership, keep_alive};
pub use same::Same;
pub use slots::{raw_slot, RawSlot};
pub use trampoline::{pure_virtual, Override, OverrideSite, Trampoline};

/// `Sync` when the extension is built for a free-threaded Python
/// (`Py_GIL_DISABLED`), nothing otherwise: a bound class must be `Sync`
/// there, since threads running at once may each borrow one instance
/// `&self` (with the GIL, the GIL serialises them). A class holding a
/// `Cell`, `RefCell` or `Rc` compiles for every other build and is refused
/// for a free-threaded one: use atomics, `Mutex` or `Arc` instead.
///
/// ```
/// fn shareable<T: ndbind::class::SyncIfFreeThreaded>() {}
/// shareable::<std::sync::Mutex<u32>>(); // Sync: every build
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Sync`, which a bound class must be on a free-threaded Python",
    label = "shared by threads running at once",
    note = "several threads may each hold `&{Self}` of one instance there: replace `Cell`/`RefCell`/`Rc` by atomics, `Mutex` or `Arc`"
)]
pub trait SyncIfFreeThreaded {}
#[cfg(not(Py_GIL_DISABLED))]
impl<T: ?Sized> SyncIfFreeThreaded for T {}
#[cfg(Py_GIL_DISABLED)]
impl<T: ?Sized + Sync> SyncIfFreeThreaded for T {}

/// A Rust type bound (or bindable) as a Python class. Implemented by
/// [`crate::class!`]; do not implement it by hand.
///
/// `Send`: a Python object may be dropped by whichever thread holds the
/// GIL when its last reference goes away. On a free-threaded Python also
/// `Sync` ([`SyncIfFreeThreaded`]): threads run at once there, and two of
/// them may each hold a `&T` of the same instance.
///
/// ```
/// use ndbind::class::PyClass;
///
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point); // implements PyClass
///
/// // Set once the class is bound (nothing is, in this process):
/// assert!(<Point as PyClass>::type_slot().type_ptr().is_null());
/// ```
///
/// # Safety
/// `BASE_OFFSET` is the offset of a `Self::Base` value inside `Self`;
/// `ZEROABLE` is true only if all-zero bytes are a valid `Self`; `CLONE`,
/// if set, clones a `Self` into storage for one; `type_slot()` returns a
/// slot of `Self`'s own (a `static` no other type uses); `RefHolder` is
/// [`SharedGuard`] or [`ConvGuard`]. [`crate::class!`] guarantees all of
/// this: use it rather than implementing the trait by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a bound class",
    label = "declare it with `ndbind::class!`",
    note = "`ndbind::class!(T)`, written next to the type, makes `T` a class: `&T`, `&mut T` and `Box<T>` parameters, `T` return values, `m.class::<T>(..)`"
)]
pub unsafe trait PyClass: Sized + Send + SyncIfFreeThreaded + 'static {
    /// The Rust base class ([`NoBase`] when none).
    type Base: MaybeClass;
    /// Byte offset of the base value inside `Self`.
    const BASE_OFFSET: usize = 0;
    /// Copy construction (`class!(T, clone)`), used by `inst_copy`.
    const CLONE: Option<CloneFn> = None;
    /// Whether `inst_zero` may zero-initialise the value (`class!(T, zeroable)`).
    const ZEROABLE: bool = false;
    /// The holder of `&T` parameters ([`ConvGuard`] for `class!(T, implicit)`).
    #[doc(hidden)]
    type RefHolder: RefHolder;
    /// Where the bound Python type is found.
    fn type_slot() -> &'static TypeSlot;
}

/// A bound class or [`NoBase`]: the `Base` of a [`PyClass`].
///
/// ```
/// use ndbind::__core::class::{MaybeClass, NoBase}; // plumbing
///
/// assert!(<NoBase as MaybeClass>::slot().is_none());
/// ```
pub trait MaybeClass {
    /// The base's type slot (`None` for [`NoBase`]).
    fn slot() -> Option<&'static TypeSlot>;
}

/// "No Rust base class" (the class derives from `object`).
///
/// ```
/// use ndbind::__core::class::NoBase; // plumbing
/// use ndbind::class::PyClass;
///
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point); // Base = NoBase
///
/// fn no_base<T: PyClass<Base = NoBase>>() {}
/// no_base::<Point>();
/// ```
pub struct NoBase;

impl MaybeClass for NoBase {
    fn slot() -> Option<&'static TypeSlot> {
        None
    }
}

impl<T: PyClass> MaybeClass for T {
    fn slot() -> Option<&'static TypeSlot> {
        Some(T::type_slot())
    }
}

/// Types for which all-zero bytes are a valid value (for `inst_zero` and
/// type supplements).
///
/// ```
/// use ndbind::class::Zeroable;
///
/// pub struct Pod { a: f64, b: f64 }
/// // SAFETY: two f64 fields; zero bytes are 0.0.
/// unsafe impl Zeroable for Pod {}
/// ndbind::class!(Pod, zeroable);
/// ```
///
/// # Safety
/// `std::mem::zeroed::<Self>()` must be a valid value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not known to be valid as all-zero bytes",
    label = "not `Zeroable`",
    note = "when zero bytes are a valid `T`, say so with `unsafe impl ndbind::class::Zeroable for T {{}}` (needed by `class!(T, zeroable)` and type supplements)"
)]
pub unsafe trait Zeroable {}

macro_rules! zeroable {
    ($($t:ty),*) => { $(
        // SAFETY: zero is a valid value of every primitive number and bool.
        unsafe impl Zeroable for $t {}
    )* };
}
zeroable!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, ());
// SAFETY: an array of zeroable elements is zeroable.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}
// SAFETY: a null raw pointer is valid.
unsafe impl<T> Zeroable for *const T {}
// SAFETY: a null raw pointer is valid.
unsafe impl<T> Zeroable for *mut T {}

/// Fails to compile unless `T: Zeroable` (used by `class!(T, zeroable)`).
///
/// ```
/// const _: () = ndbind::__core::class::assert_zeroable::<f64>();
/// ```
#[doc(hidden)]
pub const fn assert_zeroable<T: Zeroable>() {}

/// The copy constructor of `Clone` classes.
///
/// # Safety
/// `src` points to a valid `T`, `dst` to storage for one.
///
/// ```
/// use ndbind::__core::class::{clone_into, CloneFn}; // plumbing: what `class!(T, clone)` writes
///
/// #[derive(Clone)]
/// pub struct Pod { a: f64, b: f64 }
/// const CLONE: Option<CloneFn> = Some(clone_into::<Pod>);
/// ```
#[doc(hidden)]
pub unsafe fn clone_into<T: Clone>(src: *const u8, dst: *mut u8) {
    // SAFETY: (caller) `src` is a valid `T`, `dst` storage for one.
    unsafe { std::ptr::write(dst as *mut T, (*(src as *const T)).clone()) }
}

/// Declares a Rust type as a bindable class: implements [`PyClass`],
/// `&T` / `&mut T` / `Box<T>` parameters and `T` return values.
///
/// - `class!(Point)`; options after commas: `clone` (also `T` by-value
///   parameters and `inst_copy`), `zeroable` (`inst_zero`; needs
///   [`Zeroable`]), `implicit` (the class accepts implicit conversions,
///   [`Class::implicit_from`]; other classes pay nothing for them);
/// - `class!(Point3: Point { base })`: a Rust subclass whose field `base`
///   holds its `Point` (instances are accepted wherever a `Point` is).
///
/// ```
/// use ndbind::class::Zeroable;
///
/// #[derive(Clone)]
/// pub struct Pod { a: f64, b: f64 }
/// // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// unsafe impl Zeroable for Pod {}
/// ndbind::class!(Pod, clone, zeroable);
///
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point);
/// pub struct Point3 { base: Point, z: f64 }
/// ndbind::class!(Point3: Point { base });
/// ```
#[macro_export]
macro_rules! class {
    ($t:ty : $base:ty { $field:ident } $(, $opt:ident)* $(,)?) => {
        $crate::__class_impl!($t; $base; ::core::mem::offset_of!($t, $field); $($opt)*);
        const _: () = {
            // The field must be a `$base` itself (raw pointers: no deref
            // coercion lets a `Box<$base>` field through).
            #[allow(dead_code)]
            fn __ndbind_base_field(v: *const $t) -> *const $base {
                // SAFETY: never called; only type-checked.
                unsafe { ::core::ptr::addr_of!((*v).$field) }
            }
        };
    };
    ($t:ty $(, $opt:ident)* $(,)?) => {
        $crate::__class_impl!($t; $crate::__core::class::NoBase; 0; $($opt)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __class_impl {
    ($t:ty; $base:ty; $off:expr; $($opt:ident)*) => {
        $crate::__class_opts_ok!($($opt)*);
        // SAFETY: generated by `class!`: the offset comes from offset_of!
        // on a field whose type is checked to be the base, and `zeroable`
        // is only accepted for `Zeroable` types.
        unsafe impl $crate::__core::class::PyClass for $t {
            type Base = $base;
            const BASE_OFFSET: usize = $off;
            const CLONE: ::core::option::Option<$crate::__core::class::CloneFn> = $crate::__class_clone!($t; $($opt)*);
            const ZEROABLE: bool = $crate::__class_zeroable!($t; $($opt)*);
            type RefHolder = $crate::__class_ref_holder!($($opt)*);
            #[inline]
            fn type_slot() -> &'static $crate::__core::class::TypeSlot {
                static SLOT: $crate::__core::class::TypeSlot = $crate::__core::class::TypeSlot::new();
                &SLOT
            }
        }
        impl<'a> $crate::__core::caster::Param for &'a $t {
            type Caster = $crate::__core::class::ClassRef<$t>;
        }
        impl<'a> $crate::__core::caster::Param for &'a mut $t {
            type Caster = $crate::__core::class::ClassMut<$t>;
        }
        impl $crate::__core::caster::Param for ::std::boxed::Box<$t> {
            type Caster = $crate::__core::class::ClassBox<$t>;
        }
        impl $crate::IntoPy for $t {
            #[inline]
            fn into_py(self, _: &$crate::__core::caster::ReturnCtx) -> $crate::PyResult<$crate::Object> {
                $crate::__core::class::into_instance(self)
            }
            fn type_name(out: &mut ::std::string::String) {
                $crate::__core::class::push_type_name::<$t>(out)
            }
        }
        $crate::__class_value_param!($t; $($opt)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __class_opts_ok {
    () => {};
    (clone $($rest:ident)*) => { $crate::__class_opts_ok!($($rest)*); };
    (zeroable $($rest:ident)*) => { $crate::__class_opts_ok!($($rest)*); };
    (implicit $($rest:ident)*) => { $crate::__class_opts_ok!($($rest)*); };
    ($other:ident $($rest:ident)*) => {
        ::core::compile_error!(concat!("ndbind::class!: unknown option `", stringify!($other), "` (expected clone, zeroable, implicit)"));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __class_ref_holder {
    () => { $crate::__core::class::SharedGuard };
    (implicit $($rest:ident)*) => { $crate::__core::class::ConvGuard };
    ($other:ident $($rest:ident)*) => { $crate::__class_ref_holder!($($rest)*) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __class_clone {
    ($t:ty;) => { ::core::option::Option::None };
    ($t:ty; clone $($rest:ident)*) => {
        ::core::option::Option::Some($crate::__core::class::clone_into::<$t> as $crate::__core::class::CloneFn)
    };
    ($t:ty; $other:ident $($rest:ident)*) => { $crate::__class_clone!($t; $($rest)*) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __class_zeroable {
    ($t:ty;) => { false };
    ($t:ty; zeroable $($rest:ident)*) => {{
        $crate::__core::class::assert_zeroable::<$t>();
        true
    }};
    ($t:ty; $other:ident $($rest:ident)*) => { $crate::__class_zeroable!($t; $($rest)*) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __class_value_param {
    ($t:ty;) => {};
    ($t:ty; clone $($rest:ident)*) => {
        impl $crate::__core::caster::Param for $t {
            type Caster = $crate::__core::class::ClassValue<$t>;
        }
    };
    ($t:ty; $other:ident $($rest:ident)*) => { $crate::__class_value_param!($t; $($rest)*); };
}
