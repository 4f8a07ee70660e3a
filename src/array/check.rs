//! Does an imported array satisfy a parameter's requirements?

use crate::array::dtype::DType;
use crate::array::handle::ArrayHandle;
use crate::array::requirements::{Order, Requirements};

/// Why an array does not fit; `convertible` when a converted copy made by
/// the array's framework could fix it (dtype, order, alignment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) convertible: bool,
}

/// Alignment a typed Rust view of `d` needs.
#[inline]
pub(crate) fn alignment(d: DType) -> usize {
    let size = d.itemsize().max(1);
    let component = if d.is_complex() { size / 2 } else { size };
    component.clamp(1, 8)
}

/// Checks `h` against `req`, cheapest and non-convertible conditions first.
/// Inlined into each array caster, where `req` is a constant and the
/// unconstrained fields fold away.
#[inline(always)]
pub(crate) fn check(h: &ArrayHandle, req: &Requirements) -> Result<(), Mismatch> {
    let l = h;
    const FATAL: Mismatch = Mismatch { convertible: false };
    if let Some(device) = req.device {
        if h.device().device_type != device {
            return Err(FATAL);
        }
    }
    if req.ndim >= 0 && l.ndim() != req.ndim as usize {
        return Err(FATAL);
    }
    if !req.shape.is_empty() {
        let shape = l.shape();
        if shape.len() != req.shape.len()
            || req.shape.iter().zip(shape).any(|(&r, &s)| r >= 0 && r != s)
        {
            return Err(FATAL);
        }
    }
    if req.writable && h.read_only() {
        return Err(FATAL);
    }
    let convertible = Mismatch { convertible: !req.writable };
    if let Some(want) = req.dtype {
        let dtype = h.dtype();
        if want != dtype {
            // Never narrow complex to real; unknown dtypes cannot be cast.
            let ok = dtype.is_known() && (!dtype.is_complex() || want.is_complex());
            return Err(Mismatch { convertible: ok && !req.writable });
        }
        // Alignments are powers of two: a mask, not a division.
        if (l.data() as usize) & (alignment(want) - 1) != 0 && l.size() > 0 {
            return Err(convertible);
        }
    }
    match req.order {
        Order::C if !l.is_c_contiguous() => Err(convertible),
        Order::F if !l.is_f_contiguous() => Err(convertible),
        _ => Ok(()),
    }
}

impl Requirements {
    /// Whether `h` satisfies these requirements as it is (no conversion):
    /// the check every array argument goes through.
    ///
    /// ```
    /// use ndbind::array::{ArrayHandle, CContig, NdArray, Shape2, ANY};
    /// use ndbind::dlpack::{validate, DLDataType, DLDevice, DLTensor};
    ///
    /// // A 2x4 float32 C-contiguous array of Rust memory, described by DLPack:
    /// let mut data = [0f32; 8];
    /// let mut shape = [2i64, 4];
    /// let t = DLTensor {
    ///     data: data.as_mut_ptr().cast(),
    ///     device: DLDevice::CPU,
    ///     ndim: 2,
    ///     dtype: DLDataType::FLOAT32,
    ///     shape: shape.as_mut_ptr(),
    ///     strides: std::ptr::null_mut(), // C order
    ///     byte_offset: 0,
    /// };
    /// // SAFETY: `shape` holds 2 extents and `data` the 8 elements they cover.
    /// let h = ArrayHandle::from_layout(unsafe { validate(&t, false) }.unwrap());
    /// assert!(NdArray::<f32, (Shape2<2, ANY>, CContig)>::REQ.accepts(&h));
    /// assert!(!NdArray::<f32, Shape2<4, 2>>::REQ.accepts(&h));
    /// assert!(!NdArray::<f64>::REQ.accepts(&h));
    /// ```
    pub fn accepts(&self, h: &ArrayHandle) -> bool {
        check(h, self).is_ok()
    }
}
