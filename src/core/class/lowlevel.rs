//! The low-level instance interface (nanobind's `inst_*` / `type_*`,
//! seed 003): allocate an instance, construct its value in place, mark it
//! ready, copy, move, replace and destruct values, query types.
//!
//! Unlike nanobind's, these functions check their arguments (a cheap type
//! test) and return `TypeError` rather than corrupting memory; the few that
//! cannot be checked are `unsafe fn`. A value is never touched while a
//! bound function holds a borrow of it (`RuntimeError`).
//!
//! ```no_run
//! # use ndbind::prelude::*;
//! # use ndbind::class::lowlevel::*;
//! # #[derive(Clone)]
//! # pub struct Pod { a: f64, b: f64 }
//! # // SAFETY: two f64 fields; all-zero bytes are 0.0.
//! # unsafe impl ndbind::class::Zeroable for Pod {}
//! # ndbind::class!(Pod, clone, zeroable);
//! let t = type_of::<Pod>().expect("Pod is bound");
//! let o = inst_alloc(t.borrow())?;                // not ready
//! inst_zero(o.borrow())?;                         // zeroed and ready (Zeroable types)
//! inst_destruct(o.borrow())?;                     // not ready again
//! inst_init(o.borrow(), Pod { a: 1.0, b: 2.0 })?; // "placement new" + mark ready
//! # Ok::<(), ndbind::PyErr>(())
//! ```

use pyo3_ffi as ffi;

use crate::core::class::borrow::{parents_valid, InstFlags, SharedGuard, UniqueGuard};
use crate::core::class::inst::{self, InstHeader};
use crate::core::class::record::{record_of, TypeRecord};
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

mod types;
use types::type_record;
pub use types::*;

/// The record and header of an ndbind instance, or `TypeError` (also for
/// a reference into a value that was destructed or moved).
fn parts<'a>(o: Borrowed<'a>) -> PyResult<(&'a TypeRecord, *mut InstHeader)> {
    // SAFETY: the record lives as long as the type, which `o` keeps alive;
    // `o` is a live instance of it.
    match unsafe { record_of(ffi::Py_TYPE(o.as_ptr())) } {
        Some(rec) => {
            let h = o.as_ptr() as *mut InstHeader;
            // SAFETY: as above.
            unsafe { parents_valid(h, rec.name())? };
            Ok((rec, h))
        }
        None => Err(PyErr::type_error(format!(
            "expected an instance of a type bound by ndbind, got {}",
            o.type_name()
        ))),
    }
}

/// Marks the value of `h` constructed and attaches its trampoline.
///
/// # Safety
/// `h` is a live instance of a class whose record is `rec`, and its
/// storage holds a valid value.
unsafe fn mark_constructed(rec: &TypeRecord, h: *mut InstHeader) {
    // SAFETY: (caller) a live instance of `rec`'s class holding a valid
    // value, which may now be used (and its trampoline followed).
    unsafe {
        (*h).flags.update(InstFlags::constructed);
        crate::core::class::trampoline::attach(rec.slot, h);
    }
}

/// A unique borrow of the value of `h` (ready or not) for the duration of
/// an operation; `RuntimeError` if a bound function holds a borrow.
///
/// # Safety
/// `h` is a live instance that outlives the guard.
unsafe fn unique(h: *mut InstHeader, what: &str) -> PyResult<UniqueGuard> {
    // SAFETY: (caller) `h` is live for the guard's life.
    unsafe { UniqueGuard::try_new((*h).value, (*h).borrow) }.ok_or_else(|| {
        PyErr::runtime_error(format!("{what}: the instance is borrowed by a running function"))
    })
}

/// A new, uninitialised (not ready) instance of bound type `t`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// let o = inst_alloc(type_of::<Pod>().unwrap().borrow())?; // not ready
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn inst_alloc(t: Borrowed<'_>) -> PyResult<Object> {
    let rec = type_record(t)?;
    // SAFETY: `t` is a bound type (or subclass) whose record is `rec`.
    unsafe {
        Ok(Object::from_owned(inst::alloc(t.as_ptr() as *mut ffi::PyTypeObject, rec)?)
            .expect("non-NULL"))
    }
}

/// Pointer to the `T` inside `o` (ready or not): `T`'s class, a subclass,
/// or a Rust class deriving from `T`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// let p: *mut Pod = inst_ptr::<Pod>(obj)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_ptr<T: PyClass>(o: Borrowed<'_>) -> PyResult<*mut T> {
    let (rec, h) = parts(o)?;
    let off = rec.offset_of(T::type_slot().type_ptr()).ok_or_else(|| {
        PyErr::type_error(format!(
            "{} is not an instance of {}",
            o.type_name(),
            crate::core::caster::type_name_of(crate::core::class::push_type_name::<T>)
        ))
    })?;
    // SAFETY: `h` is a live instance; the offset stays inside its value.
    Ok(unsafe { (*h).value.add(off) as *mut T })
}

/// Whether the value of `o` is constructed.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// if !inst_ready(obj)? {
///     inst_zero(obj)?;
/// }
/// # Ok(())
/// # }
/// ```
pub fn inst_ready(o: Borrowed<'_>) -> PyResult<bool> {
    Ok(inst_state(o)?.0)
}

/// `(ready, destruct)` of `o`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// let (ready, destruct) = inst_state(obj)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_state(o: Borrowed<'_>) -> PyResult<(bool, bool)> {
    let (_, h) = parts(o)?;
    // SAFETY: `h` is a live instance.
    let f = unsafe { (*h).flags.get() };
    Ok((f.is_ready(), f.contains(InstFlags::DESTRUCT)))
}

/// Drops the value of `h` if it is constructed and alive.
///
/// # Safety
/// `h` is a live instance of `rec`'s class, uniquely borrowed by the caller.
unsafe fn drop_value(rec: &TypeRecord, h: *mut InstHeader) {
    // SAFETY: (caller) a live instance.
    let f = unsafe { (*h).flags.get() };
    if f.is_ready() && (f.contains(InstFlags::DESTRUCT) || !f.owns_storage()) {
        // SAFETY: (caller) uniquely borrowed: the constructed value is
        // dropped once, after the instance stops saying it is ready.
        unsafe {
            (*h).flags.remove(InstFlags::READY | InstFlags::DESTRUCT);
            if let Some(d) = rec.drop {
                d((*h).value);
            }
        }
    }
}

/// Zero-initialises the value of `o` and marks it ready (types declared
/// `zeroable`); a constructed value is dropped first.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # let o = inst_alloc(type_of::<Pod>().unwrap().borrow())?;
/// inst_zero(o.borrow())?; // Pod { a: 0.0, b: 0.0 }, ready
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn inst_zero(o: Borrowed<'_>) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    if !rec.zeroable {
        return Err(PyErr::type_error(format!(
            "inst_zero(): {} is not declared zeroable",
            rec.name()
        )));
    }
    // SAFETY: `o` keeps `h` alive.
    let _u = unsafe { unique(h, "inst_zero()")? };
    // SAFETY: unique access; all-zero bytes are a valid value (Zeroable).
    unsafe {
        drop_value(rec, h);
        std::ptr::write_bytes((*h).value, 0, rec.size);
        mark_constructed(rec, h);
    }
    Ok(())
}

/// Marks `o` ready. Only for trivial types (zeroable, no drop glue), whose
/// storage always holds a valid value; see [`inst_mark_ready_unchecked`].
/// `RuntimeError` while a running function borrows it.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(o: Borrowed<'_>) -> PyResult<()> {
/// // SAFETY: `o` is a not ready instance of Pod's class: its storage is
/// // there for a Pod, and no call borrows it.
/// unsafe { inst_ptr::<Pod>(o)?.write(Pod { a: 1.0, b: 2.0 }) };
/// inst_mark_ready(o)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_mark_ready(o: Borrowed<'_>) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    if !rec.trivial() {
        return Err(PyErr::type_error(format!(
            "inst_mark_ready(): {} is not a trivial (zeroable, drop-free) type; construct it with inst_init()",
            rec.name()
        )));
    }
    // A running function's borrow must not see its value change state, and
    // (free-threaded) another thread's `inst_zero` may be writing it.
    // SAFETY: `o` keeps `h` alive.
    let _u = unsafe { unique(h, "inst_mark_ready()")? };
    // SAFETY: every byte pattern the storage of a trivial type holds is
    // valid; no other borrow exists.
    unsafe { mark_constructed(rec, h) };
    Ok(())
}

/// Marks `o` ready without checking.
///
/// # Safety
/// The storage of `o` (see [`inst_ptr`]) holds a valid, constructed value,
/// and no running function holds a borrow of `o` (its state must not
/// change under a live `&T`/`&mut T`).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # pub struct Big { data: Vec<f64> }
/// # impl Big { fn new() -> Big { Big { data: vec![0.0; 1 << 20] } } }
/// # ndbind::class!(Big);
/// # fn f(o: Borrowed<'_>) -> PyResult<()> {
/// // SAFETY: `o` is a not ready instance of Big's class, which no call
/// // borrows; a valid Big is written into its storage first.
/// unsafe {
///     inst_ptr::<Big>(o)?.write(Big::new());
///     inst_mark_ready_unchecked(o)?;
/// }
/// # Ok(())
/// # }
/// ```
pub unsafe fn inst_mark_ready_unchecked(o: Borrowed<'_>) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    // SAFETY: (caller) the storage holds a valid value; no live borrow.
    unsafe { mark_constructed(rec, h) };
    Ok(())
}

/// Constructs `value` in place inside the uninitialised instance `o` of
/// `T`'s class (Rust's "placement new") and marks it ready.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # let o = inst_alloc(type_of::<Pod>().unwrap().borrow())?;
/// inst_init(o.borrow(), Pod { a: 1.0, b: 2.0 })?;
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn inst_init<T: PyClass>(o: Borrowed<'_>, value: T) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    if rec.type_ptr != T::type_slot().type_ptr() {
        return Err(PyErr::type_error(format!(
            "inst_init(): {} stores a {}, not a {}",
            rec.name(),
            rec.rust_name,
            std::any::type_name::<T>()
        )));
    }
    // SAFETY: `o` keeps `h` alive.
    let _u = unsafe { unique(h, "inst_init()")? };
    // SAFETY: the storage belongs to a T-typed instance and is not ready.
    unsafe {
        if (*h).flags.is_ready() {
            return Err(PyErr::type_error("inst_init(): the instance is already initialised"));
        }
        std::ptr::write((*h).value as *mut T, value);
        mark_constructed(rec, h);
    }
    Ok(())
}

/// Drops the value of `o` (if constructed and owned) and marks it not ready.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// inst_destruct(obj)?; // dropped, not ready
/// # Ok(())
/// # }
/// ```
pub fn inst_destruct(o: Borrowed<'_>) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    // SAFETY: `o` keeps `h` alive.
    let _u = unsafe { unique(h, "inst_destruct()")? };
    // SAFETY: unique access to a live instance.
    unsafe {
        let f = (*h).flags.get();
        (*h).flags.remove(InstFlags::READY | InstFlags::DESTRUCT);
        if f.contains(InstFlags::READY | InstFlags::DESTRUCT) {
            if let Some(d) = rec.drop {
                d((*h).value);
            }
        }
    }
    Ok(())
}

/// Sets the ready and destruct flags. Raising them is only allowed for
/// trivial types (see [`inst_set_state_unchecked`]).
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(child: Borrowed<'_>) -> PyResult<()> {
/// inst_set_state(child, true, false)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_set_state(o: Borrowed<'_>, ready: bool, destruct: bool) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    // SAFETY: `h` is a live instance.
    let f = unsafe { (*h).flags.get() };
    let raises = (ready && !f.is_ready()) || (destruct && !f.contains(InstFlags::DESTRUCT));
    if raises && !rec.trivial() {
        return Err(PyErr::type_error(format!(
            "inst_set_state(): {} is not a trivial type; raising its flags could double-drop or read an unconstructed value",
            rec.name()
        )));
    }
    // A running function's borrow must not see its value change state.
    // SAFETY: `o` keeps `h` alive.
    let _u = unsafe { unique(h, "inst_set_state()")? };
    // SAFETY: lowering flags is always sound (at worst a value leaks);
    // raising them is sound for trivial types.
    unsafe { inst_set_state_unchecked(o, ready, destruct) }
}

/// Sets the ready and destruct flags without checking.
///
/// # Safety
/// When `ready`, the storage holds a valid value; when `destruct`, the
/// instance is the one that must drop it; no running function holds a
/// borrow of `o`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// // SAFETY: `obj` holds a valid value that it owns, and no call borrows it.
/// unsafe { inst_set_state_unchecked(obj, true, true)? };
/// # Ok(())
/// # }
/// ```
pub unsafe fn inst_set_state_unchecked(
    o: Borrowed<'_>,
    ready: bool,
    destruct: bool,
) -> PyResult<()> {
    let (rec, h) = parts(o)?;
    // SAFETY: `o` is a live instance; (caller) the flags say the truth
    // about its storage and no borrow sees them change.
    unsafe {
        let f = &(*h).flags;
        f.remove(InstFlags::READY | InstFlags::DESTRUCT);
        if ready {
            f.insert(InstFlags::READY);
        }
        if destruct {
            f.insert(InstFlags::DESTRUCT);
        }
        if ready {
            crate::core::class::trampoline::attach(rec.slot, h);
        }
    }
    Ok(())
}

/// Source and destination of a copy or move: same bound class, distinct values.
fn pair<'a>(
    dst: Borrowed<'a>,
    src: Borrowed<'a>,
    what: &str,
) -> PyResult<(&'a TypeRecord, *mut InstHeader, *mut InstHeader)> {
    let (rd, hd) = parts(dst)?;
    let (rs, hs) = parts(src)?;
    if !std::ptr::eq(rd, rs) {
        return Err(PyErr::type_error(format!(
            "{what}: the types differ ({} and {})",
            rd.name(),
            rs.name()
        )));
    }
    // SAFETY: both are live instances.
    unsafe {
        if !(*hs).flags.is_ready() {
            return Err(PyErr::type_error(format!("{what}: the source instance is not ready")));
        }
        if (*hd).value == (*hs).value {
            return Err(PyErr::value_error(format!(
                "{what}: source and destination are the same value"
            )));
        }
    }
    Ok((rd, hd, hs))
}

/// Takes the borrows of a copy: unique on `dst`, shared on `src` (unless
/// both live in the same root object, which the unique borrow covers).
///
/// # Safety
/// Both are live instances that outlive the guards.
unsafe fn copy_borrows(
    hd: *mut InstHeader,
    hs: *mut InstHeader,
    what: &str,
) -> PyResult<(UniqueGuard, Option<SharedGuard>)> {
    // SAFETY: (caller) live instances.
    let u = unsafe { unique(hd, what)? };
    // SAFETY: (caller) live instances.
    let same = unsafe { (*hd).borrow == (*hs).borrow };
    if same {
        return Ok((u, None));
    }
    // SAFETY: (caller) `hs` is live for the guard's life.
    match unsafe { SharedGuard::try_new((*hs).value, (*hs).borrow) } {
        Some(s) => Ok((u, Some(s))),
        None => {
            Err(PyErr::runtime_error(format!("{what}: the source instance is mutably borrowed")))
        }
    }
}

/// Copy-constructs the uninitialised `dst` from `src` (types declared
/// `clone`) and marks it ready.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(src: Borrowed<'_>) -> PyResult<()> {
/// let dst = inst_alloc(type_of::<Pod>().unwrap().borrow())?;
/// inst_copy(dst.borrow(), src)?; // a clone of src's value, ready
/// # Ok(())
/// # }
/// ```
pub fn inst_copy(dst: Borrowed<'_>, src: Borrowed<'_>) -> PyResult<()> {
    copy_impl(dst, src, false, "inst_copy()")
}

/// Destructs `dst` and copy-constructs it from `src`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(dst: Borrowed<'_>, src: Borrowed<'_>) -> PyResult<()> {
/// inst_replace_copy(dst, src)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_replace_copy(dst: Borrowed<'_>, src: Borrowed<'_>) -> PyResult<()> {
    copy_impl(dst, src, true, "inst_replace_copy()")
}

fn copy_impl(dst: Borrowed<'_>, src: Borrowed<'_>, replace: bool, what: &str) -> PyResult<()> {
    let (rec, hd, hs) = pair(dst, src, what)?;
    let clone = rec.clone.ok_or_else(|| {
        PyErr::type_error(format!("{what}: {} is not declared clone", rec.name()))
    })?;
    // SAFETY: `dst` and `src` keep both alive.
    let _b = unsafe { copy_borrows(hd, hs, what)? };
    // SAFETY: unique access to dst, shared to src; distinct values of the
    // same type; dst's old value is dropped before its storage is reused.
    unsafe {
        if !replace && (*hd).flags.is_ready() {
            return Err(PyErr::type_error(format!(
                "{what}: the destination is already initialised"
            )));
        }
        drop_value(rec, hd);
        clone((*hs).value, (*hd).value);
        mark_constructed(rec, hd);
    }
    Ok(())
}

/// Move-constructs the uninitialised `dst` from `src`: the value moves
/// (bitwise, as every Rust move) and `src` becomes not ready.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(src: Borrowed<'_>) -> PyResult<()> {
/// let dst = inst_alloc(type_of::<Pod>().unwrap().borrow())?;
/// inst_move(dst.borrow(), src)?; // src is no longer ready
/// # Ok(())
/// # }
/// ```
pub fn inst_move(dst: Borrowed<'_>, src: Borrowed<'_>) -> PyResult<()> {
    move_impl(dst, src, false, "inst_move()")
}

/// Destructs `dst` and move-constructs it from `src`.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(dst: Borrowed<'_>, src: Borrowed<'_>) -> PyResult<()> {
/// inst_replace_move(dst, src)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_replace_move(dst: Borrowed<'_>, src: Borrowed<'_>) -> PyResult<()> {
    move_impl(dst, src, true, "inst_replace_move()")
}

fn move_impl(dst: Borrowed<'_>, src: Borrowed<'_>, replace: bool, what: &str) -> PyResult<()> {
    let (rec, hd, hs) = pair(dst, src, what)?;
    // SAFETY: reading flags of live instances.
    let src_owns = unsafe { (*hs).flags.get().owns_storage() };
    if !src_owns && !rec.trivial() {
        return Err(PyErr::type_error(format!(
            "{what}: the source references a value owned by another object; it cannot be moved out"
        )));
    }
    // SAFETY: `dst` keeps `hd` alive.
    let _u = unsafe { unique(hd, what)? };
    // SAFETY: `src` keeps `hs` alive; the same cell needs one borrow.
    let _s = if unsafe { (*hd).borrow == (*hs).borrow } {
        None
    } else {
        // SAFETY: as above.
        Some(unsafe { unique(hs, what)? })
    };
    // SAFETY: unique access to both distinct values; the source is marked
    // moved-from (not ready, not destructed) right after the bitwise move.
    unsafe {
        if !replace && (*hd).flags.is_ready() {
            return Err(PyErr::type_error(format!(
                "{what}: the destination is already initialised"
            )));
        }
        drop_value(rec, hd);
        std::ptr::copy_nonoverlapping((*hs).value, (*hd).value, rec.size);
        if src_owns {
            (*hs).flags.remove(InstFlags::READY | InstFlags::DESTRUCT);
        }
        mark_constructed(rec, hd);
    }
    Ok(())
}

/// A new instance of `type(o)` holding a clone of `o`'s value (types
/// declared `clone`); the instance `__dict__` of a Python subclass is
/// copied shallowly. `copy.copy` and `copy.deepcopy` use it.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// # use ndbind::class::lowlevel::*;
/// # #[derive(Clone)]
/// # pub struct Pod { a: f64, b: f64 }
/// # // SAFETY: two f64 fields; all-zero bytes are 0.0.
/// # unsafe impl ndbind::class::Zeroable for Pod {}
/// # ndbind::class!(Pod, clone, zeroable);
/// # fn f(obj: Borrowed<'_>) -> PyResult<()> {
/// let twin = inst_clone(obj)?;
/// # Ok(())
/// # }
/// ```
pub fn inst_clone(o: Borrowed<'_>) -> PyResult<Object> {
    let (rec, h) = parts(o)?;
    let clone = rec
        .clone
        .ok_or_else(|| PyErr::type_error(format!("{} is not declared clone", rec.name())))?;
    // SAFETY: `h` is a live instance of a type whose record is `rec`; a
    // shared borrow is held while the value is cloned into the new
    // instance's storage, which is then marked constructed.
    unsafe {
        if !(*h).flags.is_ready() {
            return Err(PyErr::type_error(format!(
                "cannot copy an uninitialized instance of {}",
                rec.name()
            )));
        }
        // Borrowed before allocating: the allocation may run the collector,
        // and so Python code that would otherwise destruct the value.
        let Some(src) = SharedGuard::try_new((*h).value, (*h).borrow) else {
            return Err(PyErr::runtime_error("cannot copy an instance that is mutably borrowed"));
        };
        let tp = ffi::Py_TYPE(o.as_ptr());
        let obj = Object::from_owned(inst::alloc(tp, rec)?).expect("non-NULL");
        let dst = obj.as_ptr() as *mut InstHeader;
        clone(src.ptr(), (*dst).value);
        drop(src);
        mark_constructed(rec, dst);
        if crate::core::abi::has_instance_dict(tp) && rec.dict_offset == 0 {
            let d = o.getattr(c"__dict__")?;
            obj.borrow().getattr(c"__dict__")?.borrow().call_method(c"update", &[d.borrow()])?;
        }
        Ok(obj)
    }
}
