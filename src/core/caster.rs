//! The caster traits: how Rust values cross the boundary.
//!
//! Small traits, many impls (as in `serde`):
//! - [`FromPy`]: an owned Rust value from a Python object (the trait users
//!   implement for their own argument types);
//! - [`IntoPy`]: a Python object from a Rust value (return values);
//! - [`ArgCaster`] + [`Param`]: the argument machinery, which also lets a
//!   parameter *borrow* from its Python argument for the duration of the call
//!   (`&str`, `&[u8]`, array views). Every [`FromPy`] type is a [`Param`].
//!
//! A failed match returns `None`/`false` and leaves no Python error set, so
//! overload resolution can move on without raising and catching.

use std::mem::MaybeUninit;

use pyo3_ffi as ffi;

use crate::core::error::PyResult;
use crate::core::extras::RvPolicy;
use crate::core::object::{Borrowed, Object};

/// Converts a Python object into an owned Rust value.
///
/// `convert` is false in the first overload pass (exact matches only) and
/// true in the second, where casters may apply implicit conversions
/// (e.g. `int` → `float`).
///
/// ```
/// use ndbind::prelude::*;
///
/// struct Celsius(f64);
///
/// impl FromPy for Celsius {
///     fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
///         f64::from_py(obj, convert).map(Celsius)
///     }
///     fn type_name(out: &mut String) {
///         out.push_str("float")
///     }
/// }
///
/// fn to_kelvin(t: Celsius) -> f64 {
///     t.0 + 273.15
/// }
///
/// ndbind::module!(temperature, |m| {
///     m.def("to_kelvin", to_kelvin, arg("t"))?;
///     Ok(())
/// });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be converted from a Python object",
    label = "`{Self}` is not a parameter type ndbind knows",
    note = "a Rust type bound with `ndbind::class!(T)` is a parameter as `&T`, `&mut T`, `Box<T>`, `Arc<T>` or `ndbind::class::Inst<T>` (by value `T` with `class!(T, clone)`; inside `Vec`, `Option` or a tuple: `Inst<T>` or `Arc<T>`): is `class!` missing for this type?",
    note = "array views must be `ndbind::ndarray` types: another version of the `ndarray` crate among your dependencies makes different types (use `ndbind::ndarray`, or depend on exactly the version ndbind re-exports)",
    note = "the borrowed parameters are `&str`, `&[u8]`, `Borrowed<'_>`, array views and bound classes (`&dyn Trait` with `ndbind::dyn_param!`): for `&String`, `&Vec<T>` or `&[T]` take `&str`, `Vec<T>` (a copy of any sequence) or `ArrayView1<T>` (a view of an array)",
    note = "a type of your own converts from Python once it implements `ndbind::FromPy`"
)]
pub trait FromPy: Sized {
    /// The value, or `None` when `obj` does not match (no error left set).
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self>;
    /// Appends the Python type name used in signatures (e.g. `list[int]`).
    fn type_name(out: &mut String);
    /// Whether `None` is a value this type accepts (e.g. `Option<T>`).
    const ACCEPTS_NONE: bool = false;
    /// Whether the conversion pass applies to this parameter unless the
    /// binding says otherwise (`arg(..).convert()` / `.noconvert()`).
    /// Arrays opt out: a converted copy is made only when asked for.
    const CONVERT_BY_DEFAULT: bool = true;
    #[doc(hidden)]
    /// Whether values of this type may hand out mutable access to memory
    /// shared with Python (writable arrays, or containers of them): only
    /// then does a call run the alias check over its arguments' spans.
    const MAY_WRITE: bool = false;
    #[doc(hidden)]
    /// Reports the memory this value exposes (array types, and containers
    /// forwarding their items'), for the alias check made before a call.
    #[inline]
    fn spans<'a>(&'a self, _out: &mut Spans<'a>) {}
    #[doc(hidden)]
    /// Called, before [`FromPy::commit`], on a value loaded before the
    /// call's last argument: Python code may have run since it was loaded
    /// (while later arguments loaded: `__float__`, `__dlpack__`, ...). A
    /// value that borrows state such code can change re-validates it here
    /// and returns false, with a Python error set, to abort the call.
    /// Values that own what they use keep the default.
    #[inline]
    fn recheck(&mut self) -> bool {
        true
    }
    #[doc(hidden)]
    /// Called once every argument of the call has matched, right before
    /// the function runs: the point where side effects of loading (such as
    /// consuming a DLPack capsule) become permanent.
    #[inline]
    fn commit(&mut self) {}
    #[doc(hidden)]
    /// Why `obj` is not a value of this type although its Python type is
    /// one the type takes (an array of the wrong dtype, shape, ...): one
    /// short phrase for the mismatch error, re-derived there (a cold path:
    /// nothing is recorded while loading). `convert` tells whether the
    /// call allowed conversion for this argument. The default, `None`,
    /// adds nothing. It must not consume or change `obj`; it may run only
    /// the Python code the load itself runs (cheap queries), and leaves
    /// no error set.
    #[cold]
    fn explain(_obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        None
    }
    #[doc(hidden)]
    /// Loads the value straight into the call's holder. The default moves
    /// [`FromPy::from_py`]'s result in; a large type (an array handle) may
    /// build itself in place instead, saving the copies of a by-value return.
    #[inline]
    fn load_into(place: Place<'_, Self>, obj: Borrowed<'_>, convert: bool) -> Option<Filled> {
        Self::from_py(obj, convert).map(|v| place.write(v))
    }
}

/// The uninitialised holder slot [`FromPy::load_into`] fills.
pub struct Place<'a, T>(&'a mut std::mem::MaybeUninit<T>);

/// Proof that a [`Place`] was filled: only [`Place::write`] (or ndbind's
/// own in-place constructors) make one.
pub struct Filled(());

impl<T> Place<'_, T> {
    /// Fills the place with `value`.
    #[inline]
    pub fn write(self, value: T) -> Filled {
        self.0.write(value);
        Filled(())
    }

    /// The uninitialised memory, for a constructor that writes in place.
    #[inline]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut T {
        self.0.as_mut_ptr()
    }

    /// # Safety
    /// Every field of the place has been initialised through
    /// [`Place::as_mut_ptr`].
    #[inline]
    pub(crate) unsafe fn assume_filled(self) -> Filled {
        Filled(())
    }
}

/// The per-call holder of a [`FromPy`] argument: a value that is loaded in
/// place, taken by the call, and dropped here only when it was not taken.
pub struct Slot<T> {
    value: std::mem::MaybeUninit<T>,
    set: bool,
}

impl<T> Default for Slot<T> {
    #[inline]
    fn default() -> Self {
        Slot { value: std::mem::MaybeUninit::uninit(), set: false }
    }
}

impl<T> Slot<T> {
    /// Loads through `f`, which reports whether it initialised the memory
    /// (see [`Place`] for the safe form).
    ///
    /// # Safety
    /// `f` returns true only after initialising the value completely.
    #[inline(always)]
    pub(crate) unsafe fn fill(
        &mut self,
        f: impl FnOnce(&mut std::mem::MaybeUninit<T>) -> bool,
    ) -> bool {
        self.clear();
        self.set = f(&mut self.value);
        self.set
    }

    /// The loaded value, if any.
    #[inline]
    pub fn as_ref(&self) -> Option<&T> {
        // SAFETY: `set` says the value is initialised.
        self.set.then(|| unsafe { self.value.assume_init_ref() })
    }

    /// The loaded value, mutably, if any.
    #[inline]
    pub fn as_mut(&mut self) -> Option<&mut T> {
        // SAFETY: `set` says the value is initialised.
        self.set.then(|| unsafe { self.value.assume_init_mut() })
    }

    /// Moves the loaded value out, leaving the slot empty.
    #[inline]
    pub fn take(&mut self) -> Option<T> {
        if !std::mem::replace(&mut self.set, false) {
            return None;
        }
        let size = std::mem::size_of::<T>();
        if size >= 64 && size % 8 == 0 && std::mem::align_of::<T>() >= 8 {
            // A large value (an array handle) was just written field by
            // field, in 8-byte stores; a plain move would read it back in
            // 16-byte loads, which the CPU cannot forward from two pending
            // stores and must wait for (~3 ns per `shape(x)` call). Volatile
            // 8-byte reads keep the copy in the stores' own granularity.
            let mut out = MaybeUninit::<T>::uninit();
            let src = self.value.as_ptr() as *const MaybeUninit<u64>;
            let dst = out.as_mut_ptr() as *mut MaybeUninit<u64>;
            for i in 0..size / 8 {
                // SAFETY: both within a `T` (size a multiple of 8, aligned
                // to 8); the words are copied as possibly uninitialised
                // bytes (padding), which `MaybeUninit<u64>` allows.
                unsafe { dst.add(i).write(src.add(i).read_volatile()) };
            }
            // SAFETY: `set` said the value was initialised; its bytes were
            // copied over and the slot no longer owns it.
            return Some(unsafe { out.assume_init() });
        }
        // SAFETY: `set` said the value is initialised; clearing it first
        // means it is read (moved out) exactly once.
        Some(unsafe { self.value.assume_init_read() })
    }

    #[inline]
    fn clear(&mut self) {
        if std::mem::replace(&mut self.set, false) && std::mem::needs_drop::<T>() {
            // SAFETY: it was initialised, and is no longer marked so.
            unsafe { drop_loaded(&mut self.value) }
        }
    }
}

/// Drops a loaded value that the call did not take: only when a call is
/// abandoned after loading (a later argument failed, the alias check
/// refused), so out of line, one copy per type instead of one per call
/// shell and exit path.
///
/// # Safety
/// `v` is initialised, and not used again.
#[cold]
#[inline(never)]
unsafe fn drop_loaded<T>(v: &mut MaybeUninit<T>) {
    // SAFETY: the caller's contract.
    unsafe { v.assume_init_drop() }
}

impl<T> Drop for Slot<T> {
    #[inline]
    fn drop(&mut self) {
        self.clear()
    }
}

/// Converts a Rust value into a new Python object.
///
/// ```
/// # use ndbind::prelude::*;
/// # struct Celsius(f64);
/// impl IntoPy for Celsius {
///     fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
///         self.0.into_py(ctx)
///     }
///     fn type_name(out: &mut String) {
///         out.push_str("float")
///     }
/// }
/// # ndbind::module!(doc_ext, |m| { m.def("freezing", || Celsius(0.0), ())?; Ok(()) });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be converted to a Python object",
    label = "`{Self}` is not a return type ndbind knows",
    note = "a borrowed value (an `ArrayView`, `ArrayViewMut` or other `&T`) cannot be returned: a view cannot outlive the call. Return an owned value (`ndarray::Array`, `ndbind::array::ArrayOut`, `NdArray`, `Vec`, `String`), or bind a reference into `self` with `Class::def_ref`",
    note = "a Rust type bound with `ndbind::class!(T)` is returned as `T`, `Box<T>`, `Arc<T>` or `ndbind::class::Inst<T>`: is `class!` missing for this type?",
    note = "arrays must be `ndbind::ndarray` types: another version of the `ndarray` crate among your dependencies makes different types (use `ndbind::ndarray`)",
    note = "a type of your own converts to Python once it implements `ndbind::IntoPy`"
)]
pub trait IntoPy {
    /// The new Python object, or the Python exception to raise.
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object>;
    /// Appends the Python type name used in signatures.
    fn type_name(out: &mut String);
}

/// What a returned value may need to know about its call: the return value
/// policy and the parent object (`self` of a method), which a returned view
/// can keep alive. Made by ndbind for each call; `ReturnCtx::default()`
/// (automatic policy, no parent) for nested conversions.
/// The lifetime `'a` is the call's: a context cannot be kept past it.
#[derive(Clone, Copy)]
pub struct ReturnCtx<'a> {
    /// The call's arguments (`nargs` of them, alive for `'a`; `self`
    /// first for a method), which a returned reference may name
    /// ([`crate::class::Same`]). (No separate `parent` field: a context is
    /// made on every call, so it stays three words.)
    args: *const *mut ffi::PyObject,
    nargs: u32,
    policy: RvPolicy,
    /// `args[0]` is `self`, the parent of returned views.
    method: bool,
    _call: std::marker::PhantomData<&'a ()>,
}

/// Automatic policy, no parent: for converting values outside a call's
/// own result (nested conversions, module attributes). A context is the
/// proof that the GIL is held, which `IntoPy` relies on: made on a thread
/// that does not hold it, this panics.
impl Default for ReturnCtx<'_> {
    fn default() -> Self {
        crate::core::gil::assert_held("ReturnCtx::default (converting a value to Python)");
        ReturnCtx::held()
    }
}

impl<'a> ReturnCtx<'a> {
    /// A context with `policy` and the parent `*parent`.
    ///
    /// # Safety
    /// `*parent` is a live object that stays alive for `'a`.
    #[inline]
    pub(crate) unsafe fn new(policy: RvPolicy, parent: &'a *mut ffi::PyObject) -> ReturnCtx<'a> {
        ReturnCtx { args: parent, nargs: 1, policy, method: true, _call: std::marker::PhantomData }
    }

    /// A context for a call with the arguments `args[..nargs]`, the first
    /// of which is the parent when `method`.
    ///
    /// # Safety
    /// `args` holds `nargs` live objects that stay alive for `'a`, at
    /// least one when `method`.
    #[inline(always)]
    pub(crate) unsafe fn with_args(
        policy: RvPolicy,
        method: bool,
        args: *const *mut ffi::PyObject,
        nargs: usize,
    ) -> ReturnCtx<'a> {
        ReturnCtx { args, nargs: nargs as u32, policy, method, _call: std::marker::PhantomData }
    }

    /// The default context, in ndbind's own code (the GIL is held).
    #[inline]
    pub(crate) fn held() -> ReturnCtx<'a> {
        ReturnCtx {
            args: std::ptr::null(),
            nargs: 0,
            policy: RvPolicy::Automatic,
            method: false,
            _call: std::marker::PhantomData,
        }
    }

    /// The binding's return value policy.
    #[inline]
    pub fn policy(&self) -> RvPolicy {
        self.policy
    }

    /// `self` of a method call (`None` for free functions).
    #[inline]
    pub fn parent(&self) -> Option<Borrowed<'a>> {
        // SAFETY: `with_args`'s contract: a method has `self` first, alive
        // while the context is used.
        self.method.then(|| unsafe { Borrowed::from_ptr(*self.args) })
    }

    /// The call's arguments (`self` first for a method; empty outside a
    /// call's own result).
    pub(crate) fn args(&self) -> impl Iterator<Item = Borrowed<'a>> + '_ {
        // SAFETY: `with_args`'s contract: `nargs` objects alive for `'a`.
        (0..self.nargs as usize).map(|i| unsafe { Borrowed::from_ptr(*self.args.add(i)) })
    }
}

pub use crate::core::alias::{Span, Spans};

/// Loads one argument into a holder that lives on the caller's stack for
/// the duration of the call, then hands out the parameter value, which may
/// borrow from the holder (`Out<'a>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an argument caster",
    label = "not an `ArgCaster`",
    note = "a parameter type names its caster through `Param`; a type of your own converts from Python once it implements `ndbind::FromPy`"
)]
pub trait ArgCaster {
    /// Per-call state (an extracted value, a buffer view, an imported array).
    type Holder: Default;
    /// The parameter type the bound function receives.
    type Out<'a>;
    /// Whether `None` is passed to [`ArgCaster::load`] (otherwise a `None`
    /// argument is a failed match unless the argument is flagged `.none()`).
    const ACCEPTS_NONE: bool = false;
    /// See [`FromPy::CONVERT_BY_DEFAULT`].
    const CONVERT_BY_DEFAULT: bool = true;
    /// See [`FromPy::MAY_WRITE`].
    const MAY_WRITE: bool = false;
    /// Whether the parameter value is a Rust view of array memory for the
    /// whole call (`ArrayView`/`ArrayViewMut`): its spans are lent out
    /// while the call runs (see [`Span::lends`]).
    const LENDS: bool = false;
    #[doc(hidden)]
    /// Whether this parameter collects the extra arguments of a call:
    /// `VARIADIC_ARGS` (`*args`, a tuple) or `VARIADIC_KWARGS`
    /// (`**kwargs`, a dict), which the dispatcher builds; `0` otherwise.
    const VARIADIC: u8 = 0;
    /// Fills `holder` from `obj`; false on a mismatch (no error left set).
    /// May return false with a Python error set to abort the whole call.
    fn load(holder: &mut Self::Holder, obj: Borrowed<'_>, convert: bool) -> bool;
    /// The parameter value, valid while the holder and the argument live.
    ///
    /// # Safety
    /// `holder` was filled by a successful [`ArgCaster::load`] of this
    /// caster, whose argument object stays alive for `'a`; `get` is called
    /// once per load; and, for a caster that may write or lend memory, the
    /// call's alias check ran over every argument whose value is alive at
    /// the same time (ndbind's call machinery does all this).
    unsafe fn get<'a>(holder: &'a mut Self::Holder) -> Self::Out<'a>;
    /// Appends the Python type name used in signatures.
    fn type_name(out: &mut String);
    /// The memory this argument exposes, for the alias check.
    #[inline]
    fn spans<'a>(_holder: &'a Self::Holder, _out: &mut Spans<'a>) {}
    /// See [`FromPy::recheck`].
    #[inline]
    fn recheck(_holder: &mut Self::Holder) -> bool {
        true
    }
    #[doc(hidden)]
    /// See [`FromPy::explain`].
    #[cold]
    fn explain(_obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        None
    }
    /// See [`FromPy::commit`].
    ///
    /// # Safety
    /// As for [`ArgCaster::get`], before it (a commit may take the value
    /// out of its argument).
    #[inline]
    unsafe fn commit(_holder: &mut Self::Holder) {}
}

/// Maps a parameter type as written in a Rust signature (`&str`,
/// `ArrayView<f64, IxDyn>`, `i64`) to the caster that produces it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a parameter type ndbind can convert from Python",
    label = "`{Self}` is not a parameter type ndbind knows",
    note = "a Rust type bound with `ndbind::class!(T)` is a parameter as `&T`, `&mut T`, `Box<T>`, `Arc<T>` or `ndbind::class::Inst<T>` (by value `T` with `class!(T, clone)`; inside `Vec`, `Option` or a tuple: `Inst<T>` or `Arc<T>`): is `class!` missing for this type?",
    note = "array views must be `ndbind::ndarray` types: another version of the `ndarray` crate among your dependencies makes different types (use `ndbind::ndarray`, or depend on exactly the version ndbind re-exports)",
    note = "array view elements are `bool`, `i8`-`i64`, `u8`-`u64`, `f16`, `bf16`, `f32`, `f64`, `Complex<f32>` or `Complex<f64>`, from `ndbind::half` and `ndbind::num_complex` (another version of `half` or `num-complex` makes different types)",
    note = "the borrowed parameters are `&str`, `&[u8]`, `Borrowed<'_>`, array views and bound classes (`&dyn Trait` with `ndbind::dyn_param!`): for `&String`, `&Vec<T>` or `&[T]` take `&str`, `Vec<T>` (a copy of any sequence) or `ArrayView1<T>` (a view of an array)",
    note = "a type of your own converts from Python once it implements `ndbind::FromPy`"
)]
pub trait Param {
    /// The caster whose `Out<'a>` is this parameter type.
    type Caster: ArgCaster;
}

impl<T: FromPy> ArgCaster for T {
    type Holder = Slot<T>;
    type Out<'a> = T;
    const ACCEPTS_NONE: bool = T::ACCEPTS_NONE;
    const CONVERT_BY_DEFAULT: bool = T::CONVERT_BY_DEFAULT;
    const MAY_WRITE: bool = T::MAY_WRITE;

    #[inline(always)]
    fn load(holder: &mut Slot<T>, obj: Borrowed<'_>, convert: bool) -> bool {
        // SAFETY: a `Filled` is only made once the place is initialised.
        unsafe { holder.fill(|m| T::load_into(Place(m), obj, convert).is_some()) }
    }

    #[inline]
    unsafe fn get(holder: &mut Slot<T>) -> T {
        holder.take().expect("ndbind: argument loaded once, taken once")
    }

    fn type_name(out: &mut String) {
        T::type_name(out)
    }

    fn explain(obj: Borrowed<'_>, convert: bool) -> Option<String> {
        T::explain(obj, convert)
    }

    #[inline]
    fn spans<'a>(holder: &'a Slot<T>, out: &mut Spans<'a>) {
        if let Some(v) = holder.as_ref() {
            v.spans(out)
        }
    }

    #[inline]
    fn recheck(holder: &mut Slot<T>) -> bool {
        holder.as_mut().map_or(true, T::recheck)
    }

    #[inline]
    unsafe fn commit(holder: &mut Slot<T>) {
        if let Some(v) = holder.as_mut() {
            v.commit()
        }
    }
}

impl<T: FromPy> Param for T {
    type Caster = T;
}

/// Return types of bound functions: any [`IntoPy`] value, and `Result`s
/// whose error converts into a Python exception.
impl<T: IntoPy, E: Into<crate::core::error::PyErr>> IntoPy for Result<T, E> {
    #[inline]
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        match self {
            Ok(v) => v.into_py(ctx),
            Err(e) => Err(e.into()),
        }
    }
    fn type_name(out: &mut String) {
        T::type_name(out)
    }
}

/// Renders a type name through `f` into a new `String` (cold paths only).
pub fn type_name_of(f: fn(&mut String)) -> String {
    let mut s = String::new();
    f(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::{Place, Slot};
    use std::cell::Cell;

    /// Counts its drops.
    struct Counted<'a>(&'a Cell<u32>);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn slot_drops_a_loaded_value_once() {
        let drops = Cell::new(0);
        {
            let mut s = Slot::default();
            // SAFETY: the closure initialises the value when it says so.
            assert!(unsafe {
                s.fill(|m| {
                    Place(m).write(Counted(&drops));
                    true
                })
            });
            assert!(s.as_ref().is_some());
        }
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn slot_taken_value_is_not_dropped_again() {
        let drops = Cell::new(0);
        let mut s = Slot::default();
        // SAFETY: as above.
        unsafe {
            s.fill(|m| {
                Place(m).write(Counted(&drops));
                true
            })
        };
        let v = s.take().expect("loaded");
        assert!(s.take().is_none() && s.as_ref().is_none());
        drop(s);
        assert_eq!(drops.get(), 0);
        drop(v);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn slot_refill_drops_the_previous_value_and_failed_fill_holds_nothing() {
        let drops = Cell::new(0);
        let mut s = Slot::default();
        // SAFETY: as above; the second closure initialises nothing and says so.
        unsafe {
            s.fill(|m| {
                Place(m).write(Counted(&drops));
                true
            });
            assert!(!s.fill(|_| false));
        }
        assert_eq!(drops.get(), 1);
        assert!(s.as_ref().is_none());
        drop(s);
        assert_eq!(drops.get(), 1);
    }
}
