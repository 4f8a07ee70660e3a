//! Annotations passed to [`crate::Module::def`] after the function:
//! argument names and defaults, markers, docstrings, return value policy.
//!
//! ```
//! # use ndbind::prelude::*;
//! # fn add(a: i64, b: i64) -> i64 { a + b }
//! # fn f(x: i64, y: i64, z: f64) -> f64 { (x + y) as f64 * z }
//! # ndbind::module!(doc_ext, |m| {
//! m.def("add", add, (arg("a"), arg("b").default(1), doc("Adds.")))?;
//! m.def("f", f, (arg("x"), pos_only(), arg("y"), kw_only(), arg("z").noconvert()))?;
//! # Ok(())
//! # });
//! ```

use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::object::Object;

/// How a returned reference or view relates to Rust-owned data (nanobind's
/// `rv_policy`). Values returned by value are always moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RvPolicy {
    /// Decide from the return type (moves values, copies ownerless data).
    #[default]
    Automatic,
    /// Like `Automatic`, but references become `Reference`.
    AutomaticReference,
    /// Python takes ownership of the returned data.
    TakeOwnership,
    /// Copy the returned data into a new Python-owned object.
    Copy,
    /// Move the returned data into a new Python-owned object.
    Move,
    /// Reference the data without owning it (the caller guarantees lifetime).
    Reference,
    /// Reference the data and keep `self` alive while the result lives.
    ReferenceInternal,
    /// Refuse to create a new Python object: only existing ones are returned.
    None,
}

/// A named argument, with an optional default value and flags.
pub struct Arg {
    pub(crate) name: &'static str,
    pub(crate) default: Option<Object>,
    pub(crate) default_repr: Option<String>,
    /// `Some(false)`: never convert; `Some(true)`: convert in the second
    /// pass; `None`: the caster's default (arrays: no).
    pub(crate) convert: Option<bool>,
    pub(crate) none: bool,
}

/// Names the next parameter.
///
/// ```
/// # use ndbind::prelude::*;
/// # fn scale(a: f64, f: f64) -> f64 { a * f }
/// # ndbind::module!(doc_ext, |m| {
/// m.def("scale", scale, (arg("a"), arg("f").default(2.0)))?;
/// # Ok(())
/// # });
/// ```
pub fn arg(name: &'static str) -> Arg {
    Arg { name, default: None, default_repr: None, convert: None, none: false }
}

impl Arg {
    /// A default value, converted to Python now (module init holds the GIL).
    /// A value that fails to convert makes the binding fail at import time.
    pub fn default<T: IntoPy>(mut self, value: T) -> Arg {
        match value.into_py(&ReturnCtx::default()) {
            Ok(obj) => self.default = Some(obj),
            Err(e) => {
                self.default_repr = Some(format!("<default failed: {e}>"));
            }
        }
        self
    }

    /// Overrides how the default is shown in signatures.
    pub fn default_repr(mut self, repr: impl Into<String>) -> Arg {
        self.default_repr = Some(repr.into());
        self
    }

    /// Never convert this argument implicitly (not even in the second
    /// overload pass).
    pub fn noconvert(mut self) -> Arg {
        self.convert = Some(false);
        self
    }

    /// Allow implicit conversion of this argument in the second overload
    /// pass, also for types that do not convert by default (arrays: a
    /// dtype/order mismatch is then fixed by a copy made by the array's
    /// framework).
    pub fn convert(mut self) -> Arg {
        self.convert = Some(true);
        self
    }

    /// Let `None` reach the caster (for casters that can represent it).
    pub fn none(mut self) -> Arg {
        self.none = true;
        self
    }
}

/// A docstring for the binding.
pub struct Doc(pub(crate) &'static str);

/// A docstring for the binding.
pub fn doc(text: &'static str) -> Doc {
    Doc(text)
}

/// A docstring shown as written (see [`raw_doc`]).
pub struct RawDoc(pub(crate) &'static str);

/// A docstring that is the whole `__doc__`: no signature is prepended
/// (nanobind's `func_flags::raw_doc`; pybind11's
/// `options::disable_function_signatures`). For docstrings that carry
/// their own signature lines (numpydoc, generated docs). With overloads,
/// the first overload that has one gives `__doc__`, alone. Only `__doc__`
/// changes: `__text_signature__` and the overload list of the
/// "incompatible function arguments" error still show the signatures.
///
/// ```
/// # use ndbind::prelude::*;
/// # ndbind::module!(doc_ext, |m| {
/// m.def("area", |w: f64, h: f64| w * h, (arg("w"), arg("h"), raw_doc("area(w, h)\n\nThe area of a w x h rectangle.")))?;
/// # Ok(())
/// # });
/// ```
pub fn raw_doc(text: &'static str) -> RawDoc {
    RawDoc(text)
}

/// A signature text for the binding (see [`sig`]).
pub struct Sig(pub(crate) &'static str);

/// A signature text that replaces the rendered one (nanobind's `nb::sig`)
/// in `__doc__`, `__text_signature__` and the overload list of the
/// "incompatible function arguments" error.
///
/// Either the whole definition, `"def name(x: int = 0) -> int"` (shown
/// as written, without `def `, so the name may differ from the binding's),
/// or only what follows the name, `"(x: int = 0) -> int"` (the binding's
/// name is prepended). Only what is shown changes: the parameters, their
/// defaults and the call's behaviour stay the binding's own.
/// `__text_signature__` is derived from the parenthesised part:
/// annotations are dropped, names and defaults kept (a method's first
/// parameter becomes `$self`); `__signature__` (what `inspect.signature`
/// reads) keeps the annotations, with the binding's default objects.
///
/// ```
/// # use ndbind::prelude::*;
/// # ndbind::module!(doc_ext, |m| {
/// m.def("scale", |x: f64, f: Object| x, (arg("x"), arg("f"), sig("(x: float, f: Callable[[float], float]) -> float")))?;
/// m.def("total", |a: i64, rest: Args| a + rest.len() as i64, (arg("a"), sig("def total(a: int, *more: int) -> int")))?;
/// # Ok(())
/// # });
/// ```
pub fn sig(text: &'static str) -> Sig {
    Sig(text)
}

/// The annotation made by [`keep_alive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    pub(crate) nurse: usize,
    pub(crate) patient: usize,
}

/// Keeps argument `patient` alive at least as long as `nurse` after each
/// successful call (nanobind's `nb::keep_alive<Nurse, Patient>()`, with
/// its numbering: `0` is the return value, `1` the first parameter, which
/// is `self` for a method or a constructor). An index past the last
/// parameter is refused when the binding is defined (`RuntimeError`); a
/// nurse or patient that is `None` is skipped. It uses the one keep-alive
/// mechanism, [`crate::class::keep_alive`]: an ndbind instance holds the
/// patient itself, any other nurse must take weak references (else the call
/// raises `RuntimeError` and its result is released). Nothing changes in
/// the signature, and calls of bindings without it pay nothing.
///
/// ```
/// # use ndbind::prelude::*;
/// pub struct Registry { n: usize }
/// ndbind::class!(Registry);
///
/// ndbind::module!(doc_ext, |m| {
///     m.class::<Registry>("Registry", ())?
///         .init(|| Registry { n: 0 }, ())?
///         // `reg.add(item)` keeps `item` alive as long as `reg`.
///         .def("add", |r: &mut Registry, _item: Object| r.n += 1, (arg("item"), keep_alive(1, 2)))?;
///     // The result keeps the argument alive.
///     m.def("wrap", |o: Object| vec![o], (arg("o"), keep_alive(0, 1)))?;
///     Ok(())
/// });
/// ```
pub fn keep_alive(nurse: usize, patient: usize) -> KeepAlive {
    KeepAlive { nurse, patient }
}

/// Marker: the parameters named before it are positional-only (`/`).
pub struct PosOnly;

/// Marker: the parameters named after it are keyword-only (`*`).
pub struct KwOnly;

/// The parameters named before this marker are positional-only.
pub fn pos_only() -> PosOnly {
    PosOnly
}

/// The parameters named after this marker are keyword-only.
pub fn kw_only() -> KwOnly {
    KwOnly
}

/// Everything collected from a binding's annotations (non-generic).
#[derive(Default)]
pub struct FuncExtras {
    pub(crate) args: Vec<Arg>,
    pub(crate) doc: Option<&'static str>,
    pub(crate) pos_only: Option<usize>,
    pub(crate) kw_only: Option<usize>,
    pub(crate) policy: RvPolicy,
    pub(crate) sig: Option<&'static str>,
    pub(crate) raw_doc: bool,
    /// `(nurse, patient)` pairs of [`keep_alive`] annotations.
    pub(crate) keep_alive: Vec<(usize, usize)>,
}

/// One annotation, or a tuple of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a function annotation",
    label = "not a function annotation",
    note = "function annotations are `arg(\"name\")` (with `.default(v)`, `.none()`, `.convert()`, `.noconvert()`), `doc(\"...\")` or a bare string (the docstring), `raw_doc(\"...\")`, `sig(\"(x: int) -> int\")`, `pos_only()`, `kw_only()`, `keep_alive(nurse, patient)` and an `RvPolicy`; several go in a tuple (up to 14) or an array, and `()` is none"
)]
pub trait Extra {
    /// Records itself.
    fn apply(self, e: &mut FuncExtras);

    /// The annotations as a record (compiled once per annotation type,
    /// not per bound function).
    #[inline(never)]
    fn into_extras(self) -> FuncExtras
    where
        Self: Sized,
    {
        let mut e = FuncExtras::default();
        self.apply(&mut e);
        e
    }
}

impl Extra for Arg {
    fn apply(self, e: &mut FuncExtras) {
        e.args.push(self)
    }
}
impl Extra for Doc {
    fn apply(self, e: &mut FuncExtras) {
        e.doc = Some(self.0)
    }
}
impl Extra for RawDoc {
    fn apply(self, e: &mut FuncExtras) {
        e.doc = Some(self.0);
        e.raw_doc = true;
    }
}
impl Extra for Sig {
    fn apply(self, e: &mut FuncExtras) {
        e.sig = Some(self.0)
    }
}
impl Extra for KeepAlive {
    fn apply(self, e: &mut FuncExtras) {
        e.keep_alive.push((self.nurse, self.patient))
    }
}
impl Extra for PosOnly {
    fn apply(self, e: &mut FuncExtras) {
        e.pos_only = Some(e.args.len())
    }
}
impl Extra for KwOnly {
    fn apply(self, e: &mut FuncExtras) {
        e.kw_only = Some(e.args.len())
    }
}
impl Extra for RvPolicy {
    fn apply(self, e: &mut FuncExtras) {
        e.policy = self
    }
}
impl Extra for &'static str {
    /// A bare string is the docstring.
    fn apply(self, e: &mut FuncExtras) {
        e.doc = Some(self)
    }
}
impl Extra for () {
    fn apply(self, _: &mut FuncExtras) {}
}
impl<T: Extra, const N: usize> Extra for [T; N] {
    fn apply(self, e: &mut FuncExtras) {
        for x in self {
            x.apply(e)
        }
    }
}

macro_rules! extra_tuple {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Extra),+> Extra for ($($T,)+) {
            fn apply(self, e: &mut FuncExtras) { $( self.$i.apply(e); )+ }
        }
    };
}
extra_tuple!(A 0);
extra_tuple!(A 0, B 1);
extra_tuple!(A 0, B 1, C 2);
extra_tuple!(A 0, B 1, C 2, D 3);
extra_tuple!(A 0, B 1, C 2, D 3, E 4);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
extra_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
