//! Calling a bound function: vectorcall entry, argument arrangement,
//! nanobind-style two-pass overload resolution, the mismatch error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3_ffi as ffi;

use crate::core::error::{panic_to_pyerr, PyErr, PyResult};
use crate::core::func::func_type::{FuncObject, NO_FAST_PATH};
use crate::core::func::record::{FuncRecord, NEXT_OVERLOAD};
use crate::core::func::{mismatch, signature};
use crate::core::object::{Borrowed, Object};

/// Arguments are arranged on the stack up to this count (heap beyond).
const STACK_ARGS: usize = 16;

/// `tp_vectorcall` of bound functions. No panic leaves this function.
///
/// A call with all of the only overload's parameters given positionally
/// is a tail call into that overload (which raises the mismatch error
/// itself); everything else takes the general path.
pub(crate) unsafe extern "C" fn func_vectorcall(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: vectorcall is only installed on FuncObjects; CPython passes a
    // valid argument vector of nargs + len(kwnames) entries.
    let f = unsafe { &*(callable as *const FuncObject) };
    let nargs = crate::core::abi::vectorcall_nargs(nargsf) as usize;
    if kwnames.is_null() && nargs == f.fast_nargs {
        // SAFETY: `fast_nargs` is set only while there is exactly one
        // overload, taking exactly `nargs` positional arguments. No `None`
        // pre-check here: a caster that does not accept `None` fails on it
        // by itself (the general path checks early only to skip work
        // across overloads). The call implementation catches panics.
        unsafe {
            let r = &**f.overloads.as_ptr();
            return (r.call)(&r.site, args, !0, callable);
        }
    }
    // SAFETY: as above.
    unsafe { dispatch_slow(f, args, nargs, kwnames) }
}

/// # Safety
/// As for `func_vectorcall`.
#[inline(never)]
unsafe extern "C" fn dispatch_slow(
    f: *const FuncObject,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the caller's contract.
    match catch_unwind(AssertUnwindSafe(|| unsafe { dispatch_general(f, args, nargs, kwnames) })) {
        Ok(r) => r,
        Err(payload) => panic_to_pyerr(payload).restore_null(),
    }
}

/// Whether an argument is `None` where the overload refuses it.
///
/// # Safety
/// `args` holds the overload's `nargs` valid arguments.
#[inline]
unsafe fn has_rejected_none(r: &FuncRecord, args: *const *mut ffi::PyObject) -> bool {
    // SAFETY: reads a static object's address.
    let none = unsafe { ffi::Py_None() };
    let mut mask = r.none_reject_mask;
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        // SAFETY: bits of the mask are below `nargs` (the caller's contract).
        if unsafe { *args.add(i) } == none {
            return true;
        }
        mask &= mask - 1;
    }
    false
}

/// Overload resolution over every record, the mismatch error otherwise.
///
/// # Safety
/// As for `func_vectorcall`; `fp` is the function object called.
#[inline]
unsafe fn dispatch_general(
    fp: *const FuncObject,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // `f` is re-borrowed around each call into an overload, never held
    // across one: the call may add an overload (`&mut` to the object).
    // SAFETY: the function object is alive for the call (CPython holds it).
    let f = || unsafe { &*fp };
    let mut stack = [std::ptr::null_mut::<ffi::PyObject>(); STACK_ARGS];
    let mut heap: Vec<*mut ffi::PyObject> = Vec::new();
    // The `*args` tuple and `**kwargs` dict of the overload being tried
    // (only for overloads that have them), alive until it returns.
    let mut extra: [Option<Object>; 2] = [None, None];
    // A single overload gets a single pass, with conversions allowed (an
    // exact match is always tried first by every caster).
    let passes = if f().overloads.len() == 1 { 1 } else { 2 };
    for pass in 0..passes {
        // By index, the length read afresh: bound code may add overloads
        // while one runs; records are boxed and never move or go away.
        let mut i = 0;
        while i < f().overloads.len() {
            // SAFETY: the record lives in its own box, which outlives this
            // call.
            let r: &FuncRecord = unsafe { &*(&*f().overloads[i] as *const FuncRecord) };
            i += 1;
            let buf: &mut [*mut ffi::PyObject] = if r.nargs <= STACK_ARGS {
                &mut stack[..r.nargs]
            } else {
                heap.clear();
                heap.resize(r.nargs, std::ptr::null_mut());
                &mut heap[..]
            };
            let argv = if r.variadic {
                // SAFETY: the caller's contract on `args` and `kwnames`.
                match unsafe { arrange_variadic(r, args, nargs, kwnames, buf, &mut extra) } {
                    Ok(Some(argv)) => argv,
                    Ok(None) => continue,
                    Err(e) => return e.restore_null(),
                }
            } else {
                // SAFETY: the caller's contract on `args` and `kwnames`.
                match unsafe { arrange(r, args, nargs, kwnames, buf) } {
                    Some(argv) => argv,
                    None => continue,
                }
            };
            // SAFETY: `argv` holds the overload's `nargs` arguments.
            if r.none_reject_mask != 0 && unsafe { has_rejected_none(r, argv) } {
                continue;
            }
            let convert = if pass + 1 == passes { !0 } else { 0 };
            // SAFETY: as above; the record's own call implementation and
            // site.
            let res = unsafe { (r.call)(&r.site, argv, convert, std::ptr::null_mut()) };
            if res != NEXT_OVERLOAD {
                return res;
            }
        }
    }
    // SAFETY: the caller's contract.
    unsafe { raise_mismatch(fp, args, nargs, kwnames) }
}

/// Maps positional and keyword arguments onto the overload's parameters,
/// filling defaults. Returns the argument vector to use, or `None` when the
/// call cannot bind to this overload.
///
/// # Safety
/// `args` holds `nargs` positional arguments, then one per keyword name
/// of `kwnames` (a tuple of `str`, or NULL), all valid for the call.
pub(super) unsafe fn arrange(
    r: &FuncRecord,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
    buf: &mut [*mut ffi::PyObject],
) -> Option<*const *mut ffi::PyObject> {
    if nargs > r.nargs_pos {
        return None;
    }
    // SAFETY: `kwnames` is a tuple when not NULL.
    let nkw = if kwnames.is_null() {
        0
    } else {
        // SAFETY: as above.
        (unsafe { crate::core::abi::tuple_size(kwnames) }) as usize
    };
    if nkw == 0 && nargs == r.nargs {
        return Some(args);
    }
    buf.fill(std::ptr::null_mut());
    // SAFETY: `args` holds at least `nargs` pointers; `nargs <= nargs_pos
    // <= buf.len()`.
    buf[..nargs].copy_from_slice(unsafe { std::slice::from_raw_parts(args, nargs) });
    for k in 0..nkw {
        // SAFETY: `k` is below the tuple's size.
        let key = unsafe { crate::core::abi::tuple_get_item(kwnames, k as ffi::Py_ssize_t) };
        // SAFETY: a live `str` of the caller's tuple.
        let i = unsafe { find_param(r, key) }?;
        if !buf[i].is_null() {
            return None; // given twice
        }
        // SAFETY: keyword values follow the positional arguments.
        buf[i] = unsafe { *args.add(nargs + k) };
    }
    for (i, slot) in buf.iter_mut().enumerate().skip(nargs) {
        if slot.is_null() {
            *slot = r.args.get(i)?.default.as_ref()?.as_ptr();
        }
    }
    Some(buf.as_ptr())
}

/// [`arrange`] for an overload with `*args` and/or `**kwargs`: the extra
/// positional arguments go into a new tuple, the keywords that name no
/// parameter into a new dict (both kept in `extra` for the call; empty
/// when there are none). `Ok(None)` when the call cannot bind to this
/// overload; `Err` when building them failed.
///
/// # Safety
/// As for [`arrange`].
#[cold]
#[inline(never)]
unsafe fn arrange_variadic(
    r: &FuncRecord,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
    buf: &mut [*mut ffi::PyObject],
    extra: &mut [Option<Object>; 2],
) -> PyResult<Option<*const *mut ffi::PyObject>> {
    *extra = [None, None];
    if nargs > r.nargs_pos && r.var_args.is_none() {
        return Ok(None);
    }
    buf.fill(std::ptr::null_mut());
    let npos = nargs.min(r.nargs_pos);
    // SAFETY: `args` holds `nargs` pointers; `npos <= nargs_pos <= buf.len()`.
    let given = unsafe { std::slice::from_raw_parts(args, nargs) };
    buf[..npos].copy_from_slice(&given[..npos]);
    if let Some(va) = r.var_args {
        let rest = &given[npos..];
        // SAFETY: a new tuple of `rest.len()` slots, each filled with a new
        // reference before the tuple is used.
        let t = unsafe {
            let t = Object::from_owned_or_err(ffi::PyTuple_New(rest.len() as ffi::Py_ssize_t))?;
            for (j, &a) in rest.iter().enumerate() {
                ffi::Py_INCREF(a);
                crate::core::abi::tuple_set_item(t.as_ptr(), j as ffi::Py_ssize_t, a);
            }
            t
        };
        buf[va] = t.as_ptr();
        extra[0] = Some(t);
    }
    if let Some(vk) = r.var_kw {
        // SAFETY: a new dict.
        let d = unsafe { Object::from_owned_or_err(ffi::PyDict_New())? };
        buf[vk] = d.as_ptr();
        extra[1] = Some(d);
    }
    let nkw = if kwnames.is_null() {
        0
    } else {
        // SAFETY: `kwnames` is a tuple when not NULL.
        (unsafe { crate::core::abi::tuple_size(kwnames) }) as usize
    };
    for k in 0..nkw {
        // SAFETY: `k` is below the tuple's size; keyword values follow the
        // positional arguments.
        let (key, value) = unsafe {
            (crate::core::abi::tuple_get_item(kwnames, k as ffi::Py_ssize_t), *args.add(nargs + k))
        };
        // SAFETY: a live `str` of the caller's tuple.
        match unsafe { find_param(r, key) } {
            Some(i) if buf[i].is_null() => buf[i] = value,
            Some(_) => return Ok(None), // given twice
            None => match &extra[1] {
                // SAFETY: our own dict; `key` and `value` are live (the
                // dict takes its own references). A `str` subclass key may
                // run Python code: nothing read before is trusted after it
                // but the caller's arguments, which the caller holds.
                Some(d) => unsafe {
                    if ffi::PyDict_SetItem(d.as_ptr(), key, value) != 0 {
                        return Err(PyErr::fetch());
                    }
                },
                None => return Ok(None),
            },
        }
    }
    for (i, slot) in buf.iter_mut().enumerate().skip(npos) {
        if slot.is_null() {
            let Some(d) = r.args.get(i).and_then(|a| a.default.as_ref()) else {
                return Ok(None);
            };
            *slot = d.as_ptr();
        }
    }
    Ok(Some(buf.as_ptr()))
}

/// The index of the keyword-capable parameter named `key`.
///
/// # Safety
/// `key` is a live object.
unsafe fn find_param(r: &FuncRecord, key: *mut ffi::PyObject) -> Option<usize> {
    let named = r.args.get(r.nargs_pos_only..)?;
    // Keyword names from call sites are interned, and so are ours.
    if let Some(i) = named.iter().position(|a| a.name.as_ref().map(|n| n.as_ptr()) == Some(key)) {
        return Some(i + r.nargs_pos_only);
    }
    // SAFETY: the caller's contract.
    let key = unsafe { Borrowed::from_ptr(key) }.to_str().ok()?;
    // (`*args` / `**kwargs` have no `name`: a keyword never binds them.)
    named.iter().position(|a| a.name.is_some() && a.name_str == key).map(|i| i + r.nargs_pos_only)
}

/// The outcome of arguments the single-overload fast path could not load
/// (see [`crate::core::func::record::CallImpl`]): the mismatch `TypeError`
/// of function object `callable`.
///
/// # Safety
/// `callable` is a FuncObject with the fast path, `args` its arguments.
#[cold]
#[inline(never)]
pub(crate) unsafe fn raise_fast_mismatch(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the caller's contract.
    unsafe {
        let fp = callable as *const FuncObject;
        let nargs = (*fp).fast_nargs;
        debug_assert!((*fp).overloads.len() == 1 && nargs != NO_FAST_PATH);
        raise_mismatch(fp, args, nargs, std::ptr::null_mut())
    }
}

/// Raises the `TypeError` for a call that matched no overload: nanobind's
/// text, then why arguments were refused (see `mismatch`).
///
/// # Safety
/// `fp` is the live function object called; as for [`arrange`] on `args`,
/// `nargs` and `kwnames`.
#[cold]
#[inline(never)]
unsafe fn raise_mismatch(
    fp: *const FuncObject,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: reads the thread state's error indicator (GIL held).
    if !unsafe { ffi::PyErr_Occurred() }.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the function object is alive for the call; not held across
    // the explanations below, which may run Python code.
    if unsafe { &*fp }.overloads.iter().any(|r| r.operator) {
        // Binary operators: let Python try the reflected operation.
        // SAFETY: a new reference to the static `NotImplemented`.
        return unsafe {
            let ni = ffi::Py_NotImplemented();
            ffi::Py_INCREF(ni);
            ni
        };
    }
    // SAFETY: the caller's contract: `kwnames` is a tuple when not NULL, and
    // `args` holds `nargs` positional arguments, then one per keyword, all
    // live; no error is set.
    let reasons = unsafe { mismatch::refusals(fp, args, nargs, kwnames) };
    // SAFETY: as above.
    let mut msg = unsafe { signature::mismatch_message(&*fp, args, nargs, kwnames) };
    msg.push_str(&reasons);
    PyErr::type_error(msg).restore_null()
}
