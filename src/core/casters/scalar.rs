//! `bool`, integers of every width, `f32`/`f64`, and `()` → `None`.
//!
//! Integers: an out-of-range value is a failed match, never a wrap-around.
//! Only `int` (and, in the conversion pass, objects with `__index__`) match;
//! floats never become integers. Floats: `float` matches; in the conversion
//! pass so do `int` and objects with `__float__`.

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

impl FromPy for bool {
    #[inline]
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<bool> {
        // SAFETY: comparing against the two bool singletons.
        unsafe {
            if obj.as_ptr() == ffi::Py_True() {
                Some(true)
            } else if obj.as_ptr() == ffi::Py_False() {
                Some(false)
            } else {
                None
            }
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("bool")
    }
}

impl IntoPy for bool {
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        // SAFETY: PyBool_FromLong returns a new reference to a singleton.
        unsafe { Object::from_owned_or_err(ffi::PyBool_FromLong(self as _)) }
    }
    fn type_name(out: &mut String) {
        out.push_str("bool")
    }
}

/// An `int` (or, when converting, an `__index__` object) as `i64`, with
/// `u64` values above `i64::MAX` reported separately. Never leaves an error.
/// One-digit ints (the common case) are read inline, without a call.
#[inline(always)]
fn load_int(obj: Borrowed<'_>, convert: bool) -> Option<Wide> {
    let p = obj.as_ptr();
    // SAFETY: a type-flag test, then an in-place read of an int object.
    if unsafe { ffi::PyLong_Check(p) } != 0 {
        // SAFETY: `p` is an int (checked above).
        if let Some(v) = unsafe { compact_long(p) } {
            return Some(Wide::Signed(v));
        }
    }
    load_int_slow(obj, convert)
}

#[inline(never)]
fn load_int_slow(obj: Borrowed<'_>, convert: bool) -> Option<Wide> {
    // SAFETY: type checks before type-specific calls; every error raised by
    // a conversion is cleared before returning.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyLong_Check(p) != 0 {
            return long_value(p);
        }
        if !convert || ffi::PyFloat_Check(p) != 0 {
            return None;
        }
        let tp = ffi::Py_TYPE(p);
        if !crate::core::abi::has_nb_index(tp) {
            return None;
        }
        let idx = ffi::PyNumber_Index(p);
        if idx.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let r = long_value(idx);
        ffi::Py_DECREF(idx);
        r
    }
}

enum Wide {
    Signed(i64),
    Unsigned(u64),
}

/// CPython 3.11's `int` header: `ob_size` holds the sign and the number of
/// 30-bit digits that follow.
#[repr(C)]
struct Long311 {
    ob_base: ffi::PyVarObject,
    digit0: u32,
}

/// The value of an `int` of at most one digit, read in place (no call
/// into CPython), on the interpreter versions whose layout we know.
///
/// # Safety
/// `p` is a live `int` object.
#[inline(always)]
pub(crate) unsafe fn compact_long(p: *mut ffi::PyObject) -> Option<i64> {
    if !compact_longs_readable() {
        return None;
    }
    // SAFETY: the layout is known (checked above); `p` is an int (caller).
    unsafe { compact_long_unchecked(p) }
}

/// Whether this interpreter's `int` layout is the one
/// [`compact_long_unchecked`] reads (a loop can check it once).
#[inline(always)]
pub(crate) fn compact_longs_readable() -> bool {
    // SAFETY: reading the exported version word.
    (unsafe { ffi::Py_Version }) >> 16 == 0x030B
}

/// [`compact_long`] without the interpreter check.
///
/// # Safety
/// `compact_longs_readable()` and `p` is an `int` object.
#[inline(always)]
pub(crate) unsafe fn compact_long_unchecked(p: *mut ffi::PyObject) -> Option<i64> {
    // SAFETY: `p` is an int object (caller), laid out as Long311 on 3.11.
    let o = unsafe { &*(p as *const Long311) };
    match o.ob_base.ob_size {
        0 => Some(0),
        1 => Some(o.digit0 as i64),
        -1 => Some(-(o.digit0 as i64)),
        _ => None,
    }
}

/// # Safety
/// `p` is an `int` object and the GIL is held.
#[inline]
unsafe fn long_value(p: *mut ffi::PyObject) -> Option<Wide> {
    // SAFETY: `p` is an `int` (the caller's contract).
    if let Some(v) = unsafe { compact_long(p) } {
        return Some(Wide::Signed(v));
    }
    let mut overflow = 0;
    // SAFETY: `p` is an `int` and the GIL is held (the caller's contract);
    // an error these set is cleared before returning.
    unsafe {
        let v = ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow);
        if overflow == 0 {
            if v == -1 && !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            return Some(Wide::Signed(v));
        }
        if overflow < 0 {
            return None;
        }
        let u = ffi::PyLong_AsUnsignedLongLong(p);
        if u == u64::MAX && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some(Wide::Unsigned(u))
    }
}

macro_rules! int_caster {
    ($($t:ty),*) => {$(
        impl FromPy for $t {
            #[inline]
            fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<$t> {
                match load_int(obj, convert)? {
                    Wide::Signed(v) => <$t>::try_from(v).ok(),
                    Wide::Unsigned(v) => <$t>::try_from(v).ok(),
                }
            }
            fn type_name(out: &mut String) { out.push_str("int") }
        }

        impl IntoPy for $t {
            #[inline]
            #[allow(irrefutable_let_patterns)]
            fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
                // SAFETY: plain constructors returning a new reference or NULL.
                unsafe {
                    let p = if let Ok(v) = std::ffi::c_long::try_from(self) {
                        // PyLong_FromLong has the small-int fast path
                        // (FromLongLong only forwards to it on LP64).
                        ffi::PyLong_FromLong(v)
                    } else if let Ok(v) = i64::try_from(self) {
                        ffi::PyLong_FromLongLong(v)
                    } else {
                        ffi::PyLong_FromUnsignedLongLong(self as u64)
                    };
                    Object::from_owned_or_err(p)
                }
            }
            fn type_name(out: &mut String) { out.push_str("int") }
        }
    )*};
}

int_caster!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl FromPy for f64 {
    #[inline]
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<f64> {
        // SAFETY: type checks before type-specific calls; errors are cleared.
        unsafe {
            let p = obj.as_ptr();
            if ffi::PyFloat_CheckExact(p) != 0 {
                return Some(crate::core::abi::float_value(p));
            }
            let is_float = ffi::PyFloat_Check(p) != 0;
            if !is_float && !convert {
                return None;
            }
            if !is_float {
                // Conversion pass: int, or anything with __float__ (NumPy scalars).
                let has_float = crate::core::abi::has_nb_float(ffi::Py_TYPE(p));
                if ffi::PyLong_Check(p) == 0 && !has_float {
                    return None;
                }
            }
            let v = ffi::PyFloat_AsDouble(p);
            if v == -1.0 && !ffi::PyErr_Occurred().is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            Some(v)
        }
    }
    fn type_name(out: &mut String) {
        out.push_str("float")
    }
}

impl FromPy for f32 {
    #[inline]
    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<f32> {
        f64::from_py(obj, convert).map(|v| v as f32)
    }
    fn type_name(out: &mut String) {
        out.push_str("float")
    }
}

impl IntoPy for f64 {
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        // SAFETY: plain constructor returning a new reference or NULL.
        unsafe { Object::from_owned_or_err(ffi::PyFloat_FromDouble(self)) }
    }
    fn type_name(out: &mut String) {
        out.push_str("float")
    }
}

impl IntoPy for f32 {
    #[inline]
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        (self as f64).into_py(ctx)
    }
    fn type_name(out: &mut String) {
        out.push_str("float")
    }
}

impl IntoPy for () {
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Ok(Object::none_held())
    }
    fn type_name(out: &mut String) {
        out.push_str("None")
    }
}

/// `Err(PyErr)` alone as a return type (a function that only raises).
impl IntoPy for PyErr {
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        Err(self)
    }
    fn type_name(out: &mut String) {
        out.push_str("typing.NoReturn")
    }
}
