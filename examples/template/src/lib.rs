//! `my_ext`: a starting point for an ndbind extension module.

use ndbind::ndarray::{ArrayView, IxDyn};
use ndbind::prelude::*;

/// The sum of a float64 array (NumPy, torch, any buffer), read in place.
fn total(a: ArrayView<f64, IxDyn>) -> f64 {
    a.sum()
}

// The module's name must equal `[lib] name` in Cargo.toml.
ndbind::module!(my_ext, |m| {
    m.doc("My extension.")?;
    m.def("total", total, (arg("a"), doc("The sum of a float64 array.")))?;
    Ok(())
});
