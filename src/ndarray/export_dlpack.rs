//! DLPack export: managed tensors that keep an `ndbind.ndarray` object
//! alive, released through a deleter that takes the GIL itself (consumers
//! may free tensors from any thread).

use std::ffi::c_void;
use std::ptr::NonNull;

use ndbind_dlpack::{
    DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor, Layout, FLAG_IS_COPIED,
    FLAG_READ_ONLY,
};
use pyo3_ffi as ffi;

use crate::core::error::{PyErr, PyResult};
use crate::core::object::Object;
use crate::ndarray::owner::OwnerBox;

/// What a managed tensor owns besides itself: a strong reference to the
/// exporting object and the shape/strides arrays.
struct Ctx {
    owner: *mut ffi::PyObject,
    dims: Box<[i64]>,
}

impl Ctx {
    fn new(owner: &Object, l: &Layout) -> Box<Ctx> {
        let dims: Box<[i64]> = l.shape().iter().chain(l.strides()).copied().collect();
        Box::new(Ctx { owner: owner.clone().into_ptr(), dims })
    }
}

/// Drops a context, with the GIL (taken if this thread lacks it). After
/// interpreter shutdown the reference is leaked rather than touched.
unsafe fn drop_ctx(ctx: *mut Ctx) {
    // SAFETY: `ctx` came from Box::into_raw in `export`; it is freed once.
    let ctx = unsafe { Box::from_raw(ctx) };
    // SAFETY: GIL state API; the owner reference is ours to release.
    unsafe {
        if ffi::Py_IsInitialized() == 0 {
            return;
        }
        let g = ffi::PyGILState_Ensure();
        ffi::Py_DECREF(ctx.owner);
        ffi::PyGILState_Release(g);
    }
}

unsafe extern "C" fn delete_versioned(p: *mut DLManagedTensorVersioned) {
    // SAFETY: `p` and its context were allocated by `export`; the consumer
    // calls the deleter exactly once.
    unsafe {
        let t = Box::from_raw(p);
        drop_ctx(t.manager_ctx as *mut Ctx);
    }
}

unsafe extern "C" fn delete_legacy(p: *mut DLManagedTensor) {
    // SAFETY: as in `delete_versioned`.
    unsafe {
        let t = Box::from_raw(p);
        drop_ctx(t.manager_ctx as *mut Ctx);
    }
}

fn tensor(l: &Layout, ctx: &mut Ctx) -> DLTensor {
    let (shape, strides) = ctx.dims.split_at_mut(l.ndim());
    dl_tensor(l, shape.as_mut_ptr(), strides.as_mut_ptr())
}

/// The `DLTensor` describing `l`, whose `ndim` extents and strides live at
/// `shape` and `strides` (memory the caller keeps alive as long as the
/// tensor). The producer's data pointer and byte offset are passed on
/// unchanged: for devices whose `data` is an opaque handle (OpenCL,
/// Vulkan, Metal) the offset cannot be folded into it.
pub(crate) fn dl_tensor(l: &Layout, shape: *mut i64, strides: *mut i64) -> DLTensor {
    DLTensor {
        data: l.raw_data(),
        device: l.device(),
        ndim: l.ndim() as i32,
        dtype: l.dtype(),
        shape,
        strides,
        byte_offset: l.byte_offset(),
    }
}

/// A versioned managed tensor for the array of `owner` (an
/// `ndbind.ndarray`, kept alive until the deleter runs).
pub(crate) fn managed_versioned(owner: &Object, l: &Layout, read_only: bool, copied: bool) -> NonNull<DLManagedTensorVersioned> {
    let mut ctx = Ctx::new(owner, l);
    let t = tensor(l, &mut ctx);
    let mut flags = 0;
    if read_only {
        flags |= FLAG_READ_ONLY;
    }
    if copied {
        flags |= FLAG_IS_COPIED;
    }
    let m = Box::new(DLManagedTensorVersioned {
        version: DLPackVersion::CURRENT,
        manager_ctx: Box::into_raw(ctx) as *mut c_void,
        deleter: Some(delete_versioned),
        flags,
        dl_tensor: t,
    });
    NonNull::from(Box::leak(m))
}

/// A DLPack capsule for the array of `owner` (an `ndbind.ndarray`),
/// versioned (with READ_ONLY / IS_COPIED flags) or legacy.
pub(crate) fn export(owner: &Object, l: &Layout, read_only: bool, versioned: bool, copied: bool) -> PyResult<Object> {
    // SAFETY: each capsule constructor takes ownership of the managed
    // tensor (calling its deleter itself if the capsule cannot be made).
    let cap = unsafe {
        if versioned {
            ndbind_dlpack::new_versioned_capsule(managed_versioned(owner, l, read_only, copied))
        } else {
            let mut ctx = Ctx::new(owner, l);
            let t = tensor(l, &mut ctx);
            let ctx = Box::into_raw(ctx) as *mut c_void;
            let m = Box::new(DLManagedTensor { dl_tensor: t, manager_ctx: ctx, deleter: Some(delete_legacy) });
            ndbind_dlpack::new_legacy_capsule(NonNull::from(Box::leak(m)))
        }
    };
    // SAFETY: a new reference, or NULL with an error set.
    unsafe { Object::from_owned(cap) }.ok_or_else(PyErr::fetch)
}

/// Axes whose shape and strides an [`Owned`] tensor holds inline.
const OWNED_INLINE: usize = 4;

/// A versioned managed tensor that owns its memory through an [`OwnerBox`]
/// and carries its shape and strides in the same allocation: what a
/// framework's C converter (torch's exchange API) or a DLPack allocator
/// hands on, with no Python object in between.
#[repr(C)]
struct Owned {
    /// First, so that the deleter's pointer is the allocation's.
    managed: DLManagedTensorVersioned,
    owner: OwnerBox,
    /// The owner only frees memory when dropped (ndbind's own buffers).
    plain: bool,
    /// Shape then strides, up to [`OWNED_INLINE`] axes.
    inline: [i64; 2 * OWNED_INLINE],
    /// Shape then strides, for more axes.
    heap: Option<Box<[i64]>>,
}

/// A managed tensor over `data` (CPU memory of `dtype` elements covering
/// `shape` with `strides`, or C order when `None`) owned by `owner`, which
/// its deleter drops with the GIL held (DESIGN.md), taking it if need be,
/// unless the owner is `plain` (one of ndbind's buffers of scalars, whose
/// drop runs no code of the caller's): torch, for one, frees tensors with
/// the GIL released, and re-taking it costs more than the rest of the
/// release.
///
/// # Safety
/// `owner` keeps `data` alive, at the same address, until it is dropped;
/// `strides` (when given) has `shape.len()` entries.
pub(crate) unsafe fn managed_owned(
    data: *mut c_void,
    dtype: DLDataType,
    shape: &[i64],
    strides: Option<&[i64]>,
    owner: OwnerBox,
    plain: bool,
    read_only: bool,
) -> NonNull<DLManagedTensorVersioned> {
    let n = shape.len();
    let mut inline = [0i64; 2 * OWNED_INLINE];
    let mut heap = (n > OWNED_INLINE).then(|| vec![0i64; 2 * n].into_boxed_slice());
    let dims = match &mut heap {
        Some(h) => &mut h[..],
        None => &mut inline[..2 * n],
    };
    let (s, st) = dims.split_at_mut(n);
    s.copy_from_slice(shape);
    match strides {
        Some(given) => st.copy_from_slice(given),
        None => crate::ndarray::layout::fill_c_strides(shape, st),
    }
    let mut o = Box::new(Owned {
        managed: DLManagedTensorVersioned {
            version: DLPackVersion::CURRENT,
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_owned),
            flags: if read_only { FLAG_READ_ONLY } else { 0 },
            dl_tensor: DLTensor {
                data,
                device: DLDevice::CPU,
                ndim: n as i32,
                dtype,
                shape: std::ptr::null_mut(),
                strides: std::ptr::null_mut(),
                byte_offset: 0,
            },
        },
        owner,
        plain,
        inline,
        heap,
    });
    // The dims live in the box (or its boxed slice): addresses that stay
    // put when the box pointer is handed out.
    let dims = match &mut o.heap {
        Some(h) => h.as_mut_ptr(),
        None => o.inline.as_mut_ptr(),
    };
    o.managed.dl_tensor.shape = dims;
    // SAFETY: within the `2 * n` dims just written.
    o.managed.dl_tensor.strides = unsafe { dims.add(n) };
    // SAFETY: `managed` is the first field of the repr(C) allocation.
    unsafe { NonNull::new_unchecked(Box::into_raw(o).cast()) }
}

unsafe extern "C" fn delete_owned(p: *mut DLManagedTensorVersioned) {
    // SAFETY: `p` is the start of an `Owned` boxed by `managed_owned`; the
    // consumer deletes a tensor once.
    let o = unsafe { Box::from_raw(p as *mut Owned) };
    if o.plain || matches!(o.owner, OwnerBox::None) {
        // Only memory is freed, nothing of the caller's runs: no GIL
        // needed. A panic must not unwind into C.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(o)));
        return;
    }
    // SAFETY: GIL state API; the owner is dropped with the GIL held, or
    // leaked after interpreter shutdown.
    unsafe {
        if ffi::Py_IsInitialized() == 0 {
            std::mem::forget(o);
            return;
        }
        let g = ffi::PyGILState_Ensure();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(o)));
        ffi::PyGILState_Release(g);
    }
}
