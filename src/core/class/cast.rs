//! Bound class instances as parameters (`&T`, `&mut T`, `T` by clone) and
//! as return values (`T` moved into a new instance).
//!
//! Every borrow goes through the instance's borrow cell (`borrow`): a
//! `&mut T` while another borrow of the same value is live raises
//! `RuntimeError`, never aliases.

use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::caster::ArgCaster;
use crate::core::class::borrow::{
    borrow_shared, borrow_unique, cell_of, Fail, InstFlags, SharedGuard, UniqueGuard,
};
use crate::core::class::inst::{self, InstHeader};
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// Whether `obj` is an instance of a bound class (or a subclass).
///
/// # Safety
/// `obj` is a valid object; the GIL is held.
#[inline]
pub(crate) unsafe fn is_instance(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: (caller) a valid object, whose type is a valid type.
    unsafe { record_of(ffi::Py_TYPE(obj)).is_some() }
}

/// Why an argument holding a value of class `tp` was refused, for the
/// mismatch error: its value is not constructed (the load warned).
#[cold]
#[inline(never)]
fn explain_uninit(obj: Borrowed<'_>, tp: *mut ffi::PyTypeObject) -> Option<String> {
    // SAFETY: `obj` is a live argument, its type's record lives as long as
    // it; the GIL is held.
    unsafe {
        let rec = record_of(ffi::Py_TYPE(obj.as_ptr()))?;
        rec.offset_of(tp)?;
        if (*(obj.as_ptr() as *mut InstHeader)).flags.is_ready() {
            return None;
        }
        let name = crate::core::class::borrow::tp_name(obj.as_ptr());
        Some(format!("attempted to access an uninitialized instance of type '{name}'"))
    }
}

/// Turns a failed borrow into the `ArgCaster::load` convention (an
/// uninitialised instance: nanobind's warning, then a mismatch).
#[cold]
fn fail(f: Fail) -> bool {
    f.warn()
}

/// The conversion pass of a `&T` / `T` parameter whose argument is not a
/// `T`: a temporary instance from an implicit conversion, borrowed shared.
/// `None` (no error set) when no conversion applies; an error aborts.
#[cold]
#[inline(never)]
fn convert_implicit(
    obj: Borrowed<'_>,
    tp: *mut ffi::PyTypeObject,
) -> Option<(Object, SharedGuard)> {
    // SAFETY: `tp` is NULL or T's live bound type; the GIL is held.
    let temp = unsafe { crate::core::class::implicit::convert(obj, tp)? };
    // SAFETY: `temp` is live; the caller keeps it alive as long as the guard.
    match unsafe { borrow_shared(temp.as_ptr(), tp) } {
        Ok(g) => Some((temp, g)),
        Err(f) => {
            fail(f);
            None
        }
    }
}

/// Fills `holder` from an implicit conversion of `obj` (classes declared
/// `implicit` only).
#[inline]
fn load_implicit<H: RefHolder>(
    holder: &mut H,
    obj: Borrowed<'_>,
    tp: *mut ffi::PyTypeObject,
) -> bool {
    match convert_implicit(obj, tp) {
        Some((temp, guard)) => {
            holder.set_temp(guard, temp);
            true
        }
        None => false,
    }
}

/// The holder of a `&T` parameter of a class declared `implicit`: a
/// shared borrow, and the temporary instance an implicit conversion made
/// (dropped after the borrow ends).
///
/// ```
/// use ndbind::__core::class::ConvGuard; // plumbing: the holder `class!(T, implicit)` names
///
/// let g = ConvGuard::default(); // the holder of a `&Meters` parameter
/// ```
#[derive(Default)]
pub struct ConvGuard {
    guard: SharedGuard,
    _temp: Option<Object>,
}

/// The holder type of `&T` parameters, chosen by [`crate::class!`]:
/// [`SharedGuard`], or [`ConvGuard`] for classes with implicit
/// conversions (kept out of every other class's fast path).
///
/// ```
/// use ndbind::__core::class::SharedGuard; // plumbing
/// use ndbind::class::PyClass;
///
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point);
///
/// let h: <Point as PyClass>::RefHolder = SharedGuard::default(); // not `implicit`
/// ```
pub trait RefHolder: Default {
    /// Whether the class accepts implicit conversions.
    const IMPLICIT: bool;
    /// Holds the shared borrow `guard` of an argument the caller keeps
    /// alive for the holder's life.
    #[doc(hidden)]
    fn set(&mut self, guard: SharedGuard);
    /// [`RefHolder::set`] for a borrow of a temporary instance `temp`,
    /// which the holder keeps alive.
    #[doc(hidden)]
    fn set_temp(&mut self, guard: SharedGuard, temp: Object);
    #[doc(hidden)]
    fn ptr(&self) -> *mut u8;
}

impl RefHolder for SharedGuard {
    const IMPLICIT: bool = false;
    #[inline]
    fn set(&mut self, guard: SharedGuard) {
        *self = guard;
    }
    fn set_temp(&mut self, guard: SharedGuard, temp: Object) {
        // Never called (IMPLICIT is false); the temporary is borrowed, so
        // it must outlive the guard: leaked rather than freed early.
        *self = guard;
        std::mem::forget(temp);
    }
    #[inline]
    fn ptr(&self) -> *mut u8 {
        SharedGuard::ptr(self)
    }
}

impl RefHolder for ConvGuard {
    const IMPLICIT: bool = true;
    #[inline]
    fn set(&mut self, guard: SharedGuard) {
        self.guard = guard;
    }
    fn set_temp(&mut self, guard: SharedGuard, temp: Object) {
        // The guard drops (ends its borrow) before the temporary.
        *self = ConvGuard { guard, _temp: Some(temp) };
    }
    #[inline]
    fn ptr(&self) -> *mut u8 {
        self.guard.ptr()
    }
}

/// Caster of `&T` parameters (T a bound class).
///
/// ```
/// use ndbind::__core::caster::Param; // plumbing
/// use ndbind::__core::class::ClassRef;
///
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point); // impl<'a> Param for &'a Point { type Caster = ClassRef<Point>; }
///
/// fn caster_is<P: Param<Caster = ClassRef<Point>>>() {}
/// caster_is::<&Point>();
/// ```
pub struct ClassRef<T>(PhantomData<T>);
/// Caster of `&mut T` parameters (T a bound class).
///
/// ```
/// use ndbind::__core::caster::Param; // plumbing
/// use ndbind::__core::class::ClassMut;
///
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point); // impl<'a> Param for &'a mut Point { type Caster = ClassMut<Point>; }
///
/// fn caster_is<P: Param<Caster = ClassMut<Point>>>() {}
/// caster_is::<&mut Point>();
/// ```
pub struct ClassMut<T>(PhantomData<T>);
/// Caster of `T` parameters of `Clone` classes (`class!(T, clone)`).
///
/// ```
/// use ndbind::__core::caster::Param; // plumbing
/// use ndbind::__core::class::ClassValue;
///
/// #[derive(Clone)]
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point, clone); // impl Param for Point { type Caster = ClassValue<Point>; }
///
/// fn caster_is<P: Param<Caster = ClassValue<Point>>>() {}
/// caster_is::<Point>();
/// ```
pub struct ClassValue<T>(PhantomData<T>);

impl<T: PyClass> ArgCaster for ClassRef<T> {
    type Holder = T::RefHolder;
    type Out<'a> = &'a T;

    #[inline]
    fn load(holder: &mut T::RefHolder, obj: Borrowed<'_>, convert: bool) -> bool {
        let tp = T::type_slot().type_ptr();
        // SAFETY: `obj` is a live argument (alive for the holder's life);
        // the GIL is held.
        match unsafe { borrow_shared(obj.as_ptr(), tp) } {
            Ok(g) => {
                holder.set(g);
                true
            }
            Err(Fail::Mismatch) if convert && T::RefHolder::IMPLICIT => {
                load_implicit(holder, obj, tp)
            }
            Err(f) => fail(f),
        }
    }

    #[inline]
    unsafe fn get(holder: &mut T::RefHolder) -> &T {
        // SAFETY: `load` took a shared borrow of a ready T, held until the
        // holder drops, after the call.
        unsafe { &*(holder.ptr() as *const T) }
    }

    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }

    fn explain(obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        explain_uninit(obj, T::type_slot().type_ptr())
    }
}

impl<T: PyClass> ArgCaster for ClassMut<T> {
    type Holder = UniqueGuard;
    type Out<'a> = &'a mut T;

    #[inline]
    fn load(holder: &mut UniqueGuard, obj: Borrowed<'_>, _convert: bool) -> bool {
        // SAFETY: `obj` is a live argument (alive for the holder's life);
        // the GIL is held.
        match unsafe { borrow_unique(obj.as_ptr(), T::type_slot().type_ptr()) } {
            Ok(g) => {
                *holder = g;
                true
            }
            Err(f) => fail(f),
        }
    }

    #[inline]
    unsafe fn get(holder: &mut UniqueGuard) -> &mut T {
        // SAFETY: `load` took the unique borrow of a ready T, held until the
        // holder drops, after the call.
        unsafe { &mut *(holder.ptr() as *mut T) }
    }

    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }

    fn explain(obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        explain_uninit(obj, T::type_slot().type_ptr())
    }
}

impl<T: PyClass + Clone> ArgCaster for ClassValue<T> {
    type Holder = Option<T>;
    type Out<'a> = T;

    #[inline]
    fn load(holder: &mut Option<T>, obj: Borrowed<'_>, convert: bool) -> bool {
        let tp = T::type_slot().type_ptr();
        let mut guard = T::RefHolder::default();
        // SAFETY: `obj` is a live argument, alive as long as `guard`; the
        // GIL is held.
        match unsafe { borrow_shared(obj.as_ptr(), tp) } {
            Ok(g) => guard.set(g),
            Err(Fail::Mismatch) if convert && T::RefHolder::IMPLICIT => {
                if !load_implicit(&mut guard, obj, tp) {
                    return false;
                }
            }
            Err(f) => return fail(f),
        }
        // SAFETY: a shared borrow of a ready T is held by `guard`.
        *holder = Some(unsafe { &*(guard.ptr() as *const T) }.clone());
        true
    }

    #[inline]
    unsafe fn get(holder: &mut Option<T>) -> T {
        holder.take().expect("ndbind: argument loaded once, taken once")
    }

    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }

    fn explain(obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        explain_uninit(obj, T::type_slot().type_ptr())
    }
}

/// Appends the Python name of a bound class (`module.Name`), or the Rust
/// name while it is not bound.
///
/// ```
/// # pub struct Point { x: f64, y: f64 }
/// # ndbind::class!(Point);
/// use ndbind::__core::class::push_type_name; // plumbing: `class!` calls it
///
/// let mut s = String::new();
/// push_type_name::<Point>(&mut s); // "my_ext.Point" once bound
/// assert_eq!(s, "Point"); // nothing is bound in this process
/// ```
pub fn push_type_name<T: PyClass>(out: &mut String) {
    let tp = T::type_slot().type_ptr();
    // SAFETY: a non-NULL slot names a live bound type.
    match (!tp.is_null()).then(|| unsafe { record_of(tp) }).flatten() {
        Some(rec) => out.push_str(rec.name()),
        None => out.push_str(std::any::type_name::<T>().rsplit("::").next().unwrap_or("?")),
    }
}

/// Moves `value` into a new instance of its bound class (the `IntoPy` of
/// bound classes, generated by [`crate::class!`]).
///
/// ```no_run
/// # pub struct Point { x: f64, y: f64 }
/// # ndbind::class!(Point);
/// let obj = ndbind::class::into_instance(Point { x: 1.0, y: 2.0 })?;
/// # Ok::<(), ndbind::PyErr>(())
/// ```
#[inline]
pub fn into_instance<T: PyClass>(value: T) -> PyResult<Object> {
    crate::core::gil::assert_held("into_instance");
    // SAFETY: a fresh instance of T's bound class, whose record describes
    // T (size, alignment, inline storage); the value is written once into
    // its storage before it is marked ready.
    unsafe {
        let obj = alloc_instance::<T>()?;
        let h = obj as *mut InstHeader;
        std::ptr::write((*h).value as *mut T, value);
        (*h).flags.insert(InstFlags::READY | InstFlags::DESTRUCT);
        Ok(Object::from_owned(obj).expect("non-NULL"))
    }
}

/// A fresh, not-ready instance of `T`'s bound class (a new reference).
///
/// # Safety
/// The GIL is held; the caller initialises the value and the flags before
/// the object is exposed.
#[inline]
pub(crate) unsafe fn alloc_instance<T: PyClass>() -> PyResult<*mut ffi::PyObject> {
    let tp = T::type_slot().type_ptr();
    if tp.is_null() {
        return Err(not_bound::<T>());
    }
    // SAFETY: `tp` is T's live bound type (its slot is cleared when it dies).
    unsafe {
        let rec = record_of(tp).ok_or_else(not_bound::<T>)?;
        inst::alloc(tp, rec)
    }
}

#[cold]
pub(crate) fn not_bound<T>() -> PyErr {
    PyErr::type_error(format!(
        "ndbind: the Rust type {} has no Python type (its class is not bound, or was already freed)",
        std::any::type_name::<T>()
    ))
}

/// Type name of `T` for return annotations.
///
/// ```
/// # pub struct Point { x: f64, y: f64 }
/// # ndbind::class!(Point);
/// use ndbind::__core::class::return_type_name; // plumbing
///
/// let mut s = String::new();
/// return_type_name::<Point>(&mut s);
/// assert_eq!(s, "Point"); // "my_ext.Point" once bound
/// ```
pub fn return_type_name<T: PyClass>(out: &mut String) {
    push_type_name::<T>(out)
}

/// A shared borrow of a bound instance's value, held by an array exported
/// from it (return policy `reference_internal`) until that array dies: the
/// value can then be neither mutably borrowed, moved out nor destructed
/// while Python sees its memory. Made by ndbind's array export.
pub struct ExportPin {
    /// Released before `_obj` (fields drop in order).
    borrow: SharedGuard,
    /// Keeps the instance, and so its borrow cell, alive.
    _obj: Object,
}

impl Drop for ExportPin {
    fn drop(&mut self) {
        // Dropped with the GIL held (by the exported array's owner); at
        // thread exit without it, the pin is leaked, never touched.
        if !crate::core::gil::may_release() {
            std::mem::take(&mut self.borrow).leak();
        }
    }
}

/// Pins the value of `obj` for an export (see [`ExportPin`]): `None` when
/// `obj` is no bound instance; an error when its value cannot be borrowed
/// (not ready, a reference into a moved value, or mutably borrowed: a
/// `&mut self` method cannot return a view of its own value).
pub(crate) fn pin_instance(obj: Borrowed<'_>) -> PyResult<Option<ExportPin>> {
    let p = obj.as_ptr();
    // SAFETY: type test of a live object; the GIL is held. Then: a shared
    // borrow of its own value (the offset of its own type is 0), which the
    // pin holds together with the object.
    unsafe {
        if !is_instance(p) {
            return Ok(None);
        }
        match borrow_shared(p, ffi::Py_TYPE(p)) {
            Ok(borrow) => Ok(Some(ExportPin { borrow, _obj: obj.to_owned() })),
            Err(_) if cell_of(p as *mut InstHeader).is_unique() => Err(PyErr::runtime_error(format!(
                "{}: a method that borrows self mutably cannot return a view of its memory (reference_internal): \
                 take &self",
                obj.type_name()
            ))),
            Err(f) => f.into_error().map_or(Ok(None), Err),
        }
    }
}
