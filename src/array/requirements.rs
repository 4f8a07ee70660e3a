//! What an array parameter requires, stated in its Rust type.
//!
//! ```
//! use ndbind::array::{CContig, Cpu, NdArray, Shape3, Writable, ANY};
//!
//! // float32, shape (3, *, 4), C-contiguous, read-only (the default):
//! fn f(a: NdArray<f32, (Shape3<3, ANY, 4>, CContig)>) {}
//! // uint8, any shape, writable, on the CPU:
//! fn g(a: NdArray<u8, (Writable, Cpu)>) {}
//! # ndbind::module!(doc_ext, |m| {
//! #     m.def("f", f, ndbind::arg("a"))?;
//! #     m.def("g", g, ndbind::arg("a"))?;
//! #     Ok(())
//! # });
//! ```
//! Constraints combine in a tuple, in any order; the combination is a
//! compile-time constant [`Requirements`] record that one non-generic
//! import pipeline checks.

use ndbind_dlpack::DeviceType;

use crate::array::dtype::{DType, Scalar};

/// A wildcard extent in a shape constraint.
pub const ANY: i64 = -1;

/// Memory order a parameter requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Any strides.
    Any,
    /// C-contiguous (row-major).
    C,
    /// Fortran-contiguous (column-major).
    F,
    /// Contiguous in either order, C or Fortran (nanobind's `any_contig`).
    Contig,
}

/// The requirements of one array parameter (or the description of a
/// returned array), as a compact constant record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirements {
    /// Required dtype, if any.
    pub dtype: Option<DType>,
    /// Required number of dimensions (-1: any).
    pub ndim: i32,
    /// Required extents (`ANY` for wildcards); empty: unconstrained.
    pub shape: &'static [i64],
    /// Required memory order.
    pub order: Order,
    /// Required DLPack device type, if any.
    pub device: Option<DeviceType>,
    /// Whether the parameter writes to the array.
    pub writable: bool,
    /// For returned arrays: exported read-only.
    pub read_only: bool,
    /// Where the stream passed to `__dlpack__` for CUDA/ROCm arguments
    /// comes from ([`OnStream`](crate::array::OnStream)); `None`: the
    /// spec's default.
    pub stream: Option<crate::array::stream::StreamFn>,
}

impl Requirements {
    /// No requirement at all: any read-only array.
    pub const NONE: Requirements = Requirements {
        dtype: None,
        ndim: -1,
        shape: &[],
        order: Order::Any,
        device: None,
        writable: false,
        read_only: false,
        stream: None,
    };

    /// Field-wise combination (`other`'s constraints override unset ones).
    pub const fn merge(self, other: Requirements) -> Requirements {
        Requirements {
            dtype: if other.dtype.is_some() { other.dtype } else { self.dtype },
            ndim: if other.ndim >= 0 { other.ndim } else { self.ndim },
            shape: if !other.shape.is_empty() { other.shape } else { self.shape },
            order: match other.order {
                Order::Any => self.order,
                o => o,
            },
            device: if other.device.is_some() { other.device } else { self.device },
            writable: self.writable || other.writable,
            read_only: self.read_only || other.read_only,
            stream: if other.stream.is_some() { other.stream } else { self.stream },
        }
    }

    /// Renders `ndarray[dtype=float32, shape=(3, *, 4), order='C',
    /// device='cpu', writable=False]` (only the constrained fields);
    /// `type_name` replaces `ndarray` (e.g. `numpy.ndarray`).
    pub fn render(&self, type_name: &str, out: &mut String) {
        self.render_with(type_name, Some(self.writable), out)
    }

    /// [`Requirements::render`] for a returned array, whose writability
    /// is `writable` (`None`: unknown, not shown; e.g. an argument
    /// returned as is, writable or not as the caller's array is).
    pub(crate) fn render_returned(
        &self,
        type_name: &str,
        writable: Option<bool>,
        out: &mut String,
    ) {
        self.render_with(type_name, writable, out)
    }

    fn render_with(&self, type_name: &str, writable: Option<bool>, out: &mut String) {
        out.push_str(type_name);
        out.push('[');
        // Each field is followed by ", ": `writable` always comes last.
        if let Some(d) = self.dtype {
            out.push_str("dtype=");
            out.push_str(d.name());
            out.push_str(", ");
        }
        if !self.shape.is_empty() || self.ndim >= 0 {
            out.push_str("shape=(");
            let n = if self.shape.is_empty() { self.ndim as usize } else { self.shape.len() };
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                match self.shape.get(i) {
                    Some(&e) if e >= 0 => crate::core::error::push_decimal(out, e as usize),
                    _ => out.push('*'),
                }
            }
            out.push_str(if n == 1 { ",), " } else { "), " });
        }
        out.push_str(match self.order {
            Order::C => "order='C', ",
            Order::F => "order='F', ",
            Order::Contig => "order='A', ",
            Order::Any => "",
        });
        if let Some(d) = self.device {
            out.push_str("device='");
            out.push_str(device_name(d));
            out.push_str("', ");
        }
        match writable {
            Some(true) => out.push_str("writable=True]"),
            Some(false) => out.push_str("writable=False]"),
            None => {
                // Drop the last field's ", " (no brackets around nothing).
                if out.ends_with('[') {
                    out.pop();
                } else {
                    out.truncate(out.len() - 2);
                    out.push(']');
                }
            }
        }
    }
}

/// The short device name used in signatures (as nanobind writes them).
pub fn device_name(device_type: DeviceType) -> &'static str {
    match device_type {
        DeviceType::CPU => "cpu",
        DeviceType::CUDA => "cuda",
        DeviceType::CUDA_HOST => "cuda_host",
        DeviceType::OPENCL => "opencl",
        DeviceType::VULKAN => "vulkan",
        DeviceType::METAL => "metal",
        DeviceType::ROCM => "rocm",
        DeviceType::ROCM_HOST => "rocm_host",
        DeviceType::CUDA_MANAGED => "cuda_managed",
        DeviceType::ONE_API => "oneapi",
        _ => "unknown",
    }
}

/// One constraint (or a tuple of them) on an array parameter.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an array constraint",
    label = "not a `Constraint`",
    note = "constraints are `CContig`, `FContig`, `AnyContig`, `Writable`, `ReadOnly`, `Cpu`, `Cuda`, `OnStream<S>`, `Ndim<N>` and `Shape<...>` (up to 32 extents; `Shape1`-`Shape4`; `ANY` is any extent), `()` for none, or a tuple of up to 5 of them"
)]
pub trait Constraint {
    /// The requirements this constraint imposes.
    const REQ: Requirements;
}

/// The element type of an array parameter: a [`Scalar`] or [`AnyDType`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an array element type",
    label = "not an element type",
    note = "array elements are `bool`, `i8`-`i64`, `u8`-`u64`, `f16`, `bf16`, `f32`, `f64`, `Complex<f32>` and `Complex<f64>` (not `usize`, `isize` or `char`); `AnyDType` accepts any dtype",
    note = "take `f16`, `bf16` and `Complex` from `ndbind::half` and `ndbind::num_complex`: another version of the `half` or `num-complex` crate makes different types"
)]
pub trait DTypeSpec {
    /// The required dtype, if any.
    const DTYPE: Option<DType>;
}

/// Any dtype (element access then needs a runtime dtype check).
pub struct AnyDType;

impl DTypeSpec for AnyDType {
    const DTYPE: Option<DType> = None;
}

impl<T: Scalar> DTypeSpec for T {
    const DTYPE: Option<DType> = Some(T::DTYPE);
}

impl Constraint for () {
    const REQ: Requirements = Requirements::NONE;
}

macro_rules! constraint {
    ($(#[$doc:meta])* $name:ident, $($field:ident: $value:expr),*) => {
        $(#[$doc])*
        pub struct $name;
        impl Constraint for $name {
            const REQ: Requirements = Requirements { $($field: $value,)* ..Requirements::NONE };
        }
    };
}

constraint!(
    /// C-contiguous (row-major); axes of extent 0 or 1 are tolerated.
    CContig, order: Order::C);
constraint!(
    /// Fortran-contiguous (column-major); axes of extent 0 or 1 are tolerated.
    FContig, order: Order::F);
constraint!(
    /// Contiguous in either order, C or Fortran, never copied to fit
    /// (nanobind's `any_contig`; the signature shows `order='A'`).
    /// A conversion, where allowed, makes a C-contiguous copy.
    ///
    /// ```
    /// use ndbind::array::{AnyContig, NdArray};
    /// use ndbind::prelude::*;
    ///
    /// // Either order is one flat run of memory: its bytes, no copy.
    /// fn nbytes(a: NdArray<f64, AnyContig>) -> usize {
    ///     a.nbytes()
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("nbytes", nbytes, arg("a"))?; Ok(()) });
    /// ```
    AnyContig, order: Order::Contig);
constraint!(
    /// Data on the CPU (DLPack `kDLCPU`).
    Cpu, device: Some(DeviceType::CPU));
constraint!(
    /// Data on a CUDA device (DLPack `kDLCUDA`).
    Cuda, device: Some(DeviceType::CUDA));
constraint!(
    /// The function writes to the array: read-only arrays are refused, and
    /// no converted copy is ever made (the caller's writes would be lost).
    Writable, writable: true);
constraint!(
    /// Parameters: the function only reads the array (the default).
    /// Returned arrays: exported read-only (NumPy `writeable=False`, DLPack
    /// `READ_ONLY`, read-only `memoryview`).
    ReadOnly, read_only: true);

/// Exactly `N` dimensions, any extents.
pub struct Ndim<const N: usize>;
impl<const N: usize> Constraint for Ndim<N> {
    const REQ: Requirements = Requirements { ndim: N as i32, ..Requirements::NONE };
}

/// The default of an unused axis of [`Shape`] (no axis there).
#[doc(hidden)]
pub const NO_AXIS: i64 = i64::MIN;

/// [`Shape`] and its [`Constraint`] over its 32 const parameters (written
/// once here).
macro_rules! shape_type {
    ($(#[$m:meta])* $first:ident $(, $d:ident)*) => {
        $(#[$m])*
        pub struct Shape<const $first: i64 $(, const $d: i64 = NO_AXIS)*>;

        impl<const $first: i64 $(, const $d: i64)*> Shape<$first $(, $d)*> {
            const ALL: &'static [i64; 32] = &[$first $(, $d)*];
            /// The rank: the extents before the first unused axis.
            const NDIM: usize = {
                let mut n = 0;
                while n < 32 && Self::ALL[n] != NO_AXIS {
                    n += 1;
                }
                let mut i = n;
                while i < 32 {
                    assert!(Self::ALL[i] == NO_AXIS, "Shape: an extent follows an unused axis");
                    i += 1;
                }
                n
            };
        }

        impl<const $first: i64 $(, const $d: i64)*> Constraint for Shape<$first $(, $d)*> {
            const REQ: Requirements = Requirements {
                ndim: Self::NDIM as i32,
                shape: Self::ALL.split_at(Self::NDIM).0,
                ..Requirements::NONE
            };
        }
    };
}

shape_type! {
    /// A fixed shape of any rank up to 32: `Shape<3, ANY, 4>` is `(3, *, 4)`,
    /// [`ANY`] a wildcard extent. The rank is the number of extents given.
    /// `Shape1`–`Shape4` are its one- to four-axis names.
    ///
    /// ```
    /// use ndbind::array::{NdArray, Shape, ANY};
    /// use ndbind::prelude::*;
    ///
    /// // A batch of 3-channel 8x8 tiles over time: (t, n, 3, 8, 8).
    /// fn tiles(a: NdArray<u8, Shape<ANY, ANY, 3, 8, 8>>) -> usize {
    ///     a.shape()[0] as usize * a.shape()[1] as usize
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("tiles", tiles, arg("a"))?; Ok(()) });
    /// ```
    D0, D1, D2, D3, D4, D5, D6, D7, D8, D9, D10, D11, D12, D13, D14, D15, D16, D17, D18, D19, D20, D21, D22, D23, D24, D25, D26, D27, D28, D29, D30, D31
}

/// Shape `(A,)`; [`ANY`] is a wildcard (a [`Shape`]).
pub type Shape1<const A: i64> = Shape<A>;
/// Shape `(A, B)`; [`ANY`] is a wildcard (a [`Shape`]).
pub type Shape2<const A: i64, const B: i64> = Shape<A, B>;
/// Shape `(A, B, C)`; [`ANY`] is a wildcard (a [`Shape`]).
pub type Shape3<const A: i64, const B: i64, const C: i64> = Shape<A, B, C>;
/// Shape `(A, B, C, D)`; [`ANY`] is a wildcard (a [`Shape`]).
pub type Shape4<const A: i64, const B: i64, const C: i64, const D: i64> = Shape<A, B, C, D>;

macro_rules! constraint_tuple {
    ($($T:ident),+) => {
        impl<$($T: Constraint),+> Constraint for ($($T,)+) {
            const REQ: Requirements = {
                let r = Requirements::NONE;
                $( let r = r.merge($T::REQ); )+
                r
            };
        }
    };
}
constraint_tuple!(A);
constraint_tuple!(A, B);
constraint_tuple!(A, B, C);
constraint_tuple!(A, B, C, D);
constraint_tuple!(A, B, C, D, E);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_merge_in_any_order() {
        type R = (Writable, Shape3<3, ANY, 4>, CContig);
        let r = <R as Constraint>::REQ;
        assert!(r.writable);
        assert_eq!(r.ndim, 3);
        assert_eq!(r.shape, &[3, ANY, 4]);
        assert_eq!(r.order, Order::C);
        assert_eq!(
            <(CContig, Writable) as Constraint>::REQ,
            <(Writable, CContig) as Constraint>::REQ
        );
    }

    #[test]
    fn renders_like_nanobind() {
        let r = Requirements {
            dtype: Some(DType::FLOAT32),
            device: Some(DeviceType::CPU),
            ..<(Shape3<3, ANY, 4>, CContig)>::REQ
        };
        let mut s = String::new();
        r.render("ndarray", &mut s);
        assert_eq!(
            s,
            "ndarray[dtype=float32, shape=(3, *, 4), order='C', device='cpu', writable=False]"
        );
        let mut s = String::new();
        Requirements::NONE.render("ndarray", &mut s);
        assert_eq!(s, "ndarray[writable=False]");
        let mut s = String::new();
        <(Ndim<1>, Writable)>::REQ.render("ndarray", &mut s);
        assert_eq!(s, "ndarray[shape=(*,), writable=True]");
        let mut s = String::new();
        <(Ndim<1>, CContig)>::REQ.render_returned("ndarray", None, &mut s);
        assert_eq!(s, "ndarray[shape=(*,), order='C']");
        let mut s = String::new();
        Requirements::NONE.render_returned("ndarray", None, &mut s);
        assert_eq!(s, "ndarray");
        let mut s = String::new();
        <(Shape<2, ANY, 3, 4, 5, 6>, AnyContig)>::REQ.render("ndarray", &mut s);
        assert_eq!(s, "ndarray[shape=(2, *, 3, 4, 5, 6), order='A', writable=False]");
    }

    #[test]
    fn shapes_of_any_rank() {
        assert_eq!(<Shape1<7>>::REQ.shape, &[7]);
        assert_eq!(<Shape4<1, 2, 3, ANY>>::REQ.ndim, 4);
        type Big = Shape<
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
            12,
            13,
            14,
            15,
            16,
            17,
            18,
            19,
            20,
            21,
            22,
            23,
            24,
            25,
            26,
            27,
            28,
            29,
            30,
            31,
            32,
        >;
        assert_eq!(Big::REQ.ndim, 32);
        assert_eq!(Big::REQ.shape[31], 32);
    }
}
