//! Importing `__cuda_array_interface__` producers (versions 0–3: Numba
//! device arrays, older CuPy): CUDA memory described by a dict of Python
//! values, for producers without DLPack (DLPack is preferred when both
//! exist). The last route tried: a CPU argument never looks it up.
//!
//! - The attribute is looked up on the type (a property or class
//!   attribute, as Numba and CuPy define it); instance attributes are not
//!   seen. Reading it may run Python code; whatever it returns is checked:
//!   a malformed interface raises `TypeError`/`ValueError` naming the
//!   field, as do a `mask` other than `None`, an unknown `typestr` and a
//!   version above 3. `descr` is not read (`typestr` decides the dtype).
//! - The device is CUDA, device **id 0**: the interface names no device,
//!   and ndbind makes no CUDA call to ask the pointer's
//!   (`cuPointerGetAttribute`); a binding that needs the real device asks
//!   CUDA itself.
//! - Version 3's `stream` is the producer's stream, on which work on the
//!   data may still be pending: it becomes the array's stream
//!   ([`NdArray::stream`](crate::array::NdArray::stream)), which the
//!   binding must work on or wait on (ndbind makes no CUDA call);
//!   `None`/absent: no synchronisation needed.
//! - The producer object is the array's owner, kept alive with it; the
//!   data pointer is never dereferenced.

use ndbind_dlpack::{DLDataType, DLDevice, DLTensor, DataTypeCode, DeviceType, MAX_NDIM};
use pyo3_ffi as ffi;

use crate::array::handle::{ArrayHandle, Owner};
use crate::array::stream::Stream;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// Whether `obj`'s type defines `__cuda_array_interface__` (no exception
/// raised, no Python code run).
#[inline]
pub(crate) fn has_cai(obj: Borrowed<'_>) -> bool {
    // SAFETY: valid type and interned name; the GIL is held.
    unsafe {
        crate::array::import::dlpack::type_lookup(
            obj.type_ptr(),
            crate::interned!(c"__cuda_array_interface__"),
        )
    }
    .is_some()
}

/// Imports `obj` through its `__cuda_array_interface__`; `None` with a
/// Python error set when the interface cannot be read.
#[cold]
#[inline(never)]
pub(crate) fn import(obj: Borrowed<'_>) -> Option<ArrayHandle> {
    match read(obj) {
        Ok(h) => Some(h),
        Err(e) => {
            e.restore();
            None
        }
    }
}

fn err(obj: Borrowed<'_>, what: &str) -> PyErr {
    PyErr::value_error(format!("__cuda_array_interface__ of a {} object: {what}", obj.type_name()))
}

fn type_err(obj: Borrowed<'_>, what: &str) -> PyErr {
    PyErr::type_error(format!("__cuda_array_interface__ of a {} object: {what}", obj.type_name()))
}

/// `d[key]` as an owned object (`None` when absent): owned, since Python
/// code run later (an `__index__`, a `__del__`) may mutate the dict, and
/// asked for as a new reference (`PyDict_GetItemRef`): the producer may
/// hand out a dict another thread mutates meanwhile (free-threaded).
fn item(d: &Object, key: &std::ffi::CStr) -> PyResult<Option<Object>> {
    let key = Object::intern_held(key)?;
    // SAFETY: `d` is a dict, `key` a `str`; the result is a new reference
    // or NULL.
    unsafe {
        let mut v = std::ptr::null_mut();
        if ffi::compat::PyDict_GetItemRef(d.as_ptr(), key.as_ptr(), &mut v) < 0 {
            // A key's `__eq__` raising: absent, as before (errors are
            // not the producer's answer).
            ffi::PyErr_Clear();
        }
        Ok(Object::from_owned(v))
    }
}

/// An exact `int` (or `bool`) as `i64`; no `__index__` is run.
fn int(obj: Borrowed<'_>, v: Borrowed<'_>, field: &str) -> PyResult<i64> {
    // SAFETY: type check and conversion of a live object (no Python code
    // runs for an int); an overflow error is replaced below.
    unsafe {
        if ffi::PyLong_Check(v.as_ptr()) == 0 {
            return Err(type_err(obj, &format!("{field} holds a {}, not an int", v.type_name())));
        }
        let x = ffi::PyLong_AsLongLong(v.as_ptr());
        if x == -1 && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return Err(err(obj, &format!("{field} is out of range")));
        }
        Ok(x)
    }
}

/// A tuple of at most `MAX_NDIM` ints into `out`; the count.
fn ints(obj: Borrowed<'_>, t: &Object, field: &str, out: &mut [i64; MAX_NDIM]) -> PyResult<usize> {
    // SAFETY: a tuple's items are borrowed while the (immutable) tuple is
    // held by `t`.
    unsafe {
        if ffi::PyTuple_Check(t.as_ptr()) == 0 {
            return Err(type_err(
                obj,
                &format!("{field} is a {}, not a tuple", t.borrow().type_name()),
            ));
        }
        let n = crate::core::abi::tuple_size(t.as_ptr()) as usize;
        if n > MAX_NDIM {
            return Err(err(obj, &format!("{field} has {n} entries (at most {MAX_NDIM})")));
        }
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            *slot = int(
                obj,
                Borrowed::from_ptr(crate::core::abi::tuple_get_item(t.as_ptr(), i as _)),
                field,
            )?;
        }
        Ok(n)
    }
}

/// The dtype of a `typestr` (`"<f4"`, `"|u1"`, `"|b1"`, `"<c16"`, …).
fn dtype_of(s: &str) -> Option<DLDataType> {
    let b = s.as_bytes();
    let (&order, rest) = b.split_first()?;
    let (&kind, size) = rest.split_first()?;
    let size: u8 = std::str::from_utf8(size).ok()?.parse().ok()?;
    let foreign = if cfg!(target_endian = "little") { b'>' } else { b'<' };
    if !matches!(order, b'<' | b'>' | b'|' | b'=') || (order == foreign && size > 1) {
        return None;
    }
    let code = match (kind, size) {
        (b'b', 1) => DataTypeCode::BOOL,
        (b'i', 1 | 2 | 4 | 8) => DataTypeCode::INT,
        (b'u', 1 | 2 | 4 | 8) => DataTypeCode::UINT,
        (b'f', 2 | 4 | 8) => DataTypeCode::FLOAT,
        (b'c', 8 | 16) => DataTypeCode::COMPLEX,
        _ => return None,
    };
    Some(DLDataType::new(code, size * 8, 1))
}

fn read(obj: Borrowed<'_>) -> PyResult<ArrayHandle> {
    let d = obj.getattr(c"__cuda_array_interface__")?;
    // SAFETY: a type check of a live object.
    if unsafe { ffi::PyDict_Check(d.as_ptr()) } == 0 {
        return Err(type_err(obj, &format!("a {}, not a dict", d.borrow().type_name())));
    }
    let need = |key: &std::ffi::CStr| -> PyResult<Object> {
        item(&d, key)?.ok_or_else(|| {
            type_err(obj, &format!("the required key '{}' is missing", key.to_string_lossy()))
        })
    };
    let version = int(obj, need(c"version")?.borrow(), "version")?;
    if !(0..=3).contains(&version) {
        return Err(err(obj, &format!("version {version} is not supported (0 to 3 are)")));
    }
    if let Some(m) = item(&d, c"mask")? {
        if !m.borrow().is_none() {
            return Err(err(obj, "masked arrays (mask not None) are not supported"));
        }
    }
    let typestr = need(c"typestr")?;
    let ts = typestr.borrow().to_str().map_err(|_| type_err(obj, "typestr is not a str"))?;
    let dtype = dtype_of(ts)
        .ok_or_else(|| err(obj, &format!("typestr {ts:?} is not a supported dtype")))?;
    let mut shape = [0i64; MAX_NDIM];
    let n = ints(obj, &need(c"shape")?, "shape", &mut shape)?;
    if let Some(i) = shape[..n].iter().position(|&e| e < 0) {
        return Err(err(obj, &format!("shape has a negative extent ({}) on axis {i}", shape[i])));
    }
    let data = need(c"data")?;
    let mut pair = [0i64; MAX_NDIM];
    let k = ints(obj, &data, "data", &mut pair)?;
    if k != 2 {
        return Err(type_err(obj, "data is not a (pointer, read_only) pair"));
    }
    // A pointer above `i64::MAX` is refused by `int` as out of range:
    // none is on the targets ndbind supports.
    let ptr = usize::try_from(pair[0]).map_err(|_| err(obj, "data's pointer is negative"))?;
    let read_only = pair[1] != 0;
    let mut strides = [0i64; MAX_NDIM];
    let strided = match item(&d, c"strides")? {
        Some(s) if !s.borrow().is_none() => {
            let mut bytes = [0i64; MAX_NDIM];
            if ints(obj, &s, "strides", &mut bytes)? != n {
                return Err(err(obj, "strides and shape have different lengths"));
            }
            let bytes: [isize; MAX_NDIM] = bytes.map(|b| b as isize);
            let item = dtype.itemsize();
            if !ndbind_dlpack::layout::strides_from_bytes(
                &shape[..n],
                &bytes[..n],
                item,
                &mut strides[..n],
            ) {
                return Err(err(obj, "strides are not multiples of the item size"));
            }
            true
        }
        _ => false,
    };
    let stream = if version >= 3 {
        match item(&d, c"stream")? {
            Some(s) if !s.borrow().is_none() => match int(obj, s.borrow(), "stream")? {
                0 => return Err(err(obj, "stream 0 is disallowed (ambiguous)")),
                v => Some(Stream::from_raw(v as isize)),
            },
            _ => None,
        }
    } else {
        None
    };
    let t = DLTensor {
        data: ptr as *mut std::ffi::c_void,
        device: DLDevice::new(DeviceType::CUDA, 0),
        ndim: n as i32,
        dtype,
        shape: shape.as_mut_ptr(),
        strides: if strided { strides.as_mut_ptr() } else { std::ptr::null_mut() },
        byte_offset: 0,
    };
    // SAFETY: shape and strides hold `n` entries; the data is never read.
    let layout = unsafe { ndbind_dlpack::validate(&t, read_only) }
        .map_err(|e| err(obj, &format!("invalid array ({e})")))?;
    Ok(ArrayHandle::general(layout, Owner::Source, read_only, obj.to_owned()).with_stream(stream))
}
