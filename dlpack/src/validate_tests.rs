//! Unit tests of `validate` (a file of their own: validate.rs is the code).
use super::*;
use crate::abi::{DataTypeCode, DeviceType};

fn tensor(data: usize, shape: &mut [i64], strides: Option<&mut [i64]>) -> DLTensor {
    DLTensor {
        data: data as *mut c_void,
        device: DLDevice::CPU,
        ndim: shape.len() as i32,
        dtype: DLDataType::FLOAT64,
        shape: shape.as_mut_ptr(),
        strides: strides.map_or(ptr::null_mut(), |s| s.as_mut_ptr()),
        byte_offset: 0,
    }
}

fn check(t: &DLTensor) -> Result<Layout, InvalidTensor> {
    // SAFETY: every test tensor's shape/strides point to `ndim` values or
    // the ndim is out of range / the pointer NULL.
    unsafe { validate(t, false) }
}

#[test]
fn contiguous_from_null_strides() {
    let mut shape = [2, 3, 4];
    let l = check(&tensor(0x1000, &mut shape, None)).unwrap();
    assert_eq!(l.ndim(), 3);
    assert_eq!(l.strides(), &[12, 4, 1]);
    assert_eq!(l.size(), 24);
    assert_eq!(l.nbytes(), 192);
    assert_eq!(l.byte_bounds(), (0x1000, 0x1000 + 192));
    assert!(l.is_c_contiguous());
    assert!(!l.is_f_contiguous());
    assert!(!l.is_read_only());
    assert_eq!(l.device().device_type, DeviceType::CPU);
}

#[test]
fn zero_dim_scalar() {
    let t = DLTensor { ndim: 0, shape: ptr::null_mut(), ..tensor(0x2000, &mut [], None) };
    let l = check(&t).unwrap();
    assert_eq!((l.ndim(), l.size(), l.shape().len()), (0, 1, 0));
    assert_eq!(l.byte_bounds(), (0x2000, 0x2008));
    assert!(l.is_c_contiguous() && l.is_f_contiguous());
}

#[test]
fn explicit_strides_and_byte_offset() {
    let mut shape = [3, 2];
    let mut strides = [1, 3]; // Fortran order
    let mut t = tensor(0x1000, &mut shape, Some(&mut strides));
    t.byte_offset = 16;
    let l = check(&t).unwrap();
    assert_eq!(l.data() as usize, 0x1010);
    assert_eq!(l.raw_data() as usize, 0x1000);
    assert_eq!(l.byte_offset(), 16);
    assert!(l.is_f_contiguous() && !l.is_c_contiguous());
    assert_eq!(l.byte_bounds(), (0x1010, 0x1010 + 48));
}

#[test]
fn negative_strides_bounds() {
    // 3x4 view flipped on both axes: first element at the highest address.
    let mut shape = [3, 4];
    let mut strides = [-4, -1];
    let base = 0x10_000usize;
    let l = check(&tensor(base, &mut shape, Some(&mut strides))).unwrap();
    assert_eq!(l.byte_bounds(), (base - 11 * 8, base + 8));
    assert!(!l.is_c_contiguous());
    // Mixed signs and a broadcast (stride 0) axis.
    let mut shape = [2, 5, 3];
    let mut strides = [-3, 0, 1];
    let l = check(&tensor(base, &mut shape, Some(&mut strides))).unwrap();
    assert_eq!(l.byte_bounds(), (base - 24, base + 24));
}

#[test]
fn negative_stride_below_address_zero() {
    let mut shape = [4];
    let mut strides = [-1];
    assert_eq!(
        check(&tensor(8, &mut shape, Some(&mut strides))).unwrap_err(),
        InvalidTensor::Overflow
    );
}

#[test]
fn size_zero_bounds_and_null_data() {
    let mut shape = [3, 0, 5];
    let l = check(&tensor(0, &mut shape, None)).unwrap();
    assert_eq!(l.size(), 0);
    assert!(l.data().is_null());
    assert_eq!(l.byte_bounds(), (0, 0));
    assert!(l.is_c_contiguous() && l.is_f_contiguous());
    let mut shape = [0, 7];
    let mut strides = [i64::MIN, i64::MAX];
    let l = check(&tensor(0x3000, &mut shape, Some(&mut strides))).unwrap();
    assert_eq!(l.byte_bounds(), (0x3000, 0x3000));
    // Huge extents are fine next to a zero extent (count is 0)...
    let mut shape = [i64::MAX, i64::MAX, 0];
    let mut strides = [1, 1, 1];
    assert_eq!(check(&tensor(0, &mut shape, Some(&mut strides))).unwrap().size(), 0);
}

#[test]
fn hostile_ndim() {
    let mut shape = [1i64; 4];
    let mut t = tensor(0x1000, &mut shape, None);
    t.ndim = -1;
    assert_eq!(check(&t).unwrap_err(), InvalidTensor::NegativeNdim(-1));
    t.ndim = 1000;
    assert_eq!(check(&t).unwrap_err(), InvalidTensor::TooManyDims(1000));
    t.ndim = i32::MIN;
    assert!(matches!(check(&t), Err(InvalidTensor::NegativeNdim(_))));
    let mut big = [1i64; MAX_NDIM];
    let t = tensor(0x1000, &mut big, None);
    assert_eq!(check(&t).unwrap().ndim(), MAX_NDIM);
}

#[test]
fn null_shape() {
    let mut shape = [2];
    let mut t = tensor(0x1000, &mut shape, None);
    t.shape = ptr::null_mut();
    assert_eq!(check(&t).unwrap_err(), InvalidTensor::NullShape);
}

#[test]
fn negative_extent() {
    let mut shape = [2, -3];
    assert_eq!(
        check(&tensor(0x1000, &mut shape, None)).unwrap_err(),
        InvalidTensor::NegativeExtent { axis: 1, extent: -3 }
    );
}

#[test]
fn null_data_with_elements() {
    let mut shape = [2];
    assert_eq!(check(&tensor(0, &mut shape, None)).unwrap_err(), InvalidTensor::NullData);
}

#[test]
fn overflowing_sizes_and_spans() {
    let mut shape = [1 << 32, 1 << 32];
    assert_eq!(check(&tensor(0x1000, &mut shape, None)).unwrap_err(), InvalidTensor::Overflow);
    // Count fits but bytes do not.
    let mut shape = [1 << 61];
    assert_eq!(check(&tensor(0x1000, &mut shape, None)).unwrap_err(), InvalidTensor::Overflow);
    // Small count, stride span overflows i64.
    let mut shape = [3];
    let mut strides = [i64::MAX / 2 + 1];
    assert_eq!(
        check(&tensor(0x1000, &mut shape, Some(&mut strides))).unwrap_err(),
        InvalidTensor::Overflow
    );
    // Span fits in elements but not in bytes.
    let mut shape = [2];
    let mut strides = [i64::MAX / 4];
    assert_eq!(
        check(&tensor(0x1000, &mut shape, Some(&mut strides))).unwrap_err(),
        InvalidTensor::Overflow
    );
    // Spans of opposite sign whose difference overflows.
    let mut shape = [2, 2];
    let mut strides = [i64::MAX / 12, -(i64::MAX / 12)];
    assert_eq!(
        check(&tensor(1 << 62, &mut shape, Some(&mut strides))).unwrap_err(),
        InvalidTensor::Overflow
    );
    // byte_offset pushes the address past usize::MAX.
    let mut shape = [1];
    let mut t = tensor(0x1000, &mut shape, None);
    t.byte_offset = u64::MAX - 0x10;
    assert_eq!(check(&t).unwrap_err(), InvalidTensor::Overflow);
    // Last byte past the end of the address space.
    let mut shape = [4];
    assert_eq!(
        check(&tensor(usize::MAX - 8, &mut shape, None)).unwrap_err(),
        InvalidTensor::Overflow
    );
}

#[test]
fn dtype_checks() {
    let mut shape = [2];
    let mut t = tensor(0x1000, &mut shape, None);
    t.dtype = DLDataType::new(DataTypeCode::FLOAT, 32, 2);
    assert_eq!(check(&t).unwrap_err(), InvalidTensor::VectorLanes(2));
    t.dtype = DLDataType::new(DataTypeCode::FLOAT, 32, 0);
    assert_eq!(check(&t).unwrap_err(), InvalidTensor::VectorLanes(0));
    for bits in [0u8, 4, 6, 12] {
        t.dtype = DLDataType::new(DataTypeCode::INT, bits, 1);
        assert!(matches!(check(&t), Err(InvalidTensor::UnsupportedBits { .. })));
    }
    t.dtype = DLDataType::new(DataTypeCode::BOOL, 1, 1);
    assert!(matches!(check(&t), Err(InvalidTensor::UnsupportedBits { .. })));
    t.dtype = DLDataType::new(DataTypeCode::BOOL, 16, 1);
    assert!(matches!(check(&t), Err(InvalidTensor::UnsupportedBits { .. })));
    for (code, bits) in
        [(99u8, 8u8), (200, 32), (5, 48), (3, 64), (2, 8), (4, 32), (0, 128), (15, 8), (17, 8)]
    {
        t.dtype = DLDataType { code, bits, lanes: 1 };
        assert_eq!(
            check(&t).unwrap_err(),
            InvalidTensor::UnknownDType { code, bits },
            "{code}/{bits}"
        );
    }
    for code in 7..=14u8 {
        t.dtype = DLDataType { code, bits: 8, lanes: 1 };
        assert_eq!(check(&t).unwrap().itemsize(), 1);
    }
    t.dtype = DLDataType::BOOL;
    assert_eq!(check(&t).unwrap().itemsize(), 1);
    t.dtype = DLDataType::COMPLEX128;
    assert_eq!(check(&t).unwrap().nbytes(), 32);
}

#[test]
fn versioned_flags_and_version() {
    let mut shape = [2];
    let mut mt = DLManagedTensorVersioned {
        version: DLPackVersion::CURRENT,
        manager_ctx: ptr::null_mut(),
        deleter: None,
        flags: FLAG_READ_ONLY,
        dl_tensor: tensor(0x1000, &mut shape, None),
    };
    // SAFETY: `mt` is live; its shape points to 1 extent.
    assert!(unsafe { validate_versioned(&mt) }.unwrap().is_read_only());
    mt.version.major = 2;
    // SAFETY: as above.
    let err = unsafe { validate_versioned(&mt) }.unwrap_err();
    assert_eq!(err, InvalidTensor::UnsupportedVersion(DLPackVersion { major: 2, minor: 3 }));
    let legacy =
        DLManagedTensor { dl_tensor: mt.dl_tensor, manager_ctx: ptr::null_mut(), deleter: None };
    // SAFETY: as above.
    assert!(!unsafe { validate_legacy(&legacy) }.unwrap().is_read_only());
}

#[test]
fn messages() {
    let m = InvalidTensor::NegativeExtent { axis: 1, extent: -3 }.to_string();
    assert!(m.contains("axis 1") && m.contains("-3"));
    assert!(InvalidTensor::TooManyDims(1000).to_string().contains("1000"));
}
