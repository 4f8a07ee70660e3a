//! The `keep_alive(nurse, patient)` annotation ([`crate::keep_alive`]):
//! an overload that has it gets this call implementation in place of its
//! own, which calls the original and then ties the lifetimes with
//! [`crate::class::keep_alive`] (the one keep-alive mechanism). Other
//! overloads keep their own call implementation: nothing is added to
//! their calls.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3_ffi as ffi;

use crate::core::error::{panic_to_pyerr, PyErr, PyResult};
use crate::core::func::record::{CallImpl, CallSite, FuncRecord, NEXT_OVERLOAD};
use crate::core::object::Borrowed;

/// What the wrapping call implementation reads from its site's data: the
/// overload's own call implementation and site, and the pairs to apply.
struct KeepAliveSite {
    call: CallImpl,
    site: CallSite,
    free: unsafe fn(*mut ()),
    pairs: Box<[(usize, usize)]>,
}

impl Drop for KeepAliveSite {
    fn drop(&mut self) {
        // SAFETY: the original callable, made for `free`, released once
        // (its record now owns this site instead).
        unsafe { (self.free)(self.site.data as *mut ()) }
    }
}

/// # Safety
/// `p` came from `Box::<KeepAliveSite>::into_raw` in [`wrap`]; freed once.
unsafe fn free_site(p: *mut ()) {
    // SAFETY: the caller's contract.
    drop(unsafe { Box::from_raw(p as *mut KeepAliveSite) })
}

/// Refuses an index past the overload's `nargs` parameters.
pub(crate) fn check(name: &str, nargs: usize, pairs: &[(usize, usize)]) -> PyResult<()> {
    match pairs.iter().find(|&&(n, p)| n > nargs || p > nargs) {
        Some(&(n, p)) => Err(PyErr::runtime_error(format!(
            "{name}: keep_alive({n}, {p}): an index is out of range (0 is the return value, 1 to {nargs} the parameters)"
        ))),
        None => Ok(()),
    }
}

/// Makes `rec` call through [`call_keep_alive`] with `pairs` (checked by
/// [`check`]); nothing when there are none.
pub(crate) fn wrap(rec: &mut FuncRecord, pairs: Vec<(usize, usize)>) {
    if pairs.is_empty() {
        return;
    }
    debug_assert!(check("", rec.nargs, &pairs).is_ok());
    let site = Box::new(KeepAliveSite {
        call: rec.call,
        site: rec.site,
        free: rec.free,
        pairs: pairs.into_boxed_slice(),
    });
    rec.site.data = Box::into_raw(site) as *const ();
    rec.free = free_site;
    rec.call = call_keep_alive;
}

/// The call implementation of an overload with `keep_alive` annotations
/// (see [`CallImpl`]).
unsafe extern "C" fn call_keep_alive(
    site: &CallSite,
    args: *const *mut ffi::PyObject,
    convert: u64,
    mismatch: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: `wrap` made this site's data a `KeepAliveSite`, owned by
    // the record, which outlives the call.
    let ka = unsafe { &*(site.data as *const KeepAliveSite) };
    // SAFETY: the caller's contract, forwarded to the overload's own
    // implementation with its own site.
    let res = unsafe { (ka.call)(&ka.site, args, convert, mismatch) };
    if res.is_null() || res == NEXT_OVERLOAD {
        return res;
    }
    let tie = || -> PyResult<()> {
        for &(nurse, patient) in ka.pairs.iter() {
            // SAFETY: `args` holds the overload's `nargs` arguments, held
            // by the caller until it returns (indices checked by `wrap`);
            // `res` is the new reference the call returned.
            let pick = |i: usize| unsafe {
                Borrowed::from_ptr(if i == 0 { res } else { *args.add(i - 1) })
            };
            crate::core::class::keep_alive(pick(nurse), pick(patient))?;
        }
        Ok(())
    };
    let err = match catch_unwind(AssertUnwindSafe(tie)) {
        Ok(Ok(())) => return res,
        Ok(Err(e)) => e,
        Err(payload) => panic_to_pyerr(payload),
    };
    // SAFETY: the result is ours to release.
    unsafe { ffi::Py_DECREF(res) };
    err.restore_null()
}
