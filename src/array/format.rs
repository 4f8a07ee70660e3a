//! PEP 3118 buffer format strings → [`DType`].
//!
//! Only single-element formats are understood (one optional byte-order
//! prefix, one type code); that is what NumPy, `array.array`, `bytes`,
//! `memoryview` and ctypes export for plain arrays. Struct formats, padding,
//! repeat counts and anything else are rejected.
//!
//! ```
//! use ndbind::array::format::parse_format;
//! use ndbind::array::DType;
//!
//! assert_eq!(parse_format(b"<f", 4), Some(DType::FLOAT32));
//! assert_eq!(parse_format(b"B", 1), Some(DType::UINT8));
//! assert_eq!(parse_format(b"Zd", 16), Some(DType::COMPLEX128));
//! #[cfg(target_endian = "little")]
//! assert_eq!(parse_format(b">d", 8), None); // byte-swapped
//! ```

use std::ffi::{c_int, c_long, c_longlong, c_short};
use std::mem::size_of;

use ndbind_dlpack::DataTypeCode;

use super::dtype::DType;

/// Integer dtype of `bytes` bytes (1, 2, 4 or 8), signed or unsigned.
#[inline]
const fn int_of_size(bytes: usize, signed: bool) -> Option<DType> {
    let bits = match bytes {
        1 => 8,
        2 => 16,
        4 => 32,
        8 => 64,
        _ => return None,
    };
    let code = if signed { DataTypeCode::INT } else { DataTypeCode::UINT };
    Some(DType::scalar(code, bits))
}

/// Parses a PEP 3118 single-element format string (as found in
/// `Py_buffer::format`, without the NUL) into a [`DType`], checking it
/// against the buffer's `itemsize`.
///
/// Accepted: an optional prefix `@` (native order and sizes; the default),
/// `=` (native order, standard sizes), `<`, `>` or `!` (little/big/network
/// order, standard sizes), then one of `? b B h H i I l L q Q n N e f d`
/// or `Zf`, `Zd`. With `@`, `h`/`i`/`l`/`q`/`n` have the sizes of C
/// `short`/`int`/`long`/`long long`/`ssize_t`; with the other prefixes the
/// standard sizes 2/4/4/8 apply and `n`/`N` are invalid.
///
/// Returns `None` when the format is anything else (empty, struct formats,
/// `x` padding, repeat counts, `T{...}`, unsupported codes, trailing bytes),
/// when the explicit byte order is not the machine's for a multi-byte type,
/// or when the element size differs from `itemsize`.
///
/// ```
/// # use ndbind::array::format::parse_format;
/// # use ndbind::array::DType;
/// #[cfg(all(unix, target_pointer_width = "64"))]
/// assert_eq!(parse_format(b"l", 8), Some(DType::INT64)); // C long on LP64
/// assert_eq!(parse_format(b"<l", 4), Some(DType::INT32)); // standard size
/// assert_eq!(parse_format(b"=q", 8), Some(DType::INT64));
/// assert_eq!(parse_format(b"?", 1), Some(DType::BOOL));
/// assert_eq!(parse_format(b"f", 8), None); // itemsize mismatch
/// assert_eq!(parse_format(b"2f", 8), None); // repeat count
/// ```
#[inline]
pub fn parse_format(fmt: &[u8], itemsize: usize) -> Option<DType> {
    const LITTLE: bool = cfg!(target_endian = "little");
    // (native sizes, foreign byte order, rest)
    let (native, foreign, rest) = match fmt.split_first() {
        Some((b'@', rest)) => (true, false, rest),
        Some((b'=', rest)) => (false, false, rest),
        Some((b'<', rest)) => (false, !LITTLE, rest),
        Some((b'>' | b'!', rest)) => (false, LITTLE, rest),
        Some(_) => (true, false, fmt),
        None => return None,
    };
    let size = |native_size: usize, standard_size: usize| {
        if native {
            native_size
        } else {
            standard_size
        }
    };
    let dtype = match rest {
        [b'?'] => DType::BOOL,
        [b'b'] => DType::INT8,
        [b'B'] => DType::UINT8,
        [c @ (b'h' | b'H')] => int_of_size(size(size_of::<c_short>(), 2), *c == b'h')?,
        [c @ (b'i' | b'I')] => int_of_size(size(size_of::<c_int>(), 4), *c == b'i')?,
        [c @ (b'l' | b'L')] => int_of_size(size(size_of::<c_long>(), 4), *c == b'l')?,
        [c @ (b'q' | b'Q')] => int_of_size(size(size_of::<c_longlong>(), 8), *c == b'q')?,
        [c @ (b'n' | b'N')] if native => int_of_size(size_of::<isize>(), *c == b'n')?,
        [b'e'] => DType::FLOAT16,
        [b'f'] => DType::FLOAT32,
        [b'd'] => DType::FLOAT64,
        [b'Z', b'f'] => DType::COMPLEX64,
        [b'Z', b'd'] => DType::COMPLEX128,
        _ => return None,
    };
    let n = dtype.itemsize();
    if n != itemsize || (foreign && n > 1) {
        return None;
    }
    Some(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LITTLE: bool = cfg!(target_endian = "little");
    const LONG: usize = size_of::<c_long>();

    /// Every code with its dtype under native (`@`) and standard sizes.
    fn codes() -> Vec<(&'static [u8], Option<DType>, Option<DType>)> {
        vec![
            (b"?", Some(DType::BOOL), Some(DType::BOOL)),
            (b"b", Some(DType::INT8), Some(DType::INT8)),
            (b"B", Some(DType::UINT8), Some(DType::UINT8)),
            (b"h", Some(DType::INT16), Some(DType::INT16)),
            (b"H", Some(DType::UINT16), Some(DType::UINT16)),
            (b"i", Some(DType::INT32), Some(DType::INT32)),
            (b"I", Some(DType::UINT32), Some(DType::UINT32)),
            (b"l", int_of_size(LONG, true), Some(DType::INT32)),
            (b"L", int_of_size(LONG, false), Some(DType::UINT32)),
            (b"q", Some(DType::INT64), Some(DType::INT64)),
            (b"Q", Some(DType::UINT64), Some(DType::UINT64)),
            (b"n", int_of_size(size_of::<isize>(), true), None),
            (b"N", int_of_size(size_of::<usize>(), false), None),
            (b"e", Some(DType::FLOAT16), Some(DType::FLOAT16)),
            (b"f", Some(DType::FLOAT32), Some(DType::FLOAT32)),
            (b"d", Some(DType::FLOAT64), Some(DType::FLOAT64)),
            (b"Zf", Some(DType::COMPLEX64), Some(DType::COMPLEX64)),
            (b"Zd", Some(DType::COMPLEX128), Some(DType::COMPLEX128)),
        ]
    }

    fn with_prefix(p: u8, code: &[u8]) -> Vec<u8> {
        let mut v = vec![p];
        v.extend_from_slice(code);
        v
    }

    #[test]
    fn lp64_long() {
        #[cfg(all(target_pointer_width = "64", not(windows)))]
        {
            assert_eq!(parse_format(b"l", 8), Some(DType::INT64));
            assert_eq!(parse_format(b"L", 8), Some(DType::UINT64));
            assert_eq!(parse_format(b"l", 4), None);
            assert_eq!(parse_format(b"n", 8), Some(DType::INT64));
            assert_eq!(parse_format(b"N", 8), Some(DType::UINT64));
        }
        assert_eq!(parse_format(b"<l", 4), Some(DType::INT32));
        assert_eq!(parse_format(b"=L", 4), Some(DType::UINT32));
        assert_eq!(parse_format(b"=l", 8), None);
    }

    #[test]
    fn every_code_native() {
        for (code, native, _) in codes() {
            let size = native.unwrap().itemsize();
            assert_eq!(parse_format(code, size), native, "{:?}", code);
            assert_eq!(parse_format(&with_prefix(b'@', code), size), native);
            // Wrong itemsize is rejected.
            assert_eq!(parse_format(code, size + 1), None);
            assert_eq!(parse_format(code, size * 2), None);
            assert_eq!(parse_format(code, 0), None);
        }
    }

    #[test]
    fn every_code_every_standard_prefix() {
        for (code, _, standard) in codes() {
            for p in [b'=', b'<', b'>', b'!'] {
                let f = with_prefix(p, code);
                let Some(dt) = standard else {
                    // n/N are native-only.
                    for size in [0, 1, 2, 4, 8, 16] {
                        assert_eq!(parse_format(&f, size), None);
                    }
                    continue;
                };
                let size = dt.itemsize();
                let foreign = match p {
                    b'<' => !LITTLE,
                    b'>' | b'!' => LITTLE,
                    _ => false,
                };
                let expect = if foreign && size > 1 { None } else { Some(dt) };
                assert_eq!(parse_format(&f, size), expect, "{:?}", f);
                assert_eq!(parse_format(&f, size + 1), None);
            }
        }
    }

    #[test]
    fn numpy_and_builtin_exports() {
        let native = if LITTLE { b'<' } else { b'>' };
        assert_eq!(parse_format(&[native, b'f'], 4), Some(DType::FLOAT32));
        assert_eq!(parse_format(b"=f", 4), Some(DType::FLOAT32));
        assert_eq!(parse_format(b"f", 4), Some(DType::FLOAT32));
        assert_eq!(parse_format(b"Zf", 8), Some(DType::COMPLEX64));
        assert_eq!(parse_format(&[native, b'Z', b'd'], 16), Some(DType::COMPLEX128));
        assert_eq!(parse_format(&[native, b'q'], 8), Some(DType::INT64));
        assert_eq!(parse_format(b"=e", 2), Some(DType::FLOAT16));
        assert_eq!(parse_format(b"B", 1), Some(DType::UINT8)); // bytes/bytearray
        assert_eq!(parse_format(b"?", 1), Some(DType::BOOL));
    }

    #[test]
    fn foreign_byte_order() {
        let foreign: &[u8] = if LITTLE { b">!" } else { b"<" };
        for &p in foreign {
            for code in [&b"h"[..], b"H", b"i", b"I", b"l", b"L", b"q", b"Q", b"e", b"f", b"d"] {
                for size in [2, 4, 8] {
                    assert_eq!(parse_format(&with_prefix(p, code), size), None);
                }
            }
            assert_eq!(parse_format(&with_prefix(p, b"Zf"), 8), None);
            assert_eq!(parse_format(&with_prefix(p, b"Zd"), 16), None);
            // One-byte types have no byte order.
            assert_eq!(parse_format(&with_prefix(p, b"?"), 1), Some(DType::BOOL));
            assert_eq!(parse_format(&with_prefix(p, b"b"), 1), Some(DType::INT8));
            assert_eq!(parse_format(&with_prefix(p, b"B"), 1), Some(DType::UINT8));
        }
    }

    #[test]
    fn hostile_strings() {
        let bad: &[&[u8]] = &[
            b"",
            b"@",
            b"<",
            b"=",
            b">",
            b"!",
            b"^f",
            b"@@f",
            b"<>f",
            b"<<f",
            b"f@",
            b"ff",
            b"fx",
            b"xf",
            b"x",
            b"2f",
            b"1f",
            b"f2",
            b"0f",
            b"10B",
            b"T{f}",
            b"T{f:x:}",
            b"(2)f",
            b"(2,3)d",
            b"f:x:",
            b"Z",
            b"Zq",
            b"ZF",
            b"Zff",
            b"ZZf",
            b"Z f",
            b" f",
            b"f ",
            b"f\0",
            b"\0",
            b"\0f",
            b"F",
            b"D",
            b"c",
            b"s",
            b"p",
            b"P",
            b"g",
            b"Zg",
            b"O",
            b"w",
            b"u",
            b"&f",
            b"*f",
            b"\xff",
            b"f\xff",
            b"\xc3\xa9",
        ];
        for &f in bad {
            for size in [0, 1, 2, 4, 8, 16, usize::MAX] {
                assert_eq!(parse_format(f, size), None, "{:?} {}", f, size);
            }
        }
    }

    #[test]
    fn long_garbage() {
        let long = vec![b'f'; 1 << 16];
        assert_eq!(parse_format(&long, 4), None);
        let mut prefixed = vec![b'<'; 1 << 10];
        prefixed.push(b'f');
        assert_eq!(parse_format(&prefixed, 4), None);
    }

    #[test]
    fn exhaustive_two_bytes_never_panics() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for size in [1, 2, 4, 8, 16] {
                    if let Some(dt) = parse_format(&[a, b], size) {
                        assert_eq!(dt.itemsize(), size);
                        assert!(dt.is_known());
                    }
                }
            }
            let _ = parse_format(&[a], 4);
        }
    }
}
