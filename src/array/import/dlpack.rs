//! Importing through DLPack: `__dlpack__` producers and raw capsules.

use ndbind_dlpack::{DLDevice, DeviceType, Layout};
use pyo3_ffi as ffi;

use crate::array::check::check;
use crate::array::frameworks::is_jax;
use crate::array::handle::{ArrayHandle, Owner};
use crate::array::requirements::Requirements;
use crate::array::stream::{has_streams, stream_for, Stream};
use crate::core::error::PyErr;
use crate::core::gil_cell::GilCell;
use crate::core::object::{Borrowed, Object};

/// `name` looked up through the MRO of `tp` (the raw value, a new
/// reference; `None` if absent), without raising: public API in both
/// builds (`crate::core::abi::mro_lookup`).
///
/// # Safety
/// The GIL is held; `tp` is a valid type; `name` an exact `str`.
#[inline]
pub(crate) unsafe fn type_lookup(tp: *mut ffi::PyTypeObject, name: Borrowed<'_>) -> Option<Object> {
    // SAFETY: forwarded.
    unsafe { crate::core::abi::mro_lookup(tp, name.as_ptr()) }
}

/// Whether `obj`'s type defines `__dlpack__` (no exception raised).
#[inline]
pub(crate) fn has_dlpack(obj: Borrowed<'_>) -> bool {
    // SAFETY: valid type and interned name.
    unsafe { type_lookup(obj.type_ptr(), crate::interned!(c"__dlpack__")) }.is_some()
}

/// The keyword names `("max_version",)`, `("stream",)` and
/// `("stream", "max_version")`, and the version `(1, 3)`, built once.
struct Args {
    versioned: Object,
    stream: Object,
    both: Object,
    version: Object,
}

fn args() -> &'static Args {
    static CELL: GilCell<Args> = GilCell::new();
    CELL.get_or_init(|| {
        // SAFETY: building small tuples of fresh (or interned) objects.
        unsafe {
            let tuple = |p| Object::from_owned(p).expect("tuple");
            let mv = crate::interned!(c"max_version").as_ptr();
            let st = crate::interned!(c"stream").as_ptr();
            let major =
                Object::from_owned(ffi::PyLong_FromLong(ndbind_dlpack::DLPACK_MAJOR_VERSION as _))
                    .expect("int");
            let minor =
                Object::from_owned(ffi::PyLong_FromLong(ndbind_dlpack::DLPACK_MINOR_VERSION as _))
                    .expect("int");
            Args {
                versioned: tuple(ffi::PyTuple_Pack(1, mv)),
                stream: tuple(ffi::PyTuple_Pack(1, st)),
                both: tuple(ffi::PyTuple_Pack(2, st, mv)),
                version: tuple(ffi::PyTuple_Pack(2, major.as_ptr(), minor.as_ptr())),
            }
        }
    })
}

/// Calls `obj.__dlpack__()`, with `max_version=(1, 3)` when `versioned`
/// and `stream=…` when a stream is given, through vectorcall. A new
/// reference, or NULL with an error set.
fn call_dlpack(obj: Borrowed<'_>, versioned: bool, stream: Option<Stream>) -> *mut ffi::PyObject {
    let name = crate::interned!(c"__dlpack__");
    let a = args();
    let stream = match stream {
        // SAFETY: a fresh int (NULL with an error set on failure).
        Some(s) => match unsafe { Object::from_owned(ffi::PyLong_FromSsize_t(s.as_raw())) } {
            Some(o) => Some(o),
            None => return std::ptr::null_mut(),
        },
        None => None,
    };
    // SAFETY: valid argument vectors: self, then one value per keyword
    // name; PY_VECTORCALL_ARGUMENTS_OFFSET is not set.
    unsafe {
        let call = |args: &[*mut ffi::PyObject], names: *mut ffi::PyObject| {
            ffi::PyObject_VectorcallMethod(name.as_ptr(), args.as_ptr(), 1, names)
        };
        match (&stream, versioned) {
            (None, false) => call(&[obj.as_ptr()], std::ptr::null_mut()),
            (None, true) => call(&[obj.as_ptr(), a.version.as_ptr()], a.versioned.as_ptr()),
            (Some(s), false) => call(&[obj.as_ptr(), s.as_ptr()], a.stream.as_ptr()),
            (Some(s), true) => {
                call(&[obj.as_ptr(), s.as_ptr(), a.version.as_ptr()], a.both.as_ptr())
            }
        }
    }
}

/// `obj.__dlpack_device__()`: `Ok(None)` when `obj` has no such method;
/// `Err(())`, with `TypeError` (or the producer's error) set, when it
/// fails or returns something other than two ints.
pub(crate) fn dlpack_device(obj: Borrowed<'_>) -> Result<Option<DLDevice>, ()> {
    let name = crate::interned!(c"__dlpack_device__");
    // SAFETY: a never-raising MRO lookup; valid type and interned name.
    if unsafe { type_lookup(obj.type_ptr(), name) }.is_none() {
        return Ok(None);
    }
    let r = obj.call_method(c"__dlpack_device__", &[]).map_err(|e| e.restore())?;
    // SAFETY: type checks of a live object; items of a 2-tuple, borrowed
    // while the tuple is held; each integer read may run `__index__`, and
    // none runs with an error pending.
    let dev = unsafe {
        let p = r.as_ptr();
        if ffi::PyTuple_Check(p) != 0 && crate::core::abi::tuple_size(p) == 2 {
            let kind = ffi::PyLong_AsLong(crate::core::abi::tuple_get_item(p, 0));
            let id = if ffi::PyErr_Occurred().is_null() {
                ffi::PyLong_AsLong(crate::core::abi::tuple_get_item(p, 1))
            } else {
                -1
            };
            ffi::PyErr_Clear();
            match (i32::try_from(kind), i32::try_from(id)) {
                (Ok(k), Ok(i)) if k >= 0 && i >= 0 => Some(DLDevice::new(DeviceType(k), i)),
                _ => None,
            }
        } else {
            None
        }
    };
    match dev {
        Some(d) => Ok(Some(d)),
        None => {
            PyErr::type_error(format!(
                "{}.__dlpack_device__() returned {}, not a (device_type, device_id) pair of ints",
                obj.type_name(),
                r.borrow().type_name()
            ))
            .restore();
            Err(())
        }
    }
}

/// Whether the pending error is a TypeError or BufferError (which mean
/// "try the other capsule kind"); if so it is cleared.
fn clear_retryable() -> bool {
    // SAFETY: error-indicator queries with the GIL held.
    unsafe {
        if ffi::PyErr_ExceptionMatches(ffi::PyExc_TypeError) != 0
            || ffi::PyErr_ExceptionMatches(ffi::PyExc_BufferError) != 0
        {
            ffi::PyErr_Clear();
            true
        } else {
            false
        }
    }
}

/// Takes ownership of the managed tensor in a fresh capsule and validates it.
/// Errors (invalid tensor, not a capsule) are raised: they are the
/// producer's bugs, not mismatches.
///
/// # Safety
/// The GIL is held.
unsafe fn take_capsule(cap: &Object) -> Result<(Layout, Owner), ()> {
    let p = cap.as_ptr();
    // SAFETY: `p` is a live object (the GIL is held); a taken tensor is
    // owned by the `Owner` made right away (deleted when it drops).
    if let Some(t) = unsafe { ndbind_dlpack::take_versioned(p) } {
        let owner = Owner::Versioned(t);
        // SAFETY: a live versioned managed tensor, owned by `owner`.
        return validated(unsafe { ndbind_dlpack::validate_versioned(t.as_ptr()) }, owner);
    }
    // SAFETY: as above.
    if let Some(t) = unsafe { ndbind_dlpack::take_legacy(p) } {
        let owner = Owner::Legacy(t);
        // SAFETY: a live legacy managed tensor, owned by `owner`.
        return validated(unsafe { ndbind_dlpack::validate_legacy(t.as_ref()) }, owner);
    }
    PyErr::type_error(format!(
        "__dlpack__ returned a {} object, not a DLPack capsule",
        cap.borrow().type_name()
    ))
    .restore();
    Err(())
}

/// Imports a `__dlpack__` producer. `Ok(None)`: refused (mismatch);
/// `Err(())`: a Python error is set and aborts the call.
///
/// # Safety
/// The GIL is held.
pub(crate) unsafe fn import_producer(
    obj: Borrowed<'_>,
    req: &Requirements,
) -> Result<Option<ArrayHandle>, ()> {
    let jax = is_jax(obj);
    if jax && req.writable {
        return Ok(None);
    }
    // torch without the exchange table: its `__dlpack__` exports a tensor
    // with the negative bit raw (and refuses one with the conjugate bit by
    // raising); both are mismatches here, as on the exchange route.
    if crate::array::import::exchange::lazy_flags_set(obj) {
        return Ok(None);
    }
    // Streams: asked only for parameters on a GPU device or with a stream
    // of their own (one more Python call, `__dlpack_device__`), passed only
    // for arrays on CUDA/ROCm (CPU producers accept only `None`).
    let stream = if req.stream.is_some() || req.device.is_some_and(has_streams) {
        match dlpack_device(obj)? {
            // On another device than required: refused before anything
            // is exported.
            Some(d) if req.device.is_some_and(|w| w != d.device_type) => return Ok(None),
            Some(d) => stream_for(req, d).map(|s| (s, d.device_type)),
            None => None,
        }
    } else {
        None
    };
    // Versioned capsules carry the read-only flag: ask for one when
    // writability matters; the legacy protocol is cheaper otherwise. A
    // producer that refuses one kind (TypeError, BufferError) is asked for
    // the other; one that refuses the `stream` keyword (older producers)
    // is asked again without it only where that means the same (the legacy
    // default stream, which `None` means) or more (`-1`: no synchronisation
    // asked; the producer then synchronises with the default stream), as
    // the array-API spec allows; otherwise it cannot honour the stream.
    let attempts = [
        (req.writable, stream.map(|s| s.0)),
        (!req.writable, stream.map(|s| s.0)),
        (req.writable, None),
        (!req.writable, None),
    ];
    let n = match stream {
        None => 2,
        Some((s, dt)) if s.may_be_omitted(dt) => 4,
        Some(_) => 2,
    };
    let mut cap = std::ptr::null_mut();
    let mut passed = None;
    for &(versioned, s) in &attempts[..n] {
        cap = call_dlpack(obj, versioned, s);
        if !cap.is_null() {
            passed = s;
            break;
        }
        if !clear_retryable() {
            return Err(());
        }
    }
    if cap.is_null() {
        return match stream {
            Some((s, _)) if n == 2 => {
                PyErr::type_error(format!(
                    "{}.__dlpack__() refused stream={} (a TypeError or BufferError), which this parameter needs: \
                     the producer cannot synchronise the array with the stream the function uses it on",
                    obj.type_name(),
                    s.as_raw()
                ))
                .restore();
                Err(())
            }
            _ => Ok(None),
        };
    }
    // SAFETY: a new reference from a successful call.
    let cap = unsafe { Object::from_owned(cap) }.expect("non-null");
    // SAFETY: the GIL is held (caller contract).
    let (layout, owner) = unsafe { take_capsule(&cap)? };
    // A legacy capsule carries no read-only flag; JAX arrays are immutable.
    let read_only = layout.is_read_only() || jax;
    // The stream the data is ready on: the one passed; with none passed,
    // the producer assumed the legacy default stream (the spec's `None`).
    // Read from the capsule, not from `__dlpack_device__`'s earlier answer
    // (the producer ran Python code since): memory without streams gets none.
    let ready =
        Stream::default_for(layout.device().device_type).map(|default| passed.unwrap_or(default));
    Ok(Some(ArrayHandle::general(layout, owner, read_only, obj.to_owned()).with_stream(ready)))
}

/// A taken tensor's layout with its owner, or (the tensor deleted)
/// `ValueError` raised.
fn validated(
    checked: Result<Layout, ndbind_dlpack::InvalidTensor>,
    owner: Owner,
) -> Result<(Layout, Owner), ()> {
    match checked {
        Ok(l) => Ok((l, owner)),
        Err(e) => {
            drop(owner);
            PyErr::value_error(format!("invalid DLPack tensor: {e}")).restore();
            Err(())
        }
    }
}

/// The validated layout of an unconsumed capsule's tensor, peeked (the
/// tensor stays the capsule's; the layout is a copy), and whether the
/// capsule is versioned; `None` for a consumed or foreign capsule. Safe
/// against another thread consuming the capsule meanwhile (a free-threaded
/// interpreter): `ndbind_dlpack::peek_layout`.
///
/// # Safety
/// The GIL is held; `obj` is a capsule.
pub(crate) unsafe fn peek_capsule(
    obj: Borrowed<'_>,
) -> Option<(Result<Layout, ndbind_dlpack::InvalidTensor>, bool)> {
    // SAFETY: `obj` is a live object (caller contract).
    unsafe { ndbind_dlpack::peek_layout(obj.as_ptr()) }
}

/// Imports a raw DLPack capsule, taking its tensor provisionally (see
/// [`Owner::TakenCapsule`]): an overload that rejects it, on this or any
/// other argument, hands it back and leaves the capsule usable.
///
/// The tensor is taken first, then validated and checked (handed back if
/// refused): taking is the one atomic step, so of threads importing the
/// same capsule at once (free-threaded CPython) exactly one gets the
/// tensor, and none reads a tensor another took (and may free).
///
/// # Safety
/// The GIL is held; `obj` is a capsule.
pub(crate) unsafe fn import_capsule(
    obj: Borrowed<'_>,
    req: &Requirements,
) -> Result<Option<ArrayHandle>, ()> {
    let p = obj.as_ptr();
    let capsule = std::ptr::NonNull::new(p).expect("a live object");
    // SAFETY: `obj` is a live capsule (caller contract); a taken tensor is
    // owned by the `TakenCapsule` made right away (handed back or deleted
    // when it drops).
    let (taken, checked) = unsafe {
        if let Some(t) = ndbind_dlpack::take_versioned(p) {
            let taken =
                crate::array::handle::TakenCapsule { tensor: t.cast(), capsule, versioned: true };
            (taken, ndbind_dlpack::validate_versioned(t.as_ptr()))
        } else if let Some(t) = ndbind_dlpack::take_legacy(p) {
            let taken =
                crate::array::handle::TakenCapsule { tensor: t.cast(), capsule, versioned: false };
            (taken, ndbind_dlpack::validate_legacy(t.as_ref()))
        } else {
            return Ok(None);
        }
    };
    let owner = Owner::TakenCapsule(Box::new(taken));
    let layout = match checked {
        Ok(l) => l,
        Err(e) => {
            drop(owner); // handed back: the capsule stays unconsumed
            PyErr::value_error(format!("invalid DLPack tensor: {e}")).restore();
            return Err(());
        }
    };
    let read_only = layout.is_read_only();
    let h = ArrayHandle::general(layout, owner, read_only, obj.to_owned());
    if check(&h, req).is_err() {
        return Ok(None); // `h` drops: the tensor is handed back
    }
    Ok(Some(h))
}

/// Whether `obj` is an unconsumed DLPack capsule whose tensor is valid
/// (for `is_array`; never consumes).
pub(crate) fn is_valid_capsule(obj: Borrowed<'_>) -> bool {
    // SAFETY: peeking only; the GIL is held.
    unsafe { peek_capsule(obj) }.is_some_and(|(l, _)| l.is_ok())
}
