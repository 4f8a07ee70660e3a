//! Creating the Python type of a bound class (nanobind's `nb_type_new`).
//!
//! The type is a heap type whose metaclass is `ndbind.nb_type`. Python
//! 3.11 has no `PyType_FromMetaclass`, so the type object is allocated from
//! the metaclass and filled in by hand, as pybind11 and nanobind (before
//! 3.12) do, then finished by `PyType_Ready`.

use std::any::TypeId;
use std::ffi::{c_char, CString};

use pyo3_ffi as ffi;

use crate::core::class::inst::{self, value_room, VALUE_OFFSET};
use crate::core::class::meta::{self, meta_type};
use crate::core::class::record::{self, record_of, CloneFn, DropFn, TypeRecord, TypeSlot};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::Object;

/// Everything needed to create a class (non-generic).
pub(crate) struct ClassSpec {
    pub(crate) name: String,
    pub(crate) module: String,
    pub(crate) doc: Option<String>,
    pub(crate) rust_name: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) drop: Option<DropFn>,
    pub(crate) clone: Option<CloneFn>,
    pub(crate) zeroable: bool,
    pub(crate) needs_drop: bool,
    /// The Rust base class (NULL: `object`) and the offset of its value.
    pub(crate) base: *mut ffi::PyTypeObject,
    pub(crate) base_offset: usize,
    pub(crate) is_final: bool,
    pub(crate) dynamic_attr: bool,
    pub(crate) weakref: bool,
    /// Rust type, size and alignment of the type supplement.
    pub(crate) supplement: Option<(TypeId, usize, usize)>,
    /// `Traverse` of the value (GC-tracked instances).
    pub(crate) gc: Option<crate::core::class::gc::GcFns>,
    /// Custom CPython type slots, filled in before `PyType_Ready`.
    pub(crate) slots: Vec<(std::ffi::c_int, *mut std::ffi::c_void)>,
    pub(crate) slot: &'static TypeSlot,
}

fn cstring(s: &str, what: &str) -> PyResult<CString> {
    CString::new(s).map_err(|_| PyErr::value_error(format!("NUL in {what}")))
}

/// Creates the type described by `spec`; the caller adds it to its scope.
pub(crate) fn create_type(spec: ClassSpec) -> PyResult<Object> {
    let meta = meta_type()?;
    if !spec.slot.type_ptr().is_null() {
        return Err(PyErr::runtime_error(format!(
            "ndbind: the Rust type {} is already bound to a Python class",
            spec.rust_name
        )));
    }
    // SAFETY: `spec.base` is NULL or a live type (the base's slot).
    let base_rec = match spec.base.is_null() {
        true => None,
        false => Some(
            unsafe { record_of(spec.base) }
                .ok_or_else(|| PyErr::type_error("ndbind: the base is not a bound class"))?,
        ),
    };
    if let Some(b) = base_rec {
        if b.is_final {
            return Err(PyErr::type_error(format!(
                "The type '{}' prohibits subclassing!",
                b.name()
            )));
        }
    }
    let mut ancestors = Vec::new();
    if let Some(b) = base_rec {
        ancestors.push((spec.base, spec.base_offset));
        ancestors.extend(b.ancestors.iter().map(|&(t, off)| (t, spec.base_offset + off)));
    }
    let dynamic_attr = spec.dynamic_attr || base_rec.is_some_and(|b| b.dict_offset != 0);
    let weakref = spec.weakref || base_rec.is_some_and(|b| b.weaklist_offset != 0);
    let gc = spec
        .gc
        .map(|g| (g, 0))
        .or_else(|| base_rec.and_then(|b| b.gc).map(|(g, off)| (g, spec.base_offset + off)));
    // GC-tracked instances: a __dict__, or a value holding Python references.
    let has_gc = dynamic_attr || gc.is_some();
    let is_final = spec.is_final || spec.supplement.is_some();
    let ptr = std::mem::size_of::<*mut ffi::PyObject>();
    let mut basicsize = (VALUE_OFFSET + value_room(spec.size, spec.align)).div_ceil(ptr) * ptr;
    let dict_offset = if dynamic_attr {
        basicsize += ptr;
        (basicsize - ptr) as isize
    } else {
        0
    };
    let weaklist_offset = if weakref {
        basicsize += ptr;
        (basicsize - ptr) as isize
    } else {
        0
    };
    let supplement = match spec.supplement {
        Some((id, size, align)) => {
            if align > 16 {
                return Err(PyErr::value_error(
                    "ndbind: a type supplement may be aligned to at most 16 bytes",
                ));
            }
            Some((id, vec![0u128; size.div_ceil(16)].into_boxed_slice()))
        }
        None => None,
    };
    let full_name = format!("{}.{}", spec.module, spec.name);
    let mut getset: Vec<ffi::PyGetSetDef> = Vec::new();
    if dynamic_attr {
        getset.push(ffi::PyGetSetDef {
            name: c"__dict__".as_ptr(),
            get: Some(ffi::PyObject_GenericGetDict),
            set: Some(ffi::PyObject_GenericSetDict),
            doc: std::ptr::null(),
            closure: std::ptr::null_mut(),
        });
    }
    getset.push(ffi::PyGetSetDef::default());
    let rec = Box::new(TypeRecord {
        type_ptr: std::ptr::null_mut(),
        slot: spec.slot,
        full_name: cstring(&full_name, "class name")?,
        rust_name: spec.rust_name,
        type_id: spec.type_id,
        size: spec.size,
        align: spec.align,
        drop: spec.drop,
        clone: spec.clone,
        zeroable: spec.zeroable,
        trivial: spec.zeroable && !spec.needs_drop,
        ancestors,
        dict_offset,
        weaklist_offset,
        is_final,
        init: std::cell::Cell::new(std::ptr::null_mut()),
        init_fast: std::cell::Cell::new(None),
        plain_alloc: !has_gc && !weakref,
        basicsize,
        supplement,
        live: std::cell::Cell::new(0),
        props: Default::default(),
        getset: getset.into_boxed_slice(),
        gc,
        implicit: Default::default(),
    });
    let name = Object::str_held(&spec.name)?;
    let doc = spec.doc.as_deref().map(|d| cstring(d, "docstring")).transpose()?;
    let module = Object::str_held(&spec.module)?;
    // SAFETY: the type object is allocated by the metaclass (zeroed, GC
    // tracked, with room for the record pointer) and every field CPython
    // reads is set before PyType_Ready; on failure the half-made type is
    // released through the metaclass's dealloc, which frees the record.
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
        // From here on the metaclass's dealloc balances these.
        record::register(rec);
        crate::core::leak_report::type_created();
        let type_obj = Object::from_owned(tp as *mut ffi::PyObject).expect("non-NULL");
        (*ht).ht_name = name.clone().into_ptr();
        (*ht).ht_qualname = name.into_ptr();
        (*tp).tp_name = (*rec).full_name.as_ptr();
        (*tp).tp_basicsize = basicsize as ffi::Py_ssize_t;
        (*tp).tp_itemsize = 0;
        // Immutable (as pyo3's and builtin types): Python code cannot
        // rebind class attributes, and CPython specializes calls of the type.
        // ndbind itself adds attributes through `unlocked`.
        let mut flags =
            ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_HEAPTYPE | ffi::Py_TPFLAGS_IMMUTABLETYPE;
        if !is_final {
            flags |= ffi::Py_TPFLAGS_BASETYPE;
        }
        if has_gc {
            flags |= ffi::Py_TPFLAGS_HAVE_GC;
        }
        (*tp).tp_flags = flags;
        (*tp).tp_as_async = std::ptr::addr_of_mut!((*ht).as_async);
        (*tp).tp_as_number = std::ptr::addr_of_mut!((*ht).as_number);
        (*tp).tp_as_sequence = std::ptr::addr_of_mut!((*ht).as_sequence);
        (*tp).tp_as_mapping = std::ptr::addr_of_mut!((*ht).as_mapping);
        (*tp).tp_as_buffer = std::ptr::addr_of_mut!((*ht).as_buffer);
        let base = if spec.base.is_null() {
            std::ptr::addr_of_mut!(ffi::PyBaseObject_Type)
        } else {
            spec.base
        };
        ffi::Py_INCREF(base as *mut ffi::PyObject);
        (*tp).tp_base = base;
        (*tp).tp_new = Some(inst::inst_new);
        (*tp).tp_dealloc = Some(inst::inst_dealloc);
        (*tp).tp_alloc = Some(ffi::PyType_GenericAlloc);
        (*tp).tp_free = Some(if has_gc { ffi::PyObject_GC_Del } else { ffi::PyObject_Free });
        if has_gc {
            (*tp).tp_traverse = Some(inst::inst_traverse);
            (*tp).tp_clear = Some(inst::inst_clear);
        }
        (*tp).tp_dictoffset = dict_offset as ffi::Py_ssize_t;
        (*tp).tp_weaklistoffset = weaklist_offset as ffi::Py_ssize_t;
        (*tp).tp_getset = (*rec).getset.as_ptr() as *mut ffi::PyGetSetDef;
        if let Some(d) = &doc {
            // Heap types free tp_doc with PyObject_Free.
            let bytes = d.as_bytes_with_nul();
            let p = ffi::PyObject_Malloc(bytes.len()) as *mut c_char;
            if p.is_null() {
                return Err(PyErr::memory_error("tp_doc"));
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr() as *const c_char, p, bytes.len());
            (*tp).tp_doc = p;
        }
        for &(id, f) in &spec.slots {
            crate::core::class::slots::apply(ht, id, f)?;
        }
        if ffi::PyType_Ready(tp) != 0 {
            return Err(PyErr::fetch());
        }
        if ffi::PyDict_SetItemString((*tp).tp_dict, c"__module__".as_ptr(), module.as_ptr()) != 0 {
            return Err(PyErr::fetch());
        }
        (*tp).tp_vectorcall = Some(inst::class_vectorcall);
        spec.slot.set(tp);
        Ok(type_obj)
    }
}

/// Runs `f` (which sets attributes of the bound class `tp`) with the
/// type's immutability lifted.
pub(crate) fn unlocked<R>(tp: *mut ffi::PyTypeObject, f: impl FnOnce() -> R) -> R {
    // SAFETY: `tp` is a live bound class; the GIL is held, so no other
    // code observes the flag while it is lifted.
    unsafe {
        let immutable = (*tp).tp_flags & ffi::Py_TPFLAGS_IMMUTABLETYPE;
        (*tp).tp_flags &= !ffi::Py_TPFLAGS_IMMUTABLETYPE;
        let r = f();
        (*tp).tp_flags |= immutable;
        r
    }
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
    let descr = Object::from_owned_or_err(ffi::PyDescr_NewGetSet(tp, def))?;
    rec.props.borrow_mut().push(prop);
    unlocked(tp, || {
        crate::core::object::Borrowed::from_ptr(tp as *mut ffi::PyObject)
            .setattr(std::ffi::CStr::from_ptr((*def).name), descr.borrow())
    })
}
