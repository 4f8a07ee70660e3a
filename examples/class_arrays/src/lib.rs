//! A class owning its array data in Rust (`ndarray::Array2<f64>`, through
//! ndbind's re-export), with zero-copy NumPy views that keep the instance
//! alive, and methods that change the data.

use ndbind::array::{ArrayOut, Numpy, Shape2, ANY};
use ndbind::class::weak_referenceable;
use ndbind::ndarray::Array2;
use ndbind::prelude::*;

/// A `rows × cols` grid of float64 values, owned by Rust.
pub struct Grid {
    data: Array2<f64>,
}

// Instances store the `Grid` value inline.
ndbind::class!(Grid);

type GridView = PyResult<ArrayOut<Numpy, f64, Shape2<ANY, ANY>>>;

impl Grid {
    fn new(rows: usize, cols: usize) -> PyResult<Grid> {
        let n = rows
            .checked_mul(cols)
            .ok_or_else(|| PyErr::overflow_error("Grid: rows * cols overflows"))?;
        // Sizes come from Python: allocate fallibly (`MemoryError`).
        let mut values = Vec::new();
        values.try_reserve_exact(n)?;
        values.resize(n, 0.0);
        let data = Array2::from_shape_vec((rows, cols), values)
            .map_err(|e| PyErr::value_error(e.to_string()))?;
        Ok(Grid { data })
    }

    /// A NumPy array over the grid's own memory.
    fn view(&self) -> GridView {
        let shape = [self.data.nrows(), self.data.ncols()];
        // SAFETY: the elements (shape and strides, in elements, taken from
        // the array itself) live in the `Array2`'s heap buffer as long as
        // the Grid does. The binding uses `RvPolicy::ReferenceInternal`:
        // the NumPy array keeps the Grid alive and borrowed (its `&mut self`
        // methods raise) until the array is gone. Python may write the
        // elements through the array; Rust reads them in `&self` methods,
        // which call no Python code, so no write happens meanwhile.
        unsafe { ArrayOut::from_raw(self.data.as_ptr(), &shape, Some(self.data.strides())) }
    }
}

ndbind::module!(class_arrays, |m| {
    m.doc("ndbind example: a class holding array data.")?;
    m.class::<Grid>("Grid", (doc("A rows x cols grid of float64 values."), weak_referenceable()))?
        .init(Grid::new, (arg("rows"), arg("cols")))?
        .property_readonly("shape", |g: &Grid| (g.data.nrows(), g.data.ncols()))?
        .def(
            "view",
            Grid::view,
            (
                // The returned array keeps `self` alive: the data it
                // points into is the instance's.
                RvPolicy::ReferenceInternal,
                doc("A writable NumPy view of the data (no copy); keeps the Grid alive."),
            ),
        )?
        // `ndarray::Array` goes out as a NumPy array that owns the Rust
        // buffer: the clone is the only copy.
        .def("copy", |g: &Grid| g.data.clone(), doc("An independent NumPy copy of the data."))?
        .def("total", |g: &Grid| g.data.sum(), doc("The sum of all values."))?
        // `&mut self` methods. While a view lives, the Grid is borrowed by
        // it and these raise `RuntimeError`: a Rust `&mut` never aliases
        // memory Python can reach.
        .def(
            "fill",
            |g: &mut Grid, v: f64| g.data.fill(v),
            (arg("value"), doc("Sets every value.")),
        )?
        .def(
            "set",
            |g: &mut Grid, row: usize, col: usize, v: f64| -> PyResult<()> {
                let cell = g.data.get_mut((row, col)).ok_or_else(|| {
                    PyErr::index_error(format!("Grid.set: ({row}, {col}) is out of range"))
                })?;
                *cell = v;
                Ok(())
            },
            (arg("row"), arg("col"), arg("value"), doc("Sets one value.")),
        )?;
    Ok(())
});
