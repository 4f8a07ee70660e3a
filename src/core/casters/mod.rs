//! The built-in casters, one file per family of types.

mod bytes;
mod complex;
mod map;
mod object;
mod option;
pub(crate) mod scalar;
mod seq;
mod string;
mod time;
mod tuple;

pub use bytes::Bytes;
pub use seq::{int_list, new_list};
