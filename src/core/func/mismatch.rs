//! What the mismatch error adds to nanobind's text: full type names, and,
//! after `Invoked with types:`, one line per argument that a parameter
//! refused although its Python type is one the parameter takes (an array
//! of the wrong dtype, shape, order, device, ...):
//!
//! ```text
//! Argument 1 (a) was refused: dtype float64, expected float32
//! Argument 2 (b) was refused by overload 3: read-only, expected a writable array
//! ```
//!
//! The reasons are re-derived here, on the cold error path, by each
//! parameter's [`crate::FromPy::explain`] (nothing is recorded while
//! arguments load, so a successful call pays nothing). Cold code only.

use pyo3_ffi as ffi;

use crate::core::error::{push_decimal, PyErr};
use crate::core::func::func_type::FuncObject;
use crate::core::func::record::FuncRecord;
use crate::core::object::Borrowed;

/// The name of `obj`'s type as nanobind shows it: `module.qualname` for
/// a type made at run time (`torch.Tensor`, a Python class), the C name
/// otherwise (`numpy.ndarray`, `int`); `builtins.` is left out. Reads the
/// type's own fields and dict only: no Python code runs.
pub(crate) fn full_type_name(obj: Borrowed<'_>) -> String {
    let tp = obj.type_ptr();
    // The abi3 build reads `module.qualname` through the limited API.
    #[cfg(Py_LIMITED_API)]
    // SAFETY: a live type; the GIL is held.
    return unsafe { crate::core::abi::full_type_name(tp) };
    // The lookups may clear an error of their own: a pending one is kept.
    #[cfg(not(Py_LIMITED_API))]
    // SAFETY: the GIL is held (a call is being explained).
    return unsafe { crate::core::error::preserving_error(|| full_type_name_raw(tp)) };
}

/// [`full_type_name`] from the type's fields (version-specific build).
#[cfg(not(Py_LIMITED_API))]
fn full_type_name_raw(tp: *mut ffi::PyTypeObject) -> String {
    // SAFETY: reading fields of a live type object; its qualified name
    // and `__module__` are new references held while read (the dict
    // lookup has a `str` key: no Python code, unless a key of the class
    // dict is a `str` subclass with its own `__eq__`, whose error is
    // cleared).
    unsafe {
        let c_name = || {
            let n = (*tp).tp_name;
            if n.is_null() {
                "?".to_owned()
            } else {
                std::ffi::CStr::from_ptr(n).to_string_lossy().into_owned()
            }
        };
        if ffi::PyType_GetFlags(tp) & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
            return c_name();
        }
        // Both held as strong references while read: on a free-threaded
        // interpreter another thread may assign `__qualname__` or
        // `__module__` meanwhile, freeing a borrowed one.
        let Some(qual) = crate::core::object::Object::from_owned(ffi::PyType_GetQualName(tp))
        else {
            ffi::PyErr_Clear();
            return c_name();
        };
        let qual = match str_of(qual.as_ptr()) {
            Some(q) => q,
            None => return c_name(),
        };
        let m = crate::core::abi::own_attr_str(tp, c"__module__");
        let module = m.as_ref().and_then(|m| str_of(m.as_ptr()));
        match module {
            Some(m) if m != "builtins" => format!("{m}.{qual}"),
            _ => qual.to_owned(),
        }
    }
}

/// The text of an exact `str` (NULL or anything else: `None`).
///
/// # Safety
/// `o` is NULL or a live object that outlives the result.
#[cfg(not(Py_LIMITED_API))]
unsafe fn str_of<'a>(o: *mut ffi::PyObject) -> Option<&'a str> {
    // SAFETY: the caller's contract.
    unsafe {
        if o.is_null() || ffi::PyUnicode_CheckExact(o) == 0 {
            return None;
        }
        let mut n: ffi::Py_ssize_t = 0;
        let p = ffi::PyUnicode_AsUTF8AndSize(o, &mut n);
        if p.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        std::str::from_utf8(std::slice::from_raw_parts(p as *const u8, n as usize)).ok()
    }
}

/// The lines that say why arguments were refused (each starting with a
/// newline; empty when there is nothing to explain), for every overload
/// the call's arguments bind to. Overloads with `*args`/`**kwargs` are
/// not explained.
///
/// A parameter's `explain` may run Python code (queries the load made
/// too): the function object is re-read by index after each one (bound
/// code may add overloads; records are boxed and never go away), and any
/// error such code leaves is cleared.
///
/// # Safety
/// `fp` is the live function object called; `args` and `kwnames` as for
/// the dispatcher (`nargs` positional arguments, then one per keyword
/// name), alive for the call; no error is set.
pub(crate) unsafe fn refusals(
    fp: *const FuncObject,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> String {
    let mut out = String::new();
    let mut buf: Vec<*mut ffi::PyObject> = Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: the function object is alive for the call; the record is
        // boxed and outlives it (see above).
        let (r, several) = unsafe {
            let f = &*fp;
            match f.overloads.get(i) {
                Some(r) => (&*(&**r as *const FuncRecord), f.overloads.len() > 1),
                None => break,
            }
        };
        i += 1;
        if r.variadic || r.explain.len() != r.nargs {
            continue;
        }
        buf.clear();
        buf.resize(r.nargs, std::ptr::null_mut());
        // SAFETY: the caller's contract on `args` and `kwnames`.
        let Some(argv) = (unsafe { super::dispatch::arrange(r, args, nargs, kwnames, &mut buf) })
        else {
            continue;
        };
        for (j, explain) in r.explain.iter().enumerate() {
            // SAFETY: `argv` holds the overload's `nargs` arguments: the
            // caller's (alive for the call) or the record's defaults.
            let obj = unsafe { Borrowed::from_ptr(*argv.add(j)) };
            let convert = r.site.convert & (1u64 << j) != 0;
            let why = explain(obj, convert);
            // Python code the explanation ran may have left an error.
            drop(PyErr::take());
            let Some(why) = why else { continue };
            out.push_str("\nArgument ");
            push_decimal(&mut out, j + 1);
            out.push_str(" (");
            push_param_name(&mut out, r, j);
            out.push_str(") was refused");
            if several {
                out.push_str(" by overload ");
                push_decimal(&mut out, i);
            }
            out.push_str(": ");
            out.push_str(&why);
        }
    }
    out
}

/// The name parameter `j` has in the rendered signature.
fn push_param_name(out: &mut String, r: &FuncRecord, j: usize) {
    let method = r.site.method as usize;
    match r.args.get(j) {
        _ if j == 0 && method == 1 => out.push_str("self"),
        Some(a) if !a.name_str.is_empty() => out.push_str(a.name_str),
        _ if r.nargs == 1 + method => out.push_str("arg"),
        _ => {
            out.push_str("arg");
            push_decimal(out, j - method);
        }
    }
}
