//! Returning arrays: [`ArrayOut`] names its target framework and owns (or
//! borrows) the memory; nothing is copied unless the return policy says so.

mod bytes;
mod device;
pub(crate) mod dims;
pub(crate) mod dlpack;
pub(crate) mod jax;
pub(crate) mod numpy;

use std::ffi::c_void;
use std::marker::PhantomData;

use ndarray::{Array, Dimension};
use ndbind_dlpack::{DLDevice, Layout};
use pyo3_ffi as ffi;

use crate::array::aligned::AlignedVec;
use crate::array::array_object;
use crate::array::dtype::{DType, Scalar};
use crate::array::export::dims::OutDims;
use crate::array::export::dlpack::{ExportOptions, TensorParts};
use crate::array::frameworks::{JAX, TENSORFLOW, TORCH};
use crate::array::owner::OwnerBox;
use crate::array::requirements::{AnyDType, Constraint, DTypeSpec, Requirements};
use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::extras::RvPolicy;
use crate::core::object::Object;

/// Where a returned array goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// `numpy.ndarray` (through NumPy's C API, no Python-level call).
    Numpy,
    /// `torch.Tensor` (through DLPack).
    Torch,
    /// `jax.Array` (through DLPack; data 64-byte aligned stays zero-copy).
    Jax,
    /// TensorFlow tensor (through DLPack).
    TensorFlow,
    /// `memoryview` (through the buffer protocol).
    MemoryView,
    /// The `ndbind.ndarray` object itself (`__dlpack__`, buffer protocol).
    ArrayApi,
    /// A raw DLPack capsule (legacy `dltensor`).
    Capsule,
}

/// A framework marker for [`ArrayOut`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an array framework",
    label = "not a `Target`",
    note = "the first parameter of `ArrayOut` names the framework the array goes to: `Numpy`, `Torch`, `Jax`, `TensorFlow`, `MemoryView`, `ArrayApi` or `Capsule` (in `ndbind::array`)"
)]
pub trait Target {
    /// The framework.
    const KIND: TargetKind;
    /// The Python type name shown in signatures.
    const TYPE_NAME: &'static str;
}

macro_rules! target {
    ($(#[$doc:meta])* $name:ident, $kind:ident, $ty:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl Target for $name {
            const KIND: TargetKind = TargetKind::$kind;
            const TYPE_NAME: &'static str = $ty;
        }
    };
}
target!(
    /// Return a `numpy.ndarray`.
    Numpy, Numpy, "numpy.ndarray");
target!(
    /// Return a `torch.Tensor`.
    Torch, Torch, "torch.Tensor");
target!(
    /// Return a `jax.Array`.
    Jax, Jax, "jax.Array");
target!(
    /// Return a TensorFlow tensor.
    TensorFlow, TensorFlow, "tensorflow.Tensor");
target!(
    /// Return a `memoryview`.
    MemoryView, MemoryView, "memoryview");
target!(
    /// Return the `ndbind.ndarray` object (an array-API style object).
    ArrayApi, ArrayApi, "ndbind.ndarray");
target!(
    /// Return a raw DLPack capsule.
    Capsule, Capsule, "types.CapsuleType");

/// An array returned to Python: `F` names the framework, `T` the element
/// type and `C` constraints shown in the signature (add
/// [`crate::array::ReadOnly`] to export read-only).
///
/// The memory is owned by a Rust value moved into the array (`Vec`,
/// `Box<[T]>`, [`AlignedVec`], `ndarray::Array`, any `AsMut<[T]>` owner: a
/// value with the data to itself), by a Python object kept alive, or by
/// nobody — then the return policy decides: `Automatic`/`Copy` copy the
/// data, `Reference` trusts the caller, `ReferenceInternal` keeps `self`
/// alive (and borrowed). Data Rust only shares goes out as a copy
/// ([`ArrayOut::from_slice`]). Memory on a GPU or any other DLPack device:
/// [`ArrayOut::from_device`].
///
/// ```
/// use ndbind::array::{AlignedVec, ArrayOut, Numpy, Shape2, Torch};
/// use ndbind::prelude::*;
///
/// fn make(n: usize) -> PyResult<ArrayOut<Numpy, f32>> {
///     ArrayOut::from_vec((0..n).map(|i| i as f32).collect(), &[n])
/// }
/// fn to_torch() -> PyResult<ArrayOut<Torch, f32, Shape2<2, 4>>> {
///     ArrayOut::from_aligned(AlignedVec::from_fn(8, |i| i as f32)?, &[2, 4])
/// }
/// # ndbind::module!(doc_ext, |m| {
/// #     m.def("make", make, arg("n"))?;
/// #     m.def("to_torch", to_torch, ())?;
/// #     Ok(())
/// # });
/// ```
pub struct ArrayOut<F: Target = Numpy, T: DTypeSpec = AnyDType, C: Constraint = ()> {
    parts: OutParts,
    _m: crate::array::nd::Marker<(F, T, C)>,
}

/// The non-generic content of an [`ArrayOut`], exported by [`export_out`].
struct OutParts {
    /// The data pointer (or opaque handle) before `byte_offset`; the
    /// first element when `byte_offset` is 0 (every constructor but
    /// [`ArrayOut::from_device`]).
    data: *mut c_void,
    dtype: DType,
    dims: OutDims,
    owner: Option<OwnerBox>,
    /// The owner is one of ndbind's buffers of scalars (`Vec`,
    /// `AlignedVec`, `ndarray::Array`): dropping it only frees memory.
    plain: bool,
    read_only: bool,
    /// Where the memory lives: `DLDevice::CPU` but for `from_device`.
    device: DLDevice,
    /// Bytes from `data` to the first element.
    byte_offset: u64,
}

fn check_len(shape: &[usize], len: usize) -> PyResult<()> {
    let n = shape.iter().try_fold(1usize, |a, &e| a.checked_mul(e));
    if n != Some(len) {
        return Err(PyErr::value_error(format!("shape {shape:?} does not match {len} elements")));
    }
    Ok(())
}

fn c_dims(shape: &[usize]) -> PyResult<OutDims> {
    check_extents(shape)?;
    OutDims::c_order(shape).ok_or_else(|| PyErr::value_error("too many dimensions"))
}

/// Extents are `i64` in DLPack and NumPy: a larger one (possible in an
/// empty array, whose element count another zero extent makes 0) would
/// go out negative.
#[inline]
fn check_extents(shape: &[usize]) -> PyResult<()> {
    match shape.iter().find(|&&e| e > i64::MAX as usize) {
        Some(&e) => Err(extent_error(e)),
        None => Ok(()),
    }
}

#[cold]
#[inline(never)]
fn extent_error(e: usize) -> PyErr {
    PyErr::value_error(format!("extent {e} is too large (at most {})", i64::MAX))
}

impl<F: Target, T: Scalar, C: Constraint> ArrayOut<F, T, C> {
    /// Takes ownership of `v`, viewed with `shape` in C order.
    pub fn from_vec(v: Vec<T>, shape: &[usize]) -> PyResult<Self> {
        // The Vec's heap buffer does not move when the Vec does.
        let (data, len) = (v.as_ptr(), v.len());
        Self::owned(data, len, shape, OwnerBox::new(v), true)
    }

    /// Takes ownership of a 64-byte aligned buffer (zero-copy for JAX).
    pub fn from_aligned(v: AlignedVec<T>, shape: &[usize]) -> PyResult<Self> {
        let (data, len) = (v.as_ptr(), v.len());
        Self::owned(data, len, shape, OwnerBox::new(v), true)
    }

    /// A copy of `data` (C order over `shape`), owned by the array: data
    /// that Rust only *shares* (an `Arc<[T]>`, a `&'static [T]`, a memory
    /// map) is never exported zero-copy, since a consumer may write even
    /// a read-only export (torch ignores DLPack's read-only flag, also for
    /// NumPy's read-only arrays). `MemoryError` when the copy cannot be
    /// allocated.
    ///
    /// ```
    /// # use ndbind::array::{ArrayOut, Numpy};
    /// # use ndbind::prelude::*;
    /// static TABLE: [f32; 4] = [1.0, 2.0, 3.0, 4.0];
    /// fn table() -> PyResult<ArrayOut<Numpy, f32>> {
    ///     ArrayOut::from_slice(&TABLE, &[4])
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("table", table, ())?; Ok(()) });
    /// ```
    pub fn from_slice(data: &[T], shape: &[usize]) -> PyResult<Self> {
        check_len(shape, data.len())?;
        Self::from_aligned(AlignedVec::from_slice(data)?, shape)
    }

    /// Takes ownership of a value with unique access to its elements
    /// (`AsMut<[T]>`; boxed so that they stay put): exported zero-copy,
    /// writable unless the constraints say `ReadOnly`. Shared data (no
    /// `AsMut`) does not compile here: see [`ArrayOut::from_slice`].
    ///
    /// ```compile_fail,E0277
    /// use ndbind::array::{ArrayOut, Numpy};
    /// let shared: std::sync::Arc<[f32]> = vec![1.0f32; 4].into();
    /// let _ = ArrayOut::<Numpy, f32>::from_owner(shared, &[4]);
    /// ```
    ///
    /// Not for `bool` elements (`ValueError`): Python may store bytes other
    /// than 0 and 1 in the exported memory, which an owner's own code (its
    /// `Drop`) would then read as `bool`. `from_vec`/`from_aligned`/
    /// `from_ndarray` never read them; `from_slice` copies.
    pub fn from_owner<O: AsMut<[T]> + Send + 'static>(owner: O, shape: &[usize]) -> PyResult<Self> {
        if T::DTYPE == crate::array::dtype::DType::BOOL {
            return Err(PyErr::value_error(
                "ArrayOut::from_owner: bool data of a custom owner cannot be exported (Python may store bytes \
                 other than 0 and 1, which the owner would read as bool): use from_vec, from_aligned or from_slice",
            ));
        }
        let mut owner = Box::new(owner);
        let data = (*owner).as_mut();
        // The owner is boxed: its data stays where it is.
        let (data, len) = (data.as_mut_ptr(), data.len());
        Self::owned(data, len, shape, OwnerBox::new(owner), false)
    }

    /// [`ArrayOut::from_owner`] for owners whose data does not move when
    /// they do (so they need no box: one allocation less).
    pub fn from_stable_owner<O: StableData<T> + Send + 'static>(
        mut owner: O,
        shape: &[usize],
    ) -> PyResult<Self> {
        let data = owner.as_mut();
        // `StableData` promises the elements stay put when `owner` moves
        // into the OwnerBox.
        let (data, len) = (data.as_mut_ptr(), data.len());
        Self::owned(data, len, shape, OwnerBox::new(owner), false)
    }

    /// Takes ownership of an `ndarray` array, keeping its strides
    /// (`ValueError` beyond 64 axes, which an `IxDyn` array may have).
    pub fn from_ndarray<D: Dimension + 'static>(a: Array<T, D>) -> PyResult<Self> {
        // The array's heap buffer stays put when it moves.
        let dims = if a.is_standard_layout() {
            OutDims::c_order(a.shape())
        } else {
            let shape: Vec<i64> = a.shape().iter().map(|&e| e as i64).collect();
            let strides: Vec<i64> = a.strides().iter().map(|&s| s as i64).collect();
            OutDims::strided(&shape, &strides)
        };
        let dims = dims.ok_or_else(|| PyErr::value_error("too many dimensions"))?;
        Ok(Self::new(a.as_ptr(), dims, Some(OwnerBox::new(a))).plain())
    }

    /// Memory nobody owns: the return policy decides (copy under
    /// `Automatic`/`Copy`; `Reference` trusts the caller; `ReferenceInternal`
    /// keeps `self` alive).
    ///
    /// # Safety
    /// `data` points to live elements covering `shape`/`strides` (strides
    /// in elements; C order if `None`) for as long as the policy requires,
    /// which Python may write while the array lives (even a read-only
    /// export: torch ignores the flag; for `bool`, any byte, so Rust must
    /// not read that memory as `bool` afterwards). Under `reference_internal`, a bound
    /// `self` is kept alive and borrowed (no `&mut self`, move or destruct)
    /// while the array lives: memory inside its value qualifies.
    pub unsafe fn from_raw(
        data: *const T,
        shape: &[usize],
        strides: Option<&[isize]>,
    ) -> PyResult<Self> {
        Ok(Self::new(data, raw_dims(shape, strides)?, None))
    }

    /// Memory owned by the Python object `owner`, which is kept alive.
    ///
    /// # Safety
    /// `data` points to live elements covering `shape`/`strides`, valid as
    /// long as `owner` lives, which Python may write while the array lives
    /// (even a read-only export: torch ignores the flag; for `bool`, any
    /// byte, so Rust must not read that memory as `bool` afterwards).
    pub unsafe fn view_of(
        owner: Object,
        data: *const T,
        shape: &[usize],
        strides: Option<&[isize]>,
    ) -> PyResult<Self> {
        Ok(Self::new(data, raw_dims(shape, strides)?, Some(OwnerBox::Python(owner))))
    }

    /// Reinterprets the C-contiguous data in Fortran order: shape
    /// `(2, 4)` over `1..=8` reads `[[1, 3, 5, 7], [2, 4, 6, 8]]`. Only for
    /// arrays made C-contiguous (the same elements are then covered either
    /// way); one with strides of its own is a `ValueError`.
    pub fn fortran_order(mut self) -> PyResult<Self> {
        if self.parts.dims.strides().is_some() {
            return Err(PyErr::value_error(
                "fortran_order(): the array has strides of its own, not C order",
            ));
        }
        let shape = self.parts.dims.shape().to_vec();
        let mut strides = vec![0; shape.len()];
        crate::array::layout::fill_f_strides(&shape, &mut strides);
        self.parts.dims = OutDims::strided(&shape, &strides).expect("same rank");
        Ok(self)
    }
}

impl<F: Target> ArrayOut<F, AnyDType, ()> {
    /// A C-contiguous copy of an imported CPU array, owned by Rust.
    pub fn copy_of<T: DTypeSpec, C: Constraint>(a: &crate::array::NdArray<T, C>) -> PyResult<Self> {
        a.check_readable()?;
        Ok(ArrayOut { parts: copy_parts(&*a.layout()?)?, _m: PhantomData })
    }
}

/// Owners whose elements live elsewhere than in the owner value itself
/// (on the heap), so moving the owner does not move the data; the owner
/// has them to itself (`AsMut`).
///
/// # Safety
/// `as_mut()` (and `as_ref()`) must return the same memory before and
/// after the value is moved, for as long as the value lives unmodified;
/// that memory stays valid until the value is dropped, and no other value
/// accesses it. Once exported, the owner's own code (its `Drop`) never
/// reads the elements as `T` where Python may store other bit patterns
/// (`bool`: any byte).
///
/// ```
/// use ndbind::array::{AlignedVec, ArrayOut, Numpy, StableData};
/// use ndbind::prelude::*;
///
/// struct Counted(AlignedVec<f32>);
/// impl AsRef<[f32]> for Counted {
///     fn as_ref(&self) -> &[f32] { &self.0 }
/// }
/// impl AsMut<[f32]> for Counted {
///     fn as_mut(&mut self) -> &mut [f32] { &mut self.0 }
/// }
/// // SAFETY: the data lives in the AlignedVec's heap buffer, which moves
/// // with the value without moving itself, and nobody else accesses it.
/// unsafe impl StableData<f32> for Counted {}
///
/// fn ones(n: usize) -> PyResult<ArrayOut<Numpy, f32>> {
///     ArrayOut::from_stable_owner(Counted(AlignedVec::from_fn(n, |_| 1.0)?), &[n])
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("ones", ones, arg("n"))?; Ok(()) });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not known to keep its `[{T}]` data at a stable address",
    label = "not `StableData`",
    note = "`StableData` is implemented for `Vec<T>`, `Box<[T]>` and `AlignedVec<T>`; `from_owner` takes any `AsMut<[T]>` owner"
)]
pub unsafe trait StableData<T>: AsRef<[T]> + AsMut<[T]> {}

// SAFETY: these keep their elements in a separate heap allocation.
unsafe impl<T> StableData<T> for Vec<T> {}
// SAFETY: as above.
unsafe impl<T> StableData<T> for Box<[T]> {}

fn raw_dims(shape: &[usize], strides: Option<&[isize]>) -> PyResult<OutDims> {
    match strides {
        None => c_dims(shape),
        Some(st) if st.len() == shape.len() => {
            check_extents(shape)?;
            let shape: Vec<i64> = shape.iter().map(|&e| e as i64).collect();
            let st: Vec<i64> = st.iter().map(|&s| s as i64).collect();
            OutDims::strided(&shape, &st).ok_or_else(|| PyErr::value_error("too many dimensions"))
        }
        Some(_) => Err(PyErr::value_error("strides and shape differ in length")),
    }
}

/// What [`owned_c`] records besides the memory.
struct OutFlags {
    dtype: DType,
    plain: bool,
    read_only: bool,
}

/// [`ArrayOut::owned`]'s body, one copy for every element type and target
/// (`ValueError` when `shape` does not cover `len` elements; `owner` is
/// then dropped, as the value passed in would have been).
#[inline(never)]
fn owned_c(
    data: *mut c_void,
    len: usize,
    shape: &[usize],
    owner: OwnerBox,
    f: OutFlags,
) -> PyResult<OutParts> {
    check_len(shape, len)?;
    let dims = c_dims(shape)?;
    let OutFlags { dtype, plain, read_only } = f;
    let (device, byte_offset) = (DLDevice::CPU, 0);
    Ok(OutParts { data, dtype, dims, owner: Some(owner), plain, read_only, device, byte_offset })
}

/// A writable, C-contiguous copy of a CPU array, exported to `kind` (the
/// copy an imported array returns under policy `Copy`).
pub(crate) fn export_copy(l: &Layout, kind: TargetKind) -> PyResult<Object> {
    export_out(copy_parts(l)?, &Requirements::NONE, kind, &ReturnCtx::held())
}

/// [`copied`] as the parts of a writable array that Rust owns.
fn copy_parts(l: &Layout) -> PyResult<OutParts> {
    let (data, dtype, dims, owner) = copied(l)?;
    let (device, byte_offset) = (DLDevice::CPU, 0);
    let owner = Some(owner);
    Ok(OutParts { data, dtype, dims, owner, plain: true, read_only: false, device, byte_offset })
}

/// A C-contiguous, Rust-owned copy of a CPU array.
fn copied(l: &Layout) -> PyResult<(*mut c_void, DType, OutDims, OwnerBox)> {
    let (copy, owner) = array_object::contiguous_copy(l)?;
    let shape: Vec<usize> = copy.shape().iter().map(|&e| e as usize).collect();
    Ok((copy.data(), copy.dtype(), c_dims(&shape)?, owner))
}

impl<F: Target, T: Scalar, C: Constraint> ArrayOut<F, T, C> {
    fn new(data: *const T, dims: OutDims, owner: Option<OwnerBox>) -> Self {
        let parts = OutParts {
            data: data as *mut c_void,
            dtype: T::DTYPE,
            dims,
            owner,
            plain: false,
            read_only: C::REQ.read_only,
            device: DLDevice::CPU,
            byte_offset: 0,
        };
        ArrayOut { parts, _m: PhantomData }
    }

    /// `len` elements at `data`, owned by `owner`, viewed with `shape` in C
    /// order: a shell over the non-generic [`owned_c`].
    #[inline]
    fn owned(
        data: *const T,
        len: usize,
        shape: &[usize],
        owner: OwnerBox,
        plain: bool,
    ) -> PyResult<Self> {
        let dtype = T::DTYPE;
        let read_only = C::REQ.read_only;
        let parts =
            owned_c(data as *mut c_void, len, shape, owner, OutFlags { dtype, plain, read_only })?;
        Ok(ArrayOut { parts, _m: PhantomData })
    }

    /// Marks the owner as one of ndbind's plain buffers.
    fn plain(mut self) -> Self {
        self.parts.plain = true;
        self
    }
}

impl<F: Target, T: DTypeSpec, C: Constraint> ArrayOut<F, T, C> {
    /// Exports the array read-only. The signature cannot know: it shows
    /// `writable=False` only when the type says [`crate::array::ReadOnly`]
    /// (or the target's arrays are immutable: JAX, TensorFlow); prefer
    /// the constraint when every result is read-only.
    pub fn read_only(mut self) -> Self {
        self.parts.read_only = true;
        self
    }

    /// The requirements shown in the signature.
    const REQ: Requirements =
        Requirements { dtype: T::DTYPE, writable: !C::REQ.read_only, ..C::REQ };
}

impl<F: Target, T: DTypeSpec, C: Constraint> IntoPy for ArrayOut<F, T, C> {
    #[inline]
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        export_out(self.parts, &Self::REQ, F::KIND, ctx)
    }

    fn type_name(out: &mut String) {
        // JAX and TensorFlow arrays are immutable, whatever the type says.
        let writable = match F::KIND {
            TargetKind::Jax | TargetKind::TensorFlow => false,
            _ => Self::REQ.writable,
        };
        Self::REQ.render_returned(F::TYPE_NAME, Some(writable), out)
    }
}

/// Exports a returned array to framework `kind`, after checking it against
/// the declared requirements `req` and applying the return policy.
#[inline(never)]
fn export_out(
    parts: OutParts,
    req: &Requirements,
    kind: TargetKind,
    ctx: &ReturnCtx,
) -> PyResult<Object> {
    if req.ndim >= 0 && parts.dims.ndim() != req.ndim as usize
        || req.shape.iter().zip(parts.dims.shape()).any(|(&r, &s)| r >= 0 && r != s)
    {
        return Err(PyErr::runtime_error(
            "returned array does not have the shape its type declares",
        ));
    }
    if parts.byte_offset != 0 || parts.device != DLDevice::CPU {
        return device::export_device(parts, req, kind, ctx);
    }
    let OutParts { data, dtype, dims, owner, plain, read_only, .. } = parts;
    let (data, dtype, dims, owner, plain) = match (owner, ctx.policy()) {
        (Some(_), RvPolicy::Copy)
        | (
            None,
            RvPolicy::Automatic
            | RvPolicy::AutomaticReference
            | RvPolicy::Copy
            | RvPolicy::Move
            | RvPolicy::TakeOwnership,
        ) => {
            // SAFETY: the constructors' contracts: `data` covers `dims`.
            let l = unsafe { dims.to_layout(data, dtype, false) };
            let (d, t, n, o) = copied(&l).map_err(|e| {
                PyErr::runtime_error(format!("cannot copy the returned array: {e}"))
            })?;
            (d, t, n, o, true)
        }
        (Some(_), RvPolicy::ReferenceInternal) => return Err(PyErr::runtime_error(
            "return policy reference_internal cannot apply to an array that has an owner already",
        )),
        (Some(o), _) => (data, dtype, dims, o, plain),
        (None, RvPolicy::Reference) => (data, dtype, dims, OwnerBox::None, true),
        (None, RvPolicy::ReferenceInternal) => (data, dtype, dims, parent_owner(ctx)?, false),
        (None, RvPolicy::None) => {
            return Err(PyErr::runtime_error(
                "return policy none refuses to create a new array object",
            ))
        }
    };
    if kind == TargetKind::Numpy {
        // NumPy exposes the data itself: its base only has to own it.
        let base = crate::array::owner::owner_object(owner)?;
        return crate::array::export::numpy::to_numpy(data, dtype, &dims, read_only, base);
    }
    if kind == TargetKind::Torch {
        // torch ≥ 2.10 publishes the table on `torch.Tensor`.
        let to_py = TORCH.exchange_api().and_then(|api| api.managed_tensor_to_py_object_no_sync);
        if let Some(to_py) = to_py {
            // torch's C converter takes a managed tensor owning the
            // memory itself: no `ndbind.ndarray` in between.
            // SAFETY: the constructors' contracts: `owner` keeps `data`,
            // which covers `dims`, alive and in place.
            let m = unsafe {
                let parts = TensorParts::cpu(data, dtype, dims.shape(), dims.strides());
                let opts = ExportOptions { plain, read_only, ..ExportOptions::NONE };
                crate::array::export::dlpack::managed_versioned(parts, owner, opts)
            };
            let mut out: *mut c_void = std::ptr::null_mut();
            // SAFETY: torch's own converter; it steals the managed
            // tensor.
            if unsafe { to_py(m.as_ptr(), &mut out) } != 0 {
                return Err(PyErr::fetch());
            }
            // SAFETY: a new reference to a torch.Tensor.
            return unsafe { Object::from_owned_or_err(out as *mut ffi::PyObject) };
        }
    }
    // SAFETY: as above.
    let layout = unsafe { dims.to_layout(data, dtype, false) };
    let obj = array_object::new(layout, owner, read_only)?;
    let (l, ro) = array_object::layout_of(obj.borrow()).expect("fresh ndbind.ndarray");
    match kind {
        TargetKind::ArrayApi | TargetKind::Numpy => Ok(obj),
        // SAFETY: the object exports buffers.
        TargetKind::MemoryView => unsafe {
            Object::from_owned_or_err(ffi::PyMemoryView_FromObject(obj.as_ptr()))
        },
        // A read-only array goes out versioned: only that carries the flag.
        TargetKind::Capsule => {
            let opts = ExportOptions { versioned: ro, read_only: ro, ..ExportOptions::NONE };
            crate::array::export::dlpack::export(&obj, l, opts)
        }
        // torch without the exchange API (< 2.10): its Python-level
        // `from_dlpack`.
        TargetKind::Torch => TORCH.dlpack_importer()?.call(&[obj.borrow()]),
        TargetKind::Jax => {
            // A legacy capsule (no flags): what jaxlib's converter takes.
            let capsule = || crate::array::export::dlpack::export(&obj, l, ExportOptions::NONE);
            match crate::array::export::jax::from_capsule(capsule, dtype) {
                Some(r) => r,
                None => JAX.dlpack_importer()?.call(&[obj.borrow()]),
            }
        }
        TargetKind::TensorFlow => {
            let cap = crate::array::export::dlpack::export(&obj, l, ExportOptions::NONE)?;
            TENSORFLOW.dlpack_importer()?.call(&[cap.borrow()])
        }
    }
}

/// The owner of memory nobody owns under `reference_internal`: the parent
/// (`self`). A bound instance's value stays put (borrowed) while the array
/// lives; another object is just kept alive.
#[inline(never)]
fn parent_owner(ctx: &ReturnCtx) -> PyResult<OwnerBox> {
    let Some(parent) = ctx.parent() else {
        return Err(PyErr::runtime_error(
            "return policy reference_internal needs a parent object (self), but the function has none",
        ));
    };
    Ok(match crate::core::class::pin_instance(parent)? {
        Some(pin) => OwnerBox::Pinned(pin),
        None => OwnerBox::Python(parent.to_owned()),
    })
}

/// An `ndarray` array returned as is becomes a NumPy array, without a copy.
impl<T: Scalar, D: Dimension + 'static> IntoPy for Array<T, D> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        ArrayOut::<Numpy, T>::from_ndarray(self)?.into_py(ctx)
    }
    fn type_name(out: &mut String) {
        let req = Requirements {
            dtype: Some(T::DTYPE),
            ndim: D::NDIM.map_or(-1, |n| n as i32),
            writable: true,
            ..Requirements::NONE
        };
        req.render("numpy.ndarray", out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_only_for_c_ordered_arrays() {
        // No interpreter needed: nothing is exported, errors stay lazy.
        let c = ArrayOut::<Numpy, f64>::from_vec(vec![1.0; 8], &[2, 4]).unwrap();
        let f = c.fortran_order().unwrap();
        assert_eq!(f.parts.dims.strides(), Some(&[1i64, 2][..]));
        let mut a = ndarray::Array1::from_vec(vec![1.0, 2.0, 3.0, 4.0]);
        a.invert_axis(ndarray::Axis(0));
        assert!(ArrayOut::<Numpy, f64>::from_ndarray(a).unwrap().fortran_order().is_err());
        let t = ndarray::Array2::<f64>::zeros((2, 3)).reversed_axes();
        assert!(ArrayOut::<Numpy, f64>::from_ndarray(t).unwrap().fortran_order().is_err());
    }

    #[test]
    fn custom_owners_of_bools_are_refused() {
        struct Owner(Vec<bool>);
        impl AsMut<[bool]> for Owner {
            fn as_mut(&mut self) -> &mut [bool] {
                &mut self.0
            }
        }
        assert!(ArrayOut::<Numpy, bool>::from_owner(Owner(vec![true; 2]), &[2]).is_err());
        assert!(ArrayOut::<Numpy, bool>::from_vec(vec![true; 2], &[2]).is_ok());
        assert!(ArrayOut::<Numpy, f32>::from_owner(vec![1.0f32; 2], &[2]).is_ok());
    }
}
