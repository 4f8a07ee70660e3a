//! Typed handles to Python builtins: [`List`], [`Tuple`], [`Dict`], [`Set`],
//! [`Str`]. Each is an owned reference like [`Object`] (and derefs to it),
//! whose type was checked once, so its methods use the type's own C API.
//!
//! As parameters they accept the type and its subclasses, in both overload
//! passes (no conversion: a `tuple` is not a `List`, as with nanobind's
//! `nb::list`); as return values they hand the object back as is. Nothing is
//! copied into Rust containers.
//!
//! Indices are Python's: negative ones count from the end, and one out of
//! range is an `IndexError` (never a panic). Python code may run inside any
//! call that converts a value or compares keys, and may change the
//! container: lengths are read afresh at each step, and iterators hold a
//! strong reference to the container and to each item they yield.
//!
//! `bytes` has no handle: `&[u8]` borrows a `bytes` argument's contents
//! (length, indexing, iteration, no copy) and [`Bytes`](crate::Bytes)
//! owns a copy; an existing `bytes` object is returned as an [`Object`].

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{status, truth, Borrowed, Object, PyIter};

/// The typed handles, for [`Borrowed::downcast`] and [`Object::downcast`]:
/// [`List`], [`Tuple`], [`Dict`], [`Set`], [`Str`]. (Sealed: implemented
/// by ndbind only.)
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::Downcast;
///
/// /// `x` as a `T`, or `None` when it is not one.
/// fn try_as<T: Downcast>(x: Borrowed<'_>) -> Option<T> {
///     x.downcast::<T>().ok()
/// }
///
/// fn is_dict(x: Borrowed<'_>) -> bool {
///     try_as::<Dict>(x).is_some()
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("is_dict", is_dict, arg("x"))?; Ok(()) });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a typed Python handle",
    label = "cannot downcast to `{Self}`",
    note = "the typed handles are `ndbind::List`, `Tuple`, `Dict`, `Set` and `Str`; for a bound class take `ndbind::class::Inst<T>`"
)]
pub trait Downcast: Sized + sealed::Sealed {
    #[doc(hidden)]
    /// The Python type name (`list`, ...), for signatures and errors.
    const TYPE_NAME: &'static str;
    #[doc(hidden)]
    /// Whether `obj` is of this type (or a subclass).
    fn is_type_of(obj: Borrowed<'_>) -> bool;
    #[doc(hidden)]
    /// # Safety
    /// `obj` passed [`Downcast::is_type_of`].
    unsafe fn from_object_unchecked(obj: Object) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

/// The `TypeError` of a failed downcast.
#[cold]
pub(crate) fn wrong_type(expected: &str, got: Borrowed<'_>) -> PyErr {
    PyErr::type_error(format!("expected {expected}, got {}", got.type_name()))
}

/// A Python index (negative counts from the end) as a position within
/// `len`, or `IndexError`.
#[inline]
fn position(index: isize, len: isize, what: &'static str) -> PyResult<isize> {
    let i = if index < 0 { index.wrapping_add(len) } else { index };
    if (0..len).contains(&i) {
        Ok(i)
    } else {
        Err(PyErr::index_error(what))
    }
}

/// A value converted to a new Python object (the GIL is held: handles
/// exist only on a thread that holds it).
#[inline]
fn to_py(v: impl IntoPy) -> PyResult<Object> {
    v.into_py(&ReturnCtx::held())
}

/// The shared impls of a handle type: conversions to/from [`Object`],
/// `Deref`, `Debug`, and the casters.
macro_rules! handle {
    ($T:ident, $name:literal, $check:path) => {
        impl sealed::Sealed for $T {}

        impl Downcast for $T {
            const TYPE_NAME: &'static str = $name;
            #[inline]
            fn is_type_of(obj: Borrowed<'_>) -> bool {
                // SAFETY: a type check of a live object.
                unsafe { $check(obj.as_ptr()) != 0 }
            }
            #[inline]
            unsafe fn from_object_unchecked(obj: Object) -> Self {
                $T(obj)
            }
        }

        impl $T {
            /// The untyped handle.
            #[inline]
            pub fn into_object(self) -> Object {
                self.0
            }
        }

        impl std::ops::Deref for $T {
            type Target = Object;
            #[inline]
            fn deref(&self) -> &Object {
                &self.0
            }
        }

        impl From<$T> for Object {
            #[inline]
            fn from(h: $T) -> Object {
                h.0
            }
        }

        impl std::fmt::Debug for $T {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromPy for $T {
            #[inline]
            fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<$T> {
                <$T as Downcast>::is_type_of(obj).then(|| $T(obj.to_owned()))
            }
            fn type_name(out: &mut String) {
                out.push_str($name)
            }
        }

        impl IntoPy for $T {
            #[inline]
            fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
                Ok(self.0)
            }
            fn type_name(out: &mut String) {
                out.push_str($name)
            }
        }
    };
}

/// A `list` (or subclass): an owned reference.
///
/// Indices follow Python (`-1` is the last item; out of range raises
/// `IndexError`). [`List::iter`] survives the list changing under it.
///
/// ```
/// use ndbind::prelude::*;
///
/// /// Appends `x` twice; the caller sees the change (no copy).
/// fn twice(l: List, x: i64) -> PyResult<List> {
///     l.append(x)?;
///     l.append(x)?;
///     Ok(l)
/// }
///
/// /// The squares of `0..n`, built in place.
/// fn squares(n: i64) -> PyResult<List> {
///     let l = List::new()?;
///     for i in 0..n {
///         l.append(i * i)?;
///     }
///     Ok(l)
/// }
/// # ndbind::module!(doc_ext, |m| {
/// #     m.def("twice", twice, (arg("l"), arg("x")))?;
/// #     m.def("squares", squares, arg("n"))?;
/// #     Ok(())
/// # });
/// ```
#[derive(Clone)]
#[repr(transparent)]
pub struct List(Object);
handle!(List, "list", ffi::PyList_Check);

impl List {
    /// A new empty list.
    pub fn new() -> PyResult<List> {
        crate::core::gil::assert_held("List::new");
        // SAFETY: the GIL is held; a new list or NULL.
        Ok(List(unsafe { Object::from_owned_or_err(ffi::PyList_New(0))? }))
    }

    /// A new list of `items`, converted.
    pub fn of<T: IntoPy>(items: impl IntoIterator<Item = T>) -> PyResult<List> {
        let l = List::new()?;
        for item in items {
            l.append(item)?;
        }
        Ok(l)
    }

    /// `len(self)` (read afresh: the list may have changed).
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: a list (checked when the handle was made).
        unsafe { crate::core::abi::list_size(self.as_ptr()) as usize }
    }

    /// `len(self) == 0`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `self[index]` (Python's indices).
    pub fn get_item(&self, index: isize) -> PyResult<Object> {
        let i = position(index, self.len() as isize, "list index out of range")?;
        // SAFETY: a list, `i` within its length, GIL held; the item is
        // returned as a new reference.
        unsafe { Object::from_owned_or_err(ffi::compat::PyList_GetItemRef(self.as_ptr(), i)) }
    }

    /// `self[index] = value` (Python's indices).
    pub fn set_item(&self, index: isize, value: impl IntoPy) -> PyResult<()> {
        let value = to_py(value)?;
        // The conversion may have run Python code: the length is read now.
        let i = position(index, self.len() as isize, "list assignment index out of range")?;
        // SAFETY: a list, `i` within its length; SetItem steals `value` and
        // releases the old item.
        status(unsafe { ffi::PyList_SetItem(self.as_ptr(), i, value.into_ptr()) })
    }

    /// `del self[index]` (Python's indices).
    pub fn del_item(&self, index: isize) -> PyResult<()> {
        let i = position(index, self.len() as isize, "list assignment index out of range")?;
        // SAFETY: a list, a slice within its length, GIL held.
        status(unsafe { ffi::PyList_SetSlice(self.as_ptr(), i, i + 1, std::ptr::null_mut()) })
    }

    /// `self.append(value)`.
    pub fn append(&self, value: impl IntoPy) -> PyResult<()> {
        let value = to_py(value)?;
        // SAFETY: a list and a live object, GIL held; Append does not steal.
        status(unsafe { ffi::PyList_Append(self.as_ptr(), value.as_ptr()) })
    }

    /// `self.insert(index, value)` (as Python's: clamped to the list).
    pub fn insert(&self, index: isize, value: impl IntoPy) -> PyResult<()> {
        let value = to_py(value)?;
        let len = self.len() as isize;
        let i = if index < 0 { index.saturating_add(len).max(0) } else { index.min(len) };
        // SAFETY: a list and a live object, GIL held; Insert does not steal.
        status(unsafe { ffi::PyList_Insert(self.as_ptr(), i, value.as_ptr()) })
    }

    /// The items, in order: the length is read at each step, so the list
    /// may change while it is iterated (items appended are seen, the
    /// iteration ends at the current end), and each item is a strong
    /// reference of its own.
    pub fn iter(&self) -> ListIter {
        ListIter { list: self.clone(), next: 0 }
    }

    /// A new `tuple` of the items.
    pub fn to_tuple(&self) -> PyResult<Tuple> {
        // SAFETY: a list, GIL held; a new tuple or NULL.
        Ok(Tuple(unsafe { Object::from_owned_or_err(ffi::PyList_AsTuple(self.as_ptr()))? }))
    }
}

/// The iterator of [`List::iter`] (and of `for item in &list`).
///
/// ```
/// use ndbind::prelude::*;
///
/// /// The number of `None` items.
/// fn count_none(l: List) -> usize {
///     (&l).into_iter().filter(|x| x.borrow().is_none()).count()
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("count_none", count_none, arg("l"))?; Ok(()) });
/// ```
pub struct ListIter {
    list: List,
    next: usize,
}

impl Iterator for ListIter {
    type Item = Object;

    fn next(&mut self) -> Option<Object> {
        let l = self.list.as_ptr();
        // SAFETY: a list we hold a reference to; the index is checked
        // against its current length, the item taken as a strong reference
        // (`list_item_ref`: none if another thread shrank the list since).
        unsafe {
            if self.next >= crate::core::abi::list_size(l) as usize {
                return None;
            }
            let item = crate::core::abi::list_item_ref(l, self.next as isize)?;
            self.next += 1;
            Some(item)
        }
    }
}

impl IntoIterator for &List {
    type Item = Object;
    type IntoIter = ListIter;
    fn into_iter(self) -> ListIter {
        self.iter()
    }
}

/// A `tuple` (or subclass): an owned reference.
///
/// ```
/// use ndbind::prelude::*;
///
/// /// `(min, max)` of a tuple of ints, as a new tuple.
/// fn bounds(t: Tuple) -> PyResult<Tuple> {
///     let mut v = Vec::new();
///     for item in t.iter() {
///         v.push(i64::from_py(item.borrow(), true).ok_or_else(|| PyErr::type_error("ints only"))?);
///     }
///     let (lo, hi) = (v.iter().min().copied(), v.iter().max().copied());
///     Tuple::new([lo, hi])
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("bounds", bounds, arg("t"))?; Ok(()) });
/// ```
#[derive(Clone)]
#[repr(transparent)]
pub struct Tuple(Object);
handle!(Tuple, "tuple", ffi::PyTuple_Check);

impl Tuple {
    /// A new tuple of `items`, converted. (Items of different types:
    /// convert each to an [`Object`] first, or build a Rust tuple and
    /// convert it: `(1, "a").into_py(&ReturnCtx::default())?.downcast::<Tuple>()`.)
    pub fn new<T: IntoPy>(items: impl IntoIterator<Item = T>) -> PyResult<Tuple> {
        let ctx = ReturnCtx::default();
        let mut v = Vec::new();
        for item in items {
            v.try_reserve(1).map_err(|_| PyErr::memory_error("cannot allocate the tuple"))?;
            v.push(item.into_py(&ctx)?);
        }
        // SAFETY: PyTuple_New gives `len` empty slots, each filled once
        // below (stealing a reference).
        unsafe {
            let t = Object::from_owned_or_err(ffi::PyTuple_New(v.len() as ffi::Py_ssize_t))?;
            for (i, item) in v.into_iter().enumerate() {
                crate::core::abi::tuple_set_item(t.as_ptr(), i as ffi::Py_ssize_t, item.into_ptr());
            }
            Ok(Tuple(t))
        }
    }

    /// `len(self)`.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: a tuple (checked when the handle was made).
        unsafe { crate::core::abi::tuple_size(self.as_ptr()) as usize }
    }

    /// `len(self) == 0`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `self[index]` (Python's indices).
    pub fn get_item(&self, index: isize) -> PyResult<Object> {
        let i = position(index, self.len() as isize, "tuple index out of range")?;
        Ok(self.at(i as usize))
    }

    /// The items, borrowed from the tuple (immutable, so they live as
    /// long as it does). Not in the `abi3` build, which cannot see the
    /// tuple's item array: use [`Tuple::get_item`] or [`Tuple::iter`] there.
    #[inline]
    #[cfg(not(Py_LIMITED_API))]
    pub fn items(&self) -> &[Borrowed<'_>] {
        // SAFETY: a tuple's item array holds `len` live references that
        // never change; `Borrowed` is a transparent non-NULL pointer.
        unsafe {
            let t = self.as_ptr() as *mut ffi::PyTupleObject;
            std::slice::from_raw_parts(
                std::ptr::addr_of!((*t).ob_item) as *const Borrowed<'_>,
                self.len(),
            )
        }
    }

    /// The items, each as a new strong reference.
    pub fn iter(&self) -> impl Iterator<Item = Object> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// Item `i < len`, a new reference.
    #[inline]
    fn at(&self, i: usize) -> Object {
        // SAFETY: a live tuple, `i` within its length (callers); the item
        // is borrowed from the tuple, which holds it.
        unsafe {
            Object::from_borrowed(crate::core::abi::tuple_get_item(
                self.as_ptr(),
                i as ffi::Py_ssize_t,
            ))
        }
    }
}

/// A `dict` (or subclass): an owned reference.
///
/// Lookups run the keys' `__hash__`/`__eq__`, which may raise (the
/// error comes back) or change the dict. [`Dict::items`] iterates over
/// a snapshot taken when it starts, so the dict may change meanwhile.
///
/// ```
/// use ndbind::prelude::*;
///
/// /// Counts the words of `text` into `counts` (a dict the caller owns).
/// fn count(text: &str, counts: Dict) -> PyResult<()> {
///     for w in text.split_whitespace() {
///         let n = match counts.get_item(w)? {
///             Some(n) => i64::from_py(n.borrow(), false).unwrap_or(0),
///             None => 0,
///         };
///         counts.set_item(w, n + 1)?;
///     }
///     Ok(())
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("count", count, (arg("text"), arg("counts")))?; Ok(()) });
/// ```
#[derive(Clone)]
#[repr(transparent)]
pub struct Dict(Object);
handle!(Dict, "dict", ffi::PyDict_Check);

impl Dict {
    /// A new empty dict.
    pub fn new() -> PyResult<Dict> {
        crate::core::gil::assert_held("Dict::new");
        // SAFETY: the GIL is held; a new dict or NULL.
        Ok(Dict(unsafe { Object::from_owned_or_err(ffi::PyDict_New())? }))
    }

    /// `len(self)`.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: a dict (checked when the handle was made).
        unsafe { ffi::PyDict_Size(self.as_ptr()) as usize }
    }

    /// `len(self) == 0`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `self.get(key)`: `None` when absent; an error from the key's
    /// `__hash__`/`__eq__` comes back.
    pub fn get_item(&self, key: impl IntoPy) -> PyResult<Option<Object>> {
        let key = to_py(key)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: a dict and a live key, GIL held; `out` gets a new
        // reference when found.
        match unsafe { ffi::compat::PyDict_GetItemRef(self.as_ptr(), key.as_ptr(), &mut out) } {
            -1 => Err(PyErr::fetch()),
            // SAFETY: a new reference (or NULL when absent).
            _ => Ok(unsafe { Object::from_owned(out) }),
        }
    }

    /// `self[key] = value`.
    pub fn set_item(&self, key: impl IntoPy, value: impl IntoPy) -> PyResult<()> {
        let (key, value) = (to_py(key)?, to_py(value)?);
        // SAFETY: a dict and live objects, GIL held; SetItem does not steal.
        status(unsafe { ffi::PyDict_SetItem(self.as_ptr(), key.as_ptr(), value.as_ptr()) })
    }

    /// `del self[key]` (`KeyError` when absent).
    pub fn del_item(&self, key: impl IntoPy) -> PyResult<()> {
        let key = to_py(key)?;
        // SAFETY: a dict and a live key, GIL held.
        status(unsafe { ffi::PyDict_DelItem(self.as_ptr(), key.as_ptr()) })
    }

    /// `key in self`.
    pub fn contains(&self, key: impl IntoPy) -> PyResult<bool> {
        let key = to_py(key)?;
        // SAFETY: a dict and a live key, GIL held.
        truth(unsafe { ffi::PyDict_Contains(self.as_ptr(), key.as_ptr()) })
    }

    /// `list(self.keys())`: a new list.
    pub fn keys(&self) -> PyResult<List> {
        // SAFETY: a dict, GIL held; a new list or NULL.
        Ok(List(unsafe { Object::from_owned_or_err(ffi::PyDict_Keys(self.as_ptr()))? }))
    }

    /// `list(self.values())`: a new list.
    pub fn values(&self) -> PyResult<List> {
        // SAFETY: a dict, GIL held; a new list or NULL.
        Ok(List(unsafe { Object::from_owned_or_err(ffi::PyDict_Values(self.as_ptr()))? }))
    }

    /// The `(key, value)` pairs of a snapshot of the dict taken now (a
    /// shallow copy: the dict itself may change while the pairs are
    /// used, which the pairs do not reflect).
    pub fn items(&self) -> PyResult<DictItems> {
        // SAFETY: a dict, GIL held; a new dict or NULL.
        let copy = unsafe { Object::from_owned_or_err(ffi::PyDict_Copy(self.as_ptr()))? };
        Ok(DictItems { copy, pos: 0 })
    }
}

/// The iterator of [`Dict::items`]: `(key, value)` pairs of a snapshot.
///
/// ```
/// use ndbind::prelude::*;
///
/// /// The keys whose value is truthy.
/// fn truthy_keys(d: Dict) -> PyResult<List> {
///     let out = List::new()?;
///     for (k, v) in d.items()? {
///         if v.borrow().is_truthy()? {
///             out.append(k)?;
///         }
///     }
///     Ok(out)
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("truthy_keys", truthy_keys, arg("d"))?; Ok(()) });
/// ```
pub struct DictItems {
    /// A private copy: nothing else can reach it, so it never changes.
    copy: Object,
    pos: ffi::Py_ssize_t,
}

impl Iterator for DictItems {
    type Item = (Object, Object);

    fn next(&mut self) -> Option<(Object, Object)> {
        let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: a dict no other code can reach (so unchanged between
        // steps); PyDict_Next's borrowed references are incref'd at once.
        unsafe {
            if ffi::PyDict_Next(self.copy.as_ptr(), &mut self.pos, &mut k, &mut v) == 0 {
                return None;
            }
            Some((Object::from_borrowed(k), Object::from_borrowed(v)))
        }
    }
}

/// A `set` (or subclass; not `frozenset`): an owned reference.
///
/// ```
/// use ndbind::prelude::*;
///
/// /// Adds the lengths of `words` to `seen`; whether anything was new.
/// fn add_lengths(words: Vec<String>, seen: Set) -> PyResult<bool> {
///     let before = seen.len();
///     for w in &words {
///         seen.add(w.len())?;
///     }
///     Ok(seen.len() > before)
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("add_lengths", add_lengths, (arg("words"), arg("seen")))?; Ok(()) });
/// ```
#[derive(Clone)]
#[repr(transparent)]
pub struct Set(Object);
handle!(Set, "set", ffi::PySet_Check);

impl Set {
    /// A new empty set.
    pub fn new() -> PyResult<Set> {
        crate::core::gil::assert_held("Set::new");
        // SAFETY: the GIL is held; a new set or NULL.
        Ok(Set(unsafe { Object::from_owned_or_err(ffi::PySet_New(std::ptr::null_mut()))? }))
    }

    /// `len(self)`.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: a set (checked when the handle was made).
        unsafe { ffi::PySet_Size(self.as_ptr()) as usize }
    }

    /// `len(self) == 0`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `self.add(value)`.
    pub fn add(&self, value: impl IntoPy) -> PyResult<()> {
        let value = to_py(value)?;
        // SAFETY: a set and a live object, GIL held; Add does not steal.
        status(unsafe { ffi::PySet_Add(self.as_ptr(), value.as_ptr()) })
    }

    /// `self.discard(value)`: whether it was there.
    pub fn discard(&self, value: impl IntoPy) -> PyResult<bool> {
        let value = to_py(value)?;
        // SAFETY: a set and a live object, GIL held.
        truth(unsafe { ffi::PySet_Discard(self.as_ptr(), value.as_ptr()) })
    }

    /// `value in self`.
    pub fn contains(&self, value: impl IntoPy) -> PyResult<bool> {
        let value = to_py(value)?;
        // SAFETY: a set and a live object, GIL held.
        truth(unsafe { ffi::PySet_Contains(self.as_ptr(), value.as_ptr()) })
    }

    /// The items, through Python's set iterator: a set that changes size
    /// while it is iterated yields `RuntimeError`, as in Python.
    pub fn iter(&self) -> PyResult<PyIter> {
        self.borrow().iter()
    }
}

/// A `str` (or subclass): an owned reference.
///
/// ```
/// use ndbind::prelude::*;
///
/// /// The argument itself when it is already upper case (no copy), else
/// /// a new upper-case string.
/// fn upper(s: Str) -> PyResult<Str> {
///     let text = s.to_str()?;
///     if text.chars().all(|c| !c.is_lowercase()) {
///         return Ok(s);
///     }
///     Str::new(&text.to_uppercase())
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("upper", upper, arg("s"))?; Ok(()) });
/// ```
#[derive(Clone)]
#[repr(transparent)]
pub struct Str(Object);
handle!(Str, "str", ffi::PyUnicode_Check);

impl Str {
    /// A new `str` of `s`.
    pub fn new(s: &str) -> PyResult<Str> {
        Ok(Str(Object::str(s)?))
    }

    /// The UTF-8 contents, borrowed from the object (`UnicodeEncodeError`
    /// for a string holding lone surrogates).
    pub fn to_str(&self) -> PyResult<&str> {
        self.0.borrow().to_str()
    }

    /// `len(self)`: the length in code points (not UTF-8 bytes).
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: a str (checked when the handle was made).
        unsafe { ffi::PyUnicode_GetLength(self.as_ptr()) as usize }
    }

    /// `len(self) == 0`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
