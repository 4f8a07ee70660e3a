//! The object model: object handles, casters, functions, modules, errors.
//!
//! Everything here assumes the GIL is held: handles are `!Send`, and every
//! entry point from Python runs with the GIL.

pub(crate) mod abi;
pub mod alias;
pub mod callable;
pub mod caster;
pub mod casters;
pub mod class;
pub mod enums;
pub mod error;
mod extract;
pub mod extras;
pub mod func;
pub(crate) mod gil;
pub(crate) mod gil_cell;
pub mod handles;
pub(crate) mod heap_type;
pub mod internals;
pub mod leak_report;
pub mod module;
pub mod object;
pub(crate) mod overlap;
pub(crate) mod try_ref;
