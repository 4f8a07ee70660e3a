//! `HashMap<K, V>` and `BTreeMap<K, V>` ↔ `dict`.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

/// Runs `f` over the items of a `dict`; `None` if `obj` is none or `f`
/// refuses a pair (no error set), or with an error set that aborts the call.
///
/// `f` may run Python code (`__index__`, `__float__`, ...) that mutates the
/// dict. The items come from a copy made first (each key and value held),
/// so the result is the dict as it was when the conversion began, never a
/// mix of states; a dict whose size changed meanwhile raises
/// `RuntimeError`, as Python's own iteration does.
fn for_each_pair(
    obj: Borrowed<'_>,
    mut f: impl FnMut(Borrowed<'_>, Borrowed<'_>) -> bool,
) -> Option<()> {
    // SAFETY: type check first; the snapshot is a new dict nothing else
    // can reach, so PyDict_Next's borrowed references stay valid.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyDict_Check(p) == 0 {
            return None;
        }
        let Some(snapshot) = Object::from_owned(ffi::PyDict_Copy(p)) else {
            // A MemoryError (or a subclass's hook) aborts the call.
            return None;
        };
        let n = ffi::PyDict_Size(p);
        let mut pos: ffi::Py_ssize_t = 0;
        let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
        while ffi::PyDict_Next(snapshot.as_ptr(), &mut pos, &mut k, &mut v) != 0 {
            if !f(Borrowed::from_ptr(k), Borrowed::from_ptr(v)) {
                return None;
            }
            if ffi::PyDict_Size(p) != n {
                crate::core::error::PyErr::runtime_error(
                    "dictionary changed size during conversion to a Rust value",
                )
                .restore();
                return None;
            }
        }
        Some(())
    }
}

fn new_dict<K: IntoPy, V: IntoPy>(
    items: impl Iterator<Item = (K, V)>,
    ctx: &ReturnCtx,
) -> PyResult<Object> {
    // SAFETY: PyDict_New/PyDict_SetItem with valid objects; SetItem does
    // not steal, our owned handles drop their references.
    unsafe {
        let d = Object::from_owned_or_err(ffi::PyDict_New())?;
        for (k, v) in items {
            let (k, v) = (k.into_py(ctx)?, v.into_py(ctx)?);
            if ffi::PyDict_SetItem(d.as_ptr(), k.as_ptr(), v.as_ptr()) != 0 {
                return Err(crate::core::error::PyErr::fetch());
            }
        }
        Ok(d)
    }
}

fn dict_name<K: FromPyName, V: FromPyName>(out: &mut String) {
    out.push_str("dict[");
    K::name(out);
    out.push_str(", ");
    V::name(out);
    out.push(']');
}

/// Bridges the two name functions so `dict_name` serves both directions.
trait FromPyName {
    fn name(out: &mut String);
}
struct In<T>(T);
struct Out<T>(T);
impl<T: FromPy> FromPyName for In<T> {
    fn name(out: &mut String) {
        T::type_name(out)
    }
}
impl<T: IntoPy> FromPyName for Out<T> {
    fn name(out: &mut String) {
        T::type_name(out)
    }
}

/// A map from a `dict`: every pair converted and inserted; then, since
/// values converted later may have run Python code, all are re-validated
/// (a map has no "last" one).
fn from_dict<K: FromPy, V: FromPy, M: FromPy>(
    obj: Borrowed<'_>,
    convert: bool,
    mut m: M,
    insert: impl Fn(&mut M, K, V),
) -> Option<M> {
    for_each_pair(obj, |k, v| match (K::from_py(k, convert), V::from_py(v, convert)) {
        (Some(k), Some(v)) => {
            insert(&mut m, k, v);
            true
        }
        _ => false,
    })?;
    m.recheck().then_some(m)
}

impl<K: FromPy + Eq + Hash, V: FromPy, S: BuildHasher + Default> FromPy for HashMap<K, V, S> {
    forward_to_items!(V, values, values_mut);
    fn type_name(out: &mut String) {
        dict_name::<In<K>, In<V>>(out)
    }
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        from_dict(obj, convert, HashMap::default(), |m, k, v| drop(m.insert(k, v)))
    }
}

impl<K: FromPy + Ord, V: FromPy> FromPy for BTreeMap<K, V> {
    forward_to_items!(V, values, values_mut);
    fn type_name(out: &mut String) {
        dict_name::<In<K>, In<V>>(out)
    }
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        from_dict(obj, convert, BTreeMap::new(), |m, k, v| drop(m.insert(k, v)))
    }
}

impl<K: IntoPy, V: IntoPy, S> IntoPy for HashMap<K, V, S> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        new_dict(self.into_iter(), ctx)
    }
    fn type_name(out: &mut String) {
        dict_name::<Out<K>, Out<V>>(out)
    }
}

impl<K: IntoPy, V: IntoPy> IntoPy for BTreeMap<K, V> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        new_dict(self.into_iter(), ctx)
    }
    fn type_name(out: &mut String) {
        dict_name::<Out<K>, Out<V>>(out)
    }
}
