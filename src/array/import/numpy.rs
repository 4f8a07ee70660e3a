//! Fast path for NumPy arrays: the array struct is read directly (as
//! rust-numpy does), with no `__dlpack__` call and no buffer export.
//!
//! Only the leading fields of `PyArrayObject` and of `PyArray_Descr` are
//! read; they are identical in NumPy 1.x and 2.x.

use std::ffi::{c_char, c_int, c_void};
use std::mem::MaybeUninit;

use ndbind_dlpack::{DLDevice, MAX_NDIM};
use pyo3_ffi as ffi;

use crate::array::dtype::DType;
use crate::array::frameworks::{ML_DTYPES, NUMPY};
use crate::array::handle::{ArrayHandle, Owner};
use crate::core::object::Borrowed;

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

/// Whether `obj` is a NumPy array (or subclass instance).
///
/// Its struct is then read directly, so the type must really be NumPy's:
/// it is taken from the loaded `numpy` module, never trusted by name (any
/// Python class can be named `numpy.ndarray`). Until an array has been
/// seen, only objects whose type bears that name trigger the lookup.
#[inline]
pub(crate) fn is_numpy_array(obj: Borrowed<'_>) -> bool {
    let tp = obj.type_ptr();
    // `numpy.ndarray`, once NumPy is loaded (a strong reference, kept).
    let cached = NUMPY.array_type_cell();
    let known = cached.load(std::sync::atomic::Ordering::Acquire);
    if known != 0 {
        // SAFETY: both are valid type objects.
        return tp as usize == known
            || unsafe { ffi::PyType_IsSubtype(tp, known as *mut ffi::PyTypeObject) } != 0;
    }
    // SAFETY: a live type; the GIL is held.
    let named = unsafe { crate::core::abi::with_type_name(tp, |name| name == b"numpy.ndarray") };
    named && first_numpy_array(tp)
}

/// Looks `numpy.ndarray` up in the loaded `numpy` module (a static type:
/// Python code cannot make one), caches it, and tells whether `tp` is it.
#[cold]
#[inline(never)]
fn first_numpy_array(tp: *mut ffi::PyTypeObject) -> bool {
    NUMPY.array_type() == Some(tp)
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
        7 => {
            if long_is_64 {
                DType::INT64
            } else {
                DType::INT32
            }
        }
        8 => {
            if long_is_64 {
                DType::UINT64
            } else {
                DType::UINT32
            }
        }
        9 => DType::INT64,
        10 => DType::UINT64,
        11 => DType::FLOAT32,
        12 => DType::FLOAT64,
        14 => DType::COMPLEX64,
        15 => DType::COMPLEX128,
        23 => DType::FLOAT16,
        // ml_dtypes registers bfloat16 as a user type; other user types
        // share its type char and kind (`ml_dtypes.uint1` is 'E'/'V' with
        // one byte per element), so its scalar type decides.
        _ if bfloat16_candidate(d)
            && ML_DTYPES.array_type_cell().load(std::sync::atomic::Ordering::Acquire)
                == d.typeobj as usize =>
        {
            DType::BFLOAT16
        }
        _ => return None,
    })
}

/// A user dtype that may be `ml_dtypes.bfloat16` (other user types share
/// its type char and kind: `ml_dtypes.uint1` is 'E'/'V' with one byte per
/// element), so its scalar type decides.
fn bfloat16_candidate(d: &DescrFields) -> bool {
    d.type_num >= 256 && d.type_char as u8 == b'E' && d.kind as u8 == b'V'
}

/// [`dtype_of`] for the first bfloat16 array ndbind sees: `ml_dtypes` is
/// looked up (Python code, which may change or free the descriptor: it is
/// read into locals first, its scalar type held meanwhile).
///
/// # Safety
/// `descr` is a live descriptor; the GIL is held.
#[cold]
#[inline(never)]
unsafe fn first_bfloat16(descr: *const DescrFields) -> Option<DType> {
    // SAFETY: a live descriptor (caller), not used after the lookup.
    let t = unsafe {
        let d = &*descr;
        if !bfloat16_candidate(d)
            || ML_DTYPES.array_type_cell().load(std::sync::atomic::Ordering::Acquire) != 0
        {
            return None;
        }
        crate::core::object::Object::from_borrowed(d.typeobj as *mut ffi::PyObject)
    };
    // `ml_dtypes.bfloat16` (the scalar type), once `ml_dtypes` is loaded.
    let found = ML_DTYPES.array_type();
    (found == Some(t.as_ptr() as *mut ffi::PyTypeObject)).then_some(DType::BFLOAT16)
}

/// Whether NumPy's dtype of the scalar type `t` is 2 bytes wide: Python
/// code can rebind `ml_dtypes.bfloat16` to another ml_dtypes type with the
/// same type char (`uint1`, one byte), whose arrays must not be read as
/// bfloat16. (Runs Python code: the caller re-reads what it uses.)
pub(crate) fn two_byte_scalar(t: *mut ffi::PyTypeObject) -> bool {
    let Some(np) = crate::array::frameworks::NUMPY.module() else {
        return false;
    };
    // SAFETY: `t` is a live type object (held by the caller's lookup).
    let t = unsafe { Borrowed::from_ptr(t as *mut ffi::PyObject) };
    let size = np.call_method(c"dtype", &[t]).and_then(|d| d.borrow().getattr(c"itemsize"));
    // SAFETY: an int conversion of a live object; errors are cleared.
    let ok = size.is_ok_and(|n| unsafe { ffi::PyLong_AsLong(n.as_ptr()) } == 2);
    drop(crate::core::error::PyErr::take());
    ok
}

/// Axes a [`NumpyView`] holds inline; larger arrays get a full `Layout`.
const VIEW_NDIM: usize = 4;

/// A NumPy array described from its own struct, copied at import (a few
/// stores: no validation pass, no allocation).
///
/// The handle is written here in whole 8-byte words and, right after,
/// moved in 8-byte words (`Slot::take`): a load that spans two stores, or
/// reads more than the store it reads from, cannot be forwarded from the
/// store buffer and waits until the stores reach the cache (~3 ns on every
/// `shape` call). So the flags, dtype and rank share one word (`meta`),
/// written by one store; `repr(C)` with `data` first keeps `shape` and
/// `strides` at 16-byte offsets of the handle (after the `Repr` tag).
#[repr(C)]
pub(crate) struct NumpyView {
    data: *mut c_void,
    shape: [i64; VIEW_NDIM],
    strides: [i64; VIEW_NDIM],
    /// NumPy's flags (bits 0–31), the dtype's code (32–39) and bits (40–47)
    /// (one lane: NumPy dtypes are scalars), the rank (48–55).
    meta: u64,
}

const NPY_ARRAY_C_CONTIGUOUS: c_int = 0x0001;
const NPY_ARRAY_F_CONTIGUOUS: c_int = 0x0002;

impl NumpyView {
    #[inline]
    fn new(
        data: *mut c_void,
        shape: [i64; VIEW_NDIM],
        strides: [i64; VIEW_NDIM],
        flags: c_int,
        dtype: DType,
        ndim: usize,
    ) -> Self {
        debug_assert!(dtype.lanes == 1 && ndim <= VIEW_NDIM);
        let meta = flags as u32 as u64
            | (dtype.code as u64) << 32
            | (dtype.bits as u64) << 40
            | (ndim as u64) << 48;
        NumpyView { data, shape, strides, meta }
    }
    #[inline]
    fn flags(&self) -> c_int {
        self.meta as u32 as c_int
    }
    #[inline]
    pub(crate) fn ndim(&self) -> usize {
        (self.meta >> 48) as u8 as usize
    }
    #[inline]
    pub(crate) fn shape(&self) -> &[i64] {
        &self.shape[..self.ndim()]
    }
    #[inline]
    pub(crate) fn stride(&self, i: usize) -> i64 {
        self.strides[i]
    }
    #[inline]
    pub(crate) fn strides(&self) -> &[i64] {
        &self.strides[..self.ndim()]
    }
    #[inline]
    pub(crate) fn data(&self) -> *mut c_void {
        self.data
    }
    #[inline]
    pub(crate) fn dtype(&self) -> DType {
        DType { code: (self.meta >> 32) as u8, bits: (self.meta >> 40) as u8, lanes: 1 }
    }
    #[inline]
    pub(crate) fn read_only(&self) -> bool {
        self.flags() & NPY_ARRAY_WRITEABLE == 0
    }
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.shape().iter().map(|&e| e as usize).product()
    }
    /// NumPy maintains these flags with the same relaxed rules we use.
    #[inline]
    pub(crate) fn is_c_contiguous(&self) -> bool {
        self.flags() & NPY_ARRAY_C_CONTIGUOUS != 0
    }
    #[inline]
    pub(crate) fn is_f_contiguous(&self) -> bool {
        self.flags() & NPY_ARRAY_F_CONTIGUOUS != 0
    }
    pub(crate) fn byte_bounds(&self) -> (usize, usize) {
        crate::array::layout::byte_bounds(
            self.data as usize,
            self.shape(),
            self.strides(),
            self.dtype().itemsize(),
        )
        .unwrap_or((self.data as usize, self.data as usize))
    }
    /// `None` when the strides reach past what an address can hold
    /// (`as_strided` lets NumPy describe such arrays).
    pub(crate) fn to_layout(&self) -> Option<ndbind_dlpack::Layout> {
        let (shape, strides) = (self.shape(), self.strides());
        // SAFETY: the view describes NumPy's live memory, as NumPy does.
        unsafe {
            ndbind_dlpack::from_trusted(
                self.data,
                DLDevice::CPU,
                self.dtype(),
                shape.len(),
                self.read_only(),
                |s, st| {
                    s.copy_from_slice(shape);
                    st.copy_from_slice(strides);
                    true
                },
            )
        }
    }
}

/// Element stride for a byte stride; `None` if not whole elements (axes
/// of extent <= 1 may carry any stride: NumPy's relaxed strides).
/// Itemsizes are powers of two: shifts and masks, no division.
#[inline]
fn elem_stride(extent: i64, bytes: isize, itemsize: isize) -> Option<i64> {
    debug_assert!(itemsize > 0 && itemsize & (itemsize - 1) == 0);
    if bytes & (itemsize - 1) == 0 {
        Some((bytes >> itemsize.trailing_zeros()) as i64)
    } else if extent <= 1 {
        Some(0)
    } else {
        None
    }
}

/// Imports a NumPy array; `None` when its dtype or byte order is not
/// representable (the caller reports a mismatch).
///
/// # Safety
/// `obj` is a NumPy array (`is_numpy_array`), and the GIL is held.
pub(crate) unsafe fn import(obj: Borrowed<'_>) -> Option<ArrayHandle> {
    let mut out = MaybeUninit::uninit();
    // SAFETY: caller's contract; `import_into` initialised `out` when true.
    unsafe { import_into(obj, &mut out).then(|| out.assume_init()) }
}

/// [`import`], writing the handle into `out` (a call's argument holder)
/// rather than returning it: a handle is 128 bytes, and each by-value hop
/// on the way to the holder was a copy. True when `out` was initialised.
///
/// # Safety
/// As for [`import`].
pub(crate) unsafe fn import_into(obj: Borrowed<'_>, out: &mut MaybeUninit<ArrayHandle>) -> bool {
    let fields = obj.as_ptr() as *const ArrayFields;
    // SAFETY: `obj` is an ndarray, whose leading fields have this layout.
    let descr = unsafe { (*fields).descr };
    // SAFETY: the array's descriptor, alive as long as the array (no
    // Python code runs while `d` is used).
    let d = unsafe { &*descr };
    if d.byteorder as u8 == b'>' && cfg!(target_endian = "little") {
        return false;
    }
    let dtype = match dtype_of(d) {
        Some(t) => t,
        // SAFETY: a live descriptor; its lookup may run Python code, which
        // may give the array another dtype: the struct is borrowed only
        // after it, and must still have this descriptor.
        None => match unsafe { first_bfloat16(descr) } {
            // SAFETY: the array is alive (the caller holds it): its struct
            // is read again after the lookup.
            Some(t) if unsafe { (*fields).descr } == descr => t,
            _ => return false,
        },
    };
    // SAFETY: as above.
    let a = unsafe { &*fields };
    let nd = a.nd as usize;
    if nd > VIEW_NDIM {
        // SAFETY: as above.
        return unsafe { import_general(obj, a, dtype, out) };
    }
    let itemsize = dtype.itemsize() as isize;
    let mut shape = [0; VIEW_NDIM];
    let mut strides = [0; VIEW_NDIM];
    for i in 0..nd {
        // SAFETY: NumPy's dims/strides arrays hold `nd` entries.
        let (e, s) = unsafe { (*a.dimensions.add(i) as i64, *a.strides.add(i)) };
        shape[i] = e;
        let Some(st) = elem_stride(e, s, itemsize) else { return false };
        strides[i] = st;
    }
    let v = NumpyView::new(a.data.cast(), shape, strides, a.flags, dtype, nd);
    out.write(ArrayHandle::numpy(v, obj.to_owned()));
    true
}

/// Arrays of more than [`VIEW_NDIM`] axes: a full, validated layout (out
/// of line, so that the common case keeps a small stack frame).
///
/// # Safety
/// `a` is the live NumPy array `obj` of `dtype` elements; the GIL is held.
#[cold]
#[inline(never)]
unsafe fn import_general(
    obj: Borrowed<'_>,
    a: &ArrayFields,
    dtype: DType,
    out: &mut MaybeUninit<ArrayHandle>,
) -> bool {
    let nd = a.nd as usize;
    if nd > MAX_NDIM {
        return false;
    }
    let itemsize = dtype.itemsize() as isize;
    let fill = |shape: &mut [i64], strides: &mut [i64]| {
        for i in 0..nd {
            // SAFETY: NumPy's dims/strides arrays hold `nd` entries.
            let (e, s) = unsafe { (*a.dimensions.add(i) as i64, *a.strides.add(i)) };
            shape[i] = e;
            match elem_stride(e, s, itemsize) {
                Some(st) => strides[i] = st,
                None => return false,
            }
        }
        true
    };
    // SAFETY: NumPy's own description of its live memory.
    let layout = unsafe {
        ndbind_dlpack::from_trusted(
            a.data.cast(),
            DLDevice::CPU,
            dtype,
            nd,
            a.flags & NPY_ARRAY_WRITEABLE == 0,
            fill,
        )
    };
    let Some(l) = layout else { return false };
    let read_only = l.is_read_only();
    out.write(ArrayHandle::general(l, Owner::Source, read_only, obj.to_owned()));
    true
}

/// Whether `obj` is a NumPy array that ndbind cannot read directly but
/// NumPy can convert to `req`'s dtype without narrowing complex to real
/// (byte-swapped or extended-precision numbers; not objects or records).
pub(crate) fn convertible_to(obj: Borrowed<'_>, req: &crate::array::Requirements) -> bool {
    let Some(want) = req.dtype else { return false };
    if !is_numpy_array(obj) {
        return false;
    }
    // SAFETY: `obj` is an ndarray; its descriptor is live.
    let kind = unsafe { (*(*(obj.as_ptr() as *const ArrayFields)).descr).kind } as u8;
    match kind {
        b'b' | b'i' | b'u' | b'f' => true,
        b'c' => want.is_complex(),
        _ => false,
    }
}

/// Why [`import`] cannot read the NumPy array `obj` (for the mismatch
/// error): its dtype (by NumPy's scalar type name), its byte order, its
/// number of axes or its strides. Reads the array struct only.
///
/// # Safety
/// As for [`import`].
#[cold]
pub(crate) unsafe fn unreadable(obj: Borrowed<'_>) -> String {
    // SAFETY: the caller's contract: a live ndarray and its descriptor;
    // the scalar type is a live type object with a C name.
    unsafe {
        let a = &*(obj.as_ptr() as *const ArrayFields);
        let d = &*a.descr;
        let scalar = if d.typeobj.is_null() {
            "?".to_owned()
        } else {
            crate::core::abi::with_type_name(d.typeobj, |n| {
                let n = String::from_utf8_lossy(n);
                n.strip_prefix("numpy.").unwrap_or(&n).to_owned()
            })
        };
        if d.byteorder as u8 == b'>' && cfg!(target_endian = "little") {
            return format!("dtype {scalar} in big-endian byte order, which ndbind cannot read");
        }
        if dtype_of(d).is_none() && !bfloat16_candidate(d) {
            return format!("dtype {scalar}, which ndbind cannot read");
        }
        if a.nd as usize > MAX_NDIM {
            return format!("{} dimensions, more than ndbind reads ({MAX_NDIM})", a.nd);
        }
        "strides that are not whole elements".to_owned()
    }
}
