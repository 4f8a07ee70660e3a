//! Bound functions: one generic call shell per bound callable (`bind`:
//! functions, methods, constructors, `def_ref` methods) fills a compact
//! record (`FuncRecord`); one non-generic core dispatches calls
//! (vectorcall, overloads, keywords, defaults) and renders signatures.

pub mod bind;
mod dispatch;
pub(crate) mod func_type;
pub(crate) mod record;
mod signature;

pub use bind::IntoFunction;
pub(crate) use func_type::{define, define_in};
pub use record::{FuncKind, FuncParts};

/// A function object of its own, for a Rust closure returned to Python
/// (`ndbind::function`): one overload, `__name__` and `__qualname__`
/// `name`, `__module__` `module` (`None` when absent). Made by `define`
/// in a scratch module that is then dropped, so it is built exactly as a
/// module's functions are; nothing else can add overloads to it.
pub(crate) fn standalone(
    name: &str,
    module: Option<&str>,
    parts: FuncParts,
    extras: crate::core::extras::FuncExtras,
) -> crate::core::error::PyResult<crate::core::object::Object> {
    use crate::core::object::Object;
    // SAFETY: a NUL-terminated name; the GIL is held (callers check it).
    let scratch =
        unsafe { Object::from_owned_or_err(pyo3_ffi::PyModule_New(c"ndbind.function".as_ptr()))? };
    let module = module.map(Object::str_held).transpose()?;
    let f = define(scratch.borrow(), "", name, parts, extras)?;
    func_type::as_func(f.borrow()).expect("a function just made").module = module;
    Ok(f)
}
