//! Bound class instances as parameters (`&T`, `&mut T`, `T` by clone) and
//! as return values (`T` moved into a new instance).
//!
//! Every borrow goes through the instance's borrow cell: a `&mut T` while
//! another borrow of the same value is live raises `RuntimeError`, never
//! aliases. The exact-type, ready, unborrowed case is a few inlined
//! compares; everything else (subclasses, Rust bases, errors) is one
//! non-generic function.

use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::caster::ArgCaster;
use crate::core::class::inst::{self, InstHeader, DESTRUCT, READY};
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// Why a borrow failed: a plain mismatch (no error set: overload
/// resolution moves on) or an error that aborts the call.
pub(crate) enum Fail {
    Mismatch,
    Error(PyErr),
}

/// Takes a borrow of the value of class `target` inside `obj`: shared
/// (`unique == false`) or unique. Returns the value pointer and the cell
/// to release.
///
/// # Safety
/// `obj` is a valid object; the GIL is held.
#[inline(always)]
pub(crate) unsafe fn borrow(
    obj: *mut ffi::PyObject,
    target: *mut ffi::PyTypeObject,
    unique: bool,
) -> Result<(*mut u8, *mut i32), Fail> {
    let h = obj as *mut InstHeader;
    if ffi::Py_TYPE(obj) == target && (*h).flags & READY != 0 && (*h).parent.is_null() {
        let cell = (*h).borrow;
        let b = *cell;
        if !unique && (0..i32::MAX).contains(&b) {
            *cell = b + 1;
            return Ok(((*h).value, cell));
        }
        if unique && b == 0 {
            *cell = -1;
            return Ok(((*h).value, cell));
        }
    }
    borrow_slow(obj, target, unique)
}

/// Everything but the fast path: Python subclasses, Rust base classes,
/// references into other instances, and the errors.
#[inline(never)]
pub(crate) unsafe fn borrow_slow(
    obj: *mut ffi::PyObject,
    target: *mut ffi::PyTypeObject,
    unique: bool,
) -> Result<(*mut u8, *mut i32), Fail> {
    if target.is_null() {
        return Err(Fail::Mismatch);
    }
    let Some(rec) = record_of(ffi::Py_TYPE(obj)) else { return Err(Fail::Mismatch) };
    let Some(offset) = rec.offset_of(target) else { return Err(Fail::Mismatch) };
    let h = obj as *mut InstHeader;
    let name = || record_of(target).map_or_else(|| "?".to_owned(), |r| r.name().to_owned());
    if (*h).flags & READY == 0 {
        return Err(Fail::Error(PyErr::type_error(format!(
            "ndbind: attempted to access an uninitialized instance of type '{}'",
            name()
        ))));
    }
    if let Err(e) = parents_valid(h, &name) {
        return Err(Fail::Error(e));
    }
    let cell = (*h).borrow;
    let b = *cell;
    if unique {
        if b != 0 && (*h).flags & inst::ARC != 0 {
            return Err(Fail::Error(PyErr::runtime_error(format!(
                "ndbind: cannot borrow the '{}' instance mutably: its value is shared through an Arc",
                name()
            ))));
        }
        if b != 0 {
            return Err(Fail::Error(PyErr::runtime_error(format!(
                "ndbind: cannot borrow the '{}' instance mutably: it is already borrowed",
                name()
            ))));
        }
        *cell = -1;
    } else {
        if !(0..i32::MAX).contains(&b) {
            return Err(Fail::Error(PyErr::runtime_error(format!(
                "ndbind: cannot borrow the '{}' instance: it is mutably borrowed",
                name()
            ))));
        }
        *cell = b + 1;
    }
    Ok(((*h).value.add(offset), cell))
}

/// For an instance that references a value inside another instance
/// (`def_ref`, `inst_reference`): that value must still be constructed,
/// and still be where the reference points (a value moved out through a
/// `Box<T>` parameter, or rebuilt in other storage, leaves the reference
/// pointing at freed or stale memory). `name` names the instance's class.
///
/// # Safety
/// `h` is a live instance of a bound class; the GIL is held.
pub(crate) unsafe fn parents_valid(h: *mut InstHeader, name: &dyn Fn() -> String) -> PyResult<()> {
    let (mut child, mut parent) = (h, (*h).parent);
    while !parent.is_null() && is_instance(parent) {
        let p = parent as *mut InstHeader;
        if (*p).flags & READY == 0 {
            return Err(PyErr::type_error(format!(
                "ndbind: the instance of type '{}' references a value inside an object that was destructed",
                name()
            )));
        }
        if !within(child, p) {
            return Err(PyErr::type_error(format!(
                "ndbind: the instance of type '{}' references a value inside an object whose value was moved or \
                 rebuilt elsewhere",
                name()
            )));
        }
        (child, parent) = (p, (*p).parent);
    }
    Ok(())
}

/// Whether the value of `child` (a reference instance) lies inside the
/// current value of `parent`.
///
/// # Safety
/// Both are live instances of bound classes.
unsafe fn within(child: *mut InstHeader, parent: *mut InstHeader) -> bool {
    let (Some(cr), Some(pr)) =
        (record_of(ffi::Py_TYPE(child.cast())), record_of(ffi::Py_TYPE(parent.cast())))
    else {
        return false;
    };
    let (c, p) = ((*child).value as usize, (*parent).value as usize);
    c >= p && c.checked_add(cr.size).is_some_and(|end| end <= p + pr.size)
}

/// Whether `obj` is an instance of a bound class (or a subclass).
#[inline]
pub(crate) unsafe fn is_instance(obj: *mut ffi::PyObject) -> bool {
    record_of(ffi::Py_TYPE(obj)).is_some()
}

/// Turns a failed borrow into the `ArgCaster::load` convention.
#[cold]
fn fail(f: Fail) -> bool {
    if let Fail::Error(e) = f {
        e.restore();
    }
    false
}

/// The conversion pass of a `&T` / `T` parameter whose argument is not a
/// `T`: a temporary instance from an implicit conversion, borrowed shared.
/// `None` (no error set) when no conversion applies; an error aborts.
#[cold]
#[inline(never)]
fn convert_implicit(
    obj: Borrowed<'_>,
    tp: *mut ffi::PyTypeObject,
) -> Option<(Object, *mut u8, *mut i32)> {
    // SAFETY: `tp` is NULL or T's live bound type; the GIL is held.
    unsafe {
        let temp = crate::core::class::implicit::convert(obj, tp)?;
        match borrow(temp.as_ptr(), tp, false) {
            Ok((ptr, cell)) => Some((temp, ptr, cell)),
            Err(f) => {
                fail(f);
                None
            }
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
        Some((temp, ptr, cell)) => {
            // SAFETY: `convert_implicit` took a shared count on `temp`'s cell.
            unsafe { holder.set_temp(ptr, cell, temp) };
            true
        }
        None => false,
    }
}

/// A shared borrow held for the duration of a call (the holder of a
/// `&Point` parameter; dropping it ends the borrow).
///
/// ```ignore
/// let g = SharedGuard::default(); // holds no borrow yet
/// ```
pub struct SharedGuard {
    ptr: *mut u8,
    cell: *mut i32,
}

impl Default for SharedGuard {
    #[inline]
    fn default() -> Self {
        SharedGuard { ptr: std::ptr::null_mut(), cell: std::ptr::null_mut() }
    }
}

impl Drop for SharedGuard {
    #[inline]
    fn drop(&mut self) {
        if !self.cell.is_null() {
            // SAFETY: the cell belongs to an argument kept alive by the
            // caller for the whole call; we hold one shared count on it.
            unsafe { *self.cell -= 1 }
        }
    }
}

/// The holder of a `&T` parameter of a class declared `implicit`: a
/// shared borrow, and the temporary instance an implicit conversion made
/// (dropped after the borrow ends).
///
/// ```ignore
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
/// ```ignore
/// type H = <Point as PyClass>::RefHolder; // SharedGuard
/// ```
pub trait RefHolder: Default {
    /// Whether the class accepts implicit conversions.
    const IMPLICIT: bool;
    /// Holds the shared borrow `cell` of the value at `ptr`.
    ///
    /// # Safety
    /// `cell` is the live borrow cell of the instance whose value is at
    /// `ptr`, on which one shared count was taken for this holder, and the
    /// instance outlives the holder.
    #[doc(hidden)]
    unsafe fn set(&mut self, ptr: *mut u8, cell: *mut i32);
    /// [`RefHolder::set`] for a temporary instance `temp`, which the holder
    /// keeps alive.
    ///
    /// # Safety
    /// As for [`RefHolder::set`], with `temp` the instance.
    #[doc(hidden)]
    unsafe fn set_temp(&mut self, ptr: *mut u8, cell: *mut i32, temp: Object);
    #[doc(hidden)]
    fn ptr(&self) -> *mut u8;
}

impl RefHolder for SharedGuard {
    const IMPLICIT: bool = false;
    #[inline]
    unsafe fn set(&mut self, ptr: *mut u8, cell: *mut i32) {
        *self = SharedGuard { ptr, cell };
    }
    unsafe fn set_temp(&mut self, ptr: *mut u8, cell: *mut i32, temp: Object) {
        // Never called (IMPLICIT is false); the temporary is borrowed, so
        // it must outlive the guard: leaked rather than freed early.
        *self = SharedGuard { ptr, cell };
        std::mem::forget(temp);
    }
    #[inline]
    fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl RefHolder for ConvGuard {
    const IMPLICIT: bool = true;
    #[inline]
    unsafe fn set(&mut self, ptr: *mut u8, cell: *mut i32) {
        self.guard = SharedGuard { ptr, cell };
    }
    unsafe fn set_temp(&mut self, ptr: *mut u8, cell: *mut i32, temp: Object) {
        *self = ConvGuard { guard: SharedGuard { ptr, cell }, _temp: Some(temp) };
    }
    #[inline]
    fn ptr(&self) -> *mut u8 {
        self.guard.ptr
    }
}

/// A unique borrow held for the duration of a call.
///
/// ```ignore
/// // The holder of a `&mut Point` parameter; dropping it ends the borrow.
/// ```
pub struct UniqueGuard {
    ptr: *mut u8,
    cell: *mut i32,
}

impl Default for UniqueGuard {
    #[inline]
    fn default() -> Self {
        UniqueGuard { ptr: std::ptr::null_mut(), cell: std::ptr::null_mut() }
    }
}

impl Drop for UniqueGuard {
    #[inline]
    fn drop(&mut self) {
        if !self.cell.is_null() {
            // SAFETY: as for SharedGuard; we hold the unique borrow (-1).
            unsafe { *self.cell = 0 }
        }
    }
}

/// Caster of `&T` parameters (T a bound class).
///
/// ```ignore
/// impl<'a> Param for &'a Point { type Caster = ClassRef<Point>; } // by class!
/// ```
pub struct ClassRef<T>(PhantomData<T>);
/// Caster of `&mut T` parameters (T a bound class).
///
/// ```ignore
/// impl<'a> Param for &'a mut Point { type Caster = ClassMut<Point>; } // by class!
/// ```
pub struct ClassMut<T>(PhantomData<T>);
/// Caster of `T` parameters of `Clone` classes (`class!(T, clone)`).
///
/// ```ignore
/// impl Param for Point { type Caster = ClassValue<Point>; } // by class!(Point, clone)
/// ```
pub struct ClassValue<T>(PhantomData<T>);

impl<T: PyClass> ArgCaster for ClassRef<T> {
    type Holder = T::RefHolder;
    type Out<'a> = &'a T;

    #[inline]
    fn load(holder: &mut T::RefHolder, obj: Borrowed<'_>, convert: bool) -> bool {
        let tp = T::type_slot().type_ptr();
        // SAFETY: `obj` is a live argument; the GIL is held.
        match unsafe { borrow(obj.as_ptr(), tp, false) } {
            Ok((ptr, cell)) => {
                // SAFETY: `borrow` took a shared count on the live argument.
                unsafe { holder.set(ptr, cell) };
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
}

impl<T: PyClass> ArgCaster for ClassMut<T> {
    type Holder = UniqueGuard;
    type Out<'a> = &'a mut T;

    #[inline]
    fn load(holder: &mut UniqueGuard, obj: Borrowed<'_>, _convert: bool) -> bool {
        // SAFETY: `obj` is a live argument; the GIL is held.
        match unsafe { borrow(obj.as_ptr(), T::type_slot().type_ptr(), true) } {
            Ok((ptr, cell)) => {
                *holder = UniqueGuard { ptr, cell };
                true
            }
            Err(f) => fail(f),
        }
    }

    #[inline]
    unsafe fn get(holder: &mut UniqueGuard) -> &mut T {
        // SAFETY: `load` took the unique borrow of a ready T, held until the
        // holder drops, after the call.
        unsafe { &mut *(holder.ptr as *mut T) }
    }

    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

impl<T: PyClass + Clone> ArgCaster for ClassValue<T> {
    type Holder = Option<T>;
    type Out<'a> = T;

    #[inline]
    fn load(holder: &mut Option<T>, obj: Borrowed<'_>, convert: bool) -> bool {
        let tp = T::type_slot().type_ptr();
        // SAFETY: `obj` is a live argument; the GIL is held.
        let mut guard = T::RefHolder::default();
        match unsafe { borrow(obj.as_ptr(), tp, false) } {
            // SAFETY: `borrow` took a shared count on the live argument.
            Ok((ptr, cell)) => unsafe { guard.set(ptr, cell) },
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
}

/// Appends the Python name of a bound class (`module.Name`), or the Rust
/// name while it is not bound.
///
/// ```ignore
/// let mut s = String::new();
/// push_type_name::<Point>(&mut s); // "my_ext.Point"
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
/// ```ignore
/// let obj = ndbind::core::class::into_instance(Point { x: 1.0, y: 2.0 })?;
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
        (*h).flags |= READY | DESTRUCT;
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
/// ```ignore
/// let mut s = String::new();
/// return_type_name::<Point>(&mut s);
/// ```
pub fn return_type_name<T: PyClass>(out: &mut String) {
    push_type_name::<T>(out)
}

/// A shared borrow of a bound instance's value, held by an array exported
/// from it (return policy `reference_internal`) until that array dies: the
/// value can then be neither mutably borrowed, moved out nor destructed
/// while Python sees its memory.
///
/// ```ignore
/// // made by ndbind's array export; dropping it ends the borrow
/// ```
pub struct ExportPin {
    cell: *mut i32,
    /// Keeps the instance, and so its borrow cell, alive.
    _obj: Object,
}

impl Drop for ExportPin {
    fn drop(&mut self) {
        // Dropped with the GIL held (by the exported array's owner); at
        // thread exit without it, the pin is leaked, never touched.
        if crate::core::gil::may_release() {
            // SAFETY: the cell of a live instance (held by `_obj`) on which
            // this pin holds one shared count.
            unsafe { *self.cell -= 1 }
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
    // borrow of its own value (the offset of its own type is 0), whose
    // count the pin holds.
    unsafe {
        if !is_instance(p) {
            return Ok(None);
        }
        match borrow(p, ffi::Py_TYPE(p), false) {
            Ok((_, cell)) => Ok(Some(ExportPin { cell, _obj: obj.to_owned() })),
            Err(_) if *(*(p as *mut InstHeader)).borrow < 0 => Err(PyErr::runtime_error(format!(
                "{}: a method that borrows self mutably cannot return a view of its memory (reference_internal): \
                 take &self",
                obj.type_name()
            ))),
            Err(Fail::Error(e)) => Err(e),
            Err(Fail::Mismatch) => Ok(None),
        }
    }
}
