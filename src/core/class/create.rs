//! Creating the Python type of a bound class (nanobind's `nb_type_new`).
//!
//! The type is a heap type whose metaclass is `ndbind.nb_type`. Python
//! 3.11 has no `PyType_FromMetaclass`, so the version-specific build
//! allocates the type object from the metaclass and fills it in by hand, as
//! pybind11 and nanobind (before 3.12) do, then finishes it by
//! `PyType_Ready`. The abi3 build (3.12 and newer) makes it from a spec
//! with `PyType_FromMetaclass`.

use std::ffi::CString;

use pyo3_ffi as ffi;

use crate::core::class::inst::{self, value_room, VALUE_OFFSET};
use crate::core::class::meta::{self, meta_type};
use crate::core::class::record::{self, record_of, TypeRecord};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::Object;

fn cstring(s: &str, what: &str) -> PyResult<CString> {
    CString::new(s).map_err(|_| PyErr::value_error(format!("NUL in {what}")))
}

/// Creates the type of class `module.qualname` (`qualname` is `name`, or
/// `Outer.name` for a class nested in class `Outer`) from its record
/// (which the type then owns); the caller adds it to its scope.
pub(crate) fn create_type(
    mut rec: Box<TypeRecord>,
    module: &str,
    name: &str,
    qualname: &str,
) -> PyResult<Object> {
    let meta = meta_type()?;
    if !rec.slot.type_ptr().is_null() {
        return Err(PyErr::runtime_error(format!(
            "ndbind: the Rust type {} is already bound to a Python class",
            rec.rust_name
        )));
    }
    inherit(&mut rec)?;
    lay_out(&mut rec);
    rec.full_name = cstring(&format!("{module}.{qualname}"), "class name")?;
    let doc = rec.doc.take().map(|d| cstring(&d, "docstring")).transpose()?;
    let slots = std::mem::take(&mut rec.slots);
    let py_qualname = Object::str_held(qualname)?;
    let py_module = Object::str_held(module)?;
    #[cfg(Py_LIMITED_API)]
    return from_spec(meta, rec, doc, &slots, name, py_qualname, py_module);
    #[cfg(not(Py_LIMITED_API))]
    return fill_type(meta, rec, doc, &slots, name, py_qualname, py_module);
}

/// [`create_type`] in the version-specific build: the type object
/// allocated from the metaclass, filled in, then readied.
#[cfg(not(Py_LIMITED_API))]
fn fill_type(
    meta: *mut ffi::PyTypeObject,
    rec: Box<TypeRecord>,
    doc: Option<CString>,
    slots: &[(std::ffi::c_int, *mut std::ffi::c_void)],
    name: &str,
    py_qualname: Object,
    py_module: Object,
) -> PyResult<Object> {
    let py_name = Object::str_held(name)?;
    let (type_obj, ht) = alloc_type(meta, rec)?;
    let tp = ht as *mut ffi::PyTypeObject;
    // SAFETY: a type object under construction (before PyType_Ready), with
    // its record attached; on failure `type_obj` releases the half-made
    // type through the metaclass's dealloc, which frees the record.
    unsafe {
        let rec = &*meta::record_ptr(tp);
        (*ht).ht_name = py_name.into_ptr();
        (*ht).ht_qualname = py_qualname.into_ptr();
        (*tp).tp_name = rec.full_name.as_ptr();
        #[cfg(not(Py_GIL_DISABLED))]
        {
            (*tp).tp_flags = type_flags(rec);
        }
        #[cfg(Py_GIL_DISABLED)]
        (*tp).tp_flags.store(type_flags(rec), std::sync::atomic::Ordering::Relaxed);
        set_instance_slots(ht, rec);
        if let Some(d) = &doc {
            set_doc(tp, d)?;
        }
        for &(id, f) in slots {
            crate::core::class::slots::apply(ht, id, f)?;
        }
        if ffi::PyType_Ready(tp) != 0 {
            return Err(PyErr::fetch());
        }
        let dict = (*tp).tp_dict;
        if ffi::PyDict_SetItemString(dict, c"__module__".as_ptr(), py_module.as_ptr()) != 0 {
            return Err(PyErr::fetch());
        }
        meta::set_class_vectorcall(tp, Some(inst::class_vectorcall));
        rec.slot.set(tp);
    }
    Ok(type_obj)
}

/// [`create_type`] in the abi3 build: the type from a spec (slots and
/// member offsets), then its record attached, its `__qualname__` and
/// `__module__` set (the spec's name gives `module.qualname` as `tp_name`
/// and `__name__` = `name` only).
#[cfg(Py_LIMITED_API)]
fn from_spec(
    meta: *mut ffi::PyTypeObject,
    rec: Box<TypeRecord>,
    doc: Option<CString>,
    user_slots: &[(std::ffi::c_int, *mut std::ffi::c_void)],
    _name: &str,
    py_qualname: Object,
    py_module: Object,
) -> PyResult<Object> {
    use crate::core::heap_type::slot;
    use std::ffi::c_void;
    let gc = has_gc(&rec);
    let base = match rec.ancestors.first() {
        Some(&(b, _)) => b,
        None => std::ptr::addr_of_mut!(ffi::PyBaseObject_Type),
    };
    let member = |name: &'static std::ffi::CStr, offset: isize| ffi::PyMemberDef {
        name: name.as_ptr(),
        type_code: ffi::Py_T_PYSSIZET,
        offset: offset as ffi::Py_ssize_t,
        flags: ffi::Py_READONLY,
        doc: std::ptr::null(),
    };
    // Member definitions are copied into the type.
    let mut members = Vec::with_capacity(3);
    if rec.dict_offset != 0 {
        members.push(member(c"__dictoffset__", rec.dict_offset));
    }
    if rec.weaklist_offset != 0 {
        members.push(member(c"__weaklistoffset__", rec.weaklist_offset));
    }
    members.push(ffi::PyMemberDef::default());
    let free: ffi::freefunc = if gc { ffi::PyObject_GC_Del } else { ffi::PyObject_Free };
    let mut slots = vec![
        slot(ffi::Py_tp_new, inst::inst_new as *mut c_void),
        slot(ffi::Py_tp_dealloc, inst::inst_dealloc as *mut c_void),
        slot(ffi::Py_tp_alloc, ffi::PyType_GenericAlloc as *mut c_void),
        slot(ffi::Py_tp_free, free as *mut c_void),
        slot(ffi::Py_tp_getset, rec.getset.as_ptr() as *mut c_void),
        slot(ffi::Py_tp_members, members.as_mut_ptr() as *mut c_void),
    ];
    if gc {
        slots.push(slot(ffi::Py_tp_traverse, inst::inst_traverse as *mut c_void));
        slots.push(slot(ffi::Py_tp_clear, inst::inst_clear as *mut c_void));
    }
    if let Some(d) = &doc {
        // Copied by CPython.
        slots.push(slot(ffi::Py_tp_doc, d.as_ptr() as *mut c_void));
    }
    for &(id, f) in user_slots {
        crate::core::class::slots::check_settable(id)?;
        slots.push(slot(id, f));
    }
    slots.push(slot(0, std::ptr::null_mut()));
    // Mutable, as in the version-specific build (nanobind's classes are).
    let flags = type_flags(&rec) & !(ffi::Py_TPFLAGS_HEAPTYPE | ffi::Py_TPFLAGS_IMMUTABLETYPE);
    let mut spec = ffi::PyType_Spec {
        name: rec.full_name.as_ptr(),
        basicsize: rec.basicsize as std::ffi::c_int,
        itemsize: 0,
        flags: flags as std::ffi::c_uint,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: a well-formed spec read during the call only (the getset
    // table it names lives in the record, which the type owns from below
    // on); `base` is a live type; the GIL is held.
    let type_obj = unsafe {
        Object::from_owned_or_err(ffi::PyType_FromMetaclass(
            meta,
            std::ptr::null_mut(),
            &mut spec,
            base as *mut ffi::PyObject,
        ))?
    };
    let tp = type_obj.as_ptr() as *mut ffi::PyTypeObject;
    let rec = Box::into_raw(rec);
    // SAFETY: `tp` is a fresh instance of the metaclass, its record slot
    // NULL; from here on the metaclass's dealloc frees the record.
    unsafe {
        (*rec).type_ptr = tp;
        meta::set_record_ptr(tp, rec);
        record::register(rec);
        crate::core::leak_report::type_created();
    }
    let ty = type_obj.borrow();
    ty.setattr(c"__qualname__", py_qualname.borrow())?;
    ty.setattr(c"__module__", py_module.borrow())?;
    // SAFETY: an instance of the metaclass; its record is live.
    unsafe {
        meta::set_class_vectorcall(tp, Some(inst::class_vectorcall));
        (*rec).slot.set(tp);
    }
    Ok(type_obj)
}

/// Resolves the Rust base: refuses a final one, lists the ancestors with
/// their value offsets, and inherits the `__dict__`, weak references and
/// `Traverse` of the base's instances.
fn inherit(rec: &mut TypeRecord) -> PyResult<()> {
    let Some(base) = &rec.base else { return Ok(()) };
    let (tp, offset) = (base.slot.type_ptr(), base.offset);
    // SAFETY: `tp` is a live bound type (`new_class` checked the slot).
    let b = unsafe { record_of(tp) }
        .ok_or_else(|| PyErr::type_error("ndbind: the base is not a bound class"))?;
    if b.is_final {
        return Err(PyErr::type_error(format!("The type '{}' prohibits subclassing!", b.name())));
    }
    rec.ancestors.push((tp, offset));
    rec.ancestors.extend(b.ancestors.iter().map(|&(t, off)| (t, offset + off)));
    rec.dynamic_attr |= b.dict_offset != 0;
    rec.weakref |= b.weaklist_offset != 0;
    if rec.gc.is_none() {
        rec.gc = b.gc.map(|(g, off)| (g, offset + off));
    }
    Ok(())
}

/// Instances are GC-tracked: they have a `__dict__`, or a value holding
/// Python references.
fn has_gc(rec: &TypeRecord) -> bool {
    rec.dynamic_attr || rec.gc.is_some()
}

/// The instance layout: header, value room, then the `__dict__` and weak
/// reference list slots; and the `tp_getset` table.
fn lay_out(rec: &mut TypeRecord) {
    let ptr = std::mem::size_of::<*mut ffi::PyObject>();
    let mut size = (VALUE_OFFSET + value_room(rec.size, rec.align)).div_ceil(ptr) * ptr;
    // A Rust subclass's value room ends past its base's whole instance,
    // so the two layouts differ for CPython (`__class__` and `__bases__`
    // assignment: `compatible_for_assignment` would otherwise let a
    // subclass that adds no room stand for its base, or two such siblings
    // for each other, and methods of one read the other's value).
    if let Some(&(base, _)) = rec.ancestors.first() {
        // SAFETY: a live bound type (`inherit` resolved it): its record
        // lives as long as it.
        let base_size = unsafe { record_of(base) }.map_or(0, |r| r.basicsize);
        size = size.max(base_size + ptr);
    }
    let mut extra_slot = |on: bool| {
        if !on {
            return 0;
        }
        size += ptr;
        (size - ptr) as isize
    };
    rec.dict_offset = extra_slot(rec.dynamic_attr);
    rec.weaklist_offset = extra_slot(rec.weakref);
    rec.basicsize = size;
    rec.plain_alloc = !has_gc(rec) && !rec.weakref;
    let mut getset: Vec<ffi::PyGetSetDef> = Vec::new();
    if rec.dynamic_attr {
        getset.push(ffi::PyGetSetDef {
            name: c"__dict__".as_ptr(),
            get: Some(ffi::PyObject_GenericGetDict),
            set: Some(ffi::PyObject_GenericSetDict),
            doc: std::ptr::null(),
            closure: std::ptr::null_mut(),
        });
    }
    getset.push(ffi::PyGetSetDef::default());
    rec.getset = getset.into_boxed_slice();
}

/// Allocates the type object from the metaclass and moves `rec` into it.
#[cfg(not(Py_LIMITED_API))]
/// The returned object owns the type; from here on the metaclass's
/// dealloc frees the record (and balances the registration).
fn alloc_type(
    meta: *mut ffi::PyTypeObject,
    rec: Box<TypeRecord>,
) -> PyResult<(Object, *mut ffi::PyHeapTypeObject)> {
    // SAFETY: `meta` is the live metaclass; its `tp_alloc` returns a zeroed,
    // GC-tracked type object with room for the record pointer.
    unsafe {
        let alloc = (*meta).tp_alloc.expect("metaclass has tp_alloc");
        let ht = alloc(meta, 0) as *mut ffi::PyHeapTypeObject;
        if ht.is_null() {
            return Err(PyErr::fetch());
        }
        let tp = ht as *mut ffi::PyTypeObject;
        let rec = Box::into_raw(rec);
        (*rec).type_ptr = tp;
        meta::set_record_ptr(tp, rec);
        record::register(rec);
        crate::core::leak_report::type_created();
        Ok((Object::from_owned(tp as *mut ffi::PyObject).expect("non-NULL"), ht))
    }
}

/// `tp_flags`: a heap type, mutable as nanobind's (Python code may add,
/// replace or delete class attributes: see `meta::meta_setattro` for what
/// ndbind guards), subclassable unless final, GC-tracked when instances
/// need it.
fn type_flags(rec: &TypeRecord) -> std::ffi::c_ulong {
    let mut flags = ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_HEAPTYPE;
    if !rec.is_final {
        flags |= ffi::Py_TPFLAGS_BASETYPE;
    }
    if has_gc(rec) {
        flags |= ffi::Py_TPFLAGS_HAVE_GC;
    }
    flags
}

/// The base and the slots every bound class has: the instance life cycle
/// (`inst`), its size and extra slots, and the heap type's own tables.
///
/// # Safety
/// `ht` is a heap type under construction whose record is `rec`.
#[cfg(not(Py_LIMITED_API))]
unsafe fn set_instance_slots(ht: *mut ffi::PyHeapTypeObject, rec: &TypeRecord) {
    let tp = ht as *mut ffi::PyTypeObject;
    let gc = has_gc(rec);
    // SAFETY: (caller) `ht` is a heap type under construction, which only
    // this thread (holding the GIL) sees.
    unsafe {
        (*tp).tp_as_async = std::ptr::addr_of_mut!((*ht).as_async);
        (*tp).tp_as_number = std::ptr::addr_of_mut!((*ht).as_number);
        (*tp).tp_as_sequence = std::ptr::addr_of_mut!((*ht).as_sequence);
        (*tp).tp_as_mapping = std::ptr::addr_of_mut!((*ht).as_mapping);
        (*tp).tp_as_buffer = std::ptr::addr_of_mut!((*ht).as_buffer);
        let base = match rec.ancestors.first() {
            Some(&(b, _)) => b,
            None => std::ptr::addr_of_mut!(ffi::PyBaseObject_Type),
        };
        ffi::Py_INCREF(base as *mut ffi::PyObject);
        (*tp).tp_base = base;
        (*tp).tp_basicsize = rec.basicsize as ffi::Py_ssize_t;
        (*tp).tp_itemsize = 0;
        (*tp).tp_new = Some(inst::inst_new);
        (*tp).tp_dealloc = Some(inst::inst_dealloc);
        (*tp).tp_alloc = Some(ffi::PyType_GenericAlloc);
        (*tp).tp_free = Some(if gc { ffi::PyObject_GC_Del } else { ffi::PyObject_Free });
        if gc {
            (*tp).tp_traverse = Some(inst::inst_traverse);
            (*tp).tp_clear = Some(inst::inst_clear);
        }
        (*tp).tp_dictoffset = rec.dict_offset as ffi::Py_ssize_t;
        (*tp).tp_weaklistoffset = rec.weaklist_offset as ffi::Py_ssize_t;
        (*tp).tp_getset = rec.getset.as_ptr() as *mut ffi::PyGetSetDef;
    }
}

/// Sets `tp_doc` to a copy of `doc` (heap types free it with
/// `PyObject_Free`).
///
/// # Safety
/// `tp` is a heap type under construction without a `tp_doc`.
#[cfg(not(Py_LIMITED_API))]
unsafe fn set_doc(tp: *mut ffi::PyTypeObject, doc: &CString) -> PyResult<()> {
    let bytes = doc.as_bytes_with_nul();
    // SAFETY: a fresh allocation of `bytes.len()` bytes, filled completely.
    unsafe {
        let p = ffi::PyObject_Malloc(bytes.len()) as *mut std::ffi::c_char;
        if p.is_null() {
            return Err(PyErr::memory_error("tp_doc"));
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr() as *const std::ffi::c_char, p, bytes.len());
        // SAFETY: (caller) `tp` is under construction.
        (*tp).tp_doc = p;
    }
    Ok(())
}

/// Adds the getset descriptor of `prop` to the class (the record keeps
/// the property alive as long as the type).
///
/// # Safety
/// `tp` is a bound class whose own record is `rec`.
pub(crate) unsafe fn add_property(
    tp: *mut ffi::PyTypeObject,
    rec: &TypeRecord,
    prop: Box<crate::core::class::getset::PropRecord>,
) -> PyResult<()> {
    let def = &prop.def as *const ffi::PyGetSetDef as *mut ffi::PyGetSetDef;
    // SAFETY: (caller) `tp` is a live bound class; `def` lives in `prop`,
    // which the record keeps (boxed, so it does not move) as long as the
    // type and so the descriptor.
    let descr = unsafe { Object::from_owned_or_err(ffi::PyDescr_NewGetSet(tp, def))? };
    rec.props.borrow_mut().push(prop);
    // SAFETY: a live type; the name is the property's NUL-terminated
    // name, owned by the record.
    let (ty, name) = unsafe {
        (
            crate::core::object::Borrowed::from_ptr(tp as *mut ffi::PyObject),
            std::ffi::CStr::from_ptr((*def).name),
        )
    };
    ty.setattr(name, descr.borrow())
}
