//! The array layer: array arguments (import), array returns (export), dtypes
//! and layouts.
