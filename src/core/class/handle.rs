//! [`Inst<T>`]: an owned reference to an instance of a bound class, for
//! values that are kept beyond one borrow or collected in containers
//! (`Vec<Inst<T>>` is a `list[T]` parameter). Access goes through the
//! instance's borrow cell, like a `&T` / `&mut T` parameter.
//!
//! ```
//! use ndbind::class::Inst;
//! use ndbind::prelude::*;
//!
//! pub struct Square { side: f64 }
//! impl Square {
//!     fn area(&self) -> f64 { self.side * self.side }
//! }
//! ndbind::class!(Square);
//!
//! ndbind::module!(shapes, |m| {
//!     m.class::<Square>("Square", ())?.init(|side: f64| Square { side }, arg("side"))?;
//!     m.def("total_area", |squares: Vec<Inst<Square>>| -> PyResult<f64> {
//!         squares.iter().map(|s| Ok(s.get()?.area())).sum()
//!     }, arg("squares"))?;
//!     Ok(())
//! });
//! ```

use std::marker::PhantomData;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::class::borrow::{borrow_shared, borrow_unique, Fail, SharedGuard, UniqueGuard};
use crate::core::class::cast::push_type_name;
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// An owned reference to an instance of `T`'s class, a Python subclass of
/// it, or a Rust subclass of `T`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::Inst;
/// # pub struct Square { side: f64 }
/// # impl Square { fn area(&self) -> f64 { self.side * self.side } }
/// # ndbind::class!(Square);
/// # fn f(s: Inst<Square>) -> PyResult<()> {
/// let area = s.get()?.area();
/// # Ok(())
/// # }
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
    /// ```no_run
    /// # use ndbind::class::Inst;
    /// # pub struct Square { side: f64 }
    /// # ndbind::class!(Square);
    /// # fn f(s: Inst<Square>) {
    /// let name = s.object().type_name();
    /// # }
    /// ```
    pub fn object(&self) -> Borrowed<'_> {
        self.obj.borrow()
    }

    /// A shared borrow of the value (`RuntimeError` while it is borrowed
    /// mutably, `TypeError` when it is not constructed).
    ///
    /// ```no_run
    /// # use ndbind::prelude::*;
    /// # use ndbind::class::Inst;
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point);
    /// # fn f(inst: Inst<Point>) -> PyResult<()> {
    /// let p = inst.get()?;
    /// println!("{}", p.x);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self) -> PyResult<InstRef<'_, T>> {
        // SAFETY: `obj` is alive (owned) for the guard's life (the guard
        // borrows `self`); the GIL is held (handles are !Send).
        match unsafe { borrow_shared(self.obj.as_ptr(), T::type_slot().type_ptr()) } {
            Ok(guard) => Ok(InstRef { guard, _l: PhantomData }),
            Err(f) => Err(failed(&self.obj, f, std::any::type_name::<T>())),
        }
    }

    /// A unique borrow of the value (`RuntimeError` while it is borrowed).
    ///
    /// ```no_run
    /// # use ndbind::prelude::*;
    /// # use ndbind::class::Inst;
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point);
    /// # fn f(inst: Inst<Point>) -> PyResult<()> {
    /// inst.get_mut()?.x = 1.0;
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_mut(&self) -> PyResult<InstMut<'_, T>> {
        // SAFETY: as in `get`.
        match unsafe { borrow_unique(self.obj.as_ptr(), T::type_slot().type_ptr()) } {
            Ok(guard) => Ok(InstMut { guard, _l: PhantomData }),
            Err(f) => Err(failed(&self.obj, f, std::any::type_name::<T>())),
        }
    }
}

/// The error of a failed borrow of `obj` as a `rust_name`.
#[cold]
#[inline(never)]
fn failed(obj: &Object, f: Fail, rust_name: &str) -> PyErr {
    match f {
        Fail::Error(e) | Fail::Uninit(e) => e,
        Fail::Mismatch => PyErr::type_error(format!(
            "ndbind: a {} is not an instance of {rust_name}",
            obj.borrow().type_name(),
        )),
    }
}

/// A shared borrow of an instance's value (released on drop).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::{Inst, InstRef};
/// # pub struct Point { x: f64, y: f64 }
/// # ndbind::class!(Point);
/// # fn f(inst: Inst<Point>) -> PyResult<()> {
/// let r: InstRef<'_, Point> = inst.get()?;
/// # Ok(())
/// # }
/// ```
pub struct InstRef<'a, T> {
    guard: SharedGuard,
    _l: PhantomData<&'a T>,
}

impl<T> std::ops::Deref for InstRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a shared borrow of a ready T.
        unsafe { &*(self.guard.ptr() as *const T) }
    }
}

/// A unique borrow of an instance's value (released on drop).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::{Inst, InstMut};
/// # pub struct Point { x: f64, y: f64 }
/// # ndbind::class!(Point);
/// # fn f(inst: Inst<Point>) -> PyResult<()> {
/// let mut m: InstMut<'_, Point> = inst.get_mut()?;
/// # Ok(())
/// # }
/// ```
pub struct InstMut<'a, T> {
    guard: UniqueGuard,
    _l: PhantomData<&'a mut T>,
}

impl<T> std::ops::Deref for InstMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the unique borrow of a ready T.
        unsafe { &*(self.guard.ptr() as *const T) }
    }
}

impl<T> std::ops::DerefMut for InstMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for Deref; `&mut self` makes this the only reference.
        unsafe { &mut *(self.guard.ptr() as *mut T) }
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
