//! The built-in casters, one file per family of types.

/// The `FromPy` items of a container of `$T` (`Option`, `Vec`, maps) that
/// forward to its elements, reached through `$iter`/`$iter_mut`: arrays
/// inside it are alias-checked, re-validated and committed as arguments are.
macro_rules! forward_to_items {
    ($T:ident, $iter:ident, $iter_mut:ident) => {
        const MAY_WRITE: bool = $T::MAY_WRITE;
        #[inline]
        fn spans<'a>(&'a self, out: &mut crate::core::caster::Spans<'a>) {
            self.$iter().for_each(|v| v.spans(out))
        }
        #[inline]
        fn recheck(&mut self) -> bool {
            self.$iter_mut().all($T::recheck)
        }
        #[inline]
        fn commit(&mut self) {
            self.$iter_mut().for_each($T::commit)
        }
    };
}

mod bytes;
mod capsule;
#[cfg(feature = "chrono")]
mod chrono;
mod complex;
pub(crate) mod duration;
mod fixed;
mod map;
mod object;
mod option;
mod path;
pub(crate) mod scalar;
mod seq;
mod set;
mod string;
pub(crate) mod time;
mod tuple;

pub use bytes::Bytes;
pub use duration::SignedDuration;

/// A copy of `bytes` in a new vector, or `None` with `MemoryError` set:
/// the size of a Python object's contents is the caller's to choose.
pub(crate) fn try_copy(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(bytes.len()).is_err() {
        crate::core::error::PyErr::memory_error(format!(
            "cannot allocate {} bytes for a Rust copy",
            bytes.len()
        ))
        .restore();
        return None;
    }
    v.extend_from_slice(bytes);
    Some(v)
}
pub use seq::{int_list, new_list};
