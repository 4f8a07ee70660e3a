//! Constructors: a Rust callable returning `T` (or `Result<T, E>`) becomes
//! an overload of `__init__(self, ...)`, an ordinary bound function whose
//! first parameter (`InitSelf`) is the uninitialised instance: it moves
//! the value into `self` and marks it ready.

use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::caster::{type_name_of, ArgCaster, Param};
use crate::core::class::borrow::{cell_of, InstFlags};
use crate::core::class::inst::InstHeader;
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::func::bind::{IntoReceiving, Receiver};
use crate::core::func::FuncParts;
use crate::core::object::Borrowed;

/// What a constructor made: a value to store inline, or an `Arc` the
/// instance holds (see the `holder` module).
///
/// ```
/// use std::sync::Arc;
/// use ndbind::class::Constructed;
/// # #[derive(Default)]
/// # pub struct Counter;
///
/// let c: Constructed<Counter> = Constructed::Shared(Arc::new(Counter::default()));
/// ```
pub enum Constructed<T> {
    /// Stored inline in the instance.
    Value(T),
    /// Held through one strong count of the `Arc`.
    Shared(std::sync::Arc<T>),
}

/// What a constructor returns: `T`, `Arc<T>` (`T: Sync`) or a `Result`
/// of either.
///
/// ```
/// # use std::sync::Arc;
/// # use ndbind::prelude::*;
/// # pub struct Point { x: f64, y: f64 }
/// # impl Point { fn new(x: f64, y: f64) -> Point { Point { x, y } } }
/// # ndbind::class!(Point);
/// # #[derive(Default)]
/// # pub struct Counter { n: std::sync::atomic::AtomicU64 }
/// # ndbind::class!(Counter);
/// # ndbind::module!(doc_ext, |m| {
/// # let c = m.class::<Point>("Point", ())?;
/// c.init(|x: f64| -> PyResult<Point> { Ok(Point::new(x, 0.0)) }, arg("x"))?;
/// # let c = m.class::<Counter>("Counter", ())?;
/// c.init(|| Arc::new(Counter::default()), ())?;
/// # Ok(())
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "a constructor of `{T}` cannot return `{Self}`",
    label = "constructors return the constructed value",
    note = "a constructor returns `{T}`, `Arc<{T}>` (if `{T}: Sync`) or a `Result` of either whose error converts into `PyErr`"
)]
pub trait InitReturn<T> {
    /// The constructed value, or the error to raise.
    fn into_value(self) -> PyResult<Constructed<T>>;
}

impl<T: PyClass> InitReturn<T> for T {
    #[inline]
    fn into_value(self) -> PyResult<Constructed<T>> {
        Ok(Constructed::Value(self))
    }
}

impl<T: PyClass, E: Into<PyErr>> InitReturn<T> for Result<T, E> {
    #[inline]
    fn into_value(self) -> PyResult<Constructed<T>> {
        self.map(Constructed::Value).map_err(Into::into)
    }
}

impl<T: PyClass + Sync> InitReturn<T> for std::sync::Arc<T> {
    #[inline]
    fn into_value(self) -> PyResult<Constructed<T>> {
        Ok(Constructed::Shared(self))
    }
}

impl<T: PyClass + Sync, E: Into<PyErr>> InitReturn<T> for Result<std::sync::Arc<T>, E> {
    #[inline]
    fn into_value(self) -> PyResult<Constructed<T>> {
        self.map(Constructed::Shared).map_err(Into::into)
    }
}

/// A Rust callable usable as a constructor of class `T` (0 to 12
/// parameters, which may borrow from their arguments). `M` is an inference
/// marker.
///
/// It is bound as an ordinary function `__init__(self, ...)` whose first
/// parameter (`InitSelf`) is the instance being initialised and receives
/// the constructed value (nanobind's `pointer_and_handle<T>`).
///
/// ```
/// # use ndbind::prelude::*;
/// # #[derive(Clone, PartialEq)]
/// # pub struct Point { x: f64, y: f64 }
/// # ndbind::class!(Point, clone);
/// # ndbind::module!(doc_ext, |m| {
/// # let c = m.class::<Point>("Point", ())?;
/// c.init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?;
/// # Ok(())
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a constructor of `{T}`",
    label = "not a constructor ndbind can bind",
    note = "ndbind binds `fn` items and closures of at most 12 parameters: pass more values in a tuple, a `Vec`, a `dict` or a bound class",
    note = "a closure's parameter types must be written out: `|x: f64, s: &str| ...`",
    note = "a constructor returns `{T}`, `Arc<{T}>` or a `Result` of either; its parameters convert from Python"
)]
pub trait IntoInit<T, M>: 'static {
    /// The record parts of the `__init__` overload (`self` first).
    fn into_parts(self) -> FuncParts;
}

impl<T: PyClass, M, F: IntoReceiving<InitSelf<T>, M>> IntoInit<T, M> for F {
    #[inline]
    fn into_parts(self) -> FuncParts {
        IntoReceiving::into_parts(self)
    }
}

/// The `self` parameter of `__init__`: an instance of exactly `T`'s
/// storage (`T`'s class or a Python subclass of it) that is not
/// constructed yet. Loading it checks that; it receives the constructor's
/// result, which it moves into the instance.
pub(crate) struct InitSelf<T>(PhantomData<T>);

/// The holder of [`InitSelf`]: the checked instance (NULL before load).
pub(crate) struct InitTarget(*mut InstHeader);

impl Default for InitTarget {
    #[inline]
    fn default() -> Self {
        InitTarget(std::ptr::null_mut())
    }
}

/// The value of an [`InitSelf`] parameter: made only by its `get`, from an
/// instance [`init_target`] checked for `T` during the running call.
pub(crate) struct Uninit<T> {
    h: *mut InstHeader,
    _t: PhantomData<T>,
}

impl<T: PyClass> Param for InitSelf<T> {
    type Caster = InitSelf<T>;
}

impl<T: PyClass> ArgCaster for InitSelf<T> {
    type Holder = InitTarget;
    type Out<'a> = Uninit<T>;
    /// `self` is never converted (bit 0 of the convert mask stays clear).
    const CONVERT_BY_DEFAULT: bool = false;

    #[inline]
    fn load(holder: &mut InitTarget, obj: Borrowed<'_>, _convert: bool) -> bool {
        // SAFETY: `obj` is a live argument; the GIL is held.
        match unsafe { init_target::<T>(obj.as_ptr()) } {
            Ok(h) => {
                holder.0 = h;
                true
            }
            Err(NotTarget::Other) => false,
            Err(NotTarget::Initialized) => warn_init_twice(obj),
        }
    }

    fn explain(obj: Borrowed<'_>, _convert: bool) -> Option<String> {
        // SAFETY: `obj` is a live argument; the GIL is held.
        match unsafe { init_target::<T>(obj.as_ptr()) } {
            Err(NotTarget::Initialized) => {
                // SAFETY: as above.
                let name = unsafe { crate::core::class::borrow::tp_name(obj.as_ptr()) };
                Some(format!(
                    "attempted to initialize an already-initialized instance of type '{name}'"
                ))
            }
            _ => None,
        }
    }

    #[inline]
    unsafe fn get(holder: &mut InitTarget) -> Uninit<T> {
        Uninit { h: holder.0, _t: PhantomData }
    }

    fn type_name(out: &mut String) {
        crate::core::class::cast::push_type_name::<T>(out)
    }
}

impl<T: PyClass, R: InitReturn<T>> Receiver<R> for InitSelf<T> {
    type Output = PyResult<()>;

    #[inline]
    fn receive(slf: Uninit<T>, r: R) -> PyResult<()> {
        // SAFETY: an `Uninit` comes from `init_target` for this `T` during
        // this call (its only maker is `get`, after a successful load); the
        // instance is `self`, held by the call's arguments.
        unsafe { init_write::<T>(slf.h, r.into_value()) }
    }
}

/// Why an object is not the `self` of an `__init__` of `T`.
enum NotTarget {
    /// Not an instance of `T`'s storage.
    Other,
    /// An instance of it whose value exists already (or that references
    /// a value elsewhere, or is borrowed).
    Initialized,
}

/// nanobind's answer to a second `__init__`: a `RuntimeWarning`, then the
/// overload does not match (the call raises the mismatch `TypeError`).
/// A warning turned into an exception is set. Returns `false`.
#[cold]
#[inline(never)]
fn warn_init_twice(obj: Borrowed<'_>) -> bool {
    // SAFETY: a live argument; the GIL is held.
    let name = unsafe { crate::core::class::borrow::tp_name(obj.as_ptr()) };
    let msg = format!(
        "ndbind: attempted to initialize an already-initialized instance of type '{name}'!"
    );
    if let Ok(m) = std::ffi::CString::new(msg) {
        // SAFETY: a NUL-terminated message; the GIL is held.
        unsafe { ffi::PyErr_WarnEx(ffi::PyExc_RuntimeWarning, m.as_ptr(), 1) };
    }
    false
}

/// The `self` of `__init__`: an instance of exactly `T`'s storage (`T`'s
/// class or a Python subclass of it) that is not constructed yet.
///
/// # Safety
/// `obj` is a live object; the GIL is held.
#[inline]
unsafe fn init_target<T: PyClass>(obj: *mut ffi::PyObject) -> Result<*mut InstHeader, NotTarget> {
    let tp = T::type_slot().type_ptr();
    let h = obj as *mut InstHeader;
    // SAFETY: `obj` is live (the caller's contract), so is its type; a
    // type with ndbind's metaclass has a record that lives as long as it.
    let ok_type = unsafe {
        ffi::Py_TYPE(obj) == tp
            || record_of(ffi::Py_TYPE(obj)).is_some_and(|r| r.type_ptr == tp && !tp.is_null())
    };
    if !ok_type {
        return Err(NotTarget::Other);
    }
    // SAFETY: `obj` is an instance of T's storage (checked above): it
    // starts with an initialised header whose borrow cell is valid.
    if unsafe {
        (*h).flags.is_ready()
            || !(*h).flags.contains(InstFlags::INLINE)
            || !cell_of(h).is_unborrowed()
    } {
        return Err(NotTarget::Initialized);
    }
    Ok(h)
}

#[cold]
fn init_twice<T: PyClass>(method: &str) -> PyErr {
    PyErr::type_error(format!(
        "{}.{method}(): the instance is already initialised",
        type_name_of(crate::core::class::cast::push_type_name::<T>)
    ))
}

/// Constructs the value of `obj`, an instance of `T`'s storage that is
/// not initialised yet, from `make` (an in-place constructor other than
/// `__init__`, such as `__setstate__`, named `method` in errors). Another
/// object, or an instance that is initialised already, is a `TypeError`
/// (the existing value is neither replaced nor leaked).
pub(crate) fn construct_in_place<T: PyClass>(
    obj: Borrowed<'_>,
    method: &str,
    make: impl FnOnce() -> PyResult<Constructed<T>>,
) -> PyResult<()> {
    // SAFETY: `obj` is a live object (borrowed for the call); the GIL is
    // held (a `Borrowed` is only made with it).
    let h = match unsafe { init_target::<T>(obj.as_ptr()) } {
        Ok(h) => h,
        Err(NotTarget::Initialized) => return Err(init_twice::<T>(method)),
        Err(NotTarget::Other) => {
            return Err(PyErr::type_error(format!(
                "{0}.{method}(): cannot construct a {0} value in a {1} object",
                type_name_of(crate::core::class::cast::push_type_name::<T>),
                obj.type_name()
            )))
        }
    };
    // SAFETY: `h` came from `init_target::<T>` just now, and `obj` (held
    // by the caller) keeps it alive; `init_write` rechecks readiness after
    // `make`, which may run Python code.
    unsafe { init_write_as::<T>(h, make(), method) }
}

/// Writes the constructed value and marks the instance ready.
///
/// # Safety
/// `h` came from [`init_target`] for the same `T` during this call, and
/// its object is still alive.
#[inline]
unsafe fn init_write<T: PyClass>(h: *mut InstHeader, r: PyResult<Constructed<T>>) -> PyResult<()> {
    // SAFETY: the caller's contract.
    unsafe { init_write_as::<T>(h, r, "__init__") }
}

/// [`init_write`], for the in-place constructor `method`.
///
/// # Safety
/// As for [`init_write`].
#[inline]
unsafe fn init_write_as<T: PyClass>(
    h: *mut InstHeader,
    r: PyResult<Constructed<T>>,
    method: &str,
) -> PyResult<()> {
    let v = r?;
    // The constructor may have run Python code that initialised `self`.
    // SAFETY: the caller's contract: a live instance of T's storage.
    if unsafe { (*h).flags.is_ready() } {
        drop(v);
        return Err(init_twice::<T>(method));
    }
    match v {
        Constructed::Value(v) => {
            // Free-threaded, another thread's `__init__` of the same
            // instance may have passed the check above too: the check and
            // the write are one step under the unique borrow (which a
            // concurrent one does not get; with the GIL nothing runs
            // between them).
            #[cfg(Py_GIL_DISABLED)]
            // SAFETY: (caller) a live instance; its cell lives in it.
            let Some(_writing) = (unsafe {
                crate::core::class::borrow::UniqueGuard::try_new(std::ptr::null_mut(), cell_of(h))
            }) else {
                drop(v);
                return Err(init_twice::<T>(method));
            };
            // SAFETY: as above.
            #[cfg(Py_GIL_DISABLED)]
            if unsafe { (*h).flags.is_ready() } {
                drop(v);
                return Err(init_twice::<T>(method));
            }
            // SAFETY: the inline storage is sized and aligned for a `T`
            // (T's storage, checked by `init_target`) and holds no value
            // (not ready); it becomes ready and owned (destruct) at once.
            unsafe {
                std::ptr::write((*h).value as *mut T, v);
                (*h).flags.insert(InstFlags::READY | InstFlags::DESTRUCT);
                crate::core::class::trampoline::attach(T::type_slot(), h);
            }
        }
        // SAFETY: a live, not ready instance of T's storage (`init_arc`
        // checks again, in one step with taking it).
        Constructed::Shared(a) => unsafe {
            if !crate::core::class::holder::init_arc(h, a)? {
                return Err(init_twice::<T>(method));
            }
            crate::core::class::trampoline::attach(T::type_slot(), h);
        },
    }
    Ok(())
}
