//! Extension modules: the `PyInit_*` entry point, functions, submodules,
//! attributes and exception classes.

use std::ffi::{CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3_ffi as ffi;

use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::error::{panic_to_pyerr, ExceptionType, PyErr, PyResult};
use crate::core::extras::{Extra, FuncExtras};
use crate::core::func::{FuncParts, IntoFunction};
use crate::core::object::{Borrowed, Object};

/// A Python module under construction (or any module object).
///
/// ```
/// # use ndbind::prelude::*;
/// ndbind::module!(my_ext, |m| {
///     m.def("add", |a: i64, b: i64| a + b, (arg("a"), arg("b")))?;
///     let sub = m.submodule("extra", "More functions.")?; // my_ext.extra
///     sub.def("noop", || (), ())?;
///     Ok(())
/// });
/// ```
pub struct Module {
    obj: Object,
    /// The public dotted name (`pkg.sub`), which names functions'
    /// `__module__` and exception classes. It can differ from `__name__`
    /// when a build tool nests the extension inside a package of that name.
    name: String,
}

impl Module {
    /// Wraps an existing module object, named by its `__name__`.
    pub fn from_object(obj: Object) -> PyResult<Module> {
        let name = obj.borrow().getattr(c"__name__")?.borrow().to_str()?.to_owned();
        Ok(Module { obj, name })
    }

    /// The public dotted name of the module.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The module object.
    pub fn as_object(&self) -> &Object {
        &self.obj
    }

    /// Binds `f` as function `name`. Binding the same name again adds an
    /// overload; overloads are tried in the order they were added.
    pub fn def<M, F: IntoFunction<M>>(
        &self,
        name: &str,
        f: F,
        extras: impl Extra,
    ) -> PyResult<&Self> {
        self.def_parts(name, f.into_parts(), extras.into_extras())
    }

    /// The non-generic part of [`Module::def`].
    #[inline(never)]
    fn def_parts(&self, name: &str, parts: FuncParts, extras: FuncExtras) -> PyResult<&Self> {
        crate::core::func::define(self.obj.borrow(), &self.name, name, parts, extras)?;
        Ok(self)
    }

    /// Binds `f` as function `name`, run with the GIL released (other Python
    /// threads progress meanwhile): for long computations on array views.
    /// Arguments are loaded and the result converted with the GIL held;
    /// in between, `f` runs as inside [`crate::allow_threads`]. Every
    /// parameter type must be `Send` (no `Object`, `Borrowed`, `NdArray`:
    /// take array views, plain values, `&str`) and `f` must be `Sync`
    /// (Python threads may run it at once), so no Python handle reaches
    /// the GIL-free section. To release the GIL for only part of a
    /// function, bind it with [`Module::def`] and call
    /// [`crate::allow_threads`] inside.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # use ndbind::ndarray::{ArrayView, IxDyn};
    /// # ndbind::module!(doc_ext, |m| {
    /// m.def_nogil("total", |a: ArrayView<f64, IxDyn>| a.sum(), arg("a"))?;
    /// # Ok(())
    /// # });
    /// ```
    ///
    /// A parameter that holds a Python object does not compile:
    ///
    /// ```compile_fail,E0277
    /// # use ndbind::prelude::*;
    /// # ndbind::module!(doc_ext, |m| {
    /// m.def_nogil("name", |o: Object| o.borrow().type_name(), arg("o"))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def_nogil<M, F: crate::core::func::bind::IntoNoGilFunction<M>>(
        &self,
        name: &str,
        f: F,
        extras: impl Extra,
    ) -> PyResult<&Self> {
        self.def_parts(name, f.into_parts(), extras.into_extras())
    }

    /// Declares that this module relies on the GIL (free-threaded Python
    /// only; elsewhere nothing changes). An ndbind module declares that it
    /// does not (CPython's `Py_MOD_GIL_NOT_USED`): ndbind's own state is
    /// thread-safe there, and the Rust types it binds must be (`Sync`
    /// classes and functions). A module whose `unsafe` code counts on the
    /// GIL for mutual exclusion calls this, and CPython then turns the GIL
    /// back on when it is imported (with a `RuntimeWarning`).
    ///
    /// ```
    /// ndbind::module!(legacy_ext, |m| {
    ///     m.gil_used()?;
    ///     Ok(())
    /// });
    /// ```
    pub fn gil_used(&self) -> PyResult<&Self> {
        #[cfg(Py_GIL_DISABLED)]
        // SAFETY: a module object; the thread is attached.
        if unsafe { ffi::PyUnstable_Module_SetGIL(self.obj.as_ptr(), ffi::Py_MOD_GIL_USED) } != 0 {
            return Err(PyErr::fetch());
        }
        Ok(self)
    }

    /// Sets the module docstring.
    pub fn doc(&self, text: &str) -> PyResult<&Self> {
        self.obj.borrow().setattr(c"__doc__", Object::str_held(text)?.borrow())?;
        Ok(self)
    }

    /// Sets attribute `name` to `value`.
    pub fn add(&self, name: &str, value: impl IntoPy) -> PyResult<&Self> {
        let v = value.into_py(&ReturnCtx::held())?;
        let name = CString::new(name).map_err(|_| PyErr::value_error("NUL in attribute name"))?;
        self.obj.borrow().setattr(&name, v.borrow())?;
        Ok(self)
    }

    /// Creates submodule `name` (registered as `parent.name` in
    /// `sys.modules`, so `import parent.name` works).
    pub fn submodule(&self, name: &str, doc: &str) -> PyResult<Module> {
        let full = format!("{}.{}", self.name, name);
        let cfull =
            CString::new(full.as_str()).map_err(|_| PyErr::value_error("NUL in module name"))?;
        // SAFETY: PyImport_AddModule returns a borrowed reference (kept alive
        // by sys.modules), which we turn into an owned one.
        let sub = unsafe {
            let p = ffi::PyImport_AddModule(cfull.as_ptr());
            if p.is_null() {
                return Err(PyErr::fetch());
            }
            Object::from_borrowed(p)
        };
        let m = Module { obj: sub, name: full };
        if !doc.is_empty() {
            m.doc(doc)?;
        }
        let cname = CString::new(name).map_err(|_| PyErr::value_error("NUL in module name"))?;
        self.obj.borrow().setattr(&cname, m.obj.borrow())?;
        Ok(m)
    }

    /// Creates exception class `name` (subclass of `base`, or `Exception`),
    /// stores it in `cell` for [`PyErr::new`] and adds it to the module.
    pub fn add_exception(
        &self,
        cell: &'static ExceptionType,
        name: &CStr,
        base: Option<Borrowed<'_>>,
    ) -> PyResult<&Self> {
        let full = format!("{}.{}", self.name, name.to_str().unwrap_or("Error"));
        let cfull = CString::new(full).map_err(|_| PyErr::value_error("NUL in exception name"))?;
        // SAFETY: dotted name, base is a valid exception class or NULL.
        let ty = unsafe {
            Object::from_owned_or_err(ffi::PyErr_NewException(
                cfull.as_ptr(),
                base.map_or(std::ptr::null_mut(), Borrowed::as_ptr),
                std::ptr::null_mut(),
            ))?
        };
        self.obj.borrow().setattr(name, ty.borrow())?;
        cell.set(ty);
        Ok(self)
    }
}

/// The body of a `PyInit_*` function (see [`crate::module!`]): creates the
/// module, runs `init`, and turns errors and panics into an `ImportError`
/// chain that Python reports.
///
/// # Safety
/// Called by the interpreter, with the GIL, as a module's init function.
pub unsafe fn init_module(
    name: &'static CStr,
    init: fn(&Module) -> PyResult<()>,
) -> *mut ffi::PyObject {
    let run = || -> PyResult<Object> {
        // The definition must outlive the module: leaked once per process.
        let def: &'static mut ffi::PyModuleDef = Box::leak(Box::new(ffi::PyModuleDef {
            m_base: ffi::PyModuleDef_HEAD_INIT,
            m_name: name.as_ptr(),
            m_doc: std::ptr::null(),
            m_size: -1,
            m_methods: std::ptr::null_mut(),
            m_slots: std::ptr::null_mut(),
            m_traverse: None,
            m_clear: None,
            m_free: None,
        }));
        // SAFETY: a 'static, fully initialised module definition.
        let m = unsafe { Object::from_owned_or_err(ffi::PyModule_Create(def))? };
        // Free-threaded: ndbind needs no GIL (see `Module::gil_used`).
        #[cfg(Py_GIL_DISABLED)]
        // SAFETY: the module just created; the thread is attached.
        if unsafe { ffi::PyUnstable_Module_SetGIL(m.as_ptr(), ffi::Py_MOD_GIL_NOT_USED) } != 0 {
            return Err(PyErr::fetch());
        }
        crate::core::internals::init();
        crate::core::leak_report::install();
        let module = Module { obj: m, name: name.to_string_lossy().into_owned() };
        init(&module)?;
        Ok(module.obj)
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(m)) => m.into_ptr(),
        Ok(Err(e)) => e.restore_null(),
        Err(payload) => panic_to_pyerr(payload).restore_null(),
    }
}

/// Declares an extension module: `module!(name, init_fn)` defines
/// `PyInit_name`, which creates module `name` and runs
/// `init_fn(&Module) -> PyResult<()>`.
///
/// ```
/// ndbind::module!(my_ext, |m| {
///     m.doc("My extension.")?;
///     m.def("answer", || 42, ())?;
///     Ok(())
/// });
/// ```
///
/// The init function is safe code: an unsafe operation in it needs its own
/// `unsafe` block, as anywhere else.
///
/// ```compile_fail,E0133
/// ndbind::module!(my_ext, |_m| {
///     let _ = ndbind::Object::from_owned(std::ptr::null_mut());
///     Ok(())
/// });
/// ```
#[macro_export]
macro_rules! module {
    ($name:ident, $init:expr) => {
        const _: () = {
            // The user's init function is bound here, in safe code: it must
            // not become part of the `unsafe` entry point below.
            static INIT: fn(&$crate::Module) -> $crate::PyResult<()> = $init;
            const NAME: &::std::ffi::CStr = match ::std::ffi::CStr::from_bytes_with_nul(
                concat!(stringify!($name), "\0").as_bytes(),
            ) {
                Ok(n) => n,
                Err(_) => panic!("module name"),
            };
            #[doc(hidden)]
            #[export_name = concat!("PyInit_", stringify!($name))]
            unsafe extern "C" fn __ndbind_module_init() -> *mut $crate::ffi::PyObject {
                // SAFETY: called by the interpreter as the module's init function.
                unsafe { $crate::__core::module::init_module(NAME, INIT) }
            }
        };
    };
}
