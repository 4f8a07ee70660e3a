//! Owned and borrowed handles to Python objects.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::ptr::NonNull;

use pyo3_ffi as ffi;

use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::handles::Downcast;

/// An owned (strong) reference to a Python object; dropping it decrements
/// the reference count.
///
/// Handles are `!Send`: they are created and dropped with the GIL held.
///
/// ```no_run
/// use ndbind::Object;
///
/// let s = Object::str("hello")?;
/// assert_eq!(s.borrow().repr()?, "'hello'");
/// # Ok::<(), ndbind::PyErr>(())
/// ```
#[repr(transparent)]
pub struct Object(NonNull<ffi::PyObject>);

/// A borrowed reference, valid for `'a` (typically the duration of a call).
///
/// ```
/// use ndbind::prelude::*;
///
/// fn type_of(x: Borrowed<'_>) -> String {
///     x.type_name()
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("type_of", type_of, arg("x"))?; Ok(()) });
/// ```
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Borrowed<'a>(NonNull<ffi::PyObject>, PhantomData<&'a Object>);

impl Object {
    /// Takes ownership of a new reference; `None` for NULL.
    ///
    /// # Safety
    /// `p` is NULL or a new (owned) reference; the GIL is held, and the
    /// handle is used on this thread only while it holds the GIL.
    #[inline]
    pub unsafe fn from_owned(p: *mut ffi::PyObject) -> Option<Object> {
        NonNull::new(p).map(Object)
    }

    /// Takes ownership of a new reference; NULL becomes the pending error.
    ///
    /// # Safety
    /// As [`Object::from_owned`]; when `p` is NULL a Python error is set.
    #[inline]
    pub unsafe fn from_owned_or_err(p: *mut ffi::PyObject) -> PyResult<Object> {
        match NonNull::new(p) {
            Some(p) => Ok(Object(p)),
            None => Err(PyErr::fetch()),
        }
    }

    /// A new strong reference to a borrowed pointer.
    ///
    /// # Safety
    /// `p` is a valid, non-NULL object pointer and the GIL is held.
    #[inline]
    pub unsafe fn from_borrowed(p: *mut ffi::PyObject) -> Object {
        // SAFETY: `p` is a valid, non-NULL object and the GIL is held (the
        // caller's contract); the new reference is the one `Object` owns.
        unsafe {
            ffi::Py_INCREF(p);
            Object(NonNull::new_unchecked(p))
        }
    }

    /// The raw pointer (still owned by `self`).
    #[inline]
    pub fn as_ptr(&self) -> *mut ffi::PyObject {
        self.0.as_ptr()
    }

    /// Gives up ownership, returning the new reference.
    #[inline]
    pub fn into_ptr(self) -> *mut ffi::PyObject {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// A borrowed view of this object.
    #[inline]
    pub fn borrow(&self) -> Borrowed<'_> {
        Borrowed(self.0, PhantomData)
    }

    /// `None`, as an owned handle. (Like every function that makes a
    /// Python object from nothing, it panics on a thread that does not
    /// hold the GIL.)
    pub fn none() -> Object {
        crate::core::gil::assert_held("Object::none");
        Object::none_held()
    }

    /// A new `str`.
    pub fn str(s: &str) -> PyResult<Object> {
        crate::core::gil::assert_held("Object::str");
        Object::str_held(s)
    }

    /// An interned `str` (fast keyword-name and attribute comparisons).
    pub fn intern(s: &CStr) -> PyResult<Object> {
        crate::core::gil::assert_held("Object::intern");
        Object::intern_held(s)
    }

    /// Imports a module by name.
    pub fn import(name: &CStr) -> PyResult<Object> {
        crate::core::gil::assert_held("Object::import");
        Object::import_held(name)
    }

    // The same for ndbind's own code, which runs with the GIL held.

    #[inline]
    pub(crate) fn none_held() -> Object {
        // SAFETY: Py_None is a valid, immortal-for-our-purposes object; the
        // GIL is held (callers are ndbind code on a call path).
        unsafe { Object::from_borrowed(ffi::Py_None()) }
    }

    #[inline]
    pub(crate) fn str_held(s: &str) -> PyResult<Object> {
        // SAFETY: pointer/length describe valid UTF-8 owned by `s`; the GIL
        // is held.
        unsafe {
            Object::from_owned_or_err(ffi::PyUnicode_FromStringAndSize(
                s.as_ptr().cast(),
                s.len() as ffi::Py_ssize_t,
            ))
        }
    }

    pub(crate) fn intern_held(s: &CStr) -> PyResult<Object> {
        // SAFETY: `s` is NUL-terminated; the GIL is held.
        unsafe { Object::from_owned_or_err(ffi::PyUnicode_InternFromString(s.as_ptr())) }
    }

    pub(crate) fn import_held(name: &CStr) -> PyResult<Object> {
        // SAFETY: `name` is NUL-terminated; the GIL is held.
        unsafe { Object::from_owned_or_err(ffi::PyImport_ImportModule(name.as_ptr())) }
    }
}

impl Clone for Object {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: `self` owns a reference, so the object is alive.
        unsafe { Object::from_borrowed(self.as_ptr()) }
    }
}

impl Drop for Object {
    #[inline]
    fn drop(&mut self) {
        // A handle kept in a `thread_local!` is dropped when its thread
        // exits, without the GIL: its reference is leaked then.
        if crate::core::gil::may_release() {
            // SAFETY: we own one reference, and the GIL is held.
            unsafe { ffi::Py_DECREF(self.0.as_ptr()) }
        }
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.borrow().fmt(f)
    }
}

impl std::fmt::Debug for Borrowed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.repr() {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "<{} object>", self.type_name()),
        }
    }
}

impl<'a> Borrowed<'a> {
    /// Wraps a borrowed pointer.
    ///
    /// # Safety
    /// `p` is a valid, non-NULL object pointer that stays alive for `'a`;
    /// the GIL is held whenever the handle is used.
    #[inline]
    pub unsafe fn from_ptr(p: *mut ffi::PyObject) -> Borrowed<'a> {
        // SAFETY: `p` is non-NULL (the caller's contract).
        Borrowed(unsafe { NonNull::new_unchecked(p) }, PhantomData)
    }

    /// The raw pointer.
    #[inline]
    pub fn as_ptr(self) -> *mut ffi::PyObject {
        self.0.as_ptr()
    }

    /// A new strong reference.
    #[inline]
    pub fn to_owned(self) -> Object {
        // SAFETY: the object is alive for 'a.
        unsafe { Object::from_borrowed(self.as_ptr()) }
    }

    /// The object's type, as a raw pointer.
    #[inline]
    pub fn type_ptr(self) -> *mut ffi::PyTypeObject {
        // SAFETY: every live object has a valid type pointer.
        unsafe { ffi::Py_TYPE(self.as_ptr()) }
    }

    /// `self is None`.
    #[inline]
    pub fn is_none(self) -> bool {
        // SAFETY: comparing pointers only.
        self.as_ptr() == unsafe { ffi::Py_None() }
    }

    /// `self is other`.
    #[inline]
    pub fn is(self, other: Borrowed<'_>) -> bool {
        self.as_ptr() == other.as_ptr()
    }

    /// The type's `tp_name` (e.g. `numpy.ndarray`).
    pub fn type_name(self) -> String {
        // SAFETY: a live type; the GIL is held (a handle exists).
        unsafe {
            crate::core::abi::with_type_name(self.type_ptr(), |n| {
                String::from_utf8_lossy(n).into_owned()
            })
        }
    }

    /// `getattr(self, name)`.
    pub fn getattr(self, name: &CStr) -> PyResult<Object> {
        // SAFETY: valid object, NUL-terminated name, GIL held.
        unsafe {
            Object::from_owned_or_err(ffi::PyObject_GetAttrString(self.as_ptr(), name.as_ptr()))
        }
    }

    /// `getattr(self, name)` with a `str` object as the name.
    pub fn getattr_obj(self, name: Borrowed<'_>) -> PyResult<Object> {
        // SAFETY: valid objects, GIL held.
        unsafe { Object::from_owned_or_err(ffi::PyObject_GetAttr(self.as_ptr(), name.as_ptr())) }
    }

    /// `setattr(self, name, value)`.
    pub fn setattr(self, name: &CStr, value: Borrowed<'_>) -> PyResult<()> {
        // SAFETY: valid objects, NUL-terminated name, GIL held.
        let rc =
            unsafe { ffi::PyObject_SetAttrString(self.as_ptr(), name.as_ptr(), value.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(PyErr::fetch())
        }
    }

    /// `self(*args)` through vectorcall.
    pub fn call(self, args: &[Borrowed<'_>]) -> PyResult<Object> {
        self.call_kw(args, None)
    }

    /// `self(*args, **kw)` through vectorcall; the last `len(kwnames)`
    /// entries of `args` are the keyword values.
    pub fn call_kw(self, args: &[Borrowed<'_>], kwnames: Option<Borrowed<'_>>) -> PyResult<Object> {
        let nkw = match kwnames {
            // SAFETY: kwnames is a tuple by the vectorcall contract.
            Some(k) => unsafe { crate::core::abi::tuple_size(k.as_ptr()) as usize },
            None => 0,
        };
        debug_assert!(nkw <= args.len());
        // SAFETY: `Borrowed` is a transparent pointer, so the slice is a valid
        // PyObject* array; the callee may not modify it (no ARGUMENTS_OFFSET).
        unsafe {
            Object::from_owned_or_err(ffi::PyObject_Vectorcall(
                self.as_ptr(),
                args.as_ptr() as *const *mut ffi::PyObject,
                args.len() - nkw,
                kwnames.map_or(std::ptr::null_mut(), |k| k.as_ptr()),
            ))
        }
    }

    /// `self.name(*args)`.
    pub fn call_method(self, name: &CStr, args: &[Borrowed<'_>]) -> PyResult<Object> {
        self.getattr(name)?.borrow().call(args)
    }

    /// `repr(self)`.
    pub fn repr(self) -> PyResult<String> {
        // SAFETY: valid object; the result is a new reference or NULL.
        let r = unsafe { Object::from_owned_or_err(ffi::PyObject_Repr(self.as_ptr()))? };
        r.borrow().to_str().map(str::to_owned)
    }

    /// `str(self)`.
    pub fn str(self) -> PyResult<String> {
        // SAFETY: valid object; the result is a new reference or NULL.
        let r = unsafe { Object::from_owned_or_err(ffi::PyObject_Str(self.as_ptr()))? };
        r.borrow().to_str().map(str::to_owned)
    }

    /// The UTF-8 contents of a `str` object, borrowed from it.
    pub fn to_str(self) -> PyResult<&'a str> {
        let mut len: ffi::Py_ssize_t = 0;
        // SAFETY: PyUnicode_AsUTF8AndSize checks the type and caches the UTF-8
        // buffer inside the str object, which lives for 'a.
        unsafe {
            let p = ffi::PyUnicode_AsUTF8AndSize(self.as_ptr(), &mut len);
            if p.is_null() {
                return Err(PyErr::fetch());
            }
            Ok(std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast(), len as usize)))
        }
    }

    /// `isinstance(self, ty)`.
    pub fn is_instance(self, ty: Borrowed<'_>) -> PyResult<bool> {
        // SAFETY: valid objects, GIL held.
        match unsafe { ffi::PyObject_IsInstance(self.as_ptr(), ty.as_ptr()) } {
            -1 => Err(PyErr::fetch()),
            r => Ok(r == 1),
        }
    }

    /// The reference count (for tests and diagnostics).
    pub fn refcnt(self) -> isize {
        // SAFETY: valid object.
        unsafe { ffi::Py_REFCNT(self.as_ptr()) }
    }

    // The common protocol calls. Keys, indices and values are Rust values
    // converted by [`IntoPy`] (numbers, strings, handles; pass an object as
    // `Borrowed`), so `x.get_item(0)`, `d.get_item("k")` and
    // `d.set_item(k.borrow(), v)` all read as in Python. Any Python code may
    // run inside (`__len__`, `__getitem__`, `__eq__`, ...); what it raises
    // comes back as the `PyErr`.

    /// `len(self)`.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// `len(x) + 1`, whatever `x` is (errors from `__len__` propagate).
    /// fn len_plus_one(x: Borrowed<'_>) -> PyResult<usize> {
    ///     Ok(x.len()? + 1)
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("len_plus_one", len_plus_one, arg("x"))?; Ok(()) });
    /// ```
    pub fn len(self) -> PyResult<usize> {
        // SAFETY: valid object, GIL held.
        let n = unsafe { ffi::PyObject_Size(self.as_ptr()) };
        usize::try_from(n).map_err(|_| PyErr::fetch())
    }

    /// `len(self) == 0`.
    pub fn is_empty(self) -> PyResult<bool> {
        Ok(self.len()? == 0)
    }

    /// `self[key]`.
    pub fn get_item(self, key: impl IntoPy) -> PyResult<Object> {
        let key = key.into_py(&ReturnCtx::held())?;
        // SAFETY: valid objects, GIL held; a new reference or NULL.
        unsafe { Object::from_owned_or_err(ffi::PyObject_GetItem(self.as_ptr(), key.as_ptr())) }
    }

    /// `self[key] = value`.
    pub fn set_item(self, key: impl IntoPy, value: impl IntoPy) -> PyResult<()> {
        let ctx = ReturnCtx::held();
        let (key, value) = (key.into_py(&ctx)?, value.into_py(&ctx)?);
        // SAFETY: valid objects, GIL held; SetItem does not steal.
        status(unsafe { ffi::PyObject_SetItem(self.as_ptr(), key.as_ptr(), value.as_ptr()) })
    }

    /// `del self[key]`.
    pub fn del_item(self, key: impl IntoPy) -> PyResult<()> {
        let key = key.into_py(&ReturnCtx::held())?;
        // SAFETY: valid objects, GIL held.
        status(unsafe { ffi::PyObject_DelItem(self.as_ptr(), key.as_ptr()) })
    }

    /// `value in self`.
    pub fn contains(self, value: impl IntoPy) -> PyResult<bool> {
        let value = value.into_py(&ReturnCtx::held())?;
        // SAFETY: valid objects, GIL held.
        truth(unsafe { ffi::PySequence_Contains(self.as_ptr(), value.as_ptr()) })
    }

    /// `iter(self)`, as a Rust iterator over the items (see [`PyIter`]).
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// The `str()` of every item of any iterable, joined.
    /// fn join(x: Borrowed<'_>) -> PyResult<String> {
    ///     let mut out = String::new();
    ///     for item in x.iter()? {
    ///         out.push_str(&item?.borrow().str()?);
    ///     }
    ///     Ok(out)
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("join", join, arg("x"))?; Ok(()) });
    /// ```
    pub fn iter(self) -> PyResult<PyIter> {
        // SAFETY: valid object, GIL held; a new reference or NULL.
        let it = unsafe { Object::from_owned_or_err(ffi::PyObject_GetIter(self.as_ptr()))? };
        Ok(PyIter(Some(it)))
    }

    /// `self == other`, as `PyObject_RichCompareBool` (so, like `in`, an
    /// object is equal to itself whatever its `__eq__` says).
    pub fn eq(self, other: impl IntoPy) -> PyResult<bool> {
        self.compare(other, ffi::Py_EQ)
    }

    /// `self != other` (an object is never unequal to itself).
    pub fn ne(self, other: impl IntoPy) -> PyResult<bool> {
        self.compare(other, ffi::Py_NE)
    }

    /// `self < other`.
    pub fn lt(self, other: impl IntoPy) -> PyResult<bool> {
        self.compare(other, ffi::Py_LT)
    }

    /// `self <= other`.
    pub fn le(self, other: impl IntoPy) -> PyResult<bool> {
        self.compare(other, ffi::Py_LE)
    }

    /// `self > other`.
    pub fn gt(self, other: impl IntoPy) -> PyResult<bool> {
        self.compare(other, ffi::Py_GT)
    }

    /// `self >= other`.
    pub fn ge(self, other: impl IntoPy) -> PyResult<bool> {
        self.compare(other, ffi::Py_GE)
    }

    fn compare(self, other: impl IntoPy, op: std::ffi::c_int) -> PyResult<bool> {
        let other = other.into_py(&ReturnCtx::held())?;
        // SAFETY: valid objects, a valid operator, GIL held.
        truth(unsafe { ffi::PyObject_RichCompareBool(self.as_ptr(), other.as_ptr(), op) })
    }

    /// `hash(self)` (`TypeError` for an unhashable object).
    pub fn hash(self) -> PyResult<isize> {
        // SAFETY: valid object, GIL held.
        match unsafe { ffi::PyObject_Hash(self.as_ptr()) } {
            -1 => Err(PyErr::fetch()),
            h => Ok(h),
        }
    }

    /// `bool(self)`.
    pub fn is_truthy(self) -> PyResult<bool> {
        // SAFETY: valid object, GIL held.
        truth(unsafe { ffi::PyObject_IsTrue(self.as_ptr()) })
    }

    /// A typed handle to this object ([`List`](crate::List),
    /// [`Dict`](crate::Dict), ...), or `TypeError` when it is not of that
    /// type (subclasses pass, as with `isinstance`).
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// /// The length of a list, or of a str in characters; `TypeError` else.
    /// fn size(x: Borrowed<'_>) -> PyResult<usize> {
    ///     match x.downcast::<List>() {
    ///         Ok(l) => Ok(l.len()),
    ///         Err(_) => Ok(x.downcast::<Str>()?.len()),
    ///     }
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("size", size, arg("x"))?; Ok(()) });
    /// ```
    pub fn downcast<T: Downcast>(self) -> PyResult<T> {
        self.to_owned().downcast()
    }
}

impl Object {
    /// A typed handle to this object, or `TypeError` (see
    /// [`Borrowed::downcast`]); no reference-count traffic.
    pub fn downcast<T: Downcast>(self) -> PyResult<T> {
        if T::is_type_of(self.borrow()) {
            // SAFETY: the type was just checked.
            Ok(unsafe { T::from_object_unchecked(self) })
        } else {
            Err(crate::core::handles::wrong_type(T::TYPE_NAME, self.borrow()))
        }
    }
}

/// The result of a C API call returning 0 on success, -1 with an error.
#[inline]
pub(crate) fn status(rc: std::ffi::c_int) -> PyResult<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch())
    }
}

/// The result of a C API call returning 1/0, or -1 with an error.
#[inline]
pub(crate) fn truth(rc: std::ffi::c_int) -> PyResult<bool> {
    match rc {
        -1 => Err(PyErr::fetch()),
        r => Ok(r != 0),
    }
}

/// A Python iterator as a Rust iterator: each item is an owned reference,
/// or the error `__next__` raised, after which the iterator is done.
/// Made by [`Borrowed::iter`].
///
/// ```
/// use ndbind::prelude::*;
///
/// /// The sum of any iterable of ints (the first error stops it).
/// fn total(x: Borrowed<'_>) -> PyResult<i64> {
///     let mut sum = 0;
///     for item in x.iter()? {
///         sum += i64::from_py(item?.borrow(), true)
///             .ok_or_else(|| PyErr::type_error("ints only"))?;
///     }
///     Ok(sum)
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("total", total, arg("x"))?; Ok(()) });
/// ```
pub struct PyIter(Option<Object>);

impl PyIter {
    /// The Python iterator object (`None` once exhausted or failed).
    pub fn as_object(&self) -> Option<&Object> {
        self.0.as_ref()
    }
}

impl Iterator for PyIter {
    type Item = PyResult<Object>;

    fn next(&mut self) -> Option<PyResult<Object>> {
        let it = self.0.as_ref()?;
        // SAFETY: `it` is an iterator (PyObject_GetIter checked it), GIL held.
        match unsafe { Object::from_owned(ffi::PyIter_Next(it.as_ptr())) } {
            Some(item) => Some(Ok(item)),
            None => {
                self.0 = None;
                PyErr::take().map(Err)
            }
        }
    }
}

impl std::iter::FusedIterator for PyIter {}

impl<'a> From<&'a Object> for Borrowed<'a> {
    fn from(o: &'a Object) -> Self {
        o.borrow()
    }
}
