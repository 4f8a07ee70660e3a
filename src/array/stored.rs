//! [`StoredArray`]: an imported array kept in a bound class's value.

use std::mem::ManuallyDrop;

use pyo3_ffi as ffi;

use crate::array::handle::Owner;
use crate::array::nd::NdArray;
use crate::array::requirements::{AnyDType, Constraint, DTypeSpec};
use crate::core::caster::{FromPy, IntoPy, ReturnCtx, Spans};
use crate::core::class::{Visit, VisitStop};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// An [`NdArray`] that a bound class's value may hold: `Send` (classes
/// are), as [`crate::class::PyHandle`] is for objects. Reaching the array
/// needs the GIL (checked: `RuntimeError` on a thread that does not hold
/// it); dropping it takes the GIL if needed (or leaks it once the
/// interpreter is gone). Report it in the class's
/// [`Traverse`](crate::class::Traverse) so that cycles through the array's
/// Python object are collected.
///
/// ```
/// use ndbind::array::{NdArray, StoredArray};
/// use ndbind::class::{gc, Traverse, Visit, VisitStop};
/// use ndbind::prelude::*;
///
/// pub struct Model { weights: Option<StoredArray<f32>> }
///
/// // SAFETY: traverse only reports the array; clear only drops it.
/// unsafe impl Traverse for Model {
///     fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> {
///         self.weights.as_ref().map_or(Ok(()), |w| w.visit(v))
///     }
///     fn clear(&mut self) {
///         self.weights = None;
///     }
/// }
/// ndbind::class!(Model);
///
/// ndbind::module!(doc_ext, |m| {
///     m.class::<Model>("Model", gc::<Model>())?
///         .init(|| Model { weights: None }, ())?
///         .def("load", |s: &mut Model, w: NdArray<f32>| s.weights = Some(StoredArray::new(w)), arg("w"))?
///         .def("total", |s: &Model| -> PyResult<f32> {
///             let Some(w) = &s.weights else { return Ok(0.0) };
///             Ok(w.get()?.view()?.sum())
///         }, ())?;
///     Ok(())
/// });
/// ```
pub struct StoredArray<T: DTypeSpec = AnyDType, C: Constraint = ()> {
    a: ManuallyDrop<NdArray<T, C>>,
}

// SAFETY: the array (its handle, owner and loan) is only reached with the
// GIL held: `get`/`get_mut`/`into_inner`/`object` check it, `visit` runs in
// the collector (which holds it), `Drop` takes it. `Sync` only when
// free-threaded (below): with the GIL, its loan state is a plain word,
// used by one thread at a time.
unsafe impl<T: DTypeSpec, C: Constraint> Send for StoredArray<T, C> {}

// SAFETY: free-threaded only, where a bound class must be `Sync` and holds
// its `StoredArray` behind `&self` in threads running at once: every
// access checks that the thread is attached (`get`), the handle's fields
// are not written after its import, and the one thing `&NdArray` methods
// change, the loan of its views, is an atomic word there (`LentCell`).
#[cfg(Py_GIL_DISABLED)]
unsafe impl<T: DTypeSpec, C: Constraint> Sync for StoredArray<T, C> {}

fn no_gil() -> PyErr {
    PyErr::runtime_error("ndbind: a StoredArray was used on a thread that does not hold the GIL")
}

impl<T: DTypeSpec, C: Constraint> StoredArray<T, C> {
    /// Keeps `a` (no copy: the same handle, its Python object held).
    ///
    /// ```
    /// # use ndbind::array::{NdArray, StoredArray};
    /// fn keep(a: NdArray<f64>) -> StoredArray<f64> {
    ///     StoredArray::new(a)
    /// }
    /// ```
    pub fn new(a: NdArray<T, C>) -> Self {
        StoredArray { a: ManuallyDrop::new(a) }
    }

    /// The array (`RuntimeError` on a thread that does not hold the GIL).
    ///
    /// ```
    /// # use ndbind::array::StoredArray;
    /// # use ndbind::prelude::*;
    /// fn first(s: &StoredArray<f64>) -> PyResult<Option<f64>> {
    ///     Ok(s.get()?.get(&[0]))
    /// }
    /// ```
    pub fn get(&self) -> PyResult<&NdArray<T, C>> {
        if !crate::core::gil::held() {
            return Err(no_gil());
        }
        Ok(&self.a)
    }

    /// The array, mutably (`RuntimeError` without the GIL).
    ///
    /// ```
    /// # use ndbind::array::{StoredArray, Writable};
    /// # use ndbind::prelude::*;
    /// fn clear(s: &mut StoredArray<f64, Writable>) -> PyResult<()> {
    ///     s.get_mut()?.view_mut()?.fill(0.0);
    ///     Ok(())
    /// }
    /// ```
    pub fn get_mut(&mut self) -> PyResult<&mut NdArray<T, C>> {
        if !crate::core::gil::held() {
            return Err(no_gil());
        }
        Ok(&mut self.a)
    }

    /// The array back (`RuntimeError` without the GIL; the array is then
    /// dropped, with the GIL taken).
    ///
    /// ```
    /// # use ndbind::array::{NdArray, StoredArray};
    /// # use ndbind::prelude::*;
    /// fn take(s: StoredArray<f64>) -> PyResult<NdArray<f64>> {
    ///     s.into_inner()
    /// }
    /// ```
    pub fn into_inner(self) -> PyResult<NdArray<T, C>> {
        if !crate::core::gil::held() {
            return Err(no_gil());
        }
        let mut me = ManuallyDrop::new(self);
        // SAFETY: taken once; `me` is never dropped.
        Ok(unsafe { ManuallyDrop::take(&mut me.a) })
    }

    /// The Python object the array came from, a new reference
    /// (`RuntimeError` without the GIL): what a getter returns.
    ///
    /// ```
    /// # use ndbind::array::StoredArray;
    /// # use ndbind::prelude::*;
    /// fn array_of(s: &StoredArray) -> PyResult<Object> {
    ///     s.object()
    /// }
    /// ```
    pub fn object(&self) -> PyResult<Object> {
        let a = self.get()?;
        a.object()
            .map(|o| o.to_owned())
            .ok_or_else(|| PyErr::runtime_error("array has no Python object"))
    }

    /// Reports the Python references the array holds to the collector
    /// (from [`Traverse::traverse`](crate::class::Traverse::traverse)):
    /// its object, and the exporter of a buffer-protocol view. The
    /// references a DLPack producer's deleter holds are its own, unseen.
    ///
    /// ```
    /// # use ndbind::array::StoredArray;
    /// # use ndbind::class::{Visit, VisitStop};
    /// fn report(s: &StoredArray, v: &mut Visit<'_>) -> Result<(), VisitStop> {
    ///     s.visit(v)
    /// }
    /// ```
    pub fn visit(&self, visit: &mut Visit<'_>) -> Result<(), VisitStop> {
        let h = self.a.handle();
        if let Some(src) = &h.source {
            // SAFETY: the handle holds a strong reference to its source.
            unsafe { visit.call_ptr(src.as_ptr())? };
        }
        if let Owner::Buffer(view) = &h.owner {
            if !view.obj.is_null() {
                // SAFETY: a buffer view holds a strong reference to its
                // exporter until released.
                unsafe { visit.call_ptr(view.obj)? };
            }
        }
        Ok(())
    }
}

impl<T: DTypeSpec, C: Constraint> Drop for StoredArray<T, C> {
    fn drop(&mut self) {
        if crate::core::gil::held() {
            // SAFETY: dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.a) };
            return;
        }
        // SAFETY: the GIL is taken around the drop (this thread holds no
        // state of its own then, or a released one: `allow_threads`);
        // after interpreter teardown the array is leaked, never touched.
        unsafe {
            if ffi::Py_IsInitialized() != 0 {
                let s = ffi::PyGILState_Ensure();
                ManuallyDrop::drop(&mut self.a);
                ffi::PyGILState_Release(s);
            }
        }
    }
}

/// A `StoredArray` parameter imports as its `NdArray` would.
impl<T: DTypeSpec, C: Constraint> FromPy for StoredArray<T, C> {
    const CONVERT_BY_DEFAULT: bool = false;
    const MAY_WRITE: bool = NdArray::<T, C>::REQ.writable;

    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        NdArray::from_py(obj, convert).map(StoredArray::new)
    }
    fn type_name(out: &mut String) {
        <NdArray<T, C> as FromPy>::type_name(out)
    }
    fn explain(obj: Borrowed<'_>, convert: bool) -> Option<String> {
        <NdArray<T, C> as FromPy>::explain(obj, convert)
    }
    fn spans<'a>(&'a self, out: &mut Spans<'a>) {
        self.a.spans(out)
    }
    fn recheck(&mut self) -> bool {
        self.a.recheck()
    }
    fn commit(&mut self) {
        self.a.commit()
    }
}

/// Returned, it is its array (return policies included, see `NdArray`).
impl<T: DTypeSpec, C: Constraint> IntoPy for StoredArray<T, C> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        self.into_inner()?.into_py(ctx)
    }
    fn type_name(out: &mut String) {
        <NdArray<T, C> as IntoPy>::type_name(out)
    }
}

/// A stored array returned by reference: its Python object.
impl<T: DTypeSpec, C: Constraint> IntoPy for &StoredArray<T, C> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        self.object()
    }
    fn type_name(out: &mut String) {
        <NdArray<T, C> as IntoPy>::type_name(out)
    }
}
