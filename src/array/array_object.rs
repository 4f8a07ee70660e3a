//! `ndbind.ndarray`: the Python object that owns exported memory. It is the
//! base object of exported NumPy arrays, the owner referenced by exported
//! DLPack tensors, and, returned as is, an array-API object with
//! `__dlpack__`, `__dlpack_device__` and the buffer protocol. Its type also
//! carries the DLPack C exchange API (see `exchange_api`).

use std::ffi::{c_int, c_void};

use ndbind_dlpack::{DLDevice, DeviceType, Layout};
use pyo3_ffi as ffi;

use crate::array::dtype::DType;
use crate::array::export::dlpack::ExportOptions;
use crate::array::owner::OwnerBox;
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::GilCell;
use crate::core::heap_type::{getset, leak_table, new_type, slot};
use crate::core::object::{Borrowed, Object};

#[repr(C)]
struct ArrayObject {
    ob_base: ffi::PyObject,
    layout: Layout,
    owner: OwnerBox,
    read_only: bool,
    /// Shape then byte strides, built on the first buffer export.
    buf_dims: Option<Box<[isize]>>,
}

static ARRAY_TYPE: GilCell<Object> = GilCell::new();

/// Creates an `ndbind.ndarray` that owns `owner` and describes `layout`.
pub(crate) fn new(layout: Layout, owner: OwnerBox, read_only: bool) -> PyResult<Object> {
    new_with(layout, read_only, || owner)
}

/// As [`new`], with the owner made only once the object exists: when the
/// allocation fails, `owner` is never called, so whatever it would have
/// taken over (a foreign DLPack tensor) stays with the caller.
pub(crate) fn new_with(
    layout: Layout,
    read_only: bool,
    owner: impl FnOnce() -> OwnerBox,
) -> PyResult<Object> {
    let tp = array_type()?;
    // SAFETY: tp_alloc returns zeroed memory of basicsize bytes (or NULL);
    // every Rust field is written before the object is used.
    unsafe {
        let alloc = crate::core::abi::type_alloc(tp);
        let obj = Object::from_owned_or_err(alloc(tp, 0))?;
        let a = obj.as_ptr() as *mut ArrayObject;
        std::ptr::addr_of_mut!((*a).layout).write(layout);
        std::ptr::addr_of_mut!((*a).owner).write(owner());
        std::ptr::addr_of_mut!((*a).read_only).write(read_only);
        std::ptr::addr_of_mut!((*a).buf_dims).write(None);
        Ok(obj)
    }
}

/// The layout and read-only flag of an `ndbind.ndarray` (exact type).
pub(crate) fn layout_of(obj: Borrowed<'_>) -> Option<(&Layout, bool)> {
    let t = ARRAY_TYPE.get()?;
    if obj.type_ptr() as *mut ffi::PyObject != t.as_ptr() {
        return None;
    }
    // SAFETY: exact type checked; the object outlives the borrow.
    let a = unsafe { &*(obj.as_ptr() as *const ArrayObject) };
    Some((&a.layout, a.read_only))
}

unsafe extern "C" fn dealloc(slf: *mut ffi::PyObject) {
    // SAFETY: `slf` is an ArrayObject initialised by `new`; its fields are
    // dropped once (the owner first: that frees the exported memory).
    unsafe {
        let tp = ffi::Py_TYPE(slf);
        let a = slf as *mut ArrayObject;
        // The owner may be a user's value, whose `Drop` may run any code.
        crate::core::error::guard_silent("an exported array owner's Drop", || {
            std::ptr::drop_in_place(&mut (*a).owner)
        });
        std::ptr::drop_in_place(&mut (*a).layout);
        std::ptr::drop_in_place(&mut (*a).buf_dims);
        crate::core::abi::type_free(tp)(slf as *mut c_void);
        ffi::Py_DECREF(tp as *mut ffi::PyObject);
    }
}

fn this<'a>(slf: *mut ffi::PyObject) -> &'a ArrayObject {
    // SAFETY: slot functions of this type only receive ArrayObjects.
    unsafe { &*(slf as *const ArrayObject) }
}

/// Runs a slot's body: its error, or a panic, becomes the raised exception.
fn ret(f: impl FnOnce() -> PyResult<Object>) -> *mut ffi::PyObject {
    crate::core::class::meta::guard_obj(|| f().map(Object::into_ptr))
}

unsafe extern "C" fn get_shape(slf: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    use crate::core::caster::IntoPy;
    let s: Vec<i64> = this(slf).layout.shape().to_vec();
    ret(|| {
        s.into_py(&crate::core::caster::ReturnCtx::held()).and_then(|l| {
            // SAFETY: converting a list to a tuple.
            unsafe { Object::from_owned_or_err(ffi::PyList_AsTuple(l.as_ptr())) }
        })
    })
}

unsafe extern "C" fn get_dtype(slf: *mut ffi::PyObject, _: *mut c_void) -> *mut ffi::PyObject {
    ret(|| Object::str_held(this(slf).layout.dtype().name()))
}

unsafe extern "C" fn repr(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let a = this(slf);
    ret(|| {
        // Never the values: they may live on a device.
        let d = a.layout.device();
        let device = if d.is_cpu() { String::new() } else { format!(", device={d}") };
        Object::str_held(&format!(
            "ndbind.ndarray(shape={:?}, dtype={}, writable={}{device})",
            a.layout.shape(),
            a.layout.dtype().name(),
            if a.read_only { "False" } else { "True" }
        ))
    })
}

fn device_tuple(l: &Layout) -> PyResult<Object> {
    use crate::core::caster::IntoPy;
    let d = l.device();
    (d.device_type.0, d.device_id).into_py(&crate::core::caster::ReturnCtx::held())
}

unsafe extern "C" fn dlpack_device(
    slf: *mut ffi::PyObject,
    _: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    ret(|| device_tuple(&this(slf).layout))
}

/// `__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None)`.
unsafe extern "C" fn dlpack(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython passes `nargs` positional arguments followed by one
    // value per keyword name.
    ret(|| unsafe { dlpack_impl(slf, args, nargs, kwnames) })
}

unsafe fn dlpack_impl(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Object> {
    if nargs != 0 {
        return Err(PyErr::type_error("__dlpack__() takes keyword arguments only"));
    }
    let a = this(slf);
    let (mut versioned, mut copy) = (false, false);
    // SAFETY: vectorcall's `kwnames` is NULL or a tuple of names.
    let nkw = if kwnames.is_null() { 0 } else { unsafe { crate::core::abi::tuple_size(kwnames) } };
    for k in 0..nkw {
        // SAFETY: kwnames holds `nkw` str objects; values follow the
        // positional arguments.
        let (key, value) = unsafe {
            (
                Borrowed::from_ptr(crate::core::abi::tuple_get_item(kwnames, k)),
                Borrowed::from_ptr(*args.add(k as usize)),
            )
        };
        match key.to_str()? {
            "max_version" => {
                if !value.is_none() {
                    let (major, _minor) =
                        <(i64, i64) as crate::core::caster::FromPy>::from_py(value, false)
                            .ok_or_else(|| {
                                PyErr::type_error(
                                    "max_version must be None or a tuple (major, minor)",
                                )
                            })?;
                    versioned = major >= 1;
                }
            }
            "dl_device" => {
                if !value.is_none() {
                    let (t, id) =
                        <(i32, i32) as crate::core::caster::FromPy>::from_py(value, false)
                            .ok_or_else(|| {
                                PyErr::type_error(
                                    "dl_device must be None or a tuple (device_type, device_id)",
                                )
                            })?;
                    let own = a.layout.device();
                    if DLDevice::new(DeviceType(t), id) != own {
                        return Err(PyErr::buffer_error(format!(
                            "cannot export to device ({t}, {id}): the array lives on ({}, {})",
                            own.device_type.0, own.device_id
                        )));
                    }
                }
            }
            "copy" => {
                if !value.is_none() {
                    copy = <bool as crate::core::caster::FromPy>::from_py(value, false)
                        .ok_or_else(|| PyErr::type_error("copy must be None or a bool"))?;
                }
            }
            "stream" => {
                // SAFETY: type check of a valid object.
                if !value.is_none() && unsafe { ffi::PyLong_Check(value.as_ptr()) } == 0 {
                    return Err(PyErr::type_error("stream must be None or an int"));
                }
            }
            other => {
                return Err(PyErr::type_error(format!(
                    "__dlpack__() got an unexpected keyword argument '{other}'"
                )))
            }
        }
    }
    if copy {
        let (layout, owner) = contiguous_copy(&a.layout)?;
        let parts = crate::array::export::dlpack::TensorParts::of(&layout);
        // SAFETY: `owner` is the copy's buffer (plain memory).
        return unsafe {
            let opts =
                ExportOptions { versioned, copied: true, plain: true, ..ExportOptions::NONE };
            crate::array::export::dlpack::export_owned(parts, owner, opts)
        };
    }
    // SAFETY: `slf` is alive for the call.
    let me = unsafe { Borrowed::from_ptr(slf) }.to_owned();
    if a.read_only && !versioned {
        return Err(PyErr::buffer_error(
            "a read-only array cannot be exported as a legacy DLPack capsule (which has no read-only flag); \
             pass max_version=(1, 0) or later",
        ));
    }
    let opts = ExportOptions { versioned, read_only: a.read_only, ..ExportOptions::NONE };
    crate::array::export::dlpack::export(&me, &a.layout, opts)
}

/// `__array__(dtype=None, copy=None)`: what NumPy calls when the buffer
/// protocol fails. Memory on another device is refused (`BufferError`:
/// ndbind never reads it from the host, and NumPy would otherwise wrap the
/// object in a 0-d object array); CPU memory goes through
/// `numpy.from_dlpack` (then `astype(dtype)`, or a copy for `copy=True`).
unsafe extern "C" fn array_dunder(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython's vectorcall arguments, as in `dlpack`.
    ret(|| unsafe { array_impl(slf, args, nargs, kwnames) })
}

unsafe fn array_impl(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Object> {
    let d = this(slf).layout.device();
    if !d.is_cpu() {
        return Err(PyErr::buffer_error(format!(
            "an array on device {d} ({}, {}) cannot become a NumPy array: ndbind never reads device memory \
             from the host (copy it to the CPU with a framework that takes the device)",
            d.device_type.0, d.device_id
        )));
    }
    // SAFETY: vectorcall's `kwnames` is NULL or a tuple of names.
    let nkw = if kwnames.is_null() { 0 } else { unsafe { crate::core::abi::tuple_size(kwnames) } };
    let mut params: [Option<Borrowed<'_>>; 2] = [None, None];
    if nargs > 2 {
        return Err(PyErr::type_error("__array__() takes at most 2 arguments (dtype, copy)"));
    }
    for i in 0..nargs + nkw {
        // SAFETY: `nargs` positional values, then one per keyword name.
        let value = unsafe { Borrowed::from_ptr(*args.add(i as usize)) };
        let at = if i < nargs {
            i as usize
        } else {
            // SAFETY: as above.
            let key =
                unsafe { Borrowed::from_ptr(crate::core::abi::tuple_get_item(kwnames, i - nargs)) };
            match key.to_str()? {
                "dtype" => 0,
                "copy" => 1,
                other => {
                    return Err(PyErr::type_error(format!(
                        "__array__() got an unexpected keyword argument '{other}'"
                    )))
                }
            }
        };
        params[at] = Some(value);
    }
    // SAFETY: `slf` is alive for the call.
    let me = unsafe { Borrowed::from_ptr(slf) };
    let np = crate::array::frameworks::NUMPY
        .module()
        .ok_or_else(|| PyErr::type_error("numpy is not installed"))?;
    let arr = np.call_method(c"from_dlpack", &[me])?;
    if let Some(dtype) = params[0].filter(|v| !v.is_none()) {
        return arr.borrow().call_method(c"astype", &[dtype]);
    }
    if let Some(copy) = params[1] {
        // SAFETY: a live object (`None` is false).
        match unsafe { ffi::PyObject_IsTrue(copy.as_ptr()) } {
            0 => {}
            1 => return arr.borrow().call_method(c"copy", &[]),
            _ => return Err(PyErr::fetch()),
        }
    }
    Ok(arr)
}

/// A C-contiguous, 64-byte aligned copy of a CPU array.
pub(crate) fn contiguous_copy(l: &Layout) -> PyResult<(Layout, OwnerBox)> {
    if l.device().device_type != DeviceType::CPU {
        return Err(PyErr::buffer_error(format!(
            "an array on device {} cannot be copied by ndbind, which never reads device memory from the host \
             (copy it with the framework that consumes it)",
            l.device()
        )));
    }
    let item = l.itemsize();
    // The size comes from Python (a broadcast view can be huge): fallible.
    // No overflow: a validated layout's size * itemsize fits an isize.
    let mut buf = crate::array::aligned::AlignedVec::<u8>::zeroed(l.size() * item)?;
    copy_elements(l, &mut buf);
    let data = buf.as_mut_ptr() as *mut c_void;
    let shape = l.shape().to_vec();
    // SAFETY: `buf` holds size * itemsize bytes laid out C-contiguously.
    let layout = unsafe {
        ndbind_dlpack::from_trusted(data, l.device(), l.dtype(), shape.len(), false, |s, st| {
            s.copy_from_slice(&shape);
            crate::array::layout::fill_c_strides(s, st);
            true
        })
    }
    .ok_or_else(|| PyErr::runtime_error("copy layout"))?;
    Ok((layout, OwnerBox::new(buf)))
}

/// Copies the elements of `l` in C order into `out`.
fn copy_elements(l: &Layout, out: &mut [u8]) {
    let item = l.itemsize();
    if l.size() == 0 {
        return;
    }
    if l.is_c_contiguous() {
        // SAFETY: a C-contiguous layout covers exactly size*itemsize bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(l.data() as *const u8, out.as_mut_ptr(), out.len())
        };
        return;
    }
    let base = l.data() as *const u8;
    let mut chunks = out.chunks_exact_mut(item);
    crate::array::layout::for_each_offset(l.shape(), l.strides(), |off| {
        let Some(chunk) = chunks.next() else { return };
        // SAFETY: `off` is the element offset of an index within the
        // validated shape, so the element lies in the array's memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                base.offset(off * item as isize),
                chunk.as_mut_ptr(),
                item,
            )
        };
    });
}

unsafe extern "C" fn getbuffer(
    slf: *mut ffi::PyObject,
    view: *mut ffi::Py_buffer,
    flags: c_int,
) -> c_int {
    // SAFETY: `slf` is an ArrayObject; `view` is the caller's buffer struct.
    unsafe {
        let a = &mut *(slf as *mut ArrayObject);
        let rc = crate::core::class::meta::guard_int(|| fill_buffer(a, view, flags));
        if rc == 0 {
            (*view).obj = slf;
            ffi::Py_INCREF(slf);
        } else {
            (*view).obj = std::ptr::null_mut();
        }
        rc
    }
}

unsafe fn fill_buffer(
    a: &mut ArrayObject,
    view: *mut ffi::Py_buffer,
    flags: c_int,
) -> PyResult<()> {
    let l = &a.layout;
    if l.device().device_type != DeviceType::CPU {
        return Err(PyErr::buffer_error(format!(
            "the array is on device {} ({}, {}), not the CPU: the buffer protocol exposes host memory only \
             (use DLPack: __dlpack__ / from_dlpack)",
            l.device(),
            l.device().device_type.0,
            l.device().device_id
        )));
    }
    if flags & ffi::PyBUF_WRITABLE != 0 && a.read_only {
        return Err(PyErr::buffer_error("the array is read-only"));
    }
    let (c, f) = (l.is_c_contiguous(), l.is_f_contiguous());
    let need = |bits: c_int| flags & bits == bits;
    if (need(ffi::PyBUF_C_CONTIGUOUS) && !c)
        || (need(ffi::PyBUF_F_CONTIGUOUS) && !f)
        || (need(ffi::PyBUF_ANY_CONTIGUOUS) && !(c || f))
        || (!need(ffi::PyBUF_STRIDES) && !c)
    {
        return Err(PyErr::buffer_error("the array is not contiguous as requested"));
    }
    let dtype: DType = l.dtype();
    let format = dtype.buffer_format().ok_or_else(|| {
        PyErr::buffer_error(format!("dtype {} has no buffer-protocol format", dtype.name()))
    })?;
    let n = l.ndim();
    if a.buf_dims.is_none() {
        let item = l.itemsize() as isize;
        // Shape, then strides in bytes: one buffer, filled by one loop.
        let mut d = vec![0isize; 2 * n].into_boxed_slice();
        for (i, (&e, &st)) in l.shape().iter().zip(l.strides()).enumerate() {
            d[i] = e as isize;
            d[n + i] = st as isize * item;
        }
        a.buf_dims = Some(d);
    }
    let dims = a.buf_dims.as_mut().expect("just set");
    // SAFETY: filling the caller's view; pointers stay valid while the
    // view holds its reference to this object.
    unsafe {
        (*view).buf = l.data();
        (*view).len = (l.size() * l.itemsize()) as ffi::Py_ssize_t;
        (*view).itemsize = l.itemsize() as ffi::Py_ssize_t;
        (*view).readonly = a.read_only as c_int;
        (*view).ndim = n as c_int;
        (*view).format =
            if need(ffi::PyBUF_FORMAT) { format.as_ptr() as *mut _ } else { std::ptr::null_mut() };
        (*view).shape = if need(ffi::PyBUF_ND) { dims.as_mut_ptr() } else { std::ptr::null_mut() };
        (*view).strides =
            if need(ffi::PyBUF_STRIDES) { dims.as_mut_ptr().add(n) } else { std::ptr::null_mut() };
        (*view).suboffsets = std::ptr::null_mut();
        (*view).internal = std::ptr::null_mut();
    }
    Ok(())
}

fn array_type() -> PyResult<*mut ffi::PyTypeObject> {
    let t = ARRAY_TYPE.get_or_try_init(|| {
        let getsets = leak_table([
            getset(c"shape", get_shape),
            getset(c"dtype", get_dtype),
            ffi::PyGetSetDef::default(),
        ]);
        let methods = leak_table([
            ffi::PyMethodDef {
                ml_name: c"__dlpack__".as_ptr(),
                ml_meth: ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: dlpack },
                ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
                ml_doc: c"__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None)\n\nExports the array as a DLPack capsule.".as_ptr(),
            },
            ffi::PyMethodDef {
                ml_name: c"__array__".as_ptr(),
                ml_meth: ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: array_dunder },
                ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
                ml_doc: c"__array__(dtype=None, copy=None)\n\nA NumPy array over the data (CPU arrays only: device memory raises BufferError).".as_ptr(),
            },
            ffi::PyMethodDef {
                ml_name: c"__dlpack_device__".as_ptr(),
                ml_meth: ffi::PyMethodDefPointer { PyCFunction: dlpack_device },
                ml_flags: ffi::METH_NOARGS,
                ml_doc: c"__dlpack_device__() -> tuple[int, int]".as_ptr(),
            },
            ffi::PyMethodDef::zeroed(),
        ]);
        let slots = [
            slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
            slot(ffi::Py_tp_repr, repr as *mut c_void),
            slot(ffi::Py_tp_getset, getsets),
            slot(ffi::Py_tp_methods, methods),
            slot(ffi::Py_bf_getbuffer, getbuffer as *mut c_void),
            slot(ffi::Py_tp_doc, c"An array owned by Rust (exported by ndbind).".as_ptr() as *mut c_void),
        ];
        let flags = ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION;
        let tp = new_type(c"ndbind.ndarray", std::mem::size_of::<ArrayObject>(), 0, flags, &slots)?;
        crate::array::exchange_api::publish(tp.borrow())?;
        Ok::<_, PyErr>(tp)
    })?;
    Ok(t.as_ptr() as *mut ffi::PyTypeObject)
}
