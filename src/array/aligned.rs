//! 64-byte aligned buffers, so exported arrays are zero-copy for consumers
//! that demand alignment (JAX/XLA copies data that is not):
//!
//! - [`AlignedVec`]: initialised elements, usable as a slice;
//! - [`AlignedBuf`]: uninitialised memory, reachable through raw pointers
//!   only, exported with [`ArrayOut::from_uninit`] (contents unspecified, as
//!   `np.empty`'s: no O(n) zeroing, so the export cost is flat in `n`).

use std::alloc::{alloc, alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::array::dtype::Scalar;
use crate::array::export::{ArrayOut, Target};
use crate::array::requirements::Constraint;
use crate::core::error::{PyErr, PyResult};

/// Alignment of every [`AlignedVec`] and [`AlignedBuf`] allocation, in bytes.
pub const ALIGN: usize = 64;

/// The allocation shared by [`AlignedVec`] and [`AlignedBuf`]: `len`
/// elements at a 64-byte aligned address inside an allocation of
/// `len * size_of::<T>() + ALIGN` bytes. Says nothing about initialisation.
struct Raw<T: Scalar> {
    ptr: NonNull<T>,
    len: usize,
    /// The allocation itself (the aligned data starts within it).
    base: NonNull<u8>,
}

impl<T: Scalar> Raw<T> {
    /// The allocation: `ALIGN` spare bytes, and the scalar's own alignment
    /// (at most 16), which keeps the allocator on its fast path (plain
    /// `malloc`/`calloc`); over-aligned layouts take glibc's much slower
    /// memalign path. The data is aligned by hand inside.
    fn layout(len: usize) -> Option<Layout> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?.checked_add(ALIGN)?;
        Layout::from_size_align(bytes, std::mem::align_of::<T>()).ok()
    }

    /// Allocates, or raises `MemoryError` (sizes usually come from Python).
    fn new(len: usize, zeroed: bool) -> PyResult<Self> {
        Self::try_new(len, zeroed).map_err(|_| {
            PyErr::memory_error(format!(
                "cannot allocate an aligned buffer of {len} elements of {} bytes",
                std::mem::size_of::<T>()
            ))
        })
    }

    /// For `Clone`, which cannot fail: aborts like `Vec`'s on exhaustion.
    fn new_or_abort(len: usize) -> Self {
        match Self::try_new(len, false) {
            Ok(raw) => raw,
            Err(Some(layout)) => handle_alloc_error(layout),
            Err(None) => panic!("aligned buffer: size overflow"),
        }
    }

    fn try_new(len: usize, zeroed: bool) -> Result<Self, Option<Layout>> {
        let layout = Self::layout(len).ok_or(None)?;
        // SAFETY: non-zero size (at least ALIGN bytes).
        let base = unsafe {
            if zeroed {
                alloc_zeroed(layout)
            } else {
                alloc(layout)
            }
        };
        let base = NonNull::new(base).ok_or(Some(layout))?;
        let offset = base.as_ptr().align_offset(ALIGN);
        // SAFETY: offset < ALIGN, and ALIGN spare bytes were allocated, so
        // the aligned data (len elements) stays within the allocation.
        let ptr = unsafe { NonNull::new_unchecked(base.as_ptr().add(offset) as *mut T) };
        Ok(Raw { ptr, len, base })
    }
}

impl<T: Scalar> Drop for Raw<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `try_new` with the same layout (which was
        // computable then, so it is now).
        unsafe {
            dealloc(self.base.as_ptr(), Self::layout(self.len).expect("layout of a live buffer"))
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Whether the elements of an [`Aligned`] buffer are initialised:
/// [`Init`] or [`Uninit`].
pub trait State: sealed::Sealed {}

/// Every element is initialised: [`AlignedVec`].
pub enum Init {}

/// The contents are uninitialised: [`AlignedBuf`].
pub enum Uninit {}

impl sealed::Sealed for Init {}
impl sealed::Sealed for Uninit {}
impl State for Init {}
impl State for Uninit {}

/// A fixed-length, 64-byte aligned buffer of scalars, initialised or not
/// as `S` says: use it as [`AlignedVec`] or [`AlignedBuf`]. The accessors
/// that need no initialised elements are shared.
pub struct Aligned<T: Scalar, S: State> {
    /// Invariant for `S = Init`: all `len` elements are initialised.
    raw: Raw<T>,
    _state: PhantomData<S>,
}

/// A fixed-length, initialised, 64-byte aligned buffer of scalars.
///
/// ```
/// use ndbind::array::AlignedVec;
///
/// let mut v = AlignedVec::<f32>::zeroed(1000)?;
/// v[3] = 1.0;
/// assert_eq!(v.as_ptr() as usize % 64, 0);
/// assert_eq!(v.iter().sum::<f32>(), 1.0);
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub type AlignedVec<T> = Aligned<T, Init>;

// SAFETY: a buffer uniquely owns its allocation of Send + Sync scalars.
unsafe impl<T: Scalar, S: State> Send for Aligned<T, S> {}
// SAFETY: as above; shared access only reads (an `AlignedBuf` only gives
// out a `*const T`).
unsafe impl<T: Scalar, S: State> Sync for Aligned<T, S> {}

impl<T: Scalar, S: State> Aligned<T, S> {
    fn from_raw(raw: Raw<T>) -> Self {
        Aligned { raw, _state: PhantomData }
    }

    /// The number of elements (without going through a slice).
    pub fn len(&self) -> usize {
        self.raw.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.raw.len == 0
    }

    /// The first element's address, 64-byte aligned (without going
    /// through a slice). For an [`AlignedBuf`], reading through it before
    /// writing is undefined behaviour.
    pub fn as_ptr(&self) -> *const T {
        self.raw.ptr.as_ptr()
    }

    /// As [`Aligned::as_ptr`], for writing (`ptr::write`, `add`).
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.raw.ptr.as_ptr()
    }
}

impl<T: Scalar> AlignedVec<T> {
    /// `len` elements, all bits zero (every [`Scalar`] accepts that), or
    /// `MemoryError`.
    pub fn zeroed(len: usize) -> PyResult<Self> {
        Ok(Self::from_raw(Raw::new(len, true)?))
    }

    /// `len` elements from `f(index)` (written once each, no zeroing
    /// first), or `MemoryError`.
    pub fn from_fn(len: usize, f: impl FnMut(usize) -> T) -> PyResult<Self> {
        Ok(AlignedBuf::uninit(len)?.init_with(f))
    }

    /// A copy of `s`, or `MemoryError`.
    pub fn from_slice(s: &[T]) -> PyResult<Self> {
        Ok(Self::copy_of(AlignedBuf::uninit(s.len())?, s))
    }

    fn copy_of(mut b: AlignedBuf<T>, s: &[T]) -> Self {
        debug_assert_eq!(b.len(), s.len());
        // SAFETY: `s.len()` elements fit the new, disjoint buffer; every
        // element is then initialised.
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), b.as_mut_ptr(), s.len());
            b.assume_init()
        }
    }
}

impl<T: Scalar> Deref for AlignedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements at an owned, aligned pointer.
        unsafe { std::slice::from_raw_parts(self.raw.ptr.as_ptr(), self.raw.len) }
    }
}

impl<T: Scalar> DerefMut for AlignedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, with unique access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.raw.ptr.as_ptr(), self.raw.len) }
    }
}

impl<T: Scalar> AsRef<[T]> for AlignedVec<T> {
    fn as_ref(&self) -> &[T] {
        self
    }
}

impl<T: Scalar> AsMut<[T]> for AlignedVec<T> {
    fn as_mut(&mut self) -> &mut [T] {
        self
    }
}

// SAFETY: the elements live in the vector's own heap allocation, which
// does not move with the value and lives until it is dropped.
unsafe impl<T: Scalar> crate::array::StableData<T> for AlignedVec<T> {}

impl<T: Scalar> Clone for AlignedVec<T> {
    fn clone(&self) -> Self {
        Self::copy_of(AlignedBuf::from_raw(Raw::new_or_abort(self.len())), self)
    }
}

/// A fixed-length, **uninitialised**, 64-byte aligned buffer of scalars.
///
/// The memory comes from plain `malloc` (through `std::alloc::alloc`, with
/// the scalar's own alignment, so glibc stays on its fast path; the data is
/// aligned by hand): nothing is written, so making one costs the same at
/// every length. The buffer never hands out `&[T]`/`&mut [T]` (that would
/// let safe code read uninitialised memory); only raw pointers, for code
/// that writes the elements ([`AlignedBuf::assume_init`]), or an export
/// whose contents are unspecified ([`ArrayOut::from_uninit`]).
///
/// ```
/// use ndbind::array::{AlignedBuf, AlignedVec, ArrayOut, Numpy};
/// use ndbind::prelude::*;
///
/// // `np.empty(n, np.float32)`, 64-byte aligned, owned by Rust:
/// fn empty(n: usize) -> PyResult<ArrayOut<Numpy, f32>> {
///     ArrayOut::from_uninit(AlignedBuf::uninit(n)?, &[n])
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("empty", empty, arg("n"))?; Ok(()) });
///
/// // Filled, then safe to use as a slice:
/// let v: AlignedVec<f32> = AlignedBuf::uninit(8)?.fill(1.0);
/// assert_eq!(&v[..], &[1.0; 8]);
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub type AlignedBuf<T> = Aligned<T, Uninit>;

impl<T: Scalar> AlignedBuf<T> {
    /// Room for `len` elements, uninitialised, or `MemoryError`.
    pub fn uninit(len: usize) -> PyResult<Self> {
        Ok(Self::from_raw(Raw::new(len, false)?))
    }

    /// The buffer as an [`AlignedVec`], once every element is written.
    ///
    /// # Safety
    /// All `len` elements have been initialised through
    /// [`Aligned::as_mut_ptr`].
    pub unsafe fn assume_init(self) -> AlignedVec<T> {
        AlignedVec::from_raw(self.raw)
    }

    /// Every element set to `value`.
    pub fn fill(self, value: T) -> AlignedVec<T> {
        self.init_with(|_| value)
    }

    /// Element `i` set to `f(i)`, in order.
    pub fn init_with(mut self, mut f: impl FnMut(usize) -> T) -> AlignedVec<T> {
        let p = self.as_mut_ptr();
        for i in 0..self.len() {
            // SAFETY: `i < len`: within the buffer. If `f` panics, the
            // buffer is freed without its elements being read.
            unsafe { p.add(i).write(f(i)) };
        }
        // SAFETY: every element was written above.
        unsafe { self.assume_init() }
    }
}

impl<F: Target, T: Scalar, C: Constraint> ArrayOut<F, T, C> {
    /// Takes ownership of an uninitialised 64-byte aligned buffer, viewed
    /// with `shape` in C order: the returned array's contents are
    /// unspecified, as `np.empty`'s (zero-copy for JAX; the cost does not
    /// grow with the size, unlike zeroing, which is O(n) once glibc hands
    /// back a freed block).
    ///
    /// Sound because Rust never reads the memory: the buffer only moves
    /// into the array's owner (a few pointer-sized words) and is freed when
    /// the last consumer lets go, and no `&[T]` is ever formed over it. The
    /// consumer (NumPy, torch, JAX, C code) sees arbitrary but fixed bytes,
    /// possibly left over from freed memory of this process, exactly as
    /// with `np.empty`/`torch.empty`. Every [`Scalar`] accepts every bit
    /// pattern except `bool`, for which NumPy and torch may then see
    /// values other than 0 and 1: export `bool` buffers initialised.
    pub fn from_uninit(buf: AlignedBuf<T>, shape: &[usize]) -> PyResult<Self> {
        // `from_aligned` only takes the vector's length and pointer through
        // the inherent `AlignedVec::len`/`as_ptr` (no slice is formed) and
        // moves it into the owner, which frees it; nothing reads the
        // elements, so the vector's "initialised" invariant is never relied
        // on. The vector cannot escape: `ArrayOut` never gives its owner back.
        Self::from_aligned(AlignedVec::from_raw(buf.raw), shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_sized() {
        for n in [0usize, 1, 3, 1000, 1 << 20] {
            let b = AlignedBuf::<f32>::uninit(n).unwrap();
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
            assert_eq!(b.len(), n);
            let v = AlignedVec::<f64>::zeroed(n).unwrap();
            assert_eq!(v.as_ptr() as usize % ALIGN, 0);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    }

    #[test]
    fn constructors_refuse_instead_of_aborting() {
        assert!(AlignedVec::<f64>::zeroed(usize::MAX / 4).is_err()); // size overflow
        assert!(AlignedVec::<u8>::zeroed(1 << 62).is_err()); // beyond any address space
        assert!(AlignedVec::<u8>::from_fn(1 << 62, |_| 0).is_err());
        assert!(AlignedBuf::<f32>::uninit(1 << 61).is_err());
        let v = AlignedVec::<u16>::zeroed(100).expect("small allocation");
        assert_eq!(v.as_ptr() as usize % ALIGN, 0);
        assert!(v.iter().all(|&x| x == 0));
    }

    #[test]
    fn initialisers() {
        let v = AlignedBuf::<i32>::uninit(5).unwrap().init_with(|i| i as i32 * 2);
        assert_eq!(&*v, &[0, 2, 4, 6, 8]);
        assert_eq!(&*AlignedBuf::<u8>::uninit(3).unwrap().fill(7), &[7, 7, 7]);
        assert_eq!(&*AlignedVec::from_fn(4, |i| i as f32).unwrap(), &[0.0, 1.0, 2.0, 3.0]);
        let c = AlignedVec::from_slice(&[1.5f64, 2.5]).unwrap();
        assert_eq!(&*c.clone(), &[1.5, 2.5]);
        assert_eq!(c.as_ptr() as usize % ALIGN, 0);
    }

    #[test]
    fn export_checks_the_shape() {
        use crate::array::export::Numpy;
        assert!(
            ArrayOut::<Numpy, f32>::from_uninit(AlignedBuf::uninit(12).unwrap(), &[3, 4]).is_ok()
        );
        assert!(ArrayOut::<Numpy, f32>::from_uninit(AlignedBuf::uninit(12).unwrap(), &[5]).is_err());
    }
}
