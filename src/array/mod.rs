//! The array layer: array arguments (import), array returns (export), dtypes
//! and layouts.
//!
//! ```
//! use ndbind::array::{CContig, NdArray, Writable};
//! use ndbind::ndarray::{ArrayView, IxDyn};
//! use ndbind::prelude::*;
//!
//! fn sum(a: ArrayView<f64, IxDyn>) -> f64 {
//!     a.sum()
//! }
//! fn double(mut a: NdArray<u8, (CContig, Writable)>) -> PyResult<()> {
//!     a.view_mut()?.mapv_inplace(|v| v.saturating_mul(2));
//!     Ok(())
//! }
//!
//! ndbind::module!(arrays, |m| {
//!     m.def("sum", sum, arg("a"))?;
//!     m.def("double", double, arg("a"))?;
//!     Ok(())
//! });
//! ```

pub(crate) mod dtype;
#[doc(hidden)]
pub mod format;
pub(crate) mod layout;

mod aligned;
mod array_object;
mod check;
mod convert;
mod exchange_api;
mod export;
mod frameworks;
mod handle;
mod import;
mod nd;
mod owner;
mod reasons;
mod requirements;
mod stored;
mod stream;
mod view;

pub use aligned::{Aligned, AlignedBuf, AlignedVec, Init, Uninit, ALIGN};
pub use dtype::{DType, Scalar};
pub use export::{
    ArrayApi, ArrayOut, Capsule, Jax, MemoryView, Numpy, StableData, Target, TensorFlow, Torch,
};
pub use import::{import, is_array};
pub use nd::NdArray;
/// Where an array's memory lives: a DLPack device type and ordinal
/// (`Device::CPU`, `Device::cuda(0)`, `Device::new(DeviceType::ONE_API,
/// 1)`). Returned to Python it is the `(device_type, device_id)` tuple of
/// `__dlpack_device__`.
///
/// ```
/// use ndbind::array::{Device, DeviceType};
/// let d = Device::cuda(1);
/// assert_eq!((d.device_type, d.device_id), (DeviceType::CUDA, 1));
/// assert!(Device::CPU.is_cpu() && !d.is_cpu());
/// assert_eq!(d.to_string(), "kDLCUDA:1");
/// ```
pub use ndbind_dlpack::{DLDevice as Device, DeviceType};
pub use owner::OwnerBox;
pub use requirements::{
    AnyContig, AnyDType, CContig, Cpu, Cuda, FContig, Ndim, ReadOnly, Requirements, Shape, Shape1,
    Shape2, Shape3, Shape4, Writable, ANY,
};
pub use stored::StoredArray;
pub use stream::{NoSync, OnStream, PerThreadStream, Stream, StreamSource};

// Plumbing named in public signatures (trait bounds, associated types), not
// written by bindings.
#[doc(hidden)]
pub use aligned::State;
#[doc(hidden)]
pub use export::TargetKind;
#[doc(hidden)]
pub use handle::ArrayHandle;
#[doc(hidden)]
pub use requirements::{Constraint, DTypeSpec, Order, NO_AXIS};
#[doc(hidden)]
pub use stream::StreamFn;
#[doc(hidden)]
pub use view::ViewCaster;
