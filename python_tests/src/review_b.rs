//! `ndbind_test.review_b`: regression bindings from the array-layer review.

use ndbind::array::{AlignedVec, ArrayApi, ArrayOut, DType, Jax, MemoryView, Numpy, Target};
use ndbind::prelude::*;

/// An empty float32 array of `shape` (a zero extent somewhere) for `F`.
fn empty<F: Target>(shape: Vec<usize>) -> PyResult<ArrayOut<F>> {
    ArrayOut::from_bytes(DType::FLOAT32, AlignedVec::zeroed(0)?, &shape)
}

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("review_b", "Regressions found reviewing the array layer.")?;
    m.def("empty_numpy", empty::<Numpy>, arg("shape"))?;
    m.def("empty_memoryview", empty::<MemoryView>, arg("shape"))?;
    m.def("empty_array", empty::<ArrayApi>, arg("shape"))?;
    m.def("empty_jax", empty::<Jax>, arg("shape"))?;
    Ok(())
}
