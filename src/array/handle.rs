//! An imported array: a description of its memory and what keeps it alive.
//!
//! NumPy arrays are described lazily by NumPy's own array struct (shape,
//! contiguity and alignment come from NumPy's fields and flags), which keeps
//! the common case cheap: nothing is copied at import. Every other route
//! produces a validated [`Layout`].

use std::ffi::c_void;
use std::ptr::NonNull;

use ndbind_dlpack::{DLDevice, DLManagedTensor, DLManagedTensorVersioned, Layout};
use pyo3_ffi as ffi;

use crate::array::dtype::DType;
use crate::array::import::numpy::NumpyView;
use crate::array::stream::Stream;
use crate::core::error::preserving_error;
use crate::core::object::Object;

/// What owns the memory of an imported array, released exactly once when
/// the handle drops (with the GIL held: handles are `!Send`).
// `repr(u64)`: the tag is written in one 8-byte store (see `NumpyView`).
#[repr(u64)]
pub(crate) enum Owner {
    /// The source object itself (a NumPy array, an `ndbind.ndarray`, …),
    /// whose memory stays put while it is alive.
    Source,
    /// The source object, viewed through its type's DLPack exchange table
    /// (torch): nothing but the reference is held, and Python code can
    /// move the memory (`resize_`, `set_`), so the view is re-read before
    /// use when such code may have run (see [`ArrayHandle::recheck`]).
    Exchange(&'static ndbind_dlpack::DLPackExchangeAPI),
    /// A consumed legacy DLPack tensor: its deleter runs on drop.
    Legacy(NonNull<DLManagedTensor>),
    /// A consumed versioned DLPack tensor: its deleter runs on drop.
    Versioned(NonNull<DLManagedTensorVersioned>),
    /// A buffer-protocol view: released on drop.
    Buffer(Box<ffi::Py_buffer>),
    /// A raw DLPack capsule's tensor, taken at load (the capsule renamed
    /// `used_dltensor[_versioned]`, so Python code running while later
    /// arguments load cannot hand it to another consumer), not committed
    /// yet. Dropped uncommitted (an overload failed on a later argument),
    /// it is handed back to the capsule, which is usable again;
    /// [`ArrayHandle::commit`] makes it a `Legacy`/`Versioned` owner.
    TakenCapsule(Box<TakenCapsule>),
}

/// See [`Owner::TakenCapsule`].
pub(crate) struct TakenCapsule {
    /// The managed tensor (legacy or versioned, as `versioned` says).
    pub(crate) tensor: NonNull<c_void>,
    /// The capsule, kept alive by the handle's `source` (dropped after
    /// the owner).
    pub(crate) capsule: NonNull<ffi::PyObject>,
    pub(crate) versioned: bool,
}

pub(crate) enum Repr {
    Numpy(NumpyView),
    General(Box<General>),
}

/// A validated layout, and the stream its data is ready on (CUDA/ROCm
/// imports only; see [`ArrayHandle::stream`]). Reads as its layout.
pub(crate) struct General {
    layout: Layout,
    stream: Option<Stream>,
}

impl std::ops::Deref for General {
    type Target = Layout;
    #[inline]
    fn deref(&self) -> &Layout {
        &self.layout
    }
}

impl From<Layout> for General {
    #[inline]
    fn from(layout: Layout) -> General {
        General { layout, stream: None }
    }
}

/// An imported array and the owner of its memory.
pub struct ArrayHandle {
    pub(crate) repr: Repr,
    pub(crate) owner: Owner,
    /// Whether the memory must not be written (the producer's flag, or
    /// knowledge about the producer, e.g. JAX): 0 or 1, a whole word
    /// written in one store (see `NumpyView`).
    read_only: u64,
    /// The Python object the array came from (or the converted copy the
    /// function really saw): returning the array returns this object.
    pub(crate) source: Option<Object>,
}

impl ArrayHandle {
    /// A handle over a validated layout.
    pub(crate) fn general(
        layout: Layout,
        owner: Owner,
        read_only: bool,
        source: Object,
    ) -> ArrayHandle {
        ArrayHandle {
            repr: Repr::General(Box::new(layout.into())),
            owner,
            read_only: read_only as u64,
            source: Some(source),
        }
    }

    /// A handle over memory that `layout` describes and that no Python
    /// object owns (nothing is released when the handle drops): Rust code
    /// describing its own memory, and requirement checks without an
    /// interpreter (see [`crate::array::Requirements::accepts`]).
    pub fn from_layout(layout: Layout) -> ArrayHandle {
        let read_only = layout.is_read_only();
        ArrayHandle {
            repr: Repr::General(Box::new(layout.into())),
            owner: Owner::Source,
            read_only: read_only as u64,
            source: None,
        }
    }

    /// A handle over a NumPy array, read in place.
    pub(crate) fn numpy(view: NumpyView, source: Object) -> ArrayHandle {
        let read_only = view.read_only();
        ArrayHandle {
            repr: Repr::Numpy(view),
            owner: Owner::Source,
            read_only: read_only as u64,
            source: Some(source),
        }
    }

    /// This handle, its data ready on `stream` (see [`ArrayHandle::stream`]).
    pub(crate) fn with_stream(mut self, stream: Option<Stream>) -> ArrayHandle {
        if let Repr::General(g) = &mut self.repr {
            g.stream = stream;
        }
        self
    }

    /// The CUDA/ROCm stream the data is ready on: the one passed to
    /// `__dlpack__` (the producer synchronised with it), the exchange-API
    /// producer's current work stream, or a `__cuda_array_interface__`
    /// producer's stream (neither synchronised: work on it, or wait on
    /// it); `None` for host memory and producers that need no
    /// synchronisation.
    #[inline]
    pub fn stream(&self) -> Option<Stream> {
        match &self.repr {
            Repr::Numpy(_) => None,
            Repr::General(g) => g.stream,
        }
    }

    /// Whether the memory must not be written.
    #[inline]
    pub(crate) fn read_only(&self) -> bool {
        self.read_only != 0
    }

    /// Number of dimensions.
    #[inline]
    pub fn ndim(&self) -> usize {
        match &self.repr {
            Repr::Numpy(v) => v.ndim(),
            Repr::General(l) => l.ndim(),
        }
    }

    /// Extents.
    #[inline]
    pub fn shape(&self) -> &[i64] {
        match &self.repr {
            Repr::Numpy(v) => v.shape(),
            Repr::General(l) => l.shape(),
        }
    }

    /// Stride of axis `i`, in elements.
    #[inline]
    pub fn stride(&self, i: usize) -> i64 {
        match &self.repr {
            Repr::Numpy(v) => v.stride(i),
            Repr::General(l) => l.strides()[i],
        }
    }

    /// Strides, in elements.
    pub fn strides(&self) -> &[i64] {
        match &self.repr {
            Repr::Numpy(v) => v.strides(),
            Repr::General(l) => l.strides(),
        }
    }

    /// Address of the first element.
    #[inline]
    pub fn data(&self) -> *mut c_void {
        match &self.repr {
            Repr::Numpy(v) => v.data(),
            Repr::General(l) => l.data(),
        }
    }

    /// The producer's data pointer, before `byte_offset`.
    #[inline]
    pub fn raw_data(&self) -> *mut c_void {
        match &self.repr {
            Repr::Numpy(v) => v.data(),
            Repr::General(l) => l.raw_data(),
        }
    }

    /// Bytes from [`ArrayHandle::raw_data`] to the first element.
    #[inline]
    pub fn byte_offset(&self) -> u64 {
        match &self.repr {
            Repr::Numpy(_) => 0,
            Repr::General(l) => l.byte_offset(),
        }
    }

    /// The element type.
    #[inline]
    pub fn dtype(&self) -> DType {
        match &self.repr {
            Repr::Numpy(v) => v.dtype(),
            Repr::General(l) => {
                // Field by field, not the whole word: the dtype comparison
                // of every call then folds with the NumPy arm's constant
                // lanes (4 instructions per NumPy argument, callgrind).
                let d = l.dtype();
                DType { code: d.code, bits: d.bits, lanes: d.lanes }
            }
        }
    }

    /// Where the memory lives.
    #[inline]
    pub fn device(&self) -> DLDevice {
        match &self.repr {
            Repr::Numpy(_) => DLDevice::CPU,
            Repr::General(l) => l.device(),
        }
    }

    /// Number of elements.
    #[inline]
    pub fn size(&self) -> usize {
        match &self.repr {
            Repr::Numpy(v) => v.size(),
            Repr::General(l) => l.size(),
        }
    }

    /// Bytes per element.
    #[inline]
    pub fn itemsize(&self) -> usize {
        self.dtype().itemsize()
    }

    /// C-contiguous (axes of extent 0/1 tolerated).
    #[inline]
    pub fn is_c_contiguous(&self) -> bool {
        match &self.repr {
            Repr::Numpy(v) => v.is_c_contiguous(),
            Repr::General(l) => l.is_c_contiguous(),
        }
    }

    /// Fortran-contiguous (axes of extent 0/1 tolerated).
    #[inline]
    pub fn is_f_contiguous(&self) -> bool {
        match &self.repr {
            Repr::Numpy(v) => v.is_f_contiguous(),
            Repr::General(l) => l.is_f_contiguous(),
        }
    }

    /// The memory this array exposes, for the alias check of a call.
    #[inline]
    pub(crate) fn span(&self, writable: bool, lends: bool) -> crate::core::caster::Span<'_> {
        crate::core::caster::Span {
            base: self.data() as usize,
            shape: self.shape(),
            strides: self.strides(),
            itemsize: self.itemsize(),
            writable,
            lends,
        }
    }

    /// Lowest address touched and one past the highest (equal when empty).
    pub fn byte_bounds(&self) -> (usize, usize) {
        match &self.repr {
            Repr::Numpy(v) => v.byte_bounds(),
            Repr::General(l) => l.byte_bounds(),
        }
    }

    /// A validated layout describing the same memory: `ValueError` for a
    /// NumPy array whose strides reach past the address space (made with
    /// `as_strided`; NumPy itself does not check them).
    pub(crate) fn to_layout(&self) -> crate::core::error::PyResult<std::borrow::Cow<'_, Layout>> {
        match &self.repr {
            Repr::Numpy(v) => v.to_layout().map(std::borrow::Cow::Owned).ok_or_else(|| {
                crate::core::error::PyErr::value_error(
                    "the array's strides reach past the address space",
                )
            }),
            Repr::General(l) => Ok(std::borrow::Cow::Borrowed(l)),
        }
    }

    /// The Python object to return for this array (see `IntoPy for
    /// NdArray`): the source object, or, for a consumed raw capsule, a new
    /// capsule that takes over the tensor (this handle then owns nothing).
    pub(crate) fn return_object(&mut self) -> crate::core::error::PyResult<Object> {
        let Some(src) = &self.source else {
            return Err(crate::core::error::PyErr::runtime_error("array has no Python object"));
        };
        // SAFETY: an exact type check of a live object.
        if unsafe { ffi::PyCapsule_CheckExact(src.as_ptr()) } == 0 {
            return Ok(src.clone());
        }
        let new = match self.owner {
            // SAFETY: the tensor is owned by this handle, and its ownership
            // passes to the new capsule (or, if that cannot be made, to
            // `new_legacy_capsule`, which deletes it): the owner is
            // replaced without being released.
            Owner::Legacy(p) => unsafe { ndbind_dlpack::new_legacy_capsule(p) },
            // SAFETY: as for a legacy tensor.
            Owner::Versioned(p) => unsafe { ndbind_dlpack::new_versioned_capsule(p) },
            _ => return Ok(src.clone()),
        };
        std::mem::forget(std::mem::replace(&mut self.owner, Owner::Source));
        // SAFETY: a new reference, or NULL with an error set.
        unsafe { Object::from_owned_or_err(new) }
    }

    /// Whether every byte of a `bool` array on host memory is 0 or 1 (other
    /// bytes are undefined behaviour as a Rust `bool`: NumPy's `.view(bool)`
    /// of other integers makes them). `ValueError` is set when not. Device
    /// memory is never read (no typed view of it is ever made).
    #[cold]
    #[inline(never)]
    pub(crate) fn bools_valid(&self) -> bool {
        let h = self;
        if !h.device().device_type.is_host_accessible() || h.size() == 0 {
            return true;
        }
        // Not while a Rust `&mut` view covers the memory (a running call's
        // parameter, another handle's `view_mut()`): it is that view's
        // alone (`ValueError`, as a view of it would get).
        if !crate::core::alias::readable(h.span(false, false), "a bool array") {
            return false;
        }
        let (shape, strides) = (h.shape(), h.strides());
        let base = h.data() as *const u8;
        let ok = if h.is_c_contiguous() {
            // SAFETY: a validated, non-empty C-contiguous layout of `size`
            // one-byte elements starting at `base`, kept alive by the handle.
            unsafe { std::slice::from_raw_parts(base, h.size()) }.iter().all(|&b| b <= 1)
        } else {
            let mut ok = true;
            crate::array::layout::for_each_offset(shape, strides, |off| {
                // SAFETY: `off` is the element offset of an index within the
                // validated shape, so it lies in the array's memory.
                ok &= unsafe { *base.offset(off) } <= 1;
            });
            ok
        };
        if !ok {
            crate::core::error::PyErr::value_error(
                "a bool array argument holds bytes other than 0 and 1 (e.g. a .view(bool) of other integers), \
                 which are not valid Rust bools",
            )
            .restore();
        }
        ok
    }

    /// Whether the array's memory does not hold its values as they read:
    /// a torch tensor with the negative or conjugate bit set, imported for
    /// a read-only parameter (whose bits are only checked when its values
    /// are about to be read, see `import::exchange::import`).
    pub(crate) fn lazy_bits_set(&self) -> bool {
        matches!(self.owner, Owner::Exchange(_))
            && self
                .source
                .as_ref()
                .is_some_and(|s| crate::array::import::exchange::lazy_flags_set(s.borrow()))
    }

    /// Re-validates a view that Python code may have invalidated since it
    /// was imported (see [`crate::FromPy::recheck`]): an exchange-API view
    /// is read again and must describe the same memory; false, with
    /// `RuntimeError` set, when it does not. Other owners hold what they
    /// use.
    ///
    /// `bools`: the handle is read as Rust `bool`s, whose bytes Python code
    /// may have changed (`ValueError` unless all are 0 or 1).
    #[inline]
    pub fn recheck(&mut self, bools: bool) -> bool {
        self.memory_unchanged() && (!bools || self.bools_valid())
    }

    /// Whether the memory described is still the array's: an exchange-API
    /// view is read again (a kept torch handle's tensor may have been
    /// resized or replaced since); `RuntimeError` set when not.
    #[inline]
    pub(crate) fn memory_unchanged(&self) -> bool {
        match self.owner {
            Owner::Exchange(api) => self.recheck_exchange(api),
            _ => true,
        }
    }

    #[cold]
    #[inline(never)]
    fn recheck_exchange(&self, api: &'static ndbind_dlpack::DLPackExchangeAPI) -> bool {
        let (Some(src), Repr::General(l)) = (&self.source, &self.repr) else { return true };
        // SAFETY: the table is the one of the source's type; the GIL is held.
        let same = unsafe { crate::array::import::exchange::view(src.borrow(), api) }
            .is_some_and(|now| same_memory(&now, l));
        if !same {
            crate::core::error::PyErr::runtime_error(
                "an array was resized or replaced (e.g. by torch's resize_() or set_()) by Python code that ran \
                 after it was imported (while later arguments were converted, or since a kept handle's import)",
            )
            .restore();
        }
        same
    }

    /// Makes the import permanent: a raw capsule's tensor, taken at load,
    /// is owned (and eventually deleted) by this handle from now on.
    #[inline]
    pub fn commit(&mut self) {
        if let Owner::TakenCapsule(t) = &self.owner {
            let (tensor, versioned) = (t.tensor, t.versioned);
            let new = if versioned {
                Owner::Versioned(tensor.cast())
            } else {
                Owner::Legacy(tensor.cast())
            };
            // Not dropped as an owner: that would hand the tensor back.
            let taken = std::mem::ManuallyDrop::new(std::mem::replace(&mut self.owner, new));
            if let Owner::TakenCapsule(b) = &*taken {
                // SAFETY: `taken` is never used or dropped again; its box
                // is freed here, once.
                drop(unsafe { std::ptr::read(b) });
            }
        }
    }
}

/// Drops `h`, inline when only its source object is to be released (a
/// NumPy array or tensor read in place): the common case stays in the
/// caller, so the handle need not be spilled to memory for an out-of-line
/// drop.
///
/// # Safety
/// `h` is initialised and is not used again.
#[inline(always)]
pub(crate) unsafe fn release(h: &mut std::mem::ManuallyDrop<ArrayHandle>) {
    if matches!(h.repr, Repr::Numpy(_)) && matches!(h.owner, Owner::Source) {
        // SAFETY: nothing but the source needs releasing; it is moved out
        // once and dropped (the rest holds no resources).
        drop(unsafe { std::ptr::read(&h.source) });
    } else {
        // SAFETY: caller's contract.
        unsafe { drop_slow(h) }
    }
}

/// Through a pointer, out of line: the handle is not copied at each drop
/// site (by value, the move was ~370 bytes of code in every caller).
///
/// # Safety
/// As for [`release`].
#[cold]
#[inline(never)]
unsafe fn drop_slow(h: &mut std::mem::ManuallyDrop<ArrayHandle>) {
    // SAFETY: caller's contract: dropped once, never used again.
    unsafe { std::mem::ManuallyDrop::drop(h) }
}

/// Releasing an owner (a handle drops its owner before its source object,
/// by field order). Inline for the common owners, which hold nothing, so
/// that a handle's drop can be inlined into the call that consumed it.
impl Drop for Owner {
    #[inline]
    fn drop(&mut self) {
        if !matches!(self, Owner::Source | Owner::Exchange(_)) {
            self.release();
        }
    }
}

impl Owner {
    #[cold]
    #[inline(never)]
    fn release(&mut self) {
        // A handle kept in a `thread_local!` is dropped when its thread
        // exits, without the GIL: what it owns is leaked then.
        if !crate::core::gil::may_release() {
            return;
        }
        // SAFETY: an owner is dropped exactly once, with the GIL held
        // (handles are `!Send`); the deleters/release functions are the
        // producers' own, run with any pending exception saved.
        unsafe {
            match self {
                Owner::Source | Owner::Exchange(_) => {}
                Owner::Legacy(p) => preserving_error(|| ndbind_dlpack::delete_legacy(p.as_ptr())),
                Owner::Versioned(p) => {
                    preserving_error(|| ndbind_dlpack::delete_versioned(p.as_ptr()))
                }
                Owner::Buffer(view) => preserving_error(|| ffi::PyBuffer_Release(&mut **view)),
                Owner::TakenCapsule(t) => preserving_error(|| t.give_back()),
            }
        }
    }
}

impl TakenCapsule {
    /// Hands the tensor back to its capsule (renamed back to
    /// `dltensor[_versioned]`), which owns it again.
    ///
    /// # Safety
    /// The GIL is held; `self` was taken from `capsule` and not committed.
    unsafe fn give_back(&self) {
        // SAFETY: the capsule is alive (the handle's source); the rename
        // runs no Python code. Only a capsule still named and pointing as
        // we left it is ours to rename; otherwise (foreign code renamed
        // it) we still own the tensor and delete it.
        unsafe {
            let cap = self.capsule.as_ptr();
            let ours = if self.versioned {
                ndbind_dlpack::untake_versioned(cap, self.tensor.cast())
            } else {
                ndbind_dlpack::untake_legacy(cap, self.tensor.cast())
            };
            if !ours {
                if self.versioned {
                    ndbind_dlpack::delete_versioned(self.tensor.as_ptr().cast())
                } else {
                    ndbind_dlpack::delete_legacy(self.tensor.as_ptr().cast())
                }
            }
        }
    }
}

/// Whether two layouts describe the same elements of the same memory.
fn same_memory(a: &Layout, b: &Layout) -> bool {
    a.data() == b.data()
        && a.dtype() == b.dtype()
        && a.device() == b.device()
        && a.shape() == b.shape()
        && a.strides() == b.strides()
}
