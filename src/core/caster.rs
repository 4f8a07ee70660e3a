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
/// ```ignore
/// struct Celsius(f64);
/// impl FromPy for Celsius {
///     fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
///         f64::from_py(obj, convert).map(Celsius)
///     }
///     fn type_name(out: &mut String) { out.push_str("float") }
/// }
/// ```
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
    /// Whether values of this type may hand out mutable access to memory
    /// shared with Python (writable arrays): only then does a call run the
    /// alias check over its arguments' spans.
    const MAY_WRITE: bool = false;
    /// The memory this value exposes, for the alias check made before a
    /// call (array types).
    #[inline]
    fn span(&self) -> Option<Span> {
        None
    }
    /// Called once every argument of the call has matched, right before
    /// the function runs: the point where side effects of loading (such as
    /// consuming a DLPack capsule) become permanent.
    #[inline]
    fn commit(&mut self) {}
}

/// Converts a Rust value into a new Python object.
///
/// ```ignore
/// impl IntoPy for Celsius {
///     fn into_py(self, _: &ReturnCtx) -> PyResult<Object> { self.0.into_py(&ReturnCtx::default()) }
///     fn type_name(out: &mut String) { out.push_str("float") }
/// }
/// ```
pub trait IntoPy {
    /// The new Python object, or the Python exception to raise.
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object>;
    /// Appends the Python type name used in signatures.
    fn type_name(out: &mut String);
}

/// What a returned value may need to know about its call: the return value
/// policy and the parent object (`self` of a method), which a returned view
/// can keep alive.
#[derive(Clone, Copy)]
pub struct ReturnCtx {
    /// The binding's return value policy.
    pub policy: RvPolicy,
    /// `self` of a method call (NULL for free functions).
    pub parent: *mut ffi::PyObject,
}

impl Default for ReturnCtx {
    fn default() -> Self {
        ReturnCtx { policy: RvPolicy::Automatic, parent: std::ptr::null_mut() }
    }
}

/// The memory an array argument covers, for the alias check made before a
/// call: a writable view must not overlap any other array argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Lowest byte address touched.
    pub lo: usize,
    /// One past the highest byte address touched (`lo == hi`: empty).
    pub hi: usize,
    /// Whether the parameter hands out mutable access.
    pub writable: bool,
}

/// Loads one argument into a holder that lives on the caller's stack for
/// the duration of the call, then hands out the parameter value, which may
/// borrow from the holder (`Out<'a>`).
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
    /// Fills `holder` from `obj`; false on a mismatch (no error left set).
    /// May return false with a Python error set to abort the whole call.
    fn load(holder: &mut Self::Holder, obj: Borrowed<'_>, convert: bool) -> bool;
    /// The parameter value, valid while the holder and the argument live.
    fn get<'a>(holder: &'a mut Self::Holder) -> Self::Out<'a>;
    /// Appends the Python type name used in signatures.
    fn type_name(out: &mut String);
    /// The memory this argument exposes, for the alias check.
    #[inline]
    fn span(_holder: &Self::Holder) -> Option<Span> {
        None
    }
    /// See [`FromPy::commit`].
    #[inline]
    fn commit(_holder: &mut Self::Holder) {}
}

/// Maps a parameter type as written in a Rust signature (`&str`,
/// `ArrayView<f64, IxDyn>`, `i64`) to the caster that produces it.
pub trait Param {
    /// The caster whose `Out<'a>` is this parameter type.
    type Caster: ArgCaster;
}

impl<T: FromPy> ArgCaster for T {
    type Holder = Option<T>;
    type Out<'a> = T;
    const ACCEPTS_NONE: bool = T::ACCEPTS_NONE;
    const CONVERT_BY_DEFAULT: bool = T::CONVERT_BY_DEFAULT;
    const MAY_WRITE: bool = T::MAY_WRITE;

    #[inline]
    fn load(holder: &mut Option<T>, obj: Borrowed<'_>, convert: bool) -> bool {
        *holder = T::from_py(obj, convert);
        holder.is_some()
    }

    #[inline]
    fn get(holder: &mut Option<T>) -> T {
        holder.take().expect("ndbind: argument loaded once, taken once")
    }

    fn type_name(out: &mut String) {
        T::type_name(out)
    }

    #[inline]
    fn span(holder: &Option<T>) -> Option<Span> {
        holder.as_ref().and_then(T::span)
    }

    #[inline]
    fn commit(holder: &mut Option<T>) {
        if let Some(v) = holder {
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
