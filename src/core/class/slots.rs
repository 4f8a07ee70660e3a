//! Custom CPython type slots for bound classes (`raw_slot`): a way to add
//! what ndbind has no binding API for (the buffer protocol, iterator
//! slots, `tp_call`, `tp_finalize`, ...) without forking ndbind. The slot
//! is filled in before `PyType_Ready`, as in a static type, so CPython
//! also adds the matching Python-visible wrappers (`__iter__`, ...).
//!
//! Slots that ndbind manages itself (allocation, deallocation, `tp_new` /
//! `tp_init`, `tp_traverse` / `tp_clear`: see [`crate::core::class::gc`],
//! members and getsets, the docstring, vectorcall) are refused.
//!
//! ```
//! use std::ffi::c_void;
//! use ndbind::class::raw_slot;
//! use ndbind::ffi;
//! use ndbind::prelude::*;
//!
//! /// An iterator that is exhausted from the start.
//! pub struct Empty;
//! ndbind::class!(Empty);
//!
//! /// `iter(x)` is `x` itself.
//! unsafe extern "C" fn iter_self(o: *mut ffi::PyObject) -> *mut ffi::PyObject {
//!     // SAFETY: CPython passes a live object; the result is a new reference.
//!     unsafe { ffi::Py_NewRef(o) }
//! }
//!
//! /// `next(x)`: NULL with no exception set is `StopIteration`.
//! unsafe extern "C" fn next_none(_: *mut ffi::PyObject) -> *mut ffi::PyObject {
//!     std::ptr::null_mut()
//! }
//!
//! ndbind::module!(iters, |m| {
//!     // SAFETY: the functions have the signatures of `tp_iter` and
//!     // `tp_iternext`, and neither touches the (maybe not ready) value.
//!     let slots = unsafe {
//!         (
//!             raw_slot(ffi::Py_tp_iter, iter_self as *mut c_void),
//!             raw_slot(ffi::Py_tp_iternext, next_none as *mut c_void),
//!         )
//!     };
//!     m.class::<Empty>("Empty", slots)?.init(|| Empty, ())?;
//!     Ok(())
//! });
//! ```

use std::ffi::{c_int, c_void};

use pyo3_ffi as ffi;

use crate::core::class::builder::ClassExtra;
use crate::core::class::record::TypeRecord;
use crate::core::error::{PyErr, PyResult};

/// A class annotation adding one CPython type slot; see [`raw_slot`].
///
/// ```
/// # use std::ffi::c_void;
/// use ndbind::class::{raw_slot, RawSlot};
/// use ndbind::ffi;
/// # unsafe extern "C" fn iter(o: *mut ffi::PyObject) -> *mut ffi::PyObject {
/// #     // SAFETY: CPython passes a live object; the result is a new reference.
/// #     unsafe { ffi::Py_NewRef(o) }
/// # }
///
/// // SAFETY: `iter` has the signature of `tp_iter`.
/// let s: RawSlot = unsafe { raw_slot(ffi::Py_tp_iter, iter as *mut c_void) };
/// ```
pub struct RawSlot(c_int, *mut c_void);

/// Class annotation: sets CPython type slot `id` (a `ffi::Py_*` slot
/// number, as in `PyType_Slot`) of the class to `f`.
///
/// # Safety
/// `f` is a function with the C signature CPython expects for slot `id`;
/// it must not unwind, and must handle instances that are not ready
/// (see [`crate::core::class::inst_ready`]).
///
/// ```
/// # use std::ffi::c_void;
/// # use ndbind::class::raw_slot;
/// # use ndbind::ffi;
/// # unsafe extern "C" fn iter(o: *mut ffi::PyObject) -> *mut ffi::PyObject {
/// #     // SAFETY: CPython passes a live object; the result is a new reference.
/// #     unsafe { ffi::Py_NewRef(o) }
/// # }
/// // SAFETY: `iter` has the signature of `tp_iter`.
/// let slot = unsafe { raw_slot(ffi::Py_tp_iter, iter as *mut c_void) };
/// ```
pub unsafe fn raw_slot(id: c_int, f: *mut c_void) -> RawSlot {
    RawSlot(id, f)
}

impl ClassExtra for RawSlot {
    fn apply(self, rec: &mut TypeRecord) {
        rec.slots.push((self.0, self.1));
    }
}

/// Stores the function pointer `p` in a slot field.
///
/// # Safety
/// `p` is a function of the field's signature.
#[cfg(not(Py_LIMITED_API))]
unsafe fn put<F: Copy>(field: &mut Option<F>, p: *mut c_void) {
    assert_eq!(std::mem::size_of::<Option<F>>(), std::mem::size_of::<*mut c_void>());
    // SAFETY: same size (checked); (caller) `p` is NULL or a function of
    // the field's signature, i.e. a valid `Option<F>`.
    *field = unsafe { std::mem::transmute_copy::<*mut c_void, Option<F>>(&p) };
}

/// Refuses a slot ndbind manages or has a binding API for.
pub(crate) fn check_settable(id: c_int) -> PyResult<()> {
    if matches!(
        id,
        ffi::Py_bf_getbuffer
            | ffi::Py_bf_releasebuffer
            | ffi::Py_mp_length
            | ffi::Py_mp_subscript
            | ffi::Py_mp_ass_subscript
            | ffi::Py_sq_length
            | ffi::Py_sq_item
            | ffi::Py_sq_ass_item
            | ffi::Py_sq_contains
            | ffi::Py_sq_concat
            | ffi::Py_sq_repeat
            | ffi::Py_nb_bool
            | ffi::Py_nb_index
            | ffi::Py_nb_int
            | ffi::Py_nb_float
            | ffi::Py_tp_call
            | ffi::Py_tp_iter
            | ffi::Py_tp_iternext
            | ffi::Py_tp_hash
            | ffi::Py_tp_richcompare
            | ffi::Py_tp_repr
            | ffi::Py_tp_str
            | ffi::Py_tp_getattro
            | ffi::Py_tp_setattro
            | ffi::Py_tp_descr_get
            | ffi::Py_tp_descr_set
            | ffi::Py_tp_finalize
    ) {
        return Ok(());
    }
    Err(PyErr::value_error(format!(
        "ndbind: type slot {id} cannot be set with raw_slot (ndbind manages it, or it has a binding API)"
    )))
}

/// Fills slot `id` of the type being created (version-specific build; the
/// abi3 build passes the slots to `PyType_FromMetaclass`).
///
/// # Safety
/// `ht` is a heap type under construction (before `PyType_Ready`) whose
/// `tp_as_*` pointers point at its own tables; `p` is valid for `id`.
#[cfg(not(Py_LIMITED_API))]
pub(crate) unsafe fn apply(
    ht: *mut ffi::PyHeapTypeObject,
    id: c_int,
    p: *mut c_void,
) -> PyResult<()> {
    // SAFETY: (caller) `ht` is a heap type under construction that only
    // this thread sees, so its tables may be borrowed mutably; `p` is valid
    // for slot `id`, so each `put` stores a function of its field's type.
    unsafe {
        let tp = &mut *(ht as *mut ffi::PyTypeObject);
        let bf = &mut (*ht).as_buffer;
        let mp = &mut (*ht).as_mapping;
        let sq = &mut (*ht).as_sequence;
        let nb = &mut (*ht).as_number;
        match id {
            ffi::Py_bf_getbuffer => put(&mut bf.bf_getbuffer, p),
            ffi::Py_bf_releasebuffer => put(&mut bf.bf_releasebuffer, p),
            ffi::Py_mp_length => put(&mut mp.mp_length, p),
            ffi::Py_mp_subscript => put(&mut mp.mp_subscript, p),
            ffi::Py_mp_ass_subscript => put(&mut mp.mp_ass_subscript, p),
            ffi::Py_sq_length => put(&mut sq.sq_length, p),
            ffi::Py_sq_item => put(&mut sq.sq_item, p),
            ffi::Py_sq_ass_item => put(&mut sq.sq_ass_item, p),
            ffi::Py_sq_contains => put(&mut sq.sq_contains, p),
            ffi::Py_sq_concat => put(&mut sq.sq_concat, p),
            ffi::Py_sq_repeat => put(&mut sq.sq_repeat, p),
            ffi::Py_nb_bool => put(&mut nb.nb_bool, p),
            ffi::Py_nb_index => put(&mut nb.nb_index, p),
            ffi::Py_nb_int => put(&mut nb.nb_int, p),
            ffi::Py_nb_float => put(&mut nb.nb_float, p),
            ffi::Py_tp_call => put(&mut tp.tp_call, p),
            ffi::Py_tp_iter => put(&mut tp.tp_iter, p),
            ffi::Py_tp_iternext => put(&mut tp.tp_iternext, p),
            ffi::Py_tp_hash => put(&mut tp.tp_hash, p),
            ffi::Py_tp_richcompare => put(&mut tp.tp_richcompare, p),
            ffi::Py_tp_repr => put(&mut tp.tp_repr, p),
            ffi::Py_tp_str => put(&mut tp.tp_str, p),
            ffi::Py_tp_getattro => put(&mut tp.tp_getattro, p),
            ffi::Py_tp_setattro => put(&mut tp.tp_setattro, p),
            ffi::Py_tp_descr_get => put(&mut tp.tp_descr_get, p),
            ffi::Py_tp_descr_set => put(&mut tp.tp_descr_set, p),
            ffi::Py_tp_finalize => put(&mut tp.tp_finalize, p),
            _ => return check_settable(id),
        }
    }
    Ok(())
}
