//! Bounded fuzzing of the PEP 3118 format parser and the stride/layout
//! helpers (issue 7, item 6), run by `cargo test`: the equivalent of a
//! `cargo fuzz` target without a nightly toolchain. Needs no interpreter.
//!
//! A fixed-seed xorshift generator produces random byte strings and
//! mutations of valid formats; `parse_format` must never panic, and must
//! agree with an independent reference model of single-element PEP 3118
//! formats written here (so a `Some` always has the requested itemsize).
//! The layout helpers get random shapes and strides and are checked
//! against 128-bit reference arithmetic.
//!
//! `NDBIND_FUZZ_ITERS` raises the number of inputs (default 200 000 per
//! test).

use std::ffi::{c_int, c_long, c_longlong, c_short};
use std::mem::size_of;

use ndbind::array::format::parse_format;
use ndbind::array::DType;
use ndbind::dlpack::layout::{
    byte_bounds, fill_c_strides, fill_f_strides, is_c_contiguous, is_f_contiguous, ranges_overlap,
    size, strides_from_bytes,
};

/// xorshift64* (Vigna).
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
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn iterations() -> u64 {
    std::env::var("NDBIND_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000)
}

// --- the format parser --------------------------------------------------------

/// Everything valid, and the characters struct formats are made of.
const VALID: &[&[u8]] = &[
    b"?", b"b", b"B", b"h", b"H", b"i", b"I", b"l", b"L", b"q", b"Q", b"n", b"N", b"e", b"f", b"d",
    b"Zf", b"Zd", b"<f", b">f", b"=f", b"!f", b"@f", b"<d", b"=q", b"<Zd", b"=Zf", b"<e", b"@l",
    b"=l", b"<?", b">B", b"!b", b"@n",
];
const ALPHABET: &[u8] = b"?bBhHiIlLqQnNefdZgFDcspPxTO@=<>!^{}():0123456789 \0\xff";

/// Reference model: a single-element PEP 3118 format as CPython's `struct`
/// reads it (one optional byte-order prefix, one code, `Z` + `f`/`d` for
/// complex), with NumPy's itemsizes; only the machine's byte order is
/// representable for multi-byte types.
fn reference(fmt: &[u8], itemsize: usize) -> Option<DType> {
    let little = cfg!(target_endian = "little");
    let (native, foreign, rest) = match fmt.first()? {
        b'@' => (true, false, &fmt[1..]),
        b'=' => (false, false, &fmt[1..]),
        b'<' => (false, !little, &fmt[1..]),
        b'>' | b'!' => (false, little, &fmt[1..]),
        _ => (true, false, fmt),
    };
    let int = |signed: bool, bytes: usize| {
        let bits = (bytes * 8) as u8;
        let code = if signed { DType::CODE_INT } else { DType::CODE_UINT };
        Some(DType { code, bits, lanes: 1 })
    };
    let sz = |n: usize, std: usize| if native { n } else { std };
    let dt = match rest {
        b"?" => DType::BOOL,
        b"b" => DType::INT8,
        b"B" => DType::UINT8,
        b"h" | b"H" => int(rest == b"h", sz(size_of::<c_short>(), 2))?,
        b"i" | b"I" => int(rest == b"i", sz(size_of::<c_int>(), 4))?,
        b"l" | b"L" => int(rest == b"l", sz(size_of::<c_long>(), 4))?,
        b"q" | b"Q" => int(rest == b"q", sz(size_of::<c_longlong>(), 8))?,
        b"n" | b"N" if native => int(rest == b"n", size_of::<isize>())?,
        b"e" => DType::FLOAT16,
        b"f" => DType::FLOAT32,
        b"d" => DType::FLOAT64,
        b"Zf" => DType::COMPLEX64,
        b"Zd" => DType::COMPLEX128,
        _ => return None,
    };
    if dt.itemsize() != itemsize || (foreign && itemsize > 1) {
        return None;
    }
    Some(dt)
}

fn mutate(r: &mut Rng, v: &mut Vec<u8>) {
    for _ in 0..=r.below(3) {
        let pos = if v.is_empty() { 0 } else { r.below(v.len() as u64 + 1) as usize };
        match r.below(6) {
            0 => v.insert(pos, r.pick(ALPHABET)),
            1 => v.insert(pos, r.next() as u8),
            2 if pos < v.len() => {
                v.remove(pos);
            }
            3 if pos < v.len() => v[pos] = r.pick(ALPHABET),
            4 if pos < v.len() => v[pos] ^= 1 << r.below(8),
            5 => {
                let chunk = v.clone();
                v.extend_from_slice(&chunk);
            }
            _ => v.push(r.pick(ALPHABET)),
        }
    }
}

fn format_input(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0..=3 => {
            let mut v = r.pick(VALID).to_vec();
            mutate(r, &mut v);
            v
        }
        4..=5 => r.pick(VALID).to_vec(),
        6..=8 => (0..r.below(5)).map(|_| r.pick(ALPHABET)).collect(),
        _ => (0..r.below(40)).map(|_| r.next() as u8).collect(),
    }
}

#[test]
fn parse_format_never_panics_and_matches_the_reference() {
    let iters = iterations();
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    let mut some = 0u64;
    for _ in 0..iters {
        let fmt = format_input(&mut r);
        let itemsize = match r.below(8) {
            0 => r.next() as usize,
            1 => usize::MAX - r.below(3) as usize,
            _ => r.pick(&[0usize, 1, 2, 4, 8, 16, 3, 32]),
        };
        let got = parse_format(&fmt, itemsize);
        assert_eq!(got, reference(&fmt, itemsize), "format {:?} itemsize {itemsize}", fmt);
        if let Some(dt) = got {
            assert_eq!(dt.itemsize(), itemsize, "format {:?}", fmt);
            assert!(dt.is_known() && dt.lanes == 1);
            some += 1;
        }
        // The right itemsize for a valid format is accepted.
        if let Some(dt) = reference(&fmt, 8).or(reference(&fmt, 4)).or(reference(&fmt, 2)) {
            assert_eq!(parse_format(&fmt, dt.itemsize()), Some(dt));
        }
    }
    assert!(some > iters / 50, "only {some} of {iters} formats parsed");
}

#[test]
fn parse_format_every_short_string() {
    // Exhaustive over the alphabet up to 3 characters, every itemsize that
    // matters.
    let mut n = 0;
    for a in ALPHABET {
        for b in ALPHABET.iter().chain([&b'f']) {
            for c in ALPHABET.iter().chain([&b'd']) {
                for fmt in [&[*a][..], &[*a, *b], &[*a, *b, *c]] {
                    for itemsize in [0, 1, 2, 4, 8, 16] {
                        assert_eq!(
                            parse_format(fmt, itemsize),
                            reference(fmt, itemsize),
                            "{:?}",
                            fmt
                        );
                        n += 1;
                    }
                }
            }
        }
    }
    assert!(n > 200_000);
}

// --- the layout helpers -------------------------------------------------------

const EXTREMES: [i64; 12] = [
    0,
    1,
    -1,
    i64::MAX,
    i64::MIN,
    1 << 31,
    1 << 32,
    1 << 62,
    -(1 << 62),
    i64::MAX / 2 + 1,
    3,
    i64::MIN + 1,
];

fn dims(r: &mut Rng, n: usize, extreme: bool) -> Vec<i64> {
    (0..n)
        .map(|_| match r.below(10) {
            0..=6 => r.below(5) as i64,
            7 if extreme => r.pick(&EXTREMES),
            8 if extreme => r.next() as i64,
            _ => r.below(1 << 16) as i64,
        })
        .collect()
}

fn strides(r: &mut Rng, n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| match r.below(10) {
            0..=6 => r.below(41) as i64 - 20,
            7 => r.pick(&EXTREMES),
            8 => r.next() as i64,
            _ => (r.below(1 << 20) as i64) - (1 << 19),
        })
        .collect()
}

fn ref_size(shape: &[i64]) -> Option<usize> {
    if shape.iter().any(|&d| d < 0) {
        return None;
    }
    if shape.contains(&0) {
        return Some(0);
    }
    let mut n: u128 = 1;
    for &d in shape {
        n = n.checked_mul(d as u128)?;
        if n > usize::MAX as u128 {
            return None;
        }
    }
    Some(n as usize)
}

fn ref_bounds(data: usize, shape: &[i64], strides: &[i64], item: usize) -> Option<(usize, usize)> {
    if shape.len() != strides.len() || shape.iter().any(|&d| d < 0) {
        return None;
    }
    if shape.contains(&0) {
        return Some((data, data));
    }
    let (imin, imax) = (isize::MIN as i128, isize::MAX as i128);
    let fits = |v: i128| (imin..=imax).contains(&v);
    let item = item as i128;
    if !fits(item) {
        return None;
    }
    let (mut lo, mut hi) = (0i128, 0i128);
    for (&d, &s) in shape.iter().zip(strides) {
        let step = s as i128 * item;
        if !fits(step) {
            return None;
        }
        let extent = (d as i128 - 1) * step; // |.| < 2^63 * 2^63: no i128 overflow
        if !fits(extent) {
            return None;
        }
        if extent < 0 {
            lo += extent;
        } else {
            hi += extent;
        }
        if !fits(lo) || !fits(hi) {
            return None;
        }
    }
    let hi = hi + item;
    if !fits(hi) {
        return None;
    }
    let (l, h) = (data as i128 + lo, data as i128 + hi);
    let addr = 0..=usize::MAX as i128;
    (addr.contains(&l) && addr.contains(&h)).then_some((l as usize, h as usize))
}

fn ref_dense(shape: &[i64], strides: &[i64], c_order: bool) -> bool {
    if shape.len() != strides.len() || shape.iter().any(|&d| d < 0) {
        return false;
    }
    if shape.contains(&0) {
        return true;
    }
    let mut pairs: Vec<_> = shape.iter().zip(strides).collect();
    if c_order {
        pairs.reverse();
    }
    let mut expect: i128 = 1;
    for (&d, &s) in pairs {
        if d != 1 {
            if s as i128 != expect {
                return false;
            }
            expect *= d as i128;
        }
    }
    true
}

#[test]
fn layout_helpers_match_the_reference() {
    let iters = iterations();
    let mut r = Rng(0xBF58_476D_1CE4_E5B9);
    for _ in 0..iters {
        let n = r.below(9) as usize;
        let extreme = r.below(3) == 0;
        let shape = dims(&mut r, n, extreme);
        // Occasionally mismatched lengths.
        let m = if r.below(20) == 0 { r.below(9) as usize } else { n };
        let st = strides(&mut r, m);
        let item = r.pick(&[1usize, 2, 4, 8, 16, 0, 3, usize::MAX, 1 << 62]);
        let data = match r.below(4) {
            0 => r.next() as usize,
            1 => usize::MAX - r.below(64) as usize,
            _ => 0x10_0000,
        };

        assert_eq!(size(&shape), ref_size(&shape), "{shape:?}");
        assert_eq!(is_c_contiguous(&shape, &st), ref_dense(&shape, &st, true), "{shape:?} {st:?}");
        assert_eq!(is_f_contiguous(&shape, &st), ref_dense(&shape, &st, false), "{shape:?} {st:?}");
        let bb = byte_bounds(data, &shape, &st, item);
        assert_eq!(bb, ref_bounds(data, &shape, &st, item), "{data:#x} {shape:?} {st:?} {item}");
        if let Some((lo, hi)) = bb {
            assert!(lo <= hi);
        }

        // Dense strides of a valid shape are dense, and span exactly size items.
        if let Some(count) = ref_size(&shape) {
            let mut c = vec![0i64; n];
            let mut f = vec![0i64; n];
            fill_c_strides(&shape, &mut c);
            fill_f_strides(&shape, &mut f);
            if count.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize) {
                assert!(is_c_contiguous(&shape, &c), "{shape:?} {c:?}");
                assert!(is_f_contiguous(&shape, &f), "{shape:?} {f:?}");
                if count > 0 {
                    assert_eq!(
                        byte_bounds(0x1000, &shape, &c, 8),
                        Some((0x1000, 0x1000 + count * 8))
                    );
                    assert_eq!(
                        byte_bounds(0x1000, &shape, &f, 8),
                        Some((0x1000, 0x1000 + count * 8))
                    );
                }
            }
        }

        // Byte strides -> element strides.
        let bs: Vec<isize> = st.iter().map(|&s| s as isize).collect();
        let mut out = vec![0i64; bs.len()];
        let ok = strides_from_bytes(&shape, &bs, item, &mut out);
        let lengths_ok = shape.len() == bs.len() && item != 0 && isize::try_from(item).is_ok();
        if !lengths_ok {
            assert!(!ok);
        } else {
            let empty = shape.contains(&0);
            let expect_ok =
                shape.iter().zip(&bs).all(|(&d, &b)| b % item as isize == 0 || d == 1 || empty);
            assert_eq!(ok, expect_ok, "{shape:?} {bs:?} {item}");
            if ok {
                for ((&d, &b), &o) in shape.iter().zip(&bs).zip(&out) {
                    if b % item as isize == 0 {
                        assert_eq!(o as i128 * item as i128, b as i128);
                    } else {
                        assert!(d == 1 || empty);
                        assert_eq!(o, 0);
                    }
                }
            }
        }

        // Overlap is symmetric, and empty ranges overlap nothing.
        let a = (r.below(64) as usize, r.below(64) as usize);
        let b = (r.below(64) as usize, r.below(64) as usize);
        let ov = ranges_overlap(a, b);
        assert_eq!(ov, ranges_overlap(b, a));
        let reference = (a.0..a.1).any(|x| (b.0..b.1).contains(&x));
        assert_eq!(ov, reference, "{a:?} {b:?}");
    }
}
