//! Arrays whose dtype is chosen at run time (`ArrayOut<F, AnyDType, C>`):
//! bytes checked against a [`DType`] value, and typed arrays with their
//! dtype erased.

use std::ffi::c_void;
use std::marker::PhantomData;

use crate::array::aligned::AlignedVec;
use crate::array::dtype::{DType, Scalar};
use crate::array::export::{owned_c, ArrayOut, OutFlags, OutParts, Target};
use crate::array::owner::OwnerBox;
use crate::array::requirements::{AnyDType, Constraint};
use crate::core::error::{PyErr, PyResult};

/// Arrays whose dtype is chosen at run time: bytes viewed as elements of a
/// [`DType`] value. Bytes are valid elements of every dtype but `bool`,
/// whose bytes are checked (0 or 1, else `ValueError`); the length must
/// be the shape's elements times the itemsize, the data aligned for the
/// dtype, and the dtype one ndbind knows (`ValueError` otherwise).
///
/// ```
/// use ndbind::array::{AlignedVec, ArrayOut, DType, Numpy};
/// use ndbind::prelude::*;
///
/// // Three elements of the dtype the caller names, all bits zero.
/// fn zeros(name: String) -> PyResult<ArrayOut<Numpy>> {
///     let dtype = match name.as_str() {
///         "float32" => DType::FLOAT32,
///         "int16" => DType::INT16,
///         _ => return Err(PyErr::value_error("unsupported dtype")),
///     };
///     ArrayOut::from_bytes(dtype, AlignedVec::zeroed(3 * dtype.itemsize())?, &[3])
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("zeros", zeros, arg("dtype"))?; Ok(()) });
/// ```
impl<F: Target, C: Constraint> ArrayOut<F, AnyDType, C> {
    /// Takes ownership of 64-byte aligned bytes holding `shape` elements of
    /// `dtype` in C order (zero-copy for JAX, as [`ArrayOut::from_aligned`]).
    pub fn from_bytes(dtype: DType, bytes: AlignedVec<u8>, shape: &[usize]) -> PyResult<Self> {
        let (data, len) = (bytes.as_ptr(), bytes.len());
        let read_only = C::REQ.read_only;
        let f = OutFlags { dtype, plain: true, read_only };
        let parts = owned_bytes(data as *mut c_void, len, shape, OwnerBox::new(bytes), f)?;
        Ok(ArrayOut { parts, _m: PhantomData })
    }

    /// Takes ownership of a value with unique access to its bytes
    /// (`AsMut<[u8]>`, boxed so that they stay put) holding `shape`
    /// elements of `dtype` in C order, exported zero-copy (a `Vec<u8>`
    /// is only byte-aligned: wider dtypes may need [`AlignedVec`]).
    ///
    /// ```
    /// use ndbind::array::{ArrayOut, DType, Torch};
    /// use ndbind::prelude::*;
    ///
    /// fn mask(n: usize) -> PyResult<ArrayOut<Torch>> {
    ///     ArrayOut::from_byte_owner(DType::BOOL, vec![1u8; n], &[n])
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("mask", mask, arg("n"))?; Ok(()) });
    /// ```
    pub fn from_byte_owner<O: AsMut<[u8]> + Send + 'static>(
        dtype: DType,
        owner: O,
        shape: &[usize],
    ) -> PyResult<Self> {
        let mut owner = Box::new(owner);
        let bytes = (*owner).as_mut();
        // The owner is boxed: its data stays where it is.
        let (data, len) = (bytes.as_mut_ptr(), bytes.len());
        let f = OutFlags { dtype, plain: false, read_only: C::REQ.read_only };
        let parts = owned_bytes(data as *mut c_void, len, shape, OwnerBox::new(owner), f)?;
        Ok(ArrayOut { parts, _m: PhantomData })
    }
}

/// The checks of a run-time dtype export (see `ArrayOut::from_bytes`),
/// then [`owned_c`] over its elements.
#[inline(never)]
fn owned_bytes(
    data: *mut c_void,
    nbytes: usize,
    shape: &[usize],
    owner: OwnerBox,
    f: OutFlags,
) -> PyResult<OutParts> {
    let dtype = f.dtype;
    if !dtype.is_known() || dtype.itemsize() == 0 {
        return Err(PyErr::value_error(format!(
            "cannot export elements of dtype (code {}, bits {}, lanes {})",
            dtype.code, dtype.bits, dtype.lanes
        )));
    }
    let size = dtype.itemsize();
    if nbytes % size != 0 {
        return Err(PyErr::value_error(format!(
            "{nbytes} bytes are not whole {} elements ({size} bytes each)",
            dtype.name()
        )));
    }
    let align = crate::array::check::alignment(dtype);
    if (data as usize) & (align - 1) != 0 && nbytes > 0 {
        return Err(PyErr::value_error(format!(
            "the data (address {:#x}) is not {align}-byte aligned for {}",
            data as usize,
            dtype.name()
        )));
    }
    if dtype == DType::BOOL {
        // SAFETY: the owner's `nbytes` initialised bytes, alive (held).
        let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, nbytes) };
        if bytes.iter().any(|&b| b > 1) {
            return Err(PyErr::value_error("bool elements must be the bytes 0 and 1"));
        }
    }
    owned_c(data, nbytes / size, shape, owner, f)
}

impl<F: Target, T: Scalar, C: Constraint> ArrayOut<F, T, C> {
    /// The same array, its dtype known at run time only: for functions
    /// that return one of several dtypes.
    ///
    /// ```
    /// use ndbind::array::{ArrayOut, Numpy};
    /// use ndbind::prelude::*;
    ///
    /// fn ramp(n: usize, wide: bool) -> PyResult<ArrayOut<Numpy>> {
    ///     Ok(if wide {
    ///         ArrayOut::<Numpy, f64>::from_vec((0..n).map(|i| i as f64).collect(), &[n])?.into_any_dtype()
    ///     } else {
    ///         ArrayOut::<Numpy, f32>::from_vec((0..n).map(|i| i as f32).collect(), &[n])?.into_any_dtype()
    ///     })
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("ramp", ramp, (arg("n"), arg("wide")))?; Ok(()) });
    /// ```
    pub fn into_any_dtype(self) -> ArrayOut<F, AnyDType, C> {
        ArrayOut { parts: self.parts, _m: PhantomData }
    }
}
