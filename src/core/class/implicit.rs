//! Implicit conversions (nanobind's `implicitly_convertible` and
//! `init_implicit`): a bound class declares that an argument of another
//! type may stand in for one of its instances. In the conversion pass only
//! (never the exact pass of overload resolution), a `&T` or `T` parameter
//! that receives such an argument gets a temporary instance of `T` built
//! from it, which lives until the call returns.
//!
//! Two sources are supported:
//! - a Rust value: [`Class::implicit_from`]`::<S>()` loads the argument as
//!   an `S` (with conversions) and builds the instance with `T::from(s)`;
//! - a Python type: [`Class::implicit_from_type`]`(ty)` passes any instance
//!   of `ty` to the class's constructor (`T(arg)`).
//!
//! Conversions do not nest: while one runs (on this thread), no other
//! implicit conversion is tried, so two classes convertible from each
//! other, or a class convertible from `object`, cannot recurse.
//! `&mut T` parameters never convert (the caller's writes would go to a
//! temporary and be lost).
//!
//! The class is declared with the `implicit` option of [`crate::class!`]
//! (the holder of its `&T` parameters can then own a temporary; other
//! classes' parameters pay nothing for the feature).
//!
//! ```
//! use ndbind::prelude::*;
//!
//! #[derive(Clone)]
//! pub struct Meters { value: f64 }
//! impl From<f64> for Meters {
//!     fn from(value: f64) -> Self { Meters { value } }
//! }
//! ndbind::class!(Meters, clone, implicit);
//!
//! ndbind::module!(units, |m| {
//!     let c = m.class::<Meters>("Meters", ())?;
//!     c.init(|value: f64| Meters { value }, arg("value"))?.implicit_from::<f64>()?;
//!     c.field("value", |x| &x.value, |x| &mut x.value)?;
//!     m.def("double_meters", |x: Meters| Meters { value: 2.0 * x.value }, arg("x"))?;
//!     // Python: double_meters(2.0).value == 4.0
//!     Ok(())
//! });
//! ```

use std::cell::Cell;

use pyo3_ffi as ffi;

use crate::core::caster::FromPy;
use crate::core::class::builder::Class;
use crate::core::class::cast::{into_instance, RefHolder};
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// A conversion function: a new instance built from `obj`, `None` when
/// `obj` is not a source of this conversion (no error set), or the error
/// the construction raised.
pub(crate) type ConvFn = fn(Borrowed<'_>) -> Option<PyResult<Object>>;

/// One registered implicit conversion of a bound class.
#[derive(Clone)]
pub(crate) enum Implicit {
    /// A Rust conversion (`T: From<S>`).
    Rust(ConvFn),
    /// Instances of this Python type are passed to the class's constructor.
    PyType(Object),
}

/// The implicit conversions into one class (in its record). With the GIL a
/// `RefCell`; free-threaded an immutable list behind a lock, replaced
/// whole when a conversion is added, so that a conversion running Python
/// code holds no lock (and sees the list as it was when it started).
#[derive(Default)]
pub(crate) struct ImplicitList {
    #[cfg(not(Py_GIL_DISABLED))]
    list: std::cell::RefCell<Vec<Implicit>>,
    #[cfg(Py_GIL_DISABLED)]
    list: crate::core::gil_cell::GilLock<Option<std::sync::Arc<[Implicit]>>>,
}

impl ImplicitList {
    fn push(&self, c: Implicit) -> PyResult<()> {
        #[cfg(not(Py_GIL_DISABLED))]
        self.list
            .try_borrow_mut()
            .map_err(|_| {
                PyErr::runtime_error("ndbind: implicit conversion registered while one runs")
            })?
            .push(c);
        #[cfg(Py_GIL_DISABLED)]
        {
            // The new list holds its own references to the old list's
            // objects: dropping the old one (here, under the lock) frees none.
            let mut c = Some(c);
            self.list.with(|l| {
                let mut v = l.as_deref().map_or_else(Vec::new, <[Implicit]>::to_vec);
                v.extend(c.take());
                *l = Some(v.into());
            });
        }
        Ok(())
    }

    /// The conversions, for one conversion attempt (`None`: being changed).
    #[cfg(not(Py_GIL_DISABLED))]
    fn read(&self) -> Option<std::cell::Ref<'_, Vec<Implicit>>> {
        self.list.try_borrow().ok()
    }

    /// The conversions, for one conversion attempt.
    #[cfg(Py_GIL_DISABLED)]
    fn read(&self) -> Option<std::sync::Arc<[Implicit]>> {
        self.list.with(|l| l.clone())
    }

    /// Calls `f` on each Python type held (stops at a non-zero result).
    fn visit_types(&self, mut f: impl FnMut(&Object) -> std::ffi::c_int) -> std::ffi::c_int {
        let each = |l: &[Implicit], f: &mut dyn FnMut(&Object) -> std::ffi::c_int| {
            l.iter()
                .filter_map(|c| if let Implicit::PyType(src) = c { Some(src) } else { None })
                .map(&mut *f)
                .find(|&r| r != 0)
                .unwrap_or(0)
        };
        // Borrowed mutably (a conversion being added): not visited this
        // time, which only keeps the objects alive longer.
        #[cfg(not(Py_GIL_DISABLED))]
        return self.list.try_borrow().map_or(0, |l| each(&l, &mut f));
        // Free-threaded, the collector runs with every other thread
        // stopped, one of which may own the lock (handed to it as it
        // stopped): never wait for it there; held, the list is not visited
        // this time (as above).
        #[cfg(Py_GIL_DISABLED)]
        return self
            .list
            .try_with_made(|l| l.as_deref().map_or(0, |l| each(l, &mut f)))
            .unwrap_or(0);
    }

    /// Removes the Python types held, which the caller drops after this
    /// returns (a decref can run Python code).
    fn take_types(&self) -> Vec<Implicit> {
        let split = |all: Vec<Implicit>| -> (Vec<Implicit>, Vec<Implicit>) {
            all.into_iter().partition(|c| matches!(c, Implicit::PyType(_)))
        };
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let Ok(mut convs) = self.list.try_borrow_mut() else { return Vec::new() };
            let (py, rust) = split(std::mem::take(&mut *convs));
            *convs = rust;
            py
        }
        #[cfg(Py_GIL_DISABLED)]
        {
            let old = self.list.with(|l| l.take());
            let (py, rust) = split(old.as_deref().map_or_else(Vec::new, <[Implicit]>::to_vec));
            self.list.with(|l| *l = Some(rust.into()));
            drop(old); // after the lock: the last references may go here
            py
        }
    }
}

thread_local! {
    /// Whether an implicit conversion is running on this thread.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`ACTIVE`] when the conversion ends (also on unwinding).
struct Active;

impl Active {
    fn enter() -> Option<Active> {
        // Not `then_some(Active)`: that would build (and drop, clearing the
        // flag) a guard when a conversion is already running.
        ACTIVE.with(|a| (!a.replace(true)).then(|| Active))
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(false))
    }
}

/// A new instance of the bound class `tp` converted implicitly from `obj`,
/// or `None` (no error left set) when no registered conversion applies.
/// A conversion that raises counts as not applying.
///
/// # Safety
/// `tp` is NULL or a live bound class; the GIL is held.
#[cold]
#[inline(never)]
pub(crate) unsafe fn convert(obj: Borrowed<'_>, tp: *mut ffi::PyTypeObject) -> Option<Object> {
    if tp.is_null() {
        return None;
    }
    // The conversions run Python code, which may drop the last reference
    // to the class (`obj` is no instance of it) and collect it, freeing
    // the record read below: hold the class until the end (dropped last).
    // SAFETY: (caller) a live type object.
    let _class = unsafe { Borrowed::from_ptr(tp as *mut ffi::PyObject) }.to_owned();
    // SAFETY: (caller) a live bound class; its record lives as long.
    let rec = unsafe { record_of(tp)? };
    if rec.type_ptr != tp {
        return None;
    }
    let convs = rec.implicit.read()?;
    if convs.is_empty() {
        return None;
    }
    let _active = Active::enter()?;
    for c in convs.iter() {
        let made = match c {
            Implicit::Rust(f) => f(obj),
            Implicit::PyType(src) => match obj.is_instance(src.borrow()) {
                Ok(true) => {
                    // SAFETY: (caller) `tp` is a live type object.
                    Some(unsafe { Borrowed::from_ptr(tp as *mut ffi::PyObject) }.call(&[obj]))
                }
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            },
        };
        // A failed construction (`Some(Err(..))`, dropped here) is a failed
        // match: the call reports the usual "incompatible function arguments".
        if let Some(Ok(o)) = made {
            return Some(o);
        }
    }
    None
}

fn rust_conv<S: FromPy, T: PyClass + From<S>>(obj: Borrowed<'_>) -> Option<PyResult<Object>> {
    S::from_py(obj, true).map(|s| into_instance(T::from(s)))
}

impl<T: PyClass> Class<T> {
    fn add_implicit(&self, c: Implicit) -> PyResult<&Self> {
        if !<T::RefHolder as RefHolder>::IMPLICIT {
            return Err(PyErr::type_error(format!(
                "ndbind: declare the class with ndbind::class!({}, implicit) to give it implicit conversions",
                std::any::type_name::<T>()
            )));
        }
        // SAFETY: the type object of a bound class, alive as long as `self`.
        let rec = unsafe { record_of(self.type_object().as_ptr() as *mut ffi::PyTypeObject) }
            .ok_or_else(|| PyErr::type_error("ndbind: not a bound class"))?;
        rec.implicit.push(c)?;
        Ok(self)
    }

    /// Declares that an argument convertible to `S` (conversions allowed)
    /// may stand in for a `T` parameter, built with `T::from(s)`
    /// (nanobind's `implicitly_convertible<S, T>()`). Applies in the
    /// conversion pass only, to `&T` and `T` parameters.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone)]
    /// # pub struct Meters { value: f64 }
    /// # impl From<f64> for Meters { fn from(value: f64) -> Self { Meters { value } } }
    /// # ndbind::class!(Meters, clone, implicit);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Meters>("Meters", ())?;
    /// c.init(|value: f64| Meters { value }, arg("value"))?.implicit_from::<f64>()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn implicit_from<S>(&self) -> PyResult<&Self>
    where
        S: FromPy + 'static,
        T: From<S>,
    {
        self.add_implicit(Implicit::Rust(rust_conv::<S, T>))
    }

    /// Declares that any instance of the Python type `ty` (a builtin, a
    /// Python class or another bound class) may stand in for a `T`
    /// parameter: it is passed to the class's constructor, `T(arg)`, which
    /// must have an overload that accepts it.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # pub struct Feet(f64);
    /// # ndbind::class!(Feet);
    /// # pub struct Meters { value: f64 }
    /// # ndbind::class!(Meters, implicit);
    /// # ndbind::module!(doc_ext, |m| {
    /// let feet = m.class::<Feet>("Feet", ())?;
    /// # let c = m.class::<Meters>("Meters", ())?;
    /// c.init(|f: &Feet| Meters { value: f.0 * 0.3048 }, arg("feet"))?
    ///     .implicit_from_type(feet.type_object())?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn implicit_from_type(&self, ty: Borrowed<'_>) -> PyResult<&Self> {
        // SAFETY: a type check on a live object.
        if unsafe { ffi::PyType_Check(ty.as_ptr()) } == 0 {
            return Err(PyErr::type_error(format!(
                "implicit_from_type(): expected a type, got {}",
                ty.type_name()
            )));
        }
        self.add_implicit(Implicit::PyType(ty.to_owned()))
    }
}

/// The metaclass's `tp_traverse` part: visits the Python types held by
/// `rec`'s conversions (a class convertible from another class holds that
/// class), so that the collector sees the edge and frees both together.
///
/// # Safety
/// Called from `tp_traverse` with CPython's `visit` and `arg`.
pub(crate) unsafe fn traverse(
    rec: &crate::core::class::record::TypeRecord,
    visit: ffi::visitproc,
    arg: *mut std::ffi::c_void,
) -> std::ffi::c_int {
    // SAFETY: (caller) CPython's visitor, on objects we own.
    rec.implicit.visit_types(|src| unsafe { visit(src.as_ptr(), arg) })
}

/// The metaclass's `tp_clear` part: drops the Python types held by `rec`'s
/// conversions (the class is garbage: no call converts through it again).
pub(crate) fn clear(rec: &crate::core::class::record::TypeRecord) {
    // Released after the list is updated: a decref can run Python code.
    drop(rec.implicit.take_types());
}
