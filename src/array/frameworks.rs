//! The array frameworks ndbind knows (NumPy, torch, JAX, TensorFlow and
//! `ml_dtypes`), one [`Framework`] record each: recognising their arrays
//! (by type, looked up once) and reaching their modules, converters and
//! `from_dlpack` (imported once, then cached).

use std::ffi::CStr;
use std::sync::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Release},
};

use pyo3_ffi as ffi;

use crate::array::requirements::Order;
use crate::core::error::PyResult;
use crate::core::gil_cell::GilCell;
use crate::core::object::{Borrowed, Object};

/// What ndbind knows of one array framework (or dtype package), and the
/// objects it looks up of it once: one record per framework, in the
/// statics below. Every type is found by the one mechanism
/// [`loaded_type`]; every module is imported by [`Framework::module`].
pub(crate) struct Framework {
    /// Its name in messages (`"torch is not installed"`).
    pub(crate) name: &'static str,
    /// The module holding its array type, looked up (never imported) to
    /// recognise arrays.
    root: &'static CStr,
    /// `root` as an interned string, made once.
    root_name: GilCell<Object>,
    /// Its array type in `root` (`numpy.ndarray`, `torch.Tensor`, ...).
    array_attr: &'static CStr,
    /// What a candidate for the array type must pass (see [`loaded_type`]).
    accept: fn(*mut ffi::PyTypeObject) -> bool,
    /// The array type, once found (a strong reference, kept forever).
    array_type: AtomicUsize,
    /// The module whose functions ndbind calls (`asarray`, `dtype`, ...),
    /// imported on first use.
    functions: &'static CStr,
    functions_module: GilCell<Option<Object>>,
    /// The module whose `from_dlpack` imports a DLPack capsule, if ndbind
    /// exports to the framework that way.
    dlpack_module: Option<&'static CStr>,
    from_dlpack: GilCell<Option<Object>>,
    /// The DLPack exchange table its array type publishes, if any (torch
    /// ≥ 2.10), looked up once (importing the framework).
    exchange: GilCell<Option<&'static ndbind_dlpack::DLPackExchangeAPI>>,
    /// Makes a converted copy of one of its arrays with a dtype (by name)
    /// and an order (see `convert`), if the framework can.
    pub(crate) convert: Option<Converter>,
}

/// A framework's converter: `(framework, array, dtype name, order)`.
pub(crate) type Converter = fn(&'static Framework, Borrowed<'_>, &str, Order) -> Option<Object>;

fn any_type(_: *mut ffi::PyTypeObject) -> bool {
    true
}

impl Framework {
    const fn new(name: &'static str, root: &'static CStr, array_attr: &'static CStr) -> Self {
        Framework {
            name,
            root,
            root_name: GilCell::new(),
            array_attr,
            accept: any_type,
            array_type: AtomicUsize::new(0),
            functions: root,
            functions_module: GilCell::new(),
            dlpack_module: None,
            from_dlpack: GilCell::new(),
            exchange: GilCell::new(),
            convert: None,
        }
    }

    /// With an array-type check other than none.
    const fn accepting(mut self, accept: fn(*mut ffi::PyTypeObject) -> bool) -> Self {
        self.accept = accept;
        self
    }

    /// With functions called from another module than `root`.
    const fn functions_in(mut self, module: &'static CStr) -> Self {
        self.functions = module;
        self
    }

    /// With `module.from_dlpack` as the export route.
    const fn exported_through(mut self, module: &'static CStr) -> Self {
        self.dlpack_module = Some(module);
        self
    }

    /// With a converter.
    const fn converting(mut self, convert: Converter) -> Self {
        self.convert = Some(convert);
        self
    }

    /// The module ndbind calls functions of, imported on first use; `None`
    /// if not installed (the import error is cleared).
    pub(crate) fn module(&'static self) -> Option<Borrowed<'static>> {
        let m = self.functions_module.get_or_init(|| {
            let m = Object::import_held(self.functions).ok();
            if m.is_none() {
                drop(crate::core::error::PyErr::take());
            }
            m
        });
        // SAFETY: the cached module is kept alive forever by the static.
        m.as_ref().map(|m| unsafe { Borrowed::from_ptr(m.as_ptr()) })
    }

    /// The framework's `from_dlpack`, looked up once; `TypeError` when the
    /// framework is not installed.
    pub(crate) fn dlpack_importer(&'static self) -> PyResult<Borrowed<'static>> {
        let f = self.from_dlpack.get_or_init(|| {
            let m = Object::import_held(self.dlpack_module?).ok()?;
            m.borrow().getattr(c"from_dlpack").ok()
        });
        match f {
            // SAFETY: kept alive forever by the static.
            Some(f) => Ok(unsafe { Borrowed::from_ptr(f.as_ptr()) }),
            None => {
                drop(crate::core::error::PyErr::take());
                Err(crate::core::error::PyErr::type_error(format!(
                    "{} is not installed",
                    self.name
                )))
            }
        }
    }

    /// The DLPack exchange table of its array type (`__dlpack_c_exchange_api__`),
    /// looked up once: the framework is imported.
    pub(crate) fn exchange_api(&'static self) -> Option<&'static ndbind_dlpack::DLPackExchangeAPI> {
        *self.exchange.get_or_init(|| {
            let ty = self.module().and_then(|m| m.getattr(self.array_attr).ok());
            let Some(ty) = ty else {
                drop(crate::core::error::PyErr::take());
                return None;
            };
            // SAFETY: a never-raising MRO lookup on a live type object (a
            // non-type gives NULL); the table lives as long as the
            // framework, which is never unloaded.
            unsafe {
                if ffi::PyType_Check(ty.as_ptr()) == 0 {
                    return None;
                }
                let cap = crate::array::import::dlpack::type_lookup(
                    ty.as_ptr() as *mut ffi::PyTypeObject,
                    crate::interned!(c"__dlpack_c_exchange_api__"),
                )?;
                ndbind_dlpack::exchange_api_from_capsule(cap.as_ptr())
            }
        })
    }

    /// The cell of its array type (0 until found).
    #[inline]
    pub(crate) fn array_type_cell(&'static self) -> &'static AtomicUsize {
        &self.array_type
    }

    /// Its array type, if its module is loaded (nothing is imported): see
    /// [`loaded_type`].
    #[inline]
    pub(crate) fn array_type(&'static self) -> Option<*mut ffi::PyTypeObject> {
        let cell = self.array_type_cell();
        match cell.load(Acquire) {
            0 => {
                let root = self.root_name.get_or_init(|| {
                    Object::intern_held(self.root).expect("interning a constant string")
                });
                loaded_type(cell, root.borrow(), self.array_attr, self.accept)
            }
            t => Some(t as *mut ffi::PyTypeObject),
        }
    }
}

/// NumPy: `numpy.ndarray` is read as a C struct, so it must be a static
/// type; NumPy makes the copies of buffer-protocol objects too.
pub(crate) static NUMPY: Framework = Framework::new("numpy", c"numpy", c"ndarray")
    .accepting(is_static_type)
    .converting(crate::array::convert::numpy);

/// PyTorch: exported through the exchange table of `torch.Tensor` (see
/// `export`), else `torch.from_dlpack`.
pub(crate) static TORCH: Framework = Framework::new("torch", c"torch", c"Tensor")
    .exported_through(c"torch")
    .converting(crate::array::convert::torch);

/// JAX: arrays recognised by their type's name (see [`is_jax`]), exported
/// through jaxlib's converter (`export::jax`), else `jax.dlpack.from_dlpack`.
pub(crate) static JAX: Framework = Framework::new("jax", c"jax", c"Array")
    .functions_in(c"jax.numpy")
    .exported_through(c"jax.dlpack")
    .converting(crate::array::convert::jax);

/// TensorFlow: exported through `tensorflow.experimental.dlpack`.
pub(crate) static TENSORFLOW: Framework = Framework::new("tensorflow", c"tensorflow", c"Tensor")
    .exported_through(c"tensorflow.experimental.dlpack");

/// `ml_dtypes`, NumPy's bfloat16: its "array type" is the scalar type
/// `ml_dtypes.bfloat16`, which must be NumPy's 2-byte dtype (see
/// `import::numpy`).
pub(crate) static ML_DTYPES: Framework = Framework::new("ml_dtypes", c"ml_dtypes", c"bfloat16")
    .accepting(crate::array::import::numpy::two_byte_scalar);

/// Whether `obj` is a JAX array. JAX arrays are immutable, yet their
/// `__dlpack__` hands out legacy capsules, which carry no read-only flag.
#[inline]
pub(crate) fn is_jax(obj: Borrowed<'_>) -> bool {
    let tp = obj.type_ptr();
    // JAX's concrete array type (`jaxlib._jax.ArrayImpl`), once seen.
    let cached = JAX.array_type_cell();
    if cached.load(Acquire) == tp as usize {
        return true;
    }
    // SAFETY: a live type; the GIL is held.
    let jax_array = unsafe {
        crate::core::abi::with_type_name(tp, |name| {
            name.starts_with(b"jaxlib") && name.ends_with(b"ArrayImpl")
        })
    };
    if jax_array {
        // Kept alive (a strong reference): its address must never name
        // another type. (JAX-ness only steers the route and makes arrays
        // read-only; the memory is validated on every route.)
        if cached.load(Acquire) == 0 {
            // SAFETY: a new reference to a live type, leaked on purpose
            // (taken before it is published; kept by the loser of a race).
            unsafe { ffi::Py_INCREF(tp as *mut ffi::PyObject) };
            cached.store(tp as usize, Release);
        }
        return true;
    }
    false
}

/// The type `attr` of the module `module` (an interned name), if that
/// module is loaded already (nothing is imported): looked up until found,
/// then cached in `cell` (a strong reference, kept forever). `None`, with
/// no error left set, while it is not loaded, or `attr` is no type or
/// fails `accept` (Python code can replace a module, or its attributes,
/// with its own classes: a type whose instances ndbind reads as C structs
/// must be checked for what Python code cannot fake).
#[cold]
#[inline(never)]
pub(crate) fn loaded_type(
    cell: &AtomicUsize,
    module: Borrowed<'_>,
    attr: &CStr,
    accept: fn(*mut ffi::PyTypeObject) -> bool,
) -> Option<*mut ffi::PyTypeObject> {
    // SAFETY: PyImport_GetModule returns a new reference or NULL without
    // importing; a type check of a live object; errors are cleared.
    unsafe {
        let m = Object::from_owned(ffi::PyImport_GetModule(module.as_ptr()));
        let t = m.and_then(|m| m.borrow().getattr(attr).ok());
        let Some(t) = t else {
            drop(crate::core::error::PyErr::take());
            return None;
        };
        if ffi::PyType_Check(t.as_ptr()) == 0 || !accept(t.as_ptr() as *mut ffi::PyTypeObject) {
            return None;
        }
        // Kept alive forever (free-threaded, a racing thread's store may
        // replace it: that reference stays, unused).
        let t = t.into_ptr();
        cell.store(t as usize, Release);
        Some(t as *mut ffi::PyTypeObject)
    }
}

/// Whether `obj` is a `torch.Tensor` (or subclass); never imports torch.
/// (Only steers the route: the memory is validated on every route.)
pub(crate) fn is_torch(obj: Borrowed<'_>) -> bool {
    let Some(tensor) = TORCH.array_type() else { return false };
    // SAFETY: both are valid type objects.
    unsafe { ffi::PyType_IsSubtype(obj.type_ptr(), tensor) != 0 }
}

/// The framework whose converter makes a copy of `obj`: its own, or
/// NumPy's (NumPy arrays and buffer-protocol objects).
pub(crate) fn classify(obj: Borrowed<'_>) -> &'static Framework {
    if crate::array::import::numpy::is_numpy_array(obj) {
        &NUMPY
    } else if is_jax(obj) {
        &JAX
    } else if is_torch(obj) {
        &TORCH
    } else {
        &NUMPY
    }
}

/// Whether `tp` is a static type (made by C code: Python code cannot make
/// one), for types whose instances are read as C structs.
pub(crate) fn is_static_type(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: reading the flags of a live type object.
    unsafe { ffi::PyType_GetFlags(tp) & ffi::Py_TPFLAGS_HEAPTYPE == 0 }
}
