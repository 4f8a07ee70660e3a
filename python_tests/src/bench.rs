//! CONFORMANCE section 5: `ndbind_test.bench`, the functions every peer in
//! `benches/` binds too. No conversion anywhere.

use ndbind::array::{CContig, Cpu, NdArray, Ndim, Writable};
use ndbind::prelude::*;

pub fn bind(m: &Module) -> PyResult<()> {
    let b = m.submodule("bench", "Functions bound identically by every peer in benches/.")?;
    b.def("noop", || (), ())?;
    b.def(
        "add",
        |a: i64, b: i64| a.checked_add(b).ok_or_else(|| PyErr::overflow_error("add(): overflow")),
        (arg("a"), arg("b")),
    )?;
    b.def("shape0", |x: NdArray<f32, Ndim<2>>| x.shape()[0], arg("x"))?;
    b.def(
        "ro_sum",
        |x: NdArray<f32, (Ndim<2>, CContig, Cpu)>| -> PyResult<f64> {
            Ok(x.view()?.iter().map(|&v| v as f64).sum())
        },
        arg("x"),
    )?;
    b.def(
        "scale_inplace",
        |mut x: NdArray<f32, (Ndim<1>, CContig, Cpu, Writable)>, f: f32| -> PyResult<()> {
            x.view_mut()?.mapv_inplace(|v| v * f);
            Ok(())
        },
        (arg("x"), arg("f")),
    )?;
    b.def("view_of", |x: NdArray<f32>| x, arg("x"))?;
    crate::arrays_out::bind_bench(&b)
}
