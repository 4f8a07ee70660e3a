//! Links libpython into this package's *test* executables only, and sets
//! the Python version cfgs.
//!
//! The capsule tests in `tests/` embed an interpreter, so their executables
//! need libpython. pyo3-ffi links it itself unless it is built for an
//! extension module (`extension-module` feature or the
//! `PYO3_BUILD_EXTENSION_MODULE` env var, as maturin does), in which case the
//! test executables would not link. `cargo:rustc-link-arg-tests` applies only
//! to this package's test targets, never to a cdylib or another crate that
//! depends on us, so extension modules stay free of libpython.
//!
//! The interpreter configuration comes from pyo3-ffi's build script
//! (`links = "python"` exports it as `DEP_PYTHON_PYO3_CONFIG`, hex-encoded
//! `key=value` lines), so tests link the same Python that pyo3-ffi was
//! configured for (`PYO3_PYTHON`, else `python3` on PATH). An rpath makes the
//! test executable load that libpython rather than another one on the
//! default search path.

use std::env;

fn unhex(s: &str) -> Option<String> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let bytes = s
        .as_bytes()
        .chunks(2)
        .map(|p| match p {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The version cfgs (`Py_3_12`, `Py_LIMITED_API`, ...) of the
    // interpreter pyo3-ffi was configured for.
    pyo3_build_config::use_pyo3_cfgs();
    if env::var("CARGO_CFG_TARGET_FAMILY").as_deref() != Ok("unix") {
        return; // Windows: pyo3-ffi uses raw-dylib linking; nothing to add.
    }
    let Some(config) = env::var("DEP_PYTHON_PYO3_CONFIG").ok().and_then(|h| unhex(&h)) else {
        return;
    };
    let (mut lib_name, mut lib_dir, mut shared) = (None, None, false);
    for line in config.lines() {
        match line.split_once('=') {
            Some(("lib_name", v)) => lib_name = Some(v.to_owned()),
            Some(("lib_dir", v)) => lib_dir = Some(v.to_owned()),
            Some(("shared", v)) => shared = v == "true",
            _ => {}
        }
    }
    let Some(lib_name) = lib_name else { return };
    if let Some(dir) = &lib_dir {
        println!("cargo:rustc-link-arg-tests=-L{dir}");
        if shared {
            println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
        }
    }
    println!("cargo:rustc-link-arg-tests=-l{lib_name}");
}
