//! [`AlignedVec`]: a 64-byte aligned buffer, so exported arrays are
//! zero-copy for consumers that demand alignment (JAX/XLA copies data
//! that is not).

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::ndarray::dtype::Scalar;

/// Alignment of every [`AlignedVec`] allocation, in bytes.
pub const ALIGN: usize = 64;

/// A fixed-length, zero-initialised, 64-byte aligned buffer of scalars.
///
/// ```ignore
/// let mut v = AlignedVec::<f32>::zeroed(1000);
/// v[3] = 1.0;
/// assert_eq!(v.as_ptr() as usize % 64, 0);
/// ```
pub struct AlignedVec<T: Scalar> {
    ptr: NonNull<T>,
    len: usize,
    /// The allocation itself (the aligned data starts within it).
    base: NonNull<u8>,
}

// SAFETY: an AlignedVec uniquely owns its buffer of Send + Sync scalars.
unsafe impl<T: Scalar> Send for AlignedVec<T> {}
// SAFETY: as above; shared access only reads.
unsafe impl<T: Scalar> Sync for AlignedVec<T> {}

impl<T: Scalar> AlignedVec<T> {
    /// The allocation: `ALIGN` spare bytes, and the scalar's own alignment
    /// (at most 16), which keeps the allocator on its fast (calloc) path;
    /// over-aligned allocations take glibc's much slower memalign path.
    fn layout(len: usize) -> Layout {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|b| b.checked_add(ALIGN))
            .expect("AlignedVec: size overflow");
        Layout::from_size_align(bytes, std::mem::align_of::<T>()).expect("AlignedVec: layout")
    }

    /// `len` elements, all bits zero (every [`Scalar`] accepts that).
    pub fn zeroed(len: usize) -> Self {
        let layout = Self::layout(len);
        // SAFETY: non-zero size (at least ALIGN bytes).
        let base = unsafe { alloc_zeroed(layout) };
        let Some(base) = NonNull::new(base) else { handle_alloc_error(layout) };
        let offset = base.as_ptr().align_offset(ALIGN);
        // SAFETY: offset < ALIGN, and ALIGN spare bytes were allocated, so
        // the aligned data (len elements) stays within the allocation.
        let ptr = unsafe { NonNull::new_unchecked(base.as_ptr().add(offset) as *mut T) };
        AlignedVec { ptr, len, base }
    }

    /// `len` elements from `f(index)`.
    pub fn from_fn(len: usize, mut f: impl FnMut(usize) -> T) -> Self {
        let mut v = Self::zeroed(len);
        for (i, x) in v.iter_mut().enumerate() {
            *x = f(i);
        }
        v
    }

    /// A copy of `s`.
    pub fn from_slice(s: &[T]) -> Self {
        let mut v = Self::zeroed(s.len());
        v.copy_from_slice(s);
        v
    }
}

impl<T: Scalar> Deref for AlignedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements at an owned, aligned pointer.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Scalar> DerefMut for AlignedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, with unique access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Scalar> Drop for AlignedVec<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with the same layout.
        unsafe { dealloc(self.base.as_ptr(), Self::layout(self.len)) }
    }
}

impl<T: Scalar> Clone for AlignedVec<T> {
    fn clone(&self) -> Self {
        Self::from_slice(self)
    }
}
