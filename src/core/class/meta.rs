//! The metaclass of bound classes, `ndbind.nb_type` (nanobind's `nb_type`):
//! a subclass of `type` whose instances carry one extra pointer, the
//! [`TypeRecord`] of the class. It also
//! - frees the record when a bound type dies,
//! - routes `Class.attr = value` to a static property's setter,
//! - gives Python subclasses their base's record (`tp_init`),
//! - makes type objects callable through vectorcall (construction).

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use pyo3_ffi as ffi;

use crate::core::class::getset::static_property_set;
use crate::core::class::record::{self, TypeRecord};
use crate::core::error::{panic_to_pyerr, PyErr, PyResult};
use crate::core::gil_cell::GilCell;
use crate::core::heap_type::{new_type, slot};
use crate::core::object::Object;

static META: GilCell<Object> = GilCell::new();
/// The metaclass pointer, for a lock-free check on hot paths (NULL until
/// the first class is bound).
static META_PTR: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(std::ptr::null_mut());
/// Offset of the record pointer in a type object: `type`'s basicsize.
static RECORD_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// Whether `tp` is an instance of the metaclass (a bound class or a Python
/// subclass of one).
///
/// # Safety
/// `tp` is a valid type object.
#[inline]
pub(crate) unsafe fn is_meta_instance(tp: *mut ffi::PyTypeObject) -> bool {
    let meta = META_PTR.load(Ordering::Relaxed);
    if meta.is_null() {
        return false;
    }
    // SAFETY: (caller) a valid type object, whose type is a valid type.
    unsafe {
        let mt = ffi::Py_TYPE(tp as *mut ffi::PyObject);
        mt == meta || ffi::PyType_IsSubtype(mt, meta) != 0
    }
}

/// The record pointer stored in a type object (NULL when not yet set).
///
/// # Safety
/// `tp` is an instance of the metaclass.
#[inline]
pub(crate) unsafe fn record_ptr(tp: *mut ffi::PyTypeObject) -> *mut TypeRecord {
    // SAFETY: (caller) an instance of the metaclass, which has room for
    // the pointer at `RECORD_OFFSET` (zeroed at allocation).
    unsafe { *((tp as *mut u8).add(RECORD_OFFSET.load(Ordering::Relaxed)) as *mut *mut TypeRecord) }
}

/// Stores the record pointer of a type object.
///
/// # Safety
/// `tp` is an instance of the metaclass.
pub(crate) unsafe fn set_record_ptr(tp: *mut ffi::PyTypeObject, rec: *mut TypeRecord) {
    // SAFETY: as in `record_ptr`.
    unsafe {
        *((tp as *mut u8).add(RECORD_OFFSET.load(Ordering::Relaxed)) as *mut *mut TypeRecord) = rec
    }
}

/// `tp_dealloc` of the metaclass: frees the record of a bound type after
/// `type`'s own deallocation (descriptors in the type's dict point into it).
unsafe extern "C" fn meta_dealloc(o: *mut ffi::PyObject) {
    // SAFETY: `o` is a dying instance of the metaclass; the record pointer
    // is read before `type`'s dealloc frees the memory, and an owned record
    // (its type_ptr is this type) is freed exactly once, here.
    unsafe {
        let tp = o as *mut ffi::PyTypeObject;
        let meta = ffi::Py_TYPE(o);
        let rec = record_ptr(tp);
        let owned = !rec.is_null() && (*rec).type_ptr == tp;
        if owned {
            if (*rec).slot.type_ptr() == tp {
                (*rec).slot.set(std::ptr::null_mut());
            }
            record::unregister(rec);
            crate::core::leak_report::type_freed();
        }
        let dealloc = crate::core::abi::type_type::dealloc();
        dealloc(o);
        if owned {
            // The record owns constructors and properties (user closures).
            crate::core::error::guard_silent("a bound class's deallocation", || {
                drop(Box::from_raw(rec))
            });
        }
        // Instances of a heap type own a reference to it; `type`'s dealloc
        // does not release the metaclass.
        ffi::Py_DECREF(meta as *mut ffi::PyObject);
    }
}

/// The record a bound type owns (not a Python subclass's borrowed one).
///
/// # Safety
/// `tp` is an instance of the metaclass.
unsafe fn owned_record<'a>(tp: *mut ffi::PyTypeObject) -> Option<&'a TypeRecord> {
    // SAFETY: (caller) an instance of the metaclass; an owned record lives
    // as long as its type.
    unsafe {
        let rec = record_ptr(tp);
        (!rec.is_null() && (*rec).type_ptr == tp).then(|| &*rec)
    }
}

/// `tp_traverse` of the metaclass: `type`'s, plus the Python objects the
/// record holds (implicit conversions from other classes).
unsafe extern "C" fn meta_traverse(
    o: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a live instance of the metaclass, its visitor
    // and argument.
    catch_unwind(AssertUnwindSafe(|| unsafe {
        let traverse = crate::core::abi::type_type::traverse();
        let r = traverse(o, visit, arg);
        if r != 0 {
            return r;
        }
        match owned_record(o as *mut ffi::PyTypeObject) {
            Some(rec) => crate::core::class::implicit::traverse(rec, visit, arg),
            None => 0,
        }
    }))
    .unwrap_or(0)
}

/// `tp_clear` of the metaclass: the record's Python objects, then `type`'s.
unsafe extern "C" fn meta_clear(o: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython passes a live (garbage) instance of the metaclass.
    catch_unwind(AssertUnwindSafe(|| unsafe {
        if let Some(rec) = owned_record(o as *mut ffi::PyTypeObject) {
            crate::core::class::implicit::clear(rec);
        }
        let clear = crate::core::abi::type_type::clear();
        clear(o)
    }))
    .unwrap_or(0)
}

/// `tp_setattro` of the metaclass. Bound classes are mutable, as
/// nanobind's: Python code may add, replace and delete their attributes,
/// with these exceptions and consequences:
/// - `Class.name = value` calls the setter of a static property `name`
///   (and `del` raises its `AttributeError`);
/// - `__new__` of a bound class cannot be replaced or deleted
///   (`TypeError`): ndbind allocates its instances, and another `__new__`
///   would let `object.__new__(Class)` make one without ndbind's header;
/// - assigning or deleting `__init__`, `__new__` or `__call__` turns the
///   construction fast path off before the old function can be freed (it
///   reads the `__init__` the type had).
///
/// Nothing else ndbind keeps per type reads the class's attributes: method
/// and property records are owned by their objects (a deleted method that
/// is running is held by its caller), slots are CPython's to update.
unsafe extern "C" fn meta_setattro(
    o: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: CPython passes a valid type, a name and a value or NULL.
    unsafe {
        let tp = o as *mut ffi::PyTypeObject;
        if let Some(prop) = lookup_static_property(tp, name) {
            // `prop` is held: converting `value` may run Python code that
            // deletes the property from the class (its record goes with it).
            return static_property_set(prop.as_ptr(), value);
        }
        if ffi::PyUnicode_Check(name) != 0 {
            let n = crate::core::object::Borrowed::from_ptr(name).to_str().unwrap_or("");
            if n == "__new__" {
                let rec = record_ptr(tp);
                if !rec.is_null() && (*rec).type_ptr == tp {
                    let msg = format!(
                        "ndbind: cannot replace or delete __new__ of the bound class '{}' (ndbind allocates its instances)",
                        (*rec).name()
                    );
                    PyErr::type_error(msg).restore();
                    return -1;
                }
            }
            if n == "__init__" || n == "__new__" || n == "__call__" {
                set_class_vectorcall(tp, None);
            }
        }
        let set = crate::core::abi::type_type::setattro();
        set(o, name, value)
    }
}

/// The static property named `name` in the dicts of `tp`'s bound classes
/// (a new reference).
///
/// # Safety
/// `tp` is a valid type, `name` a live object; the GIL is held.
unsafe fn lookup_static_property(
    tp: *mut ffi::PyTypeObject,
    name: *mut ffi::PyObject,
) -> Option<Object> {
    // SAFETY: (caller) a valid type: its MRO is NULL or a tuple of types,
    // held here for the loop (a `str` subclass as `name` may run Python
    // code in the lookups, which may replace the MRO); each type in it is
    // kept alive by the tuple and owns its dict.
    unsafe {
        let held = crate::core::abi::type_mro(tp)?;
        let mro = held.as_ptr();
        let n = crate::core::abi::tuple_size(mro);
        for i in 0..n {
            let t = crate::core::abi::tuple_get_item(mro, i) as *mut ffi::PyTypeObject;
            if crate::core::abi::type_flags(t) & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
                continue;
            }
            let Some(v) = crate::core::abi::own_attr(t, name) else { continue };
            return crate::core::class::getset::is_static_property(v.as_ptr()).then_some(v);
        }
        None
    }
}

/// `tp_init` of the metaclass, run when Python code subclasses a bound
/// class: the subclass shares its nearest bound base's record.
unsafe extern "C" fn meta_init(
    o: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kw: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: `o` is a freshly created instance of the metaclass.
    unsafe {
        let init = crate::core::abi::type_type::init();
        let rc = init(o, args, kw);
        if rc != 0 {
            return rc;
        }
        let tp = o as *mut ffi::PyTypeObject;
        if record_ptr(tp).is_null() {
            if let Some(rec) = record::record_of(crate::core::abi::type_base(tp)) {
                set_record_ptr(tp, rec as *const TypeRecord as *mut TypeRecord);
            }
        }
        0
    }
}

/// Pointers a type object has beyond `type`'s: the record, and in the abi3
/// build the constructor's vectorcall function (the version-specific build
/// uses `type`'s own `tp_vectorcall` field, which the limited API hides).
const EXTRA_PTRS: ffi::Py_ssize_t = if cfg!(Py_LIMITED_API) { 2 } else { 1 };

/// Where a bound class keeps its constructor's vectorcall function: the
/// metaclass's `__vectorcalloffset__`, given `type`'s basicsize.
fn vectorcall_offset(_type_basicsize: ffi::Py_ssize_t) -> ffi::Py_ssize_t {
    #[cfg(not(Py_LIMITED_API))]
    return std::mem::offset_of!(ffi::PyTypeObject, tp_vectorcall) as ffi::Py_ssize_t;
    #[cfg(Py_LIMITED_API)]
    return _type_basicsize + std::mem::size_of::<*mut TypeRecord>() as ffi::Py_ssize_t;
}

/// Sets (or clears: `None`) the vectorcall function that constructs
/// instances of the bound class `tp` (the slot `__vectorcalloffset__`
/// names; `tp_call` when unset).
///
/// # Safety
/// `tp` is an instance of the metaclass; the GIL is held.
pub(crate) unsafe fn set_class_vectorcall(
    tp: *mut ffi::PyTypeObject,
    f: Option<ffi::vectorcallfunc>,
) {
    // Free-threaded: no construction fast path. It reads the record's
    // `__init__` (borrowed from the type's dict) and its overload, which
    // another thread's `Class.__init__ = ...` may free meanwhile; the
    // generic path (`type.__call__`) holds what it calls. The slot stays
    // NULL, never written (other threads read it).
    #[cfg(Py_GIL_DISABLED)]
    let _ = (tp, f);
    // SAFETY: (caller) an instance of the metaclass, which has the slot.
    #[cfg(not(Py_GIL_DISABLED))]
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        {
            (*tp).tp_vectorcall = f;
        }
        #[cfg(Py_LIMITED_API)]
        {
            let at = RECORD_OFFSET.load(Ordering::Relaxed) + std::mem::size_of::<*mut TypeRecord>();
            *((tp as *mut u8).add(at) as *mut Option<ffi::vectorcallfunc>) = f;
        }
    }
}

/// The metaclass, created on first use.
pub(crate) fn meta_type() -> PyResult<*mut ffi::PyTypeObject> {
    let t = META.get_or_try_init(|| {
        let (basicsize, itemsize) = crate::core::abi::type_type::sizes();
        let call = crate::core::abi::type_type::call();
        let ptr_size = std::mem::size_of::<*mut TypeRecord>() as ffi::Py_ssize_t;
        // Member definitions are copied into the type.
        let mut members = [
            ffi::PyMemberDef {
                name: c"__vectorcalloffset__".as_ptr(),
                type_code: ffi::Py_T_PYSSIZET,
                offset: vectorcall_offset(basicsize),
                flags: ffi::Py_READONLY,
                doc: std::ptr::null(),
            },
            ffi::PyMemberDef::default(),
        ];
        let slots = [
            // Taking the address of the static `type` object needs no unsafe.
            slot(ffi::Py_tp_base, std::ptr::addr_of_mut!(ffi::PyType_Type) as *mut c_void),
            slot(ffi::Py_tp_dealloc, meta_dealloc as *mut c_void),
            slot(ffi::Py_tp_setattro, meta_setattro as *mut c_void),
            slot(ffi::Py_tp_traverse, meta_traverse as *mut c_void),
            slot(ffi::Py_tp_clear, meta_clear as *mut c_void),
            slot(ffi::Py_tp_init, meta_init as *mut c_void),
            slot(ffi::Py_tp_call, call as *mut c_void),
            slot(ffi::Py_tp_members, members.as_mut_ptr() as *mut c_void),
        ];
        // HAVE_GC explicitly: a type that defines tp_traverse/tp_clear does
        // not inherit the flag, and `type`'s instances are collected.
        let flags = ffi::Py_TPFLAGS_DEFAULT
            | ffi::Py_TPFLAGS_BASETYPE
            | ffi::Py_TPFLAGS_HAVE_VECTORCALL
            | ffi::Py_TPFLAGS_HAVE_GC;
        let t = new_type(
            c"ndbind.nb_type",
            (basicsize + EXTRA_PTRS * ptr_size) as usize,
            itemsize as usize,
            flags,
            &slots,
        )?;
        RECORD_OFFSET.store(basicsize as usize, Ordering::Relaxed);
        META_PTR.store(t.as_ptr() as *mut ffi::PyTypeObject, Ordering::Relaxed);
        Ok::<Object, PyErr>(t)
    })?;
    Ok(t.as_ptr() as *mut ffi::PyTypeObject)
}

/// Runs `f` for an `extern "C"` entry point returning an object: errors
/// and panics become a raised exception and NULL.
#[inline]
pub(crate) fn guard_obj(f: impl FnOnce() -> PyResult<*mut ffi::PyObject>) -> *mut ffi::PyObject {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => e.restore_null(),
        Err(payload) => panic_to_pyerr(payload).restore_null(),
    }
}

/// As [`guard_obj`] for entry points returning a status code (0 / -1).
#[inline]
pub(crate) fn guard_int(f: impl FnOnce() -> PyResult<()>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            e.restore();
            -1
        }
        Err(payload) => {
            panic_to_pyerr(payload).restore();
            -1
        }
    }
}
