//! `HashSet<T>` and `BTreeSet<T>` ↔ `set` (from a `set` or `frozenset`).

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, Hash};

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// Runs `f` over the items of a `set` or `frozenset` (or subclass); `None`
/// if `obj` is neither or `f` refuses an item (no error set), or with an
/// error set that aborts the call.
///
/// `f` may run Python code (`__index__`, `__float__`, ...) that mutates
/// the set. The items come from a tuple made first (each item held), so
/// the result is the set as it was when the conversion began; a set whose
/// size changed meanwhile raises `RuntimeError`, as Python's own
/// iteration does.
fn for_each_item(obj: Borrowed<'_>, mut f: impl FnMut(Borrowed<'_>) -> bool) -> Option<()> {
    // SAFETY: type check first; the snapshot is a new tuple nothing else
    // can reach, whose items are read within its (fixed) length.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyAnySet_Check(p) == 0 {
            return None;
        }
        let n = ffi::PySet_Size(p);
        // A subclass's `__iter__` may raise: that error aborts the call.
        let snapshot = Object::from_owned(ffi::PySequence_Tuple(p))?;
        for i in 0..crate::core::abi::tuple_size(snapshot.as_ptr()) {
            if !f(Borrowed::from_ptr(crate::core::abi::tuple_get_item(snapshot.as_ptr(), i))) {
                return None;
            }
            if ffi::PySet_Size(p) != n {
                PyErr::runtime_error("set changed size during conversion to a Rust value")
                    .restore();
                return None;
            }
        }
        Some(())
    }
}

/// A set from a `set`: every item converted and inserted. (Only array
/// handles need re-validating after later items ran Python code, and they
/// are neither `Hash` nor `Ord`: a set cannot hold them.)
fn from_set<T: FromPy, S>(
    obj: Borrowed<'_>,
    convert: bool,
    mut s: S,
    insert: impl Fn(&mut S, T),
) -> Option<S> {
    for_each_item(obj, |item| match T::from_py(item, convert) {
        Some(v) => {
            insert(&mut s, v);
            true
        }
        None => false,
    })?;
    Some(s)
}

fn new_set<T: IntoPy>(items: impl Iterator<Item = T>, ctx: &ReturnCtx) -> PyResult<Object> {
    // SAFETY: PySet_New(NULL) makes an empty set; PySet_Add does not steal.
    unsafe {
        let s = Object::from_owned_or_err(ffi::PySet_New(std::ptr::null_mut()))?;
        for item in items {
            let item = item.into_py(ctx)?;
            if ffi::PySet_Add(s.as_ptr(), item.as_ptr()) != 0 {
                return Err(PyErr::fetch());
            }
        }
        Ok(s)
    }
}

fn set_name(out: &mut String, item: fn(&mut String)) {
    out.push_str("set[");
    item(out);
    out.push(']');
}

impl<T: FromPy + Eq + Hash, S: BuildHasher + Default> FromPy for HashSet<T, S> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        from_set(obj, convert, HashSet::default(), |s, v| {
            s.insert(v);
        })
    }
    fn type_name(out: &mut String) {
        set_name(out, T::type_name)
    }
}

impl<T: FromPy + Ord> FromPy for BTreeSet<T> {
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        from_set(obj, convert, BTreeSet::new(), |s, v| {
            s.insert(v);
        })
    }
    fn type_name(out: &mut String) {
        set_name(out, T::type_name)
    }
}

impl<T: IntoPy, S> IntoPy for HashSet<T, S> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        new_set(self.into_iter(), ctx)
    }
    fn type_name(out: &mut String) {
        set_name(out, T::type_name)
    }
}

impl<T: IntoPy> IntoPy for BTreeSet<T> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        new_set(self.into_iter(), ctx)
    }
    fn type_name(out: &mut String) {
        set_name(out, T::type_name)
    }
}
