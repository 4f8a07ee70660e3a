//! [`Inst<T>`]: an owned reference to an instance of a bound class, for
//! values that are kept beyond one borrow or collected in containers
//! (`Vec<Inst<T>>` is a `list[T]` parameter). Access goes through the
//! instance's borrow cell, like a `&T` / `&mut T` parameter.
//!
//! ```ignore
//! m.def("total_area", |shapes: Vec<Inst<PyShape>>| -> PyResult<f64> {
//!     shapes.iter().map(|s| s.get()?.area()).sum()
//! }, arg("shapes"))?;
//! ```

use std::marker::PhantomData;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::class::cast::{borrow, push_type_name, Fail};
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// An owned reference to an instance of `T`'s class, a Python subclass of
/// it, or a Rust subclass of `T`.
///
/// ```ignore
/// let s: Inst<PyShape> = ...;
/// let area = s.get()?.area()?;
/// ```
pub struct Inst<T> {
    obj: Object,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Inst<T> {
    fn clone(&self) -> Self {
        Inst { obj: self.obj.clone(), _t: PhantomData }
    }
}

impl<T: PyClass> Inst<T> {
    /// The Python object.
    ///
    /// ```ignore
    /// let name = s.object().type_name();
    /// ```
    pub fn object(&self) -> Borrowed<'_> {
        self.obj.borrow()
    }

    fn take(&self, unique: bool) -> PyResult<(*mut u8, *mut i32)> {
        // SAFETY: `obj` is alive (owned); the GIL is held (handles are !Send).
        match unsafe { borrow(self.obj.as_ptr(), T::type_slot().type_ptr(), unique) } {
            Ok(p) => Ok(p),
            Err(Fail::Error(e)) => Err(e),
            Err(Fail::Mismatch) => Err(PyErr::type_error(format!(
                "ndbind: a {} is not an instance of {}",
                self.obj.borrow().type_name(),
                std::any::type_name::<T>()
            ))),
        }
    }

    /// A shared borrow of the value (`RuntimeError` while it is borrowed
    /// mutably, `TypeError` when it is not constructed).
    ///
    /// ```ignore
    /// let p = inst.get()?; println!("{}", p.x);
    /// ```
    pub fn get(&self) -> PyResult<InstRef<'_, T>> {
        let (ptr, cell) = self.take(false)?;
        Ok(InstRef { ptr: ptr as *const T, cell, _l: PhantomData })
    }

    /// A unique borrow of the value (`RuntimeError` while it is borrowed).
    ///
    /// ```ignore
    /// inst.get_mut()?.x = 1.0;
    /// ```
    pub fn get_mut(&self) -> PyResult<InstMut<'_, T>> {
        let (ptr, cell) = self.take(true)?;
        Ok(InstMut { ptr: ptr as *mut T, cell, _l: PhantomData })
    }
}

/// A shared borrow of an instance's value (released on drop).
///
/// ```ignore
/// let r: InstRef<'_, Point> = inst.get()?;
/// ```
pub struct InstRef<'a, T> {
    ptr: *const T,
    cell: *mut i32,
    _l: PhantomData<&'a T>,
}

impl<T> std::ops::Deref for InstRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a shared borrow of a ready T is held until drop.
        unsafe { &*self.ptr }
    }
}

impl<T> Drop for InstRef<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the cell of a live instance (the `Inst` owns it); we hold
        // one shared count.
        unsafe { *self.cell -= 1 }
    }
}

/// A unique borrow of an instance's value (released on drop).
///
/// ```ignore
/// let mut m: InstMut<'_, Point> = inst.get_mut()?;
/// ```
pub struct InstMut<'a, T> {
    ptr: *mut T,
    cell: *mut i32,
    _l: PhantomData<&'a mut T>,
}

impl<T> std::ops::Deref for InstMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the unique borrow of a ready T is held until drop.
        unsafe { &*self.ptr }
    }
}

impl<T> std::ops::DerefMut for InstMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for Deref.
        unsafe { &mut *self.ptr }
    }
}

impl<T> Drop for InstMut<'_, T> {
    fn drop(&mut self) {
        // SAFETY: we hold the unique borrow (-1) of this live cell.
        unsafe { *self.cell = 0 }
    }
}

impl<T: PyClass> FromPy for Inst<T> {
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Inst<T>> {
        let tp = T::type_slot().type_ptr();
        // SAFETY: the record of a live object's type lives as long as it.
        let rec = unsafe { record_of(obj.type_ptr()) }?;
        (!tp.is_null() && rec.offset_of(tp).is_some())
            .then(|| Inst { obj: obj.to_owned(), _t: PhantomData })
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

impl<T: PyClass> IntoPy for Inst<T> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Ok(self.obj)
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}
