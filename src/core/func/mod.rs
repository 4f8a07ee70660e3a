//! Bound functions: one generic call shell per bound callable (`bind`:
//! functions, methods, constructors, `def_ref` methods) fills a compact
//! record (`FuncRecord`); one non-generic core dispatches calls
//! (vectorcall, overloads, keywords, defaults) and renders signatures.

pub mod bind;
mod dispatch;
pub(crate) mod func_type;
mod introspect;
mod keep_alive;
mod mismatch;
pub(crate) mod record;
mod signature;
pub mod varargs;

pub use bind::IntoFunction;
pub(crate) use func_type::{define, define_in, new_standalone};
pub use record::{FuncKind, FuncParts};
pub use varargs::{Args, Kwargs};
