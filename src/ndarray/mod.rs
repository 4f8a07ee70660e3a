//! The array layer: array arguments (import), array returns (export), dtypes
//! and layouts.
//!
//! ```ignore
//! use ndbind::ndarray::{NdArray, CContig, Writable};
//! use ndarray::{ArrayView, IxDyn};
//!
//! fn sum(a: ArrayView<f64, IxDyn>) -> f64 { a.sum() }
//! fn double(mut a: NdArray<u8, (CContig, Writable)>) -> PyResult<()> {
//!     a.view_mut()?.mapv_inplace(|v| v.saturating_mul(2));
//!     Ok(())
//! }
//! ```

pub mod dtype;
pub mod format;
pub mod layout;

mod aligned;
mod array;
mod array_object;
mod check;
mod convert;
mod exchange_api;
mod export;
mod frameworks;
mod handle;
mod import;
mod owner;
mod requirements;
mod view;

pub use aligned::{Aligned, AlignedBuf, AlignedVec, Init, State, Uninit, ALIGN};
pub use array::NdArray;
pub use dtype::{DType, Scalar};
pub use export::{
    ArrayApi, ArrayOut, Capsule, Jax, MemoryView, Numpy, StableData, Target, TargetKind,
    TensorFlow, Torch,
};
pub use handle::ArrayHandle;
pub use import::{import, is_array};
pub use owner::OwnerBox;
pub use requirements::{
    AnyDType, CContig, Constraint, Cpu, Cuda, DTypeSpec, FContig, Ndim, Order, ReadOnly,
    Requirements, Shape1, Shape2, Shape3, Shape4, Writable, ANY,
};
pub use view::ViewCaster;
