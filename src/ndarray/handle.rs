//! An imported array: its validated layout and what keeps the memory alive.

use std::ptr::NonNull;

use ndbind_dlpack::{DLManagedTensor, DLManagedTensorVersioned, Layout};
use pyo3_ffi as ffi;

use crate::core::object::Object;
use crate::ndarray::dtype::DType;

/// What owns the memory of an imported array, released exactly once when
/// the handle drops (with the GIL held: handles are `!Send`).
pub(crate) enum Owner {
    /// The source object itself (e.g. a NumPy array read directly).
    Source,
    /// A consumed legacy DLPack tensor: its deleter runs on drop.
    Legacy(NonNull<DLManagedTensor>),
    /// A consumed versioned DLPack tensor: its deleter runs on drop.
    Versioned(NonNull<DLManagedTensorVersioned>),
    /// A buffer-protocol view: released on drop.
    Buffer(Box<ffi::Py_buffer>),
    /// A raw DLPack capsule (the source) whose tensor was validated but not
    /// consumed yet: the capsule still owns it. [`ArrayHandle::commit`]
    /// consumes it once the whole call has matched, so an overload that
    /// fails on a later argument leaves the capsule usable.
    PeekedCapsule { versioned: bool },
}

/// A validated array and the owner of its memory.
pub struct ArrayHandle {
    pub(crate) layout: Layout,
    pub(crate) owner: Owner,
    /// Whether the memory must not be written (the layout's flag, or
    /// knowledge about the producer, e.g. JAX).
    pub(crate) read_only: bool,
    /// The Python object the array came from (or the converted copy the
    /// function really saw): returning the array returns this object.
    pub(crate) source: Option<Object>,
}

impl ArrayHandle {
    /// The element type.
    #[inline]
    pub fn dtype(&self) -> DType {
        dtype_of(&self.layout)
    }
}

impl ArrayHandle {
    /// Makes the import permanent: a peeked DLPack capsule is consumed
    /// (renamed `used_dltensor[_versioned]`) and its tensor is owned (and
    /// eventually deleted) by this handle.
    pub fn commit(&mut self) {
        let Owner::PeekedCapsule { versioned } = self.owner else { return };
        let Some(cap) = self.source.as_ref().map(Object::as_ptr) else { return };
        // SAFETY: `cap` is the live capsule the layout was validated from;
        // taking renames it and hands its tensor to us. If it was consumed
        // meanwhile (the same capsule passed twice), the other handle owns
        // the tensor and this one keeps borrowing it for the call.
        self.owner = unsafe {
            if versioned {
                ndbind_dlpack::take_versioned(cap).map_or(Owner::Source, Owner::Versioned)
            } else {
                ndbind_dlpack::take_legacy(cap).map_or(Owner::Source, Owner::Legacy)
            }
        };
    }
}

/// The dtype of a validated layout.
#[inline]
pub(crate) fn dtype_of(l: &Layout) -> DType {
    let d = l.dtype();
    DType { code: d.code, bits: d.bits, lanes: d.lanes }
}

impl Drop for ArrayHandle {
    fn drop(&mut self) {
        // SAFETY: each owner is released exactly once, here, with the GIL
        // held; the deleters/release functions are the producers' own.
        unsafe {
            match std::mem::replace(&mut self.owner, Owner::Source) {
                Owner::Source | Owner::PeekedCapsule { .. } => {}
                Owner::Legacy(p) => ndbind_dlpack::delete_legacy(p.as_ptr()),
                Owner::Versioned(p) => ndbind_dlpack::delete_versioned(p.as_ptr()),
                Owner::Buffer(mut view) => ffi::PyBuffer_Release(&mut *view),
            }
        }
    }
}
