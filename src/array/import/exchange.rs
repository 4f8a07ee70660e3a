//! Fast path for types publishing the DLPack C exchange API
//! (`__dlpack_c_exchange_api__`, e.g. `torch.Tensor` ≥ 2.10): a `DLTensor`
//! view is filled in C, with no capsule, no managed tensor and no
//! Python-level call. The table is looked up once per type.

use ndbind_dlpack::{DLDevice, DLPackExchangeAPI, DLTensor};
use pyo3_ffi as ffi;

use crate::array::handle::{ArrayHandle, Owner};
use crate::array::requirements::Requirements;
use crate::array::stream::{has_streams, Stream};
use crate::core::gil_cell::GilLock;
use crate::core::object::Borrowed;

const SLOTS: usize = 8;

/// Per-type cache: (type, table). Types are compared by address, so each
/// cached type is held by a strong reference (released when its entry is
/// replaced): a dead type's address reused by another type must never
/// find a table (a subclass of `torch.Tensor` made at run time, or any
/// class that copied the attribute, may die). Read and written under its
/// lock (free-threaded, a reader must never pair one entry's type with
/// another's table).
#[derive(Default)]
struct Cache {
    types: [usize; SLOTS],
    apis: [usize; SLOTS],
    next: usize,
}

static CACHE: GilLock<Cache> = GilLock::new();

/// The exchange table of `obj`'s type, if it publishes one.
#[inline]
pub(crate) fn api_for(obj: Borrowed<'_>) -> Option<&'static DLPackExchangeAPI> {
    let tp = obj.type_ptr() as usize;
    let hit = CACHE.with(|c| c.types.iter().position(|&t| t == tp).map(|i| c.apis[i]));
    if let Some(api) = hit {
        // SAFETY: cached from `exchange_api_from_capsule` below; the
        // table lives as long as its (immortal) framework module.
        return Some(unsafe { &*(api as *const DLPackExchangeAPI) });
    }
    // The type, held across the lookup: a `str`-subclass key's `__eq__` in
    // the MRO's dicts may run Python code that reassigns `obj.__class__`,
    // freeing the type read above. The entry takes this reference over.
    // SAFETY: a live object's type, a live object.
    let held = unsafe { Borrowed::from_ptr(obj.type_ptr() as *mut ffi::PyObject) }.to_owned();
    // SAFETY: a lookup through the type's MRO that never raises; the
    // capsule (borrowed) is validated by name before use.
    let api = unsafe {
        let attr = crate::array::import::dlpack::type_lookup(
            held.as_ptr() as *mut ffi::PyTypeObject,
            crate::interned!(c"__dlpack_c_exchange_api__"),
        )?;
        ndbind_dlpack::exchange_api_from_capsule(attr.as_ptr())?
    };
    let tp = held.into_ptr() as usize;
    let old = CACHE.with(|c| {
        let i = c.next % SLOTS;
        c.next = i + 1;
        c.apis[i] = api as *const _ as usize;
        std::mem::replace(&mut c.types[i], tp)
    });
    // The replaced entry's reference, released after the update (the
    // release may run Python code, which may use the cache).
    if old != 0 {
        // SAFETY: the reference the replaced entry owned.
        unsafe { ffi::Py_DECREF(old as *mut ffi::PyObject) };
    }
    Some(api)
}

/// Imports `obj` through its type's exchange table; `None` (error cleared)
/// if the producer refuses, so the caller can fall back to `__dlpack__`,
/// which reports the producer's own error.
///
/// The C view bypasses checks torch makes in its Python `__dlpack__`: a
/// tensor with the conjugate or the negative bit set (its memory holds the
/// unconjugated / unnegated values: `t.conj()`, `t.conj().imag`,
/// `torch._neg_view(t)`) and, for writable parameters, a tensor that
/// requires grad (an in-place write would bypass autograd) are refused.
///
/// Arrays on CUDA/ROCm are read without synchronisation: the producer's
/// current work stream for their device (`current_work_stream`, as the
/// DLPack header asks consumers to query) is the handle's stream, on which
/// the binding's work is ordered after the producer's. A parameter with a
/// stream of its own ([`OnStream`](crate::array::OnStream)) is refused
/// here, so that `__dlpack__(stream=…)` synchronises with that stream.
///
/// # Safety
/// The GIL is held; `api` is the table of `obj`'s type.
pub(crate) unsafe fn import(
    obj: Borrowed<'_>,
    api: &'static DLPackExchangeAPI,
    req: &Requirements,
) -> Option<ArrayHandle> {
    let writable = req.writable;
    api.dltensor_from_py_object_no_sync?;
    // Python-level queries first: they may run Python code (a subclass's
    // override), which must not run between reading the view and using it.
    // torch's method calls cost ~100 ns each, so a read-only parameter has
    // the negative/conjugate bits checked only when its values are read
    // (`ArrayHandle::lazy_bits_set`); a writable one is checked here.
    if writable && (lazy_flags_set(obj) || flag(obj, c"requires_grad")) {
        return None;
    }
    // SAFETY: the table is the one of `obj`'s type (caller).
    let layout = unsafe { view(obj, api) }?;
    let device = layout.device();
    let stream = if has_streams(device.device_type) {
        if req.stream.is_some() {
            return None;
        }
        Some(current_stream(api, device)?)
    } else {
        None
    };
    let h = ArrayHandle::general(layout, Owner::Exchange(api), false, obj.to_owned());
    Some(h.with_stream(stream))
}

/// The producer's current work stream for `device`; `None` (error
/// cleared) when the table has no such function or it fails.
#[cold]
fn current_stream(api: &DLPackExchangeAPI, device: DLDevice) -> Option<Stream> {
    let f = api.current_work_stream?;
    let mut out = std::ptr::null_mut();
    // SAFETY: the producer's function, called with the GIL held and a
    // valid out-pointer; on failure it sets a Python error, cleared here.
    if unsafe { f(device.device_type, device.device_id, &mut out) } != 0 {
        // SAFETY: the GIL is held.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(Stream::from_producer(out, device.device_type))
}

/// The validated `DLTensor` view the exchange table gives of `obj`;
/// `None`, with any error cleared, when the producer refuses or the view
/// is invalid.
///
/// # Safety
/// The GIL is held; `api` is the table of `obj`'s type.
pub(crate) unsafe fn view(
    obj: Borrowed<'_>,
    api: &DLPackExchangeAPI,
) -> Option<ndbind_dlpack::Layout> {
    let f = api.dltensor_from_py_object_no_sync?;
    // SAFETY: DLTensor is plain data; the producer fills it.
    let mut t: DLTensor = unsafe { std::mem::zeroed() };
    // SAFETY: the producer's function for an object of its own type.
    if unsafe { f(obj.as_ptr().cast(), &mut t) } != 0 {
        // SAFETY: clearing the producer's error (GIL held).
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: a producer-filled tensor viewing memory that `obj` (kept as
    // the handle's source) keeps alive; validation copies shape/strides.
    unsafe { ndbind_dlpack::validate(&t, false) }.ok()
}

/// Whether `obj` is a torch tensor whose memory does not hold its values
/// (the negative or the conjugate bit is set: `torch._neg_view(t)`,
/// `t.conj().imag`, `t.conj()`); false for types without these methods.
pub(crate) fn lazy_flags_set(obj: Borrowed<'_>) -> bool {
    method_flag(obj, crate::interned!(c"is_neg")) || method_flag(obj, crate::interned!(c"is_conj"))
}

/// `type(obj).name(obj)` as a bool, the method descriptor called directly
/// (no bound method is made): torch's `is_neg()` / `is_conj()`. A type
/// without the method has no such flag; an error counts as true (refuse
/// when in doubt) and is cleared.
fn method_flag(obj: Borrowed<'_>, name: Borrowed<'_>) -> bool {
    // SAFETY: a never-raising MRO lookup (borrowed result), then a
    // vectorcall with one valid argument; the result is owned.
    unsafe {
        let Some(d) = crate::array::import::dlpack::type_lookup(obj.type_ptr(), name) else {
            return false;
        };
        let args = [obj.as_ptr()];
        match crate::core::object::Object::from_owned(ffi::PyObject_Vectorcall(
            d.as_ptr(),
            args.as_ptr(),
            1,
            std::ptr::null_mut(),
        )) {
            Some(v) => v.as_ptr() != ffi::Py_False(),
            None => {
                ffi::PyErr_Clear();
                true
            }
        }
    }
}

/// `obj.name` as a bool: anything but `False`, and errors (cleared),
/// count as true (refuse when in doubt), as in `method_flag`.
fn flag(obj: Borrowed<'_>, name: &std::ffi::CStr) -> bool {
    match obj.getattr(name) {
        // SAFETY: comparing with the False singleton.
        Ok(v) => v.as_ptr() != unsafe { ffi::Py_False() },
        Err(_) => true,
    }
}
