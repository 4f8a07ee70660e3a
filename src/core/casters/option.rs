//! `Option<T>`: `None` ↔ `None`, otherwise `T`.

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

impl<T: FromPy> FromPy for Option<T> {
    const ACCEPTS_NONE: bool = true;
    const CONVERT_BY_DEFAULT: bool = T::CONVERT_BY_DEFAULT;
    const MAY_WRITE: bool = T::MAY_WRITE;

    #[inline]
    fn spans<'a>(&'a self, out: &mut crate::core::caster::Spans<'a>) {
        if let Some(v) = self {
            v.spans(out)
        }
    }

    #[inline]
    fn recheck(&mut self) -> bool {
        self.as_mut().map_or(true, T::recheck)
    }

    #[inline]
    fn commit(&mut self) {
        if let Some(v) = self {
            v.commit()
        }
    }

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
