//! `ndbind_test.reasons`: mismatch errors that say why an array argument
//! was refused, and return annotations that tell the truth.

use ndarray::{ArrayView1, ArrayViewMut1};
use ndbind::array::{
    ArrayOut, CContig, Cpu, Cuda, FContig, Jax, NdArray, Ndim, Numpy, ReadOnly, Shape3, Writable,
    ANY,
};
use ndbind::prelude::*;

pub fn bind(m: &Module) -> PyResult<()> {
    let r = m.submodule("reasons", "Why array arguments are refused.")?;
    // One refusal each. (No parameter type of `bench` is repeated here:
    // a second user of the same type may change how the bench's call
    // shells are compiled, and so what they measure.)
    r.def("f32", |_: NdArray<f32>| (), arg("a"))?;
    r.def("shape_3x5", |_: NdArray<f32, Shape3<3, ANY, 5>>| (), arg("a"))?;
    r.def("ndim3", |_: NdArray<f32, Ndim<3>>| (), arg("a"))?;
    r.def("c_order", |_: NdArray<f32, CContig>| (), arg("a"))?;
    r.def("f_order", |_: NdArray<f32, FContig>| (), arg("a"))?;
    r.def("on_cuda", |_: NdArray<f32, Cuda>| (), arg("a"))?;
    r.def("on_cpu", |_: NdArray<f32, Cpu>| (), arg("a"))?;
    r.def("writable", |_: NdArray<f32, Writable>| (), arg("a"))?;
    r.def("view", |a: ArrayView1<f32>| a.len(), arg("a"))?;
    r.def("view_mut", |a: ArrayViewMut1<f32>| a.len(), arg("a"))?;
    r.def("bools", |_: NdArray<bool>| (), arg("a"))?;
    r.def("maybe", |a: Option<NdArray<f32>>| a.is_some(), arg("a").none())?;
    // Conversion allowed for `a` (a dtype it fixes is no refusal), never
    // for the writable `out`.
    r.def(
        "convert_into",
        |_: NdArray<f32, CContig>, _: NdArray<f32, Writable>| (),
        (arg("a").convert(), arg("out")),
    )?;
    // Several overloads, and keywords.
    r.def("pick", |_: NdArray<f32>, _: i64| "f32", (arg("a"), arg("n")))?;
    r.def("pick", |_: NdArray<f64, Ndim<1>>, _: i64| "f64", (arg("a"), arg("n")))?;
    r.def("two", |_: NdArray<f32>, _: NdArray<f64>| (), (arg("a"), arg("b")))?;
    // Return annotations.
    r.def("same", |a: NdArray<f32>| a, arg("a"))?;
    r.def("same_writable", |a: NdArray<f32, Writable>| a, arg("a"))?;
    r.def(
        "to_jax",
        || -> PyResult<ArrayOut<Jax, f32>> { ArrayOut::from_vec(vec![1.0, 2.0], &[2]) },
        (),
    )?;
    r.def(
        "to_numpy",
        || -> PyResult<ArrayOut<Numpy, f32>> { ArrayOut::from_vec(vec![1.0, 2.0], &[2]) },
        (),
    )?;
    r.def(
        "to_numpy_ro",
        || -> PyResult<ArrayOut<Numpy, f32, ReadOnly>> { ArrayOut::from_vec(vec![1.0], &[1]) },
        (),
    )?;
    Ok(())
}
