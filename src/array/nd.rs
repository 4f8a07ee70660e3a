//! [`NdArray`]: an array argument whose requirements live in its type.

use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};

use ndarray::{ArrayView, ArrayViewMut, Dimension, IxDyn};
use ndbind_dlpack::DeviceType;

use crate::array::dtype::{DType, Scalar};
use crate::array::handle::ArrayHandle;
use crate::array::requirements::{AnyDType, Constraint, DTypeSpec, Requirements};
use crate::core::caster::{Filled, FromPy, IntoPy, Place, ReturnCtx, Spans};
use crate::core::error::{PyErr, PyResult};
use crate::core::extras::RvPolicy;
use crate::core::object::{Borrowed, Object};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::array::view::{raw_view, raw_view_mut};
use crate::core::alias::Loans;

/// Invariant, `!Send` marker for type-level parameters.
pub(crate) type Marker<P> = PhantomData<fn() -> P>;

/// An n-dimensional array received from Python — NumPy, PyTorch, JAX, any
/// `__dlpack__` producer, a DLPack capsule or a buffer-protocol object —
/// without a copy.
///
/// `T` is the element type (a [`Scalar`] such as `f32`, or [`AnyDType`]);
/// `C` is a tuple of constraints ([`crate::array::Shape3`],
/// [`crate::array::CContig`], [`crate::array::Writable`], …). Arrays are
/// read-only unless `Writable` is asked for; read-only Python arrays are only
/// accepted by read-only parameters, and writable parameters never receive a
/// converted copy. Conversion (a dtype/order fix made by the array's own
/// framework) happens only when the binding allows it with
/// `arg("a").convert()`.
///
/// The handle keeps the producer's memory alive; it may be stored in a Rust
/// struct after the call (with the GIL: it is `!Send`).
///
/// ```
/// use ndbind::array::{CContig, NdArray, Shape2, Writable, ANY};
/// use ndbind::prelude::*;
///
/// fn sum(a: NdArray<f64>) -> PyResult<f64> {
///     Ok(a.view()?.sum())
/// }
/// fn fill(mut a: NdArray<f32, (Shape2<10, ANY>, CContig, Writable)>) -> PyResult<()> {
///     for (i, x) in a.view_mut()?.iter_mut().enumerate() {
///         *x = i as f32;
///     }
///     Ok(())
/// }
/// # ndbind::module!(doc_ext, |m| {
/// #     m.def("sum", sum, arg("a"))?;
/// #     m.def("fill", fill, arg("a"))?;
/// #     Ok(())
/// # });
/// ```
pub struct NdArray<T: DTypeSpec = AnyDType, C: Constraint = ()> {
    /// Released by `Drop for NdArray`, whose common case is inline.
    h: ManuallyDrop<ArrayHandle>,
    /// The loan of this handle's views (see `view`): held until the next
    /// `view_mut()` or the handle's drop, which prove that no view made
    /// before is alive (they borrow the handle).
    lent: LentCell,
    _m: Marker<(T, C)>,
}

/// What the views of an `NdArray` hold lent out, in one word: 0 for
/// nothing, else the loan's id, its top bit set for a mutable loan. With
/// the GIL plain loads and stores (an `NdArray` is not `Sync`); atomic
/// steps when free-threaded, where a [`crate::array::StoredArray`] shares
/// its handle between threads.
struct LentCell(AtomicU64);

const MUT_BIT: u64 = 1 << 63;

impl LentCell {
    const fn nothing() -> LentCell {
        LentCell(AtomicU64::new(0))
    }

    #[inline(always)]
    fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Whether a shared loan is held.
    fn shared(&self) -> bool {
        let v = self.get();
        v != 0 && v & MUT_BIT == 0
    }

    /// Whether a mutable loan is held.
    fn mutable(&self) -> bool {
        self.get() & MUT_BIT != 0
    }

    /// Ends the loan held, if any.
    fn end(&self) {
        #[cfg(not(Py_GIL_DISABLED))]
        let v = {
            let v = self.get();
            self.0.store(0, Ordering::Release);
            v
        };
        #[cfg(Py_GIL_DISABLED)]
        let v = self.0.swap(0, Ordering::AcqRel);
        if v != 0 {
            drop(Loans::from_id(v & !MUT_BIT));
        }
    }

    /// Holds `loans` (a single loan); the one held before was ended (the
    /// new loan was checked against the live ones, which must not include
    /// this handle's own). Free-threaded, another thread sharing the
    /// handle may have stored its own shared loan meanwhile: that one is
    /// kept and `loans` ends.
    fn hold(&self, loans: Loans, writable: bool) {
        let id = loans.into_id();
        let v = if id != 0 && writable { id | MUT_BIT } else { id };
        #[cfg(not(Py_GIL_DISABLED))]
        {
            debug_assert_eq!(self.get(), 0, "a loan is held");
            self.0.store(v, Ordering::Release);
        }
        #[cfg(Py_GIL_DISABLED)]
        if self.0.compare_exchange(0, v, Ordering::AcqRel, Ordering::Acquire).is_err() {
            drop(Loans::from_id(id));
        }
    }
}

impl<T: DTypeSpec, C: Constraint> Drop for NdArray<T, C> {
    #[inline(always)]
    fn drop(&mut self) {
        // Most handles never lent their memory (no `view()` call): the
        // common case is one test, inline.
        if self.lent.get() != 0 {
            end_lent(&self.lent);
        }
        // SAFETY: the handle is released here, once, and never used again.
        unsafe { crate::array::handle::release(&mut self.h) }
    }
}

#[cold]
#[inline(never)]
fn end_lent(lent: &LentCell) {
    lent.end()
}

impl<T: DTypeSpec, C: Constraint> NdArray<T, C> {
    /// The requirements this type states.
    pub const REQ: Requirements = Requirements { dtype: T::DTYPE, ..C::REQ };

    /// Number of dimensions.
    #[inline]
    pub fn ndim(&self) -> usize {
        self.h.ndim()
    }
    /// Extents.
    #[inline]
    pub fn shape(&self) -> &[i64] {
        self.h.shape()
    }
    /// Extents as an `ndarray` dimension (inline up to four axes); returned
    /// to Python it is a `list[int]`.
    #[inline]
    pub fn dim(&self) -> ndarray::IxDyn {
        crate::array::view::dim_of(self.h.shape())
    }
    /// Strides, in elements (may be negative or zero).
    #[inline]
    pub fn strides(&self) -> &[i64] {
        self.h.strides()
    }
    /// Element type.
    #[inline]
    pub fn dtype(&self) -> DType {
        self.h.dtype()
    }
    /// Where the memory lives (`Device::CPU` for host memory; returned to
    /// Python, the `(device_type, device_id)` tuple of DLPack).
    #[inline]
    pub fn device(&self) -> crate::array::Device {
        self.h.device()
    }
    /// DLPack's `byte_offset`: bytes from [`NdArray::raw_data`] to the
    /// first element (0 for NumPy and buffer-protocol arrays, which give
    /// the first element's address).
    #[inline]
    pub fn byte_offset(&self) -> u64 {
        self.h.byte_offset()
    }
    /// The producer's data pointer *without* `byte_offset` folded in.
    /// Devices whose buffers are opaque handles rather than addresses
    /// (OpenCL `cl_mem`, Vulkan, Metal, WebGPU) need this pair: there
    /// [`NdArray::as_ptr`] (`raw_data + byte_offset`) means nothing.
    ///
    /// ```
    /// use ndbind::array::NdArray;
    /// use ndbind::prelude::*;
    /// use std::ffi::c_void;
    ///
    /// fn where_is(a: NdArray) -> (usize, u64, usize) {
    ///     let (raw, off) = (a.raw_data(), a.byte_offset());
    ///     assert_eq!(a.as_ptr() as usize, raw as usize + off as usize); // for addresses
    ///     (raw as usize, off, a.as_ptr() as usize)
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("where_is", where_is, arg("a"))?; Ok(()) });
    /// ```
    #[inline]
    pub fn raw_data(&self) -> *const std::ffi::c_void {
        self.h.raw_data()
    }
    /// The CUDA/ROCm stream the data is ready on ([`crate::array::Stream`];
    /// ndbind makes no CUDA call, so ordering work is the binding's job):
    /// - from `__dlpack__`: the stream ndbind passed (the parameter's
    ///   [`OnStream`](crate::array::OnStream) source, else the legacy
    ///   default stream); the producer has synchronised with it;
    /// - from a DLPack C exchange-API producer (torch): its current work
    ///   stream for the device, not synchronised: run the work on it, or
    ///   make the binding's stream wait on it;
    /// - from `__cuda_array_interface__` (version 3): the producer's
    ///   stream, not synchronised: as above; `None` when the producer
    ///   needs no synchronisation.
    ///
    /// `None` for host memory (and NumPy, the buffer protocol, raw
    /// capsules, whose producer is not asked).
    ///
    /// ```
    /// use ndbind::array::{NdArray, Stream};
    ///
    /// fn ready_on(a: NdArray) -> Option<isize> {
    ///     a.stream().map(Stream::as_raw)
    /// }
    /// # ndbind::module!(doc_ext, |m| {
    /// #     m.def("ready_on", ready_on, ndbind::arg("a"))?;
    /// #     Ok(())
    /// # });
    /// ```
    #[inline]
    pub fn stream(&self) -> Option<crate::array::Stream> {
        self.h.stream()
    }
    /// Number of elements.
    #[inline]
    pub fn size(&self) -> usize {
        self.h.size()
    }
    /// Bytes per element.
    #[inline]
    pub fn itemsize(&self) -> usize {
        self.h.itemsize()
    }
    /// `size() * itemsize()`.
    #[inline]
    pub fn nbytes(&self) -> usize {
        self.size() * self.itemsize()
    }
    /// Whether the memory may not be written.
    #[inline]
    pub fn is_read_only(&self) -> bool {
        self.h.read_only()
    }
    /// C-contiguous (axes of extent 0/1 tolerated).
    #[inline]
    pub fn is_c_contiguous(&self) -> bool {
        self.h.is_c_contiguous()
    }
    /// Fortran-contiguous (axes of extent 0/1 tolerated).
    #[inline]
    pub fn is_f_contiguous(&self) -> bool {
        self.h.is_f_contiguous()
    }
    /// Address of the first element (may be a device pointer).
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.h.data() as *const u8
    }
    /// Mutable address of the first element; only for writable arrays
    /// (checked at compile time).
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        const { assert!(Self::REQ.writable, "as_mut_ptr() needs a Writable array type") };
        self.h.data() as *mut u8
    }
    /// The Python object the array came from (or the converted copy the
    /// function saw).
    pub fn object(&self) -> Option<Borrowed<'_>> {
        self.h.source.as_ref().map(Object::borrow)
    }

    /// The imported handle (its owner and source, for `StoredArray`).
    pub(crate) fn handle(&self) -> &ArrayHandle {
        &self.h
    }

    pub(crate) fn layout(&self) -> PyResult<std::borrow::Cow<'_, ndbind_dlpack::Layout>> {
        self.h.to_layout()
    }

    /// Whether the memory holds the values as they read: `ValueError` for a
    /// torch tensor with the negative or conjugate bit set, `RuntimeError`
    /// for one resized or replaced since its import.
    fn values_held(&self) -> PyResult<()> {
        if self.h.lazy_bits_set() {
            return Err(PyErr::value_error(
                "the torch tensor has its negative or conjugate bit set: its memory does not hold its values \
                 (call .resolve_neg() / .resolve_conj() first)",
            ));
        }
        if !self.h.memory_unchanged() {
            return Err(PyErr::fetch());
        }
        Ok(())
    }

    /// Whether the values may be read right now (for a copy): the memory
    /// holds them and no live mutable view covers it.
    pub(crate) fn check_readable(&self) -> PyResult<()> {
        self.values_held()?;
        // This handle's own mutable loan outlives its views (see `view`);
        // with `&self` available they are gone.
        if self.lent.mutable() {
            self.lent.end();
        }
        if !crate::core::alias::readable(self.h.span(false, false), "a copy of an NdArray") {
            return Err(PyErr::fetch());
        }
        Ok(())
    }

    /// A typed view after a run-time dtype check: for arrays whose dtype
    /// is only known at run time (`NdArray<AnyDType>`), the same view as
    /// [`NdArray::view`] once the dtype is `U` and the rank is `D`'s.
    /// `TypeError` naming the array's dtype (or rank) when they differ,
    /// `ValueError` when the data is not aligned for `U`; loans and checks
    /// as for `view` (CPU arrays only).
    ///
    /// ```
    /// use ndbind::array::{DType, NdArray};
    /// use ndbind::ndarray::Ix2;
    /// use ndbind::prelude::*;
    ///
    /// // One function for float32 and float64 matrices.
    /// fn trace(a: NdArray) -> PyResult<f64> {
    ///     if a.dtype() == DType::FLOAT32 {
    ///         Ok(a.view_as::<f32, Ix2>()?.diag().iter().map(|&x| x as f64).sum())
    ///     } else {
    ///         Ok(a.view_as::<f64, Ix2>()?.diag().sum())
    ///     }
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("trace", trace, arg("a"))?; Ok(()) });
    /// ```
    pub fn view_as<U: Scalar, D: Dimension>(&self) -> PyResult<ArrayView<'_, U, D>> {
        self.typed_as(U::DTYPE, D::NDIM)?;
        self.lend_shared(U::DTYPE)?;
        // SAFETY: the dtype is `U`'s, the rank `D`'s and the data aligned
        // for `U` (checked above); otherwise as in `view`.
        Ok(unsafe { raw_view::<U, D>(&self.h) })
    }

    /// The mutable [`NdArray::view_as`] (writable arrays only, checked at
    /// compile time, as for [`NdArray::view_mut`], whose loans it shares).
    ///
    /// ```
    /// use ndbind::array::{AnyDType, NdArray, Writable};
    /// use ndbind::ndarray::Ix1;
    /// use ndbind::prelude::*;
    ///
    /// fn zero_first(mut a: NdArray<AnyDType, Writable>) -> PyResult<()> {
    ///     match a.dtype().name() {
    ///         "int32" => a.view_as_mut::<i32, Ix1>()?[0] = 0,
    ///         _ => a.view_as_mut::<f64, Ix1>()?[0] = 0.0,
    ///     }
    ///     Ok(())
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("zero_first", zero_first, arg("a"))?; Ok(()) });
    /// ```
    pub fn view_as_mut<U: Scalar, D: Dimension>(&mut self) -> PyResult<ArrayViewMut<'_, U, D>> {
        const { assert!(Self::REQ.writable, "view_as_mut() needs a Writable array type") };
        self.typed_as(U::DTYPE, D::NDIM)?;
        self.lend_mut(U::DTYPE)?;
        // SAFETY: as in `view_as` and `view_mut`.
        Ok(unsafe { raw_view_mut::<U, D>(&self.h) })
    }

    /// Whether the array may be viewed as `want` elements in `ndim`
    /// dimensions (`None`: any).
    #[inline(never)]
    fn typed_as(&self, want: DType, ndim: Option<usize>) -> PyResult<()> {
        let have = self.dtype();
        if have != want {
            let name = if have.is_known() {
                have.name().to_owned()
            } else {
                format!("(code {}, bits {}, lanes {})", have.code, have.bits, have.lanes)
            };
            return Err(PyErr::type_error(format!(
                "the array has dtype {name}, not {}",
                want.name()
            )));
        }
        if let Some(n) = ndim.filter(|&n| n != self.ndim()) {
            return Err(PyErr::type_error(format!(
                "the array has {} dimension(s), not {n}",
                self.ndim()
            )));
        }
        let align = crate::array::check::alignment(want);
        if (self.h.data() as usize) & (align - 1) != 0 && self.size() > 0 {
            return Err(PyErr::value_error(format!(
                "the array's data (address {:#x}) is not {align}-byte aligned for {}",
                self.h.data() as usize,
                want.name()
            )));
        }
        Ok(())
    }

    /// Lends the memory to shared views of `dtype` elements (see `view`).
    #[inline]
    fn lend_shared(&self, dtype: DType) -> PyResult<()> {
        self.cpu()?;
        // `&self` is available, so views of a `view_mut()` are gone: its
        // loan ends (before the values are read). Views made before may
        // still be alive: a shared loan stays, else a shared one is made.
        if self.lent.mutable() {
            self.lent.end();
        }
        self.check_values(dtype)?;
        if !self.lent.shared() {
            self.lent.hold(self.lend(false)?, false);
        }
        Ok(())
    }

    /// Lends the memory to one mutable view of `dtype` elements (see
    /// `view_mut`); the array is writable.
    #[inline]
    fn lend_mut(&mut self, dtype: DType) -> PyResult<()> {
        self.cpu()?;
        // `&mut self`: no view made before is alive.
        self.lent.end();
        self.check_values(dtype)?;
        self.lent.hold(self.lend(true)?, true);
        Ok(())
    }

    /// The values may be read as `dtype`: the memory holds them (no lazy
    /// torch bits) and, for `bool`, only 0/1 (Python code may have written
    /// other bytes since the import: a handle can be kept across calls).
    fn check_values(&self, dtype: DType) -> PyResult<()> {
        self.values_held()?;
        if dtype == DType::BOOL && !self.h.bools_valid() {
            return Err(PyErr::fetch());
        }
        Ok(())
    }

    fn lend(&self, writable: bool) -> PyResult<Loans> {
        crate::core::alias::lend(self.h.span(writable, true), &|| "NdArray".to_owned())
            .ok_or_else(PyErr::fetch)
    }

    fn cpu(&self) -> PyResult<()> {
        // Host memory the CPU reads directly (ROCm's pinned host memory is
        // not among them, unlike `DeviceType::is_host_accessible`).
        match self.h.device().device_type {
            DeviceType::CPU | DeviceType::CUDA_HOST | DeviceType::CUDA_MANAGED => Ok(()),
            t => {
                Err(PyErr::type_error(format!("array data is on device type {}, not the CPU", t.0)))
            }
        }
    }
}

impl<T: Scalar, C: Constraint> NdArray<T, C> {
    /// An `ndarray` view of the data (CPU arrays only).
    ///
    /// The memory is *lent* to this handle's views: while it is, no
    /// conflicting Rust view of it can be made (`ValueError`: a view of
    /// memory under a live `view_mut()` of another handle, or under a
    /// running function's `ArrayViewMut` parameter). A kept handle's loan
    /// lasts until its next `view_mut()` or its drop, since its views
    /// borrow it until then at most.
    pub fn view(&self) -> PyResult<ArrayView<'_, T, IxDyn>> {
        self.lend_shared(T::DTYPE)?;
        // SAFETY: the layout was validated against the dtype `T` (REQ) and
        // describes live CPU memory owned by the handle, borrowed by `self`;
        // no live mutable view overlaps it (the loan).
        Ok(unsafe { raw_view::<T, IxDyn>(&self.h) })
    }

    /// A mutable `ndarray` view (writable arrays only, checked at compile
    /// time; CPU arrays only). `ValueError` while any other Rust view of
    /// the same memory is live (see [`NdArray::view`]).
    pub fn view_mut(&mut self) -> PyResult<ArrayViewMut<'_, T, IxDyn>> {
        const { assert!(Self::REQ.writable, "view_mut() needs a Writable array type") };
        self.lend_mut(T::DTYPE)?;
        // SAFETY: as in `view`; the array is writable, `&mut self` is
        // exclusive on this handle, and no other live view overlaps it.
        Ok(unsafe { raw_view_mut::<T, IxDyn>(&self.h) })
    }

    /// Ends the loan of the views made so far (see [`NdArray::view`]):
    /// `&mut self` proves that none of them is alive. For handles kept
    /// after their call, whose loan would otherwise last until their next
    /// `view_mut()` or their drop.
    pub fn release_views(&mut self) {
        self.lent.end();
    }

    /// Element at `index` (checked), or `None` when out of bounds or while
    /// a mutable view of the array is live.
    pub fn get(&self, index: &[usize]) -> Option<T> {
        let l = &self.h;
        if index.len() != l.ndim() || self.cpu().is_err() {
            return None;
        }
        if self.check_readable().is_err() {
            return None;
        }
        let mut off = 0isize;
        for ((&i, &n), &s) in index.iter().zip(l.shape()).zip(l.strides()) {
            if i as i64 >= n {
                return None;
            }
            off += i as isize * s as isize;
        }
        // SAFETY: in bounds of a validated CPU layout of `T` elements.
        let p = unsafe { (l.data() as *const T).offset(off) };
        // SAFETY: as above; a bool element is one byte, read as such first
        // (Python code may have stored another value there).
        if T::DTYPE == DType::BOOL && unsafe { *(p as *const u8) } > 1 {
            return None;
        }
        // SAFETY: as above; a valid `T` (the `Scalar` contract).
        Some(unsafe { p.read_unaligned() })
    }
}

impl<T: DTypeSpec, C: Constraint> FromPy for NdArray<T, C> {
    const CONVERT_BY_DEFAULT: bool = false;
    const MAY_WRITE: bool = Self::REQ.writable;

    #[inline]
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        crate::array::import::import(obj, &Self::REQ, convert).map(|h| NdArray {
            h: ManuallyDrop::new(h),
            lent: LentCell::nothing(),
            _m: PhantomData,
        })
    }

    /// The handle is imported straight into the argument holder.
    #[inline(always)]
    fn load_into(mut place: Place<'_, Self>, obj: Borrowed<'_>, convert: bool) -> Option<Filled> {
        // SAFETY: `NdArray` is its handle (in a transparent `ManuallyDrop`),
        // its loan state and a zero-sized marker: the handle is initialised
        // exactly when `import_into` returns true, and the loan state right
        // after, so the whole value is.
        unsafe {
            let p = place.as_mut_ptr();
            let h = std::ptr::addr_of_mut!((*p).h).cast::<MaybeUninit<ArrayHandle>>();
            if !crate::array::import::import_into(obj, &Self::REQ, convert, &mut *h) {
                return None;
            }
            std::ptr::addr_of_mut!((*p).lent).write(LentCell::nothing());
            Some(place.assume_filled())
        }
    }

    fn type_name(out: &mut String) {
        Self::REQ.render("ndarray", out)
    }

    fn explain(obj: Borrowed<'_>, convert: bool) -> Option<String> {
        crate::array::reasons::explain(obj, &Self::REQ, convert, false)
    }

    #[inline]
    fn spans<'a>(&'a self, out: &mut Spans<'a>) {
        out.push(self.h.span(Self::REQ.writable, false))
    }

    #[inline]
    fn recheck(&mut self) -> bool {
        self.h.recheck(Self::REQ.dtype == Some(DType::BOOL))
    }

    #[inline]
    fn commit(&mut self) {
        self.h.commit()
    }
}

/// A device is returned as DLPack's `(device_type, device_id)` tuple.
impl IntoPy for crate::array::Device {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        (self.device_type.0, self.device_id).into_py(ctx)
    }
    fn type_name(out: &mut String) {
        <(i32, i32) as IntoPy>::type_name(out)
    }
}

/// Returning an imported array returns the very object it came from; an
/// array imported from a raw DLPack capsule (which the import consumed)
/// returns a new, unconsumed capsule owning the same tensor, as nanobind
/// does, so that the caller can still use it.
///
/// The return policy `Copy` returns a copy made by the array's framework
/// (NumPy `.copy()`, torch `.clone()`, on the array's device; a JAX array
/// is immutable and returned as is), or for other CPU arrays a copy
/// made by ndbind in the kind of object they came as (a `memoryview` for
/// a buffer, a capsule for a capsule, else an `ndbind.ndarray`); device
/// memory is never read from the host (`TypeError` for a device array of
/// another framework). The copy is writable, whether or not the array
/// was. `ReferenceInternal` raises `RuntimeError`: the array has an
/// owner already (its Python object), which cannot become `self`.
///
/// ```
/// use ndbind::array::NdArray;
/// use ndbind::prelude::*;
///
/// fn snapshot(a: NdArray) -> NdArray {
///     a
/// }
/// # ndbind::module!(doc_ext, |m| {
/// // Python gets its own copy of the array, writable, in its framework.
/// m.def("snapshot", snapshot, (arg("a"), RvPolicy::Copy))?;
/// #     Ok(())
/// # });
/// ```
///
/// Its signature shows `writable=True` only for a `Writable` type: any
/// other is the caller's array, writable or not.
impl<T: DTypeSpec, C: Constraint> IntoPy for NdArray<T, C> {
    #[inline]
    fn into_py(mut self, ctx: &ReturnCtx) -> PyResult<Object> {
        match ctx.policy() {
            RvPolicy::Copy => {
                self.check_readable()?;
                returned_copy(&self.h)
            }
            RvPolicy::ReferenceInternal => Err(PyErr::runtime_error(
                "return policy reference_internal cannot apply to an imported array: it has an owner \
                 already (the Python object it came from)",
            )),
            _ => self.h.return_object(),
        }
    }
    fn type_name(out: &mut String) {
        Self::REQ.render_returned("ndarray", Self::REQ.writable.then_some(true), out)
    }
}

/// The copy of an imported array that return policy `Copy` asks for (see
/// `IntoPy for NdArray`); its values are readable (checked).
#[cold]
#[inline(never)]
fn returned_copy(h: &ArrayHandle) -> PyResult<Object> {
    use crate::array::export::TargetKind;
    use crate::array::frameworks::{is_jax, is_torch};
    let Some(src) = h.source.as_ref() else {
        return Err(PyErr::runtime_error("array has no Python object"));
    };
    let obj = src.borrow();
    if crate::array::import::numpy::is_numpy_array(obj) {
        return obj.call_method(c"copy", &[]);
    }
    if is_torch(obj) {
        return obj.call_method(c"clone", &[]);
    }
    if is_jax(obj) {
        // Immutable: a copy could not be told apart from the array.
        return Ok(src.clone());
    }
    let d = h.device();
    if d.device_type != DeviceType::CPU {
        return Err(PyErr::type_error(format!(
            "cannot copy an array on device {} ({}) for return policy copy: ndbind copies device \
             memory only through NumPy or torch, and never reads it from the host",
            crate::array::requirements::device_name(d.device_type),
            d.device_id
        )));
    }
    // SAFETY: an exact type check of a live object.
    let kind = if unsafe { pyo3_ffi::PyCapsule_CheckExact(obj.as_ptr()) } != 0 {
        TargetKind::Capsule
    } else if matches!(h.owner, crate::array::handle::Owner::Buffer(_)) {
        TargetKind::MemoryView
    } else {
        TargetKind::ArrayApi
    };
    crate::array::export::export_copy(&*h.to_layout()?, kind)
}
