//! Returning references into `self` (nanobind's `rv_policy::reference_internal`):
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

use crate::core::caster::{type_name_of, ArgCaster, ReturnCtx};
use crate::core::class::cast::{push_type_name, ClassRef};
use crate::core::class::lowlevel::inst_reference;
use crate::core::class::PyClass;
use crate::core::func::bind::{finish, load_failed};
use crate::core::func::FuncParts;
use crate::core::object::Borrowed;

/// A field `U` at a fixed offset inside `T`; made by [`crate::field_of!`].
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
    pub const unsafe fn new_unchecked(offset: usize, _check: fn(&T) -> &U) -> Self {
        FieldProj { offset, _t: PhantomData }
    }

    /// The field's byte offset inside `T`.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// Names a struct field for [`crate::core::class::Class::def_ref`]:
/// `field_of!(Pair, first)`.
///
/// ```ignore
/// c.def_ref("first_ref", ndbind::field_of!(Pair, first), ())?;
/// ```
#[macro_export]
macro_rules! field_of {
    ($t:ty, $f:ident) => {
        // SAFETY: offset_of! gives the offset of the named field, whose type
        // the projection closure fixes.
        unsafe {
            $crate::core::class::FieldProj::new_unchecked(::core::mem::offset_of!($t, $f), |v: &$t| &v.$f)
        }
    };
}

/// The record parts of a `def_ref` method (`self` only).
pub(crate) fn ref_parts<T: PyClass, U: PyClass>(proj: FieldProj<T, U>) -> FuncParts {
    unsafe fn call<T: PyClass, U: PyClass>(
        data: *const (),
        args: *const *mut ffi::PyObject,
        _convert: u64,
        _ctx: &ReturnCtx,
    ) -> *mut ffi::PyObject {
        // SAFETY: `data` is the boxed projection; one argument (`self`).
        let proj = unsafe { &*(data as *const FieldProj<T, U>) };
        let slf = unsafe { Borrowed::from_ptr(*args) };
        let mut h = Default::default();
        if !<ClassRef<T> as ArgCaster>::load(&mut h, slf, false) {
            return load_failed();
        }
        let base = <ClassRef<T> as ArgCaster>::get(&mut h) as *const T as *mut u8;
        drop(h);
        // SAFETY: the field lies inside the parent's value, which `slf`
        // owns; the result keeps `slf` alive and checks it is constructed
        // on every access.
        finish(unsafe { inst_reference::<U>(base.add(proj.offset) as *mut U, Some(slf)) })
    }
    fn sig<T: PyClass, U: PyClass>(out: &mut Vec<String>) {
        out.push(type_name_of(push_type_name::<T>));
        out.push(type_name_of(push_type_name::<U>));
    }
    FuncParts::new(proj, call::<T, U>, 1, sig::<T, U>, 0, 0)
}
