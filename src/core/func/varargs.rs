//! `*args` and `**kwargs` parameters (nanobind's `nb::args` / `nb::kwargs`):
//! [`Args`], a tuple of the extra positional arguments, and [`Kwargs`], a
//! dict of the extra keyword arguments. The dispatcher builds them (only
//! for overloads that have them: the casters' `VARIADIC` constant is folded
//! into the record); their casters only take what it built.

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, IntoPy, Param, ReturnCtx};
use crate::core::error::PyResult;
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
///     for x in rest.iter() {
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
pub struct Args(Object);

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
///     let mut keys: Vec<String> =
///         options.iter().map(|(k, _)| k.borrow().to_str().unwrap_or("?").to_owned()).collect();
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
pub struct Kwargs(Object);

impl Args {
    /// The number of extra positional arguments.
    pub fn len(&self) -> usize {
        // SAFETY: a live tuple (checked when loaded).
        unsafe { ffi::PyTuple_GET_SIZE(self.0.as_ptr()) as usize }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<Borrowed<'_>> {
        // SAFETY: a live tuple (immutable: its items live as long as it).
        (i < self.len())
            .then(|| unsafe { Borrowed::from_ptr(ffi::PyTuple_GET_ITEM(self.0.as_ptr(), i as _)) })
    }

    /// The arguments, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Borrowed<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i).expect("index below the length"))
    }

    /// The tuple.
    pub fn as_object(&self) -> &Object {
        &self.0
    }

    /// The tuple, as an owned handle.
    pub fn into_object(self) -> Object {
        self.0
    }
}

impl Kwargs {
    /// The number of extra keyword arguments.
    pub fn len(&self) -> usize {
        // SAFETY: a live dict (checked when loaded).
        unsafe { ffi::PyDict_Size(self.0.as_ptr()) as usize }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of keyword `key`, if given.
    pub fn get(&self, key: &str) -> PyResult<Option<Object>> {
        let k = Object::str_held(key)?;
        // SAFETY: a live dict and a `str` key (whose hash and equality run
        // no Python code); the borrowed result is owned at once.
        unsafe {
            let v = ffi::PyDict_GetItemWithError(self.0.as_ptr(), k.as_ptr());
            if v.is_null() {
                if !ffi::PyErr_Occurred().is_null() {
                    return Err(crate::core::error::PyErr::fetch());
                }
                return Ok(None);
            }
            Ok(Some(Object::from_borrowed(v)))
        }
    }

    /// The `(key, value)` pairs, in the order given. Each step reads the
    /// dict afresh, so code that changes it meanwhile (the dict is the
    /// caller's to change) cannot make the iterator read freed memory.
    pub fn iter(&self) -> impl Iterator<Item = (Object, Object)> + '_ {
        let mut pos: ffi::Py_ssize_t = 0;
        std::iter::from_fn(move || {
            let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: a live dict; `PyDict_Next` bounds `pos` by the
            // current table, and the borrowed pair is owned at once.
            unsafe {
                (ffi::PyDict_Next(self.0.as_ptr(), &mut pos, &mut k, &mut v) != 0)
                    .then(|| (Object::from_borrowed(k), Object::from_borrowed(v)))
            }
        })
    }

    /// The dict.
    pub fn as_object(&self) -> &Object {
        &self.0
    }

    /// The dict, as an owned handle.
    pub fn into_object(self) -> Object {
        self.0
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
                $t(holder.take().expect("ndbind: argument loaded once, taken once"))
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
                Ok(self.0)
            }
            fn type_name(out: &mut String) {
                out.push_str($name)
            }
        }
    };
}

var_caster!(ArgsCaster, Args, VARIADIC_ARGS, "tuple");
var_caster!(KwargsCaster, Kwargs, VARIADIC_KWARGS, "dict");
