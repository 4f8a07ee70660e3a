//! `PathBuf` and `&Path` ↔ `str`, `bytes` or `os.PathLike` (to a
//! `pathlib.Path`), as nanobind's `std::filesystem::path` caster.
//!
//! The path's bytes are what Python's `os.fsencode` makes of the argument:
//! a `str` is encoded with the file-system encoding and the
//! `surrogateescape` handler, so a file name that is not valid UTF-8
//! (listed by `os.listdir` as a `str` with lone surrogates) reaches Rust as
//! its original bytes; a returned path goes back through `os.fsdecode`.
//! (On platforms other than Unix a path must be valid UTF-8.)

use std::path::{Path, PathBuf};

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, FromPy, IntoPy, Param, ReturnCtx};
#[cfg(not(unix))]
use crate::core::error::PyErr;
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// The path `obj` names: `None` with no error set when it is no `str`,
/// `bytes` or `os.PathLike` (a mismatch), or with the error set when it is
/// one but yields no path (an `__fspath__` that raised or returned neither
/// `str` nor `bytes`, an embedded NUL, a lone surrogate that is no escaped
/// byte): the call then raises that error.
fn load_path(obj: Borrowed<'_>) -> Option<PathBuf> {
    let p = obj.as_ptr();
    // SAFETY: type checks and C API calls on live objects, GIL held;
    // `bytes` is a new reference that `FSConverter` gives on success.
    unsafe {
        if ffi::PyUnicode_Check(p) == 0
            && ffi::PyBytes_Check(p) == 0
            && ffi::PyObject_HasAttrString(ffi::Py_TYPE(p).cast(), c"__fspath__".as_ptr()) == 0
        {
            return None;
        }
        let mut bytes: *mut ffi::PyObject = std::ptr::null_mut();
        if ffi::PyUnicode_FSConverter(p, (&mut bytes as *mut *mut ffi::PyObject).cast()) == 0 {
            return None;
        }
        let bytes = Object::from_owned(bytes)?;
        let b = bytes.as_ptr();
        let raw = std::slice::from_raw_parts(
            ffi::PyBytes_AsString(b) as *const u8,
            ffi::PyBytes_Size(b) as usize,
        );
        let raw = super::try_copy(raw)?;
        path_from_bytes(raw)
    }
}

#[cfg(unix)]
fn path_from_bytes(raw: Vec<u8>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(raw)))
}

#[cfg(not(unix))]
fn path_from_bytes(raw: Vec<u8>) -> Option<PathBuf> {
    match String::from_utf8(raw) {
        Ok(s) => Some(PathBuf::from(s)),
        Err(_) => {
            PyErr::value_error("a path must be valid UTF-8 on this platform").restore();
            None
        }
    }
}

/// `pathlib.Path(os.fsdecode(path))`.
fn new_path(path: &Path) -> PyResult<Object> {
    let s = path_to_str(path)?;
    let cls = Object::import_held(c"pathlib")?.borrow().getattr(c"Path")?;
    cls.borrow().call(&[s.borrow()])
}

#[cfg(unix)]
fn path_to_str(path: &Path) -> PyResult<Object> {
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    // SAFETY: pointer/length of a live slice, GIL held.
    unsafe {
        Object::from_owned_or_err(ffi::PyUnicode_DecodeFSDefaultAndSize(
            b.as_ptr().cast(),
            b.len() as ffi::Py_ssize_t,
        ))
    }
}

#[cfg(not(unix))]
fn path_to_str(path: &Path) -> PyResult<Object> {
    let s = path.to_str().ok_or_else(|| PyErr::value_error("path is not valid Unicode"))?;
    Object::str_held(s)
}

impl FromPy for PathBuf {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<PathBuf> {
        load_path(obj)
    }
    fn type_name(out: &mut String) {
        out.push_str("str | os.PathLike")
    }
}

/// Caster for `&Path` parameters (the path is converted into a `PathBuf`
/// held for the call: a `str` has no file-system bytes to borrow).
pub struct PathRef;

impl ArgCaster for PathRef {
    type Holder = Option<PathBuf>;
    type Out<'a> = &'a Path;

    fn load(holder: &mut Option<PathBuf>, obj: Borrowed<'_>, _convert: bool) -> bool {
        *holder = load_path(obj);
        holder.is_some()
    }

    unsafe fn get(holder: &mut Option<PathBuf>) -> &Path {
        holder.as_deref().expect("ndbind: a path argument is loaded before it is used")
    }

    fn type_name(out: &mut String) {
        out.push_str("str | os.PathLike")
    }
}

impl Param for &Path {
    type Caster = PathRef;
}

impl IntoPy for PathBuf {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_path(&self)
    }
    fn type_name(out: &mut String) {
        out.push_str("pathlib.Path")
    }
}

impl IntoPy for &Path {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        new_path(self)
    }
    fn type_name(out: &mut String) {
        out.push_str("pathlib.Path")
    }
}
