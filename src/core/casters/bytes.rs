//! `bytes`: borrowed as `&[u8]`, owned as [`Bytes`].

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, FromPy, IntoPy, Param, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// An owned byte string, converted from and to Python `bytes`.
///
/// (`Vec<u8>` converts from any sequence of ints, like every `Vec<T>`.)
///
/// ```
/// use ndbind::Bytes;
///
/// fn reverse(b: &[u8]) -> Bytes {
///     Bytes(b.iter().rev().copied().collect())
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("reverse", reverse, ndbind::arg("b"))?; Ok(()) });
/// assert_eq!(reverse(b"abc"), Bytes(b"cba".to_vec()));
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
///
/// A `bytes` object is immutable, but its buffer can be wrapped writable
/// (`torch.frombuffer(b)`): like an array view, the slice is alias-checked
/// against writable arguments and lent for the call.
pub struct BytesRef;

/// The holder of a `&[u8]` parameter: the buffer, and its length as a
/// 1-D shape for the alias check.
#[derive(Default)]
pub struct BytesHolder {
    data: usize,
    len: [i64; 1],
}

impl ArgCaster for BytesRef {
    type Holder = BytesHolder;
    type Out<'a> = &'a [u8];
    const LENDS: bool = true;

    fn load(holder: &mut BytesHolder, obj: Borrowed<'_>, _convert: bool) -> bool {
        match view(obj) {
            Some((p, n)) => {
                *holder = BytesHolder { data: p as usize, len: [n as i64] };
                true
            }
            None => false,
        }
    }

    unsafe fn get(holder: &mut BytesHolder) -> &[u8] {
        // SAFETY: the bytes argument outlives the call and is immutable;
        // no Rust view writes it (alias check and loan).
        unsafe { std::slice::from_raw_parts(holder.data as *const u8, holder.len[0] as usize) }
    }

    fn spans<'a>(holder: &'a BytesHolder, out: &mut crate::core::caster::Spans<'a>) {
        out.push(crate::core::caster::Span {
            base: holder.data,
            shape: &holder.len,
            strides: &[1],
            itemsize: 1,
            writable: false,
            lends: true,
        })
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
        Object::from_owned_or_err(ffi::PyBytes_FromStringAndSize(
            b.as_ptr().cast(),
            b.len() as ffi::Py_ssize_t,
        ))
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
