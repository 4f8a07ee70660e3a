//! The array layer: array arguments (import), array returns (export), dtypes
//! and layouts.
pub mod dtype;
pub mod format;
pub mod layout;
