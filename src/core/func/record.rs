//! The compact, non-generic description of one overload.

use pyo3_ffi as ffi;

use crate::core::caster::ReturnCtx;
use crate::core::extras::RvPolicy;
use crate::core::object::{Borrowed, Object};

/// Returned by a call implementation when the arguments do not match this
/// overload and no error is set: the dispatcher tries the next one.
pub(crate) const NEXT_OVERLOAD: *mut ffi::PyObject = 1 as *mut ffi::PyObject;

/// Runs one overload: `args` holds exactly `nargs` arguments in parameter
/// order; bit `i` of `site.convert & convert` allows implicit conversion of
/// argument `i` (the dispatcher passes `0` or `!0`, so the fast path needs
/// no load). Returns a new reference or NULL with an exception set; when
/// the arguments do not match and no error is set: `NEXT_OVERLOAD` if
/// `mismatch` is NULL, else the mismatch `TypeError` of the function object
/// `mismatch` (single-overload calls, so the dispatcher can tail-call;
/// `args` then holds exactly that overload's `nargs` arguments). No panic
/// leaves it. Only ndbind's call shell (`bind::call`) makes these.
pub type CallImpl = unsafe extern "C" fn(
    site: &CallSite,
    args: *const *mut ffi::PyObject,
    convert: u64,
    mismatch: *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// What a call implementation reads from its record: the callable and
/// how to convert and return.
#[derive(Clone, Copy)]
pub struct CallSite {
    pub(crate) data: *const (),
    /// Bits of the arguments that may be converted (in the last pass).
    pub(crate) convert: u64,
    pub(crate) policy: RvPolicy,
    /// The first argument is `self`, the parent of returned references.
    pub(crate) method: bool,
}

impl CallSite {
    /// The callable's boxed value.
    ///
    /// # Safety
    /// `F` is the type the record was made for.
    #[inline(always)]
    pub(crate) unsafe fn callable<F>(&self) -> &F {
        // SAFETY: the caller's contract; the box lives as long as the record.
        unsafe { &*(self.data as *const F) }
    }

    /// The return context of a call with these arguments.
    ///
    /// # Safety
    /// `args` holds `nargs` live arguments that outlive `'a`, at least one
    /// when the site is a method.
    #[inline(always)]
    pub(crate) unsafe fn ctx<'a>(
        &self,
        args: *const *mut ffi::PyObject,
        nargs: usize,
    ) -> ReturnCtx<'a> {
        // SAFETY: the caller's contract.
        unsafe { ReturnCtx::with_args(self.policy, self.method, args, nargs) }
    }
}

/// The type names of a signature, rendered on demand: one function per
/// parameter (each appends its Python type name), then one for the return
/// type. A static table per bound signature, so no code per function.
pub(crate) type SigList = &'static [fn(&mut String)];

/// Per parameter, why an argument was refused ([`crate::FromPy::explain`]):
/// read only when a mismatch error is built. Empty: nothing to explain.
pub(crate) type ExplainList = &'static [fn(Borrowed<'_>, bool) -> Option<String>];

/// What a generic binding hands to the core.
pub struct FuncParts {
    pub(crate) call: CallImpl,
    pub(crate) data: *mut (),
    pub(crate) free: unsafe fn(*mut ()),
    pub(crate) nargs: usize,
    pub(crate) sig: SigList,
    pub(crate) explain: ExplainList,
    pub(crate) accepts_none: u64,
    pub(crate) convert_default: u64,
    /// Bit `i`: parameter `i` is `*args` ([`crate::Args`]).
    pub(crate) var_args: u64,
    /// Bit `i`: parameter `i` is `**kwargs` ([`crate::Kwargs`]).
    pub(crate) var_kw: u64,
}

/// # Safety
/// `p` came from `Box::<F>::into_raw` in [`FuncParts::new`], and is freed
/// once.
unsafe fn drop_box<F>(p: *mut ()) {
    // SAFETY: the caller's contract.
    drop(unsafe { Box::from_raw(p as *mut F) })
}

impl FuncParts {
    /// Packs a callable (boxed; free for zero-sized `fn` items and
    /// captureless closures) with its call implementation.
    ///
    /// `sig` names the `nargs` parameter types, then the return type.
    /// `accepts_none` and `convert_default` have bit `i` set when argument
    /// `i`'s caster accepts `None` / converts by default; `variadic` is
    /// `(var_args, var_kw)`: the bits of the `*args` / `**kwargs`
    /// parameters.
    pub(crate) fn new<F>(
        f: F,
        call: CallImpl,
        nargs: usize,
        sig: SigList,
        accepts_none: u64,
        convert_default: u64,
        variadic: (u64, u64),
    ) -> FuncParts {
        FuncParts {
            call,
            data: Box::into_raw(Box::new(f)) as *mut (),
            free: drop_box::<F>,
            nargs,
            sig,
            explain: &[],
            accepts_none,
            convert_default,
            var_args: variadic.0,
            var_kw: variadic.1,
        }
    }
}

/// One parameter's name, default and flags.
pub(crate) struct ArgSpec {
    /// Interned `str` for keyword matching (None: positional-only, unnamed).
    pub(crate) name: Option<Object>,
    pub(crate) name_str: &'static str,
    pub(crate) default: Option<Object>,
    pub(crate) default_repr: Option<String>,
    /// `arg(..).none()` on a type that does not take `None` itself:
    /// rendered `T | None`, as nanobind does.
    pub(crate) none_shown: bool,
}

/// One overload of a bound function.
pub(crate) struct FuncRecord {
    pub(crate) call: CallImpl,
    /// The boxed callable (freed by `free`), the convert mask, the policy
    /// and whether the first parameter is `self` (a method of a bound
    /// class: rendered as `self`, the parent of returned references).
    pub(crate) site: CallSite,
    pub(crate) free: unsafe fn(*mut ()),
    pub(crate) nargs: usize,
    /// How many leading parameters may be passed positionally.
    pub(crate) nargs_pos: usize,
    /// How many leading parameters may *only* be passed positionally.
    pub(crate) nargs_pos_only: usize,
    /// Empty when the binding named no arguments.
    pub(crate) args: Box<[ArgSpec]>,
    /// Bits of the arguments for which `None` is an immediate mismatch.
    pub(crate) none_reject_mask: u64,
    pub(crate) doc: Option<&'static str>,
    /// `doc` is the whole `__doc__`, no signature prepended (`raw_doc`).
    pub(crate) raw_doc: bool,
    pub(crate) sig: SigList,
    pub(crate) explain: ExplainList,
    /// An operator (`__eq__`, `__add__`, ...): a call that matches no
    /// overload returns `NotImplemented` instead of raising.
    pub(crate) operator: bool,
    /// Whether the overload has `*args` or `**kwargs`: calls then take
    /// the dispatcher's variadic path.
    pub(crate) variadic: bool,
    /// The index of the `*args` parameter.
    pub(crate) var_args: Option<usize>,
    /// The index of the `**kwargs` parameter (the last one).
    pub(crate) var_kw: Option<usize>,
    /// A signature text that replaces the rendered one (`sig(...)`).
    pub(crate) custom_sig: Option<&'static str>,
}

/// What kind of callable a binding defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncKind {
    /// A module-level function or a static method (no `self`).
    Function,
    /// A method: its first parameter is `self`; the function object is a
    /// method descriptor.
    Method,
    /// A method that returns `NotImplemented` when no overload matches.
    Operator,
}

impl Drop for FuncRecord {
    fn drop(&mut self) {
        // SAFETY: `data` was produced for `free` by FuncParts::new and is
        // released exactly once, here.
        unsafe { (self.free)(self.site.data as *mut ()) }
    }
}
