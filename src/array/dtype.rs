//! Element types of arrays: [`DType`] (the DLPack `DLDataType`) and the
//! [`Scalar`] trait mapping Rust element types to it.
//!
//! Pure Rust, no Python API: everything here is `const`-friendly and free of
//! allocation, because dtype checks run on every call that takes an array.
//!
//! ```
//! use ndbind::array::{DType, Scalar};
//!
//! assert_eq!(<f32 as Scalar>::DTYPE, DType::FLOAT32);
//! assert_eq!(DType::FLOAT32.name(), "float32");
//! assert_eq!(DType::FLOAT32.itemsize(), 4);
//! ```

use half::{bf16, f16};
use num_complex::Complex;

/// An array element type: DLPack's `DLDataType` itself (`(code, bits,
/// lanes)`, with NumPy-named constants such as [`DType::FLOAT32`], the
/// `CODE_*` type codes, [`DType::name`], [`DType::itemsize`] and the
/// predicates), under the name the array layer uses.
///
/// ```
/// use ndbind::array::DType;
///
/// let dt = DType { code: DType::CODE_FLOAT, bits: 64, lanes: 1 };
/// assert_eq!(dt, DType::FLOAT64);
/// assert!(dt.is_float());
/// ```
pub use ndbind_dlpack::DLDataType as DType;

/// A Rust type usable as an array element, with its [`DType`].
///
/// Implemented for `bool`, `i8`–`i64`, `u8`–`u64`, [`half::f16`],
/// [`half::bf16`], `f32`, `f64`, `Complex<f32>` and `Complex<f64>`.
///
/// ```
/// use ndbind::array::{DType, Scalar};
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an array element type",
    label = "not a `Scalar`",
    note = "array elements are `bool`, `i8`-`i64`, `u8`-`u64`, `f16`, `bf16`, `f32`, `f64`, `Complex<f32>` and `Complex<f64>` (not `usize`, `isize` or `char`)",
    note = "take `f16`, `bf16` and `Complex` from `ndbind::half` and `ndbind::num_complex`: another version of the `half` or `num-complex` crate makes different types"
)]
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
    use std::ffi::CStr;

    use super::*;

    /// A one-lane dtype from a raw type code.
    fn scalar(code: u8, bits: u8) -> DType {
        DType { code, bits, lanes: 1 }
    }

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
            scalar(DType::CODE_FLOAT, 8),
            scalar(15, 6),
            scalar(17, 4),
            scalar(7, 16),
            scalar(DType::CODE_INT, 128),
            scalar(DType::CODE_BOOL, 1),
            scalar(DType::CODE_BFLOAT, 32),
            scalar(3, 32), // kDLOpaqueHandle
            scalar(200, 8),
            DType { code: 2, bits: 32, lanes: 4 },
            DType { code: 2, bits: 32, lanes: 0 },
        ];
        for dt in odd {
            assert_eq!(dt.name(), "unknown", "{dt:?}");
            assert!(!dt.is_known());
            assert_eq!(dt.buffer_format(), None);
        }
        assert_eq!(DType { code: 2, bits: 32, lanes: 4 }.itemsize(), 16);
        assert_eq!(scalar(DType::CODE_BOOL, 1).itemsize(), 0);
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
                let parsed = crate::array::format::parse_format(fmt.to_bytes(), size);
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
