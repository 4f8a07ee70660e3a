//! Process-wide state of the library: types and exceptions it creates once.

use pyo3_ffi as ffi;

use crate::core::gil_cell::GilCell;
use crate::core::object::Object;

static PANIC_EXC: GilCell<Option<Object>> = GilCell::new();

/// `ndbind.PanicException` (a `RuntimeError` subclass): raised when Rust
/// code panics inside a bound function. Created on first use.
pub(crate) fn panic_exception() -> Option<*mut ffi::PyObject> {
    PANIC_EXC
        .get_or_init(|| {
            // SAFETY: creating an exception class with a valid dotted name
            // and a builtin base; a failure is cleared (RuntimeError stands in).
            unsafe {
                let t = ffi::PyErr_NewExceptionWithDoc(
                    c"ndbind.PanicException".as_ptr(),
                    c"A Rust panic inside a bound function.".as_ptr(),
                    ffi::PyExc_RuntimeError,
                    std::ptr::null_mut(),
                );
                if t.is_null() {
                    ffi::PyErr_Clear();
                }
                Object::from_owned(t)
            }
        })
        .as_ref()
        .map(Object::as_ptr)
}

/// Creates the library's types eagerly at module init, so that no call
/// path has to.
pub(crate) fn init() {
    let _ = panic_exception();
}

/// Interned `str` constant, created once: `interned!(c"__dlpack__")`.
/// ndbind's own (its paths are crate-private).
#[doc(hidden)]
#[macro_export]
macro_rules! interned {
    ($s:expr) => {{
        static CELL: $crate::__core::gil_cell::GilCell<$crate::Object> =
            $crate::__core::gil_cell::GilCell::new();
        CELL.get_or_init(|| $crate::Object::intern_held($s).expect("interning a constant string"))
            .borrow()
    }};
}
