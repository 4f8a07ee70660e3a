//! Instances that do not store their value inline: boxed values whose
//! ownership passes to Python (`inst_take_ownership`), references
//! (`inst_reference`, with an identity map) and references into `self`
//! (nanobind's `rv_policy::reference_internal`):
//! a method that returns a field of a bound class as an instance of the
//! field's class, pointing into the parent object (no copy).
//!
//! Soundness: the field is named by [`crate::field_of!`], i.e. a struct
//! field at a fixed offset, so it is a valid `U` for as long as the parent's
//! value is constructed, whatever `&mut` methods do to the parent (a
//! closure could instead return memory that a later mutation frees). The
//! child shares the parent's borrow cell, and every access to it checks
//! that the parent chain is still constructed.

use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, IntoPy, Param, ReturnCtx};
use crate::core::class::addr_map::AddrMap;
use crate::core::class::borrow::InstFlags;
use crate::core::class::cast::{not_bound, push_type_name, ClassRef};
use crate::core::class::inst::{self, InstHeader};
use crate::core::class::lowlevel::inst_check;
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::func::bind::parts;
use crate::core::func::FuncParts;
use crate::core::gil_cell::GilLock;
use crate::core::object::{Borrowed, Object};
use crate::core::try_ref::{enable, try_new_ref};

/// A field `U` at a fixed offset inside `T`; made by [`crate::field_of!`].
///
/// ```
/// use ndbind::class::FieldProj;
///
/// pub struct Pod { a: f64, b: f64 }
/// pub struct Pair { first: Pod, second: Pod }
///
/// let f: FieldProj<Pair, Pod> = ndbind::field_of!(Pair, first);
/// ```
pub struct FieldProj<T, U> {
    offset: usize,
    _t: PhantomData<fn(&T) -> &U>,
}

impl<T, U> Clone for FieldProj<T, U> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, U> Copy for FieldProj<T, U> {}

impl<T, U> FieldProj<T, U> {
    /// # Safety
    /// `offset` is the offset of a field of type `U` in struct `T`.
    #[doc(hidden)]
    pub const unsafe fn new_unchecked(offset: usize, _check: fn(*const T) -> *const U) -> Self {
        FieldProj { offset, _t: PhantomData }
    }

    /// The field's byte offset inside `T`.
    ///
    /// ```
    /// # pub struct Pod { a: f64, b: f64 }
    /// # pub struct Pair { first: Pod, second: Pod }
    /// assert_eq!(ndbind::field_of!(Pair, second).offset(), std::mem::offset_of!(Pair, second));
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// Names a struct field for [`crate::core::class::Class::def_ref`]:
/// `field_of!(Pair, first)`.
///
/// ```
/// use ndbind::prelude::*;
///
/// pub struct Pod { a: f64, b: f64 }
/// ndbind::class!(Pod);
/// pub struct Pair { first: Pod, second: Pod }
/// ndbind::class!(Pair);
///
/// ndbind::module!(pairs, |m| {
///     m.class::<Pod>("Pod", ())?;
///     m.class::<Pair>("Pair", ())?
///         .def_ref("first_ref", ndbind::field_of!(Pair, first), ())?;
///     Ok(())
/// });
/// ```
///
/// The field must have the projected type itself: a `Box<U>` field is no
/// `U` field (no deref coercion).
///
/// ```compile_fail,E0308
/// struct Inner(u64);
/// struct Outer { b: Box<Inner> }
/// let _: ndbind::class::FieldProj<Outer, Inner> = ndbind::field_of!(Outer, b);
/// ```
#[macro_export]
macro_rules! field_of {
    ($t:ty, $f:ident) => {
        // SAFETY: offset_of! gives the offset of the named field, whose type
        // the projection closure fixes (raw pointers: no deref coercion can
        // turn a `Box<U>` field into a `U`); the closure is never called.
        unsafe {
            $crate::__core::class::FieldProj::new_unchecked(
                ::core::mem::offset_of!($t, $f),
                |v: *const $t| ::core::ptr::addr_of!((*v).$f),
            )
        }
    };
}

/// The `self` of a `def_ref` method: `&T`, never implicitly converted (the
/// result points into it, so it must be the argument itself).
struct RefSelf<T>(PhantomData<T>);

impl<T: PyClass> Param for RefSelf<T> {
    type Caster = RefSelf<T>;
}

impl<T: PyClass> ArgCaster for RefSelf<T> {
    type Holder = <ClassRef<T> as ArgCaster>::Holder;
    type Out<'a> = &'a T;
    const CONVERT_BY_DEFAULT: bool = false;

    #[inline]
    fn load(holder: &mut Self::Holder, obj: Borrowed<'_>, _convert: bool) -> bool {
        <ClassRef<T> as ArgCaster>::load(holder, obj, false)
    }

    #[inline]
    unsafe fn get(holder: &mut Self::Holder) -> &T {
        // SAFETY: the caller's contract, which is `ClassRef`'s.
        unsafe { <ClassRef<T> as ArgCaster>::get(holder) }
    }

    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

/// The result of a `def_ref` method: a field of `self`'s value, returned
/// as an instance of `U` that references it. Made only by [`ref_parts`].
struct FieldRef<U>(*mut U);

impl<U: PyClass> IntoPy for FieldRef<U> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        // A method's context has `self`, the object the field lies in.
        let parent =
            ctx.parent().ok_or_else(|| PyErr::type_error("ndbind: def_ref without self"))?;
        // SAFETY: the field lies inside the value of `parent`, the `self`
        // it was projected from (loaded without conversion, so the
        // argument itself): the result keeps `parent` alive and checks it
        // is constructed on every access.
        unsafe { inst_reference::<U>(self.0, Some(parent)) }
    }

    fn type_name(out: &mut String) {
        push_type_name::<U>(out)
    }
}

/// The record parts of a `def_ref` method (`self` only).
pub(crate) fn ref_parts<T: PyClass, U: PyClass>(proj: FieldProj<T, U>) -> FuncParts {
    parts::<_, (RefSelf<T>,), false>(move |t: &T| {
        // SAFETY: `proj` names a field of `T` (`field_of!`), so the offset
        // stays inside the value `t` points at.
        FieldRef(unsafe { (t as *const T as *mut u8).add(proj.offset) } as *mut U)
    })
}

/// A new instance owning `value` through its `Box` (no copy of the value:
/// the instance points at the box, which it frees on death).
///
/// ```
/// # pub struct Pod { a: f64, b: f64 }
/// # ndbind::class!(Pod);
/// use ndbind::class::inst_take_ownership;
/// # use ndbind::prelude::*;
/// # ndbind::module!(doc_ext, |m| {
/// m.def("make", || inst_take_ownership(Box::new(Pod { a: 1.0, b: 2.0 })), ())?;
/// # Ok(())
/// # });
/// ```
pub fn inst_take_ownership<T: PyClass>(value: Box<T>) -> PyResult<Object> {
    crate::core::gil::assert_held("inst_take_ownership");
    // SAFETY: a fresh instance of T's bound class; the box becomes owned by
    // the instance (freed with T's layout in inst_dealloc).
    unsafe {
        let obj = crate::core::class::cast::alloc_instance::<T>()?;
        let h = obj as *mut InstHeader;
        (*h).value = Box::into_raw(value) as *mut u8;
        (*h).flags.set(InstFlags::READY | InstFlags::DESTRUCT | InstFlags::OWNED_BOX);
        Ok(Object::from_owned(obj).expect("non-NULL"))
    }
}

/// The identity map of references: `(value address, type)` → instance.
static ID_MAP: GilLock<AddrMap<(usize, usize), usize>> = GilLock::new();

pub(crate) fn id_map_remove(value: *mut u8, tp: *mut ffi::PyTypeObject, obj: *mut ffi::PyObject) {
    ID_MAP.with_made(|m| {
        if m.get(&(value as usize, tp as usize)) == Some(&(obj as usize)) {
            m.remove(&(value as usize, tp as usize));
        }
    });
}

/// The live reference instance of class `tp` whose value is at `value`.
pub(crate) fn id_map_find(value: *mut u8, tp: *mut ffi::PyTypeObject) -> Option<Object> {
    ID_MAP.with_made(|m| {
        let o = *m.get(&(value as usize, tp as usize))? as *mut ffi::PyObject;
        // SAFETY: the map holds live or dying instances (removed under this
        // lock before they are freed, entered after `enable`); a dying one
        // is not handed out.
        unsafe { try_new_ref(o) }
    })?
}

/// An instance that references `*ptr` without owning it (state
/// `(True, False)`). `parent`, if given, is kept alive as long as the
/// result and shares its borrow cell with it. Referencing the same
/// address twice gives the same object while it lives.
///
/// # Safety
/// `ptr` points to a valid `T` that outlives the result: inside `parent`'s
/// value (which the result keeps alive, and whose borrow cell the result
/// shares), or `'static`. While the result lives, Rust code does not use
/// other references to `*ptr`: the result hands out `&T` and `&mut T`
/// through ndbind's borrow checks, which only see borrows made through
/// instances.
///
/// ```no_run
/// # use ndbind::prelude::*;
/// use ndbind::class::inst_reference;
/// # pub struct Pod { a: f64, b: f64 }
/// # ndbind::class!(Pod);
/// # pub struct Pair { first: Pod, second: Pod }
/// # fn f(pair: &mut Pair, parent: Borrowed<'_>) -> PyResult<()> {
/// // SAFETY: the field lives inside `parent`, which the result keeps alive.
/// let r = unsafe { inst_reference(&mut pair.first as *mut Pod, Some(parent))? };
/// # Ok(())
/// # }
/// ```
pub unsafe fn inst_reference<T: PyClass>(
    ptr: *mut T,
    parent: Option<Borrowed<'_>>,
) -> PyResult<Object> {
    let tp = T::type_slot().type_ptr();
    if tp.is_null() {
        return Err(not_bound::<T>());
    }
    let key = (ptr as usize, tp as usize);
    // A dying instance (reference count zero: a Python subclass's
    // `subtype_dealloc` runs Python code before `inst_dealloc` removes the
    // entry) is not handed out again.
    if let Some(o) = id_map_find(ptr as *mut u8, tp) {
        return Ok(o);
    }
    // SAFETY: a bound class (its slot is set), alive while bound.
    let rec = unsafe { record_of(tp) }.ok_or_else(not_bound::<T>)?;
    // SAFETY: `tp` is the bound class whose record `rec` is.
    let obj = unsafe { inst::alloc(tp, rec) }?;
    let h = obj as *mut InstHeader;
    // SAFETY: `obj` is a fresh instance of `tp`, not exposed yet; the
    // value is the caller's `*ptr` (the caller's contract), never dropped
    // (no DESTRUCT). A parent is a live object the result now holds, and
    // an ndbind parent's borrow cell outlives the result (which keeps the
    // parent alive).
    unsafe {
        (*h).value = ptr as *mut u8;
        (*h).flags.set(InstFlags::READY | InstFlags::IN_ID_MAP);
        if let Some(p) = parent {
            ffi::Py_INCREF(p.as_ptr());
            (*h).parent = p.as_ptr();
            if inst_check(p) {
                (*h).borrow = (*(p.as_ptr() as *mut InstHeader)).borrow;
            }
        }
    }
    // SAFETY: a live instance, found through the map from now on.
    unsafe { enable(obj) };
    // Another reference instance of the same value may have been entered
    // since the lookup above: by another thread (free-threaded), or by
    // code the allocation ran (a collection's finalizers). Two live ones
    // would each hand out `&mut T` under their own borrow cell: the one
    // entered first wins, in the same step as the entry, and ours dies
    // (unentered: `id_map_remove` compares).
    let entered = ID_MAP.with(|m| {
        if let Some(&o) = m.get(&key) {
            // SAFETY: as in `id_map_find` (read under the lock).
            if let Some(live) = unsafe { try_new_ref(o as *mut ffi::PyObject) } {
                return Some(live);
            }
        }
        m.insert(key, obj as usize);
        None
    });
    // SAFETY: `obj` is a new reference (from `alloc`).
    let ours = unsafe { Object::from_owned(obj) }.expect("non-NULL");
    // Dropped after the lock is released: its death runs Python code.
    Ok(entered.unwrap_or(ours))
}

/// Objects kept alive by ndbind instances: nurse address → patients.
static KEPT: GilLock<AddrMap<usize, Vec<Object>>> = GilLock::new();

/// Keeps `patient` alive at least as long as `nurse` (nanobind's
/// `keep_alive`). An ndbind instance holds the reference itself (released
/// when it dies); any other nurse must support weak references, else this
/// raises nanobind's `RuntimeError` (the `TypeError` of the weak
/// reference as its cause). A `None` nurse or patient, or a nurse that is
/// the patient, does nothing. The binding annotation
/// [`crate::keep_alive`] calls this after each call.
///
/// ```
/// use ndbind::class::keep_alive;
/// # use ndbind::prelude::*;
/// # ndbind::module!(doc_ext, |m| {
/// m.def(
///     "attach",
///     |owner: Borrowed<'_>, item: Borrowed<'_>| keep_alive(owner, item),
///     (arg("owner"), arg("item")),
/// )?;
/// # Ok(())
/// # });
/// ```
pub fn keep_alive(nurse: Borrowed<'_>, patient: Borrowed<'_>) -> PyResult<()> {
    if nurse.is(patient) || patient.is_none() || nurse.is_none() {
        return Ok(());
    }
    if inst_check(nurse) {
        let patient = patient.to_owned();
        KEPT.with(|m| m.entry(nurse.as_ptr() as usize).or_default().push(patient));
        // SAFETY: `nurse` is a live ndbind instance.
        unsafe { (*(nurse.as_ptr() as *mut InstHeader)).flags.insert(InstFlags::KEEP_ALIVE) };
        return Ok(());
    }
    // weakref.finalize(nurse, id, patient) holds `patient` until `nurse` dies.
    let weakref = Object::import_held(c"weakref")?;
    let finalize = weakref.borrow().getattr(c"finalize")?;
    let builtins = Object::import_held(c"builtins")?;
    let id = builtins.borrow().getattr(c"id")?;
    match finalize.borrow().call(&[nurse, id.borrow(), patient]) {
        Ok(_) => Ok(()),
        // SAFETY: a static exception type.
        Err(e) if e.is_instance_of(unsafe { Borrowed::from_ptr(ffi::PyExc_TypeError) }) => Err(PyErr::runtime_error(
            "ndbind: keep_alive(): could not create a weak reference! Likely, the 'nurse' argument you specified is not a weak-referenceable type!",
        )
        .with_cause(e)),
        Err(e) => Err(e),
    }
}

/// The patients of a dying nurse (released by the caller after the nurse
/// is freed).
pub(crate) fn keep_alive_take(nurse: *mut ffi::PyObject) -> Vec<Object> {
    KEPT.with_made(|m| m.remove(&(nurse as usize))).flatten().unwrap_or_default()
}
