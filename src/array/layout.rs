//! Shapes, strides and memory extents of strided arrays: the layout
//! arithmetic of [`ndbind_dlpack::layout`] (public there), re-exported for
//! the array layer (one module does it for DLPack validation, the array
//! layer and the alias check).

pub(crate) use ndbind_dlpack::layout::{
    byte_bounds, fill_c_strides, fill_f_strides, strides_from_bytes,
};

pub(crate) use ndbind_dlpack::layout::for_each_offset;
