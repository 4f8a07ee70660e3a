//! DLPack for ndbind: the C ABI, the Python capsule protocol and validation
//! of foreign tensors, on top of raw `pyo3-ffi` (no object model).
//!
//! # DLPack in one paragraph
//! [DLPack](https://dmlc.github.io/dlpack/latest/) is a tiny C ABI that lets
//! array libraries (NumPy, PyTorch, JAX, CuPy, ...) share memory without
//! copying. A [`DLTensor`] describes strided memory (data pointer, device,
//! dtype, shape, strides in elements, byte offset); a *managed* tensor wraps
//! it with a producer context and a `deleter` the consumer calls when done.
//!
//! # Legacy vs versioned capsules
//! In Python, `x.__dlpack__()` returns a `PyCapsule`:
//! * `"dltensor"` holds a legacy [`DLManagedTensor`] (no version, no flags);
//! * `"dltensor_versioned"` (requested with `max_version=(1, x)`) holds a
//!   [`DLManagedTensorVersioned`], which carries a [`DLPackVersion`] and
//!   flags such as [`FLAG_READ_ONLY`]. A consumer must check the major
//!   version before reading anything but the deleter.
//!
//! # Consumption by renaming
//! Ownership moves from the capsule to a consumer when the consumer renames
//! the capsule to `"used_dltensor"` / `"used_dltensor_versioned"`
//! ([`take_legacy`], [`take_versioned`]). The capsule destructor installed by
//! [`new_legacy_capsule`] / [`new_versioned_capsule`] calls the deleter only
//! if the capsule was never consumed; a consumer calls it itself
//! ([`delete_legacy`], [`delete_versioned`]). A capsule can be consumed once.
//!
//! # Fast C exchange (DLPack 1.3)
//! Array types may also publish a [`DLPackExchangeAPI`] function table in a
//! `"dlpack_exchange_api"` capsule stored as
//! `type(x).__dlpack_c_exchange_api__` ([`exchange_api_from_capsule`]).
//!
//! # Validation
//! Never trust a foreign header: [`validate()`] checks it with overflow-checked
//! arithmetic and yields a heap-free [`Layout`] with shape, strides and
//! byte bounds.
//!
//! ```
//! use ndbind_dlpack::{DLDataType, DeviceType, DLPackVersion};
//! assert_eq!(DLDataType::FLOAT32.checked_itemsize(), Some(4));
//! assert_eq!(DeviceType::CPU.0, 1);
//! assert_eq!(DLPackVersion::CURRENT, DLPackVersion { major: 1, minor: 3 });
//! ```

#![warn(missing_docs)]

pub mod abi;
pub mod capsule;
pub mod layout;
pub mod validate;

pub use abi::*;
pub use capsule::{
    capsule_kind, delete_legacy, delete_versioned, exchange_api_from_capsule, new_legacy_capsule,
    new_versioned_capsule, peek_layout, peek_legacy, peek_versioned, preserving_error, take_legacy,
    take_versioned, untake_legacy, untake_versioned, CapsuleKind, EXCHANGE_API_ATTR,
    EXCHANGE_API_NAME, LEGACY_NAME, USED_LEGACY_NAME, USED_VERSIONED_NAME, VERSIONED_NAME,
};
pub use validate::{
    from_trusted, validate, validate_legacy, validate_versioned, InvalidTensor, Layout,
    INLINE_NDIM, MAX_NDIM,
};
