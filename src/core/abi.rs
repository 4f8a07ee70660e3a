//! The one place where the two builds read CPython objects differently:
//! the version-specific build (default) reads object structs directly
//! (`PyTuple_GET_ITEM`, `tp_name`, ...), the stable-ABI build (the `abi3`
//! feature, `cfg(Py_LIMITED_API)`, CPython >= 3.12) calls the limited API's
//! functions instead. Call sites use these and stay single.
//!
//! What the abi3 build does differently elsewhere (each says so where it
//! is): classes are made by `PyType_FromMetaclass` (`class/create.rs`) and
//! are mutable (the limited API cannot lift `Py_TPFLAGS_IMMUTABLETYPE`
//! while ndbind adds attributes), a bound class's constructor fast path lives in the
//! metaclass's own slot (`__vectorcalloffset__`), the Python-override cache
//! is not used (no type version tags: `class/trampoline.rs`), `int_list`
//! builds a new list each time (`casters/seq.rs`), dates and times go
//! through attributes and constructors (`casters/time.rs`), and
//! `Tuple::items` (a slice into the tuple) does not exist.
//!
//! The accessors with an index need it in range of a live tuple or list
//! (the callers checked): the limited API's functions cannot fail then.
//!
//! Free-threaded CPython (`cfg(Py_GIL_DISABLED)`): a list, a dict or a
//! type other threads can reach may change at any time, so what is read
//! from one is taken as a strong reference by CPython itself
//! ([`list_item_ref`], [`own_attr`], [`type_mro`]); tuples and strings are
//! immutable and read as in the GIL build.

#[cfg(Py_LIMITED_API)]
use std::ffi::c_void;
use std::ffi::CStr;

use pyo3_ffi as ffi;

/// `t[i]`, borrowed.
///
/// # Safety
/// The GIL is held; `t` is a tuple and `0 <= i < len(t)`.
#[inline(always)]
pub(crate) unsafe fn tuple_get_item(
    t: *mut ffi::PyObject,
    i: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: (caller) a tuple, an index in range.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return ffi::PyTuple_GET_ITEM(t, i);
        #[cfg(Py_LIMITED_API)]
        return ffi::PyTuple_GetItem(t, i);
    }
}

/// `len(t)` of a tuple.
///
/// # Safety
/// The GIL is held; `t` is a tuple.
#[inline(always)]
pub(crate) unsafe fn tuple_size(t: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: (caller) a tuple.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return ffi::PyTuple_GET_SIZE(t);
        #[cfg(Py_LIMITED_API)]
        return ffi::PyTuple_Size(t);
    }
}

/// Fills slot `i` of a new tuple, stealing `v`.
///
/// # Safety
/// The GIL is held; `t` is a tuple only the caller references (just
/// made), `0 <= i < len(t)`, the slot empty; `v` an owned reference.
#[inline(always)]
pub(crate) unsafe fn tuple_set_item(
    t: *mut ffi::PyObject,
    i: ffi::Py_ssize_t,
    v: *mut ffi::PyObject,
) {
    // SAFETY: (caller) a fresh tuple (reference count 1, which
    // `PyTuple_SetItem` requires), an index in range.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        ffi::PyTuple_SET_ITEM(t, i, v);
        #[cfg(Py_LIMITED_API)]
        ffi::PyTuple_SetItem(t, i, v);
    }
}

/// `len(l)` of a list.
///
/// # Safety
/// The GIL is held; `l` is a list.
#[inline(always)]
pub(crate) unsafe fn list_size(l: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: (caller) a list.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return ffi::PyList_GET_SIZE(l);
        #[cfg(Py_LIMITED_API)]
        return ffi::PyList_Size(l);
    }
}

/// `l[i]` as a new reference, or `None` if `i` is no longer in range (the
/// list shrank: it may change under us on a free-threaded interpreter).
/// A borrowed item of a list other threads can reach may be freed before
/// it is incref'd there: the free-threaded build asks CPython for a strong
/// reference (`PyList_GetItemRef`, which takes the list's lock); with a
/// GIL, no other thread runs between the read and the incref.
///
/// # Safety
/// The GIL is held (the thread is attached); `l` is a list and
/// `0 <= i < len(l)` was checked by the caller (in the free-threaded
/// build an index out of range since is answered with `None`).
#[inline(always)]
pub(crate) unsafe fn list_item_ref(
    l: *mut ffi::PyObject,
    i: ffi::Py_ssize_t,
) -> Option<crate::core::object::Object> {
    use crate::core::object::Object;
    // SAFETY: (caller) a list, an index in range (or, free-threaded, a
    // bounds-checked call that returns a new reference or NULL).
    unsafe {
        #[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
        return Some(Object::from_borrowed(ffi::PyList_GET_ITEM(l, i)));
        #[cfg(Py_GIL_DISABLED)]
        {
            let v = ffi::PyList_GetItemRef(l, i);
            if v.is_null() {
                ffi::PyErr_Clear(); // IndexError: the list shrank
            }
            Object::from_owned(v)
        }
        #[cfg(all(Py_LIMITED_API, not(Py_GIL_DISABLED)))]
        return Some(Object::from_borrowed(ffi::PyList_GetItem(l, i)));
    }
}

/// Fills slot `i` of a new list, stealing `v`.
///
/// # Safety
/// The GIL is held; `l` is a list, `0 <= i < len(l)`, the slot empty (a
/// list from `PyList_New`); `v` an owned reference; no other thread can
/// reach `l` (the macro takes no lock on a free-threaded interpreter).
#[inline(always)]
pub(crate) unsafe fn list_set_item(
    l: *mut ffi::PyObject,
    i: ffi::Py_ssize_t,
    v: *mut ffi::PyObject,
) {
    // SAFETY: (caller) a list, an index in range, an empty slot.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        ffi::PyList_SET_ITEM(l, i, v);
        #[cfg(Py_LIMITED_API)]
        ffi::PyList_SetItem(l, i, v);
    }
}

/// The value of an exact `float`.
///
/// # Safety
/// The GIL is held; `f` is a `float`.
#[inline(always)]
pub(crate) unsafe fn float_value(f: *mut ffi::PyObject) -> f64 {
    // SAFETY: (caller) a float: cannot fail.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return ffi::PyFloat_AS_DOUBLE(f);
        #[cfg(Py_LIMITED_API)]
        return ffi::PyFloat_AsDouble(f);
    }
}

/// `tp_flags`.
///
/// # Safety
/// `tp` is a live type.
#[inline(always)]
pub(crate) unsafe fn type_flags(tp: *mut ffi::PyTypeObject) -> std::ffi::c_ulong {
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
        return (*tp).tp_flags;
        // Free-threaded: another thread may set a flag (version tag) at once.
        #[cfg(all(Py_GIL_DISABLED, not(Py_LIMITED_API)))]
        return (*tp).tp_flags.load(std::sync::atomic::Ordering::Relaxed);
        #[cfg(Py_LIMITED_API)]
        return ffi::PyType_GetFlags(tp);
    }
}

/// A slot of a type (`Py_tp_alloc`, `Py_nb_index`, ...), NULL if unset.
///
/// # Safety
/// `tp` is a live type; the GIL is held.
#[cfg(Py_LIMITED_API)]
#[inline]
unsafe fn slot(tp: *mut ffi::PyTypeObject, id: std::ffi::c_int) -> *mut c_void {
    // SAFETY: (caller) a live type; static types are accepted from 3.10 on.
    unsafe { ffi::PyType_GetSlot(tp, id) }
}

/// `tp_alloc` (every type has one once ready).
///
/// # Safety
/// `tp` is a live, ready type.
#[inline(always)]
pub(crate) unsafe fn type_alloc(tp: *mut ffi::PyTypeObject) -> ffi::allocfunc {
    // SAFETY: (caller) a ready type; its slot is an `allocfunc`.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
        #[cfg(Py_LIMITED_API)]
        {
            let p = slot(tp, ffi::Py_tp_alloc);
            if p.is_null() {
                ffi::PyType_GenericAlloc
            } else {
                std::mem::transmute::<*mut c_void, ffi::allocfunc>(p)
            }
        }
    }
}

/// `tp_free` (every heap type has one once ready).
///
/// # Safety
/// `tp` is a live, ready heap type.
#[inline(always)]
pub(crate) unsafe fn type_free(tp: *mut ffi::PyTypeObject) -> ffi::freefunc {
    // SAFETY: (caller) a ready heap type; its slot is a `freefunc`.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return (*tp).tp_free.expect("heap types have tp_free");
        #[cfg(Py_LIMITED_API)]
        {
            let p = slot(tp, ffi::Py_tp_free);
            assert!(!p.is_null(), "heap types have tp_free");
            std::mem::transmute::<*mut c_void, ffi::freefunc>(p)
        }
    }
}

/// `tp_base` (NULL for `object`).
///
/// # Safety
/// `tp` is a live type.
#[inline(always)]
pub(crate) unsafe fn type_base(tp: *mut ffi::PyTypeObject) -> *mut ffi::PyTypeObject {
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return (*tp).tp_base;
        #[cfg(Py_LIMITED_API)]
        return slot(tp, ffi::Py_tp_base).cast();
    }
}

/// Whether the type has slot `nb_index` (`__index__`).
///
/// # Safety
/// `tp` is a live type.
#[inline]
pub(crate) unsafe fn has_nb_index(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        {
            let nb = (*tp).tp_as_number;
            !nb.is_null() && (*nb).nb_index.is_some()
        }
        #[cfg(Py_LIMITED_API)]
        !slot(tp, ffi::Py_nb_index).is_null()
    }
}

/// Whether the type has slot `nb_float` (`__float__`).
///
/// # Safety
/// `tp` is a live type.
#[inline]
pub(crate) unsafe fn has_nb_float(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        {
            let nb = (*tp).tp_as_number;
            !nb.is_null() && (*nb).nb_float.is_some()
        }
        #[cfg(Py_LIMITED_API)]
        !slot(tp, ffi::Py_nb_float).is_null()
    }
}

/// Whether the type exports buffers (`bf_getbuffer`).
///
/// # Safety
/// `tp` is a live type.
#[inline]
pub(crate) unsafe fn has_buffer(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        {
            let b = (*tp).tp_as_buffer;
            !b.is_null() && (*b).bf_getbuffer.is_some()
        }
        #[cfg(Py_LIMITED_API)]
        !slot(tp, ffi::Py_bf_getbuffer).is_null()
    }
}

/// Calls `f` with the type's C name, `tp_name` (`numpy.ndarray`, or a
/// Python class's bare `__name__`). The abi3 build has no `tp_name`: it
/// passes what `tp_name` holds, as far as the limited API tells: the
/// bare `__name__` of a class made by a `class` statement (or `type()`),
/// `module.qualname` of any other type (`module` left out for builtins).
///
/// # Safety
/// `tp` is a live type; the GIL is held.
#[inline]
pub(crate) unsafe fn with_type_name<R>(
    tp: *mut ffi::PyTypeObject,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: (caller) tp_name is NULL or a NUL-terminated string owned by
    // the live type.
    unsafe {
        let name: *const std::ffi::c_char = (*tp).tp_name;
        if name.is_null() {
            return f(b"?");
        }
        f(CStr::from_ptr(name).to_bytes())
    }
    #[cfg(Py_LIMITED_API)]
    {
        let name = c_type_name(tp);
        f(name.as_bytes())
    }
}

/// The text of an exact `str` (anything else: `None`).
///
/// # Safety
/// The GIL is held.
#[cfg(Py_LIMITED_API)]
unsafe fn exact_str(o: &crate::core::object::Object) -> Option<String> {
    // SAFETY: (caller) the GIL is held; a live object.
    if unsafe { ffi::PyUnicode_CheckExact(o.as_ptr()) } == 0 {
        return None;
    }
    o.borrow().to_str().ok().map(str::to_owned)
}

/// `tp_dealloc` of the classes `type()` makes (`subtype_dealloc`, which
/// the limited API does not name), read from a class made once for that.
#[cfg(Py_LIMITED_API)]
fn python_class_dealloc() -> *mut c_void {
    use crate::core::object::{Borrowed, Object};
    static PROBE: crate::core::gil_cell::GilCell<Option<Object>> =
        crate::core::gil_cell::GilCell::new();
    let probe = PROBE.get_or_init(|| {
        // SAFETY: the GIL is held (callers); `type` is a static type; the
        // arguments are new references held for the call.
        unsafe {
            let ty = Borrowed::from_ptr(std::ptr::addr_of_mut!(ffi::PyType_Type).cast());
            let made = (|| {
                let name = Object::str_held("ndbind_probe")?;
                let bases = Object::from_owned_or_err(ffi::PyTuple_New(0))?;
                let dict = Object::from_owned_or_err(ffi::PyDict_New())?;
                ty.call(&[name.borrow(), bases.borrow(), dict.borrow()])
            })();
            made.ok()
        }
    });
    match probe {
        // SAFETY: a live heap type.
        Some(p) => unsafe { slot(p.as_ptr().cast(), ffi::Py_tp_dealloc) },
        None => std::ptr::null_mut(),
    }
}

/// [`with_type_name`]'s name in the abi3 build, `"?"` if it cannot be read
/// (an error raised meanwhile is cleared; a pending one is kept).
#[cfg(Py_LIMITED_API)]
#[cold]
#[inline(never)]
fn c_type_name(tp: *mut ffi::PyTypeObject) -> String {
    use crate::core::object::Object;
    // SAFETY: a live type (caller of `with_type_name`); the GIL is held;
    // the lookups run with any pending exception saved.
    unsafe {
        crate::core::error::preserving_error(|| {
            let heap = ffi::PyType_GetFlags(tp) & ffi::Py_TPFLAGS_HEAPTYPE != 0;
            if heap {
                let dealloc = slot(tp, ffi::Py_tp_dealloc);
                if !dealloc.is_null() && dealloc == python_class_dealloc() {
                    return Object::from_owned(ffi::PyType_GetName(tp))
                        .and_then(|n| exact_str(&n))
                        .unwrap_or_else(|| "?".to_owned());
                }
            }
            qualified_name(tp, false)
        })
    }
}

/// `module.qualname` of a type as nanobind shows it (`builtins.` left
/// out), read without running Python code where the version-specific
/// build reads fields: a heap type's `__module__` from its own dict
/// (ignored unless a `str`), a static type's from its name. `"?"` if the
/// qualified name cannot be read (an error raised meanwhile is cleared).
///
/// # Safety
/// `tp` is a live type; the GIL is held.
#[cfg(Py_LIMITED_API)]
#[cold]
pub(crate) unsafe fn full_type_name(tp: *mut ffi::PyTypeObject) -> String {
    // SAFETY: (caller) a live type, the GIL; a pending error is kept.
    unsafe { crate::core::error::preserving_error(|| qualified_name(tp, true)) }
}

/// `module.qualname` (`qualname` alone for builtins, or where the module
/// is not a `str`); `own_module`: a heap type's module from its own dict.
///
/// # Safety
/// `tp` is a live type; the GIL is held; no error is pending.
#[cfg(Py_LIMITED_API)]
unsafe fn qualified_name(tp: *mut ffi::PyTypeObject, own_module: bool) -> String {
    use crate::core::object::{Borrowed, Object};
    // SAFETY: (caller) a live type, the GIL.
    unsafe {
        let qual = match Object::from_owned(ffi::PyType_GetQualName(tp)) {
            Some(q) => exact_str(&q).unwrap_or_else(|| "?".into()),
            None => {
                ffi::PyErr_Clear();
                return "?".to_owned();
            }
        };
        let heap = ffi::PyType_GetFlags(tp) & ffi::Py_TPFLAGS_HEAPTYPE != 0;
        let module = if own_module && heap {
            own_attr_str(tp, c"__module__")
        } else {
            let m = Borrowed::from_ptr(tp.cast()).getattr(c"__module__").ok();
            m
        };
        match module.and_then(|m| exact_str(&m)) {
            Some(m) if m != "builtins" => format!("{m}.{qual}"),
            _ => qual,
        }
    }
}

/// Whether this thread is attached to a running interpreter (holds the
/// GIL), for the abi3 build, where the thread state cannot be read:
/// `PyThreadState_GetDict` answers from this thread's attached state
/// (NULL without one; from 3.12 on, the attached state is per thread).
///
/// # Safety
/// Callable on any thread, with or without the GIL.
#[cfg(Py_LIMITED_API)]
#[inline]
pub(crate) unsafe fn attached() -> bool {
    // SAFETY: callable without a thread state (returns NULL then).
    unsafe { !ffi::PyThreadState_GetDict().is_null() }
}

/// The value of `name` in the type's own dict (not inherited), if any: a
/// new reference, asked for as one (`PyDict_GetItemRef`): without a GIL
/// another thread may replace the attribute, freeing a borrowed value
/// before it is incref'd. A lookup error is cleared (absent).
///
/// # Safety
/// `tp` is a live, ready type; `name` a live `str`; the GIL is held.
pub(crate) unsafe fn own_attr(
    tp: *mut ffi::PyTypeObject,
    name: *mut ffi::PyObject,
) -> Option<crate::core::object::Object> {
    use crate::core::object::Object;
    // SAFETY: (caller) a ready type has a dict; the lookups return a new
    // reference or NULL.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        let v = {
            // From 3.12 on a static builtin type's `tp_dict` is NULL (its
            // dict is the interpreter's): `PyType_GetDict` has it.
            #[cfg(Py_3_12)]
            let held = Object::from_owned(ffi::PyType_GetDict(tp));
            #[cfg(Py_3_12)]
            let d = held.as_ref().map_or(std::ptr::null_mut(), Object::as_ptr);
            #[cfg(not(Py_3_12))]
            let d = (*tp).tp_dict;
            let mut v = std::ptr::null_mut();
            if !d.is_null() {
                ffi::compat::PyDict_GetItemRef(d, name, &mut v);
            }
            Object::from_owned(v)
        };
        #[cfg(Py_LIMITED_API)]
        let v = {
            let proxy = ffi::PyObject_GetAttrString(tp.cast(), c"__dict__".as_ptr());
            Object::from_owned(proxy)
                .and_then(|p| Object::from_owned(ffi::PyObject_GetItem(p.as_ptr(), name)))
        };
        if v.is_none() && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
        }
        v
    }
}

/// [`own_attr`] by a C name.
///
/// # Safety
/// As [`own_attr`].
pub(crate) unsafe fn own_attr_str(
    tp: *mut ffi::PyTypeObject,
    name: &CStr,
) -> Option<crate::core::object::Object> {
    let key = crate::core::object::Object::intern_held(name).ok()?;
    // SAFETY: (caller) as `own_attr`; `key` is a `str`.
    unsafe { own_attr(tp, key.as_ptr()) }
}

/// `name` looked up through the MRO of `tp` as attribute lookup finds it
/// on the type (the raw dict value: no descriptor is called), a new
/// reference; `None` if absent. Never raises (a lookup error is cleared).
/// Public API in both builds (CPython's `_PyType_Lookup` is private).
///
/// # Safety
/// `tp` is a live type; `name` a live exact `str`; the GIL is held.
pub(crate) unsafe fn mro_lookup(
    tp: *mut ffi::PyTypeObject,
    name: *mut ffi::PyObject,
) -> Option<crate::core::object::Object> {
    // SAFETY: (caller) a live type; its MRO is held for the loop, and
    // keeps each type in it alive.
    unsafe {
        let held = type_mro(tp)?;
        let mro = held.as_ptr();
        for i in 0..tuple_size(mro) {
            let t = tuple_get_item(mro, i) as *mut ffi::PyTypeObject;
            if let Some(v) = own_attr(t, name) {
                return Some(v);
            }
        }
        None
    }
}

/// The type's MRO (`__mro__`), a new reference; `None` before it is ready.
/// Free-threaded: through `__mro__` (which CPython reads under the type
/// lock), as `tp_mro` may be replaced (`__bases__` assigned) and freed by
/// another thread between the read and the incref.
///
/// # Safety
/// `tp` is a live type; the GIL is held.
pub(crate) unsafe fn type_mro(tp: *mut ffi::PyTypeObject) -> Option<crate::core::object::Object> {
    use crate::core::object::Object;
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
        let m = {
            let m = (*tp).tp_mro;
            (!m.is_null()).then(|| Object::from_borrowed(m))
        };
        #[cfg(any(Py_LIMITED_API, Py_GIL_DISABLED))]
        let m = {
            let m = Object::from_owned(ffi::PyObject_GetAttrString(tp.cast(), c"__mro__".as_ptr()));
            if m.is_none() {
                ffi::PyErr_Clear();
            }
            m.filter(|m| ffi::PyTuple_Check(m.as_ptr()) != 0)
        };
        m
    }
}

/// Whether the instances of `tp` have a `__dict__` (`tp_dictoffset`).
///
/// # Safety
/// `tp` is a live type; the GIL is held.
pub(crate) unsafe fn has_instance_dict(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: (caller) a live type.
    unsafe {
        #[cfg(not(Py_LIMITED_API))]
        return (*tp).tp_dictoffset != 0;
        #[cfg(Py_LIMITED_API)]
        return ssize_attr(tp.cast(), c"__dictoffset__") != 0;
    }
}

/// An `int` attribute of an object (0 if it cannot be read; the error is
/// cleared).
///
/// # Safety
/// `o` is a live object; the GIL is held.
#[cfg(Py_LIMITED_API)]
pub(crate) unsafe fn ssize_attr(o: *mut ffi::PyObject, name: &CStr) -> ffi::Py_ssize_t {
    // SAFETY: (caller) a live object; new references released.
    unsafe {
        let v = ffi::PyObject_GetAttrString(o, name.as_ptr());
        let n = if v.is_null() { 0 } else { ffi::PyLong_AsSsize_t(v) };
        ffi::Py_XDECREF(v);
        if !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return 0;
        }
        n
    }
}

/// Slots of `type` itself (the metaclass's base).
pub(crate) mod type_type {
    use super::*;

    fn tp() -> *mut ffi::PyTypeObject {
        std::ptr::addr_of_mut!(ffi::PyType_Type)
    }

    macro_rules! type_slot {
        ($($name:ident: $field:ident, $id:ident, $ty:ty;)*) => {$(
            /// `type`'s slot of that name.
            pub(crate) fn $name() -> $ty {
                // SAFETY: `type` is a static, ready type that has the slot,
                // of the slot's function type.
                unsafe {
                    #[cfg(not(Py_LIMITED_API))]
                    return (*tp()).$field.expect(concat!("type has ", stringify!($field)));
                    #[cfg(Py_LIMITED_API)]
                    {
                        let p = ffi::PyType_GetSlot(tp(), ffi::$id);
                        assert!(!p.is_null(), concat!("type has ", stringify!($field)));
                        std::mem::transmute::<*mut c_void, $ty>(p)
                    }
                }
            }
        )*};
    }

    type_slot! {
        dealloc: tp_dealloc, Py_tp_dealloc, ffi::destructor;
        setattro: tp_setattro, Py_tp_setattro, ffi::setattrofunc;
        init: tp_init, Py_tp_init, ffi::initproc;
        call: tp_call, Py_tp_call, ffi::ternaryfunc;
        traverse: tp_traverse, Py_tp_traverse, ffi::traverseproc;
        clear: tp_clear, Py_tp_clear, ffi::inquiry;
    }

    /// `type.__basicsize__` and `type.__itemsize__`.
    pub(crate) fn sizes() -> (ffi::Py_ssize_t, ffi::Py_ssize_t) {
        // SAFETY: reading `type`'s fields (or attributes); the GIL is held
        // (the metaclass is made with it).
        unsafe {
            #[cfg(not(Py_LIMITED_API))]
            return ((*tp()).tp_basicsize, (*tp()).tp_itemsize);
            #[cfg(Py_LIMITED_API)]
            return (
                ssize_attr(tp().cast(), c"__basicsize__"),
                ssize_attr(tp().cast(), c"__itemsize__"),
            );
        }
    }
}

/// `PyVectorcall_NARGS`: the argument count of a vectorcall (the flag bit
/// cleared). Written here because pyo3-ffi 0.28 leaves it out of the
/// limited API, where CPython has it since 3.12.
#[inline(always)]
pub(crate) fn vectorcall_nargs(nargsf: usize) -> ffi::Py_ssize_t {
    (nargsf & !ffi::PY_VECTORCALL_ARGUMENTS_OFFSET) as ffi::Py_ssize_t
}

#[cfg(not(Py_LIMITED_API))]
pub(crate) use ffi::PyVectorcall_Call;

// Part of the stable ABI since 3.12 (missing from pyo3-ffi 0.28's
// limited-API declarations).
#[cfg(Py_LIMITED_API)]
extern "C" {
    pub(crate) fn PyVectorcall_Call(
        callable: *mut ffi::PyObject,
        tuple: *mut ffi::PyObject,
        dict: *mut ffi::PyObject,
    ) -> *mut ffi::PyObject;
}
