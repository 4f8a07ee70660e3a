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
        Order::Contig if !l.is_c_contiguous() && !l.is_f_contiguous() => Err(convertible),
        _ => Ok(()),
    }
}

/// Why `h` fails [`check`]: the first failing condition, in `check`'s
/// order, as one phrase (`dtype float64, expected float32`), with its
/// [`Mismatch`]; `None` when `h` passes. Cold: for mismatch errors only
/// (a unit test keeps it in step with `check`).
#[cold]
pub(crate) fn why(h: &ArrayHandle, req: &Requirements) -> Option<(String, Mismatch)> {
    use crate::array::requirements::device_name;
    const FATAL: Mismatch = Mismatch { convertible: false };
    let convertible = Mismatch { convertible: !req.writable };
    let mut s = String::new();
    if let Some(device) = req.device {
        let d = h.device();
        if d.device_type != device {
            s.push_str("device ");
            s.push_str(device_name(d.device_type));
            if d.device_type != ndbind_dlpack::DeviceType::CPU || d.device_id != 0 {
                s.push(':');
                s.push_str(&d.device_id.to_string());
            }
            s.push_str(", expected ");
            s.push_str(device_name(device));
            return Some((s, FATAL));
        }
    }
    let shape_ok = (req.ndim < 0 || h.ndim() == req.ndim as usize)
        && (req.shape.is_empty()
            || h.shape().len() == req.shape.len()
                && !req.shape.iter().zip(h.shape()).any(|(&r, &s)| r >= 0 && r != s));
    if !shape_ok {
        s.push_str("shape ");
        push_extents(&mut s, h.shape().iter().map(|&e| Some(e)));
        s.push_str(", expected ");
        let n = if req.shape.is_empty() { req.ndim.max(0) as usize } else { req.shape.len() };
        push_extents(&mut s, (0..n).map(|i| req.shape.get(i).copied().filter(|&e| e >= 0)));
        return Some((s, FATAL));
    }
    if req.writable && h.read_only() {
        return Some(("read-only, expected a writable array".to_owned(), FATAL));
    }
    if let Some(want) = req.dtype {
        let dtype = h.dtype();
        if want != dtype {
            let ok = dtype.is_known() && (!dtype.is_complex() || want.is_complex());
            s.push_str("dtype ");
            if dtype.is_known() {
                s.push_str(dtype.name());
            } else {
                s.push_str(&format!(
                    "(code {}, bits {}, lanes {})",
                    dtype.code, dtype.bits, dtype.lanes
                ));
            }
            s.push_str(", expected ");
            s.push_str(want.name());
            return Some((s, Mismatch { convertible: ok && !req.writable }));
        }
        let align = alignment(want);
        if (h.data() as usize) & (align - 1) != 0 && h.size() > 0 {
            let msg = format!(
                "misaligned data (address {:#x}), expected {align}-byte alignment for {}",
                h.data() as usize,
                want.name()
            );
            return Some((msg, convertible));
        }
    }
    let (bad, name) = match req.order {
        Order::C => (!h.is_c_contiguous(), 'C'),
        Order::F => (!h.is_f_contiguous(), 'F'),
        Order::Contig => (!h.is_c_contiguous() && !h.is_f_contiguous(), 'A'),
        Order::Any => (false, ' '),
    };
    if bad {
        s.push_str("not ");
        if name == 'A' {
            s.push_str("C- or F");
        } else {
            s.push(name);
        }
        s.push_str("-contiguous (shape ");
        push_extents(&mut s, h.shape().iter().map(|&e| Some(e)));
        s.push_str(", strides ");
        push_extents(&mut s, h.strides().iter().map(|&e| Some(e)));
        s.push_str(" in elements), expected order='");
        s.push(name);
        s.push('\'');
        return Some((s, convertible));
    }
    None
}

/// Appends `(3, *, 4)` (`None`: any extent; `(3,)` for one axis).
fn push_extents(s: &mut String, extents: impl ExactSizeIterator<Item = Option<i64>>) {
    let n = extents.len();
    s.push('(');
    for (i, e) in extents.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match e {
            Some(e) => s.push_str(&e.to_string()),
            None => s.push('*'),
        }
    }
    s.push_str(if n == 1 { ",)" } else { ")" });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::requirements::ANY;
    use ndbind_dlpack::{validate, DLDevice, DLTensor, DeviceType};

    /// `why` refuses exactly what `check` refuses, with the same verdict
    /// on conversion, over a grid of arrays and requirements.
    #[test]
    fn why_agrees_with_check() {
        let mut data = [0u64; 16];
        let base = data.as_mut_ptr() as *mut u8;
        let dtypes = [DType::FLOAT32, DType::FLOAT64, DType::COMPLEX64, DType::BOOL];
        let layouts: [(&[i64], Option<&[i64]>); 4] = [
            (&[2, 3], None),
            (&[3, 2], Some(&[1, 3])),
            (&[2, 3], Some(&[1, 2])),
            (&[4], Some(&[2])),
        ];
        let reqs_dtype = [None, Some(DType::FLOAT32), Some(DType::FLOAT64)];
        let shapes: [(i32, &'static [i64]); 4] = [(-1, &[]), (2, &[]), (2, &[2, ANY]), (1, &[4])];
        let orders = [Order::Any, Order::C, Order::F, Order::Contig];
        let devices = [None, Some(DeviceType::CPU), Some(DeviceType::CUDA)];
        let mut checked = 0;
        for dtype in dtypes {
            for (shape, strides) in layouts {
                for offset in [0usize, 1] {
                    for (device, read_only) in [
                        (DLDevice::CPU, false),
                        (DLDevice::CPU, true),
                        (DLDevice::new(DeviceType::CUDA, 1), false),
                    ] {
                        let mut shape = shape.to_vec();
                        let mut strides = strides.map(|s| s.to_vec());
                        let t = DLTensor {
                            // SAFETY: within `data` (16 words; the largest
                            // layout covers 6 complex64 = 48 bytes + 1).
                            data: unsafe { base.add(offset) }.cast(),
                            device,
                            ndim: shape.len() as i32,
                            dtype,
                            shape: shape.as_mut_ptr(),
                            strides: strides
                                .as_mut()
                                .map_or(std::ptr::null_mut(), |s| s.as_mut_ptr()),
                            byte_offset: 0,
                        };
                        // SAFETY: the tensor describes memory inside `data`.
                        let Ok(l) = (unsafe { validate(&t, read_only) }) else { continue };
                        let h = ArrayHandle::from_layout(l);
                        for want in reqs_dtype {
                            for (ndim, rshape) in shapes {
                                for order in orders {
                                    for rdev in devices {
                                        for writable in [false, true] {
                                            let req = Requirements {
                                                dtype: want,
                                                ndim,
                                                shape: rshape,
                                                order,
                                                device: rdev,
                                                writable,
                                                read_only: false,
                                                stream: None,
                                            };
                                            let c = check(&h, &req).err();
                                            let w = why(&h, &req);
                                            assert_eq!(
                                                c,
                                                w.as_ref().map(|w| w.1),
                                                "{req:?} {:?}",
                                                w
                                            );
                                            checked += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
