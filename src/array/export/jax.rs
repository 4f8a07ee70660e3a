//! JAX export through the converter `jax.dlpack.from_dlpack` ends in.
//!
//! For a CPU array, `from_dlpack` spends ~25 µs in Python before and
//! after its one real step, `_jax.dlpack_managed_tensor_to_buffer(capsule,
//! device, stream, copy, device_type)`: it looks up the backend and the
//! device, asks the device for a stream (which raises and catches
//! `UNIMPLEMENTED` on the CPU), and canonicalises the dtype. ndbind resolves
//! the CPU device and the converter once and calls the converter with the
//! arguments `from_dlpack` would pass (stream `None`, copy `None`): ~5 µs.
//!
//! The converter is jaxlib's, not public API: if it cannot be found (another
//! jaxlib), or for dtypes that JAX canonicalises (64-bit types without
//! `jax_enable_x64`, where `from_dlpack` converts), the public route is used.

use pyo3_ffi as ffi;

use crate::array::dtype::DType;
use crate::core::error::PyResult;
use crate::core::gil_cell::GilCell;
use crate::core::object::Object;

struct Converter {
    to_buffer: Object,
    cpu0: Object,
    /// `jaxlib_extension_version >= 467` passes the DLPack device type too.
    device_type_arg: Option<Object>,
}

static CONVERTER: GilCell<Option<Converter>> = GilCell::new();

fn converter() -> Option<&'static Converter> {
    CONVERTER
        .get_or_init(|| {
            let find = || -> PyResult<Converter> {
                let lib = Object::import_held(c"jax._src.lib")?;
                let to_buffer = lib
                    .borrow()
                    .getattr(c"_jax")?
                    .borrow()
                    .getattr(c"dlpack_managed_tensor_to_buffer")?;
                let version = lib.borrow().getattr(c"jaxlib_extension_version")?;
                // SAFETY: a valid object; -1 with an error for a non-int.
                let version = unsafe { ffi::PyLong_AsLong(version.as_ptr()) };
                if version < 0 {
                    return Err(crate::core::error::PyErr::take()
                        .unwrap_or_else(|| crate::core::error::PyErr::type_error("version")));
                }
                let backend = Object::import_held(c"jax._src.xla_bridge")?
                    .borrow()
                    .call_method(c"get_backend", &[Object::str_held("cpu")?.borrow()])?;
                // SAFETY: a new int object (or NULL with an error).
                let zero = unsafe { Object::from_owned_or_err(ffi::PyLong_FromLong(0))? };
                let cpu0 = backend
                    .borrow()
                    .call_method(c"device_from_local_hardware_id", &[zero.borrow()])?;
                let device_type_arg = if version >= 467 {
                    // SAFETY: as above; kDLCPU.
                    Some(unsafe { Object::from_owned_or_err(ffi::PyLong_FromLong(1))? })
                } else {
                    None
                };
                Ok(Converter { to_buffer, cpu0, device_type_arg })
            };
            let found = find().ok();
            if found.is_none() {
                drop(crate::core::error::PyErr::take());
            }
            found
        })
        .as_ref()
}

/// Whether JAX may change `d` when it canonicalises dtypes (64-bit types
/// become 32-bit ones unless `jax_enable_x64` is set).
fn canonicalised(d: DType) -> bool {
    matches!(d, DType::INT64 | DType::UINT64 | DType::FLOAT64 | DType::COMPLEX128)
}

/// A JAX array over `capsule` (a legacy DLPack capsule of CPU memory)
/// through jaxlib's converter; `None` when the public route must be taken.
pub(crate) fn from_capsule(
    capsule: impl FnOnce() -> PyResult<Object>,
    dtype: DType,
) -> Option<PyResult<Object>> {
    if canonicalised(dtype) {
        return None;
    }
    let c = converter()?;
    let cap = match capsule() {
        Ok(cap) => cap,
        Err(e) => return Some(Err(e)),
    };
    let none = Object::none_held();
    let (cap, dev, none) = (cap.borrow(), c.cpu0.borrow(), none.borrow());
    let f = c.to_buffer.borrow();
    Some(match &c.device_type_arg {
        Some(t) => f.call(&[cap, dev, none, none, t.borrow()]),
        None => f.call(&[cap, dev, none, none]),
    })
}
