//! The import pipeline for one array argument, cheapest route first:
//! 1. exact types read directly: `ndbind.ndarray`, NumPy arrays, and types
//!    publishing the DLPack C exchange API (torch);
//! 2. raw DLPack capsules (taken at load, handed back if the call does
//!    not match: see `Owner::TakenCapsule`);
//! 3. JAX arrays on the CPU through the buffer protocol, then
//!    `__dlpack__` producers (CuPy, older torch, …);
//! 4. the buffer protocol;
//! 5. `__cuda_array_interface__` (CUDA producers without DLPack);
//! 6. where allowed, a converted copy made by the array's framework.
//!
//! No exception is raised and caught while probing which route applies.

pub(crate) mod buffer;
pub(crate) mod cai;
pub(crate) mod dlpack;
pub(crate) mod exchange;
pub(crate) mod numpy;

use std::mem::MaybeUninit;

use pyo3_ffi as ffi;

use crate::array::check::check;
use crate::array::handle::ArrayHandle;
use crate::array::requirements::Requirements;
use crate::core::object::Borrowed;

/// Imports `obj` as an array satisfying `req`. `None` is a mismatch (no
/// error set) or, with a Python error set, a failure that aborts the call.
/// A raw capsule's tensor is taken, and kept only by
/// [`ArrayHandle::commit`].
#[inline]
pub fn import(obj: Borrowed<'_>, req: &Requirements, convert: bool) -> Option<ArrayHandle> {
    let mut out = MaybeUninit::uninit();
    // SAFETY: `import_into` initialised `out` when it returns true.
    import_into(obj, req, convert, &mut out).then(|| unsafe { out.assume_init() })
}

/// [`import`], writing the handle into `out` (an argument holder); true
/// when `out` was initialised.
///
/// A thin shell inlined into each array caster, where `req` is a constant:
/// only the NumPy fast path and its check (which folds to the constrained
/// fields) are inline; every other route, conversion and mismatch is one
/// shared, out-of-line function.
#[inline(always)]
pub(crate) fn import_into(
    obj: Borrowed<'_>,
    req: &Requirements,
    convert: bool,
    out: &mut MaybeUninit<ArrayHandle>,
) -> bool {
    // NumPy first, without the call into `probe`: the most common argument.
    // SAFETY: `obj` is a NumPy array; the GIL is held.
    let loaded = numpy::is_numpy_array(obj) && unsafe { numpy::import_into(obj, out) };
    if loaded && req.dtype != Some(crate::array::dtype::DType::BOOL) {
        // SAFETY: initialised above.
        if check(unsafe { out.assume_init_ref() }, req).is_ok() {
            return true;
        }
    }
    import_slow(obj, req, convert, out, loaded)
}

/// [`import_into`] past its NumPy fast path: `loaded` tells whether `out`
/// already holds the NumPy import (then checked again here: a mismatch, or
/// a bool array whose values are to be validated).
#[inline(never)]
fn import_slow(
    obj: Borrowed<'_>,
    req: &Requirements,
    convert: bool,
    out: &mut MaybeUninit<ArrayHandle>,
    loaded: bool,
) -> bool {
    let found = loaded || probe_into(obj, req, out);
    if !found {
        // A NumPy dtype ndbind cannot read (byte-swapped, longdouble) can
        // still be converted when the parameter allows it.
        return convert
            && !req.writable
            && numpy::convertible_to(obj, req)
            && converted_into(obj, None, req, out);
    }
    // SAFETY: initialised above.
    let h = unsafe { out.assume_init_ref() };
    match check(h, req) {
        Ok(()) if !bools_ok(h, req) => {
            // SAFETY: initialised, and not used again.
            unsafe { out.assume_init_drop() };
            false
        }
        Ok(()) => true,
        Err(m) => {
            let dtype = h.dtype();
            // SAFETY: initialised, and not used again before it is rewritten.
            unsafe { out.assume_init_drop() };
            convert && m.convertible && converted_into(obj, Some(dtype), req, out)
        }
    }
}

/// `probe`, into `out`.
#[inline]
fn probe_into(obj: Borrowed<'_>, req: &Requirements, out: &mut MaybeUninit<ArrayHandle>) -> bool {
    probe(obj, req).map(|h| out.write(h)).is_some()
}

/// `import_converted`, into `out`.
#[inline]
fn converted_into(
    obj: Borrowed<'_>,
    current: Option<crate::array::dtype::DType>,
    req: &Requirements,
    out: &mut MaybeUninit<ArrayHandle>,
) -> bool {
    import_converted(obj, current, req).map(|h| out.write(h)).is_some()
}

/// The conversion route: a copy made by the array's framework.
#[cold]
#[inline(never)]
fn import_converted(
    obj: Borrowed<'_>,
    current: Option<crate::array::dtype::DType>,
    req: &Requirements,
) -> Option<ArrayHandle> {
    if is_capsule(obj) {
        return None;
    }
    let copy = crate::array::convert::convert(obj, current, req)?;
    let h = probe(copy.borrow(), req)?;
    check(&h, req).ok()?;
    bools_ok(&h, req).then_some(h)
}

/// A `bool` array must hold only 0 and 1, on every route (a copy of one
/// copies its bytes): false, with `ValueError` set, when not.
#[inline]
fn bools_ok(h: &ArrayHandle, req: &Requirements) -> bool {
    req.dtype != Some(crate::array::dtype::DType::BOOL) || h.bools_valid()
}

/// Whether `obj` can be imported as an array at all (no import is kept,
/// and a capsule is never consumed).
pub fn is_array(obj: Borrowed<'_>) -> bool {
    if is_capsule(obj) {
        return dlpack::is_valid_capsule(obj);
    }
    let ok = probe(obj, &Requirements::NONE).is_some();
    // A producer that raised is simply "not an array" here.
    drop(crate::core::error::PyErr::take());
    ok
}

#[inline]
fn is_capsule(obj: Borrowed<'_>) -> bool {
    // SAFETY: exact type check of a valid object.
    unsafe { ffi::PyCapsule_CheckExact(obj.as_ptr()) != 0 }
}

/// Finds the route for `obj` and imports through it (requirements only
/// steer the choice of capsule kind; `check` decides the match).
#[inline(never)]
fn probe(obj: Borrowed<'_>, req: &Requirements) -> Option<ArrayHandle> {
    // Every route's import is an `unsafe fn` whose contract is: the GIL is
    // held (by every caller of `probe`) and `obj` is of the route's kind
    // (what the test before each call checks).
    if numpy::is_numpy_array(obj) {
        // SAFETY: the GIL is held; `obj` is a NumPy array.
        return match unsafe { numpy::import(obj) } {
            Some(h) => Some(h),
            // An unsupported NumPy dtype may still be exported in a form
            // we read (through the buffer protocol): see below.
            // SAFETY: the GIL is held.
            None => unsafe { buffer::import(obj) },
        };
    }
    if let Some((l, read_only)) = crate::array::array_object::layout_of(obj) {
        let owner = crate::array::handle::Owner::Source;
        return Some(ArrayHandle::general(l.clone(), owner, read_only, obj.to_owned()));
    }
    if let Some(api) = exchange::api_for(obj) {
        // SAFETY: the GIL is held; `api` is the table of `obj`'s type.
        if let Some(h) = unsafe { exchange::import(obj, api, req) } {
            return Some(h);
        }
    }
    if is_capsule(obj) {
        // SAFETY: the GIL is held; `obj` is a capsule.
        return unsafe { dlpack::import_capsule(obj, req) }.ok().flatten();
    }
    // JAX: immutable, CPU buffers export through the buffer protocol, far
    // cheaper than JAX's Python-level `__dlpack__` (jaxlib refuses the
    // buffer protocol for device memory, so nothing is copied).
    if crate::array::frameworks::is_jax(obj) && buffer::has_buffer(obj) {
        // SAFETY: the GIL is held.
        if let Some(h) = unsafe { buffer::import(obj) } {
            return Some(h);
        }
    }
    if dlpack::has_dlpack(obj) {
        // SAFETY: the GIL is held; `obj`'s type has `__dlpack__`.
        match unsafe { dlpack::import_producer(obj, req) } {
            Ok(Some(h)) => return Some(h),
            Ok(None) => {}
            Err(()) => return None,
        }
        if crate::array::frameworks::is_jax(obj) || !buffer::has_buffer(obj) {
            return None;
        }
    }
    if buffer::has_buffer(obj) {
        // SAFETY: the GIL is held.
        return unsafe { buffer::import(obj) };
    }
    // Last: CUDA memory of producers without DLPack (never reached by a
    // CPU argument that matched a route above).
    if cai::has_cai(obj) && !matches!(req.device, Some(d) if d != ndbind_dlpack::DeviceType::CUDA) {
        return cai::import(obj);
    }
    None
}
