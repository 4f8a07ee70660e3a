//! Constructors: a Rust callable returning `T` (or `Result<T, E>`) becomes
//! the overload of `__init__(self, ...)` that moves the value into the
//! uninitialised instance `self` and marks it ready.

use pyo3_ffi as ffi;

use crate::core::caster::{type_name_of, ArgCaster, Param};
use crate::core::class::borrow::{cell_of, InstFlags};
use crate::core::class::inst::InstHeader;
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::func::bind::{finish, guard_call, load_failed};
use crate::core::func::record::{CallSite, SigList};
use crate::core::func::FuncParts;
use crate::core::object::{Borrowed, Object};

/// What a constructor made: a value to store inline, or an `Arc` the
/// instance holds (see the `holder` module).
///
/// ```ignore
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
/// ```ignore
/// c.init(|x: f64| -> PyResult<Point> { Ok(Point::new(x, 0.0)) }, arg("x"))?;
/// c.init(|| Arc::new(Counter::default()), ())?;
/// ```
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
/// ```ignore
/// c.init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?;
/// ```
pub trait IntoInit<T, M>: 'static {
    /// The record parts of the `__init__` overload (`self` first).
    fn into_parts(self) -> FuncParts;
}

/// The `self` of `__init__`: an instance of exactly `T`'s storage (`T`'s
/// class or a Python subclass of it) that is not constructed yet.
///
/// # Safety
/// `obj` is a live object; the GIL is held.
#[inline]
pub(crate) unsafe fn init_target<T: PyClass>(obj: *mut ffi::PyObject) -> Option<*mut InstHeader> {
    let tp = T::type_slot().type_ptr();
    let h = obj as *mut InstHeader;
    let ok_type = ffi::Py_TYPE(obj) == tp
        || record_of(ffi::Py_TYPE(obj)).is_some_and(|r| r.type_ptr == tp && !tp.is_null());
    if !ok_type {
        return None;
    }
    if (*h).flags.is_ready()
        || !(*h).flags.contains(InstFlags::INLINE)
        || !cell_of(h).is_unborrowed()
    {
        init_twice::<T>();
        return None;
    }
    Some(h)
}

#[cold]
fn init_twice<T: PyClass>() {
    PyErr::type_error(format!(
        "{}.__init__(): the instance is already initialised",
        type_name_of(crate::core::class::cast::push_type_name::<T>)
    ))
    .restore()
}

/// Writes the constructed value and marks the instance ready.
///
/// # Safety
/// `h` came from [`init_target`] for the same `T` during this call.
#[inline]
pub(crate) unsafe fn init_write<T: PyClass>(
    h: *mut InstHeader,
    r: PyResult<Constructed<T>>,
) -> PyResult<Object> {
    let v = r?;
    // The constructor may have run Python code that initialised `self`.
    if (*h).flags.is_ready() {
        drop(v);
        init_twice::<T>();
        return Err(PyErr::fetch());
    }
    match v {
        Constructed::Value(v) => {
            std::ptr::write((*h).value as *mut T, v);
            (*h).flags.insert(InstFlags::READY | InstFlags::DESTRUCT);
        }
        Constructed::Shared(a) => crate::core::class::holder::init_arc(h, a)?,
    }
    crate::core::class::trampoline::attach(T::type_slot(), h);
    Ok(Object::none_held())
}

/// The signature table of an `__init__` taking parameters `P` (a tuple).
struct InitSig<T, P>(std::marker::PhantomData<(T, P)>);

fn none_name(out: &mut String) {
    out.push_str("None")
}

macro_rules! impl_into_init {
    ($n:expr; $($P:ident $h:ident $i:tt),*) => {
        impl<T: PyClass, $($P: Param,)*> InitSig<T, ($($P,)*)> {
            const LIST: SigList = &[
                crate::core::class::cast::push_type_name::<T> as fn(&mut String),
                $(<$P::Caster as ArgCaster>::type_name,)*
                none_name,
            ];
        }

        impl<T, F, R, $($P,)*> IntoInit<T, (R, $($P,)*)> for F
        where
            T: PyClass,
            F: Fn($($P),*) -> R + 'static,
            F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
            R: InitReturn<T>,
            $($P: Param,)*
        {
            fn into_parts(self) -> FuncParts {
                #[allow(unused_variables, unused_unsafe)]
                unsafe extern "C" fn call<T, F, R, $($P,)*>(
                    site: &CallSite,
                    args: *const *mut ffi::PyObject,
                    convert: u64,
                    mismatch: *mut ffi::PyObject,
                ) -> *mut ffi::PyObject
                where
                    T: PyClass,
                    F: for<'a> Fn($(<<$P as Param>::Caster as ArgCaster>::Out<'a>),*) -> R,
                    R: InitReturn<T>,
                    $($P: Param,)*
                {
                    guard_call(|| {
                        // SAFETY: the site's callable is the boxed `F` of this
                        // record; the dispatcher passes exactly 1 + n valid
                        // arguments.
                        let f = unsafe { site.callable::<F>() };
                        let convert = site.convert & convert;
                        // SAFETY (here and below): `args` holds `self` and
                        // the n arguments, valid for the call; `mismatch`
                        // and `args` are this call's own.
                        let Some(target) = (unsafe { init_target::<T>(*args) }) else {
                            return unsafe { load_failed(mismatch, args) };
                        };
                        $(
                            let mut $h = <<$P::Caster as ArgCaster>::Holder as Default>::default();
                            // SAFETY: as above.
                            let obj = unsafe { Borrowed::from_ptr(*args.add($i + 1)) };
                            if !<$P::Caster as ArgCaster>::load(&mut $h, obj, convert & (1u64 << ($i + 1)) != 0) {
                                // SAFETY: as above.
                                return unsafe { load_failed(mismatch, args) };
                            }
                        )*
                        // Re-validation, the alias check and loans, commit.
                        let _loans = crate::core::func::bind::prepare_args!($n; $($P $h $i),*);
                        let r = f($(unsafe { <$P::Caster as ArgCaster>::get(&mut $h) }),*).into_value();
                        // SAFETY: `target` was checked for this T above.
                        finish(unsafe { init_write::<T>(target, r) })
                    })
                }

                let accepts_none = 0u64 $( | ((<$P::Caster as ArgCaster>::ACCEPTS_NONE as u64) << ($i + 1)) )*;
                let convert = 0u64 $( | ((<$P::Caster as ArgCaster>::CONVERT_BY_DEFAULT as u64) << ($i + 1)) )*;
                FuncParts::new(self, call::<T, F, R, $($P,)*>, $n + 1, InitSig::<T, ($($P,)*)>::LIST, accepts_none, convert)
            }
        }
    };
}

impl_into_init!(0;);
impl_into_init!(1; A0 h0 0);
impl_into_init!(2; A0 h0 0, A1 h1 1);
impl_into_init!(3; A0 h0 0, A1 h1 1, A2 h2 2);
impl_into_init!(4; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3);
impl_into_init!(5; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4);
impl_into_init!(6; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5);
impl_into_init!(7; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6);
impl_into_init!(8; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7);
impl_into_init!(9; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8);
impl_into_init!(10; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9);
impl_into_init!(11; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10);
impl_into_init!(12; A0 h0 0, A1 h1 1, A2 h2 2, A3 h3 3, A4 h4 4, A5 h5 5, A6 h6 6, A7 h7 7, A8 h8 8, A9 h9 9, A10 h10 10, A11 h11 11);
