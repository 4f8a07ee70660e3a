//! The DLPack C exchange API (DLPack 1.3) of `ndbind.ndarray`: a
//! process-lifetime function table, published on the type as
//! `__dlpack_c_exchange_api__` (a capsule named `"dlpack_exchange_api"`),
//! through which C consumers (tvm-ffi, another ndbind module, …) exchange
//! arrays without calling `__dlpack__` from Python.
//!
//! Errors: every function returns -1, with a Python exception set or, for
//! the allocator (which may run without the GIL), reported through its
//! `set_error` callback; pointer outputs are then NULL (a caller's
//! `DLTensor` is left untouched). No panic crosses the C boundary.
//!
//! Ownership: `managed_tensor_to_py_object_no_sync` takes over the tensor
//! only when it succeeds. A tensor it refuses is *not* deleted: the caller
//! still owns it (torch behaves the same way), because a caller that
//! disagrees about failure ownership then leaks one tensor instead of
//! freeing it twice.
//!
//! The table may be reached through any type (a Python class can copy the
//! attribute), so functions that take an object check its exact type and
//! raise `TypeError` for anything but an `ndbind.ndarray` of this module.

use std::ffi::{c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use ndbind_dlpack::{
    DLDevice, DLManagedTensorVersioned, DLPackExchangeAPI, DLPackExchangeAPIHeader, DLPackSetError,
    DLPackVersion, DLTensor, DeviceType, Layout, EXCHANGE_API_ATTR, EXCHANGE_API_NAME,
};
use pyo3_ffi as ffi;

use crate::array::aligned::AlignedVec;
use crate::array::array_object;
use crate::array::export::dlpack::TensorParts;
use crate::array::export::dlpack::{self as export_dlpack, ExportOptions};
use crate::array::owner::OwnerBox;
use crate::core::error::{push_decimal, PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// The table itself: immutable and alive for the whole process, as
/// `dlpack.h` requires.
static API: DLPackExchangeAPI = DLPackExchangeAPI {
    header: DLPackExchangeAPIHeader {
        version: DLPackVersion::CURRENT,
        prev_api: std::ptr::null_mut(),
    },
    managed_tensor_allocator: Some(managed_tensor_allocator),
    managed_tensor_from_py_object_no_sync: Some(managed_tensor_from_py_object_no_sync),
    managed_tensor_to_py_object_no_sync: Some(managed_tensor_to_py_object_no_sync),
    dltensor_from_py_object_no_sync: Some(dltensor_from_py_object_no_sync),
    current_work_stream: Some(current_work_stream),
};

/// Sets `__dlpack_c_exchange_api__` on the `ndbind.ndarray` type `tp`.
pub(crate) fn publish(tp: Borrowed<'_>) -> PyResult<()> {
    // SAFETY: the table is a 'static that nobody writes (consumers only
    // read it); the name is 'static; a capsule without a destructor never
    // frees it.
    let cap = unsafe {
        Object::from_owned_or_err(ffi::PyCapsule_New(
            &API as *const DLPackExchangeAPI as *mut c_void,
            EXCHANGE_API_NAME.as_ptr(),
            None,
        ))
    }?;
    tp.setattr(EXCHANGE_API_ATTR, cap.borrow())
}

// Entry points called with the GIL held: an error or a panic becomes a
// raised exception and -1.
use crate::core::class::meta::guard_int as guarded;

/// The `ndbind.ndarray` behind `obj`, or a `TypeError`.
///
/// # Safety
/// The GIL is held; `obj` is NULL or a live object.
unsafe fn array_of<'a>(obj: *mut c_void) -> PyResult<(Borrowed<'a>, &'a Layout, bool)> {
    if obj.is_null() {
        return Err(PyErr::type_error("expected an ndbind.ndarray, got NULL"));
    }
    // SAFETY: a live object (caller contract), borrowed for the call.
    let b = unsafe { Borrowed::from_ptr(obj.cast()) };
    match array_object::layout_of(b) {
        Some((l, read_only)) => Ok((b, l, read_only)),
        None => Err(PyErr::type_error(format!(
            "the DLPack exchange API of ndbind.ndarray got a {} object",
            b.type_name()
        ))),
    }
}

/// Sets an entry point's output slot to NULL first, so that a failure
/// leaves nothing for the caller to free; a NULL slot is a `ValueError`.
///
/// # Safety
/// `out` is NULL or a writable pointer slot.
unsafe fn clear_out<T>(out: *mut *mut T, entry: &str) -> PyResult<()> {
    if out.is_null() {
        return Err(PyErr::value_error(format!("{entry}: NULL output pointer")));
    }
    // SAFETY: non-NULL, writable (caller contract).
    unsafe { *out = std::ptr::null_mut() };
    Ok(())
}

/// `managed_tensor_from_py_object_no_sync`: an owning versioned tensor
/// (READ_ONLY when the array is) that keeps the array object alive until
/// its deleter runs; the deleter takes the GIL itself, so it may be called
/// from any thread. Exactly what `__dlpack__(max_version=(1, x))` exports.
unsafe extern "C" fn managed_tensor_from_py_object_no_sync(
    obj: *mut c_void,
    out: *mut *mut DLManagedTensorVersioned,
) -> c_int {
    guarded(|| {
        // SAFETY: `out` is NULL or a writable pointer slot (caller contract).
        unsafe { clear_out(out, "managed_tensor_from_py_object_no_sync") }?;
        // SAFETY: called with the GIL held, on a live object.
        let (b, l, read_only) = unsafe { array_of(obj) }?;
        // SAFETY: the array object owns the layout's memory.
        let m = unsafe {
            export_dlpack::managed_versioned(
                TensorParts::of(l),
                OwnerBox::Python(b.to_owned()),
                ExportOptions { read_only, ..ExportOptions::NONE },
            )
        };
        // SAFETY: as above.
        unsafe { *out = m.as_ptr() };
        Ok(())
    })
}

/// `dltensor_from_py_object_no_sync`: a borrowed view whose shape and
/// strides point into the array object, valid while the object lives. A
/// bare `DLTensor` has no read-only flag, so a read-only array is refused
/// with `BufferError` (as `__dlpack__` refuses a legacy capsule for one):
/// the consumer falls back to the managed tensor, which carries the flag.
unsafe extern "C" fn dltensor_from_py_object_no_sync(
    obj: *mut c_void,
    out: *mut DLTensor,
) -> c_int {
    guarded(|| {
        if out.is_null() {
            return Err(PyErr::value_error("dltensor_from_py_object_no_sync: NULL output pointer"));
        }
        // SAFETY: called with the GIL held, on a live object.
        let (_, l, read_only) = unsafe { array_of(obj) }?;
        if read_only {
            return Err(PyErr::buffer_error(
                "a read-only ndbind.ndarray cannot be viewed as a bare DLTensor (which has no read-only flag); \
                 use managed_tensor_from_py_object_no_sync",
            ));
        }
        // The layout lives inside the object and never changes, so its
        // shape and strides can be lent out; consumers do not write them.
        let t = TensorParts::of(l)
            .tensor(l.shape().as_ptr().cast_mut(), l.strides().as_ptr().cast_mut());
        // SAFETY: `out` points to a caller-provided DLTensor.
        unsafe { out.write(t) };
        Ok(())
    })
}

/// A consumed versioned DLPack tensor owned by an `ndbind.ndarray`: its
/// deleter runs once, when the array is freed.
struct ManagedTensor(NonNull<DLManagedTensorVersioned>);

// SAFETY: the tensor is owned uniquely, and DLPack deleters may be called
// from any thread (producers that need the GIL take it, as ndbind's own
// deleter does); in practice the owner is dropped by the array's dealloc.
unsafe impl Send for ManagedTensor {}

impl Drop for ManagedTensor {
    fn drop(&mut self) {
        // SAFETY: we own the tensor; it is deleted once, here.
        unsafe { ndbind_dlpack::delete_versioned(self.0.as_ptr()) }
    }
}

/// `managed_tensor_to_py_object_no_sync`: a new `ndbind.ndarray` over an
/// owning versioned tensor (read-only when flagged READ_ONLY), which calls
/// the tensor's deleter once when it is freed. The tensor is validated
/// first; on any failure it stays the caller's (see the module docs).
unsafe extern "C" fn managed_tensor_to_py_object_no_sync(
    tensor: *mut DLManagedTensorVersioned,
    out_py_object: *mut *mut c_void,
) -> c_int {
    guarded(|| {
        // SAFETY: `out_py_object` is NULL or a writable pointer slot (caller
        // contract).
        unsafe { clear_out(out_py_object, "managed_tensor_to_py_object_no_sync") }?;
        let t = NonNull::new(tensor).ok_or_else(|| {
            PyErr::value_error("managed_tensor_to_py_object_no_sync: NULL tensor")
        })?;
        // SAFETY: a live managed tensor (caller contract); only the version
        // is read before it is known to be 1.x.
        let layout = unsafe { ndbind_dlpack::validate_versioned(t.as_ptr()) }
            .map_err(|e| PyErr::value_error(format!("invalid DLPack tensor: {e}")))?;
        let read_only = layout.is_read_only();
        // The tensor is taken over only once the object exists.
        let obj = array_object::new_with(layout, read_only, || OwnerBox::new(ManagedTensor(t)))?;
        // SAFETY: as above; the new reference goes to the caller.
        unsafe { *out_py_object = obj.into_ptr().cast() };
        Ok(())
    })
}

/// An allocation failure: (Python exception name, message).
type AllocError = (&'static CStr, String);

/// `managed_tensor_allocator`: a new zeroed, C-contiguous, 64-byte aligned
/// CPU tensor with the prototype's dtype and shape, owned by the returned
/// managed tensor (its deleter frees it, with or without the GIL). Needs
/// no Python at all: consumers may call it without the GIL. A prototype
/// ndbind cannot allocate (another device, a dtype ndbind does not know,
/// an invalid or too large shape) is reported through `set_error`.
unsafe extern "C" fn managed_tensor_allocator(
    prototype: *mut DLTensor,
    out: *mut *mut DLManagedTensorVersioned,
    error_ctx: *mut c_void,
    set_error: Option<DLPackSetError>,
) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if out.is_null() {
            return Err((
                c"ValueError",
                "managed_tensor_allocator: NULL output pointer".to_owned(),
            ));
        }
        // SAFETY: `out` is a writable pointer slot (caller contract).
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: a prototype whose shape holds `ndim` extents (caller
        // contract), or NULL.
        let m = unsafe { allocate(prototype) }?;
        // SAFETY: as above.
        unsafe { *out = m };
        Ok(())
    }));
    let (kind, msg) = match r {
        Ok(Ok(())) => return 0,
        Ok(Err(e)) => e,
        Err(_) => (c"RuntimeError", "Rust panic in ndbind's DLPack allocator".to_owned()),
    };
    if let Some(set_error) = set_error {
        let msg = CString::new(msg).unwrap_or_default();
        // SAFETY: the consumer's own callback with its own context; both
        // strings are NUL-terminated and outlive the call.
        unsafe { set_error(error_ctx, kind.as_ptr(), msg.as_ptr()) };
    }
    -1
}

/// # Safety
/// `prototype` is NULL or a `DLTensor` whose `shape` holds `ndim` extents.
unsafe fn allocate(prototype: *mut DLTensor) -> Result<*mut DLManagedTensorVersioned, AllocError> {
    // SAFETY: NULL or a readable DLTensor (caller contract).
    let p = unsafe { prototype.as_ref() }
        .ok_or_else(|| (c"ValueError", "managed_tensor_allocator: NULL prototype".to_owned()))?;
    if p.device != DLDevice::CPU {
        let (ty, id) = (p.device.device_type.0, p.device.device_id);
        let mut msg =
            String::from("ndbind allocates CPU memory only (device (1, 0)), not device (");
        push_int(&mut msg, ty as i64);
        msg.push_str(", ");
        push_int(&mut msg, id as i64);
        msg.push(')');
        return Err((c"ValueError", msg));
    }
    let (code, bits, lanes) = (p.dtype.code, p.dtype.bits, p.dtype.lanes);
    if !p.dtype.is_known() {
        let mut msg = String::from("ndbind cannot allocate DLPack dtype (code ");
        push_decimal(&mut msg, code as usize);
        msg.push_str(", bits ");
        push_decimal(&mut msg, bits as usize);
        msg.push_str(", lanes ");
        push_decimal(&mut msg, lanes as usize);
        msg.push(')');
        return Err((c"TypeError", msg));
    }
    // Validation checks ndim, the extents and the byte size (overflow
    // included) for the C-contiguous tensor, and computes its strides; the
    // data pointer is a stand-in, never read.
    let probe = DLTensor {
        data: NonNull::<u8>::dangling().as_ptr().cast(),
        strides: std::ptr::null_mut(),
        byte_offset: 0,
        ..*p
    };
    // SAFETY: `shape` holds `ndim` extents (caller contract); strides NULL.
    let l = unsafe { ndbind_dlpack::validate(&probe, false) }
        .map_err(|e| (c"ValueError", format!("invalid DLPack prototype: {e}")))?;
    let mut memory = AlignedVec::<u8>::zeroed(l.nbytes()).map_err(|_| {
        let mut msg = String::from("cannot allocate ");
        push_decimal(&mut msg, l.nbytes());
        msg.push_str(" bytes");
        (c"MemoryError", msg)
    })?;
    let data = memory.as_mut_ptr().cast();
    let parts = TensorParts::cpu(data, p.dtype, l.shape(), Some(l.strides()));
    // SAFETY: the vector owns the memory, whose heap address stays put as
    // the vector moves into the tensor's owner; the strides are the
    // layout's own, one per axis. Freeing it needs no GIL.
    let m = unsafe {
        let opts = ExportOptions { plain: true, ..ExportOptions::NONE };
        export_dlpack::managed_versioned(parts, OwnerBox::new(memory), opts)
    };
    Ok(m.as_ptr())
}

/// Appends a signed `n` in decimal (as `{n}` formats it).
fn push_int(s: &mut String, n: i64) {
    if n < 0 {
        s.push('-');
    }
    push_decimal(s, n.unsigned_abs() as usize);
}

/// `current_work_stream`: ndbind runs no device work and has no streams,
/// so it reports NULL (the default stream) for every device, which
/// `dlpack.h` prescribes for CPU-only frameworks. No Python is needed.
unsafe extern "C" fn current_work_stream(
    _device_type: DeviceType,
    _device_id: i32,
    out_current_stream: *mut *mut c_void,
) -> c_int {
    if out_current_stream.is_null() {
        // SAFETY: an error must be set for -1; the caller may or may not
        // hold the GIL, so take it for that.
        unsafe {
            let g = ffi::PyGILState_Ensure();
            ffi::PyErr_SetString(
                ffi::PyExc_ValueError,
                c"current_work_stream: NULL output pointer".as_ptr(),
            );
            ffi::PyGILState_Release(g);
        }
        return -1;
    }
    // SAFETY: a writable pointer slot (caller contract).
    unsafe { *out_current_stream = std::ptr::null_mut() };
    0
}

#[cfg(test)]
mod tests {
    //! The functions that need no interpreter: the allocator and the stream
    //! query (the others are tested from Python).
    use super::*;
    use std::cell::RefCell;
    use std::ffi::c_char;

    thread_local! {
        static ERRORS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    }

    unsafe extern "C" fn record_error(_ctx: *mut c_void, kind: *const c_char, msg: *const c_char) {
        // SAFETY: NUL-terminated strings from the allocator.
        let (k, m) = unsafe { (CStr::from_ptr(kind), CStr::from_ptr(msg)) };
        ERRORS.with(|e| {
            e.borrow_mut().push((k.to_string_lossy().into(), m.to_string_lossy().into()))
        });
    }

    type Allocated = (c_int, *mut DLManagedTensorVersioned, Vec<(String, String)>);

    fn alloc(shape: &mut [i64], dtype: ndbind_dlpack::DLDataType, device: DLDevice) -> Allocated {
        let mut proto = DLTensor {
            data: std::ptr::null_mut(),
            device,
            ndim: shape.len() as i32,
            dtype,
            shape: shape.as_mut_ptr(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        };
        ERRORS.with(|e| e.borrow_mut().clear());
        let mut out = NonNull::dangling().as_ptr();
        // SAFETY: a well-formed prototype and output slot.
        let rc = unsafe {
            managed_tensor_allocator(&mut proto, &mut out, std::ptr::null_mut(), Some(record_error))
        };
        (rc, out, ERRORS.with(|e| e.take()))
    }

    #[test]
    fn allocates_c_contiguous_aligned_zeroed() {
        let (rc, m, errors) = alloc(&mut [3, 5], ndbind_dlpack::DLDataType::FLOAT64, DLDevice::CPU);
        assert_eq!((rc, errors.len()), (0, 0));
        // SAFETY: a tensor just allocated, deleted once at the end.
        unsafe {
            let t = &(*m).dl_tensor;
            assert_eq!((*m).version, DLPackVersion::CURRENT);
            assert_eq!((*m).flags, 0);
            assert_eq!(t.data as usize % crate::array::ALIGN, 0);
            assert_eq!(std::slice::from_raw_parts(t.shape, 2), &[3, 5]);
            assert_eq!(std::slice::from_raw_parts(t.strides, 2), &[5, 1]);
            assert!(std::slice::from_raw_parts(t.data as *const f64, 15).iter().all(|&x| x == 0.0));
            ndbind_dlpack::delete_versioned(m);
        }
    }

    #[test]
    fn refusals_go_through_set_error() {
        let cuda = DLDevice::new(DeviceType::CUDA, 0);
        let vector = ndbind_dlpack::DLDataType::new(ndbind_dlpack::DataTypeCode::FLOAT, 32, 4);
        let f32 = ndbind_dlpack::DLDataType::FLOAT32;
        let cases: [(&mut [i64], _, _, &str); 5] = [
            (&mut [2], f32, cuda, "ValueError"),
            (&mut [2], vector, DLDevice::CPU, "TypeError"),
            (&mut [2, -1], f32, DLDevice::CPU, "ValueError"),
            (&mut [1 << 40, 1 << 40], f32, DLDevice::CPU, "ValueError"),
            (&mut [1 << 60], f32, DLDevice::CPU, "MemoryError"),
        ];
        for (shape, dtype, device, kind) in cases {
            let (rc, out, errors) = alloc(shape, dtype, device);
            assert_eq!((rc, out), (-1, std::ptr::null_mut()), "{shape:?}");
            assert_eq!(errors.len(), 1, "set_error is called exactly once");
            assert_eq!(errors[0].0, kind, "{}", errors[0].1);
        }
        let mut out = NonNull::dangling().as_ptr();
        let null = std::ptr::null_mut();
        // SAFETY: a NULL prototype and callback are refused, not read.
        let rc = unsafe { managed_tensor_allocator(null, &mut out, std::ptr::null_mut(), None) };
        assert_eq!(rc, -1);
        assert!(out.is_null());
    }

    #[test]
    fn every_stream_is_null() {
        for device in [DeviceType::CPU, DeviceType::CUDA] {
            let mut s = NonNull::dangling().as_ptr();
            // SAFETY: a writable output slot.
            assert_eq!(unsafe { current_work_stream(device, 0, &mut s) }, 0);
            assert!(s.is_null());
        }
    }
}
