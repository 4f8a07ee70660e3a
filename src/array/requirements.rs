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
    note = "constraints are `CContig`, `FContig`, `Writable`, `ReadOnly`, `Cpu`, `Cuda`, `OnStream<S>`, `Ndim<N>` and `Shape1`-`Shape4` (`ANY` is any extent), `()` for none, or a tuple of up to 5 of them"
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

macro_rules! shape_constraint {
    ($(#[$doc:meta])* $name:ident, $n:expr, $($d:ident),+) => {
        $(#[$doc])*
        pub struct $name<$(const $d: i64),+>;
        impl<$(const $d: i64),+> Constraint for $name<$($d),+> {
            const REQ: Requirements = Requirements { ndim: $n, shape: &[$($d),+], ..Requirements::NONE };
        }
    };
}

shape_constraint!(
    /// Shape `(A,)`; [`ANY`] is a wildcard.
    Shape1, 1, A);
shape_constraint!(
    /// Shape `(A, B)`; [`ANY`] is a wildcard.
    Shape2, 2, A, B);
shape_constraint!(
    /// Shape `(A, B, C)`; [`ANY`] is a wildcard.
    Shape3, 3, A, B, C);
shape_constraint!(
    /// Shape `(A, B, C, D)`; [`ANY`] is a wildcard.
    Shape4, 4, A, B, C, D);

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
    }
}
