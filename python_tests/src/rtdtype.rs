//! Issue 19 items 4-6: run-time dtypes (`NdArray::view_as`, `ArrayOut`
//! of a run-time `DType`), `AnyContig`, `Shape` of any rank, arrays kept
//! in bound classes (`StoredArray`), and return policies on imported
//! arrays. Submodule `ndbind_test.rtdtype`.

use ndbind::array::{
    AlignedVec, AnyContig, AnyDType, ArrayOut, DType, MemoryView, NdArray, Numpy, Shape,
    StoredArray, Torch, Writable, ANY,
};
use ndbind::class::{gc, Traverse, Visit, VisitStop};
use ndbind::ndarray::{ArrayView, Ix1, Ix2, IxDyn};
use ndbind::prelude::*;

/// The sum of a float32 or float64 matrix, through a run-time dtype check
/// (`TypeError` for anything else).
fn sum2(a: NdArray) -> PyResult<f64> {
    if a.dtype() == DType::FLOAT32 {
        Ok(a.view_as::<f32, Ix2>()?.iter().map(|&x| x as f64).sum())
    } else {
        Ok(a.view_as::<f64, Ix2>()?.sum())
    }
}

/// Sets every element of a float64/int32/bool array of any rank to `v`.
fn fill(mut a: NdArray<AnyDType, Writable>, v: f64) -> PyResult<()> {
    match a.dtype() {
        DType::INT32 => a.view_as_mut::<i32, IxDyn>()?.fill(v as i32),
        DType::BOOL => a.view_as_mut::<bool, IxDyn>()?.fill(v != 0.0),
        _ => a.view_as_mut::<f64, IxDyn>()?.fill(v),
    }
    Ok(())
}

/// A mutable run-time view of `a` while `b` (a view parameter) is lent.
fn fill_while_viewed(
    mut a: NdArray<AnyDType, Writable>,
    b: ArrayView<f64, IxDyn>,
) -> PyResult<f64> {
    a.view_as_mut::<f64, IxDyn>()?.fill(1.0);
    Ok(b.sum())
}

/// Two views of one handle: shared, then mutable after the first is gone.
fn views_in_turn(mut a: NdArray<AnyDType, Writable>) -> PyResult<f64> {
    let s = a.view_as::<f64, Ix1>()?.sum();
    let t = a.view_as::<f64, Ix1>()?.sum();
    a.view_as_mut::<f64, Ix1>()?[0] = s + t;
    Ok(s)
}

fn dtype_of(name: &str) -> PyResult<DType> {
    Ok(match name {
        "float32" => DType::FLOAT32,
        "float64" => DType::FLOAT64,
        "int16" => DType::INT16,
        "bool" => DType::BOOL,
        "complex128" => DType::COMPLEX128,
        "weird" => DType { code: DType::CODE_FLOAT, bits: 32, lanes: 4 },
        _ => return Err(PyErr::value_error("unknown dtype name")),
    })
}

/// `n` elements of the named dtype from `nbytes` zero bytes.
fn zeros(name: &str, n: usize, nbytes: usize) -> PyResult<ArrayOut<Numpy>> {
    ArrayOut::from_bytes(dtype_of(name)?, AlignedVec::zeroed(nbytes)?, &[n])
}

/// Bytes of the named dtype, from a `Vec<u8>` owner, starting at `offset`.
struct Offset(Vec<u8>, usize);
impl AsMut<[u8]> for Offset {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0[self.1..]
    }
}

fn from_bytes_at(
    name: &str,
    data: Vec<u8>,
    offset: usize,
    shape: Vec<usize>,
) -> PyResult<ArrayOut<Torch>> {
    if offset > data.len() {
        return Err(PyErr::value_error("offset past the data"));
    }
    ArrayOut::from_byte_owner(dtype_of(name)?, Offset(data, offset), &shape)
}

/// float32 or float64 `0..n` from one function.
fn ramp(n: usize, wide: bool) -> PyResult<ArrayOut<MemoryView>> {
    Ok(if wide {
        ArrayOut::<MemoryView, f64>::from_vec((0..n).map(|i| i as f64).collect(), &[n])?
            .into_any_dtype()
    } else {
        ArrayOut::<MemoryView, f32>::from_vec((0..n).map(|i| i as f32).collect(), &[n])?
            .into_any_dtype()
    })
}

/// A class keeping an imported array (traversed by the collector).
pub struct Keeper {
    a: Option<StoredArray>,
}

// SAFETY: traverse only reports the array; clear only drops it.
unsafe impl Traverse for Keeper {
    fn traverse(&self, v: &mut Visit<'_>) -> Result<(), VisitStop> {
        self.a.as_ref().map_or(Ok(()), |a| a.visit(v))
    }
    fn clear(&mut self) {
        self.a = None;
    }
}
ndbind::class!(Keeper);

fn bind_keeper(m: &Module) -> PyResult<()> {
    m.class::<Keeper>("Keeper", (gc::<Keeper>(), doc("Keeps one array (any dtype).")))?
        .init(|| Keeper { a: None }, ())?
        .def("store", |k: &mut Keeper, a: NdArray| k.a = Some(StoredArray::new(a)), arg("a"))?
        .def(
            "array",
            |k: &Keeper| -> PyResult<Option<Object>> {
                k.a.as_ref().map(|a| a.object()).transpose()
            },
            doc("The kept array's object, or None."),
        )?
        .def(
            "total",
            |k: &Keeper| -> PyResult<f64> {
                let Some(a) = &k.a else { return Ok(0.0) };
                Ok(a.get()?.view_as::<f64, IxDyn>()?.sum())
            },
            doc("The sum of a kept float64 array."),
        )?
        .def(
            "take",
            |k: &mut Keeper| -> PyResult<Option<NdArray>> {
                k.a.take().map(StoredArray::into_inner).transpose()
            },
            doc("Returns the kept array and forgets it."),
        )?
        .def(
            "take_copy",
            |k: &mut Keeper| k.a.take(),
            (RvPolicy::Copy, doc("Returns a copy of the kept array and forgets it.")),
        )?
        .def(
            "drop_without_gil",
            |k: &mut Keeper| -> bool {
                let a = k.a.take();
                let had = a.is_some();
                // The last reference may go here, on a GIL-free thread
                // state: the drop takes the GIL.
                ndbind::allow_threads(move || drop(a));
                had
            },
            doc("Drops the kept array with the GIL released."),
        )?
        .def(
            "get_without_gil",
            |k: &mut Keeper| -> String {
                let a = k.a.take();
                let (msg, a) = ndbind::allow_threads(move || {
                    let msg = match a.as_ref().map(|a| a.get()) {
                        Some(Err(_)) => "refused".to_owned(),
                        Some(Ok(_)) => "allowed".to_owned(),
                        None => "empty".to_owned(),
                    };
                    (msg, a)
                });
                k.a = a;
                msg
            },
            doc("Tries to reach the kept array with the GIL released."),
        )?
        .def(
            "same_internal",
            |_: &Keeper, a: NdArray| a,
            (arg("a"), RvPolicy::ReferenceInternal),
        )?;
    Ok(())
}

pub fn bind(m: &Module) -> PyResult<()> {
    let m =
        m.submodule("rtdtype", "Run-time dtypes, stored arrays, return policies (issue 19).")?;
    m.def("sum2", sum2, arg("a"))?;
    m.def("fill", fill, (arg("a"), arg("v")))?;
    m.def("fill_while_viewed", fill_while_viewed, (arg("a"), arg("b")))?;
    m.def("views_in_turn", views_in_turn, arg("a"))?;
    m.def(
        "zeros",
        |name: String, n: usize, nbytes: usize| zeros(&name, n, nbytes),
        (arg("dtype"), arg("n"), arg("nbytes")),
    )?;
    m.def(
        "from_bytes_at",
        |name: String, data: Vec<u8>, offset: usize, shape: Vec<usize>| {
            from_bytes_at(&name, data, offset, shape)
        },
        (arg("dtype"), arg("data"), arg("offset"), arg("shape")),
    )?;
    m.def("ramp", ramp, (arg("n"), arg("wide")))?;
    m.def("contig_nbytes", |a: NdArray<f64, AnyContig>| a.nbytes(), arg("a"))?;
    m.def("contig_nbytes_conv", |a: NdArray<f64, AnyContig>| a.nbytes(), arg("a").convert())?;
    m.def("rank6", |a: NdArray<u8, Shape<2, ANY, 1, 1, 1, 3>>| a.ndim(), arg("a"))?;
    m.def("copy_of", |a: NdArray| a, (arg("a"), RvPolicy::Copy))?;
    m.def("same", |a: NdArray| a, arg("a"))?;
    m.def("same_internal", |a: NdArray| a, (arg("a"), RvPolicy::ReferenceInternal))?;
    m.def("stored_copy", |a: NdArray| StoredArray::new(a), (arg("a"), RvPolicy::Copy))?;
    bind_keeper(&m)?;
    Ok(())
}
