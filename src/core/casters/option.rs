//! `Option<T>`: `None` ↔ `None`, otherwise `T`.

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

impl<T: FromPy> FromPy for Option<T> {
    const ACCEPTS_NONE: bool = true;
    const CONVERT_BY_DEFAULT: bool = T::CONVERT_BY_DEFAULT;
    forward_to_items!(T, iter, iter_mut);

    #[inline]
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Option<T>> {
        if obj.is_none() {
            Some(None)
        } else {
            T::from_py(obj, convert).map(Some)
        }
    }
    fn type_name(out: &mut String) {
        T::type_name(out);
        out.push_str(" | None");
    }
    fn explain(obj: Borrowed<'_>, convert: bool) -> Option<String> {
        (!obj.is_none()).then(|| T::explain(obj, convert)).flatten()
    }
}

impl<T: IntoPy> IntoPy for Option<T> {
    #[inline]
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        match self {
            Some(v) => v.into_py(ctx),
            None => Ok(Object::none_held()),
        }
    }
    fn type_name(out: &mut String) {
        T::type_name(out);
        out.push_str(" | None");
    }
}
