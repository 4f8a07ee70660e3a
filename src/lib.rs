//! # ndbind
//!
//! Zero-copy array interop for CPython extension modules written in Rust,
//! re-creating what [nanobind](https://nanobind.readthedocs.io) does for C++.
//!
//! A module is declared with [`module!`]; functions are bound with
//! [`Module::def`], whose argument and return types are converted by the
//! caster traits [`FromPy`] and [`IntoPy`]:
//!
//! ```
//! use ndbind::prelude::*;
//!
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! ndbind::module!(my_ext, |m| {
//!     m.doc("An example module.")?;
//!     m.def("add", add, (arg("a"), arg("b").default(1)))?;
//!     Ok(())
//! });
//! ```
//!
//! The name given to `module!` is the module Python imports: it must be
//! the crate's `[lib] name` (a `cdylib`), whose `PyInit_<name>` Python
//! looks for. A crate has one `module!`; larger bindings call functions
//! `fn(&Module) -> PyResult<()>` from it, or fill submodules
//! ([`Module::submodule`]).
//!
//! What a binding writes, by topic:
//!
//! - this page: modules, functions and their arguments ([`arg`], [`doc`],
//!   [`RvPolicy`]), handles ([`Object`], [`Borrowed`]), callables ([`PyFn`]:
//!   a Python callable called from Rust; [`function`]: a Rust closure as a
//!   Python function), errors ([`PyErr`], [`ExceptionType`]), conversions ([`FromPy`], [`IntoPy`]), enums
//!   ([`enum_type!`], [`EnumKind`]);
//! - [`array`](mod@array): array parameters ([`array::NdArray`], `ndarray` views) and
//!   array returns ([`array::ArrayOut`]);
//! - [`class`](mod@class): bound Rust types ([`class!`], [`class::Class`]), overridable
//!   methods, GC support and nanobind's low-level instance interface
//!   ([`class::lowlevel`]); ownership: [`class::Same`] (return the same
//!   object), [`dyn_return!`] (polymorphic `Box<dyn Trait>` returns),
//!   [`class::Inst`] (shared ownership of any instance), `Box<T>` (moved
//!   out of an instance and back).
//!
//! [`ndarray`], [`half`], [`num_complex`] and the DLPack crate
//! ([`dlpack`]) are re-exported at the versions ndbind is built with: use
//! `ndbind::ndarray` rather than a second `ndarray` dependency, so that the
//! versions always match.
//!
//! Layers, lowest first: [`dlpack`] (the DLPack ABI), the object model, the
//! array layer. Imports point downwards only (ARCHITECTURE.md).

// The object model. Hidden: its public items are re-exported below (the
// curated surface) or are plumbing that the macros name through `$crate`.
#[doc(hidden)]
#[path = "core/mod.rs"]
pub mod __core;
pub(crate) use crate::__core as core;

pub mod array;

pub use crate::core::callable::{function, CallArgs, CallResult, PyFn};
pub use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
pub use crate::core::casters::{Bytes, SignedDuration};
pub use crate::core::enums::{EnumBuilder, EnumKind, Flags, PyEnum};
pub use crate::core::error::{ExceptionType, PyErr, PyResult};
pub use crate::core::extras::{
    arg, doc, keep_alive, kw_only, pos_only, raw_doc, sig, Arg, KeepAlive, RvPolicy,
};
pub use crate::core::func::bind::IntoFunction;
pub use crate::core::func::{Args, Kwargs};
pub use crate::core::gil::allow_threads;

/// Whether this extension is built for a free-threaded CPython
/// (`Py_GIL_DISABLED`, e.g. 3.13t), where Python threads run at once. Code
/// that leans on the GIL for a cheaper update (a plain load and store of a
/// counter) branches on it; the branch is resolved at compile time.
///
/// ```
/// use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
/// static LIVE: AtomicIsize = AtomicIsize::new(0);
/// if ndbind::FREE_THREADED {
///     LIVE.fetch_add(1, Relaxed);
/// } else {
///     LIVE.store(LIVE.load(Relaxed) + 1, Relaxed); // the GIL serialises this
/// }
/// ```
pub const FREE_THREADED: bool = cfg!(Py_GIL_DISABLED);
pub use crate::core::handles::{Dict, DictItems, Downcast, List, ListIter, Set, Str, Tuple};
pub use crate::core::module::Module;
pub use crate::core::object::PyIter;
pub use crate::core::object::{Borrowed, Object};

/// The `chrono` crate, at ndbind's version (the `chrono` feature: casters
/// for its date and time types, see [`SignedDuration`] for the rules).
#[cfg(feature = "chrono")]
pub use ::chrono;
/// The `half` crate (`f16`, `bf16` elements), at ndbind's version.
pub use ::half;
/// The `ndarray` crate, at ndbind's version: array views as parameters.
pub use ::ndarray;
/// The `num-complex` crate (`Complex32`, `Complex64` elements), at ndbind's version.
pub use ::num_complex;
/// The DLPack ABI and capsule protocol (crate `ndbind-dlpack`).
pub use ndbind_dlpack as dlpack;
/// The raw C API (`pyo3-ffi`), for code that needs to go below ndbind.
pub use pyo3_ffi as ffi;

/// Bound Rust types: the class builder, the traits `class!` implements,
/// overridable methods, GC support and nanobind's low-level interface.
pub mod class {
    pub use crate::core::class::lowlevel;
    pub use crate::core::class::{
        arc_into_instance, dynamic_attr, gc, inst_reference, inst_take_ownership, into_instance,
        is_final, keep_alive, pure_virtual, raw_slot, supplement, weak_referenceable, Class,
        Constructed, FieldProj, Inst, InstMut, InstRef, PyClass, PyHandle, RawSlot, Same,
        SyncIfFreeThreaded, Trampoline, Traverse, Visit, VisitStop, Zeroable,
    };
    pub use crate::core::class::{make_iterator, make_iterator_ref};
}

/// Leak accounting: what ndbind reports at exit.
pub mod leaks {
    pub use crate::core::class::arc_instances;
    pub use crate::core::leak_report::{live_counts, set_leak_warnings};
}

// The README's Rust examples, compiled (and run: they only define
// bindings) by `cargo test` as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The names most binding code needs, for `use ndbind::prelude::*`.
pub mod prelude {
    pub use crate::array::{ArrayOut, NdArray};
    pub use crate::class::Class;
    pub use crate::{
        allow_threads, arg, doc, keep_alive, kw_only, pos_only, raw_doc, sig, Args, Borrowed,
        EnumKind, ExceptionType, FromPy, IntoPy, Kwargs, Module, Object, PyErr, PyFn, PyResult,
        ReturnCtx, RvPolicy,
    };
    pub use crate::{Dict, List, Set, Str, Tuple};
}
