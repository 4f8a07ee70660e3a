//! NumPy export through NumPy's C API table (`_ARRAY_API`): a new array
//! over the Rust memory whose base object is the owning `ndbind.ndarray`.
//! No copy, no Python-level call.

use std::ffi::{c_int, c_void};

use pyo3_ffi as ffi;

use crate::array::dtype::DType;
use crate::array::export::dims::OutDims;
use crate::array::frameworks::{ML_DTYPES, NUMPY};
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::GilCell;
use crate::core::object::Object;
use std::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire},
};

const NPY_ARRAY_WRITEABLE: c_int = 0x0400;
const NPY_ARRAY_ALIGNED: c_int = 0x0100;

type DescrFromType = unsafe extern "C" fn(c_int) -> *mut ffi::PyObject;
type NewFromDescr = unsafe extern "C" fn(
    *mut ffi::PyTypeObject,
    *mut ffi::PyObject,
    c_int,
    *const ffi::Py_ssize_t,
    *const ffi::Py_ssize_t,
    *mut c_void,
    c_int,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;
type SetBaseObject = unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> c_int;

/// The entries of NumPy's C API table that export needs (stable indices).
struct Api {
    array_type: *mut ffi::PyTypeObject,
    descr_from_type: DescrFromType,
    new_from_descr: NewFromDescr,
    set_base_object: SetBaseObject,
}

static API: GilCell<Option<Api>> = GilCell::new();

/// NumPy's C API table (loaded once). Inlined into the export path: the
/// hit is one load and compare; the first call goes out of line.
#[inline]
fn api() -> PyResult<&'static Api> {
    match API.get() {
        Some(Some(api)) => Ok(api),
        _ => api_slow(),
    }
}

#[cold]
#[inline(never)]
fn api_slow() -> PyResult<&'static Api> {
    API.get_or_init(|| {
        let load = || -> PyResult<Api> {
            let core = Object::import_held(c"numpy._core.multiarray")
                .or_else(|_| Object::import_held(c"numpy.core.multiarray"))?;
            let cap = core.borrow().getattr(c"_ARRAY_API")?;
            // SAFETY: `_ARRAY_API` is a capsule holding NumPy's function
            // table, kept alive by the (never unloaded) NumPy module.
            unsafe {
                let name = ffi::PyCapsule_GetName(cap.as_ptr());
                let table = ffi::PyCapsule_GetPointer(cap.as_ptr(), name) as *const *mut c_void;
                if table.is_null() {
                    return Err(PyErr::fetch());
                }
                Ok(Api {
                    array_type: *table.add(2) as *mut ffi::PyTypeObject,
                    descr_from_type: std::mem::transmute::<*mut c_void, DescrFromType>(
                        *table.add(45),
                    ),
                    new_from_descr: std::mem::transmute::<*mut c_void, NewFromDescr>(
                        *table.add(94),
                    ),
                    set_base_object: std::mem::transmute::<*mut c_void, SetBaseObject>(
                        *table.add(282),
                    ),
                })
            }
        };
        load().map_err(|e| e.restore()).ok()
    })
    .as_ref()
    .ok_or_else(|| {
        PyErr::take().unwrap_or_else(|| PyErr::runtime_error("NumPy's C API is not available"))
    })
}

/// NumPy's type number for a dtype, or `None` for dtypes NumPy lacks.
#[inline]
fn type_num(d: DType) -> Option<c_int> {
    Some(match d {
        DType::BOOL => 0,
        DType::INT8 => 1,
        DType::UINT8 => 2,
        DType::INT16 => 3,
        DType::UINT16 => 4,
        DType::INT32 => 5,
        DType::UINT32 => 6,
        DType::INT64 => 9,
        DType::UINT64 => 10,
        DType::FLOAT32 => 11,
        DType::FLOAT64 => 12,
        DType::COMPLEX64 => 14,
        DType::COMPLEX128 => 15,
        DType::FLOAT16 => 23,
        _ => return None,
    })
}

/// Builtin descriptors by type number, each holding a reference for good.
static DESCRS: GilCell<[AtomicUsize; 24]> = GilCell::new();

/// A NumPy dtype object for `d` (bfloat16 through `ml_dtypes`); builtin
/// descriptors are cached (NumPy's own are singletons anyway). Inlined
/// into the export path: a cached descriptor is a load and an incref.
#[inline]
fn descr(api: &Api, d: DType) -> PyResult<Object> {
    if let (Some(n), Some(cache)) = (type_num(d), DESCRS.get()) {
        let p = cache[n as usize].load(Acquire);
        if p != 0 {
            // SAFETY: the cached descriptor is alive (the cache owns a reference).
            return Ok(unsafe { Object::from_borrowed(p as *mut ffi::PyObject) });
        }
    }
    descr_slow(api, d)
}

#[cold]
#[inline(never)]
fn descr_slow(api: &Api, d: DType) -> PyResult<Object> {
    if let Some(n) = type_num(d) {
        let cache = DESCRS.get_or_init(Default::default);
        let slot = &cache[n as usize];
        if slot.load(Acquire) == 0 {
            // SAFETY: a builtin type number; returns a new reference, which
            // the cache keeps forever (free-threaded, the first one stored;
            // a racing thread's is released).
            let o = unsafe { Object::from_owned_or_err((api.descr_from_type)(n))? };
            if slot.compare_exchange(0, o.as_ptr() as usize, AcqRel, Acquire).is_ok() {
                std::mem::forget(o);
            }
        }
        // SAFETY: the cached descriptor is alive (the cache owns a reference).
        return Ok(unsafe { Object::from_borrowed(slot.load(Acquire) as *mut ffi::PyObject) });
    }
    if d == DType::BFLOAT16 {
        let ml = ML_DTYPES
            .module()
            .ok_or_else(|| PyErr::type_error("bfloat16 arrays need the ml_dtypes package"))?;
        let np = NUMPY.module().ok_or_else(|| PyErr::runtime_error("NumPy is not installed"))?;
        let t = ml.getattr(c"bfloat16")?;
        return np.call_method(c"dtype", &[t.borrow()]);
    }
    Err(PyErr::type_error(format!("NumPy has no dtype {}", d.name())))
}

/// A NumPy array over CPU memory at `data` described by `dims`, with `base`
/// (the owner) as its base. (Its one caller, `export_out`, is the path of
/// every returned NumPy array: inlined there, whatever code units the
/// crate is split into.)
#[inline]
pub(crate) fn to_numpy(
    data: *mut c_void,
    dtype: DType,
    dims: &OutDims,
    read_only: bool,
    base: Object,
) -> PyResult<Object> {
    let api = api()?;
    let d = descr(api, dtype)?;
    let n = dims.ndim();
    // NumPy copies shape and strides; without strides it lays the array out
    // in C order itself.
    let mut small = [0 as ffi::Py_ssize_t; 2 * ndbind_dlpack::INLINE_NDIM];
    let mut big = Vec::new();
    let buf: &mut [ffi::Py_ssize_t] = if n <= ndbind_dlpack::INLINE_NDIM {
        &mut small[..2 * n]
    } else {
        big.resize(2 * n, 0);
        &mut big
    };
    let (shape, strides) = buf.split_at_mut(n);
    for (o, &e) in shape.iter_mut().zip(dims.shape()) {
        *o = e as ffi::Py_ssize_t;
    }
    let strides = match dims.strides() {
        None => std::ptr::null(),
        Some(st) => {
            let item = dtype.itemsize() as ffi::Py_ssize_t;
            for (o, &s) in strides.iter_mut().zip(st) {
                *o = s as ffi::Py_ssize_t * item;
            }
            strides.as_ptr()
        }
    };
    let flags = NPY_ARRAY_ALIGNED | if read_only { 0 } else { NPY_ARRAY_WRITEABLE };
    // SAFETY: NewFromDescr steals the descriptor reference and describes
    // memory that `base` keeps alive; SetBaseObject steals `base`.
    unsafe {
        let arr = (api.new_from_descr)(
            api.array_type,
            d.into_ptr(),
            n as c_int,
            shape.as_ptr(),
            strides,
            data,
            flags,
            std::ptr::null_mut(),
        );
        let arr = Object::from_owned_or_err(arr)?;
        if (api.set_base_object)(arr.as_ptr(), base.into_ptr()) != 0 {
            return Err(PyErr::fetch());
        }
        Ok(arr)
    }
}
