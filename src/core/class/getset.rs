//! Fields and properties (getset descriptors on the class) and static
//! properties (`ndbind.nb_static_property`, a descriptor whose getter and
//! setter ignore the instance; assignment on the class goes through the
//! metaclass's `tp_setattro`).
//!
//! A property is one non-generic [`PropRecord`] holding two boxed closures
//! and the monomorphised functions that call them.
//!
//! Its `__doc__` says its type, for `help()` and the stub generator (a
//! getset descriptor has no other place for it): the first line is
//! `name: T` (the getter's type), followed by `; read-only` without a
//! setter, or by `; set: V` when the setter takes another type; a
//! docstring of the binding follows on the next lines.

use std::ffi::{c_int, c_void, CString};

use pyo3_ffi as ffi;

use crate::core::caster::{type_name_of, FromPy, IntoPy, ReturnCtx};
use crate::core::class::borrow::{borrow_shared, borrow_unique, Fail};
use crate::core::class::cast::push_type_name;
use crate::core::class::meta::{guard_int, guard_obj};
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::GilCell;
use crate::core::heap_type::{getset, leak_table, new_type, slot};
use crate::core::object::{Borrowed, Object};

/// Calls a getter: `obj` is the instance (NULL for static properties).
///
/// Safety (of both): `data` (or the record's setter data) is the boxed
/// closure the function was made for; `obj` is a live object or NULL (a
/// static property); the GIL is held.
pub(crate) type GetFn = unsafe fn(data: *const (), obj: *mut ffi::PyObject) -> PyResult<Object>;
/// Calls a setter with the new value.
pub(crate) type SetFn =
    unsafe fn(rec: &PropRecord, obj: *mut ffi::PyObject, value: Borrowed<'_>) -> PyResult<()>;

/// A boxed closure and the function that frees it.
pub(crate) struct Erased {
    pub(crate) data: *mut (),
    free: unsafe fn(*mut ()),
}

/// # Safety
/// `p` came from `Box::<F>::into_raw` in `Erased::new`; freed once.
unsafe fn drop_box<F>(p: *mut ()) {
    // SAFETY: (caller) as stated.
    drop(unsafe { Box::from_raw(p as *mut F) })
}

impl Erased {
    pub(crate) fn new<F>(f: F) -> Erased {
        Erased { data: Box::into_raw(Box::new(f)) as *mut (), free: drop_box::<F> }
    }
}

impl Drop for Erased {
    fn drop(&mut self) {
        // SAFETY: `data` was made for `free` by `Erased::new`, freed once.
        unsafe { (self.free)(self.data) }
    }
}

/// One property of a class (or one static property).
pub(crate) struct PropRecord {
    pub(crate) get: GetFn,
    pub(crate) get_data: Erased,
    pub(crate) set: Option<(SetFn, Erased)>,
    /// `Class.name`, for messages.
    pub(crate) qualname: String,
    pub(crate) name: CString,
    pub(crate) doc: Option<CString>,
    /// The type names, to render `doc` again ([`PropRecord::set_doc`]).
    types: PropTypes,
    /// The descriptor table entry (`closure` points at this record).
    pub(crate) def: ffi::PyGetSetDef,
}

impl PropRecord {
    /// `types`: the getter's and the setter's type names (the setter's
    /// exactly when `set` is given), for the rendered `__doc__`.
    pub(crate) fn new(
        qualname: String,
        name: &str,
        doc: Option<&str>,
        types: PropTypes,
        get: GetFn,
        get_data: Erased,
        set: Option<(SetFn, Erased)>,
    ) -> PyResult<Box<PropRecord>> {
        let cname = CString::new(name).map_err(|_| PyErr::value_error("NUL in property name"))?;
        let doc = CString::new(render_doc(name, types, doc))
            .map_err(|_| PyErr::value_error("NUL in docstring"))?;
        let mut rec = Box::new(PropRecord {
            get,
            get_data,
            set,
            qualname,
            name: cname,
            doc: Some(doc),
            types,
            def: ffi::PyGetSetDef::default(),
        });
        let has_set = rec.set.is_some();
        rec.def = ffi::PyGetSetDef {
            name: rec.name.as_ptr(),
            get: Some(prop_get),
            set: if has_set { Some(prop_set) } else { None },
            doc: rec.doc.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
            closure: &*rec as *const PropRecord as *mut c_void,
        };
        Ok(rec)
    }
}

impl PropRecord {
    /// Replaces the docstring given with the binding (the rendered
    /// `name: T` line stays first). The descriptor reads it on each
    /// `__doc__` access.
    pub(crate) fn set_doc(&mut self, doc: &str) -> PyResult<()> {
        let name = self.name.to_str().unwrap_or("?");
        let d = CString::new(render_doc(name, self.types, Some(doc)))
            .map_err(|_| PyErr::value_error("NUL in docstring"))?;
        self.def.doc = d.as_ptr();
        self.doc = Some(d);
        Ok(())
    }
}

/// The type names of a property: the getter's, and the setter's (`None`:
/// read-only).
#[derive(Clone, Copy)]
pub(crate) struct PropTypes {
    pub(crate) get: fn(&mut String),
    pub(crate) set: Option<fn(&mut String)>,
}

/// A property's `__doc__` (see the module documentation). Type names are
/// rendered now: a class bound later than the property is named by its
/// Rust name.
fn render_doc(name: &str, types: PropTypes, doc: Option<&str>) -> String {
    let mut s = String::with_capacity(name.len() + 16);
    s.push_str(name);
    s.push_str(": ");
    let start = s.len();
    (types.get)(&mut s);
    match types.set {
        None => s.push_str("; read-only"),
        Some(set) => {
            let get_len = s.len() - start;
            s.push_str("; set: ");
            let set_start = s.len();
            set(&mut s);
            if s[set_start..] == s[start..start + get_len] {
                s.truncate(start + get_len);
            }
        }
    }
    if let Some(d) = doc.filter(|d| !d.is_empty()) {
        s.push('\n');
        s.push_str(d);
    }
    s
}

unsafe extern "C" fn prop_get(obj: *mut ffi::PyObject, closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: `closure` is the PropRecord owned by the class's record,
    // which outlives its descriptors.
    guard_obj(|| unsafe {
        let rec = &*(closure as *const PropRecord);
        (rec.get)(rec.get_data.data, obj).map(Object::into_ptr)
    })
}

unsafe extern "C" fn prop_set(
    obj: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
    closure: *mut c_void,
) -> c_int {
    // SAFETY: as for prop_get; `value` is NULL (delete) or a live object.
    guard_int(|| unsafe {
        let rec = &*(closure as *const PropRecord);
        set_value(rec, obj, value)
    })
}

/// # Safety
/// As for [`SetFn`]; `value` is NULL (delete) or a live object.
unsafe fn set_value(
    rec: &PropRecord,
    obj: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> PyResult<()> {
    match (&rec.set, value.is_null()) {
        (_, true) => Err(PyErr::attribute_error(format!(
            "{}: the attribute cannot be deleted",
            rec.qualname
        ))),
        (None, false) => {
            Err(PyErr::attribute_error(format!("{}: the attribute is read-only", rec.qualname)))
        }
        // SAFETY: (caller) `set` was made for `rec`; `value` is live.
        (Some((set, _)), false) => unsafe { set(rec, obj, Borrowed::from_ptr(value)) },
    }
}

/// The error of a getter or setter whose borrow of `obj` failed; `name`
/// writes the expected class's name.
///
/// # Safety
/// `obj` is a live object.
#[cold]
#[inline(never)]
unsafe fn not_borrowed(obj: *mut ffi::PyObject, f: Fail, name: fn(&mut String)) -> PyErr {
    match f {
        Fail::Error(e) | Fail::Uninit(e) => e,
        Fail::Mismatch => PyErr::type_error(format!(
            "expected an instance of {}, got {}",
            type_name_of(name),
            // SAFETY: (caller) a live object.
            unsafe { Borrowed::from_ptr(obj) }.type_name()
        )),
    }
}

/// Getter of an instance property: `get(&T) -> R`.
pub(crate) unsafe fn get_impl<T: PyClass, R: IntoPy, G: Fn(&T) -> R>(
    data: *const (),
    obj: *mut ffi::PyObject,
) -> PyResult<Object> {
    // SAFETY: (caller) `data` is the boxed `G` of this getter.
    let g = unsafe { &*(data as *const G) };
    // SAFETY: (caller) `obj` is live for the call, which the guard does
    // not outlive.
    let guard = unsafe { borrow_shared(obj, T::type_slot().type_ptr()) }
        // SAFETY: as above.
        .map_err(|f| unsafe { not_borrowed(obj, f, push_type_name::<T>) })?;
    // SAFETY: the guard holds a shared borrow of a ready T.
    let r = g(unsafe { &*(guard.ptr() as *const T) });
    // SAFETY: `obj` is the live instance the getter runs on.
    let ctx = unsafe { ReturnCtx::new(crate::core::extras::RvPolicy::Automatic, &obj) };
    r.into_py(&ctx)
}

/// Setter of an instance property: `set(&mut T, V)`.
pub(crate) unsafe fn set_impl<T: PyClass, V: FromPy, S: Fn(&mut T, V)>(
    rec: &PropRecord,
    obj: *mut ffi::PyObject,
    value: Borrowed<'_>,
) -> PyResult<()> {
    // SAFETY: (caller) the setter data of `rec` is the boxed `S`.
    let s = unsafe { &*(rec.set.as_ref().expect("setter").1.data as *const S) };
    let v = convert::<V>(rec, value)?;
    // SAFETY: (caller) `obj` is live for the call, which the guard does
    // not outlive.
    let guard = unsafe { borrow_unique(obj, T::type_slot().type_ptr()) }
        // SAFETY: as above.
        .map_err(|f| unsafe { not_borrowed(obj, f, push_type_name::<T>) })?;
    // SAFETY: the guard holds the unique borrow of a ready T.
    s(unsafe { &mut *(guard.ptr() as *mut T) }, v);
    Ok(())
}

/// Getter of a `property_ref`: the field at `offset` inside `T`'s value,
/// as a `U` instance that references it and keeps `obj` alive
/// (`reference_internal`; see `refs::inst_reference`).
pub(crate) unsafe fn ref_get_impl<T: PyClass, U: PyClass>(
    data: *const (),
    obj: *mut ffi::PyObject,
) -> PyResult<Object> {
    // SAFETY: (caller) `data` is the boxed field offset of this getter.
    let offset = unsafe { *(data as *const usize) };
    // SAFETY: (caller) `obj` is live for the call, which the guard does
    // not outlive.
    let guard = unsafe { borrow_shared(obj, T::type_slot().type_ptr()) }
        // SAFETY: as above.
        .map_err(|f| unsafe { not_borrowed(obj, f, push_type_name::<T>) })?;
    // SAFETY: `offset` is that of a `U` field of `T` (`field_of!`), inside
    // the ready `T` the guard borrows.
    let field = unsafe { guard.ptr().add(offset) } as *mut U;
    drop(guard);
    // SAFETY: the field lies inside the value of `obj`, which the result
    // keeps alive and whose borrow cell it shares (checked on every use).
    unsafe { crate::core::class::refs::inst_reference::<U>(field, Some(Borrowed::from_ptr(obj))) }
}

/// Getter of a static property: `get() -> R`.
pub(crate) unsafe fn static_get_impl<R: IntoPy, G: Fn() -> R>(
    data: *const (),
    _obj: *mut ffi::PyObject,
) -> PyResult<Object> {
    // SAFETY: (caller) `data` is the boxed `G` of this getter.
    let g = unsafe { &*(data as *const G) };
    g().into_py(&ReturnCtx::held())
}

/// Setter of a static property: `set(V)`.
pub(crate) unsafe fn static_set_impl<V: FromPy, S: Fn(V)>(
    rec: &PropRecord,
    _obj: *mut ffi::PyObject,
    value: Borrowed<'_>,
) -> PyResult<()> {
    // SAFETY: (caller) the setter data of `rec` is the boxed `S`.
    let s = unsafe { &*(rec.set.as_ref().expect("setter").1.data as *const S) };
    s(convert::<V>(rec, value)?);
    Ok(())
}

fn convert<V: FromPy>(rec: &PropRecord, value: Borrowed<'_>) -> PyResult<V> {
    if value.is_none() && !V::ACCEPTS_NONE {
        return Err(type_mismatch::<V>(rec, value));
    }
    V::from_py(value, false)
        .or_else(|| V::from_py(value, true))
        .ok_or_else(|| type_mismatch::<V>(rec, value))
}

#[cold]
fn type_mismatch<V: FromPy>(rec: &PropRecord, value: Borrowed<'_>) -> PyErr {
    // A caster may have left an error behind while probing.
    drop(PyErr::take());
    PyErr::type_error(format!(
        "{}: expected a value of type {}, got {}",
        rec.qualname,
        type_name_of(V::type_name),
        value.type_name()
    ))
}

// --- static properties -------------------------------------------------------

/// The layout of a static property object.
#[repr(C)]
struct StaticProp {
    ob_base: ffi::PyObject,
    rec: *mut PropRecord,
}

static STATIC_PROP_TYPE: GilCell<Object> = GilCell::new();

unsafe extern "C" fn sp_dealloc(o: *mut ffi::PyObject) {
    // SAFETY: `o` is a dying StaticProp owning its record (freed once).
    unsafe {
        let tp = ffi::Py_TYPE(o);
        let rec = (*(o as *mut StaticProp)).rec;
        if !rec.is_null() {
            crate::core::error::guard_silent("a static property's deallocation", || {
                drop(Box::from_raw(rec))
            });
        }
        let free = crate::core::abi::type_free(tp);
        free(o as *mut c_void);
        ffi::Py_DECREF(tp as *mut ffi::PyObject);
    }
}

unsafe extern "C" fn sp_descr_get(
    o: *mut ffi::PyObject,
    _obj: *mut ffi::PyObject,
    _tp: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: `o` is a StaticProp with a live record.
    guard_obj(|| unsafe {
        let rec = &*(*(o as *mut StaticProp)).rec;
        (rec.get)(rec.get_data.data, std::ptr::null_mut()).map(Object::into_ptr)
    })
}

unsafe extern "C" fn sp_descr_set(
    o: *mut ffi::PyObject,
    _obj: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: `o` is a StaticProp with a live record.
    unsafe { static_property_set(o, value) }
}

unsafe extern "C" fn sp_doc(o: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: getters of this type only receive StaticProps.
    guard_obj(|| unsafe {
        let rec = &*(*(o as *mut StaticProp)).rec;
        match &rec.doc {
            Some(d) => Object::str_held(d.to_str().unwrap_or("")).map(Object::into_ptr),
            None => Ok(Object::none_held().into_ptr()),
        }
    })
}

/// Calls the setter of static property `prop` (from the metaclass or an
/// instance assignment).
///
/// # Safety
/// `prop` is a static property object; `value` is NULL or a live object.
pub(crate) unsafe fn static_property_set(
    prop: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: (caller) a static property object, whose record it owns.
    guard_int(|| unsafe {
        let rec = &*(*(prop as *mut StaticProp)).rec;
        set_value(rec, std::ptr::null_mut(), value)
    })
}

/// Replaces the docstring of the static property object `obj` (see
/// [`PropRecord::set_doc`]); `false` when `obj` is not one.
pub(crate) fn set_static_property_doc(obj: Borrowed<'_>, doc: &str) -> PyResult<bool> {
    if !is_static_property(obj.as_ptr()) {
        return Ok(false);
    }
    // SAFETY: a static property owns its record; the GIL is held and no
    // reference into the record is live (`__doc__` copies the text).
    unsafe { (*(*(obj.as_ptr() as *mut StaticProp)).rec).set_doc(doc)? };
    Ok(true)
}

/// Whether `obj` is a static property object.
pub(crate) fn is_static_property(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: reading the type pointer of a live object.
    STATIC_PROP_TYPE
        .get()
        .is_some_and(|t| unsafe { ffi::Py_TYPE(obj) as *mut ffi::PyObject == t.as_ptr() })
}

fn static_prop_type() -> PyResult<*mut ffi::PyTypeObject> {
    let t = STATIC_PROP_TYPE.get_or_try_init(|| {
        let gs = leak_table([getset(c"__doc__", sp_doc), ffi::PyGetSetDef::default()]);
        let slots = [
            slot(ffi::Py_tp_dealloc, sp_dealloc as *mut c_void),
            slot(ffi::Py_tp_descr_get, sp_descr_get as *mut c_void),
            slot(ffi::Py_tp_descr_set, sp_descr_set as *mut c_void),
            slot(ffi::Py_tp_getset, gs),
        ];
        let flags = ffi::Py_TPFLAGS_DEFAULT
            | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION
            | ffi::Py_TPFLAGS_IMMUTABLETYPE;
        new_type(c"ndbind.nb_static_property", std::mem::size_of::<StaticProp>(), 0, flags, &slots)
    })?;
    Ok(t.as_ptr() as *mut ffi::PyTypeObject)
}

/// A new static property object owning `rec`.
pub(crate) fn new_static_property(rec: Box<PropRecord>) -> PyResult<Object> {
    let tp = static_prop_type()?;
    // SAFETY: tp_alloc returns zeroed memory of basicsize bytes (or NULL);
    // the record pointer is written before the object is exposed.
    unsafe {
        let alloc = crate::core::abi::type_alloc(tp);
        let obj = Object::from_owned_or_err(alloc(tp, 0))?;
        (*(obj.as_ptr() as *mut StaticProp)).rec = Box::into_raw(rec);
        Ok(obj)
    }
}
