//! `ndbind_bench`: exactly the functions of `ndbind_test.bench`
//! (CONFORMANCE.md §5) plus `shape`/`sum_f64`/`scale` (§2), as the peers in
//! `benches/` bind them, and nothing else, so its binary size compares with
//! theirs (`ndbind_test` holds every conformance section). With the `point`
//! feature it also binds the §4 class `Point`, as every peer does; with the
//! `floor` feature it binds nothing (see below).

#![cfg_attr(feature = "floor", allow(dead_code, unused_imports))]

use ndarray::{ArrayView, ArrayViewMut, IxDyn};
use ndbind::array::{AlignedBuf, ArrayOut, CContig, Cpu, Jax, NdArray, Ndim, Numpy, Shape1, Torch, Writable, ANY};
use ndbind::prelude::*;

type Made<F> = PyResult<ArrayOut<F, f32, Shape1<ANY>>>;

/// A new float32 (n,) array over a 64-byte aligned Rust buffer, no copy;
/// contents unspecified (uninitialised, as `np.empty`), so flat in n.
fn make<F: ndbind::array::Target>(n: usize) -> Made<F> {
    ArrayOut::from_uninit(AlignedBuf::uninit(n)?, &[n])
}

#[cfg(feature = "point")]
mod point {
    use ndbind::prelude::*;

    pub struct Point {
        x: f64,
        y: f64,
    }
    ndbind::class!(Point);

    pub fn bind(m: &Module) -> PyResult<()> {
        m.class::<Point>("Point", doc("A point in the plane."))?
            .init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?
            .field("x", |p| &p.x, |p| &mut p.x)?
            .field("y", |p| &p.y, |p| &mut p.y)?
            .def("norm", |p: &Point| p.x.hypot(p.y), ())?
            .repr(|p| format!("Point(x={:?}, y={:?})", p.x, p.y))?;
        Ok(())
    }
}

#[cfg(not(feature = "floor"))]
ndbind::module!(ndbind_bench, |m| {
    m.doc("ndbind's bench-only module (benches/run.py).")?;
    // §5, as in ndbind_test.bench.
    m.def("noop", || (), ())?;
    m.def("add", |a: i64, b: i64| a.checked_add(b).ok_or_else(|| PyErr::overflow_error("add(): overflow")), (arg("a"), arg("b")))?;
    m.def("shape0", |x: NdArray<f32, Ndim<2>>| x.shape()[0], arg("x"))?;
    m.def(
        "ro_sum",
        |x: NdArray<f32, (Ndim<2>, CContig, Cpu)>| -> PyResult<f64> { Ok(x.view()?.iter().map(|&v| v as f64).sum()) },
        arg("x"),
    )?;
    m.def(
        "scale_inplace",
        |mut x: NdArray<f32, (Ndim<1>, CContig, Cpu, Writable)>, f: f32| -> PyResult<()> {
            x.view_mut()?.mapv_inplace(|v| v * f);
            Ok(())
        },
        (arg("x"), arg("f")),
    )?;
    m.def("make_array", make::<Numpy>, arg("n"))?;
    m.def("make_torch", make::<Torch>, arg("n"))?;
    m.def("make_jax", make::<Jax>, arg("n"))?;
    m.def("view_of", |x: NdArray<f32>| x, arg("x"))?;
    // §2's float64 functions, as the peers bind them (any ndim and strides).
    m.def("shape", |x: NdArray<f64>| x.shape().to_vec(), arg("x"))?;
    m.def("sum_f64", |a: ArrayView<f64, IxDyn>| a.sum(), arg("a"))?;
    m.def("scale", |mut a: ArrayViewMut<f64, IxDyn>, f: f64| a *= f, (arg("a"), arg("f")))?;
    #[cfg(feature = "point")]
    point::bind(m)?;
    Ok(())
});

/// The `floor` feature: a module with no bindings, made with the raw C API
/// (ndbind is linked but unused, so the linker drops it). What remains is
/// what any Rust extension module carries: std's panic runtime, whose
/// default hook brings the backtrace printer (gimli, addr2line,
/// rustc-demangle, miniz_oxide), formatting and the allocator glue.
#[cfg(feature = "floor")]
mod floor {
    use ndbind::ffi;

    static mut DEF: ffi::PyModuleDef = ffi::PyModuleDef {
        m_base: ffi::PyModuleDef_HEAD_INIT,
        m_name: c"ndbind_bench".as_ptr(),
        m_doc: std::ptr::null(),
        m_size: 0,
        m_methods: std::ptr::null_mut(),
        m_slots: std::ptr::null_mut(),
        m_traverse: None,
        m_clear: None,
        m_free: None,
    };

    /// # Safety
    /// Called by CPython's import machinery, with the GIL held.
    #[no_mangle]
    pub unsafe extern "C" fn PyInit_ndbind_bench() -> *mut ffi::PyObject {
        // SAFETY: a static module definition, used by CPython only.
        let made = std::panic::catch_unwind(|| unsafe {
            let m = ffi::PyModule_Create(std::ptr::addr_of_mut!(DEF));
            assert!(!m.is_null(), "PyModule_Create failed");
            m
        });
        made.unwrap_or(std::ptr::null_mut())
    }
}
