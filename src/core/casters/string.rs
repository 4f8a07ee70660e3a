//! `String`, `&str` (borrowed from the `str` object) and `char`.

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, FromPy, IntoPy, Param, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// The UTF-8 view of a `str`, or `None` (errors cleared: lone surrogates).
#[inline]
fn utf8(obj: Borrowed<'_>) -> Option<(*const u8, usize)> {
    // SAFETY: the type is checked first; PyUnicode_AsUTF8AndSize caches the
    // UTF-8 form inside the str object, valid while the object lives.
    unsafe {
        if ffi::PyUnicode_Check(obj.as_ptr()) == 0 {
            return None;
        }
        let mut len: ffi::Py_ssize_t = 0;
        let p = ffi::PyUnicode_AsUTF8AndSize(obj.as_ptr(), &mut len);
        if p.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some((p.cast(), len as usize))
    }
}

impl FromPy for String {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        let (p, n) = utf8(obj)?;
        // SAFETY: CPython guarantees valid UTF-8 of length n at p.
        let bytes = super::try_copy(unsafe { std::slice::from_raw_parts(p, n) })?;
        // SAFETY: a copy of valid UTF-8.
        Some(unsafe { String::from_utf8_unchecked(bytes) })
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

impl FromPy for char {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<char> {
        let s = String::from_py(obj, convert)?;
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

/// Caster for `&str` parameters: borrows the `str` object's UTF-8 buffer.
pub struct StrRef;

impl ArgCaster for StrRef {
    type Holder = (usize, usize);
    type Out<'a> = &'a str;

    #[inline]
    fn load(holder: &mut (usize, usize), obj: Borrowed<'_>, _convert: bool) -> bool {
        match utf8(obj) {
            Some((p, n)) => {
                *holder = (p as usize, n);
                true
            }
            None => false,
        }
    }

    #[inline]
    unsafe fn get(holder: &mut (usize, usize)) -> &str {
        // SAFETY: `load` stored the UTF-8 buffer of a str argument, which the
        // dispatcher keeps alive for the whole call, longer than 'a.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                holder.0 as *const u8,
                holder.1,
            ))
        }
    }

    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

impl Param for &str {
    type Caster = StrRef;
}

/// Caster for `Cow<'_, str>` parameters: borrowed from the `str` object's
/// UTF-8 buffer, as `&str` is (never an owned copy).
pub struct CowStrRef;

impl ArgCaster for CowStrRef {
    type Holder = (usize, usize);
    type Out<'a> = std::borrow::Cow<'a, str>;

    #[inline]
    fn load(holder: &mut (usize, usize), obj: Borrowed<'_>, convert: bool) -> bool {
        StrRef::load(holder, obj, convert)
    }

    #[inline]
    unsafe fn get(holder: &mut (usize, usize)) -> std::borrow::Cow<'_, str> {
        // SAFETY: the caller's contract, as for `&str`.
        std::borrow::Cow::Borrowed(unsafe { StrRef::get(holder) })
    }

    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

impl Param for std::borrow::Cow<'_, str> {
    type Caster = CowStrRef;
}

fn new_str(s: &str) -> PyResult<Object> {
    Object::str_held(s)
}

impl IntoPy for String {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_str(&self)
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

impl IntoPy for &str {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_str(self)
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

impl IntoPy for std::borrow::Cow<'_, str> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_str(&self)
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}

impl IntoPy for char {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_str(self.encode_utf8(&mut [0; 4]))
    }
    fn type_name(out: &mut String) {
        out.push_str("str")
    }
}
