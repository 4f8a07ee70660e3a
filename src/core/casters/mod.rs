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

/// A copy of `bytes` in a new vector, or `None` with `MemoryError` set:
/// the size of a Python object's contents is the caller's to choose.
pub(crate) fn try_copy(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(bytes.len()).is_err() {
        crate::core::error::PyErr::memory_error(format!("cannot allocate {} bytes for a Rust copy", bytes.len())).restore();
        return None;
    }
    v.extend_from_slice(bytes);
    Some(v)
}
pub use seq::{int_list, new_list};
