//! `Vec<T>` from any sequence (but `str`/`bytes`), to a `list`.

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// Runs `f` over the items of a list or tuple (borrowed), or of any other
/// sequence through `PySequence_Fast`. `None` when `obj` is no sequence.
pub(crate) fn for_each_item(obj: Borrowed<'_>, mut f: impl FnMut(Borrowed<'_>) -> bool) -> Option<()> {
    // SAFETY: type checks before type-specific access; `fast` owns a list or
    // tuple whose items are borrowed only while it is alive; errors cleared.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyUnicode_Check(p) != 0 || ffi::PyBytes_Check(p) != 0 || ffi::PySequence_Check(p) == 0 {
            return None;
        }
        let fast = ffi::PySequence_Fast(p, c"".as_ptr());
        if fast.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let fast = Object::from_owned(fast)?;
        let fp = fast.as_ptr();
        let is_list = ffi::PyList_Check(fp) != 0;
        let n = if is_list { ffi::PyList_GET_SIZE(fp) } else { ffi::PyTuple_GET_SIZE(fp) };
        for i in 0..n {
            let item = if is_list { ffi::PyList_GET_ITEM(fp, i) } else { ffi::PyTuple_GET_ITEM(fp, i) };
            // A list item may be replaced by `f` calling back into Python:
            // hold our own reference while `f` looks at it.
            let item = Object::from_borrowed(item);
            if !f(item.borrow()) {
                return None;
            }
        }
        Some(())
    }
}

impl<T: FromPy> FromPy for Vec<T> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Vec<T>> {
        let mut out = Vec::new();
        for_each_item(obj, |item| match T::from_py(item, convert) {
            Some(v) => {
                out.push(v);
                true
            }
            None => false,
        })?;
        Some(out)
    }
    fn type_name(out: &mut String) {
        out.push_str("list[");
        T::type_name(out);
        out.push(']');
    }
}

/// Builds a `list` from an exact-size iterator of convertible items.
pub fn new_list<T: IntoPy>(items: impl ExactSizeIterator<Item = T>, ctx: &ReturnCtx) -> PyResult<Object> {
    // SAFETY: PyList_New returns a list of `n` NULL slots that
    // PyList_SET_ITEM fills (stealing each reference) before it is exposed.
    unsafe {
        let n = items.len();
        let list = Object::from_owned_or_err(ffi::PyList_New(n as ffi::Py_ssize_t))?;
        for (i, item) in items.enumerate() {
            ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, item.into_py(ctx)?.into_ptr());
        }
        Ok(list)
    }
}

impl<T: IntoPy> IntoPy for Vec<T> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        new_list(self.into_iter(), ctx)
    }
    fn type_name(out: &mut String) {
        out.push_str("list[");
        T::type_name(out);
        out.push(']');
    }
}
