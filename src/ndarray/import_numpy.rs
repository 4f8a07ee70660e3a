//! Fast path for NumPy arrays: the array struct is read directly (as
//! rust-numpy does), with no `__dlpack__` call and no buffer export.
//!
//! Only the leading fields of `PyArrayObject` and of `PyArray_Descr` are
//! read; they are identical in NumPy 1.x and 2.x.

use std::cell::Cell;
use std::ffi::{c_char, c_int, CStr};

use ndbind_dlpack::{DLDevice, MAX_NDIM};
use pyo3_ffi as ffi;

use crate::core::gil_cell::GilCell;
use crate::core::object::Borrowed;
use crate::ndarray::dtype::DType;
use crate::ndarray::handle::{ArrayHandle, Owner};

#[repr(C)]
struct ArrayFields {
    ob_base: ffi::PyObject,
    data: *mut c_char,
    nd: c_int,
    dimensions: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    base: *mut ffi::PyObject,
    descr: *mut DescrFields,
    flags: c_int,
}

#[repr(C)]
struct DescrFields {
    ob_base: ffi::PyObject,
    typeobj: *mut ffi::PyTypeObject,
    kind: c_char,
    type_char: c_char,
    byteorder: c_char,
    former_flags: c_char,
    type_num: c_int,
}

const NPY_ARRAY_WRITEABLE: c_int = 0x0400;

/// `numpy.ndarray`, once seen (a static type: it lives as long as NumPy).
static NDARRAY_TYPE: GilCell<Cell<usize>> = GilCell::new();

/// Whether `obj` is a NumPy array (or subclass instance).
#[inline]
pub(crate) fn is_numpy_array(obj: Borrowed<'_>) -> bool {
    let tp = obj.type_ptr();
    let cached = NDARRAY_TYPE.get_or_init(|| Cell::new(0));
    let known = cached.get();
    if known != 0 {
        // SAFETY: both are valid type objects.
        return tp as usize == known || unsafe { ffi::PyType_IsSubtype(tp, known as *mut ffi::PyTypeObject) } != 0;
    }
    // SAFETY: tp_name is a NUL-terminated string owned by the type.
    let name = unsafe { CStr::from_ptr((*tp).tp_name) };
    if name.to_bytes() == b"numpy.ndarray" {
        cached.set(tp as usize);
        return true;
    }
    false
}

/// The dtype of a NumPy descriptor, if ndbind supports it natively.
fn dtype_of(d: &DescrFields) -> Option<DType> {
    let long_is_64 = std::mem::size_of::<std::ffi::c_long>() == 8;
    Some(match d.type_num {
        0 => DType::BOOL,
        1 => DType::INT8,
        2 => DType::UINT8,
        3 => DType::INT16,
        4 => DType::UINT16,
        5 => DType::INT32,
        6 => DType::UINT32,
        7 => if long_is_64 { DType::INT64 } else { DType::INT32 },
        8 => if long_is_64 { DType::UINT64 } else { DType::UINT32 },
        9 => DType::INT64,
        10 => DType::UINT64,
        11 => DType::FLOAT32,
        12 => DType::FLOAT64,
        14 => DType::COMPLEX64,
        15 => DType::COMPLEX128,
        23 => DType::FLOAT16,
        // ml_dtypes registers bfloat16 as a user type with type char 'E'.
        n if n >= 256 && d.type_char as u8 == b'E' && d.kind as u8 == b'V' => DType::BFLOAT16,
        _ => return None,
    })
}

/// Imports a NumPy array; `None` when its dtype or byte order is not
/// representable (the caller reports a mismatch).
///
/// # Safety
/// `obj` is a NumPy array (`is_numpy_array`), and the GIL is held.
pub(crate) unsafe fn import(obj: Borrowed<'_>) -> Option<ArrayHandle> {
    // SAFETY: `obj` is an ndarray, whose leading fields have this layout.
    let a = unsafe { &*(obj.as_ptr() as *const ArrayFields) };
    let d = unsafe { &*a.descr };
    if d.byteorder as u8 == b'>' && cfg!(target_endian = "little") {
        return None;
    }
    let dtype = dtype_of(d)?;
    let nd = a.nd as usize;
    if nd > MAX_NDIM {
        return None;
    }
    let itemsize = dtype.itemsize() as isize;
    let dl = dtype.to_dl();
    let fill = |shape: &mut [i64], strides: &mut [i64]| {
        for i in 0..nd {
            // SAFETY: NumPy's dims/strides arrays hold `nd` entries.
            let (e, s) = unsafe { (*a.dimensions.add(i) as i64, *a.strides.add(i)) };
            shape[i] = e;
            // Axes of extent <= 1 may carry any stride (NumPy's relaxed
            // strides); elsewhere byte strides must be whole elements.
            strides[i] = if s % itemsize == 0 {
                (s / itemsize) as i64
            } else if e <= 1 {
                0
            } else {
                return false;
            };
        }
        true
    };
    // SAFETY: NumPy's own description of its live memory.
    let layout = unsafe {
        ndbind_dlpack::from_trusted(a.data.cast(), DLDevice::CPU, dl, nd, a.flags & NPY_ARRAY_WRITEABLE == 0, fill)
    }?;
    let read_only = layout.is_read_only();
    Some(ArrayHandle { layout, owner: Owner::Source, read_only, source: Some(obj.to_owned()) })
}
