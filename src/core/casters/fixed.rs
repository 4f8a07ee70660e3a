//! `[T; N]` ↔ a sequence of exactly `N` items (to a `list`).

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

use super::seq::{for_each_item_of_len, new_list};

/// `Annotated[list[T], FixedSize(N)]`, as pybind11 writes it: the length
/// shows in the signatures of a mismatch error, where a sequence of the
/// wrong length is refused.
fn fixed_name<const N: usize>(out: &mut String, item: fn(&mut String)) {
    out.push_str("Annotated[list[");
    item(out);
    out.push_str("], FixedSize(");
    crate::core::error::push_decimal(out, N);
    out.push_str(")]");
}

/// From any sequence but `str`/`bytes` (as `Vec<T>`), of exactly `N`
/// items; a sequence of another length is a mismatch, refused before any
/// item is converted.
impl<T: FromPy, const N: usize> FromPy for [T; N] {
    const CONVERT_BY_DEFAULT: bool = T::CONVERT_BY_DEFAULT;
    forward_to_items!(T, iter, iter_mut);

    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<[T; N]> {
        // `N` is the binding's constant, not Python input.
        let mut out = Vec::with_capacity(N);
        for_each_item_of_len(obj, Some(N), |item| match T::from_py(item, convert) {
            Some(v) => {
                out.push(v);
                true
            }
            None => false,
        })?;
        // Items converted later may have run Python code (see `recheck`).
        let n = out.len().saturating_sub(1);
        if !out[..n].iter_mut().all(T::recheck) {
            return None;
        }
        match out.try_into() {
            Ok(a) => Some(a),
            // The length was checked before and after the items.
            Err(_) => {
                PyErr::runtime_error("sequence changed size during conversion").restore();
                None
            }
        }
    }
    fn type_name(out: &mut String) {
        fixed_name::<N>(out, T::type_name)
    }
}

/// To a new `list` (the type is rendered `list[T]`, as nanobind does).
impl<T: IntoPy, const N: usize> IntoPy for [T; N] {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        new_list(self.into_iter(), ctx)
    }
    fn type_name(out: &mut String) {
        out.push_str("list[");
        T::type_name(out);
        out.push(']');
    }
}
