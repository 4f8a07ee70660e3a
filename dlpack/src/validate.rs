//! Validation of foreign `DLTensor`s before anyone touches their data.
//!
//! [`validate`] reads the header fields of a tensor produced by another
//! library, rejects anything malformed or hostile, and returns a [`Layout`]:
//! shape and strides (in elements) copied into inline storage, the first
//! element's address and the exact byte range the view can touch. All
//! arithmetic is checked; nothing is allocated on the heap.
//!
//! ```
//! use ndbind_dlpack::{validate, DLDataType, DLDevice, DLTensor};
//! let mut buf = [0f32; 6];
//! let mut shape = [2i64, 3];
//! let t = DLTensor {
//!     data: buf.as_mut_ptr().cast(),
//!     device: DLDevice::CPU,
//!     ndim: 2,
//!     dtype: DLDataType::FLOAT32,
//!     shape: shape.as_mut_ptr(),
//!     strides: core::ptr::null_mut(), // C-contiguous
//!     byte_offset: 0,
//! };
//! // SAFETY: shape points to 2 extents; strides is NULL.
//! let l = unsafe { validate(&t, false) }.unwrap();
//! assert_eq!((l.shape(), l.strides()), (&[2i64, 3][..], &[3i64, 1][..]));
//! assert_eq!((l.size(), l.itemsize(), l.nbytes()), (6, 4, 24));
//! assert!(l.is_c_contiguous() && !l.is_f_contiguous());
//! let (lo, hi) = l.byte_bounds();
//! assert_eq!(hi - lo, 24);
//! ```

use core::ffi::c_void;
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr;

use crate::abi::{
    DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLPackVersion, DLTensor,
    DataTypeCode, FLAG_READ_ONLY,
};

/// Largest accepted `ndim` (matches NumPy's limit).
pub const MAX_NDIM: usize = 64;

/// Why a foreign tensor was rejected. `Display` gives a message suitable for
/// a Python exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidTensor {
    /// Versioned tensor with a major version this crate cannot read.
    UnsupportedVersion(DLPackVersion),
    /// `ndim < 0`.
    NegativeNdim(i32),
    /// `ndim > MAX_NDIM`.
    TooManyDims(i32),
    /// `shape` is NULL although `ndim > 0`.
    NullShape,
    /// A negative extent.
    NegativeExtent {
        /// Offending axis.
        axis: usize,
        /// Its extent.
        extent: i64,
    },
    /// Vector types (`lanes != 1`) are not supported.
    VectorLanes(u16),
    /// A type code DLPack does not define, or a bit width its code does not
    /// allow (see [`DLDataType::is_defined_scalar`]).
    UnknownDType {
        /// Type code of the dtype.
        code: u8,
        /// Its bit width.
        bits: u8,
    },
    /// `bits` is not a positive multiple of 8 (or `bool` is not 8 bits).
    UnsupportedBits {
        /// Type code of the dtype.
        code: u8,
        /// Its bit width.
        bits: u8,
    },
    /// `data` is NULL but the tensor has elements.
    NullData,
    /// Element count, strides, byte span or `byte_offset` overflow.
    Overflow,
}

impl fmt::Display for InvalidTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported DLPack version {}.{} (this build understands {}.x)",
                v.major,
                v.minor,
                crate::abi::DLPACK_MAJOR_VERSION
            ),
            Self::NegativeNdim(n) => write!(f, "DLPack tensor has negative ndim ({n})"),
            Self::TooManyDims(n) => {
                write!(f, "DLPack tensor has {n} dimensions (at most {MAX_NDIM} are supported)")
            }
            Self::NullShape => f.write_str("DLPack tensor has ndim > 0 but a NULL shape"),
            Self::NegativeExtent { axis, extent } => {
                write!(f, "DLPack tensor has negative extent {extent} on axis {axis}")
            }
            Self::VectorLanes(l) => {
                write!(f, "DLPack vector dtypes are not supported (lanes = {l})")
            }
            Self::UnknownDType { code, bits } => write!(
                f,
                "invalid DLPack dtype (type code {code} with {bits} bits is not a DLPack scalar type ndbind can address)"
            ),
            Self::UnsupportedBits { code, bits } => write!(
                f,
                "unsupported DLPack dtype (code {code}, {bits} bits): element size must be a whole number of bytes"
            ),
            Self::NullData => f.write_str("DLPack tensor has elements but a NULL data pointer"),
            Self::Overflow => {
                f.write_str("DLPack tensor is too large: size, strides or offset overflow")
            }
        }
    }
}

impl std::error::Error for InvalidTensor {}

/// A validated tensor description (see [`validate`]).
///
/// Shape and strides of up to [`INLINE_NDIM`] dimensions live inline, so
/// building one for an everyday array never allocates and moving it is
/// cheap (it is moved several times per call on the import path); larger
/// ones spill to the heap.
#[derive(Clone)]
pub struct Layout {
    data: *mut c_void,
    raw_data: *mut c_void,
    byte_offset: u64,
    /// Byte offsets (relative to `data`) of the lowest and one-past-highest
    /// byte touched; both 0 when `size == 0`.
    lo: isize,
    hi: isize,
    size: usize,
    itemsize: usize,
    device: DLDevice,
    dtype: DLDataType,
    ndim: u8,
    read_only: bool,
    dims: Dims,
}

/// Dimensions kept inline up to this count.
pub const INLINE_NDIM: usize = 8;

/// Shape followed by strides: `2 * ndim` values.
#[derive(Clone)]
enum Dims {
    Inline([i64; 2 * INLINE_NDIM]),
    Heap(Box<[i64]>),
}

impl Dims {
    #[inline]
    fn all(&self) -> &[i64] {
        match self {
            Dims::Inline(a) => a,
            Dims::Heap(b) => b,
        }
    }
}

impl Layout {
    /// Number of dimensions (`0..=MAX_NDIM`).
    #[inline]
    pub fn ndim(&self) -> usize {
        self.ndim as usize
    }

    /// Extents, one per dimension.
    #[inline]
    pub fn shape(&self) -> &[i64] {
        &self.dims.all()[..self.ndim()]
    }

    /// Strides in elements (not bytes), one per dimension; computed as
    /// C-contiguous when the producer passed NULL.
    #[inline]
    pub fn strides(&self) -> &[i64] {
        let n = self.ndim();
        &self.dims.all()[n..2 * n]
    }

    /// Number of elements (product of the shape; 1 for a 0-d tensor).
    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes per element.
    #[inline]
    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// `size() * itemsize()` (guaranteed not to overflow `isize`).
    #[inline]
    pub fn nbytes(&self) -> usize {
        self.size * self.itemsize
    }

    /// Address of the first element (`data + byte_offset`); NULL if the
    /// producer gave NULL (only possible when `size() == 0`). Meaningless for
    /// devices whose `data` is an opaque handle (OpenCL, Vulkan, Metal,
    /// WebGPU): use [`raw_data`](Self::raw_data) and
    /// [`byte_offset`](Self::byte_offset) there.
    #[inline]
    pub fn data(&self) -> *mut c_void {
        self.data
    }

    /// The producer's `data` field, without `byte_offset` applied.
    #[inline]
    pub fn raw_data(&self) -> *mut c_void {
        self.raw_data
    }

    /// The producer's `byte_offset` field.
    #[inline]
    pub fn byte_offset(&self) -> u64 {
        self.byte_offset
    }

    /// Device holding the data.
    #[inline]
    pub fn device(&self) -> DLDevice {
        self.device
    }

    /// Element type (always `lanes == 1`, whole bytes).
    #[inline]
    pub fn dtype(&self) -> DLDataType {
        self.dtype
    }

    /// Whether the producer marked the data read-only.
    #[inline]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// `(lo, hi)`: lowest address and one past the highest address of any
    /// byte the view can touch, accounting for negative strides. For an empty
    /// tensor both equal [`data`](Self::data) as an address.
    #[inline]
    pub fn byte_bounds(&self) -> (usize, usize) {
        let base = self.data as usize;
        // Validation proved neither addition wraps.
        (base.wrapping_add_signed(self.lo), base.wrapping_add_signed(self.hi))
    }

    /// Row-major contiguity (axes of extent 1 are ignored, as in NumPy).
    #[inline]
    pub fn is_c_contiguous(&self) -> bool {
        let axes = self.shape().iter().copied().zip(self.strides().iter().copied());
        self.size == 0 || crate::layout::dense(axes.rev())
    }

    /// Column-major contiguity (axes of extent 1 are ignored, as in NumPy).
    #[inline]
    pub fn is_f_contiguous(&self) -> bool {
        let axes = self.shape().iter().copied().zip(self.strides().iter().copied());
        self.size == 0 || crate::layout::dense(axes)
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout")
            .field("data", &self.data)
            .field("shape", &self.shape())
            .field("strides", &self.strides())
            .field("dtype", &self.dtype)
            .field("device", &self.device)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// The byte bounds of a non-empty array relative to its first element, as
/// validation accepts them: the axes of extent > 1 (the others never move an
/// address, whatever their stride) and a span of at most `isize::MAX` bytes.
#[inline]
fn byte_span_checked(shape: &[i64], strides: &[i64], item: isize) -> Option<(isize, isize)> {
    let axes = shape.iter().copied().zip(strides.iter().copied()).filter(|&(e, _)| e > 1);
    let (lo, hi) = crate::layout::byte_span(axes, item)?;
    hi.checked_sub(lo).map(|_| (lo, hi))
}

/// The initialised prefix of a `MaybeUninit` buffer.
///
/// # Safety
/// Every element of `s` is initialised.
#[inline]
unsafe fn assume_init(s: &[MaybeUninit<i64>]) -> &[i64] {
    // SAFETY: `MaybeUninit<i64>` has the layout of `i64`, and every element
    // is initialised (caller contract).
    unsafe { &*(s as *const [MaybeUninit<i64>] as *const [i64]) }
}

/// Bytes per element for a dtype we can address, or the reason not.
#[inline]
fn element_size(dt: DLDataType) -> Result<usize, InvalidTensor> {
    if dt.lanes != 1 {
        return Err(InvalidTensor::VectorLanes(dt.lanes));
    }
    let bad = InvalidTensor::UnsupportedBits { code: dt.code, bits: dt.bits };
    if dt.type_code() == DataTypeCode::BOOL && dt.bits != 8 {
        return Err(bad);
    }
    let size = dt.checked_itemsize().ok_or(bad)?;
    if !dt.is_defined_scalar() {
        return Err(InvalidTensor::UnknownDType { code: dt.code, bits: dt.bits });
    }
    Ok(size)
}

/// Validates a foreign tensor header and computes its [`Layout`].
///
/// Checks, in order: `0 <= ndim <= MAX_NDIM`; `lanes == 1`, whole-byte
/// `bits` (`bool` must be 8 bits) and a dtype DLPack defines; non-NULL `shape` when `ndim > 0`;
/// non-negative extents; element count, byte size, stride span and
/// `byte_offset` free of overflow (byte span within `isize`, addresses not
/// wrapping); non-NULL `data` unless the tensor is empty. NULL `strides`
/// means C-contiguous.
///
/// # Safety
/// If `ndim` is in range and `shape` (resp. `strides`) is non-NULL, it must
/// point to `ndim` readable `i64`s. The data itself is never read.
pub unsafe fn validate(t: &DLTensor, read_only: bool) -> Result<Layout, InvalidTensor> {
    let ndim = t.ndim;
    if ndim < 0 {
        return Err(InvalidTensor::NegativeNdim(ndim));
    }
    if ndim as usize > MAX_NDIM {
        return Err(InvalidTensor::TooManyDims(ndim));
    }
    let n = ndim as usize;
    let itemsize = element_size(t.dtype)?;
    if n > 0 && t.shape.is_null() {
        return Err(InvalidTensor::NullShape);
    }

    let mut shape = [MaybeUninit::<i64>::uninit(); MAX_NDIM];
    let mut stride_buf = [0i64; MAX_NDIM];

    // Shape and element count. An extent of 0 makes the tensor empty even if
    // the product of the other extents would overflow.
    let mut size: usize = 1;
    let mut has_zero = false;
    let mut overflow = false;
    for (i, slot) in shape.iter_mut().enumerate().take(n) {
        // SAFETY: `shape` is non-NULL and points to `n` i64s (caller
        // contract); `i < n`.
        let e = unsafe { t.shape.add(i).read() };
        if e < 0 {
            return Err(InvalidTensor::NegativeExtent { axis: i, extent: e });
        }
        slot.write(e);
        has_zero |= e == 0;
        match size.checked_mul(e as usize) {
            Some(s) => size = s,
            None => overflow = true,
        }
    }
    if has_zero {
        size = 0;
    } else if overflow {
        return Err(InvalidTensor::Overflow);
    }
    match size.checked_mul(itemsize) {
        Some(b) if b <= isize::MAX as usize => {}
        _ => return Err(InvalidTensor::Overflow),
    }

    // Strides (in elements); NULL means C-contiguous.
    if t.strides.is_null() {
        // SAFETY: slots `i < n` were written in the shape loop.
        let shape = unsafe { assume_init(&shape[..n]) };
        // Exact when size > 0 (partial products <= size); for an empty
        // tensor the strides are never used, and they saturate.
        crate::layout::fill_c_strides(shape, &mut stride_buf[..n]);
    } else {
        for (i, slot) in stride_buf.iter_mut().enumerate().take(n) {
            // SAFETY: `strides` is non-NULL and points to `n` i64s (caller
            // contract); `i < n`.
            *slot = unsafe { t.strides.add(i).read() };
        }
    }
    let strides = &stride_buf[..n];
    // SAFETY: slots `i < n` were written in the shape loop.
    let shape = unsafe { assume_init(&shape[..n]) };

    // Byte bounds relative to the first element; spans only matter (and are
    // only checked) for non-empty views.
    let (lo_b, hi_b) = if size == 0 {
        (0isize, 0isize)
    } else {
        byte_span_checked(shape, strides, itemsize as isize).ok_or(InvalidTensor::Overflow)?
    };

    // Data pointer and byte_offset.
    let data = if t.data.is_null() {
        if size != 0 {
            return Err(InvalidTensor::NullData);
        }
        ptr::null_mut()
    } else {
        let off = usize::try_from(t.byte_offset).map_err(|_| InvalidTensor::Overflow)?;
        let first = (t.data as usize).checked_add(off).ok_or(InvalidTensor::Overflow)?;
        if first.checked_add_signed(lo_b).is_none() || first.checked_add_signed(hi_b).is_none() {
            return Err(InvalidTensor::Overflow);
        }
        // wrapping_add keeps the producer's provenance; it cannot wrap here.
        t.data.cast::<u8>().wrapping_add(off).cast::<c_void>()
    };

    let dims = if n <= INLINE_NDIM {
        let mut a = [0i64; 2 * INLINE_NDIM];
        a[..n].copy_from_slice(shape);
        a[n..2 * n].copy_from_slice(strides);
        Dims::Inline(a)
    } else {
        Dims::Heap([shape, strides].concat().into_boxed_slice())
    };

    Ok(Layout {
        data,
        raw_data: t.data,
        byte_offset: t.byte_offset,
        lo: lo_b,
        hi: hi_b,
        size,
        itemsize,
        device: t.device,
        dtype: t.dtype,
        ndim: n as u8,
        read_only,
        dims,
    })
}

/// Builds a layout for an array described by a trusted producer (such as
/// NumPy's own array struct), skipping [`validate`]'s overflow checks: the
/// producer guarantees them. `fill` writes the `ndim` extents and strides (in
/// elements) straight into the layout's storage and may refuse (e.g. byte
/// strides that are no multiple of the itemsize).
///
/// # Safety
/// `data`, `dtype` and what `fill` writes describe live memory of a valid
/// array; `ndim <= MAX_NDIM`; `dtype` has a byte-sized itemsize.
#[inline]
pub unsafe fn from_trusted(
    data: *mut c_void,
    device: DLDevice,
    dtype: DLDataType,
    ndim: usize,
    read_only: bool,
    fill: impl FnOnce(&mut [i64], &mut [i64]) -> bool,
) -> Option<Layout> {
    let mut dims = if ndim <= INLINE_NDIM {
        Dims::Inline([0; 2 * INLINE_NDIM])
    } else {
        Dims::Heap(vec![0; 2 * ndim].into_boxed_slice())
    };
    let all = match &mut dims {
        Dims::Inline(a) => &mut a[..],
        Dims::Heap(b) => &mut b[..],
    };
    let (shape, rest) = all.split_at_mut(ndim);
    if !fill(shape, &mut rest[..ndim]) {
        return None;
    }
    let itemsize = (dtype.bits as usize * dtype.lanes as usize) / 8;
    let strides = &rest[..ndim];
    let size = shape.iter().fold(1usize, |n, &e| n * e as usize);
    // Checked all the same (it costs a few instructions): a producer's
    // mistake is refused rather than turned into wrong bounds.
    let (lo, hi) =
        if size == 0 { (0, 0) } else { byte_span_checked(shape, strides, itemsize as isize)? };
    Some(Layout {
        data,
        raw_data: data,
        byte_offset: 0,
        lo,
        hi,
        size,
        itemsize,
        device,
        dtype,
        ndim: ndim as u8,
        read_only,
        dims,
    })
}

/// [`validate`] for a legacy managed tensor (never read-only).
///
/// # Safety
/// As for [`validate`], applied to `mt.dl_tensor`.
pub unsafe fn validate_legacy(mt: &DLManagedTensor) -> Result<Layout, InvalidTensor> {
    // SAFETY: forwarded caller contract.
    unsafe { validate(&mt.dl_tensor, false) }
}

/// [`validate`] for a versioned managed tensor: checks the major version
/// first (without reading anything past the version-stable prefix on
/// mismatch) and takes the read-only flag from `flags`.
///
/// # Safety
/// `mt` must point to a live versioned managed tensor; then as for
/// [`validate`].
pub unsafe fn validate_versioned(
    mt: *const DLManagedTensorVersioned,
) -> Result<Layout, InvalidTensor> {
    // SAFETY: `mt` is live (caller contract); `version` is at offset 0 in
    // every DLPack major version.
    let version = unsafe { (*mt).version };
    if !version.is_compatible() {
        return Err(InvalidTensor::UnsupportedVersion(version));
    }
    // SAFETY: major version 1, so the full 1.x layout applies.
    let mt = unsafe { &*mt };
    // SAFETY: forwarded caller contract.
    unsafe { validate(&mt.dl_tensor, mt.flags & FLAG_READ_ONLY != 0) }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
