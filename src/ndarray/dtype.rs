//! Element types of arrays: [`DType`] (field-for-field the DLPack
//! `DLDataType`) and the [`Scalar`] trait mapping Rust element types to it.
//!
//! Pure Rust, no Python API: everything here is `const`-friendly and free of
//! allocation, because dtype checks run on every call that takes an array.
//!
//! ```ignore
//! use ndbind::ndarray::dtype::{DType, Scalar};
//!
//! assert_eq!(<f32 as Scalar>::DTYPE, DType::FLOAT32);
//! assert_eq!(DType::FLOAT32.name(), "float32");
//! assert_eq!(DType::FLOAT32.itemsize(), 4);
//! ```

use std::ffi::CStr;

use half::{bf16, f16};
use num_complex::Complex;

/// An array element type: `(code, bits, lanes)`, laid out exactly like the
/// DLPack `DLDataType` (`u8`, `u8`, `u16`), so it can be copied to and from
/// a `DLTensor` field by field.
///
/// Type codes follow DLPack: see [`DType::CODE_INT`] and its siblings.
/// `bool` is code [`DType::CODE_BOOL`] with 8 bits, as NumPy and PyTorch
/// export it.
///
/// ```ignore
/// use ndbind::ndarray::dtype::DType;
///
/// let dt = DType { code: DType::CODE_FLOAT, bits: 64, lanes: 1 };
/// assert_eq!(dt, DType::FLOAT64);
/// assert!(dt.is_float());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(C)]
pub struct DType {
    /// DLPack type code (`kDLInt` = 0, `kDLUInt` = 1, `kDLFloat` = 2,
    /// `kDLBfloat` = 4, `kDLComplex` = 5, `kDLBool` = 6).
    pub code: u8,
    /// Bits per lane (for complex types: both parts together).
    pub bits: u8,
    /// Vector lanes; 1 for the scalar types ndbind supports.
    pub lanes: u16,
}

impl DType {
    /// DLPack `kDLInt`: signed integer.
    ///
    /// ```ignore
    /// assert_eq!(DType::INT32.code, DType::CODE_INT);
    /// ```
    pub const CODE_INT: u8 = 0;
    /// DLPack `kDLUInt`: unsigned integer.
    ///
    /// ```ignore
    /// assert_eq!(DType::UINT8.code, DType::CODE_UINT);
    /// ```
    pub const CODE_UINT: u8 = 1;
    /// DLPack `kDLFloat`: IEEE binary floating point.
    ///
    /// ```ignore
    /// assert_eq!(DType::FLOAT16.code, DType::CODE_FLOAT);
    /// ```
    pub const CODE_FLOAT: u8 = 2;
    /// DLPack `kDLBfloat`: brain floating point.
    ///
    /// ```ignore
    /// assert_eq!(DType::BFLOAT16.code, DType::CODE_BFLOAT);
    /// ```
    pub const CODE_BFLOAT: u8 = 4;
    /// DLPack `kDLComplex`: complex (pair of floats; `bits` is the total).
    ///
    /// ```ignore
    /// assert_eq!(DType::COMPLEX64.code, DType::CODE_COMPLEX);
    /// ```
    pub const CODE_COMPLEX: u8 = 5;
    /// DLPack `kDLBool`: boolean (8 bits).
    ///
    /// ```ignore
    /// assert_eq!(DType::BOOL.code, DType::CODE_BOOL);
    /// ```
    pub const CODE_BOOL: u8 = 6;

    /// `bool` (code 6, 8 bits).
    ///
    /// ```ignore
    /// assert_eq!(DType::BOOL.itemsize(), 1);
    /// ```
    pub const BOOL: DType = DType::new(Self::CODE_BOOL, 8);
    /// `int8`.
    ///
    /// ```ignore
    /// assert_eq!(<i8 as Scalar>::DTYPE, DType::INT8);
    /// ```
    pub const INT8: DType = DType::new(Self::CODE_INT, 8);
    /// `int16`.
    ///
    /// ```ignore
    /// assert_eq!(<i16 as Scalar>::DTYPE, DType::INT16);
    /// ```
    pub const INT16: DType = DType::new(Self::CODE_INT, 16);
    /// `int32`.
    ///
    /// ```ignore
    /// assert_eq!(<i32 as Scalar>::DTYPE, DType::INT32);
    /// ```
    pub const INT32: DType = DType::new(Self::CODE_INT, 32);
    /// `int64`.
    ///
    /// ```ignore
    /// assert_eq!(<i64 as Scalar>::DTYPE, DType::INT64);
    /// ```
    pub const INT64: DType = DType::new(Self::CODE_INT, 64);
    /// `uint8`.
    ///
    /// ```ignore
    /// assert_eq!(<u8 as Scalar>::DTYPE, DType::UINT8);
    /// ```
    pub const UINT8: DType = DType::new(Self::CODE_UINT, 8);
    /// `uint16`.
    ///
    /// ```ignore
    /// assert_eq!(<u16 as Scalar>::DTYPE, DType::UINT16);
    /// ```
    pub const UINT16: DType = DType::new(Self::CODE_UINT, 16);
    /// `uint32`.
    ///
    /// ```ignore
    /// assert_eq!(<u32 as Scalar>::DTYPE, DType::UINT32);
    /// ```
    pub const UINT32: DType = DType::new(Self::CODE_UINT, 32);
    /// `uint64`.
    ///
    /// ```ignore
    /// assert_eq!(<u64 as Scalar>::DTYPE, DType::UINT64);
    /// ```
    pub const UINT64: DType = DType::new(Self::CODE_UINT, 64);
    /// `float16` (IEEE binary16, `half::f16`).
    ///
    /// ```ignore
    /// assert_eq!(<half::f16 as Scalar>::DTYPE, DType::FLOAT16);
    /// ```
    pub const FLOAT16: DType = DType::new(Self::CODE_FLOAT, 16);
    /// `bfloat16` (`half::bf16`).
    ///
    /// ```ignore
    /// assert_eq!(<half::bf16 as Scalar>::DTYPE, DType::BFLOAT16);
    /// ```
    pub const BFLOAT16: DType = DType::new(Self::CODE_BFLOAT, 16);
    /// `float32`.
    ///
    /// ```ignore
    /// assert_eq!(<f32 as Scalar>::DTYPE, DType::FLOAT32);
    /// ```
    pub const FLOAT32: DType = DType::new(Self::CODE_FLOAT, 32);
    /// `float64`.
    ///
    /// ```ignore
    /// assert_eq!(<f64 as Scalar>::DTYPE, DType::FLOAT64);
    /// ```
    pub const FLOAT64: DType = DType::new(Self::CODE_FLOAT, 64);
    /// `complex64` (two `f32`).
    ///
    /// ```ignore
    /// assert_eq!(<num_complex::Complex<f32> as Scalar>::DTYPE, DType::COMPLEX64);
    /// ```
    pub const COMPLEX64: DType = DType::new(Self::CODE_COMPLEX, 64);
    /// `complex128` (two `f64`).
    ///
    /// ```ignore
    /// assert_eq!(<num_complex::Complex<f64> as Scalar>::DTYPE, DType::COMPLEX128);
    /// ```
    pub const COMPLEX128: DType = DType::new(Self::CODE_COMPLEX, 128);

    /// The DLPack `DLDataType` with the same fields.
    #[inline]
    pub const fn to_dl(self) -> ndbind_dlpack::DLDataType {
        ndbind_dlpack::DLDataType { code: self.code, bits: self.bits, lanes: self.lanes }
    }

    /// A scalar (one-lane) dtype from a DLPack type code and a bit width.
    ///
    /// ```ignore
    /// assert_eq!(DType::new(DType::CODE_UINT, 16), DType::UINT16);
    /// ```
    #[inline]
    pub const fn new(code: u8, bits: u8) -> DType {
        DType { code, bits, lanes: 1 }
    }

    /// The NumPy-style name: `"bool"`, `"int8"` … `"uint64"`, `"float16"`,
    /// `"bfloat16"`, `"float32"`, `"float64"`, `"complex64"`,
    /// `"complex128"`; `"unknown"` for anything else (including vectors).
    ///
    /// ```ignore
    /// assert_eq!(DType::UINT32.name(), "uint32");
    /// assert_eq!(DType::new(DType::CODE_FLOAT, 8).name(), "unknown");
    /// ```
    #[inline]
    pub const fn name(self) -> &'static str {
        if self.lanes != 1 {
            return "unknown";
        }
        match (self.code, self.bits) {
            (Self::CODE_BOOL, 8) => "bool",
            (Self::CODE_INT, 8) => "int8",
            (Self::CODE_INT, 16) => "int16",
            (Self::CODE_INT, 32) => "int32",
            (Self::CODE_INT, 64) => "int64",
            (Self::CODE_UINT, 8) => "uint8",
            (Self::CODE_UINT, 16) => "uint16",
            (Self::CODE_UINT, 32) => "uint32",
            (Self::CODE_UINT, 64) => "uint64",
            (Self::CODE_FLOAT, 16) => "float16",
            (Self::CODE_BFLOAT, 16) => "bfloat16",
            (Self::CODE_FLOAT, 32) => "float32",
            (Self::CODE_FLOAT, 64) => "float64",
            (Self::CODE_COMPLEX, 64) => "complex64",
            (Self::CODE_COMPLEX, 128) => "complex128",
            // Defined by DLPack, imported as `AnyDType` only (no Rust
            // scalar type): torch's `complex32` and DLPack 1.1's 8-bit floats.
            (Self::CODE_COMPLEX, 32) => "complex32",
            (7, 8) => "float8_e3m4",
            (8, 8) => "float8_e4m3",
            (9, 8) => "float8_e4m3b11fnuz",
            (10, 8) => "float8_e4m3fn",
            (11, 8) => "float8_e4m3fnuz",
            (12, 8) => "float8_e5m2",
            (13, 8) => "float8_e5m2fnuz",
            (14, 8) => "float8_e8m0fnu",
            _ => "unknown",
        }
    }

    /// The NumPy dtype name; identical to [`DType::name`].
    ///
    /// ```ignore
    /// assert_eq!(DType::BOOL.numpy_name(), "bool");
    /// ```
    #[inline]
    pub const fn numpy_name(self) -> &'static str {
        self.name()
    }

    /// Bytes per element: `bits * lanes / 8` (rounded down; sub-byte
    /// types give 0).
    ///
    /// ```ignore
    /// assert_eq!(DType::COMPLEX128.itemsize(), 16);
    /// ```
    #[inline]
    pub const fn itemsize(self) -> usize {
        self.bits as usize * self.lanes as usize / 8
    }

    /// Whether this is one of the dtypes listed as constants on [`DType`]
    /// (i.e. [`DType::name`] is not `"unknown"`).
    ///
    /// ```ignore
    /// assert!(DType::INT8.is_known());
    /// assert!(!DType { code: 2, bits: 32, lanes: 4 }.is_known());
    /// ```
    #[inline]
    pub const fn is_known(self) -> bool {
        !matches!(self.name().as_bytes(), b"unknown")
    }

    /// `bool`.
    ///
    /// ```ignore
    /// assert!(DType::BOOL.is_bool());
    /// ```
    #[inline]
    pub const fn is_bool(self) -> bool {
        self.code == Self::CODE_BOOL
    }

    /// Signed integer (code `kDLInt`).
    ///
    /// ```ignore
    /// assert!(DType::INT16.is_signed_int() && !DType::UINT16.is_signed_int());
    /// ```
    #[inline]
    pub const fn is_signed_int(self) -> bool {
        self.code == Self::CODE_INT
    }

    /// Unsigned integer (code `kDLUInt`).
    ///
    /// ```ignore
    /// assert!(DType::UINT64.is_unsigned_int());
    /// ```
    #[inline]
    pub const fn is_unsigned_int(self) -> bool {
        self.code == Self::CODE_UINT
    }

    /// Signed or unsigned integer (not `bool`).
    ///
    /// ```ignore
    /// assert!(DType::UINT8.is_integer() && !DType::BOOL.is_integer());
    /// ```
    #[inline]
    pub const fn is_integer(self) -> bool {
        self.is_signed_int() || self.is_unsigned_int()
    }

    /// Real floating point, `bfloat16` included.
    ///
    /// ```ignore
    /// assert!(DType::BFLOAT16.is_float() && !DType::COMPLEX64.is_float());
    /// ```
    #[inline]
    pub const fn is_float(self) -> bool {
        matches!(self.code, Self::CODE_FLOAT | Self::CODE_BFLOAT | 7..=14)
    }

    /// Complex floating point.
    ///
    /// ```ignore
    /// assert!(DType::COMPLEX128.is_complex());
    /// ```
    #[inline]
    pub const fn is_complex(self) -> bool {
        self.code == Self::CODE_COMPLEX
    }

    /// The PEP 3118 format string this dtype is exported with through the
    /// buffer protocol (native byte order, no prefix): `?`, `b`, `B`, `h`,
    /// `H`, `i`, `I`, `q`, `Q`, `e`, `f`, `d`, `Zf`, `Zd`. `None` for
    /// `bfloat16` (which has no PEP 3118 code) and unknown dtypes.
    ///
    /// ```ignore
    /// assert_eq!(DType::INT64.buffer_format(), Some(c"q"));
    /// assert_eq!(DType::BFLOAT16.buffer_format(), None);
    /// ```
    #[inline]
    pub const fn buffer_format(self) -> Option<&'static CStr> {
        if self.lanes != 1 {
            return None;
        }
        Some(match (self.code, self.bits) {
            (Self::CODE_BOOL, 8) => c"?",
            (Self::CODE_INT, 8) => c"b",
            (Self::CODE_INT, 16) => c"h",
            (Self::CODE_INT, 32) => c"i",
            (Self::CODE_INT, 64) => c"q",
            (Self::CODE_UINT, 8) => c"B",
            (Self::CODE_UINT, 16) => c"H",
            (Self::CODE_UINT, 32) => c"I",
            (Self::CODE_UINT, 64) => c"Q",
            (Self::CODE_FLOAT, 16) => c"e",
            (Self::CODE_FLOAT, 32) => c"f",
            (Self::CODE_FLOAT, 64) => c"d",
            (Self::CODE_COMPLEX, 64) => c"Zf",
            (Self::CODE_COMPLEX, 128) => c"Zd",
            _ => return None,
        })
    }
}

/// A Rust type usable as an array element, with its [`DType`].
///
/// Implemented for `bool`, `i8`–`i64`, `u8`–`u64`, [`half::f16`],
/// [`half::bf16`], `f32`, `f64`, `Complex<f32>` and `Complex<f64>`.
///
/// ```ignore
/// use ndbind::ndarray::dtype::{DType, Scalar};
///
/// fn dtype_of<T: Scalar>() -> DType { T::DTYPE }
/// assert_eq!(dtype_of::<u16>(), DType::UINT16);
/// ```
///
/// # Safety
/// ndbind reads and writes array memory of dtype `DTYPE` as `Self` (typed
/// views, exports, zeroed buffers), so an implementation promises:
/// `size_of::<Self>() == DTYPE.itemsize()`; `align_of::<Self>()` is at
/// most the alignment ndbind checks for `DTYPE` (the size of one
/// component, at most 8); every value of `DTYPE` is a valid `Self`
/// (for `DType::BOOL`, ndbind admits the bytes 0 and 1 only; for every
/// other dtype, any bit pattern), and so are all-zero bytes.
pub unsafe trait Scalar: Copy + Send + Sync + 'static {
    /// The dtype of this element type.
    const DTYPE: DType;
}

macro_rules! impl_scalar {
    ($($t:ty => $dt:ident),* $(,)?) => {
        // SAFETY: each type has the size and alignment of its DLPack dtype,
        // and accepts every value of it (bool: 0 and 1, which ndbind checks).
        $(unsafe impl Scalar for $t {
            const DTYPE: DType = DType::$dt;
        })*
    };
}

impl_scalar! {
    bool => BOOL,
    i8 => INT8,
    i16 => INT16,
    i32 => INT32,
    i64 => INT64,
    u8 => UINT8,
    u16 => UINT16,
    u32 => UINT32,
    u64 => UINT64,
    f16 => FLOAT16,
    bf16 => BFLOAT16,
    f32 => FLOAT32,
    f64 => FLOAT64,
    Complex<f32> => COMPLEX64,
    Complex<f64> => COMPLEX128,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(DType, &str, usize); 15] = [
        (DType::BOOL, "bool", 1),
        (DType::INT8, "int8", 1),
        (DType::INT16, "int16", 2),
        (DType::INT32, "int32", 4),
        (DType::INT64, "int64", 8),
        (DType::UINT8, "uint8", 1),
        (DType::UINT16, "uint16", 2),
        (DType::UINT32, "uint32", 4),
        (DType::UINT64, "uint64", 8),
        (DType::FLOAT16, "float16", 2),
        (DType::BFLOAT16, "bfloat16", 2),
        (DType::FLOAT32, "float32", 4),
        (DType::FLOAT64, "float64", 8),
        (DType::COMPLEX64, "complex64", 8),
        (DType::COMPLEX128, "complex128", 16),
    ];

    #[test]
    fn layout_matches_dldatatype() {
        assert_eq!(std::mem::size_of::<DType>(), 4);
        assert_eq!(std::mem::align_of::<DType>(), 2);
        assert_eq!(std::mem::offset_of!(DType, code), 0);
        assert_eq!(std::mem::offset_of!(DType, bits), 1);
        assert_eq!(std::mem::offset_of!(DType, lanes), 2);
    }

    #[test]
    fn codes_are_dlpack() {
        assert_eq!(DType::BOOL, DType { code: 6, bits: 8, lanes: 1 });
        assert_eq!(DType::INT32, DType { code: 0, bits: 32, lanes: 1 });
        assert_eq!(DType::UINT8, DType { code: 1, bits: 8, lanes: 1 });
        assert_eq!(DType::FLOAT64, DType { code: 2, bits: 64, lanes: 1 });
        assert_eq!(DType::BFLOAT16, DType { code: 4, bits: 16, lanes: 1 });
        assert_eq!(DType::COMPLEX64, DType { code: 5, bits: 64, lanes: 1 });
    }

    #[test]
    fn names_and_itemsizes() {
        for (dt, name, size) in ALL {
            assert_eq!(dt.name(), name);
            assert_eq!(dt.numpy_name(), name);
            assert_eq!(dt.itemsize(), size, "{name}");
            assert!(dt.is_known());
        }
    }

    #[test]
    fn all_distinct() {
        for (i, (a, _, _)) in ALL.iter().enumerate() {
            for (b, _, _) in &ALL[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn unknown() {
        let odd = [
            DType::new(DType::CODE_FLOAT, 8),
            DType::new(15, 6),
            DType::new(17, 4),
            DType::new(7, 16),
            DType::new(DType::CODE_INT, 128),
            DType::new(DType::CODE_BOOL, 1),
            DType::new(DType::CODE_BFLOAT, 32),
            DType::new(3, 32), // kDLOpaqueHandle
            DType::new(200, 8),
            DType { code: 2, bits: 32, lanes: 4 },
            DType { code: 2, bits: 32, lanes: 0 },
        ];
        for dt in odd {
            assert_eq!(dt.name(), "unknown", "{dt:?}");
            assert!(!dt.is_known());
            assert_eq!(dt.buffer_format(), None);
        }
        assert_eq!(DType { code: 2, bits: 32, lanes: 4 }.itemsize(), 16);
        assert_eq!(DType::new(DType::CODE_BOOL, 1).itemsize(), 0);
    }

    #[test]
    fn predicates() {
        for (dt, name, _) in ALL {
            assert_eq!(dt.is_bool(), name == "bool");
            assert_eq!(dt.is_signed_int(), name.starts_with("int"));
            assert_eq!(dt.is_unsigned_int(), name.starts_with("uint"));
            assert_eq!(dt.is_integer(), name.contains("int"));
            assert_eq!(dt.is_float(), name.contains("float"));
            assert_eq!(dt.is_complex(), name.starts_with("complex"));
        }
    }

    #[test]
    fn buffer_formats() {
        let expect: [(DType, Option<&CStr>); 15] = [
            (DType::BOOL, Some(c"?")),
            (DType::INT8, Some(c"b")),
            (DType::INT16, Some(c"h")),
            (DType::INT32, Some(c"i")),
            (DType::INT64, Some(c"q")),
            (DType::UINT8, Some(c"B")),
            (DType::UINT16, Some(c"H")),
            (DType::UINT32, Some(c"I")),
            (DType::UINT64, Some(c"Q")),
            (DType::FLOAT16, Some(c"e")),
            (DType::BFLOAT16, None),
            (DType::FLOAT32, Some(c"f")),
            (DType::FLOAT64, Some(c"d")),
            (DType::COMPLEX64, Some(c"Zf")),
            (DType::COMPLEX128, Some(c"Zd")),
        ];
        for (dt, fmt) in expect {
            assert_eq!(dt.buffer_format(), fmt, "{}", dt.name());
        }
    }

    #[test]
    fn buffer_format_round_trips_through_parser() {
        for (dt, _, size) in ALL {
            if let Some(fmt) = dt.buffer_format() {
                let parsed = crate::ndarray::format::parse_format(fmt.to_bytes(), size);
                assert_eq!(parsed, Some(dt), "{}", dt.name());
            }
        }
    }

    #[test]
    fn scalar_impls() {
        fn check<T: Scalar>(dt: DType) {
            assert_eq!(T::DTYPE, dt);
            assert_eq!(std::mem::size_of::<T>(), dt.itemsize());
        }
        check::<bool>(DType::BOOL);
        check::<i8>(DType::INT8);
        check::<i16>(DType::INT16);
        check::<i32>(DType::INT32);
        check::<i64>(DType::INT64);
        check::<u8>(DType::UINT8);
        check::<u16>(DType::UINT16);
        check::<u32>(DType::UINT32);
        check::<u64>(DType::UINT64);
        check::<f16>(DType::FLOAT16);
        check::<bf16>(DType::BFLOAT16);
        check::<f32>(DType::FLOAT32);
        check::<f64>(DType::FLOAT64);
        check::<Complex<f32>>(DType::COMPLEX64);
        check::<Complex<f64>>(DType::COMPLEX128);
    }
}
