//! `bytes`: borrowed as `&[u8]`, owned as [`Bytes`].

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, FromPy, IntoPy, Param, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// An owned byte string, converted from and to Python `bytes`.
///
/// (`Vec<u8>` converts from any sequence of ints, like every `Vec<T>`.)
///
/// ```ignore
/// fn reverse(b: &[u8]) -> Bytes { Bytes(b.iter().rev().copied().collect()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

/// The contents of a `bytes` object (immutable, so safe to borrow).
#[inline]
fn view(obj: Borrowed<'_>) -> Option<(*const u8, usize)> {
    // SAFETY: exact type check first; bytes objects are immutable and their
    // buffer lives as long as the object.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyBytes_Check(p) == 0 {
            return None;
        }
        Some((ffi::PyBytes_AsString(p) as *const u8, ffi::PyBytes_Size(p) as usize))
    }
}

impl FromPy for Bytes {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Bytes> {
        let (p, n) = view(obj)?;
        // SAFETY: `view` returned the live buffer of a bytes object.
        Some(Bytes(super::try_copy(unsafe { std::slice::from_raw_parts(p, n) })?))
    }
    fn type_name(out: &mut String) {
        out.push_str("bytes")
    }
}

/// Caster for `&[u8]` parameters: borrows a `bytes` argument's buffer.
pub struct BytesRef;

impl ArgCaster for BytesRef {
    type Holder = (usize, usize);
    type Out<'a> = &'a [u8];

    fn load(holder: &mut (usize, usize), obj: Borrowed<'_>, _convert: bool) -> bool {
        match view(obj) {
            Some((p, n)) => {
                *holder = (p as usize, n);
                true
            }
            None => false,
        }
    }

    unsafe fn get(holder: &mut (usize, usize)) -> &[u8] {
        // SAFETY: the bytes argument outlives the call and is immutable.
        unsafe { std::slice::from_raw_parts(holder.0 as *const u8, holder.1) }
    }

    fn type_name(out: &mut String) {
        out.push_str("bytes")
    }
}

impl Param for &[u8] {
    type Caster = BytesRef;
}

fn new_bytes(b: &[u8]) -> PyResult<Object> {
    // SAFETY: pointer/length of a live slice.
    unsafe {
        Object::from_owned_or_err(ffi::PyBytes_FromStringAndSize(b.as_ptr().cast(), b.len() as ffi::Py_ssize_t))
    }
}

impl IntoPy for Bytes {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_bytes(&self.0)
    }
    fn type_name(out: &mut String) {
        out.push_str("bytes")
    }
}

impl IntoPy for &[u8] {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_bytes(self)
    }
    fn type_name(out: &mut String) {
        out.push_str("bytes")
    }
}
