//! `Vec<T>` from any sequence (but `str`/`bytes`), to a `list`.

#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
use std::cell::Cell;

use pyo3_ffi as ffi;

#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
use crate::core::gil_cell::GilCell;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// Runs `f` over the items of a list or tuple, or of any other sequence
/// through `PySequence_Fast`. `None` when `obj` is no sequence or `f`
/// refuses an item (no error set), or with an error set that aborts the
/// call.
///
/// `f` may run Python code (`__float__`, `__index__`, ...), which may
/// mutate a list being converted (as may another thread, on a
/// free-threaded interpreter): the length is read afresh before every
/// item, each item is held by a strong reference while `f` looks at it,
/// and a list whose length changed during the conversion raises
/// `RuntimeError` (its items no longer form one snapshot).
pub(crate) fn for_each_item(obj: Borrowed<'_>, f: impl FnMut(Borrowed<'_>) -> bool) -> Option<()> {
    for_each_item_of_len(obj, None, f)
}

/// [`for_each_item`], refusing (before converting any item) a sequence
/// whose length is not `expect` when that is given.
#[inline]
pub(crate) fn for_each_item_of_len(
    obj: Borrowed<'_>,
    expect: Option<usize>,
    mut f: impl FnMut(Borrowed<'_>) -> bool,
) -> Option<()> {
    // SAFETY: type checks before type-specific access; `fast` owns a list or
    // tuple whose items are read within its current length; errors cleared.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyUnicode_Check(p) != 0
            || ffi::PyBytes_Check(p) != 0
            || ffi::PySequence_Check(p) == 0
        {
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
        let len = || {
            if is_list {
                crate::core::abi::list_size(fp)
            } else {
                crate::core::abi::tuple_size(fp)
            }
        };
        let n = len();
        if expect.is_some_and(|e| e as ffi::Py_ssize_t != n) {
            return None;
        }
        for i in 0..n {
            if len() != n {
                return changed_size();
            }
            // Held: `f` may replace or drop the list's own reference to
            // the item (and, free-threaded, another thread at any time: a
            // list that shrank since `len()` gives no item).
            let item = if is_list {
                match crate::core::abi::list_item_ref(fp, i) {
                    Some(item) => item,
                    None => return changed_size(),
                }
            } else {
                Object::from_borrowed(crate::core::abi::tuple_get_item(fp, i))
            };
            if !f(item.borrow()) {
                return None;
            }
        }
        if len() != n {
            return changed_size();
        }
        Some(())
    }
}

/// The error of a list that changed length while it was converted.
#[cold]
fn changed_size() -> Option<()> {
    PyErr::runtime_error("list changed size during conversion to a Rust value").restore();
    None
}

impl<T: FromPy> FromPy for Vec<T> {
    const CONVERT_BY_DEFAULT: bool = T::CONVERT_BY_DEFAULT;
    forward_to_items!(T, iter, iter_mut);

    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Vec<T>> {
        let mut out = Vec::new();
        for_each_item(obj, |item| match T::from_py(item, convert) {
            Some(v) => {
                if out.try_reserve(1).is_err() {
                    PyErr::memory_error("cannot allocate a Rust vector for the list").restore();
                    return false;
                }
                out.push(v);
                true
            }
            None => false,
        })?;
        // Items converted later may have run Python code (see `recheck`).
        let n = out.len().saturating_sub(1);
        out[..n].iter_mut().all(T::recheck).then_some(out)
    }
    fn type_name(out: &mut String) {
        out.push_str("list[");
        T::type_name(out);
        out.push(']');
    }
}

/// Builds a `list` from an exact-size iterator of convertible items.
///
/// An iterator whose `len()` is wrong (a safe trait may lie) raises
/// `RuntimeError` instead of writing past the list or exposing empty slots.
pub fn new_list<T: IntoPy>(
    items: impl ExactSizeIterator<Item = T>,
    ctx: &ReturnCtx,
) -> PyResult<Object> {
    let n = items.len();
    let size = ffi::Py_ssize_t::try_from(n).map_err(|_| PyErr::memory_error("list too long"))?;
    // SAFETY: PyList_New returns a list of `n` NULL slots; PyList_SET_ITEM
    // fills slots below `n` only (stealing each reference). A list left with
    // NULL slots is only ever dropped (list_dealloc skips NULL).
    unsafe {
        let list = Object::from_owned_or_err(ffi::PyList_New(size))?;
        let mut filled = 0;
        for item in items.take(n) {
            crate::core::abi::list_set_item(
                list.as_ptr(),
                filled as ffi::Py_ssize_t,
                item.into_py(ctx)?.into_ptr(),
            );
            filled += 1;
        }
        if filled != n {
            return Err(PyErr::runtime_error(
                "new_list: the iterator yielded fewer items than its len()",
            ));
        }
        Ok(list)
    }
}

/// The list [`int_list`] handed out last, which it may hand out again.
#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
static INT_LIST: GilCell<Cell<*mut ffi::PyObject>> = GilCell::new();

/// A `list[int]` of `items`, refilling the previous one when nobody else
/// holds it any more, as CPython's own `zip` and `enumerate` reuse their
/// result tuple: a list that only this cache references is unobservable, so
/// refilling it is the same as building a new one, minus the list's two
/// allocations, its GC bookkeeping and its deallocation. It is refilled
/// only while it holds exact ints; an object a caller stored into it lives
/// until the next call, which then builds a new list.
#[inline]
pub fn int_list(items: &[usize], ctx: &ReturnCtx) -> PyResult<Object> {
    // The abi3 build cannot read a list's slots: a new list each time. Nor
    // the free-threaded one, where "only the cache holds it" is no longer
    // true a moment later (another thread may take the same list).
    #[cfg(any(Py_LIMITED_API, Py_GIL_DISABLED))]
    return fresh_int_list(items, ctx);
    #[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
    return reused_int_list(items, ctx);
}

/// [`int_list`] of the version-specific build.
#[inline]
#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
fn reused_int_list(items: &[usize], ctx: &ReturnCtx) -> PyResult<Object> {
    let old = INT_LIST.get_or_init(|| Cell::new(std::ptr::null_mut())).get();
    // SAFETY: the GIL is held (GilCell); `old` is a list this cache owns a
    // reference to, whose slots are read within its length. The same values
    // as last time (a loop over same-shaped arrays) need no writes at all.
    unsafe {
        let reusable = !old.is_null()
            && ffi::Py_REFCNT(old) == 1
            && ffi::Py_SIZE(old) == items.len() as ffi::Py_ssize_t;
        if reusable && holds((*(old as *mut ffi::PyListObject)).ob_item, items) {
            return Ok(Object::from_borrowed(old));
        }
        changed_int_list(items, ctx, if reusable { old } else { std::ptr::null_mut() })
    }
}

/// [`int_list`] when the cached list cannot be handed out unchanged:
/// `reusable` (the cached list, when only the cache holds it and its
/// length fits) is refilled, else a new list is made.
///
/// # Safety
/// `reusable` is NULL or the cached list of `items.len()` slots; the GIL
/// is held.
#[cold]
#[inline(never)]
#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
unsafe fn changed_int_list(
    items: &[usize],
    ctx: &ReturnCtx,
    reusable: *mut ffi::PyObject,
) -> PyResult<Object> {
    // SAFETY: `refill` replaces slots within the length (caller).
    unsafe {
        if !reusable.is_null() && refill((*(reusable as *mut ffi::PyListObject)).ob_item, items) {
            return Ok(Object::from_borrowed(reusable));
        }
    }
    fresh_int_list(items, ctx)
}

/// Whether `slots` (a list's items) are exact ints equal to `items`.
///
/// # Safety
/// `slots` holds `items.len()` live objects; the GIL is held.
#[inline]
#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
unsafe fn holds(slots: *mut *mut ffi::PyObject, items: &[usize]) -> bool {
    if !crate::core::casters::scalar::compact_longs_readable() {
        return false;
    }
    items.iter().enumerate().all(|(i, &v)| {
        // SAFETY: within the list's length (caller); the type is checked
        // before the object is read as an int.
        unsafe {
            let o = *slots.add(i);
            ffi::PyLong_CheckExact(o) != 0
                && crate::core::casters::scalar::compact_long_unchecked(o) == Some(v as i64)
        }
    })
}

/// Writes `items` into `slots` (a list's items, all ints so far), keeping
/// the int objects that already hold the right value. False when a slot
/// holds something other than an exact int: the list is then dropped (a
/// partial refill is harmless, it only ever holds ints).
///
/// # Safety
/// `slots` holds `items.len()` owned references; the GIL is held.
#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
unsafe fn refill(slots: *mut *mut ffi::PyObject, items: &[usize]) -> bool {
    for (i, &v) in items.iter().enumerate() {
        // SAFETY: within the list's length (caller).
        let slot = unsafe { &mut *slots.add(i) };
        // SAFETY: `*slot` is a live object; its type is checked before it
        // is read as an int.
        unsafe {
            if ffi::PyLong_CheckExact(*slot) == 0 {
                return false;
            }
            if crate::core::casters::scalar::compact_long(*slot) == Some(v as i64) {
                continue;
            }
            let Some(item) = Object::from_owned(ffi::PyLong_FromSize_t(v)) else {
                ffi::PyErr_Clear();
                return false;
            };
            ffi::Py_DECREF(*slot);
            *slot = item.into_ptr();
        }
    }
    true
}

#[cold]
#[inline(never)]
fn fresh_int_list(items: &[usize], ctx: &ReturnCtx) -> PyResult<Object> {
    let list = new_list(items.iter().copied(), ctx)?;
    // SAFETY: the cache takes a reference of its own to the new list and
    // releases the one it held.
    #[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
    unsafe {
        let cache = INT_LIST.get_or_init(|| Cell::new(std::ptr::null_mut()));
        let old = cache.replace(Object::from_borrowed(list.as_ptr()).into_ptr());
        if !old.is_null() {
            ffi::Py_DECREF(old);
        }
    }
    Ok(list)
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
