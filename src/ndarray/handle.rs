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
                Owner::Source => {}
                Owner::Legacy(p) => ndbind_dlpack::delete_legacy(p.as_ptr()),
                Owner::Versioned(p) => ndbind_dlpack::delete_versioned(p.as_ptr()),
                Owner::Buffer(mut view) => ffi::PyBuffer_Release(&mut *view),
            }
        }
    }
}
