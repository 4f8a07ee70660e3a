//! Version cfgs for the interpreter pyo3-ffi was configured for
//! (`PYO3_PYTHON`): `Py_3_12`, `Py_3_13`, ... (that version and newer),
//! `Py_LIMITED_API` (the `abi3` feature) and `Py_GIL_DISABLED`, read from
//! pyo3-ffi's build script output (`DEP_PYTHON_PYO3_CONFIG`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    pyo3_build_config::use_pyo3_cfgs();
}
