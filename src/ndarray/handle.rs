//! An imported array: a description of its memory and what keeps it alive.
//!
//! NumPy arrays are described lazily by NumPy's own array struct (shape,
//! contiguity and alignment come from NumPy's fields and flags), which keeps
//! the common case cheap: nothing is copied at import. Every other route
//! produces a validated [`Layout`].

use std::ffi::c_void;
use std::ptr::NonNull;

use ndbind_dlpack::{DLDevice, DLManagedTensor, DLManagedTensorVersioned, Layout};
use pyo3_ffi as ffi;

use crate::core::object::Object;
use crate::ndarray::dtype::DType;
use crate::ndarray::import_numpy::NumpyView;

/// What owns the memory of an imported array, released exactly once when
/// the handle drops (with the GIL held: handles are `!Send`).
// `repr(u64)`: the tag is written in one 8-byte store (see `NumpyView`).
#[repr(u64)]
pub(crate) enum Owner {
    /// The source object itself (a NumPy array, a torch tensor, …).
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

pub(crate) enum Repr {
    Numpy(NumpyView),
    General(Box<Layout>),
}

/// An imported array and the owner of its memory.
pub struct ArrayHandle {
    pub(crate) repr: Repr,
    pub(crate) owner: Owner,
    /// Whether the memory must not be written (the producer's flag, or
    /// knowledge about the producer, e.g. JAX): 0 or 1, a whole word
    /// written in one store (see `NumpyView`).
    read_only: u64,
    /// The Python object the array came from (or the converted copy the
    /// function really saw): returning the array returns this object.
    pub(crate) source: Option<Object>,
}

impl ArrayHandle {
    /// A handle over a validated layout.
    pub(crate) fn general(layout: Layout, owner: Owner, read_only: bool, source: Object) -> ArrayHandle {
        ArrayHandle { repr: Repr::General(Box::new(layout)), owner, read_only: read_only as u64, source: Some(source) }
    }

    /// A handle over memory that `layout` describes and that no Python
    /// object owns (nothing is released when the handle drops): Rust code
    /// describing its own memory, and requirement checks without an
    /// interpreter (see [`crate::ndarray::Requirements::accepts`]).
    pub fn from_layout(layout: Layout) -> ArrayHandle {
        let read_only = layout.is_read_only();
        ArrayHandle { repr: Repr::General(Box::new(layout)), owner: Owner::Source, read_only: read_only as u64, source: None }
    }

    /// A handle over a NumPy array, read in place.
    pub(crate) fn numpy(view: NumpyView, source: Object) -> ArrayHandle {
        let read_only = view.read_only();
        ArrayHandle { repr: Repr::Numpy(view), owner: Owner::Source, read_only: read_only as u64, source: Some(source) }
    }

    /// Whether the memory must not be written.
    #[inline]
    pub(crate) fn read_only(&self) -> bool {
        self.read_only != 0
    }

    /// Number of dimensions.
    #[inline]
    pub fn ndim(&self) -> usize {
        match &self.repr {
            Repr::Numpy(v) => v.ndim(),
            Repr::General(l) => l.ndim(),
        }
    }

    /// Extents.
    #[inline]
    pub fn shape(&self) -> &[i64] {
        match &self.repr {
            Repr::Numpy(v) => v.shape(),
            Repr::General(l) => l.shape(),
        }
    }

    /// Stride of axis `i`, in elements.
    #[inline]
    pub fn stride(&self, i: usize) -> i64 {
        match &self.repr {
            Repr::Numpy(v) => v.stride(i),
            Repr::General(l) => l.strides()[i],
        }
    }

    /// Strides, in elements.
    pub fn strides(&self) -> &[i64] {
        match &self.repr {
            Repr::Numpy(v) => v.strides(),
            Repr::General(l) => l.strides(),
        }
    }

    /// Address of the first element.
    #[inline]
    pub fn data(&self) -> *mut c_void {
        match &self.repr {
            Repr::Numpy(v) => v.data(),
            Repr::General(l) => l.data(),
        }
    }

    /// The element type.
    #[inline]
    pub fn dtype(&self) -> DType {
        match &self.repr {
            Repr::Numpy(v) => v.dtype(),
            Repr::General(l) => dtype_of(l),
        }
    }

    /// Where the memory lives.
    #[inline]
    pub fn device(&self) -> DLDevice {
        match &self.repr {
            Repr::Numpy(_) => DLDevice::CPU,
            Repr::General(l) => l.device(),
        }
    }

    /// Number of elements.
    #[inline]
    pub fn size(&self) -> usize {
        match &self.repr {
            Repr::Numpy(v) => v.size(),
            Repr::General(l) => l.size(),
        }
    }

    /// Bytes per element.
    #[inline]
    pub fn itemsize(&self) -> usize {
        self.dtype().itemsize()
    }

    /// C-contiguous (axes of extent 0/1 tolerated).
    #[inline]
    pub fn is_c_contiguous(&self) -> bool {
        match &self.repr {
            Repr::Numpy(v) => v.is_c_contiguous(),
            Repr::General(l) => l.is_c_contiguous(),
        }
    }

    /// Fortran-contiguous (axes of extent 0/1 tolerated).
    #[inline]
    pub fn is_f_contiguous(&self) -> bool {
        match &self.repr {
            Repr::Numpy(v) => v.is_f_contiguous(),
            Repr::General(l) => l.is_f_contiguous(),
        }
    }

    /// Lowest address touched and one past the highest (equal when empty).
    pub fn byte_bounds(&self) -> (usize, usize) {
        match &self.repr {
            Repr::Numpy(v) => v.byte_bounds(),
            Repr::General(l) => l.byte_bounds(),
        }
    }

    /// A validated layout describing the same memory.
    pub(crate) fn to_layout(&self) -> std::borrow::Cow<'_, Layout> {
        match &self.repr {
            Repr::Numpy(v) => std::borrow::Cow::Owned(v.to_layout()),
            Repr::General(l) => std::borrow::Cow::Borrowed(l),
        }
    }

    /// Makes the import permanent: a peeked DLPack capsule is consumed
    /// (renamed `used_dltensor[_versioned]`) and its tensor is owned (and
    /// eventually deleted) by this handle.
    #[inline]
    pub fn commit(&mut self) {
        if let Owner::PeekedCapsule { versioned } = self.owner {
            self.take_capsule(versioned);
        }
    }

    #[cold]
    #[inline(never)]
    fn take_capsule(&mut self, versioned: bool) {
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

/// Drops `h`, inline when only its source object is to be released (a
/// NumPy array or tensor read in place): the common case stays in the
/// caller, so the handle need not be spilled to memory for an out-of-line
/// drop.
///
/// # Safety
/// `h` is initialised and is not used again.
#[inline(always)]
pub(crate) unsafe fn release(h: &mut std::mem::ManuallyDrop<ArrayHandle>) {
    if matches!(h.repr, Repr::Numpy(_)) && matches!(h.owner, Owner::Source) {
        // SAFETY: nothing but the source needs releasing; it is moved out
        // once and dropped (the rest holds no resources).
        drop(unsafe { std::ptr::read(&h.source) });
    } else {
        // SAFETY: caller's contract; moved out once.
        drop_slow(unsafe { std::mem::ManuallyDrop::take(h) });
    }
}

/// By value, so that the inline caller's handle never has its address
/// taken (which would keep it in memory).
#[cold]
#[inline(never)]
fn drop_slow(h: ArrayHandle) {
    drop(h)
}

/// The dtype of a validated layout.
#[inline]
pub(crate) fn dtype_of(l: &Layout) -> DType {
    let d = l.dtype();
    DType { code: d.code, bits: d.bits, lanes: d.lanes }
}

/// Releasing an owner (a handle drops its owner before its source object,
/// by field order). Inline for the common owners, which hold nothing, so
/// that a handle's drop can be inlined into the call that consumed it.
impl Drop for Owner {
    #[inline]
    fn drop(&mut self) {
        if !matches!(self, Owner::Source | Owner::PeekedCapsule { .. }) {
            self.release();
        }
    }
}

impl Owner {
    #[cold]
    #[inline(never)]
    fn release(&mut self) {
        // SAFETY: an owner is dropped exactly once, with the GIL held
        // (handles are `!Send`); the deleters/release functions are the
        // producers' own.
        unsafe {
            match self {
                Owner::Source | Owner::PeekedCapsule { .. } => {}
                Owner::Legacy(p) => ndbind_dlpack::delete_legacy(p.as_ptr()),
                Owner::Versioned(p) => ndbind_dlpack::delete_versioned(p.as_ptr()),
                Owner::Buffer(view) => ffi::PyBuffer_Release(&mut **view),
            }
        }
    }
}
