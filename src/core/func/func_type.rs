//! The Python type of bound functions, and adding overloads to a scope.

use std::ffi::{c_void, CString};
use std::mem::offset_of;

use pyo3_ffi as ffi;

use crate::core::error::{PyErr, PyResult};
use crate::core::extras::FuncExtras;
use crate::core::func::dispatch::func_vectorcall;
use crate::core::func::record::{ArgSpec, CallSite, FuncKind, FuncParts, FuncRecord};
use crate::core::func::{introspect, signature};
use crate::core::gil_cell::GilCell;
use crate::core::heap_type::{getset, leak_table, new_type, slot};
use crate::core::object::{Borrowed, Object};

/// The layout of a bound-function object.
#[repr(C)]
pub(crate) struct FuncObject {
    ob_base: ffi::PyObject,
    vectorcall: Option<ffi::vectorcallfunc>,
    /// The argument count of a call that goes straight to the only
    /// overload (positional arguments only, all given); `NO_FAST_PATH`
    /// when there are several overloads or keyword-only parameters.
    pub(crate) fast_nargs: usize,
    /// Boxed: a record never moves once added, so an overload added
    /// while a call of this function runs (bound code may call
    /// `Module::def`) cannot pull a record from under that call.
    #[allow(clippy::vec_box)]
    pub(crate) overloads: Vec<Box<FuncRecord>>,
    pub(crate) name: String,
    pub(crate) qualname: String,
    pub(crate) module: Option<Object>,
}

/// `fast_nargs` of a function without the fast path (no call has this
/// many arguments).
pub(crate) const NO_FAST_PATH: usize = usize::MAX;

impl FuncObject {
    /// Appends an overload (only while the module is being initialised).
    fn push_overload(&mut self, record: FuncRecord) {
        self.overloads.push(Box::new(record));
        self.fast_nargs = match self.overloads.as_slice() {
            [r] if r.nargs == r.nargs_pos => r.nargs,
            _ => NO_FAST_PATH,
        };
    }
}

static FUNC_TYPE: GilCell<Object> = GilCell::new();
/// Methods: the same layout, plus `tp_descr_get` and
/// `Py_TPFLAGS_METHOD_DESCRIPTOR`, so `obj.method(...)` is called with
/// `self` prepended and no bound-method object.
static METHOD_TYPE: GilCell<Object> = GilCell::new();

unsafe extern "C" fn func_dealloc(slf: *mut ffi::PyObject) {
    // SAFETY: `slf` is a FuncObject whose fields were initialised by
    // `new_func`; they are dropped once, then the memory is freed by the
    // type's tp_free. Heap types own a reference on their type.
    unsafe {
        let tp = ffi::Py_TYPE(slf);
        // The records own the bound closures, whose captures may run any
        // code when dropped.
        crate::core::error::guard_silent("a bound function's deallocation", || {
            std::ptr::drop_in_place(&mut (*(slf as *mut FuncObject)).overloads)
        });
        std::ptr::drop_in_place(&mut (*(slf as *mut FuncObject)).name);
        std::ptr::drop_in_place(&mut (*(slf as *mut FuncObject)).qualname);
        std::ptr::drop_in_place(&mut (*(slf as *mut FuncObject)).module);
        let free = crate::core::abi::type_free(tp);
        free(slf as *mut c_void);
        ffi::Py_DECREF(tp as *mut ffi::PyObject);
    }
    crate::core::leak_report::func_freed(slf as usize);
}

extern "C" {
    // Public C API (Objects/classobject.c), not declared by pyo3-ffi.
    fn PyMethod_New(func: *mut ffi::PyObject, slf: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// `tp_descr_get` of methods: `Class.method` is the function itself,
/// `obj.method` a bound method (only when not called right away: calls go
/// through `Py_TPFLAGS_METHOD_DESCRIPTOR`).
unsafe extern "C" fn method_descr_get(
    slf: *mut ffi::PyObject,
    obj: *mut ffi::PyObject,
    _tp: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython passes the descriptor and a valid or NULL instance.
    unsafe {
        if obj.is_null() || obj == ffi::Py_None() {
            ffi::Py_INCREF(slf);
            return slf;
        }
        PyMethod_New(slf, obj)
    }
}

/// Runs a getter body, turning a Rust error into a Python exception.
fn getter_result(r: PyResult<Object>) -> *mut ffi::PyObject {
    match r {
        Ok(o) => o.into_ptr(),
        Err(e) => e.restore_null(),
    }
}

unsafe extern "C" fn get_doc(slf: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: getters of this type only receive FuncObjects.
    let f = unsafe { &*(slf as *const FuncObject) };
    // Signatures call the casters' `type_name`, which users implement.
    crate::core::class::meta::guard_obj(|| {
        Object::str_held(&signature::render_doc(f)).map(Object::into_ptr)
    })
}

unsafe extern "C" fn get_name(slf: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: getters of this type only receive FuncObjects.
    getter_result(Object::str_held(unsafe { &(*(slf as *const FuncObject)).name }))
}

unsafe extern "C" fn get_qualname(slf: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: getters of this type only receive FuncObjects.
    getter_result(Object::str_held(unsafe { &(*(slf as *const FuncObject)).qualname }))
}

/// `tp_getattro`: `f.__module__` is the function's module; everything
/// else is the generic lookup. (Not a getset: a `__module__` entry in the
/// type's dict would also be what `type(f).__module__` returns, where
/// Python expects a string.) Never on the call path: calls do not look
/// attributes up on the function object.
unsafe extern "C" fn func_getattro(
    slf: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython passes this type's object and an attribute name
    // (a `str`, or anything for a direct `PyObject_GetAttr` call).
    unsafe {
        if ffi::PyUnicode_Check(name) != 0
            && ffi::PyUnicode_CompareWithASCIIString(name, c"__module__".as_ptr()) == 0
        {
            let f = &*(slf as *const FuncObject);
            return f.module.clone().unwrap_or_else(Object::none_held).into_ptr();
        }
        ffi::PyObject_GenericGetAttr(slf, name)
    }
}

unsafe extern "C" fn get_signature(slf: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: getters of this type only receive FuncObjects.
    let f = unsafe { &*(slf as *const FuncObject) };
    // Signatures call the casters' `type_name`, which users implement.
    crate::core::class::meta::guard_obj(|| introspect::signature(f).map(Object::into_ptr))
}

/// `tp_descr_get` of (static) functions: the function itself, from a class
/// or an instance alike. Makes them routines for `inspect` (pydoc lists
/// them as functions, not data), as Python's `staticmethod` is.
unsafe extern "C" fn func_descr_get(
    slf: *mut ffi::PyObject,
    _obj: *mut ffi::PyObject,
    _tp: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython passes the descriptor, alive.
    unsafe { ffi::Py_INCREF(slf) };
    slf
}

unsafe extern "C" fn get_text_signature(
    slf: *mut ffi::PyObject,
    _: *mut c_void,
) -> *mut ffi::PyObject {
    // SAFETY: getters of this type only receive FuncObjects.
    let f = unsafe { &*(slf as *const FuncObject) };
    crate::core::class::meta::guard_obj(|| match signature::render_text_signature(f) {
        Some(s) => Object::str_held(&s).map(Object::into_ptr),
        None => Ok(Object::none_held().into_ptr()),
    })
}

unsafe extern "C" fn func_repr(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: tp_repr of this type only receives FuncObjects.
    let f = unsafe { &*(slf as *const FuncObject) };
    getter_result(Object::str_held(&format!("<ndbind function {}>", f.qualname)))
}

fn func_type(kind: FuncKind) -> PyResult<*mut ffi::PyTypeObject> {
    let method = kind != FuncKind::Function;
    let cell = if method { &METHOD_TYPE } else { &FUNC_TYPE };
    let t = cell.get_or_try_init(|| {
        let getset = leak_table([
            getset(c"__doc__", get_doc),
            getset(c"__name__", get_name),
            getset(c"__qualname__", get_qualname),
            getset(c"__text_signature__", get_text_signature),
            getset(c"__signature__", get_signature),
            ffi::PyGetSetDef::default(),
        ]);
        // Member definitions are copied into the type.
        let mut members = [
            ffi::PyMemberDef {
                name: c"__vectorcalloffset__".as_ptr(),
                type_code: ffi::Py_T_PYSSIZET,
                offset: offset_of!(FuncObject, vectorcall) as ffi::Py_ssize_t,
                flags: ffi::Py_READONLY,
                doc: std::ptr::null(),
            },
            ffi::PyMemberDef::default(),
        ];
        let slots = [
            slot(ffi::Py_tp_dealloc, func_dealloc as *mut c_void),
            slot(ffi::Py_tp_getset, getset),
            slot(ffi::Py_tp_members, members.as_mut_ptr() as *mut c_void),
            slot(ffi::Py_tp_call, crate::core::abi::PyVectorcall_Call as *mut c_void),
            slot(ffi::Py_tp_repr, func_repr as *mut c_void),
            slot(ffi::Py_tp_getattro, func_getattro as *mut c_void),
            if method {
                slot(ffi::Py_tp_descr_get, method_descr_get as *mut c_void)
            } else {
                slot(ffi::Py_tp_descr_get, func_descr_get as *mut c_void)
            },
        ];
        let name = if method { c"ndbind.nb_method" } else { c"ndbind.nb_func" };
        let flags = ffi::Py_TPFLAGS_DEFAULT
            | ffi::Py_TPFLAGS_HAVE_VECTORCALL
            | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION
            // Immutable: CPython 3.11+ specializes attribute loads of
            // method descriptors only when their type is immutable.
            | ffi::Py_TPFLAGS_IMMUTABLETYPE
            | if method { ffi::Py_TPFLAGS_METHOD_DESCRIPTOR } else { 0 };
        new_type(name, std::mem::size_of::<FuncObject>(), 0, flags, &slots)
    })?;
    Ok(t.as_ptr() as *mut ffi::PyTypeObject)
}

/// Whether `obj` is a bound function of this library.
pub(crate) fn as_func(obj: Borrowed<'_>) -> Option<&mut FuncObject> {
    let tp = obj.type_ptr() as *mut ffi::PyObject;
    let is = |c: &GilCell<Object>| c.get().is_some_and(|t| t.as_ptr() == tp);
    if is(&FUNC_TYPE) || is(&METHOD_TYPE) {
        // SAFETY: the exact type was checked; function objects are only
        // mutated during module initialisation, under the GIL.
        Some(unsafe { &mut *(obj.as_ptr() as *mut FuncObject) })
    } else {
        None
    }
}

fn new_func(
    name: &str,
    qualname: String,
    module: Option<Object>,
    kind: FuncKind,
) -> PyResult<Object> {
    let tp = func_type(kind)?;
    // SAFETY: tp_alloc returns zeroed memory of basicsize bytes (or NULL);
    // every Rust field is written before the object is exposed.
    unsafe {
        let alloc = crate::core::abi::type_alloc(tp);
        let obj = Object::from_owned_or_err(alloc(tp, 0))?;
        let f = obj.as_ptr() as *mut FuncObject;
        std::ptr::addr_of_mut!((*f).vectorcall).write(Some(func_vectorcall));
        std::ptr::addr_of_mut!((*f).fast_nargs).write(NO_FAST_PATH);
        std::ptr::addr_of_mut!((*f).overloads).write(Vec::new());
        std::ptr::addr_of_mut!((*f).name).write(name.to_owned());
        std::ptr::addr_of_mut!((*f).qualname).write(qualname);
        std::ptr::addr_of_mut!((*f).module).write(module);
        crate::core::leak_report::func_created(f as usize);
        Ok(obj)
    }
}

/// The index of the single set bit of `mask` (`None` when empty); an
/// error naming `what` when several are set.
fn single_bit(name: &str, mask: u64, what: &str) -> PyResult<Option<usize>> {
    match mask.count_ones() {
        0 => Ok(None),
        1 => Ok(Some(mask.trailing_zeros() as usize)),
        _ => Err(PyErr::type_error(format!("{name}: at most one {what} parameter is allowed"))),
    }
}

/// Builds the record of one overload from its parts and annotations.
/// The record of `parts`; on an error the callable is released (it is
/// owned by `parts` until a record holds it).
fn make_record(
    name: &str,
    parts: FuncParts,
    extras: FuncExtras,
    kind: FuncKind,
) -> PyResult<FuncRecord> {
    let (data, free) = (parts.data, parts.free);
    let r = check_record(name, parts, extras, kind);
    if r.is_err() {
        // SAFETY: no record was made, so `data` (made for `free` by
        // `FuncParts::new`) has no other owner: released once, here.
        unsafe { free(data) };
    }
    r
}

fn check_record(
    name: &str,
    parts: FuncParts,
    mut extras: FuncExtras,
    kind: FuncKind,
) -> PyResult<FuncRecord> {
    let n = parts.nargs;
    let method = kind != FuncKind::Function;
    if method && n == 0 {
        return Err(PyErr::type_error(format!(
            "{name}: a method takes `self` as its first parameter"
        )));
    }
    // A method's annotations name the parameters after `self`, which is
    // positional-only.
    if method && !extras.args.is_empty() {
        extras.args.insert(0, crate::core::extras::arg("self"));
        extras.pos_only = Some(extras.pos_only.map_or(1, |p| p + 1));
        extras.kw_only = extras.kw_only.map(|k| k + 1);
    }
    if n > 64 {
        return Err(PyErr::type_error(format!("{name}: at most 64 parameters are supported")));
    }
    // `*args` and `**kwargs` (as in Python: one of each, `**kwargs` last,
    // the parameters after `*args` keyword-only).
    let var_args = single_bit(name, parts.var_args, "`*args` (`Args`)")?;
    let var_kw = single_bit(name, parts.var_kw, "`**kwargs` (`Kwargs`)")?;
    if var_kw.is_some_and(|k| k + 1 != n) {
        return Err(PyErr::type_error(format!(
            "{name}: the `**kwargs` (`Kwargs`) parameter must be the last one"
        )));
    }
    if var_args.is_some() && extras.kw_only.is_some() {
        return Err(PyErr::type_error(format!(
            "{name}: kw_only() cannot be used with `*args` (`Args`): the parameters after it are keyword-only already"
        )));
    }
    let nvar = var_args.is_some() as usize + var_kw.is_some() as usize;
    // The annotations may leave `*args`/`**kwargs` unnamed (named `args`
    // and `kwargs` then).
    let mut named = extras.args.len();
    if named != 0 && named + nvar == n {
        for (i, dflt) in [(var_args, "args"), (var_kw, "kwargs")] {
            if let Some(i) = i {
                if extras.pos_only.is_some_and(|p| p > i) {
                    return Err(PyErr::type_error(format!(
                        "{name}: pos_only() must come before `*args` / `**kwargs`"
                    )));
                }
                extras.kw_only = extras.kw_only.map(|k| if k > i { k + 1 } else { k });
                extras.args.insert(i, crate::core::extras::arg(dflt));
            }
        }
        named = n;
    }
    if named != 0 && named != n {
        return Err(PyErr::type_error(format!(
            "{name}: the binding names {named} argument(s), but the function takes {n}"
        )));
    }
    if named == 0 && var_args.is_some_and(|a| a + 1 + var_kw.is_some() as usize != n) {
        return Err(PyErr::type_error(format!(
            "{name}: the parameters after `*args` (`Args`) are keyword-only: name them with arg(...)"
        )));
    }
    let is_var = |i: usize| Some(i) == var_args || Some(i) == var_kw;
    let mut args = Vec::with_capacity(named);
    let (mut convert_mask, mut none_ok) = (0u64, parts.accepts_none);
    for (i, a) in extras.args.into_iter().enumerate() {
        if a.convert.unwrap_or(parts.convert_default >> i & 1 != 0) {
            convert_mask |= 1 << i;
        }
        if a.none {
            none_ok |= 1 << i;
        }
        if is_var(i) {
            if a.default.is_some() || a.default_repr.is_some() {
                return Err(PyErr::type_error(format!(
                    "{name}: `*args` / `**kwargs` cannot have a default"
                )));
            }
            // Never matched by a keyword: such a keyword goes to `**kwargs`.
            args.push(ArgSpec {
                name: None,
                name_str: a.name,
                default: None,
                default_repr: None,
                none_shown: false,
            });
            continue;
        }
        let name_obj = Object::intern_held(
            &CString::new(a.name).map_err(|_| PyErr::value_error("NUL in argument name"))?,
        )?;
        args.push(ArgSpec {
            name: Some(name_obj),
            name_str: a.name,
            default: a.default,
            default_repr: a.default_repr,
            none_shown: a.none && parts.accepts_none >> i & 1 == 0,
        });
    }
    if named == 0 {
        convert_mask = parts.convert_default;
    }
    // The parameters that may be given positionally: those before `*`,
    // `*args` and `**kwargs`.
    let nargs_pos =
        extras.kw_only.unwrap_or(n).min(n).min(var_args.unwrap_or(n)).min(var_kw.unwrap_or(n));
    // A default must not be followed by a required positional parameter.
    if let Some(first) = args.iter().position(|a| a.default.is_some()) {
        if let Some(bad) =
            args[first.min(nargs_pos)..nargs_pos].iter().find(|a| a.default.is_none())
        {
            return Err(PyErr::type_error(format!(
                "{name}: parameter '{}' without a default follows one with a default",
                bad.name_str
            )));
        }
    }
    crate::core::func::keep_alive::check(name, n, &extras.keep_alive)?;
    let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut rec = FuncRecord {
        call: parts.call,
        site: CallSite { data: parts.data, convert: convert_mask, policy: extras.policy, method },
        free: parts.free,
        nargs: n,
        nargs_pos,
        nargs_pos_only: if named == 0 {
            nargs_pos
        } else {
            extras.pos_only.unwrap_or(0).min(nargs_pos)
        },
        args: args.into_boxed_slice(),
        none_reject_mask: all & !none_ok,
        doc: extras.doc,
        raw_doc: extras.raw_doc,
        sig: parts.sig,
        explain: parts.explain,
        operator: kind == FuncKind::Operator,
        variadic: nvar != 0,
        var_args,
        var_kw,
        custom_sig: extras.sig,
    };
    crate::core::func::keep_alive::wrap(&mut rec, extras.keep_alive);
    Ok(rec)
}

/// Adds an overload named `name` to `scope` (a module or class): appended to
/// an existing ndbind function of that name, or set as a new attribute.
pub(crate) fn define(
    scope: Borrowed<'_>,
    module: &str,
    name: &str,
    parts: FuncParts,
    extras: FuncExtras,
) -> PyResult<Object> {
    define_in(scope, module, None, name, parts, extras, FuncKind::Function)
}

/// A function object of its own, for a Rust closure returned to Python
/// (`ndbind::function`): one overload, `__name__` and `__qualname__`
/// `name`, `__module__` `module` (`None` when absent). It belongs to no
/// scope, so nothing can add overloads to it.
pub(crate) fn new_standalone(
    name: &str,
    module: Option<&str>,
    parts: FuncParts,
    extras: FuncExtras,
) -> PyResult<Object> {
    let record = make_record(name, parts, extras, FuncKind::Function)?;
    let module = module.map(Object::str_held).transpose()?;
    let func = new_func(name, name.to_owned(), module, FuncKind::Function)?;
    as_func(func.borrow()).expect("fresh function").push_overload(record);
    Ok(func)
}

/// [`define`] for a class scope: `qualprefix` (the class's qualified name)
/// prefixes `__qualname__`; `kind` says whether the first parameter is
/// `self`. An existing function of that name gets the overload only when
/// it was defined in this scope (not inherited from a base class).
pub(crate) fn define_in(
    scope: Borrowed<'_>,
    module: &str,
    qualprefix: Option<&str>,
    name: &str,
    parts: FuncParts,
    extras: FuncExtras,
    kind: FuncKind,
) -> PyResult<Object> {
    let record = make_record(name, parts, extras, kind)?;
    let cname = CString::new(name).map_err(|_| PyErr::value_error("NUL in function name"))?;
    // SAFETY: valid object and NUL-terminated name; a missing attribute is
    // not an error here, so the AttributeError (if any) is cleared.
    let existing = unsafe {
        let p = if qualprefix.is_some() {
            // Only the class's own dict: an inherited method of the same
            // name is overridden, not extended.
            crate::core::abi::own_attr_str(scope.as_ptr() as *mut ffi::PyTypeObject, &cname)
                .map_or(std::ptr::null_mut(), Object::into_ptr)
        } else {
            ffi::PyObject_GetAttrString(scope.as_ptr(), cname.as_ptr())
        };
        if p.is_null() {
            ffi::PyErr_Clear();
        }
        Object::from_owned(p)
    };
    if let Some(existing) = existing {
        if let Some(f) = as_func(existing.borrow()) {
            if f.overloads.first().is_some_and(|r| r.site.method != record.site.method) {
                return Err(PyErr::type_error(format!(
                    "{name}: cannot mix methods and static functions as overloads"
                )));
            }
            f.push_overload(record);
            return Ok(existing);
        }
    }
    let qualname = match qualprefix {
        Some(q) => format!("{q}.{name}"),
        None => name.to_owned(),
    };
    let func = new_func(name, qualname, Some(Object::str_held(module)?), kind)?;
    as_func(func.borrow()).expect("fresh function").push_overload(record);
    scope.setattr(&cname, func.borrow())?;
    Ok(func)
}
