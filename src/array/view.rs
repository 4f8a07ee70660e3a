//! `ndarray` crate views as parameters: `ArrayView<T, D>` and
//! `ArrayViewMut<T, D>` (any `D`, including `IxDyn`; any strides, negative
//! ones too), imported without a copy from CPU arrays of dtype `T`.

use std::marker::PhantomData;
use std::ptr::NonNull;

use ndarray::{ArrayView, ArrayViewMut, Dimension, ShapeBuilder};

use crate::array::dtype::Scalar;
use crate::array::handle::ArrayHandle;
use crate::array::requirements::Requirements;
use crate::core::caster::{ArgCaster, Param, Slot, Spans};
use crate::core::object::Borrowed;

/// The shape/strides of `l` as `ndarray` dimension and strides, and the
/// pointer to the first element (dangling for empty arrays).
fn parts<T, D: Dimension>(l: &ArrayHandle) -> (D, D, *mut T) {
    let mut dim = D::zeros(l.ndim());
    let mut strides = D::zeros(l.ndim());
    for (d, &s) in dim.slice_mut().iter_mut().zip(l.shape()) {
        *d = s as usize;
    }
    for (d, &s) in strides.slice_mut().iter_mut().zip(l.strides()) {
        // ndarray encodes negative strides as wrapped usize.
        *d = s as isize as usize;
    }
    let ptr = if l.size() == 0 { NonNull::<T>::dangling().as_ptr() } else { l.data() as *mut T };
    (dim, strides, ptr)
}

/// # Safety
/// `l` was validated for element type `T` and dimensionality `D`, describes
/// aligned CPU memory that stays alive and unmodified for `'a`.
pub(crate) unsafe fn raw_view<'a, T, D: Dimension>(l: &ArrayHandle) -> ArrayView<'a, T, D> {
    let (dim, strides, ptr) = parts::<T, D>(l);
    // SAFETY: forwarded from the caller.
    unsafe { ArrayView::from_shape_ptr(dim.strides(strides), ptr) }
}

/// # Safety
/// As [`raw_view`], and the memory is writable and not aliased for `'a`.
pub(crate) unsafe fn raw_view_mut<'a, T, D: Dimension>(l: &ArrayHandle) -> ArrayViewMut<'a, T, D> {
    let (dim, strides, ptr) = parts::<T, D>(l);
    // SAFETY: forwarded from the caller.
    unsafe { ArrayViewMut::from_shape_ptr(dim.strides(strides), ptr) }
}

/// Caster of `ArrayView<T, D>` (`MUT = false`) and `ArrayViewMut<T, D>`.
pub struct ViewCaster<T, D, const MUT: bool>(PhantomData<(T, D)>);

impl<T: Scalar, D: Dimension, const MUT: bool> ViewCaster<T, D, MUT> {
    const REQ: Requirements = Requirements {
        dtype: Some(T::DTYPE),
        ndim: match D::NDIM {
            Some(n) => n as i32,
            None => -1,
        },
        device: Some(ndbind_dlpack::DeviceType::CPU),
        writable: MUT,
        ..Requirements::NONE
    };

    fn load_impl(holder: &mut Slot<ArrayHandle>, obj: Borrowed<'_>, convert: bool) -> bool {
        // SAFETY: `import_into` returns true only once it wrote the handle.
        let loaded = unsafe {
            holder.fill(|out| {
                crate::array::import::import_into(obj, &Self::REQ, convert && !MUT, out)
            })
        };
        // A view reads the values: a tensor whose memory does not hold them
        // (torch's negative/conjugate bits) is a mismatch. That query may
        // run Python code (a subclass's `is_neg`), which may move the
        // memory just read: the view is read again (an error aborts).
        if loaded && !MUT {
            let h = holder.as_ref().expect("just loaded");
            if h.lazy_bits_set() || !h.memory_unchanged() {
                // SAFETY: just loaded; emptied again.
                unsafe { holder.fill(|_| false) };
                return false;
            }
        }
        loaded
    }

    fn spans_impl<'a>(holder: &'a Slot<ArrayHandle>, out: &mut Spans<'a>) {
        if let Some(h) = holder.as_ref() {
            out.push(h.span(MUT, true))
        }
    }
}

/// The two casters differ in the view type and how it is made.
macro_rules! view_caster {
    ($mut:literal, $view:ident, $make:ident, $as:ident) => {
        impl<T: Scalar, D: Dimension> ArgCaster for ViewCaster<T, D, $mut> {
            type Holder = Slot<ArrayHandle>;
            type Out<'a> = $view<'a, T, D>;
            const CONVERT_BY_DEFAULT: bool = false;
            const MAY_WRITE: bool = $mut;
            const LENDS: bool = true;

            fn load(holder: &mut Self::Holder, obj: Borrowed<'_>, convert: bool) -> bool {
                Self::load_impl(holder, obj, convert)
            }
            unsafe fn get<'a>(holder: &'a mut Self::Holder) -> $view<'a, T, D> {
                let h = holder.$as().expect("loaded");
                // SAFETY: validated for T, D and the CPU by REQ (writable
                // for the mutable view, whose alias check ran before the
                // call); the handle lives in the holder, which is borrowed
                // for 'a.
                unsafe { $make(h) }
            }
            fn type_name(out: &mut String) {
                Self::REQ.render("ndarray", out)
            }
            fn explain(obj: Borrowed<'_>, convert: bool) -> Option<String> {
                crate::array::reasons::explain(obj, &Self::REQ, convert && !$mut, !$mut)
            }
            fn spans<'a>(holder: &'a Self::Holder, out: &mut Spans<'a>) {
                Self::spans_impl(holder, out)
            }
            fn recheck(holder: &mut Self::Holder) -> bool {
                let bools = T::DTYPE == crate::array::dtype::DType::BOOL;
                holder.as_mut().map_or(true, |h| h.recheck(bools))
            }
            unsafe fn commit(holder: &mut Self::Holder) {
                if let Some(h) = holder.as_mut() {
                    h.commit()
                }
            }
        }
    };
}

view_caster!(false, ArrayView, raw_view, as_ref);
view_caster!(true, ArrayViewMut, raw_view_mut, as_mut);

impl<'x, T: Scalar, D: Dimension> Param for ArrayView<'x, T, D> {
    type Caster = ViewCaster<T, D, false>;
}

impl<'x, T: Scalar, D: Dimension> Param for ArrayViewMut<'x, T, D> {
    type Caster = ViewCaster<T, D, true>;
}

/// An `ndarray` dimension from extents (inline storage up to four axes).
#[inline]
pub(crate) fn dim_of(shape: &[i64]) -> ndarray::IxDyn {
    use ndarray::IxDyn;
    // `IxDyn` stores up to four axes inline; fixed-length slices keep the
    // copy free of a variable-length `memcpy` call. Each extent is read on
    // its own (volatile: not merged into 16-byte loads): the handle was
    // just written in 8-byte stores, and a 16-byte load of two of them
    // cannot be forwarded from the store buffer (a ~3 ns stall per call).
    // SAFETY: `&shape[i]` is a valid, aligned reference.
    let u = |i: usize| unsafe { std::ptr::read_volatile(&shape[i]) } as usize;
    match shape.len() {
        0 => IxDyn(&[]),
        1 => IxDyn(&[u(0)]),
        2 => IxDyn(&[u(0), u(1)]),
        3 => IxDyn(&[u(0), u(1), u(2)]),
        4 => IxDyn(&[u(0), u(1), u(2), u(3)]),
        _ => IxDyn(&shape.iter().map(|&e| e as usize).collect::<Vec<_>>()),
    }
}

/// An `ndarray` dynamic dimension returns to Python as a `list[int]`.
impl crate::core::caster::IntoPy for ndarray::IxDyn {
    #[inline]
    fn into_py(
        self,
        ctx: &crate::core::caster::ReturnCtx,
    ) -> crate::core::error::PyResult<crate::core::object::Object> {
        crate::core::casters::int_list(self.slice(), ctx)
    }
    fn type_name(out: &mut String) {
        out.push_str("list[int]")
    }
}
