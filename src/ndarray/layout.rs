//! Shapes, strides and memory extents of strided arrays: the layout
//! arithmetic of [`ndbind_dlpack::layout`], re-exported (one module does it
//! for DLPack validation, the array layer and the alias check).
//!
//! Shapes and strides are `&[i64]` (the DLPack convention), and strides are
//! counted in **elements**, not bytes. Contiguity follows NumPy's relaxed
//! rules: axes of extent 1 never matter, and an array with a zero extent is
//! contiguous in every order. Nothing here allocates.
//!
//! ```ignore
//! use ndbind::ndarray::layout::*;
//!
//! let shape = [2, 3];
//! let mut strides = [0; 2];
//! fill_c_strides(&shape, &mut strides);
//! assert_eq!(strides, [3, 1]);
//! assert!(is_c_contiguous(&shape, &strides));
//! assert!(!is_f_contiguous(&shape, &strides));
//! ```

pub use ndbind_dlpack::layout::{
    byte_bounds, fill_c_strides, fill_f_strides, is_c_contiguous, is_f_contiguous, ranges_overlap,
    size, strides_from_bytes,
};

pub(crate) use ndbind_dlpack::layout::for_each_offset;
