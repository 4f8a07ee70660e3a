//! # ndbind
//!
//! Zero-copy array interop for CPython extension modules written in Rust,
//! re-creating what [nanobind](https://nanobind.readthedocs.io) does for C++.
//!
//! A module is declared with [`module!`]; functions are bound with
//! [`Module::def`], whose argument and return types are converted by the
//! caster traits in [`core::caster`]:
//!
//! ```ignore
//! use ndbind::prelude::*;
//!
//! fn add(a: i64, b: i64) -> i64 { a + b }
//!
//! ndbind::module!(my_ext, |m| {
//!     m.doc("An example module.")?;
//!     m.def("add", add, (arg("a"), arg("b").default(1)))?;
//!     Ok(())
//! });
//! ```
//!
//! Layers, lowest first: [`ndbind_dlpack`] (the DLPack ABI), [`core`] (the
//! object model), [`ndarray`] (the array layer). Imports point downwards only.

pub mod core;
pub mod ndarray;

pub use crate::core::caster::{ArgCaster, Filled, FromPy, IntoPy, Param, Place, Slot};
pub use crate::core::error::{ExceptionType, PyErr, PyResult};
pub use crate::core::extras::{arg, doc, kw_only, pos_only, Arg, RvPolicy};
pub use crate::core::module::Module;
pub use crate::core::object::{Borrowed, Object};

/// Re-export of the raw C API, for code that needs to go below ndbind.
pub use pyo3_ffi as ffi;

/// The names most binding code needs, for `use ndbind::prelude::*`.
pub mod prelude {
    pub use crate::core::caster::{FromPy, IntoPy};
    pub use crate::core::error::{ExceptionType, PyErr, PyResult};
    pub use crate::core::extras::{arg, doc, kw_only, pos_only, RvPolicy};
    pub use crate::core::module::Module;
    pub use crate::core::object::{Borrowed, Object};
}
