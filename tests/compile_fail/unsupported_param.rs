// Borrowed parameter types ndbind has no caster for: `&String`,
// `&Vec<f64>` and `&[f64]` (take `&str`, `Vec<f64>` or `ArrayView1<f64>`).
use ndbind::prelude::*;

fn len(s: &String) -> usize {
    s.len()
}

fn total(v: &Vec<f64>) -> f64 {
    v.iter().sum()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

ndbind::module!(numbers, |m| {
    m.def("len", len, arg("s"))?;
    m.def("total", total, arg("v"))?;
    m.def("mean", mean, arg("v"))?;
    Ok(())
});

fn main() {}
