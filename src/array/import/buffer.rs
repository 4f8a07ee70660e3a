//! Importing through the buffer protocol (`memoryview`, `bytes`,
//! `bytearray`, `array.array`, …), with full PEP 3118 format parsing.

use ndbind_dlpack::{DLDevice, DLTensor, MAX_NDIM};
use pyo3_ffi as ffi;

use crate::array::format::parse_format;
use crate::array::handle::{ArrayHandle, Owner};
use crate::array::layout::{fill_c_strides, strides_from_bytes};
use crate::core::object::Borrowed;

/// Whether the object's type exports buffers (checked without raising).
#[inline]
pub(crate) fn has_buffer(obj: Borrowed<'_>) -> bool {
    // SAFETY: reading slots of a valid type object.
    unsafe { crate::core::abi::has_buffer(obj.type_ptr()) }
}

/// Imports `obj` through the buffer protocol; `None` (no error left set)
/// when the exporter refuses, or the format/strides are not representable.
///
/// # Safety
/// The GIL is held.
pub(crate) unsafe fn import(obj: Borrowed<'_>) -> Option<ArrayHandle> {
    // SAFETY: Py_buffer is plain data; a zeroed one is a valid "empty" view.
    let mut view: Box<ffi::Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
    // SAFETY: valid object and view; on failure the error is cleared.
    if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, ffi::PyBUF_RECORDS_RO) } != 0 {
        // SAFETY: the GIL is held (caller contract).
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // From here on the view is released by the handle, or by this guard.
    struct Guard(Option<Box<ffi::Py_buffer>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(mut v) = self.0.take() {
                // SAFETY: the view was filled by a successful GetBuffer.
                unsafe { ffi::PyBuffer_Release(&mut *v) }
            }
        }
    }
    let mut guard = Guard(Some(view));
    let v = guard.0.as_deref().expect("view");
    let nd = v.ndim as usize;
    if !v.suboffsets.is_null() || nd > MAX_NDIM || v.itemsize <= 0 {
        return None;
    }
    let fmt: &[u8] = if v.format.is_null() {
        b"B"
    } else {
        // SAFETY: a non-NULL format is a NUL-terminated string of the view.
        unsafe { std::ffi::CStr::from_ptr(v.format) }.to_bytes()
    };
    let dtype = parse_format(fmt, v.itemsize as usize)?;
    let mut shape = [0i64; MAX_NDIM];
    let mut strides = [0i64; MAX_NDIM];
    if nd > 0 {
        if v.shape.is_null() {
            // Only 1-D contiguous exporters may omit the shape.
            if nd != 1 {
                return None;
            }
            shape[0] = (v.len / v.itemsize) as i64;
        } else {
            // SAFETY: a non-NULL shape holds `ndim` extents.
            let s = unsafe { std::slice::from_raw_parts(v.shape as *const i64, nd) };
            shape[..nd].copy_from_slice(s);
        }
        if v.strides.is_null() {
            fill_c_strides(&shape[..nd], &mut strides[..nd]);
        } else {
            // SAFETY: non-NULL strides hold `ndim` byte strides.
            let bs = unsafe { std::slice::from_raw_parts(v.strides as *const isize, nd) };
            if !strides_from_bytes(&shape[..nd], bs, v.itemsize as usize, &mut strides[..nd]) {
                return None;
            }
        }
    }
    let t = DLTensor {
        data: v.buf,
        device: DLDevice::CPU,
        ndim: nd as i32,
        dtype,
        shape: shape.as_mut_ptr(),
        strides: strides.as_mut_ptr(),
        byte_offset: 0,
    };
    // SAFETY: the tensor describes the exporter's live buffer.
    let layout = unsafe { ndbind_dlpack::validate(&t, v.readonly != 0) }.ok()?;
    let view = guard.0.take().expect("view");
    let read_only = layout.is_read_only();
    Some(ArrayHandle::general(layout, Owner::Buffer(view), read_only, obj.to_owned()))
}
