//! Instances of bound classes: the object layout, allocation, deallocation
//! and the construction fast path (`tp_vectorcall` of the type).
//!
//! ```text
//! PyObject header | value ptr | borrow ptr | own borrow | flags | parent | [pad] value (inline) [| __dict__ | weaklist]
//! ```
//!
//! The value normally lives inline, right after the header (no extra heap
//! allocation); `value` then points at it. The padding aligns it at run
//! time, so any alignment the Rust type asks for holds (an object itself
//! is only pointer-aligned for sure). An instance that references a
//! value owned elsewhere (a field of another instance, a boxed value whose
//! ownership passed to Python) points there instead. `borrow` points at
//! the cell that guards the value: the instance's own, or for a reference
//! into another instance, the root owner's, so a `&mut` to the parent and a
//! reference to its field can never be live at once.

use std::ffi::c_int;

use pyo3_ffi as ffi;

use crate::core::class::borrow::{cell_of, BorrowCell, FlagsCell, InstFlags, UniqueGuard};
use crate::core::class::meta::guard_obj;
use crate::core::class::record::{record_of, TypeRecord};
use crate::core::error::{PyErr, PyResult};

/// The header every instance starts with.
#[repr(C)]
pub(crate) struct InstHeader {
    pub(crate) ob_base: ffi::PyObject,
    /// Where the value lives (inline or elsewhere).
    pub(crate) value: *mut u8,
    /// The borrow cell guarding the value (see `borrow`): `own_borrow`,
    /// or the root owner's for a reference into another instance.
    pub(crate) borrow: *const BorrowCell,
    pub(crate) own_borrow: BorrowCell,
    pub(crate) flags: FlagsCell,
    /// The instance that owns the referenced value (a strong reference),
    /// or NULL.
    pub(crate) parent: *mut ffi::PyObject,
}

/// Size of the header, before the inline value.
pub(crate) const HEADER: usize = std::mem::size_of::<InstHeader>();

/// The alignment every allocator CPython may use gives an object (that of
/// a pointer): pymalloc and glibc give 16 on 64-bit targets, but
/// `PYTHONMALLOC=malloc` with another libc, or a debug allocator, need not.
pub(crate) const OBJECT_ALIGN: usize = std::mem::align_of::<*mut ffi::PyObject>();

/// Offset from an object where its inline value's storage starts
/// ([`inline_value`] aligns it further at run time).
pub(crate) const VALUE_OFFSET: usize = HEADER.div_ceil(OBJECT_ALIGN) * OBJECT_ALIGN;

/// Bytes an instance reserves for an inline value of `size` and `align`:
/// enough that [`inline_value`] can align it at run time, whatever the
/// object's own address (a value aligned above [`OBJECT_ALIGN`], e.g.
/// `#[repr(align(128))]`, needs up to `align - OBJECT_ALIGN` bytes of
/// padding).
pub(crate) const fn value_room(size: usize, align: usize) -> usize {
    size + align.saturating_sub(OBJECT_ALIGN)
}

/// Where the inline value of `obj` (an instance of a type whose record is
/// `rec`) lives: the first address aligned to `rec.align` at or after
/// `rec.value_offset`. Depends on the object's address only, so it is the
/// same for the instance's whole life.
///
/// # Safety
/// `obj` is an instance allocated with `rec`'s basic size (or a Python
/// subclass's, which extends it).
#[inline]
pub(crate) unsafe fn inline_value(obj: *mut ffi::PyObject, rec: &TypeRecord) -> *mut u8 {
    // SAFETY: (caller) the object reserves `VALUE_OFFSET` bytes of header
    // and then `value_room(size, align)` bytes, enough for the value at
    // the next `align` boundary (`align` is a power of two, from
    // `align_of`).
    unsafe {
        let p = (obj as *mut u8).add(VALUE_OFFSET);
        p.add((p as usize).wrapping_neg() & (rec.align.max(1) - 1))
    }
}

/// Allocates an instance of `tp` (whose record is `rec`): zeroed, not
/// ready, value storage inline.
///
/// # Safety
/// `tp` is a bound class or a Python subclass of one, `rec` its record.
#[inline]
pub(crate) unsafe fn alloc(
    tp: *mut ffi::PyTypeObject,
    rec: &TypeRecord,
) -> PyResult<*mut ffi::PyObject> {
    let obj = if tp == rec.type_ptr && rec.plain_alloc {
        // No GC header, no dict or weaklist slot: the header is all that
        // must be initialised (the value storage is written before the
        // instance is ever marked ready), so skip tp_alloc's memset.
        // SAFETY: a fresh block of the class's basic size, initialised as
        // an object of `tp` (a plain class: nothing else to set up) with
        // the header fields the zeroing would have set.
        unsafe {
            let p = ffi::PyObject_Malloc(rec.basicsize) as *mut ffi::PyObject;
            if p.is_null() {
                return Err(PyErr::memory_error("ndbind: out of memory allocating an instance"));
            }
            ffi::PyObject_Init(p, tp);
            let h = p as *mut InstHeader;
            std::ptr::addr_of_mut!((*h).own_borrow).write(BorrowCell::new());
            (*h).parent = std::ptr::null_mut();
            p
        }
    } else {
        // SAFETY: (caller) `tp` is a valid type; its `tp_alloc` returns a
        // zeroed instance of its basic size.
        let p = unsafe { crate::core::abi::type_alloc(tp)(tp, 0) };
        if p.is_null() {
            return Err(PyErr::fetch());
        }
        p
    };
    let h = obj as *mut InstHeader;
    // SAFETY: a fresh instance of `rec`'s class (or a subclass, which
    // extends its layout): its header is ours to set.
    unsafe {
        (*h).value = inline_value(obj, rec);
        (*h).borrow = std::ptr::addr_of!((*h).own_borrow);
        (*h).flags.set(InstFlags::INLINE);
    }
    rec.live.add(1);
    crate::core::leak_report::inst_created();
    Ok(obj)
}

/// `tp_new` of bound classes: an uninitialised (not ready) instance;
/// `__init__` constructs the value.
pub(crate) unsafe extern "C" fn inst_new(
    tp: *mut ffi::PyTypeObject,
    _args: *mut ffi::PyObject,
    _kw: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    guard_obj(|| {
        // SAFETY: tp_new of a bound class receives that class or a subclass.
        unsafe {
            let rec =
                record_of(tp).ok_or_else(|| PyErr::type_error("ndbind: not a bound class"))?;
            alloc(tp, rec)
        }
    })
}

/// `tp_dealloc` of bound classes (also reached from `subtype_dealloc` of
/// Python subclasses, which clears their own slots first).
pub(crate) unsafe extern "C" fn inst_dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: `obj` is a dying instance of a bound class; every owned part
    // (value, box, dict, parent reference) is released exactly once.
    unsafe {
        let tp = ffi::Py_TYPE(obj);
        let rec = record_of(tp).expect("ndbind: instance of a type without a record");
        let h = obj as *mut InstHeader;
        let flags = (*h).flags.get();
        // Out of the identity maps first: clearing weak references, the
        // `__dict__` and the value below may run Python code, which must
        // not find this dying object there.
        if flags.contains(InstFlags::IN_ID_MAP) {
            crate::core::class::refs::id_map_remove((*h).value, tp_of_record(rec), obj);
        }
        if flags.contains(InstFlags::MOVED_OUT) {
            crate::core::class::holder::moved_forget(obj);
        }
        let arc = if flags.contains(InstFlags::ARC) {
            crate::core::class::holder::arc_forget((*h).value, obj)
        } else {
            None
        };
        // Nor through its trampoline (an override reached from Rust code
        // that shares the value, e.g. through an `Arc`).
        crate::core::class::trampoline::detach(rec.slot, h);
        if ffi::PyType_IS_GC(tp) != 0 {
            ffi::PyObject_GC_UnTrack(obj as *mut std::ffi::c_void);
        }
        if rec.weaklist_offset != 0 {
            let wl = (obj as *mut u8).offset(rec.weaklist_offset) as *mut *mut ffi::PyObject;
            if !(*wl).is_null() {
                ffi::PyObject_ClearWeakRefs(obj);
            }
        }
        clear_dict(obj, rec);
        // Python code ran: decide on what the flags say now.
        let flags = (*h).flags.get();
        // A panicking Drop must not unwind into CPython, and one that runs
        // Python code must not see (or clobber) a pending exception.
        if flags.contains(InstFlags::DESTRUCT) {
            if let Some(drop) = rec.drop {
                let value = (*h).value;
                crate::core::error::guard_silent(rec.name(), || drop(value));
            }
        }
        if flags.contains(InstFlags::OWNED_BOX) && rec.size != 0 {
            let layout = std::alloc::Layout::from_size_align_unchecked(rec.size, rec.align);
            std::alloc::dealloc((*h).value, layout);
        }
        if flags.contains(InstFlags::ARC) {
            crate::core::class::holder::arc_release((*h).value, arc);
        }
        let parent = std::mem::replace(&mut (*h).parent, std::ptr::null_mut());
        let kept = if flags.contains(InstFlags::KEEP_ALIVE) {
            crate::core::class::refs::keep_alive_take(obj)
        } else {
            Vec::new()
        };
        rec.live.add(-1);
        crate::core::leak_report::inst_freed();
        let free = crate::core::abi::type_free(tp);
        free(obj as *mut std::ffi::c_void);
        ffi::Py_DECREF(tp as *mut ffi::PyObject);
        if !parent.is_null() {
            ffi::Py_DECREF(parent);
        }
        drop(kept);
    }
}

#[inline]
fn tp_of_record(rec: &TypeRecord) -> *mut ffi::PyTypeObject {
    rec.type_ptr
}

/// `tp_traverse` of classes with a `__dict__` (GC-enabled).
pub(crate) unsafe extern "C" fn inst_traverse(
    obj: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut std::ffi::c_void,
) -> c_int {
    // SAFETY: `obj` is a live instance of a bound class.
    unsafe {
        let tp = ffi::Py_TYPE(obj);
        if let Some(rec) = record_of(tp) {
            if rec.dict_offset != 0 {
                let d = *((obj as *mut u8).offset(rec.dict_offset) as *mut *mut ffi::PyObject);
                if !d.is_null() {
                    let rc = visit(d, arg);
                    if rc != 0 {
                        return rc;
                    }
                }
            }
        }
        let h = obj as *mut InstHeader;
        if let Some((g, off)) = record_of(tp).and_then(|r| r.gc) {
            // Not while a `&mut` to the value is live.
            #[cfg(not(Py_GIL_DISABLED))]
            let visiting = (*h).flags.is_ready() && !cell_of(h).is_unique();
            // Free-threaded, `gc.get_referents` runs with other threads
            // running, which may take `&mut` (or destruct the value) right
            // after a check: the visit holds a shared borrow, and checks
            // readiness once it is held.
            #[cfg(Py_GIL_DISABLED)]
            let held =
                crate::core::class::borrow::SharedGuard::try_new(std::ptr::null_mut(), cell_of(h))
                    .filter(|_| (*h).flags.is_ready());
            #[cfg(Py_GIL_DISABLED)]
            let visiting = held.is_some();
            if visiting {
                let rc = (g.traverse)((*h).value.add(off), visit, arg);
                if rc != 0 {
                    return rc;
                }
            }
        }
        let parent = (*h).parent;
        if !parent.is_null() {
            let rc = visit(parent, arg);
            if rc != 0 {
                return rc;
            }
        }
        // Instances of heap types own a reference to their type.
        visit(tp as *mut ffi::PyObject, arg)
    }
}

/// Drops the instance `__dict__` (if the class has one) and empties its slot.
///
/// # Safety
/// `obj` is a live instance of the class `rec` describes; the GIL is held.
unsafe fn clear_dict(obj: *mut ffi::PyObject, rec: &TypeRecord) {
    if rec.dict_offset != 0 {
        // SAFETY: the slot lies within the instance at the class's offset.
        unsafe {
            let d = (obj as *mut u8).offset(rec.dict_offset) as *mut *mut ffi::PyObject;
            let old = std::mem::replace(&mut *d, std::ptr::null_mut());
            if !old.is_null() {
                ffi::Py_DECREF(old);
            }
        }
    }
}

/// `tp_clear` of classes with a `__dict__`: breaks cycles through it.
pub(crate) unsafe extern "C" fn inst_clear(obj: *mut ffi::PyObject) -> c_int {
    // SAFETY: `obj` is a live instance of a bound class.
    unsafe {
        if let Some(rec) = record_of(ffi::Py_TYPE(obj)) {
            clear_dict(obj, rec);
            let h = obj as *mut InstHeader;
            if let Some((g, off)) = rec.gc {
                // Only an unborrowed value; uniquely borrowed meanwhile.
                if (*h).flags.is_ready() {
                    if let Some(u) = UniqueGuard::try_new((*h).value, (*h).borrow) {
                        (g.clear)(u.ptr().add(off));
                    }
                }
            }
        }
        0
    }
}

/// Calls the single `__init__` overload directly. `None` when the
/// arguments do not match (the general path then raises the full error).
///
/// # Safety
/// `obj` is a fresh instance (a reference the caller gives up when this
/// returns `Some`); `args` holds `nargs` (< `STACK_ARGS`) live arguments;
/// `fast` was taken from the class's current `__init__`, which the caller
/// holds.
#[inline]
unsafe fn init_direct(
    fast: &crate::core::class::record::InitFast,
    obj: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: usize,
) -> Option<PyResult<*mut ffi::PyObject>> {
    let mut buf = [std::ptr::null_mut::<ffi::PyObject>(); STACK_ARGS];
    buf[0] = obj;
    // SAFETY: (caller) `nargs` < STACK_ARGS readable arguments.
    unsafe { std::ptr::copy_nonoverlapping(args, buf.as_mut_ptr().add(1), nargs) };
    let mut mask = fast.none_reject & !1;
    // SAFETY: the GIL is held.
    let none = unsafe { ffi::Py_None() };
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        if buf[i] == none {
            return None;
        }
        mask &= mask - 1;
    }
    // SAFETY: (caller) the overload's own site, with `self` and its
    // `nargs` arguments, as the dispatcher would call it.
    let res = unsafe { (fast.call)(&fast.site, buf.as_ptr(), !0, std::ptr::null_mut()) };
    if res == crate::core::func::record::NEXT_OVERLOAD {
        return None;
    }
    if res.is_null() {
        // SAFETY: (caller) the reference to `obj` is ours to give up.
        unsafe { ffi::Py_DECREF(obj) };
        return Some(Err(PyErr::fetch()));
    }
    // SAFETY: a new reference the call returned.
    unsafe { ffi::Py_DECREF(res) };
    Some(Ok(obj))
}

/// Arguments prepended with `self` are arranged on the stack up to this count.
const STACK_ARGS: usize = 16;

/// `tp_vectorcall` of a bound class: `Point(1.0, 2.0)` allocates the
/// instance and calls `__init__` with it prepended, without the argument
/// tuple and dict of `type.__call__`.
pub(crate) unsafe extern "C" fn class_vectorcall(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    guard_obj(|| {
        // SAFETY: installed only on bound class types (never inherited);
        // CPython passes nargs + len(kwnames) valid arguments. A writable
        // slot before `args` is used only when the caller says so
        // (PY_VECTORCALL_ARGUMENTS_OFFSET) and restored right after.
        unsafe {
            let tp = callable as *mut ffi::PyTypeObject;
            let rec =
                record_of(tp).ok_or_else(|| PyErr::type_error("ndbind: not a bound class"))?;
            let init = rec.init.get();
            if init.is_null() {
                return Err(PyErr::type_error(format!("{}: no constructor defined!", rec.name())));
            }
            // Held for the call: code the constructor runs may reassign
            // `__init__`, which frees the function (and the overload
            // record the fast path calls into) unless someone holds it.
            let init_ref = crate::core::object::Object::from_borrowed(init);
            let obj = alloc(tp, rec)?;
            let nargs = crate::core::abi::vectorcall_nargs(nargsf) as usize;
            let nkw =
                if kwnames.is_null() { 0 } else { crate::core::abi::tuple_size(kwnames) as usize };
            if let Some(fast) = rec.init_fast.get() {
                if nkw == 0 && nargs + 1 == fast.nargs && nargs < STACK_ARGS {
                    if let Some(r) = init_direct(&fast, obj, args, nargs) {
                        return r;
                    }
                }
            }
            let total = nargs + nkw;
            let res = if nargsf & ffi::PY_VECTORCALL_ARGUMENTS_OFFSET != 0 {
                let slot = args.sub(1) as *mut *mut ffi::PyObject;
                let saved = *slot;
                *slot = obj;
                let r = ffi::PyObject_Vectorcall(init, slot, nargs + 1, kwnames);
                *slot = saved;
                r
            } else if total < STACK_ARGS {
                let mut buf = [std::ptr::null_mut::<ffi::PyObject>(); STACK_ARGS];
                buf[0] = obj;
                std::ptr::copy_nonoverlapping(args, buf.as_mut_ptr().add(1), total);
                ffi::PyObject_Vectorcall(init, buf.as_ptr(), nargs + 1, kwnames)
            } else {
                let mut buf = Vec::with_capacity(total + 1);
                buf.push(obj);
                buf.extend_from_slice(std::slice::from_raw_parts(args, total));
                ffi::PyObject_Vectorcall(init, buf.as_ptr(), nargs + 1, kwnames)
            };
            drop(init_ref);
            if res.is_null() {
                ffi::Py_DECREF(obj);
                return Err(PyErr::fetch());
            }
            ffi::Py_DECREF(res);
            Ok(obj)
        }
    })
}
