//! [`Inst<T>`]: an owned reference to an instance of a bound class, for
//! values that are kept beyond one borrow or collected in containers
//! (`Vec<Inst<T>>` is a `list[T]` parameter). Access goes through the
//! instance's borrow cell, like a `&T` / `&mut T` parameter.
//!
//! `Inst<T>` is ndbind's shared ownership of *any* instance (the role
//! `std::shared_ptr<T>` plays in nanobind): it co-owns the Python object
//! (one reference), lends `&T` / `&mut T` through the borrow checks, and
//! is `Send` and `Sync`, so Rust structures may keep it past the call, on
//! any thread: using it needs the GIL (checked), dropping it takes the GIL
//! if needed (as [`crate::class::PyHandle`], which it holds).
//!
//! Why not `Arc<T>`: an `Arc` owns its value in its own allocation, and
//! an instance made from a value stores it inline in the Python object,
//! where no `Arc` can point; nor could `&T` from an `Arc` be reconciled
//! with `&mut self` methods (the `Arc`'s other owners read it at any
//! time). So `Arc<T>` parameters accept only instances made from an
//! `Arc` (returned as `Arc<T>`, or constructed by an `__init__` returning
//! one), while `Inst<T>` accepts every instance of `T`'s class.
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
use crate::core::class::gc::PyHandle;
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
    /// `Send` and `Sync`: touched only with the GIL (checked), released
    /// with it (taken if needed).
    obj: PyHandle,
    _t: PhantomData<fn() -> T>,
}

/// Another reference to the same instance. Panics on a thread that does
/// not hold the GIL.
impl<T> Clone for Inst<T> {
    fn clone(&self) -> Self {
        crate::core::gil::assert_held("Inst::clone");
        // SAFETY: the handle owns a reference (the object is alive); the
        // GIL is held (checked).
        let obj = unsafe { Borrowed::from_ptr(self.obj.as_ptr()) };
        Inst { obj: PyHandle::new(obj), _t: PhantomData }
    }
}

impl<T: PyClass> Inst<T> {
    /// A new instance of `T`'s class holding `value` (`TypeError` when the
    /// class is not bound).
    ///
    /// ```
    /// use ndbind::class::Inst;
    /// use ndbind::prelude::*;
    ///
    /// pub struct Square { side: f64 }
    /// ndbind::class!(Square);
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     m.class::<Square>("Square", ())?;
    ///     let unit = Inst::new(Square { side: 1.0 })?;
    ///     assert_eq!(unit.get()?.side, 1.0);
    ///     m.add("UNIT", unit.object())?;
    ///     Ok(())
    /// });
    /// ```
    pub fn new(value: T) -> PyResult<Inst<T>> {
        let obj = crate::core::class::cast::into_instance(value)?;
        Ok(Inst { obj: PyHandle::new(obj.borrow()), _t: PhantomData })
    }

    /// The Python object. Panics on a thread that does not hold the GIL.
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
        crate::core::gil::assert_held("Inst::object");
        // SAFETY: the handle owns a reference; the GIL is held (checked).
        unsafe { Borrowed::from_ptr(self.obj.as_ptr()) }
    }

    /// The object, or the error of a use without the GIL.
    fn checked(&self) -> PyResult<Borrowed<'_>> {
        if !crate::core::gil::held() {
            return Err(PyErr::runtime_error(
                "ndbind: an Inst was used on a thread that does not hold the GIL",
            ));
        }
        // SAFETY: the handle owns a reference; the GIL is held (checked).
        Ok(unsafe { Borrowed::from_ptr(self.obj.as_ptr()) })
    }

    /// A shared borrow of the value (`RuntimeError` while it is borrowed
    /// mutably or without the GIL, `TypeError` when it is not
    /// constructed).
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
        let obj = self.checked()?;
        // SAFETY: `obj` is alive (owned) for the guard's life (the guard
        // borrows `self`); the GIL is held (checked).
        match unsafe { borrow_shared(obj.as_ptr(), T::type_slot().type_ptr()) } {
            Ok(guard) => Ok(InstRef { guard, _l: PhantomData }),
            Err(f) => Err(failed(obj, f, std::any::type_name::<T>())),
        }
    }

    /// A unique borrow of the value (`RuntimeError` while it is borrowed,
    /// or without the GIL).
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
        let obj = self.checked()?;
        // SAFETY: as in `get`.
        match unsafe { borrow_unique(obj.as_ptr(), T::type_slot().type_ptr()) } {
            Ok(guard) => Ok(InstMut { guard, _l: PhantomData }),
            Err(f) => Err(failed(obj, f, std::any::type_name::<T>())),
        }
    }
}

/// The error of a failed borrow of `obj` as a `rust_name`.
#[cold]
#[inline(never)]
fn failed(obj: Borrowed<'_>, f: Fail, rust_name: &str) -> PyErr {
    match f {
        Fail::Error(e) | Fail::Uninit(e) => e,
        Fail::Mismatch => PyErr::type_error(format!(
            "ndbind: a {} is not an instance of {rust_name}",
            obj.type_name(),
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
            .then(|| Inst { obj: PyHandle::new(obj), _t: PhantomData })
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

impl<T: PyClass> IntoPy for Inst<T> {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        // A context proves the GIL is held.
        Ok(self.object().to_owned())
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}
