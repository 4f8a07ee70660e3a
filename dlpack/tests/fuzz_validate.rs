//! Bounded differential fuzzing of DLPack tensor validation (issue 7,
//! item 6), run by `cargo test`: the equivalent of a `cargo fuzz` target
//! without a nightly toolchain.
//!
//! A fixed-seed xorshift generator builds `DLTensor`s with hostile field
//! values (ndim, extents, strides, dtype, `byte_offset`, data pointer; the
//! data is never read, so any address is fine). For each one, `validate`
//! must not panic and must agree exactly with an independent reference
//! model written here with 128-bit arithmetic: the same error (the checks
//! happen in a documented order) or the same layout (shape, strides,
//! size, itemsize, byte bounds, contiguity, flags).
//!
//! `NDBIND_FUZZ_ITERS` raises the number of inputs (default 200 000).

use core::ffi::c_void;
use core::ptr;

use ndbind_dlpack::{
    validate, validate_legacy, validate_versioned, DLDataType, DLDevice, DLManagedTensor,
    DLManagedTensorVersioned, DLPackVersion, DLTensor, DeviceType, InvalidTensor, Layout,
    FLAG_READ_ONLY, MAX_NDIM,
};

/// xorshift64* (Vigna): tiny, fast, good enough for input generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn iterations(default: u64) -> u64 {
    std::env::var("NDBIND_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

const EXTREMES: [i64; 16] = [
    0,
    1,
    -1,
    2,
    i64::MAX,
    i64::MIN,
    i64::MAX / 2 + 1,
    1 << 31,
    1 << 32,
    1 << 61,
    1 << 62,
    -(1 << 62),
    i64::MAX / 8,
    i64::MIN + 1,
    3,
    (1 << 32) - 1,
];

fn extent(r: &mut Rng) -> i64 {
    match r.below(10) {
        0..=5 => r.below(5) as i64,   // everyday extents, zeros included
        6 => r.below(1 << 20) as i64, // large but sane
        7 => r.pick(&EXTREMES),
        8 => -(r.below(4) as i64) - 1, // negative
        _ => r.next() as i64,
    }
}

fn stride(r: &mut Rng) -> i64 {
    match r.below(10) {
        0..=5 => r.below(41) as i64 - 20,
        6 => (r.below(1 << 24) as i64) - (1 << 23),
        7 | 8 => r.pick(&EXTREMES),
        _ => r.next() as i64,
    }
}

fn dtype(r: &mut Rng) -> DLDataType {
    const VALID: [(u8, u8); 15] = [
        (6, 8),
        (0, 8),
        (0, 16),
        (0, 32),
        (0, 64),
        (1, 8),
        (1, 16),
        (1, 32),
        (1, 64),
        (2, 16),
        (2, 32),
        (2, 64),
        (4, 16),
        (5, 64),
        (5, 128),
    ];
    if r.chance(70) {
        let (code, bits) = r.pick(&VALID);
        DLDataType { code, bits, lanes: 1 }
    } else {
        DLDataType {
            code: r.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7, 17, 99, 255]),
            bits: match r.below(3) {
                0 => r.pick(&[0u8, 1, 4, 6, 8, 12, 16, 24, 248, 255]),
                _ => r.next() as u8,
            },
            lanes: r.pick(&[1u16, 1, 1, 0, 2, 4, u16::MAX]),
        }
    }
}

fn data_ptr(r: &mut Rng) -> usize {
    match r.below(8) {
        0 => 0,
        1 => r.pick(&[1usize, 8, 64, 4096]),
        2 => usize::MAX - r.below(1 << 12) as usize,
        3 => 1usize << r.below(64),
        4 => r.next() as usize,
        _ => (r.below(1 << 40) as usize) << 4, // a plausible aligned heap address
    }
}

fn byte_offset(r: &mut Rng) -> u64 {
    match r.below(8) {
        0..=4 => 0,
        5 => r.below(256),
        6 => u64::MAX - r.below(1 << 12),
        _ => r.next(),
    }
}

/// A generated tensor with the arrays its pointers refer to.
struct Case {
    shape: Vec<i64>,
    strides: Vec<i64>,
    t: DLTensor,
}

fn case(r: &mut Rng) -> Case {
    let ndim: i32 = match r.below(20) {
        0 => {
            let small = -(r.below(100) as i32) - 1;
            r.pick(&[-1, i32::MIN, small])
        }
        1 => r.pick(&[65, 66, 100, 1000, i32::MAX]),
        2 => 64,
        3 => r.below(65) as i32,
        _ => r.below(7) as i32,
    };
    // The pointers must cover `ndim` values whenever validation may read
    // them (0 <= ndim <= MAX_NDIM): always allocate MAX_NDIM.
    let n = ndim.clamp(0, MAX_NDIM as i32) as usize;
    let mut shape = vec![1i64; MAX_NDIM];
    let mut strides = vec![0i64; MAX_NDIM];
    // Mostly small-extent tensors so that many of them validate.
    let style = r.below(4);
    for i in 0..n {
        shape[i] = if style == 0 { r.below(4) as i64 } else { extent(r) };
        strides[i] = stride(r);
    }
    let null_shape = n > 0 && r.chance(3) || n == 0 && r.chance(50);
    let null_strides = r.chance(35);
    let t = DLTensor {
        data: data_ptr(r) as *mut c_void,
        device: DLDevice::new(DeviceType(r.pick(&[1, 1, 1, 2, 3, 13, 99, -1])), r.below(3) as i32),
        ndim,
        dtype: dtype(r),
        shape: ptr::null_mut(),
        strides: ptr::null_mut(),
        byte_offset: byte_offset(r),
    };
    let mut c = Case { shape, strides, t };
    if !null_shape {
        c.t.shape = c.shape.as_mut_ptr();
    }
    if !null_strides {
        c.t.strides = c.strides.as_mut_ptr();
    }
    c
}

/// What `validate` must return, computed independently.
#[derive(Debug, PartialEq)]
struct Expected {
    shape: Vec<i64>,
    strides: Vec<i64>,
    size: usize,
    itemsize: usize,
    data: usize,
    bounds: (usize, usize),
    c_contig: bool,
    f_contig: bool,
    read_only: bool,
}

fn reference(t: &DLTensor, read_only: bool) -> Result<Expected, InvalidTensor> {
    use InvalidTensor::*;
    if t.ndim < 0 {
        return Err(NegativeNdim(t.ndim));
    }
    if t.ndim as usize > MAX_NDIM {
        return Err(TooManyDims(t.ndim));
    }
    let n = t.ndim as usize;
    let dt = t.dtype;
    if dt.lanes != 1 {
        return Err(VectorLanes(dt.lanes));
    }
    let bad_bits = UnsupportedBits { code: dt.code, bits: dt.bits };
    if dt.bits == 0 || dt.bits % 8 != 0 || (dt.code == 6 && dt.bits != 8) {
        return Err(bad_bits);
    }
    let defined = match dt.code {
        0 | 1 => [8, 16, 32, 64].contains(&dt.bits),
        2 => [16, 32, 64].contains(&dt.bits),
        4 => dt.bits == 16,
        5 => [32, 64, 128].contains(&dt.bits),
        6 => dt.bits == 8,
        7..=14 => dt.bits == 8,
        _ => false,
    };
    if !defined {
        return Err(UnknownDType { code: dt.code, bits: dt.bits });
    }
    let item = (dt.bits / 8) as i128;
    if n > 0 && t.shape.is_null() {
        return Err(NullShape);
    }
    // SAFETY: `shape`/`strides`, when non-NULL, point to MAX_NDIM values.
    let shape: Vec<i64> = (0..n).map(|i| unsafe { *t.shape.add(i) }).collect();
    for (axis, &e) in shape.iter().enumerate() {
        if e < 0 {
            return Err(NegativeExtent { axis, extent: e });
        }
    }
    let size: i128 = if shape.contains(&0) {
        0
    } else {
        // Saturating: any product past usize::MAX is an overflow anyway.
        shape.iter().fold(1i128, |acc, &e| (acc * e as i128).min(u64::MAX as i128 + 1))
    };
    if size > usize::MAX as i128 || size * item > isize::MAX as i128 {
        return Err(Overflow);
    }
    let strides: Vec<i64> = if t.strides.is_null() {
        let mut s = vec![0i64; n];
        let mut acc: i128 = 1;
        for i in (0..n).rev() {
            s[i] = acc.min(i64::MAX as i128) as i64;
            acc = (acc * shape[i].max(1) as i128).min(i64::MAX as i128);
        }
        s
    } else {
        // SAFETY: as above.
        (0..n).map(|i| unsafe { *t.strides.add(i) }).collect()
    };
    let (mut lo, mut hi) = (0i128, 0i128);
    if size != 0 {
        for (&e, &s) in shape.iter().zip(&strides) {
            if e > 1 {
                let span = (e as i128 - 1) * s as i128;
                if span < i64::MIN as i128 || span > i64::MAX as i128 {
                    return Err(Overflow);
                }
                if span < 0 {
                    lo += span;
                } else {
                    hi += span;
                }
                if lo < i64::MIN as i128 || hi > i64::MAX as i128 {
                    return Err(Overflow);
                }
            }
        }
    }
    let (lo_b, hi_b) = if size == 0 {
        (0, 0)
    } else {
        let (l, h) = (lo * item, (hi + 1) * item);
        let fits = |v: i128| v >= i64::MIN as i128 && v <= i64::MAX as i128;
        if !fits(l) || !fits(h) || h - l > isize::MAX as i128 {
            return Err(Overflow);
        }
        (l, h)
    };
    let data = t.data as usize as i128;
    let first = if data == 0 {
        if size != 0 {
            return Err(NullData);
        }
        0
    } else {
        let first = data + t.byte_offset as i128;
        let max = usize::MAX as i128;
        if first > max
            || first + lo_b < 0
            || first + lo_b > max
            || first + hi_b > max
            || first + hi_b < 0
        {
            return Err(Overflow);
        }
        first
    };
    let contig = |axes: &mut dyn Iterator<Item = (i64, i64)>| {
        if size == 0 {
            return true;
        }
        let mut expect: i128 = 1;
        for (e, s) in axes {
            if e != 1 {
                if s as i128 != expect {
                    return false;
                }
                expect *= e as i128;
            }
        }
        true
    };
    let pairs: Vec<(i64, i64)> = shape.iter().copied().zip(strides.iter().copied()).collect();
    Ok(Expected {
        c_contig: contig(&mut pairs.iter().rev().copied()),
        f_contig: contig(&mut pairs.iter().copied()),
        shape,
        strides,
        size: size as usize,
        itemsize: item as usize,
        data: first as usize,
        bounds: ((first + lo_b) as usize, (first + hi_b) as usize),
        read_only,
    })
}

fn observed(l: &Layout) -> Expected {
    Expected {
        shape: l.shape().to_vec(),
        strides: l.strides().to_vec(),
        size: l.size(),
        itemsize: l.itemsize(),
        data: l.data() as usize,
        bounds: l.byte_bounds(),
        c_contig: l.is_c_contiguous(),
        f_contig: l.is_f_contiguous(),
        read_only: l.is_read_only(),
    }
}

/// Invariants every accepted layout must satisfy, whatever the input.
fn invariants(t: &DLTensor, l: &Layout) {
    let n = l.ndim();
    assert_eq!(n as i32, t.ndim);
    assert_eq!((l.shape().len(), l.strides().len()), (n, n));
    let product =
        l.shape().iter().try_fold(1usize, |a, &e| a.checked_mul(usize::try_from(e).ok()?));
    if l.shape().contains(&0) {
        assert_eq!(l.size(), 0);
    } else {
        assert_eq!(Some(l.size()), product);
    }
    assert_eq!(l.nbytes(), l.size() * l.itemsize());
    assert!(l.nbytes() <= isize::MAX as usize);
    let (lo, hi) = l.byte_bounds();
    assert!(lo <= hi, "lo {lo:#x} > hi {hi:#x}");
    if l.size() == 0 {
        assert_eq!(lo, hi);
    } else {
        assert!(hi - lo >= l.itemsize());
        assert!(lo <= l.data() as usize && l.data() as usize + l.itemsize() <= hi);
        // Dense layouts span exactly nbytes.
        if l.is_c_contiguous() || l.is_f_contiguous() {
            assert_eq!(hi - lo, l.nbytes());
        }
    }
    assert_eq!(l.dtype(), t.dtype);
    assert_eq!(l.device(), t.device);
    assert_eq!(l.raw_data(), t.data);
    assert_eq!(l.byte_offset(), t.byte_offset);
    // Cloning (inline or heap dims) preserves everything.
    let c = l.clone();
    assert_eq!(
        (c.shape(), c.strides(), c.byte_bounds()),
        (l.shape(), l.strides(), l.byte_bounds())
    );
}

fn check_one(c: &Case, read_only: bool) -> bool {
    // SAFETY: `shape`/`strides` are NULL or point to MAX_NDIM readable i64s,
    // which covers every ndim validation reads; the data is never read.
    let got = unsafe { validate(&c.t, read_only) };
    let want = reference(&c.t, read_only);
    match (&got, &want) {
        (Ok(l), Ok(w)) => {
            invariants(&c.t, l);
            assert_eq!(&observed(l), w, "tensor {:?}", c.t);
            true
        }
        (Err(g), Err(w)) => {
            assert_eq!(
                g,
                w,
                "tensor {:?} shape {:?} strides {:?}",
                c.t,
                &c.shape[..4],
                &c.strides[..4]
            );
            // Every error has a message.
            assert!(!g.to_string().is_empty());
            false
        }
        _ => panic!(
            "validate {:?} but the reference says {:?}\ntensor {:?}\nshape {:?}\nstrides {:?}",
            got.as_ref().map(observed),
            want,
            c.t,
            &c.shape[..c.t.ndim.clamp(0, 64) as usize],
            &c.strides[..c.t.ndim.clamp(0, 64) as usize]
        ),
    }
}

#[test]
fn validate_agrees_with_the_reference_model() {
    let iters = iterations(200_000);
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0u64;
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..iters {
        let c = case(&mut r);
        let ro = r.chance(50);
        accepted += check_one(&c, ro) as u64;
        // SAFETY: as in `check_one`.
        let kind = match unsafe { validate(&c.t, ro) } {
            Ok(l) if l.size() == 0 => "ok-empty".to_owned(),
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{e:?}").split(['(', ' ']).next().unwrap_or("").to_owned(),
        };
        *outcomes.entry(kind).or_default() += 1;
    }
    println!("{iters} inputs: {outcomes:?}");
    // Every outcome must be reached (the generator is not stuck in one).
    assert!(outcomes.len() >= 10, "outcomes reached: {outcomes:?}");
    // The generator must exercise both outcomes substantially.
    assert!(accepted > iters / 20, "only {accepted} of {iters} inputs were valid");
    assert!(
        accepted < iters - iters / 20,
        "only {} of {iters} inputs were invalid",
        iters - accepted
    );
}

#[test]
fn versioned_and_legacy_wrappers() {
    let iters = iterations(200_000) / 4;
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..iters {
        let c = case(&mut r);
        let version = DLPackVersion {
            major: r.pick(&[1, 1, 1, 0, 2, u32::MAX]),
            minor: r.pick(&[0, 1, 3, 99, u32::MAX]),
        };
        let flags = r.next() & r.pick(&[0, 1, 3, 7, u64::MAX]);
        let mt = DLManagedTensorVersioned {
            version,
            manager_ctx: ptr::null_mut(),
            deleter: None,
            flags,
            dl_tensor: c.t,
        };
        // SAFETY: `mt` is live; its pointers are as in `check_one`.
        let got = unsafe { validate_versioned(&mt) };
        if version.major != 1 {
            assert_eq!(got.unwrap_err(), InvalidTensor::UnsupportedVersion(version));
            continue;
        }
        let want = reference(&c.t, flags & FLAG_READ_ONLY != 0);
        match (&got, &want) {
            (Ok(l), Ok(w)) => assert_eq!(&observed(l), w),
            (Err(g), Err(w)) => assert_eq!(g, w),
            _ => panic!("versioned: {:?} vs {:?} for {:?}", got.map(|l| observed(&l)), want, c.t),
        }
        let legacy =
            DLManagedTensor { dl_tensor: c.t, manager_ctx: ptr::null_mut(), deleter: None };
        // SAFETY: as above.
        let got = unsafe { validate_legacy(&legacy) };
        assert_eq!(got.map(|l| observed(&l)), reference(&c.t, false));
    }
}

#[test]
fn every_ndim_and_every_stride_sign_near_the_limits() {
    // Systematic rather than random: every ndim 0..=64 with C strides, the
    // extreme strides on one axis of an otherwise tiny tensor.
    let mut shape = vec![1i64; MAX_NDIM];
    let mut strides = vec![1i64; MAX_NDIM];
    for n in 0..=MAX_NDIM {
        for &e in &[0i64, 1, 2, 3] {
            for &s in EXTREMES.iter() {
                shape.iter_mut().for_each(|x| *x = 1);
                strides.iter_mut().for_each(|x| *x = 1);
                if n > 0 {
                    shape[n - 1] = e;
                    strides[n - 1] = s;
                }
                for data in [0x1000usize, 1 << 62, usize::MAX - 4095] {
                    let t = DLTensor {
                        data: data as *mut c_void,
                        device: DLDevice::CPU,
                        ndim: n as i32,
                        dtype: DLDataType::FLOAT64,
                        shape: shape.as_mut_ptr(),
                        strides: strides.as_mut_ptr(),
                        byte_offset: 0,
                    };
                    let c = Case { shape: shape.clone(), strides: strides.clone(), t };
                    check_one(&c, false);
                }
            }
        }
    }
}
