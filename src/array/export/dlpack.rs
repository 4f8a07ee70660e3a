//! DLPack export: managed tensors, versioned or legacy, each one
//! allocation holding the tensor, its shape and strides and an
//! [`OwnerBox`] (an `ndbind.ndarray` kept alive, or Rust-owned memory),
//! released through a deleter that takes the GIL itself when the owner
//! needs it (consumers may free tensors from any thread).

use std::ffi::c_void;
use std::ptr::NonNull;

use ndbind_dlpack::{
    DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor,
    Layout, FLAG_IS_COPIED, FLAG_READ_ONLY,
};
use pyo3_ffi as ffi;

use crate::array::owner::OwnerBox;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::Object;

/// How a tensor is exported: the capsule kind, the versioned tensor's
/// flags and what releasing its owner takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExportOptions {
    /// A versioned capsule (`dltensor_versioned`); otherwise legacy
    /// (`dltensor`), which carries no flags.
    pub(crate) versioned: bool,
    /// Versioned: `FLAG_READ_ONLY`.
    pub(crate) read_only: bool,
    /// Versioned: `FLAG_IS_COPIED` (the consumer owns a copy).
    pub(crate) copied: bool,
    /// The owner only frees memory when dropped (one of ndbind's buffers
    /// of scalars): released without taking the GIL.
    pub(crate) plain: bool,
}

impl ExportOptions {
    /// A legacy tensor, writable, not a copy, owner released with the GIL.
    pub(crate) const NONE: ExportOptions =
        ExportOptions { versioned: false, read_only: false, copied: false, plain: false };

    /// The versioned tensor's flags.
    fn flags(self) -> u64 {
        let read_only = if self.read_only { FLAG_READ_ONLY } else { 0 };
        read_only | if self.copied { FLAG_IS_COPIED } else { 0 }
    }
}

/// What a managed tensor describes (its shape and strides are copied
/// into it).
#[derive(Clone, Copy)]
pub(crate) struct TensorParts<'a> {
    /// The producer's data pointer, before `byte_offset`.
    pub(crate) data: *mut c_void,
    pub(crate) byte_offset: u64,
    pub(crate) device: DLDevice,
    pub(crate) dtype: DLDataType,
    pub(crate) shape: &'a [i64],
    /// In elements; `None`: C order.
    pub(crate) strides: Option<&'a [i64]>,
}

impl<'a> TensorParts<'a> {
    /// The parts of a validated layout.
    pub(crate) fn of(l: &'a Layout) -> Self {
        TensorParts {
            data: l.raw_data(),
            byte_offset: l.byte_offset(),
            device: l.device(),
            dtype: l.dtype(),
            shape: l.shape(),
            strides: Some(l.strides()),
        }
    }

    /// The `DLTensor` describing these parts, whose extents and strides
    /// live at `shape` and `strides` (memory the caller keeps alive as long
    /// as the tensor). The producer's data pointer and byte offset are
    /// passed on unchanged: for devices whose `data` is an opaque handle
    /// (OpenCL, Vulkan, Metal) the offset cannot be folded into it.
    pub(crate) fn tensor(&self, shape: *mut i64, strides: *mut i64) -> DLTensor {
        DLTensor {
            data: self.data,
            device: self.device,
            ndim: self.shape.len() as i32,
            dtype: self.dtype,
            shape,
            strides,
            byte_offset: self.byte_offset,
        }
    }

    /// CPU memory at `data` (no offset).
    pub(crate) fn cpu(
        data: *mut c_void,
        dtype: DLDataType,
        shape: &'a [i64],
        strides: Option<&'a [i64]>,
    ) -> Self {
        TensorParts { data, byte_offset: 0, device: DLDevice::CPU, dtype, shape, strides }
    }
}

/// The two managed-tensor headers: both start the same [`Owned`] record.
trait Header: Sized {
    fn new(t: DLTensor, flags: u64) -> Self;
    fn tensor(&mut self) -> &mut DLTensor;
}

impl Header for DLManagedTensorVersioned {
    fn new(t: DLTensor, flags: u64) -> Self {
        DLManagedTensorVersioned {
            version: DLPackVersion::CURRENT,
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_owned::<Self>),
            flags,
            dl_tensor: t,
        }
    }
    fn tensor(&mut self) -> &mut DLTensor {
        &mut self.dl_tensor
    }
}

impl Header for DLManagedTensor {
    fn new(t: DLTensor, _: u64) -> Self {
        DLManagedTensor {
            dl_tensor: t,
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_owned::<Self>),
        }
    }
    fn tensor(&mut self) -> &mut DLTensor {
        &mut self.dl_tensor
    }
}

/// Axes whose shape and strides an [`Owned`] tensor holds inline.
const OWNED_INLINE: usize = 4;

/// A managed tensor that owns its memory through an [`OwnerBox`] and
/// carries its shape and strides in the same allocation.
#[repr(C)]
struct Owned<H> {
    /// First, so that the deleter's pointer is the allocation's.
    managed: H,
    owner: OwnerBox,
    /// The owner only frees memory when dropped (ndbind's own buffers).
    plain: bool,
    /// Shape then strides, up to [`OWNED_INLINE`] axes.
    inline: [i64; 2 * OWNED_INLINE],
    /// Shape then strides, for more axes.
    heap: Option<Box<[i64]>>,
}

/// A managed tensor over `parts` owned by `owner`, which its deleter drops
/// with the GIL held (DESIGN.md), taking it if need be, unless the owner
/// is `plain` (one of ndbind's buffers of scalars, whose drop runs no code
/// of the caller's) or nothing: torch, for one, frees tensors with the GIL
/// released, and re-taking it costs more than the rest of the release.
/// `flags` are the versioned tensor's (`FLAG_READ_ONLY`, `FLAG_IS_COPIED`).
///
/// # Safety
/// `owner` keeps the memory `parts` describes alive, at the same address,
/// until it is dropped; `parts.strides` (when given) has one entry per axis.
unsafe fn managed<H: Header>(
    parts: TensorParts<'_>,
    owner: OwnerBox,
    plain: bool,
    flags: u64,
) -> NonNull<H> {
    let n = parts.shape.len();
    let mut inline = [0i64; 2 * OWNED_INLINE];
    let mut heap = (n > OWNED_INLINE).then(|| vec![0i64; 2 * n].into_boxed_slice());
    let dims = match &mut heap {
        Some(h) => &mut h[..],
        None => &mut inline[..2 * n],
    };
    let (s, st) = dims.split_at_mut(n);
    s.copy_from_slice(parts.shape);
    match parts.strides {
        Some(given) => st.copy_from_slice(given),
        None => crate::array::layout::fill_c_strides(parts.shape, st),
    }
    let t = parts.tensor(std::ptr::null_mut(), std::ptr::null_mut());
    let mut o = Box::new(Owned { managed: H::new(t, flags), owner, plain, inline, heap });
    // The dims live in the box (or its boxed slice): addresses that stay
    // put when the box pointer is handed out.
    let dims = match &mut o.heap {
        Some(h) => h.as_mut_ptr(),
        None => o.inline.as_mut_ptr(),
    };
    let t = o.managed.tensor();
    t.shape = dims;
    // SAFETY: within the `2 * n` dims just written.
    t.strides = unsafe { dims.add(n) };
    // SAFETY: `managed` is the first field of the repr(C) allocation.
    unsafe { NonNull::new_unchecked(Box::into_raw(o).cast()) }
}

/// A versioned managed tensor (see [`managed`]) with `opts`' flags
/// (`opts.versioned` is not looked at).
///
/// # Safety
/// As for [`managed`].
pub(crate) unsafe fn managed_versioned(
    parts: TensorParts<'_>,
    owner: OwnerBox,
    opts: ExportOptions,
) -> NonNull<DLManagedTensorVersioned> {
    // SAFETY: forwarded.
    unsafe { managed(parts, owner, opts.plain, opts.flags()) }
}

unsafe extern "C" fn delete_owned<H>(p: *mut H) {
    // SAFETY: `p` is the start of an `Owned<H>` boxed by `managed`; the
    // consumer deletes a tensor once. The tensor and its dims are plain
    // memory, freed right away.
    let Owned { owner, plain, .. } = *unsafe { Box::from_raw(p as *mut Owned<H>) };
    release(owner, plain)
}

/// Drops a tensor's owner with the GIL unless it only frees memory; after
/// interpreter shutdown such an owner is leaked rather than touched. No
/// panic unwinds into the consumer.
fn release(owner: OwnerBox, plain: bool) {
    if plain || matches!(owner, OwnerBox::None) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(owner)));
        return;
    }
    // SAFETY: GIL state API.
    unsafe {
        if ffi::Py_IsInitialized() == 0 {
            std::mem::forget(owner);
            return;
        }
        let g = ffi::PyGILState_Ensure();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(owner)));
        ffi::PyGILState_Release(g);
    }
}

/// A DLPack capsule for the array of `owner` (an `ndbind.ndarray`, kept
/// alive by the tensor, so never `plain`), as `opts` say.
pub(crate) fn export(owner: &Object, l: &Layout, opts: ExportOptions) -> PyResult<Object> {
    let opts = ExportOptions { plain: false, ..opts };
    // SAFETY: `owner` holds the layout's memory.
    unsafe { export_owned(TensorParts::of(l), OwnerBox::Python(owner.clone()), opts) }
}

/// [`export`] for any owner (see [`managed`]).
///
/// # Safety
/// As for [`managed`].
pub(crate) unsafe fn export_owned(
    parts: TensorParts<'_>,
    owner: OwnerBox,
    opts: ExportOptions,
) -> PyResult<Object> {
    // SAFETY: forwarded; each capsule constructor takes ownership of the
    // managed tensor (calling its deleter itself if the capsule cannot be
    // made).
    let cap = unsafe {
        if opts.versioned {
            ndbind_dlpack::new_versioned_capsule(managed_versioned(parts, owner, opts))
        } else {
            ndbind_dlpack::new_legacy_capsule(managed::<DLManagedTensor>(
                parts, owner, opts.plain, 0,
            ))
        }
    };
    // SAFETY: a new reference, or NULL with an error set.
    unsafe { Object::from_owned(cap) }.ok_or_else(PyErr::fetch)
}
