//! `*args` and `**kwargs` parameters (nanobind's `nb::args` / `nb::kwargs`):
//! [`Args`], a tuple of the extra positional arguments, and [`Kwargs`], a
//! dict of the extra keyword arguments (thin parameter types over the
//! [`Tuple`] and [`Dict`] handles, which they deref to). The dispatcher builds them (only
//! for overloads that have them: the casters' `VARIADIC` constant is folded
//! into the record); their casters only take what it built.

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, IntoPy, Param, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::handles::{Dict, Downcast, Tuple};
use crate::core::object::{Borrowed, Object};

/// `ArgCaster::VARIADIC` of [`Args`].
pub(crate) const VARIADIC_ARGS: u8 = 1;
/// `ArgCaster::VARIADIC` of [`Kwargs`].
pub(crate) const VARIADIC_KWARGS: u8 = 2;

/// The extra positional arguments of a call (`*args`): a `tuple`, empty
/// when there are none.
///
/// A parameter of this type goes after the positional parameters; the
/// parameters after it are keyword-only. Its name is `args` unless the
/// binding names it.
///
/// ```
/// use ndbind::prelude::*;
///
/// fn count(first: i64, rest: Args) -> PyResult<i64> {
///     let mut total = first;
///     for &x in rest.items() {
///         total += i64::from_py(x, true).ok_or_else(|| PyErr::type_error("not an int"))?;
///     }
///     Ok(total)
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     m.def("count", count, arg("first"))?; // count(first: int, *args) -> int
///     Ok(())
/// });
/// ```
pub struct Args(Tuple);

/// The extra keyword arguments of a call (`**kwargs`): a `dict` of `str`
/// keys, empty when there are none. A fresh dict per call.
///
/// A parameter of this type is the last one. Its name is `kwargs` unless
/// the binding names it. A keyword that names no other parameter (or names
/// a positional-only one) lands here.
///
/// ```
/// use ndbind::prelude::*;
///
/// fn describe(name: &str, options: Kwargs) -> String {
///     let mut keys: Vec<String> = match options.items() {
///         Ok(items) => items.map(|(k, _)| k.borrow().to_str().unwrap_or("?").to_owned()).collect(),
///         Err(_) => Vec::new(),
///     };
///     keys.sort();
///     format!("{name}: {}", keys.join(", "))
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     // describe(name: str, **options) -> str
///     m.def("describe", describe, (arg("name"), arg("options")))?;
///     Ok(())
/// });
/// ```
pub struct Kwargs(Dict);

impl Args {
    /// The tuple, as an owned handle.
    pub fn into_tuple(self) -> Tuple {
        self.0
    }
}

impl Kwargs {
    /// The dict, as an owned handle.
    pub fn into_dict(self) -> Dict {
        self.0
    }
}

/// `Args` is a [`Tuple`]: `len`, `items`, `get_item`, `iter`, ...
impl std::ops::Deref for Args {
    type Target = Tuple;
    #[inline]
    fn deref(&self) -> &Tuple {
        &self.0
    }
}

/// `Kwargs` is a [`Dict`]: `len`, `get_item`, `contains`, `items`, ...
impl std::ops::Deref for Kwargs {
    type Target = Dict;
    #[inline]
    fn deref(&self) -> &Dict {
        &self.0
    }
}

/// Takes the tuple (`Args`) or dict (`Kwargs`) the dispatcher built.
fn load_var(holder: &mut Option<Object>, obj: Borrowed<'_>, kind: u8) -> bool {
    // Only the dispatcher fills these slots; the check keeps the handles'
    // methods sound whatever reaches them.
    // SAFETY: type checks of a live object.
    let ok = unsafe {
        if kind == VARIADIC_ARGS {
            ffi::PyTuple_CheckExact(obj.as_ptr()) != 0
        } else {
            ffi::PyDict_CheckExact(obj.as_ptr()) != 0
        }
    };
    if ok {
        *holder = Some(obj.to_owned());
    }
    ok
}

macro_rules! var_caster {
    ($caster:ident, $t:ident, $kind:expr, $name:literal) => {
        /// The caster of the parameter type of the same name.
        #[doc(hidden)]
        pub struct $caster;

        impl ArgCaster for $caster {
            type Holder = Option<Object>;
            type Out<'a> = $t;
            const VARIADIC: u8 = $kind;

            fn load(holder: &mut Option<Object>, obj: Borrowed<'_>, _convert: bool) -> bool {
                load_var(holder, obj, $kind)
            }

            unsafe fn get(holder: &mut Option<Object>) -> $t {
                let obj = holder.take().expect("ndbind: argument loaded once, taken once");
                // SAFETY: `load_var` checked the exact type.
                $t(unsafe { Downcast::from_object_unchecked(obj) })
            }

            fn type_name(out: &mut String) {
                out.push_str($name)
            }
        }

        impl Param for $t {
            type Caster = $caster;
        }

        impl IntoPy for $t {
            fn into_py(self, _ctx: &ReturnCtx) -> PyResult<Object> {
                Ok(self.0.into_object())
            }
            fn type_name(out: &mut String) {
                out.push_str($name)
            }
        }
    };
}

var_caster!(ArgsCaster, Args, VARIADIC_ARGS, "tuple");
var_caster!(KwargsCaster, Kwargs, VARIADIC_KWARGS, "dict");
