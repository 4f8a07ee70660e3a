//! `pyo3_peer`: the functions of `ndbind_test.bench` (CONFORMANCE.md §5) plus
//! `shape`/`sum_f64`/`scale` (§2) and `Point` (§4), written in plain,
//! idiomatic pyo3 + rust-numpy, so `benches/run.py` can time them side by side.

use numpy::ndarray::Zip;
use numpy::{
    IntoPyArray, PyArray1, PyArrayDyn, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyReadwriteArray1, PyReadwriteArrayDyn, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

#[pyfunction]
fn noop() {}

#[pyfunction]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Any float32 2-D array (read-only accepted) → `x.shape[0]`.
#[pyfunction]
fn shape0(x: PyReadonlyArray2<'_, f32>) -> usize {
    x.shape()[0]
}

/// Read-only float32 2-D C-contiguous array → sum as float.
#[pyfunction]
fn ro_sum(x: PyReadonlyArray2<'_, f32>) -> PyResult<f64> {
    Ok(x.as_slice()?.iter().map(|&v| f64::from(v)).sum())
}

/// Writable float32 1-D C-contiguous array, multiplied in place.
#[pyfunction]
fn scale_inplace(mut x: PyReadwriteArray1<'_, f32>, f: f32) -> PyResult<()> {
    x.as_slice_mut()?.iter_mut().for_each(|v| *v *= f);
    Ok(())
}

/// A new float32 (n,) array that owns a Rust `Vec` (no copy of the data).
#[pyfunction]
fn make_array(py: Python<'_>, n: usize) -> Bound<'_, PyArray1<f32>> {
    vec![0.0f32; n].into_pyarray(py)
}

/// float32 array in, the same object out.
#[pyfunction]
fn view_of(x: Bound<'_, PyArrayDyn<f32>>) -> Bound<'_, PyArrayDyn<f32>> {
    x
}

/// float64 array of any ndim (read-only accepted) → list of extents.
#[pyfunction]
fn shape(x: PyReadonlyArrayDyn<'_, f64>) -> Vec<usize> {
    x.shape().to_vec()
}

/// float64 array of any ndim and strides → sum through an `ndarray` view.
#[pyfunction]
fn sum_f64(x: PyReadonlyArrayDyn<'_, f64>) -> f64 {
    x.as_array().sum()
}

/// Writable float64 array of any ndim and strides, multiplied in place.
#[pyfunction]
fn scale(mut x: PyReadwriteArrayDyn<'_, f64>, f: f64) {
    Zip::from(x.as_array_mut()).for_each(|v| *v *= f);
}

#[pyclass(module = "pyo3_peer")]
struct Point {
    #[pyo3(get, set)]
    x: f64,
    #[pyo3(get, set)]
    y: f64,
}

#[pymethods]
impl Point {
    #[new]
    fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    fn norm(&self) -> f64 {
        self.x.hypot(self.y)
    }

    fn __repr__(&self) -> String {
        format!("Point(x={:?}, y={:?})", self.x, self.y)
    }
}

/// Issue 8's comparison: a subclassable class whose `speak` a Python
/// subclass may override, dispatched from Rust through `call_method0`.
#[pyclass(subclass)]
struct Animal {
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl Animal {
    #[new]
    fn new(name: String) -> Self {
        Animal { name }
    }
    fn speak(&self) -> String {
        "...".to_owned()
    }
}

#[pyfunction]
fn call_speak(a: &Bound<'_, PyAny>) -> PyResult<String> {
    a.call_method0("speak")?.extract()
}

#[pymodule]
fn pyo3_peer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(noop, m)?)?;
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(shape0, m)?)?;
    m.add_function(wrap_pyfunction!(ro_sum, m)?)?;
    m.add_function(wrap_pyfunction!(scale_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(make_array, m)?)?;
    m.add_function(wrap_pyfunction!(view_of, m)?)?;
    m.add_function(wrap_pyfunction!(shape, m)?)?;
    m.add_function(wrap_pyfunction!(sum_f64, m)?)?;
    m.add_function(wrap_pyfunction!(scale, m)?)?;
    m.add_class::<Point>()?;
    m.add_class::<Animal>()?;
    m.add_function(wrap_pyfunction!(call_speak, m)?)?;
    Ok(())
}
