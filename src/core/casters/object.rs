//! Python object handles as parameters and return values (any object).

use crate::core::caster::{ArgCaster, FromPy, IntoPy, Param, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

impl FromPy for Object {
    const ACCEPTS_NONE: bool = true;
    #[inline]
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Object> {
        Some(obj.to_owned())
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

impl IntoPy for Object {
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Ok(self)
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

impl IntoPy for Borrowed<'_> {
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Ok(self.to_owned())
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

/// Caster for `Borrowed<'_>` parameters: the argument itself, no refcount
/// traffic.
pub struct BorrowedArg;

impl ArgCaster for BorrowedArg {
    type Holder = usize;
    type Out<'a> = Borrowed<'a>;
    const ACCEPTS_NONE: bool = true;

    #[inline]
    fn load(holder: &mut usize, obj: Borrowed<'_>, _convert: bool) -> bool {
        *holder = obj.as_ptr() as usize;
        true
    }

    #[inline]
    unsafe fn get<'a>(holder: &'a mut usize) -> Borrowed<'a> {
        // SAFETY: the argument object is kept alive by the caller for the
        // whole call, longer than 'a.
        unsafe { Borrowed::from_ptr(*holder as *mut _) }
    }

    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

impl<'x> Param for Borrowed<'x> {
    type Caster = BorrowedArg;
}
