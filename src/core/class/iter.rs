//! Rust iterators as Python iterators (nanobind's `make_iterator`), and
//! the iterator protocol on bound classes.
//!
//! One Python type, `ndbind.iterator`, serves every Rust iterator: an
//! object holding the type-erased iterator, what it keeps alive (an
//! *owner* object) and, for an iterator over data borrowed from a bound
//! instance ([`make_iterator_ref`]), a shared borrow of that instance's
//! value for as long as the iterator may still read it.
//!
//! # Soundness
//!
//! - The Rust iterator of [`make_iterator_ref`] holds `&T` into an
//!   instance's value. The iterator object holds a [`SharedGuard`] of the
//!   instance's borrow cell (so no `&mut T` exists, and the value is never
//!   moved out or destructed: all of those take the unique borrow) and a
//!   strong reference to the instance (so the cell and the value outlive
//!   the guard). A `&mut self` method called meanwhile gets ndbind's
//!   `RuntimeError` ("already borrowed"). The iterator is dropped before
//!   the guard, and the guard before the owner, all at the same moment:
//!   when the iterator is exhausted (the borrow ends as soon as a `for`
//!   loop does), cleared by the garbage collector, or deallocated.
//! - The iterator object is used by one call at a time: a `busy` flag
//!   refuses re-entry (`next(it)` from Python code that the iterator's own
//!   code or an item's conversion ran) with `ValueError`, as a generator
//!   does, so no two `&mut` to the iterator ever coexist. Without a GIL
//!   (free-threaded CPython) the flag is an atomic that one thread at a
//!   time sets, and another thread calling `next(it)` meanwhile gets the
//!   same `ValueError`; the parts of an exhausted iterator are taken out
//!   while the flag is still set.
//! - The Rust iterator is `Send`: whichever thread holds the GIL may
//!   advance or drop it.

use std::ffi::{c_int, c_void};
use std::ptr::{addr_of, addr_of_mut, NonNull};

use pyo3_ffi as ffi;

use crate::core::caster::{IntoPy, Param, ReturnCtx};
use crate::core::class::borrow::{borrow_shared, Fail, SharedGuard};
use crate::core::class::builder::Class;
use crate::core::class::cast::ClassMut;
use crate::core::class::handle::Inst;
use crate::core::class::meta::{guard_int, guard_obj};
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::GilCell;
use crate::core::object::{Borrowed, Object};

/// A Rust iterator, type-erased.
trait ErasedIter: Send {
    /// The next item, converted; `None` at the end.
    fn next_obj(&mut self) -> Option<PyResult<Object>>;
    /// The number of items left, when the iterator knows it exactly.
    fn exact_len(&self) -> Option<usize>;
}

struct Shell<I>(I);

impl<I> ErasedIter for Shell<I>
where
    I: Iterator + Send,
    I::Item: IntoPy,
{
    fn next_obj(&mut self) -> Option<PyResult<Object>> {
        self.0.next().map(|x| x.into_py(&ReturnCtx::held()))
    }
    fn exact_len(&self) -> Option<usize> {
        match self.0.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        }
    }
}

/// A Python iterator over the items of `iter` (converted with `IntoPy`
/// one at a time, as they are asked for), keeping `owner` alive while it
/// lives (pass the object whose data the iterator was made from, or `None`).
///
/// The iterator ends (`StopIteration`) when `iter` does; an item that
/// fails to convert raises its error from `next()`. `operator.length_hint`
/// (and so `list(it)`'s preallocation) uses the iterator's `size_hint`
/// when it is exact.
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::class::make_iterator;
///
/// ndbind::module!(doc_ext, |m| {
///     // `squares(3)` → an iterator over 0, 1, 4
///     m.def("squares", |n: u64| make_iterator(None, (0..n).map(|i| i * i)), arg("n"))?;
///     Ok(())
/// });
/// ```
pub fn make_iterator<I>(owner: Option<Borrowed<'_>>, iter: I) -> PyResult<Object>
where
    I: Iterator + Send + 'static,
    I::Item: IntoPy + 'static,
{
    crate::core::gil::assert_held("ndbind::class::make_iterator");
    new_iterator(Box::new(Shell(iter)), SharedGuard::default(), owner.map(Borrowed::to_owned))
}

/// A Python iterator over data borrowed from a bound instance: `f` gets
/// `&T` and returns a Rust iterator that may borrow from it (boxed:
/// `Box::new(v.items.iter().copied())`). Items convert as in
/// [`make_iterator`].
///
/// The instance stays alive and shared-borrowed while the iterator may
/// read it: calling a `&mut self` method of it meanwhile raises
/// `RuntimeError` (as a `&mut` parameter would while a `&` one is live).
/// The borrow ends when the iterator is exhausted or dies. An instance
/// that is mutably borrowed (or not initialised) cannot be iterated: the
/// borrow's error is raised.
///
/// ```
/// use ndbind::prelude::*;
/// use ndbind::class::{make_iterator_ref, Inst};
///
/// pub struct Polygon { xs: Vec<f64> }
/// ndbind::class!(Polygon);
///
/// ndbind::module!(doc_ext, |m| {
///     m.class::<Polygon>("Polygon", ())?
///         .init(|xs: Vec<f64>| Polygon { xs }, arg("xs"))?
///         .def("doubled", |p: Inst<Polygon>| {
///             make_iterator_ref(p, |p| Box::new(p.xs.iter().map(|x| 2.0 * x)))
///         }, ())?;
///     Ok(())
/// });
/// ```
pub fn make_iterator_ref<T, X, F>(owner: Inst<T>, f: F) -> PyResult<Object>
where
    T: PyClass,
    X: IntoPy + 'static,
    F: for<'a> FnOnce(&'a T) -> Box<dyn Iterator<Item = X> + Send + 'a>,
{
    let obj = owner.object().to_owned();
    // SAFETY: `obj` is alive (owned here, then by the iterator object,
    // which drops the guard before it); the GIL is held.
    let guard = match unsafe { borrow_shared(obj.as_ptr(), T::type_slot().type_ptr()) } {
        Ok(g) => g,
        Err(Fail::Error(e) | Fail::Uninit(e)) => return Err(e),
        Err(Fail::Mismatch) => {
            return Err(PyErr::type_error(format!(
                "ndbind: a {} is not an instance of {}",
                obj.borrow().type_name(),
                std::any::type_name::<T>()
            )))
        }
    };
    // SAFETY: the guard holds a shared borrow of a ready `T` at its
    // pointer, for as long as it lives.
    let value: &T = unsafe { &*(guard.ptr() as *const T) };
    let it: Box<dyn ErasedIter + '_> = Box::new(Shell(f(value)));
    // SAFETY: only the lifetime changes. The iterator borrows `value`
    // (and nothing shorter-lived: `f` must work for every lifetime, and
    // `X` is `'static`); the iterator object drops it before it drops
    // `guard` (which keeps the value shared-borrowed: not mutated, moved
    // or destructed) and `obj` (which keeps the value alive).
    let it: Box<dyn ErasedIter + 'static> = unsafe { std::mem::transmute(it) };
    new_iterator(it, guard, Some(obj))
}

impl<T: PyClass> Class<T> {
    /// `__iter__`: `iter(obj)` is a Python iterator over `f(&obj)`, a
    /// Rust iterator borrowing from the value ([`make_iterator_ref`]: the
    /// instance cannot be mutated while the iterator is live and not
    /// exhausted).
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// pub struct Polygon { xs: Vec<f64> }
    /// ndbind::class!(Polygon);
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     m.class::<Polygon>("Polygon", ())?
    ///         .init(|xs: Vec<f64>| Polygon { xs }, arg("xs"))?
    ///         .def_iter(|p: &Polygon| Box::new(p.xs.iter().copied()))?; // list(p) == p.xs
    ///     Ok(())
    /// });
    /// ```
    pub fn def_iter<X, F>(&self, f: F) -> PyResult<&Self>
    where
        X: IntoPy + 'static,
        F: for<'a> Fn(&'a T) -> Box<dyn Iterator<Item = X> + Send + 'a> + 'static,
    {
        self.def("__iter__", move |slf: Inst<T>| make_iterator_ref(slf, &f), ())
    }

    /// Makes the class itself an iterator: `__next__` calls `next` on the
    /// value (`None` ends the iteration: `StopIteration`), `__iter__`
    /// returns the instance.
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// pub struct Countdown { n: u32 }
    /// ndbind::class!(Countdown);
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     m.class::<Countdown>("Countdown", ())?
    ///         .init(|n: u32| Countdown { n }, arg("n"))?
    ///         .def_next(|c: &mut Countdown| {
    ///             c.n = c.n.checked_sub(1)?;
    ///             Some(c.n)
    ///         })?; // list(Countdown(3)) == [2, 1, 0]
    ///     Ok(())
    /// });
    /// ```
    pub fn def_next<X, F>(&self, next: F) -> PyResult<&Self>
    where
        X: IntoPy,
        F: Fn(&mut T) -> Option<X> + 'static,
        for<'a> &'a mut T: Param<Caster = ClassMut<T>>,
    {
        self.def("__iter__", |slf: Inst<T>| slf, ())?.def(
            "__next__",
            move |t: &mut T| -> PyResult<X> { next(t).ok_or_else(stop_iteration) },
            (),
        )
    }
}

/// `StopIteration` without a value (as `return` in a generator raises).
#[cold]
fn stop_iteration() -> PyErr {
    // SAFETY: the GIL is held (a bound method is running); sets a builtin
    // exception, which `fetch` takes back at once.
    unsafe { ffi::PyErr_SetNone(ffi::PyExc_StopIteration) };
    PyErr::fetch()
}

/// `ndbind.iterator`: the Python object of one Rust iterator.
#[repr(C)]
struct IterObject {
    ob_base: ffi::PyObject,
    /// A call is using the iterator (re-entry is refused).
    busy: Busy,
    /// The iterator (`Box::into_raw`); `None` once exhausted or released.
    iter: Option<NonNull<dyn ErasedIter>>,
    /// The shared borrow the iterator reads through (or none).
    guard: SharedGuard,
    /// A strong reference to the owner, or NULL.
    owner: *mut ffi::PyObject,
}

/// The flag of a call using the iterator: set by one call at a time
/// (atomically where threads run Python code at once, free-threaded).
struct Busy(
    #[cfg(not(Py_GIL_DISABLED))] std::cell::Cell<bool>,
    #[cfg(Py_GIL_DISABLED)] std::sync::atomic::AtomicBool,
);

impl Busy {
    fn new() -> Busy {
        Busy(Default::default())
    }

    /// Sets the flag; false (and nothing changed) if it was set.
    #[inline]
    fn enter(&self) -> bool {
        #[cfg(not(Py_GIL_DISABLED))]
        return !self.0.replace(true);
        #[cfg(Py_GIL_DISABLED)]
        {
            use std::sync::atomic::Ordering::{Acquire, Relaxed};
            self.0.compare_exchange(false, true, Acquire, Relaxed).is_ok()
        }
    }

    /// Clears the flag [`Busy::enter`] set.
    #[inline]
    fn leave(&self) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.0.set(false);
        #[cfg(Py_GIL_DISABLED)]
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

static ITER_TYPE: GilCell<Object> = GilCell::new();

fn iter_type() -> PyResult<*mut ffi::PyTypeObject> {
    let t = ITER_TYPE.get_or_try_init(|| {
        use crate::core::heap_type::{leak_table, new_type, slot};
        let methods = leak_table([
            ffi::PyMethodDef {
                ml_name: c"__length_hint__".as_ptr(),
                ml_meth: ffi::PyMethodDefPointer { PyCFunction: length_hint },
                ml_flags: ffi::METH_NOARGS,
                ml_doc: c"Number of items left, when the Rust iterator knows it exactly.".as_ptr(),
            },
            ffi::PyMethodDef::zeroed(),
        ]);
        let slots = [
            slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
            slot(ffi::Py_tp_traverse, traverse as *mut c_void),
            slot(ffi::Py_tp_clear, clear as *mut c_void),
            slot(ffi::Py_tp_iter, ffi::PyObject_SelfIter as *mut c_void),
            slot(ffi::Py_tp_iternext, iternext as *mut c_void),
            slot(ffi::Py_tp_methods, methods),
            slot(ffi::Py_tp_doc, c"A Rust iterator (made by ndbind).".as_ptr() as *mut c_void),
        ];
        let flags = ffi::Py_TPFLAGS_DEFAULT
            | ffi::Py_TPFLAGS_HAVE_GC
            | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION;
        new_type(c"ndbind.iterator", std::mem::size_of::<IterObject>(), 0, flags, &slots)
    })?;
    Ok(t.as_ptr() as *mut ffi::PyTypeObject)
}

/// The non-generic core of the `make_iterator*` functions: an iterator
/// object owning `iter`, then `guard`, then `owner` (dropped in that order).
fn new_iterator(
    iter: Box<dyn ErasedIter>,
    guard: SharedGuard,
    owner: Option<Object>,
) -> PyResult<Object> {
    // On failure, the parts go in the same order as in `release`.
    let fail = |e: PyErr, iter: Box<dyn ErasedIter>, guard: SharedGuard, owner: Option<Object>| {
        drop(iter);
        drop(guard);
        drop(owner);
        Err(e)
    };
    let tp = match iter_type() {
        Ok(tp) => tp,
        Err(e) => return fail(e, iter, guard, owner),
    };
    // SAFETY: a GC type of `IterObject`'s size: `_PyObject_GC_New` returns
    // it untracked and uninitialised past the header; every field is
    // written before it is tracked (and so before traverse or dealloc
    // can see it).
    unsafe {
        let p = ffi::PyObject_GC_New::<IterObject>(tp);
        if p.is_null() {
            return fail(PyErr::fetch(), iter, guard, owner);
        }
        addr_of_mut!((*p).busy).write(Busy::new());
        addr_of_mut!((*p).iter).write(Some(NonNull::from(Box::leak(iter))));
        addr_of_mut!((*p).guard).write(guard);
        addr_of_mut!((*p).owner).write(owner.map_or(std::ptr::null_mut(), Object::into_ptr));
        ffi::PyObject_GC_Track(p.cast());
        Ok(Object::from_owned(p.cast()).expect("non-null"))
    }
}

/// What an iterator object holds, taken out of it (see [`release`]).
type Parts = (Option<NonNull<dyn ErasedIter>>, SharedGuard, *mut ffi::PyObject);

/// Takes everything the iterator object holds out of it, for [`drop_parts`].
///
/// # Safety
/// `o` is a live iterator object that no other call uses (busy and ours,
/// or unreachable); the GIL is held.
unsafe fn take_parts(o: *mut IterObject) -> Parts {
    // SAFETY: (caller) a live, initialised iterator object, not in use.
    unsafe {
        (
            (*o).iter.take(),
            std::mem::take(&mut *addr_of_mut!((*o).guard)),
            std::mem::replace(&mut *addr_of_mut!((*o).owner), std::ptr::null_mut()),
        )
    }
}

/// Takes everything the iterator object holds out of it, then drops the
/// iterator, the borrow and the owner, in that order (any of which may
/// run code that sees the object again: it is empty by then).
///
/// # Safety
/// As [`take_parts`].
unsafe fn release(o: *mut IterObject) {
    // SAFETY: forwarded.
    unsafe { drop_parts(take_parts(o)) }
}

/// Drops what [`take_parts`] took: the iterator, the borrow, the owner.
///
/// # Safety
/// The GIL is held; `parts` came from [`take_parts`].
unsafe fn drop_parts((iter, guard, owner): Parts) {
    if let Some(it) = iter {
        // SAFETY: made by `Box::leak` in `new_iterator`, taken out once.
        drop(unsafe { Box::from_raw(it.as_ptr()) });
    }
    drop(guard);
    // SAFETY: a strong reference this object owned, or NULL.
    unsafe { ffi::Py_XDECREF(owner) };
}

unsafe extern "C" fn iternext(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let o = slf as *mut IterObject;
    guard_obj(|| {
        // SAFETY: CPython passes a live iterator object; the GIL is held.
        unsafe {
            // Alive until the call ends, even if a caller holding only a
            // borrowed reference drops its last one meanwhile.
            let _alive = Object::from_borrowed(slf);
            if !(*o).busy.enter() {
                return Err(PyErr::value_error("ndbind: iterator already executing"));
            }
            let Some(it) = (*o).iter else {
                (*o).busy.leave();
                return Ok(std::ptr::null_mut());
            };
            // The only reference to the iterator while `busy` is set; a
            // panic is caught here, so that `busy` is always reset.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (*it.as_ptr()).next_obj()
            }));
            // Exhausted (or panicked): the parts are taken out while the
            // flag is still ours (no other thread can be using them), and
            // dropped (which may run code that sees the object) after.
            let parts = match r {
                Ok(Some(_)) => None,
                _ => Some(take_parts(o)),
            };
            (*o).busy.leave();
            match r {
                Ok(Some(item)) => item.map(Object::into_ptr),
                // Exhausted: the borrow and the owner go at once.
                Ok(None) => {
                    drop_parts(parts.expect("taken"));
                    Ok(std::ptr::null_mut())
                }
                Err(payload) => {
                    drop_parts(parts.expect("taken"));
                    std::panic::resume_unwind(payload)
                }
            }
        }
    })
}

unsafe extern "C" fn length_hint(
    slf: *mut ffi::PyObject,
    _: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let o = slf as *mut IterObject;
    guard_obj(|| {
        // SAFETY: as in `iternext`.
        unsafe {
            let _alive = Object::from_borrowed(slf);
            // In use (its parts are not ours to read): no hint.
            let n = if !(*o).busy.enter() {
                None
            } else {
                let r = match (*o).iter {
                    None => Ok(Some(0)),
                    Some(it) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        (*it.as_ptr()).exact_len()
                    })),
                };
                (*o).busy.leave();
                r.unwrap_or_else(|p| std::panic::resume_unwind(p))
            };
            match n {
                Some(n) => Ok(ffi::PyLong_FromSize_t(n)),
                None => Ok(ffi::Py_NewRef(ffi::Py_NotImplemented())),
            }
        }
    })
}

unsafe extern "C" fn traverse(
    slf: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: a live iterator object; only the owner pointer is read.
    unsafe {
        let owner = *addr_of!((*(slf as *mut IterObject)).owner);
        if !owner.is_null() {
            let rc = visit(owner, arg);
            if rc != 0 {
                return rc;
            }
        }
        // Instances of heap types own a reference to their type.
        visit(ffi::Py_TYPE(slf).cast(), arg)
    }
}

unsafe extern "C" fn clear(slf: *mut ffi::PyObject) -> c_int {
    let o = slf as *mut IterObject;
    guard_int(|| {
        // SAFETY: a live iterator object; the GIL is held. Not while busy
        // (never the case for an object the collector found unreachable).
        unsafe {
            if (*o).busy.enter() {
                let parts = take_parts(o);
                (*o).busy.leave();
                drop_parts(parts);
            }
        }
        Ok(())
    })
}

unsafe extern "C" fn dealloc(slf: *mut ffi::PyObject) {
    // SAFETY: the last reference to a live iterator object (not busy:
    // `iternext` and `length_hint` hold a reference while they run); its memory came from
    // `_PyObject_GC_New`; heap types' instances own a type reference.
    unsafe {
        let tp = ffi::Py_TYPE(slf);
        ffi::PyObject_GC_UnTrack(slf.cast());
        crate::core::error::guard_silent("a Rust iterator's Drop", || {
            release(slf as *mut IterObject)
        });
        ffi::PyObject_GC_Del(slf.cast());
        ffi::Py_DECREF(tp.cast());
    }
}
