//! Bound classes whose Rust values hold Python objects, and the garbage
//! collector: [`PyHandle`] (an owned reference a `Send` value may hold),
//! the [`Traverse`] trait (`tp_traverse` / `tp_clear` of the class) and
//! the [`gc`] class annotation that installs them.
//!
//! A cycle that runs through a Rust value (the value holds a handle to a
//! Python object that refers back to the instance) is then found and
//! broken by the collector. Python subclasses inherit it (their own
//! `__dict__` is traversed by CPython, then the value by ndbind).
//! The value is not traversed while it is mutably borrowed, nor cleared
//! while borrowed at all.
//!
//! ```
//! use ndbind::class::{gc, PyHandle, Traverse, Visit, VisitStop};
//! use ndbind::prelude::*;
//!
//! pub struct Node { next: Option<PyHandle> }
//!
//! // SAFETY: traverse only reports the handle; clear only drops it.
//! unsafe impl Traverse for Node {
//!     fn traverse(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop> {
//!         visit.call_opt(&self.next)
//!     }
//!     fn clear(&mut self) {
//!         self.next = None;
//!     }
//! }
//! ndbind::class!(Node);
//!
//! ndbind::module!(graph, |m| {
//!     m.class::<Node>("Node", gc::<Node>())?
//!         .init(|| Node { next: None }, ())?
//!         .def("link", |n: &mut Node, next: PyHandle| n.next = Some(next), arg("next"))?;
//!     Ok(())
//! });
//! ```

use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::class::builder::ClassExtra;
use crate::core::class::record::TypeRecord;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// An owned reference to a Python object that a bound class's value may
/// hold: `Send` and `Sync` (the value may be dropped, or shared through an
/// `Arc`, on any thread). Reading it needs the GIL (checked); dropping it
/// takes the GIL if needed.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// use ndbind::class::PyHandle;
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// let h = PyHandle::new(obj);
/// let o: Borrowed<'_> = h.get()?;
/// # Ok(())
/// # }
/// ```
pub struct PyHandle(NonNull<ffi::PyObject>);

// SAFETY: the object is only touched with the GIL held: `get` checks it,
// `Drop` takes it; the pointer itself may move between threads.
unsafe impl Send for PyHandle {}
// SAFETY: as above; `&PyHandle` gives access only through `get`.
unsafe impl Sync for PyHandle {}

impl PyHandle {
    /// A new strong reference to `obj`.
    ///
    /// ```no_run
    /// # use ndbind::prelude::*;
    /// # use ndbind::class::PyHandle;
    /// # fn f(obj: Borrowed<'_>) {
    /// let h = PyHandle::new(obj);
    /// # }
    /// ```
    pub fn new(obj: Borrowed<'_>) -> PyHandle {
        let p = obj.to_owned().into_ptr();
        // SAFETY: the new reference to a live object is non-NULL.
        PyHandle(unsafe { NonNull::new_unchecked(p) })
    }

    /// The object, borrowed from the handle (`RuntimeError` when this
    /// thread does not hold the GIL).
    ///
    /// ```no_run
    /// # use ndbind::prelude::*;
    /// # use ndbind::class::PyHandle;
    /// # fn f(h: PyHandle) -> PyResult<()> {
    /// let name = h.get()?.type_name();
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self) -> PyResult<Borrowed<'_>> {
        if !crate::core::gil::held() {
            return Err(PyErr::runtime_error(
                "ndbind: a PyHandle was read without holding the GIL",
            ));
        }
        // SAFETY: the handle owns a reference, so the object is alive.
        Ok(unsafe { Borrowed::from_ptr(self.0.as_ptr()) })
    }

    /// The raw pointer (still owned by the handle).
    ///
    /// ```no_run
    /// # use ndbind::class::PyHandle;
    /// # fn f(h: PyHandle) {
    /// let p = h.as_ptr();
    /// # }
    /// ```
    pub fn as_ptr(&self) -> *mut ffi::PyObject {
        self.0.as_ptr()
    }
}

impl Drop for PyHandle {
    fn drop(&mut self) {
        // SAFETY: the GIL is held (checked) or taken for the decref; after
        // interpreter teardown the reference is leaked, never touched.
        unsafe {
            if crate::core::gil::held() {
                ffi::Py_DECREF(self.0.as_ptr());
            } else if ffi::Py_IsInitialized() != 0 {
                let s = ffi::PyGILState_Ensure();
                ffi::Py_DECREF(self.0.as_ptr());
                ffi::PyGILState_Release(s);
            }
        }
    }
}

impl FromPy for PyHandle {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<PyHandle> {
        Some(PyHandle::new(obj))
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

impl IntoPy for &PyHandle {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Ok(self.get()?.to_owned())
    }
    fn type_name(out: &mut String) {
        out.push_str("object")
    }
}

/// The collector's visitor, passed to [`Traverse::traverse`].
///
/// ```
/// # use ndbind::class::{PyHandle, Traverse, Visit, VisitStop};
/// # pub struct Button { callback: Option<PyHandle> }
/// # // SAFETY: traverse only reports the handle; clear only drops it.
/// # unsafe impl Traverse for Button {
/// #     fn traverse(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop> {
/// #         let Some(callback) = &self.callback else { return Ok(()) };
/// visit.call(callback)?;
/// #         Ok(())
/// #     }
/// #     fn clear(&mut self) { self.callback = None; }
/// # }
/// ```
pub struct Visit<'a> {
    visit: ffi::visitproc,
    arg: *mut c_void,
    _l: PhantomData<&'a ()>,
}

/// The collector asked to stop the traversal (propagate it with `?`).
///
/// ```
/// # use ndbind::class::{PyHandle, Traverse, Visit, VisitStop};
/// # pub struct Wrapper { h: PyHandle }
/// # // SAFETY: traverse only reports the handle; clear has none it may drop.
/// # unsafe impl Traverse for Wrapper {
/// fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> {
///     v.call(&self.h)
/// }
/// #     fn clear(&mut self) {}
/// # }
/// ```
pub struct VisitStop(c_int);

impl Visit<'_> {
    /// Reports one held reference.
    ///
    /// ```
    /// # use ndbind::class::{PyHandle, Traverse, Visit, VisitStop};
    /// # pub struct Button { callback: Option<PyHandle> }
    /// # // SAFETY: traverse only reports the handle; clear only drops it.
    /// # unsafe impl Traverse for Button {
    /// #     fn traverse(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop> {
    /// #         let Some(callback) = &self.callback else { return Ok(()) };
    /// visit.call(callback)?;
    /// #         Ok(())
    /// #     }
    /// #     fn clear(&mut self) { self.callback = None; }
    /// # }
    /// ```
    pub fn call(&mut self, h: &PyHandle) -> Result<(), VisitStop> {
        // SAFETY: called by the collector with the GIL held; the handle's
        // object is alive.
        match unsafe { (self.visit)(h.as_ptr(), self.arg) } {
            0 => Ok(()),
            rc => Err(VisitStop(rc)),
        }
    }

    /// Reports one held reference, by its pointer (ndbind's own handles
    /// that hold objects other than as `PyHandle`s).
    ///
    /// # Safety
    /// `p` is a live object the value holds a strong reference to.
    pub(crate) unsafe fn call_ptr(&mut self, p: *mut ffi::PyObject) -> Result<(), VisitStop> {
        // SAFETY: called by the collector with the GIL held; the caller's
        // contract.
        match unsafe { (self.visit)(p, self.arg) } {
            0 => Ok(()),
            rc => Err(VisitStop(rc)),
        }
    }

    /// Reports a reference if there is one.
    ///
    /// ```
    /// # use ndbind::class::{PyHandle, Traverse, Visit, VisitStop};
    /// # pub struct Node { next: Option<PyHandle> }
    /// # // SAFETY: traverse only reports the handle; clear only drops it.
    /// # unsafe impl Traverse for Node {
    /// #     fn traverse(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop> {
    /// visit.call_opt(&self.next)?;
    /// #         Ok(())
    /// #     }
    /// #     fn clear(&mut self) { self.next = None; }
    /// # }
    /// ```
    pub fn call_opt(&mut self, h: &Option<PyHandle>) -> Result<(), VisitStop> {
        h.as_ref().map_or(Ok(()), |h| self.call(h))
    }
}

/// How the collector sees the Python references a value holds.
///
/// ```
/// use ndbind::class::{PyHandle, Traverse, Visit, VisitStop};
///
/// pub struct Node { next: Option<PyHandle> }
///
/// // SAFETY: traverse only reports the handles; clear only drops them.
/// unsafe impl Traverse for Node {
///     fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> {
///         v.call_opt(&self.next)
///     }
///     fn clear(&mut self) {
///         self.next = None;
///     }
/// }
/// ```
///
/// # Safety
/// `traverse` runs inside the garbage collector, while it uses the objects'
/// reference counts for its own bookkeeping: it must only call `visit` on
/// handles the value holds, and must not run Python code, create or drop
/// Python references (no `PyHandle` dropped, no lock whose other holder
/// may do so), nor panic. `clear` may drop the handles.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Traverse`",
    label = "needs `unsafe impl Traverse`",
    note = "`gc::<T>()` makes the garbage collector visit the Python objects a `T` holds: implement `ndbind::class::Traverse` for `T` to say which"
)]
pub unsafe trait Traverse {
    /// Calls `visit` on every [`PyHandle`] the value holds.
    fn traverse(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop>;
    /// Drops the held handles (breaks a cycle the collector found).
    fn clear(&mut self);
}

/// The type-erased `Traverse` of a class.
#[derive(Clone, Copy)]
pub(crate) struct GcFns {
    pub(crate) traverse: unsafe fn(*const u8, ffi::visitproc, *mut c_void) -> c_int,
    pub(crate) clear: unsafe fn(*mut u8),
}

unsafe fn traverse_shim<T: Traverse>(
    p: *const u8,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    let mut v = Visit { visit, arg, _l: PhantomData };
    // SAFETY: (caller) `p` is a ready T, not mutably borrowed.
    let value = unsafe { &*(p as *const T) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| value.traverse(&mut v))) {
        Ok(Ok(())) => 0,
        Ok(Err(VisitStop(rc))) => rc,
        Err(_) => {
            eprintln!("ndbind: Traverse::traverse panicked");
            0
        }
    }
}

unsafe fn clear_shim<T: Traverse>(p: *mut u8) {
    // SAFETY: (caller) `p` is a ready T, uniquely borrowed for the call.
    let value = unsafe { &mut *(p as *mut T) };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| value.clear())).is_err() {
        eprintln!("ndbind: Traverse::clear panicked");
    }
}

/// The class annotation made by [`gc`].
///
/// ```
/// # use ndbind::prelude::*;
/// # use ndbind::class::{gc, PyHandle, Traverse, Visit, VisitStop};
/// # pub struct Node { next: Option<PyHandle> }
/// # // SAFETY: traverse only reports the handle; clear only drops it.
/// # unsafe impl Traverse for Node {
/// #     fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> { v.call_opt(&self.next) }
/// #     fn clear(&mut self) { self.next = None; }
/// # }
/// # ndbind::class!(Node);
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Node>("Node", (doc("A node."), gc::<Node>()))?;
/// # Ok(())
/// # });
/// ```
pub struct Gc<T>(PhantomData<fn() -> T>);

/// Class annotation: `T`'s values hold Python references that the
/// garbage collector must see ([`Traverse`]); instances are GC-tracked.
///
/// ```
/// # use ndbind::class::{gc, PyHandle, Traverse, Visit, VisitStop};
/// # pub struct Node { next: Option<PyHandle> }
/// # // SAFETY: traverse only reports the handle; clear only drops it.
/// # unsafe impl Traverse for Node {
/// #     fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> { v.call_opt(&self.next) }
/// #     fn clear(&mut self) { self.next = None; }
/// # }
/// # ndbind::class!(Node);
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Node>("Node", gc::<Node>())?;
/// # Ok(())
/// # });
/// ```
pub fn gc<T: PyClass + Traverse>() -> Gc<T> {
    Gc(PhantomData)
}

impl<T: PyClass + Traverse> ClassExtra for Gc<T> {
    fn apply(self, rec: &mut TypeRecord) {
        rec.gc = Some((GcFns { traverse: traverse_shim::<T>, clear: clear_shim::<T> }, 0));
    }
}
