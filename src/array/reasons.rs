//! Why an array argument was refused, for the mismatch error
//! (`Argument 1 (a) was refused: dtype float64, expected float32`).
//!
//! Re-derived when the error is built (a cold path), never recorded while
//! loading: a successful call pays nothing, and nothing recorded by an
//! earlier call can go stale. The array is looked at again through the
//! routes that do not import it for good or call into its producer: NumPy
//! and `ndbind.ndarray` structs, torch's C exchange view, a capsule's
//! tensor *peeked* (never taken or renamed), the buffer protocol (JAX on
//! the CPU, `memoryview`, ...). A `__dlpack__` producer's `__dlpack__` is
//! not called again (a second export may be visible to it): only its
//! device is asked for (`__dlpack_device__`, a query). The only Python
//! code run is the queries the load itself made (torch's
//! `requires_grad`, `is_neg`, `is_conj`) and `__dlpack_device__`.

use pyo3_ffi as ffi;

use crate::array::check::why;
use crate::array::handle::{ArrayHandle, Owner};
use crate::array::import::{buffer, dlpack, exchange, numpy};
use crate::array::requirements::{device_name, Requirements};
use crate::core::object::Borrowed;

/// Why `obj` is refused by an array parameter requiring `req`: `None`
/// when `obj` is no array at all (its type, in `Invoked with types:`,
/// says enough), when it passes (the overload failed on another
/// argument), or when the refusal is one conversion fixes and `convert`
/// allows it. `reads_values`: the parameter is a view, which refuses a
/// torch tensor whose memory does not hold its values.
#[cold]
#[inline(never)]
pub(crate) fn explain(
    obj: Borrowed<'_>,
    req: &Requirements,
    convert: bool,
    reads_values: bool,
) -> Option<String> {
    let (h, exchange_route) = match look(obj, req, convert) {
        Ok(found) => found,
        Err(reason) => return reason,
    };
    if let Some((reason, m)) = why(&h, req) {
        return (!(convert && m.convertible)).then_some(reason);
    }
    if reads_values && exchange_route && exchange::lazy_flags_set(obj) {
        return Some(LAZY_BITS.to_owned());
    }
    None
}

const LAZY_BITS: &str =
    "a torch tensor with the negative or conjugate bit set, whose memory does not \
                         hold its values (call .resolve_neg() / .resolve_conj() first)";

/// The array `obj` as the import would see it, and whether it came
/// through torch's exchange API; or the reason to give at once (`None`:
/// nothing to say).
fn look(
    obj: Borrowed<'_>,
    req: &Requirements,
    convert: bool,
) -> Result<(ArrayHandle, bool), Option<String>> {
    if numpy::is_numpy_array(obj) {
        // SAFETY: the GIL is held; `obj` is a NumPy array.
        if let Some(h) = unsafe { numpy::import(obj) } {
            return Ok((h, false));
        }
        // SAFETY: as above (the import's own fallback).
        if let Some(h) = unsafe { buffer::import(obj) } {
            return Ok((h, false));
        }
        if convert && !req.writable && numpy::convertible_to(obj, req) {
            return Err(None); // a converted copy is made
        }
        // SAFETY: as above.
        return Err(Some(unsafe { numpy::unreadable(obj) }));
    }
    if let Some((l, read_only)) = crate::array::array_object::layout_of(obj) {
        return Ok((
            ArrayHandle::general(l.clone(), Owner::Source, read_only, obj.to_owned()),
            false,
        ));
    }
    if let Some(api) = exchange::api_for(obj) {
        // The checks `exchange::import` makes for a writable parameter.
        if req.writable {
            if obj.getattr(c"requires_grad").map_or(true, |v| v.as_ptr() != py_false()) {
                drop(crate::core::error::PyErr::take());
                return Err(Some(
                    "requires_grad=True, expected a tensor that does not require grad \
                     (a write would bypass autograd: pass .detach())"
                        .to_owned(),
                ));
            }
            if exchange::lazy_flags_set(obj) {
                return Err(Some(LAZY_BITS.to_owned()));
            }
        }
        // SAFETY: the GIL is held; `api` is the table of `obj`'s type.
        if let Some(l) = unsafe { exchange::view(obj, api) } {
            return Ok((ArrayHandle::general(l, Owner::Source, false, obj.to_owned()), true));
        }
    }
    // SAFETY: exact type check of a valid object.
    if unsafe { ffi::PyCapsule_CheckExact(obj.as_ptr()) } != 0 {
        // SAFETY: the GIL is held; `obj` is a capsule; peeking only.
        return match unsafe { dlpack::peek_capsule(obj) } {
            Some((Ok(l), _)) => {
                let read_only = l.is_read_only();
                Ok((ArrayHandle::general(l, Owner::Source, read_only, obj.to_owned()), false))
            }
            Some((Err(e), _)) => Err(Some(format!("an invalid DLPack tensor ({e})"))),
            // A consumed capsule says nothing: when the single-overload
            // call path raises, the holders of the arguments loaded before
            // are still alive, and one may hold this very capsule's tensor
            // provisionally (taken, to be handed back): it looks consumed
            // then, though its parameter accepted it.
            None => Err(None),
        };
    }
    let jax = crate::array::frameworks::is_jax(obj);
    if jax && buffer::has_buffer(obj) {
        // SAFETY: the GIL is held.
        if let Some(h) = unsafe { buffer::import(obj) } {
            return Ok((h, false));
        }
    }
    if dlpack::has_dlpack(obj) {
        if let Some(reason) = device_of_producer(obj, req) {
            return Err(Some(reason));
        }
        if jax && req.writable {
            return Err(Some("a JAX array (immutable), expected a writable array".to_owned()));
        }
        if jax || !buffer::has_buffer(obj) {
            return Err(None);
        }
    }
    if buffer::has_buffer(obj) {
        // SAFETY: the GIL is held.
        return unsafe { buffer::import(obj) }.map(|h| (h, false)).ok_or(None);
    }
    Err(None)
}

/// The `False` singleton.
fn py_false() -> *mut ffi::PyObject {
    // SAFETY: the address of a static object.
    unsafe { ffi::Py_False() }
}

/// For a `__dlpack__` producer (whose `__dlpack__` is not called again):
/// the device refusal, from `__dlpack_device__()` (a query), if `req`
/// names a device and the producer is on another one.
fn device_of_producer(obj: Borrowed<'_>, req: &Requirements) -> Option<String> {
    let want = req.device?;
    let r = obj.call_method(c"__dlpack_device__", &[]);
    let Ok(t) = r else {
        drop(crate::core::error::PyErr::take());
        return None;
    };
    // SAFETY: type checks of a live object; items of a 2-tuple, borrowed
    // while the tuple is held; integer reads clear their own errors below.
    let (kind, id) = unsafe {
        let p = t.as_ptr();
        if ffi::PyTuple_Check(p) == 0 || crate::core::abi::tuple_size(p) != 2 {
            return None;
        }
        // Each read may run `__index__`: none runs with an error pending.
        let read = |i| {
            let v = ffi::PyLong_AsLong(crate::core::abi::tuple_get_item(p, i));
            if ffi::PyErr_Occurred().is_null() {
                Some(v)
            } else {
                ffi::PyErr_Clear();
                None
            }
        };
        let kind = read(0)?;
        (kind, read(1)?)
    };
    let kind = ndbind_dlpack::DeviceType(i32::try_from(kind).ok()?);
    if kind == want {
        return None;
    }
    Some(format!("device {}:{id}, expected {}", device_name(kind), device_name(want)))
}
