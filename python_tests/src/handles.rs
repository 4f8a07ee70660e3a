//! Issue 20 items 3 and 8: typed handles (`List`, `Tuple`, `Dict`, `Set`,
//! `Str`), `Object`'s protocol calls, and the set, fixed-size array, path
//! and `Cow<str>` casters. Submodule `ndbind_test.handles`.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use ndbind::prelude::*;
use ndbind::Bytes;

/// Iterates `l`, calling `f(item)` before taking each next item (`f` may
/// mutate the list), and returns the items seen.
fn list_iter_calling(l: List, f: Borrowed<'_>) -> PyResult<List> {
    let seen = List::new()?;
    for item in l.iter() {
        f.call(&[item.borrow()])?;
        seen.append(item)?;
    }
    Ok(seen)
}

/// Iterates `d.items()`, calling `f(k, v)` at each pair (`f` may mutate
/// the dict); returns the keys seen.
fn dict_items_calling(d: Dict, f: Borrowed<'_>) -> PyResult<List> {
    let seen = List::new()?;
    for (k, v) in d.items()? {
        f.call(&[k.borrow(), v.borrow()])?;
        seen.append(k)?;
    }
    Ok(seen)
}

/// Iterates `s`, calling `f(item)` at each item (`f` may mutate the set).
fn set_iter_calling(s: Set, f: Borrowed<'_>) -> PyResult<List> {
    let seen = List::new()?;
    for item in s.iter()? {
        let item = item?;
        f.call(&[item.borrow()])?;
        seen.append(item)?;
    }
    Ok(seen)
}

/// Iterates any iterable through `Borrowed::iter`, into a list.
fn obj_iter(x: Borrowed<'_>) -> PyResult<List> {
    let out = List::new()?;
    for item in x.iter()? {
        out.append(item?)?;
    }
    Ok(out)
}

fn obj_compare(a: Borrowed<'_>, b: Borrowed<'_>, op: &str) -> PyResult<bool> {
    match op {
        "==" => a.eq(b),
        "!=" => a.ne(b),
        "<" => a.lt(b),
        "<=" => a.le(b),
        ">" => a.gt(b),
        ">=" => a.ge(b),
        _ => Err(PyErr::value_error("unknown operator")),
    }
}

/// `x` downcast to the handle named `kind`, returned as is.
fn downcast(x: Object, kind: &str) -> PyResult<Object> {
    Ok(match kind {
        "list" => x.downcast::<List>()?.into_object(),
        "tuple" => x.downcast::<Tuple>()?.into_object(),
        "dict" => x.downcast::<Dict>()?.into_object(),
        "set" => x.downcast::<Set>()?.into_object(),
        "str" => x.downcast::<Str>()?.into_object(),
        _ => return Err(PyErr::value_error("unknown kind")),
    })
}

/// The raw bytes of a path (what the file system sees).
#[cfg(unix)]
fn path_bytes(p: &Path) -> Bytes {
    use std::os::unix::ffi::OsStrExt;
    Bytes(p.as_os_str().as_bytes().to_vec())
}

/// A path made of raw bytes.
#[cfg(unix)]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

pub fn bind(m: &Module) -> PyResult<()> {
    let h = m.submodule("handles", "Typed handles, protocol calls and more casters (issue 20).")?;

    // Lists.
    h.def("list_new", List::new, ())?;
    h.def("list_of", |n: i64| List::of((0..n).map(|i| i * i)), arg("n"))?;
    h.def("list_len", |l: List| l.len(), arg("l"))?;
    h.def("list_get", |l: List, i: isize| l.get_item(i), (arg("l"), arg("i")))?;
    h.def(
        "list_set",
        |l: List, i: isize, x: Object| l.set_item(i, x),
        (arg("l"), arg("i"), arg("x")),
    )?;
    h.def("list_del", |l: List, i: isize| l.del_item(i), (arg("l"), arg("i")))?;
    h.def(
        "list_insert",
        |l: List, i: isize, x: Object| l.insert(i, x),
        (arg("l"), arg("i"), arg("x")),
    )?;
    h.def(
        "list_append",
        |l: List, x: Object| -> PyResult<List> {
            l.append(x)?;
            Ok(l)
        },
        (arg("l"), arg("x")),
    )?;
    h.def("list_iter_calling", list_iter_calling, (arg("l"), arg("f")))?;
    h.def("list_to_tuple", |l: List| l.to_tuple(), arg("l"))?;

    // Tuples.
    h.def("tuple_new", |xs: Vec<i64>| Tuple::new(xs), arg("xs"))?;
    h.def("tuple_len", |t: Tuple| t.len(), arg("t"))?;
    h.def("tuple_get", |t: Tuple, i: isize| t.get_item(i), (arg("t"), arg("i")))?;
    h.def("tuple_iter", |t: Tuple| List::of(t.iter()), arg("t"))?;

    // Dicts.
    h.def("dict_new", Dict::new, ())?;
    h.def("dict_len", |d: Dict| d.len(), arg("d"))?;
    h.def("dict_get", |d: Dict, k: Object| d.get_item(k), (arg("d"), arg("k")))?;
    h.def(
        "dict_set",
        |d: Dict, k: Object, v: Object| d.set_item(k, v),
        (arg("d"), arg("k"), arg("v")),
    )?;
    h.def("dict_del", |d: Dict, k: Object| d.del_item(k), (arg("d"), arg("k")))?;
    h.def("dict_contains", |d: Dict, k: Object| d.contains(k), (arg("d"), arg("k")))?;
    h.def("dict_keys", |d: Dict| d.keys(), arg("d"))?;
    h.def("dict_values", |d: Dict| d.values(), arg("d"))?;
    h.def("dict_items_calling", dict_items_calling, (arg("d"), arg("f")))?;

    // Sets.
    h.def("set_new", Set::new, ())?;
    h.def("set_len", |s: Set| s.len(), arg("s"))?;
    h.def("set_add", |s: Set, x: Object| s.add(x), (arg("s"), arg("x")))?;
    h.def("set_discard", |s: Set, x: Object| s.discard(x), (arg("s"), arg("x")))?;
    h.def("set_contains", |s: Set, x: Object| s.contains(x), (arg("s"), arg("x")))?;
    h.def("set_iter_calling", set_iter_calling, (arg("s"), arg("f")))?;

    // Strings.
    h.def("str_new", |s: &str| Str::new(s), arg("s"))?;
    h.def("str_same", |s: Str| s, arg("s"))?;
    h.def("str_to_str", |s: Str| -> PyResult<String> { Ok(s.to_str()?.to_owned()) }, arg("s"))?;
    h.def("str_len", |s: Str| s.len(), arg("s"))?;

    // Which handle an argument matches (overloads: first match wins).
    h.def("kind", |_: List| "list", arg("x"))?;
    h.def("kind", |_: Tuple| "tuple", arg("x"))?;
    h.def("kind", |_: Dict| "dict", arg("x"))?;
    h.def("kind", |_: Set| "set", arg("x"))?;
    h.def("kind", |_: Str| "str", arg("x"))?;

    // Object's protocol calls.
    h.def("obj_len", |x: Borrowed<'_>| x.len(), arg("x"))?;
    h.def("obj_getitem", |x: Borrowed<'_>, k: Borrowed<'_>| x.get_item(k), (arg("x"), arg("k")))?;
    h.def("obj_getitem_int", |x: Borrowed<'_>, i: i64| x.get_item(i), (arg("x"), arg("i")))?;
    h.def(
        "obj_setitem",
        |x: Borrowed<'_>, k: Borrowed<'_>, v: Borrowed<'_>| x.set_item(k, v),
        (arg("x"), arg("k"), arg("v")),
    )?;
    h.def("obj_delitem", |x: Borrowed<'_>, k: Borrowed<'_>| x.del_item(k), (arg("x"), arg("k")))?;
    h.def("obj_contains", |x: Borrowed<'_>, v: Borrowed<'_>| x.contains(v), (arg("x"), arg("v")))?;
    h.def("obj_iter", obj_iter, arg("x"))?;
    h.def("obj_compare", obj_compare, (arg("a"), arg("b"), arg("op")))?;
    h.def("obj_hash", |x: Borrowed<'_>| x.hash(), arg("x"))?;
    h.def("obj_truthy", |x: Borrowed<'_>| x.is_truthy(), arg("x"))?;
    h.def("downcast", downcast, (arg("x"), arg("kind")))?;

    // Set casters.
    h.def("hash_set", |s: HashSet<i64>| s, arg("s"))?;
    h.def("btree_set", |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>(), arg("s"))?;

    // Fixed-size arrays.
    h.def("array3", |a: [f64; 3]| a.map(|x| x * 2.0), arg("a"))?;
    h.def("array2_sum", |a: [i64; 2]| a[0] + a[1], arg("a"))?;

    // Paths.
    h.def("path_same", |p: PathBuf| p, arg("p"))?;
    h.def("path_join", |p: &Path, name: &str| p.join(name), (arg("p"), arg("name")))?;
    #[cfg(unix)]
    h.def("path_bytes", path_bytes, arg("p"))?;
    #[cfg(unix)]
    h.def("path_from_bytes", path_from_bytes, arg("b"))?;

    // Cow<str>.
    h.def("cow_borrowed", |s: Cow<'_, str>| matches!(s, Cow::Borrowed(_)), arg("s"))?;
    h.def("cow_upper", |s: Cow<'_, str>| s.to_uppercase(), arg("s"))?;
    Ok(())
}
