//! CONFORMANCE section 2: array arguments (import).

use half::{bf16, f16};
use ndarray::{ArrayView, ArrayView1, ArrayViewMut, ArrayViewMut1, IxDyn};
use ndbind::array::{
    is_array, AnyDType, CContig, Cpu, Cuda, FContig, NdArray, Ndim, Shape2, Shape3, Writable, ANY,
};
use ndbind::prelude::*;
use num_complex::{Complex32, Complex64};

/// Any array, read-only accepted.
type Any = NdArray;

fn fill<T: Copy>(a: &mut ArrayViewMut<'_, T, IxDyn>, f: impl Fn(usize) -> T) {
    // `iter_mut` walks in logical (C) order whatever the strides.
    for (i, x) in a.iter_mut().enumerate() {
        *x = f(i);
    }
}

pub fn bind(m: &Module) -> PyResult<()> {
    m.def("shape", |a: Any| a.dim(), arg("a"))?;
    m.def("strides", |a: Any| a.strides().to_vec(), arg("a"))?;
    m.def("dtype_name", |a: Any| a.dtype().name(), arg("a"))?;
    m.def("device", |a: Any| a.device(), arg("a"))?;
    m.def("ndim", |a: Any| a.ndim(), arg("a"))?;
    m.def("size", |a: Any| a.size(), arg("a"))?;
    m.def("itemsize", |a: Any| a.itemsize(), arg("a"))?;
    m.def("nbytes", |a: Any| a.nbytes(), arg("a"))?;
    m.def("is_valid", |a: Option<Any>| a.is_some(), arg("a").default(()))?;
    m.def("is_array", |obj: Borrowed<'_>| is_array(obj), arg("obj"))?;

    m.def("pass_f32", |_: NdArray<f32, Writable>| (), arg("a"))?;
    m.def("pass_u32", |_: NdArray<u32, Writable>| (), arg("a"))?;
    m.def("pass_bool", |_: NdArray<bool, Writable>| (), arg("a"))?;
    // Beyond CONFORMANCE: a `&[u8]` next to a mutable view (`bytes` can be
    // wrapped writable: `torch.frombuffer`), alias-checked like an array.
    m.def(
        "xor_into",
        |key: &[u8], mut out: ArrayViewMut1<u8>| {
            if !key.is_empty() {
                out.iter_mut().enumerate().for_each(|(i, x)| *x ^= key[i % key.len()]);
            }
        },
        (arg("key"), arg("out")),
    )?;
    m.def("pass_c64", |_: NdArray<Complex32, Writable>| (), arg("a"))?;
    m.def("pass_f16", |_: NdArray<f16, Writable>| (), arg("a"))?;
    m.def("pass_bf16", |_: NdArray<bf16, Writable>| (), arg("a"))?;
    m.def("pass_f32_ro", |_: NdArray<f32>| (), arg("a"))?;
    m.def("pass_c64_ro", |_: NdArray<Complex32>| (), arg("a"))?;
    m.def("pass_shape_3x_x4", |_: NdArray<f32, Shape3<3, ANY, 4>>| (), arg("a"))?;
    m.def("pass_c3", |_: NdArray<f32, (Ndim<3>, CContig)>| (), arg("a"))?;
    m.def("pass_f2", |_: NdArray<f32, (Ndim<2>, FContig)>| (), arg("a"))?;

    m.def("order", |_: NdArray<AnyDType, CContig>| "C", arg("a"))?;
    m.def("order", |_: NdArray<AnyDType, FContig>| "F", arg("a"))?;
    m.def("order", |_: Any| "?", arg("a"))?;
    m.def("device_kind", |_: NdArray<AnyDType, Cpu>| "cpu", arg("a"))?;
    m.def("device_kind", |_: NdArray<AnyDType, Cuda>| "cuda", arg("a"))?;

    type Square = NdArray<f32, (Shape2<2, 2>, CContig)>;
    let sum = |a: Square| -> PyResult<f64> { Ok(a.view()?.iter().map(|&x| x as f64).sum()) };
    m.def("implicit", sum, arg("a").convert())?;
    m.def("noimplicit", sum, arg("a"))?;
    m.def("make_contig", |a: NdArray<f32, CContig>| a, arg("a").convert())?;

    m.def(
        "fill_arange",
        |mut a: NdArray<u8, (Ndim<1>, Writable)>| -> PyResult<()> {
            fill(&mut a.view_mut()?, |i| i as u8);
            Ok(())
        },
        arg("a"),
    )?;
    m.def(
        "fill_arange",
        |mut a: NdArray<f32, (Ndim<1>, Writable)>| -> PyResult<()> {
            fill(&mut a.view_mut()?, |i| i as f32);
            Ok(())
        },
        arg("a"),
    )?;
    m.def(
        "fill_arange",
        |mut a: NdArray<f32, (Shape2<10, ANY>, Writable)>| -> PyResult<()> {
            fill(&mut a.view_mut()?, |i| i as f32);
            Ok(())
        },
        arg("a"),
    )?;
    m.def(
        "double_pixels",
        |mut a: NdArray<u8, (Shape3<ANY, ANY, 3>, CContig, Writable)>| -> PyResult<()> {
            a.view_mut()?.mapv_inplace(|v| v.saturating_mul(2));
            Ok(())
        },
        arg("a"),
    )?;
    m.def("sum_f64", |a: ArrayView<f64, IxDyn>| a.sum(), arg("a"))?;
    m.def("scale", |mut a: ArrayViewMut<f64, IxDyn>, f: f64| a *= f, (arg("a"), arg("f")))?;
    m.def(
        "add_into",
        |a: ArrayView1<f64>, b: ArrayView1<f64>, mut out: ArrayViewMut1<f64>| -> PyResult<()> {
            if a.len() != b.len() || a.len() != out.len() {
                return Err(PyErr::value_error(format!(
                    "add_into: lengths differ ({}, {}, {})",
                    a.len(),
                    b.len(),
                    out.len()
                )));
            }
            ndarray::Zip::from(&mut out).and(&a).and(&b).for_each(|o, &x, &y| *o = x + y);
            Ok(())
        },
        (arg("a"), arg("b"), arg("out")),
    )?;
    m.def(
        "set_first",
        |mut a: NdArray<f64, (Ndim<1>, CContig, Writable)>, v: f64| -> PyResult<()> {
            set0(&mut a.view_mut()?, v)
        },
        (arg("a"), arg("v")),
    )?;
    m.def(
        "set_first",
        |mut a: NdArray<Complex64, (Ndim<1>, CContig, Writable)>, v: Complex64| -> PyResult<()> {
            set0(&mut a.view_mut()?, v)
        },
        (arg("a"), arg("v")),
    )?;
    // Extras: the GIL released while Rust runs (Module::def_nogil).
    m.def_nogil("sum_f64_nogil", |a: ArrayView<f64, IxDyn>| a.sum(), arg("a"))?;
    m.def_nogil(
        "nogil_sleep",
        |ms: u64| std::thread::sleep(std::time::Duration::from_millis(ms)),
        arg("ms"),
    )?;
    m.def_nogil(
        "scale_nogil",
        |mut a: ArrayViewMut<f64, IxDyn>, f: f64| a *= f,
        (arg("a"), arg("f")),
    )?;
    m.def(
        "gil_sleep",
        |ms: u64| std::thread::sleep(std::time::Duration::from_millis(ms)),
        arg("ms"),
    )?;
    m.def_nogil(
        "hold_view_nogil",
        |a: ArrayViewMut<f64, IxDyn>, ms: u64| {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            a.len()
        },
        (arg("a"), arg("ms")),
    )?;
    bind_stash(m)
}

// Beyond CONFORMANCE: writable arrays kept by Rust after their call, whose
// views must never alias another view of the same memory.
thread_local! {
    static STASH: std::cell::RefCell<Vec<NdArray<f64, Writable>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on the stashed arrays (taken out while it runs: `f` may call
/// back into Python, which may use the stash again).
fn with_stash<R>(f: impl FnOnce(&mut [NdArray<f64, Writable>]) -> PyResult<R>) -> PyResult<R> {
    let mut arrays = STASH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if arrays.is_empty() {
        return Err(PyErr::runtime_error("nothing stashed"));
    }
    let r = f(&mut arrays);
    // Kept handles: their views are gone, their memory free to lend again.
    arrays.iter_mut().for_each(NdArray::release_views);
    STASH.with(|s| {
        let mut s = s.borrow_mut();
        arrays.append(&mut s);
        *s = arrays;
    });
    r
}

fn bind_stash(m: &Module) -> PyResult<()> {
    m.def(
        "stash_array",
        |a: NdArray<f64, Writable>| STASH.with(|s| s.borrow_mut().push(a)),
        arg("a"),
    )?;
    m.def("unstash_arrays", || STASH.with(|s| std::mem::take(&mut *s.borrow_mut()).len()), ())?;
    m.def(
        "stash_fill",
        |v: f64| {
            with_stash(|a| {
                a[0].view_mut()?.fill(v);
                Ok(())
            })
        },
        arg("v"),
    )?;
    // Mutable views of the first two stashed arrays at once.
    m.def(
        "stash_fill_both",
        |v: f64| {
            with_stash(|a| {
                let [x, y, ..] = a else { return Err(PyErr::runtime_error("stash two arrays")) };
                let (mut vx, mut vy) = (x.view_mut()?, y.view_mut()?);
                vx.fill(v);
                vy.fill(v);
                Ok(())
            })
        },
        arg("v"),
    )?;
    // Calls `f` while a mutable view of the first stashed array is live.
    m.def(
        "stash_fill_calling",
        |v: f64, f: Borrowed<'_>| -> PyResult<()> {
            with_stash(|a| {
                let mut view = a[0].view_mut()?;
                f.call(&[])?;
                view.fill(v);
                Ok(())
            })
        },
        (arg("v"), arg("f")),
    )?;
    // A view parameter together with a view of the first stashed array.
    m.def(
        "stash_sum_with",
        |b: ArrayView1<f64>| with_stash(|a| Ok(a[0].view()?.sum() + b.sum())),
        arg("b"),
    )?;
    m.def(
        "stash_fill_with",
        |b: ArrayView1<f64>| -> PyResult<f64> {
            with_stash(|a| {
                a[0].view_mut()?.fill(1.0);
                Ok(b.sum())
            })
        },
        arg("b"),
    )?;
    m.def("stash_get", |i: usize| with_stash(|a| Ok(a[0].get(&[i]))), arg("i"))?;
    // A bool array kept across calls: Python may store other bytes in it.
    thread_local! {
        static BOOLS: std::cell::RefCell<Option<NdArray<bool>>> = const { std::cell::RefCell::new(None) };
    }
    m.def("stash_bools", |a: Option<NdArray<bool>>| BOOLS.with(|s| *s.borrow_mut() = a), arg("a"))?;
    m.def(
        "stashed_bools_all",
        || -> PyResult<bool> {
            BOOLS.with(|s| match s.borrow().as_ref() {
                Some(a) => Ok(a.view()?.iter().all(|&b| b)),
                None => Err(PyErr::runtime_error("nothing stashed")),
            })
        },
        (),
    )?;
    m.def(
        "stashed_bool",
        |i: usize| BOOLS.with(|s| s.borrow().as_ref().and_then(|a| a.get(&[i]))),
        arg("i"),
    )?;
    Ok(())
}

fn set0<T: Copy>(a: &mut ArrayViewMut<'_, T, IxDyn>, v: T) -> PyResult<()> {
    match a.iter_mut().next() {
        Some(x) => {
            *x = v;
            Ok(())
        }
        None => Err(PyErr::index_error("set_first: empty array")),
    }
}
