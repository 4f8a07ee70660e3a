//! The shape of a returned array, and its strides when it is not in C
//! order: inline for up to four axes of a C-ordered array (the common case),
//! so that [`crate::array::ArrayOut`], moved a few times on its way to
//! Python, stays small. A full [`Layout`] (sixteen inline extents, bounds,
//! sizes) is built only for targets that need one; NumPy does not.

use std::ffi::c_void;

use ndbind_dlpack::{DLDataType, DLDevice, Layout};

const INLINE: usize = 4;

/// Shape and optional strides (in elements) of an exported array.
pub(crate) struct OutDims {
    ndim: u8,
    /// The shape of a C-ordered array of at most four axes.
    inline: [i64; INLINE],
    /// Otherwise: the shape, then the strides when `strided`.
    heap: Option<Box<[i64]>>,
    strided: bool,
}

impl OutDims {
    /// A C-ordered array of `shape`; `None` for more axes than DLPack allows.
    #[inline]
    pub(crate) fn c_order(shape: &[usize]) -> Option<OutDims> {
        if shape.len() <= INLINE {
            let mut inline = [0; INLINE];
            for (o, &e) in inline.iter_mut().zip(shape) {
                *o = e as i64;
            }
            return Some(OutDims { ndim: shape.len() as u8, inline, heap: None, strided: false });
        }
        if shape.len() > ndbind_dlpack::MAX_NDIM {
            return None;
        }
        let heap = shape.iter().map(|&e| e as i64).collect();
        Some(OutDims {
            ndim: shape.len() as u8,
            inline: [0; INLINE],
            heap: Some(heap),
            strided: false,
        })
    }

    /// Explicit strides (in elements, same length as `shape`).
    pub(crate) fn strided(shape: &[i64], strides: &[i64]) -> Option<OutDims> {
        if shape.len() != strides.len() || shape.len() > ndbind_dlpack::MAX_NDIM {
            return None;
        }
        let heap = shape.iter().chain(strides).copied().collect();
        Some(OutDims {
            ndim: shape.len() as u8,
            inline: [0; INLINE],
            heap: Some(heap),
            strided: true,
        })
    }

    /// Number of axes.
    #[inline]
    pub(crate) fn ndim(&self) -> usize {
        self.ndim as usize
    }

    /// Extents.
    #[inline]
    pub(crate) fn shape(&self) -> &[i64] {
        match &self.heap {
            None => &self.inline[..self.ndim as usize],
            Some(h) => &h[..self.ndim as usize],
        }
    }

    /// Strides in elements; `None` means C order.
    #[inline]
    pub(crate) fn strides(&self) -> Option<&[i64]> {
        match &self.heap {
            Some(h) if self.strided => Some(&h[self.ndim as usize..]),
            _ => None,
        }
    }

    /// The validated CPU layout of `data` with these dims.
    ///
    /// # Safety
    /// `data` points to live elements of `dtype` covering the dims.
    pub(crate) unsafe fn to_layout(
        &self,
        data: *mut c_void,
        dtype: DLDataType,
        read_only: bool,
    ) -> Layout {
        let (shape, strides) = (self.shape(), self.strides());
        // SAFETY: forwarded from the caller; at most MAX_NDIM axes.
        unsafe {
            ndbind_dlpack::from_trusted(
                data,
                DLDevice::CPU,
                dtype,
                shape.len(),
                read_only,
                |s, st| {
                    s.copy_from_slice(shape);
                    match strides {
                        Some(given) => st.copy_from_slice(given),
                        None => crate::array::layout::fill_c_strides(s, st),
                    }
                    true
                },
            )
        }
        .expect("at most MAX_NDIM axes")
    }

    /// The layout of `data` plus `byte_offset` on `device` with these dims,
    /// checked as a foreign tensor is ([`ndbind_dlpack::validate`]: the
    /// byte extent fits the address space, `data` is not NULL unless the
    /// array is empty). Nothing at `data` is read.
    ///
    /// # Safety
    /// As for [`OutDims::to_layout`], on `device` (a caller that reads the
    /// memory from the host checks that it is CPU memory first).
    pub(crate) unsafe fn to_device_layout(
        &self,
        data: *mut c_void,
        byte_offset: u64,
        device: DLDevice,
        dtype: DLDataType,
        read_only: bool,
    ) -> Result<Layout, ndbind_dlpack::InvalidTensor> {
        let t = ndbind_dlpack::DLTensor {
            data,
            device,
            ndim: self.ndim() as i32,
            dtype,
            shape: self.shape().as_ptr().cast_mut(),
            strides: self.strides().map_or(std::ptr::null_mut(), |s| s.as_ptr().cast_mut()),
            byte_offset,
        };
        // SAFETY: `shape` (and `strides` when given) hold `ndim` values,
        // alive for the call; validation reads them, never the data.
        unsafe { ndbind_dlpack::validate(&t, read_only) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_order_is_inline_up_to_four_axes() {
        let d = OutDims::c_order(&[2, 3, 4, 5]).unwrap();
        assert_eq!((d.ndim(), d.shape(), d.strides()), (4, &[2i64, 3, 4, 5][..], None));
        assert!(d.heap.is_none());
        let d = OutDims::c_order(&[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!((d.shape(), d.strides()), (&[1i64, 2, 3, 4, 5, 6][..], None));
        assert!(OutDims::c_order(&[1; ndbind_dlpack::MAX_NDIM + 1]).is_none());
        assert_eq!(OutDims::c_order(&[]).unwrap().shape(), &[] as &[i64]);
    }

    #[test]
    fn strided_keeps_its_strides_and_builds_the_layout() {
        let d = OutDims::strided(&[2, 3], &[1, 2]).unwrap();
        assert_eq!((d.shape(), d.strides()), (&[2i64, 3][..], Some(&[1i64, 2][..])));
        assert!(OutDims::strided(&[2, 3], &[1]).is_none());
        let data = [0f32; 6];
        let dt = crate::array::dtype::DType::FLOAT32;
        // SAFETY: six live f32 cover both layouts.
        let (f, c) = unsafe {
            (
                d.to_layout(data.as_ptr() as *mut c_void, dt, false),
                OutDims::c_order(&[2, 3]).unwrap().to_layout(
                    data.as_ptr() as *mut c_void,
                    dt,
                    true,
                ),
            )
        };
        assert_eq!(
            (f.strides(), f.is_f_contiguous(), f.is_read_only()),
            (&[1i64, 2][..], true, false)
        );
        assert_eq!(
            (c.strides(), c.is_c_contiguous(), c.is_read_only()),
            (&[3i64, 1][..], true, true)
        );
    }
}
