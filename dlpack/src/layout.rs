//! Shapes, strides and memory extents of strided arrays: the one place
//! where ndbind does layout arithmetic ([`validate`](crate::validate()),
//! the array layer and the alias check all use it).
//!
//! Shapes and strides are `&[i64]` (the DLPack convention), and strides are
//! counted in **elements**, not bytes. Contiguity follows NumPy's relaxed
//! rules: axes of extent 1 never matter, and an array with a zero extent is
//! contiguous in every order. Nothing here allocates.
//!
//! ```
//! use ndbind_dlpack::layout::*;
//!
//! let shape = [2, 3];
//! let mut strides = [0; 2];
//! fill_c_strides(&shape, &mut strides);
//! assert_eq!(strides, [3, 1]);
//! assert!(is_c_contiguous(&shape, &strides));
//! assert!(!is_f_contiguous(&shape, &strides));
//! ```

use crate::validate::MAX_NDIM;

/// Settles what every layout question asks first: `None` for a negative
/// extent (invalid), `Some(true)` when an extent is zero (an empty array).
#[inline]
fn has_zero_extent(shape: &[i64]) -> Option<bool> {
    let mut any_zero = false;
    for &d in shape {
        if d < 0 {
            return None;
        }
        any_zero |= d == 0;
    }
    Some(any_zero)
}

/// The contiguity test: walks `axes` (innermost first), requiring each axis
/// of extent > 1 to have the stride of a dense layout. Extents are
/// positive (empty arrays are settled by the caller).
#[inline]
pub(crate) fn dense(axes: impl Iterator<Item = (i64, i64)>) -> bool {
    // `None` once the running product overflowed: no later stride can match.
    let mut expected: Option<i64> = Some(1);
    for (dim, stride) in axes {
        if dim == 1 {
            continue;
        }
        if Some(stride) != expected {
            return false;
        }
        expected = expected.and_then(|e| e.checked_mul(dim));
    }
    true
}

/// [`dense`] for a shape that may be empty or invalid: zero-size arrays are
/// contiguous in every order, negative extents are not.
#[inline]
fn dense_along(axes: impl Iterator<Item = (i64, i64)>, shape: &[i64]) -> bool {
    match has_zero_extent(shape) {
        None => false,
        Some(true) => true,
        Some(false) => dense(axes),
    }
}

/// Whether an array is C-contiguous (row-major, last axis fastest) with
/// element strides `strides`. Axes of extent 1 are ignored and any array
/// with a zero extent counts as contiguous (NumPy's relaxed strides). A
/// shape/strides length mismatch or a negative extent gives `false`.
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// assert!(is_c_contiguous(&[2, 3], &[3, 1]));
/// assert!(is_c_contiguous(&[2, 1, 3], &[3, 999, 1]));
/// assert!(is_c_contiguous(&[], &[])); // 0-d
/// assert!(!is_c_contiguous(&[2, 3], &[1, 2]));
/// ```
#[inline]
pub fn is_c_contiguous(shape: &[i64], strides: &[i64]) -> bool {
    shape.len() == strides.len()
        && dense_along(shape.iter().copied().zip(strides.iter().copied()).rev(), shape)
}

/// Whether an array is Fortran-contiguous (column-major, first axis fastest)
/// with element strides `strides`; same relaxed rules as
/// [`is_c_contiguous`].
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// assert!(is_f_contiguous(&[2, 3], &[1, 2]));
/// assert!(is_f_contiguous(&[5], &[1])); // 1-d: both orders
/// assert!(!is_f_contiguous(&[2, 3], &[3, 1]));
/// ```
#[inline]
pub fn is_f_contiguous(shape: &[i64], strides: &[i64]) -> bool {
    shape.len() == strides.len()
        && dense_along(shape.iter().copied().zip(strides.iter().copied()), shape)
}

/// The memory an array touches: `(lowest address, one past the highest
/// byte)`, for data pointer `data`, element strides `strides` (which may be
/// negative) and `itemsize` bytes per element.
///
/// A size-0 array gives `(data, data)`; a 0-d array gives
/// `(data, data + itemsize)`. `None` on a shape/strides length mismatch, a
/// negative extent, or arithmetic overflow anywhere.
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// // 2×3 float64, C order.
/// assert_eq!(byte_bounds(1000, &[2, 3], &[3, 1], 8), Some((1000, 1048)));
/// // Reversed 1-d view: data points at the last element in memory.
/// assert_eq!(byte_bounds(1032, &[5], &[-1], 8), Some((1000, 1040)));
/// assert_eq!(byte_bounds(1000, &[0, 3], &[3, 1], 8), Some((1000, 1000)));
/// ```
#[inline]
pub fn byte_bounds(
    data: usize,
    shape: &[i64],
    strides: &[i64],
    itemsize: usize,
) -> Option<(usize, usize)> {
    if shape.len() != strides.len() {
        return None;
    }
    if has_zero_extent(shape)? {
        return Some((data, data));
    }
    let item = isize::try_from(itemsize).ok()?;
    let axes = shape.iter().copied().zip(strides.iter().copied());
    let (lo, hi) = byte_span(axes, item)?;
    Some((data.checked_add_signed(lo)?, data.checked_add_signed(hi)?))
}

/// The byte offsets, relative to the first element, of the lowest byte and
/// one past the highest byte of a non-empty strided array with the given
/// `(extent, element stride)` axes and `item` bytes per element: the one
/// byte-bounds computation. `None` when a byte stride, an axis' byte span,
/// their sums or the end overflow `isize`.
///
/// Extents must be positive: callers settle empty arrays (and reject
/// negative extents) first. [`byte_bounds`] passes every axis; validation
/// and the alias check pass only the axes of extent > 1 (an axis of extent
/// 1 never moves an address, so its stride may be anything).
///
/// ```
/// # use ndbind_dlpack::layout::byte_span;
/// // a[::-1] of 5 float64: 32 bytes below the first element, 8 above.
/// assert_eq!(byte_span([(5, -1)].into_iter(), 8), Some((-32, 8)));
/// assert_eq!(byte_span([(2, i64::MAX)].into_iter(), 8), None);
/// ```
#[inline]
pub fn byte_span(axes: impl Iterator<Item = (i64, i64)>, item: isize) -> Option<(isize, isize)> {
    let (mut lo, mut hi) = (0isize, 0isize);
    for (dim, stride) in axes {
        // `i64` is `isize` on every supported (64-bit) target.
        let step = isize::try_from(stride).ok()?.checked_mul(item)?;
        let extent = isize::try_from(dim - 1).ok()?.checked_mul(step)?;
        if extent < 0 {
            lo = lo.checked_add(extent)?;
        } else {
            hi = hi.checked_add(extent)?;
        }
    }
    Some((lo, hi.checked_add(item)?))
}

/// Converts byte strides (as in `Py_buffer::strides`) into element strides
/// in `out`. Returns `false` (leaving `out` partly written) when the lengths
/// of `shape`, `byte_strides` and `out` differ, when `itemsize` is 0, or when
/// a byte stride is not a multiple of `itemsize` on an axis where it
/// matters.
///
/// Strides of axes of extent 1, and of every axis of an array with a zero
/// extent, are never used to address memory, so producers leave arbitrary
/// values there (NumPy does, after slicing or `np.broadcast_to`); such a
/// stride that is not a multiple of `itemsize` is mapped to 0 instead of
/// rejected. (This is why `shape` is a parameter.)
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// let mut out = [0i64; 2];
/// assert!(strides_from_bytes(&[2, 3], &[24, 8], 8, &mut out));
/// assert_eq!(out, [3, 1]);
/// assert!(strides_from_bytes(&[1, 3], &[7, 8], 8, &mut out)); // odd stride, length-1 axis
/// assert_eq!(out, [0, 1]);
/// assert!(!strides_from_bytes(&[2, 3], &[24, 4], 8, &mut out));
/// ```
#[inline]
pub fn strides_from_bytes(
    shape: &[i64],
    byte_strides: &[isize],
    itemsize: usize,
    out: &mut [i64],
) -> bool {
    if shape.len() != byte_strides.len() || out.len() != byte_strides.len() || itemsize == 0 {
        return false;
    }
    let Ok(item) = isize::try_from(itemsize) else {
        return false;
    };
    let empty = shape.contains(&0);
    for ((&dim, &bs), o) in shape.iter().zip(byte_strides).zip(out.iter_mut()) {
        if bs % item == 0 {
            // `isize` fits in `i64` on every supported target.
            *o = (bs / item) as i64;
        } else if dim == 1 || empty {
            *o = 0;
        } else {
            return false;
        }
    }
    true
}

/// Fills `out` with the element strides of a dense C-order (row-major)
/// array of `shape`. Zero extents are treated as 1 when multiplying, as
/// NumPy does, so the strides stay meaningful for empty arrays. Products
/// saturate at `i64::MAX` on overflow (only possible for an empty array,
/// whose strides address nothing). Only the common prefix of `shape` and
/// `out` is used (lengths should match).
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// let mut s = [0i64; 3];
/// fill_c_strides(&[2, 3, 4], &mut s);
/// assert_eq!(s, [12, 4, 1]);
/// ```
#[inline]
pub fn fill_c_strides(shape: &[i64], out: &mut [i64]) {
    debug_assert_eq!(shape.len(), out.len());
    let mut acc: i64 = 1;
    for (&dim, o) in shape.iter().zip(out.iter_mut()).rev() {
        *o = acc;
        acc = acc.saturating_mul(dim.max(1));
    }
}

/// Fills `out` with the element strides of a dense Fortran-order
/// (column-major) array of `shape`; same conventions as
/// [`fill_c_strides`].
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// let mut s = [0i64; 3];
/// fill_f_strides(&[2, 3, 4], &mut s);
/// assert_eq!(s, [1, 2, 6]);
/// ```
#[inline]
pub fn fill_f_strides(shape: &[i64], out: &mut [i64]) {
    debug_assert_eq!(shape.len(), out.len());
    let mut acc: i64 = 1;
    for (&dim, o) in shape.iter().zip(out.iter_mut()) {
        *o = acc;
        acc = acc.saturating_mul(dim.max(1));
    }
}

/// The number of elements of an array of `shape` (1 for 0-d); `None` for a
/// negative extent or when the product overflows `usize`.
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// assert_eq!(size(&[2, 3]), Some(6));
/// assert_eq!(size(&[]), Some(1));
/// assert_eq!(size(&[4, 0]), Some(0));
/// assert_eq!(size(&[-1]), None);
/// ```
#[inline]
pub fn size(shape: &[i64]) -> Option<usize> {
    let mut n: usize = 1;
    let mut overflow = false;
    for &d in shape {
        let d = usize::try_from(d).ok()?;
        // An overflow only matters if no later extent is zero.
        match n.checked_mul(d) {
            Some(m) => n = m,
            None => overflow = true,
        }
    }
    if n == 0 {
        Some(0)
    } else if overflow {
        None
    } else {
        Some(n)
    }
}

/// Whether two half-open address ranges `[lo, hi)` share a byte. Empty
/// ranges (`lo >= hi`) never overlap anything.
///
/// ```
/// # use ndbind_dlpack::layout::*;
/// assert!(ranges_overlap((0, 10), (9, 20)));
/// assert!(!ranges_overlap((0, 10), (10, 20)));
/// assert!(!ranges_overlap((5, 5), (0, 10)));
/// ```
#[inline]
pub fn ranges_overlap(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1
}

/// Calls `f` with the element offset (`Σ index_j * strides[j]`) of every
/// index of `shape`, in C order. Nothing for an empty shape product.
///
/// For a valid layout (such as a [`Layout`](crate::Layout)'s): panics when
/// `shape` has more than [`MAX_NDIM`] axes or more than `strides`.
///
/// ```
/// # use ndbind_dlpack::layout::for_each_offset;
/// let mut seen = Vec::new();
/// for_each_offset(&[2, 2], &[2, 1], |o| seen.push(o));
/// assert_eq!(seen, [0, 1, 2, 3]);
/// ```
pub fn for_each_offset(shape: &[i64], strides: &[i64], mut f: impl FnMut(isize)) {
    if shape.iter().any(|&e| e <= 0) {
        return;
    }
    let n = shape.len();
    let mut idx = [0i64; MAX_NDIM];
    let mut off = 0isize;
    loop {
        f(off);
        // Increment the index like an odometer, adjusting the offset.
        let mut d = n;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            off += strides[d] as isize;
            if idx[d] < shape[d] {
                break;
            }
            off -= (strides[d] * shape[d]) as isize;
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c_strides<const N: usize>(shape: [i64; N]) -> [i64; N] {
        let mut s = [0; N];
        fill_c_strides(&shape, &mut s);
        s
    }

    fn f_strides<const N: usize>(shape: [i64; N]) -> [i64; N] {
        let mut s = [0; N];
        fill_f_strides(&shape, &mut s);
        s
    }

    /// Brute force: visit every element's byte range.
    fn brute_bounds(data: usize, shape: &[i64], strides: &[i64], item: usize) -> (usize, usize) {
        let n = size(shape).unwrap();
        if n == 0 {
            return (data, data);
        }
        let (mut lo, mut hi) = (isize::MAX, isize::MIN);
        for flat in 0..n {
            let mut rem = flat;
            let mut off = 0isize;
            for (&d, &s) in shape.iter().zip(strides).rev() {
                let i = rem % d as usize;
                rem /= d as usize;
                off += i as isize * s as isize * item as isize;
            }
            lo = lo.min(off);
            hi = hi.max(off + item as isize);
        }
        (data.checked_add_signed(lo).unwrap(), data.checked_add_signed(hi).unwrap())
    }

    #[test]
    fn fill_strides() {
        assert_eq!(c_strides([2, 3, 4]), [12, 4, 1]);
        assert_eq!(f_strides([2, 3, 4]), [1, 2, 6]);
        assert_eq!(c_strides([]), [0i64; 0]);
        assert_eq!(f_strides([]), [0i64; 0]);
        assert_eq!(c_strides([7]), [1]);
        assert_eq!(f_strides([7]), [1]);
        assert_eq!(c_strides([2, 0, 3]), [3, 3, 1]);
        assert_eq!(f_strides([2, 0, 3]), [1, 2, 2]);
        assert_eq!(c_strides([1, 1, 5]), [5, 5, 1]);
    }

    #[test]
    fn filled_strides_are_contiguous() {
        let shapes: &[&[i64]] =
            &[&[], &[0], &[1], &[5], &[2, 3], &[3, 1, 4], &[2, 0, 3], &[4, 5, 6, 7]];
        for &shape in shapes {
            let mut c = [0i64; 4];
            let mut f = [0i64; 4];
            let n = shape.len();
            fill_c_strides(shape, &mut c[..n]);
            fill_f_strides(shape, &mut f[..n]);
            assert!(is_c_contiguous(shape, &c[..n]), "{shape:?}");
            assert!(is_f_contiguous(shape, &f[..n]), "{shape:?}");
        }
    }

    #[test]
    fn contiguity_2d() {
        assert!(is_c_contiguous(&[2, 3], &[3, 1]));
        assert!(!is_f_contiguous(&[2, 3], &[3, 1]));
        assert!(is_f_contiguous(&[2, 3], &[1, 2]));
        assert!(!is_c_contiguous(&[2, 3], &[1, 2]));
        // Transposed C array is F-contiguous.
        assert!(is_f_contiguous(&[3, 2], &[1, 3]));
        assert!(!is_c_contiguous(&[3, 2], &[1, 3]));
    }

    #[test]
    fn contiguity_0d_and_1d() {
        assert!(is_c_contiguous(&[], &[]));
        assert!(is_f_contiguous(&[], &[]));
        assert!(is_c_contiguous(&[5], &[1]));
        assert!(is_f_contiguous(&[5], &[1]));
        assert!(!is_c_contiguous(&[5], &[2]));
        assert!(!is_f_contiguous(&[5], &[-1]));
        assert!(!is_c_contiguous(&[5], &[0])); // broadcast
    }

    #[test]
    fn contiguity_unit_axes_ignored() {
        assert!(is_c_contiguous(&[1], &[12345]));
        assert!(is_f_contiguous(&[1], &[-7]));
        assert!(is_c_contiguous(&[2, 1, 3], &[3, 0, 1]));
        assert!(is_c_contiguous(&[2, 1, 3], &[3, -99, 1]));
        assert!(is_f_contiguous(&[2, 1, 3], &[1, 77, 2]));
        assert!(is_c_contiguous(&[1, 4], &[1, 1])); // also F
        assert!(is_f_contiguous(&[1, 4], &[1, 1]));
        assert!(is_c_contiguous(&[4, 1], &[1, 1]));
        assert!(is_f_contiguous(&[4, 1], &[1, 1]));
        assert!(is_c_contiguous(&[1, 1, 1], &[9, 9, 9]));
        assert!(is_f_contiguous(&[1, 1, 1], &[9, 9, 9]));
    }

    #[test]
    fn contiguity_zero_extent() {
        assert!(is_c_contiguous(&[0], &[5]));
        assert!(is_f_contiguous(&[0], &[5]));
        assert!(is_c_contiguous(&[3, 0, 2], &[-1, 17, 99]));
        assert!(is_f_contiguous(&[3, 0, 2], &[0, 0, 0]));
    }

    #[test]
    fn contiguity_rejects() {
        // Sliced with step.
        assert!(!is_c_contiguous(&[2, 3], &[6, 2]));
        assert!(!is_c_contiguous(&[2, 3], &[6, 1])); // row slice of wider array
        assert!(!is_f_contiguous(&[2, 3], &[2, 2]));
        // Negative strides.
        assert!(!is_c_contiguous(&[2, 3], &[-3, 1]));
        assert!(!is_c_contiguous(&[2, 3], &[3, -1]));
        // Length mismatch and negative extents.
        assert!(!is_c_contiguous(&[2, 3], &[3]));
        assert!(!is_f_contiguous(&[2], &[1, 2]));
        assert!(!is_c_contiguous(&[-1], &[1]));
        assert!(!is_f_contiguous(&[0, -1], &[1, 1]));
        // Overflowing product: the outer stride can never match.
        assert!(!is_c_contiguous(&[2, i64::MAX, 2], &[0, 2, 1]));
        assert!(is_c_contiguous(&[i64::MAX, 2], &[2, 1])); // fits
        assert!(is_c_contiguous(&[1, 2, i64::MAX], &[0, i64::MAX, 1])); // last axis overflow irrelevant
    }

    #[test]
    fn size_checked() {
        assert_eq!(size(&[]), Some(1));
        assert_eq!(size(&[0]), Some(0));
        assert_eq!(size(&[7]), Some(7));
        assert_eq!(size(&[2, 3, 4]), Some(24));
        assert_eq!(size(&[2, 0, 4]), Some(0));
        assert_eq!(size(&[-1]), None);
        assert_eq!(size(&[0, -1]), None);
        assert_eq!(size(&[i64::MAX, i64::MAX, i64::MAX]), None);
        assert_eq!(size(&[i64::MAX, i64::MAX, 0]), Some(0));
        assert_eq!(size(&[0, i64::MAX, i64::MAX]), Some(0));
        assert_eq!(size(&[1 << 32, 1 << 31]), Some(1usize << 63));
        assert_eq!(size(&[1 << 32, 1 << 32]), None);
    }

    #[test]
    fn bounds_basic() {
        assert_eq!(byte_bounds(1000, &[], &[], 8), Some((1000, 1008)));
        assert_eq!(byte_bounds(1000, &[2, 3], &[3, 1], 8), Some((1000, 1048)));
        assert_eq!(byte_bounds(1000, &[2, 3], &[1, 2], 4), Some((1000, 1024)));
        // Transposed.
        assert_eq!(byte_bounds(1000, &[3, 2], &[1, 3], 8), Some((1000, 1048)));
        // Sliced with step: a[::2, ::3] of a 4×9 float32 array.
        assert_eq!(byte_bounds(1000, &[2, 3], &[18, 3], 4), Some((1000, 1000 + (18 + 6 + 1) * 4)));
        // Broadcast.
        assert_eq!(byte_bounds(1000, &[4, 3], &[0, 1], 2), Some((1000, 1006)));
    }

    #[test]
    fn bounds_negative_strides() {
        // a[::-1] of 5 float64 at 1000: data points at the last element.
        assert_eq!(byte_bounds(1032, &[5], &[-1], 8), Some((1000, 1040)));
        // a[::-1, :] of a 2×3 C array.
        assert_eq!(byte_bounds(1024, &[2, 3], &[-3, 1], 8), Some((1000, 1048)));
        // a[:, ::-2] of a 2×4 C array of int16 at 1000: data at element 3.
        assert_eq!(byte_bounds(1006, &[2, 2], &[4, -2], 2), Some((1002, 1016)));
        assert_eq!(byte_bounds(8, &[2], &[-1], 8), Some((0, 16)));
    }

    #[test]
    fn bounds_empty_and_invalid() {
        assert_eq!(byte_bounds(1000, &[0], &[1], 8), Some((1000, 1000)));
        assert_eq!(byte_bounds(1000, &[3, 0], &[-5, 1], 8), Some((1000, 1000)));
        assert_eq!(byte_bounds(1000, &[2], &[1, 1], 8), None);
        assert_eq!(byte_bounds(1000, &[-2], &[1], 8), None);
        // Underflow below address 0.
        assert_eq!(byte_bounds(8, &[3], &[-1], 8), None);
        // Overflow past usize::MAX.
        assert_eq!(byte_bounds(usize::MAX - 4, &[1], &[1], 8), None);
        assert_eq!(byte_bounds(usize::MAX - 7, &[1], &[1], 8), None); // one-past unrepresentable
        assert_eq!(byte_bounds(usize::MAX - 8, &[1], &[1], 8), Some((usize::MAX - 8, usize::MAX)));
        // Stride/extent products overflow.
        assert_eq!(byte_bounds(0, &[2], &[i64::MAX], 8), None);
        assert_eq!(byte_bounds(0, &[i64::MAX], &[2], 1), None);
        assert_eq!(byte_bounds(1 << 62, &[2], &[i64::MIN], 1), None);
        assert_eq!(
            byte_bounds(0, &[3, 3], &[i64::MAX / 4, i64::MAX / 4], 1),
            Some((0, (i64::MAX / 4 * 4 + 1) as usize))
        );
        assert_eq!(byte_bounds(0, &[3, 3], &[i64::MAX / 2, i64::MAX / 2], 1), None);
        assert_eq!(byte_bounds(0, &[2], &[1], usize::MAX), None);
    }

    #[test]
    fn bounds_match_brute_force() {
        let cases: &[(&[i64], &[i64])] = &[
            (&[], &[]),
            (&[4], &[1]),
            (&[4], &[-1]),
            (&[4], &[0]),
            (&[2, 3], &[3, 1]),
            (&[2, 3], &[-3, -1]),
            (&[3, 2], &[1, -3]),
            (&[2, 2, 3], &[-12, 6, -2]),
            (&[1, 5], &[-100, 3]),
            (&[3, 1, 4], &[5, 7, -1]),
        ];
        for &(shape, strides) in cases {
            for item in [1, 2, 8] {
                let data = 10_000;
                assert_eq!(
                    byte_bounds(data, shape, strides, item),
                    Some(brute_bounds(data, shape, strides, item)),
                    "{shape:?} {strides:?} {item}"
                );
            }
        }
    }

    #[test]
    fn from_bytes() {
        let mut out = [0i64; 3];
        assert!(strides_from_bytes(&[2, 3, 4], &[96, 32, 8], 8, &mut out));
        assert_eq!(out, [12, 4, 1]);
        assert!(strides_from_bytes(&[2, 3, 4], &[-96, 0, -8], 8, &mut out));
        assert_eq!(out, [-12, 0, -1]);
        // Not a multiple on an axis that matters.
        assert!(!strides_from_bytes(&[2, 3, 4], &[96, 32, 4], 8, &mut out));
        assert!(!strides_from_bytes(&[2, 3, 4], &[97, 32, 8], 8, &mut out));
        assert!(!strides_from_bytes(&[2, 3, 4], &[-3, 32, 8], 8, &mut out));
        // Odd strides on length-1 axes are accepted and mapped to 0.
        assert!(strides_from_bytes(&[2, 1, 4], &[32, 5, 8], 8, &mut out));
        assert_eq!(out, [4, 0, 1]);
        assert!(strides_from_bytes(&[1, 1, 1], &[3, -3, 9], 8, &mut out));
        assert_eq!(out, [0, 0, 0]);
        // Multiples on length-1 axes are kept.
        assert!(strides_from_bytes(&[1, 3, 1], &[24, 8, 16], 8, &mut out));
        assert_eq!(out, [3, 1, 2]);
        // Zero-size arrays: no stride matters.
        assert!(strides_from_bytes(&[2, 0, 4], &[3, 5, 8], 8, &mut out));
        assert_eq!(out, [0, 0, 1]);
        // itemsize 1: everything divides.
        assert!(strides_from_bytes(&[2, 3, 4], &[13, -7, 1], 1, &mut out));
        assert_eq!(out, [13, -7, 1]);
    }

    #[test]
    fn from_bytes_edge_cases() {
        let mut empty: [i64; 0] = [];
        assert!(strides_from_bytes(&[], &[], 8, &mut empty));
        let mut out = [0i64; 2];
        assert!(!strides_from_bytes(&[2, 3], &[24, 8], 0, &mut out));
        assert!(!strides_from_bytes(&[2, 3], &[24], 8, &mut out));
        assert!(!strides_from_bytes(&[2], &[24, 8], 8, &mut out));
        assert!(!strides_from_bytes(&[2, 3], &[24, 8], 8, &mut out[..1]));
        assert!(!strides_from_bytes(&[2, 3], &[24, 8], usize::MAX, &mut out));
        assert!(strides_from_bytes(&[2, 2], &[isize::MIN, isize::MAX], 1, &mut out));
        assert_eq!(out, [isize::MIN as i64, isize::MAX as i64]);
        // isize::MIN / -1 cannot happen: the divisor is positive.
        assert!(strides_from_bytes(&[2, 2], &[isize::MIN, 8], 8, &mut out));
    }

    #[test]
    fn overlap() {
        assert!(ranges_overlap((0, 10), (5, 15)));
        assert!(ranges_overlap((5, 15), (0, 10)));
        assert!(ranges_overlap((0, 10), (9, 10)));
        assert!(ranges_overlap((0, 10), (0, 10)));
        assert!(ranges_overlap((0, 10), (2, 3))); // containment
        assert!(ranges_overlap((2, 3), (0, 10)));
        assert!(!ranges_overlap((0, 10), (10, 20))); // touching
        assert!(!ranges_overlap((10, 20), (0, 10)));
        assert!(!ranges_overlap((0, 10), (20, 30)));
        assert!(!ranges_overlap((5, 5), (0, 10))); // empty
        assert!(!ranges_overlap((0, 10), (5, 5)));
        assert!(!ranges_overlap((5, 5), (5, 5)));
        assert!(!ranges_overlap((9, 3), (0, 10))); // inverted = empty
        assert!(ranges_overlap((0, usize::MAX), (usize::MAX - 1, usize::MAX)));
    }

    #[test]
    fn bounds_then_overlap_views() {
        // Two halves of one 2×4 float64 array: a[0] and a[1] do not overlap;
        // a[:, ::2] and a[:, 1::2] interleave (bounds overlap conservatively).
        let base = 4096;
        let r0 = byte_bounds(base, &[4], &[1], 8).unwrap();
        let r1 = byte_bounds(base + 32, &[4], &[1], 8).unwrap();
        assert!(!ranges_overlap(r0, r1));
        let even = byte_bounds(base, &[2, 2], &[4, 2], 8).unwrap();
        let odd = byte_bounds(base + 8, &[2, 2], &[4, 2], 8).unwrap();
        assert!(ranges_overlap(even, odd));
        let empty = byte_bounds(base, &[0, 4], &[4, 1], 8).unwrap();
        assert!(!ranges_overlap(empty, r0));
    }

    #[test]
    fn for_each_offset_visits_every_index_in_c_order() {
        let mut seen = Vec::new();
        super::for_each_offset(&[2, 3], &[-3, 2], |o| seen.push(o));
        assert_eq!(seen, [0, 2, 4, -3, -1, 1]);
        seen.clear();
        super::for_each_offset(&[], &[], |o| seen.push(o));
        assert_eq!(seen, [0]); // a 0-d array has one element
        seen.clear();
        super::for_each_offset(&[4, 0], &[1, 1], |o| seen.push(o));
        assert!(seen.is_empty());
    }
}
