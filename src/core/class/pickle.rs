//! Pickling and copying of bound classes ([`Class::pickle`]): a pair of
//! Rust functions becomes `__getstate__` / `__setstate__` (nanobind's
//! documented pattern), plus a `__reduce__` that makes every pickle
//! protocol (0 to 5), `copy.copy` and `copy.deepcopy` use them.
//!
//! Unpickling makes the object with `copyreg.__newobj__(cls)` (that is,
//! `cls.__new__(cls)`: an instance whose value is not constructed yet),
//! then calls `__setstate__(state)`, an in-place constructor: it builds the
//! value from the state and moves it into the instance, as `__init__` does
//! (`InitSelf`, in `init`).
//!
//! The state is a tuple: `(state,)`, or `(state, __dict__)` for an
//! instance with a non-empty `__dict__` (a Python subclass, or a class with
//! [`crate::class::dynamic_attr`]), so that such attributes survive too
//! (CPython's own reduce would lose them: it pickles whatever
//! `__getstate__` returns). Never `None`, which would make `pickle` skip
//! `__setstate__` and leave the object unconstructed.

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx, Spans};
use crate::core::class::builder::Class;
use crate::core::class::handle::Inst;
use crate::core::class::init::{construct_in_place, InitReturn};
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::extras::arg;
use crate::core::object::{Borrowed, Object};

impl<T: PyClass> Class<T> {
    /// Makes instances picklable and copyable: `getstate` turns the value
    /// into a state `S` (any type that converts both ways: a tuple, a
    /// `Vec`, a `String`, ...), and `setstate` rebuilds a value from it
    /// (returning `T` or `Result<T, E>`: a state it refuses raises its
    /// error).
    ///
    /// Binds `__getstate__` (returns `(state,)`, or `(state, __dict__)`
    /// when the instance has attributes in a `__dict__`), `__setstate__`
    /// and `__reduce__`; `pickle.dumps`/`loads` (every protocol),
    /// `copy.copy` and `copy.deepcopy` then round-trip, also for Python
    /// subclasses (their `__dict__` included). `__setstate__` only
    /// constructs: on an instance that is initialised already, or with a
    /// state that does not convert to `S`, it raises `TypeError`. A class
    /// without this stays unpicklable (`TypeError`, as in Python).
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// pub struct Point { x: f64, y: f64 }
    /// ndbind::class!(Point);
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     m.class::<Point>("Point", ())?
    ///         .init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?
    ///         .pickle(|p: &Point| (p.x, p.y), |(x, y): (f64, f64)| Point { x, y })?;
    ///     Ok(())
    /// });
    /// ```
    pub fn pickle<S, G, F, R>(&self, getstate: G, setstate: F) -> PyResult<&Self>
    where
        S: IntoPy + FromPy + 'static,
        G: Fn(&T) -> S + 'static,
        F: Fn(S) -> R + 'static,
        R: InitReturn<T>,
    {
        let get = move |slf: Inst<T>| -> PyResult<Object> {
            // The borrow ends before any Python code runs.
            let s = getstate(&*slf.get()?);
            state_tuple(slf.object(), s.into_py(&ReturnCtx::held())?)
        };
        let set = move |slf: Borrowed<'_>, state: PickleState<S>| -> PyResult<()> {
            let PickleState { value, dict } = state;
            construct_in_place::<T>(slf, "__setstate__", || setstate(value).into_value())?;
            match dict {
                Some(d) => update_dict(slf, d.borrow()),
                None => Ok(()),
            }
        };
        self.def("__getstate__", get, ())?.def("__setstate__", set, arg("state"))?.def(
            "__reduce__",
            reduce,
            (),
        )
    }
}

/// The `state` parameter of `__setstate__`: `(value,)` or
/// `(value, dict)`, as `__getstate__` makes it.
struct PickleState<S> {
    value: S,
    dict: Option<Object>,
}

impl<S: FromPy> FromPy for PickleState<S> {
    const MAY_WRITE: bool = S::MAY_WRITE;

    fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
        let (first, dict) = state_parts(obj)?;
        let value = S::from_py(first, convert)?;
        Some(PickleState { value, dict: dict.map(Borrowed::to_owned) })
    }
    fn type_name(out: &mut String) {
        out.push_str("tuple[");
        S::type_name(out);
        out.push_str("] | tuple[");
        S::type_name(out);
        out.push_str(", dict[str, object]]");
    }
    fn spans<'a>(&'a self, out: &mut Spans<'a>) {
        self.value.spans(out)
    }
    fn recheck(&mut self) -> bool {
        self.value.recheck()
    }
    fn commit(&mut self) {
        self.value.commit()
    }
}

/// The parts of a state tuple: its first item and, if there is one, the
/// `__dict__` (a `dict`) after it. `None` for anything else.
fn state_parts(obj: Borrowed<'_>) -> Option<(Borrowed<'_>, Option<Borrowed<'_>>)> {
    // SAFETY: `obj` is live; a tuple's items are live for as long as it
    // (tuples are immutable), which the borrows' lifetime ties them to.
    unsafe {
        let p = obj.as_ptr();
        if ffi::PyTuple_Check(p) == 0 {
            return None;
        }
        let item = |i| Borrowed::from_ptr(crate::core::abi::tuple_get_item(p, i));
        match crate::core::abi::tuple_size(p) {
            1 => Some((item(0), None)),
            2 if ffi::PyDict_Check(item(1).as_ptr()) != 0 => Some((item(0), Some(item(1)))),
            _ => None,
        }
    }
}

/// `(state,)`, or `(state, obj.__dict__)` if `obj` has a non-empty
/// `__dict__`.
fn state_tuple(obj: Borrowed<'_>, state: Object) -> PyResult<Object> {
    let dict = instance_dict(obj)?;
    // SAFETY: live objects; PyTuple_Pack takes new references to them.
    unsafe {
        Object::from_owned_or_err(match &dict {
            Some(d) => ffi::PyTuple_Pack(2, state.as_ptr(), d.as_ptr()),
            None => ffi::PyTuple_Pack(1, state.as_ptr()),
        })
    }
}

/// `obj.__dict__` if it has one with items in it.
fn instance_dict(obj: Borrowed<'_>) -> PyResult<Option<Object>> {
    let d = match obj.getattr(c"__dict__") {
        Ok(d) => d,
        // SAFETY: reading the address of a builtin exception type.
        Err(e) if e.is_instance_of(exc(unsafe { ffi::PyExc_AttributeError })) => return Ok(None),
        Err(e) => return Err(e),
    };
    // SAFETY: a live object.
    let nonempty =
        unsafe { ffi::PyDict_Check(d.as_ptr()) != 0 && ffi::PyDict_Size(d.as_ptr()) > 0 };
    Ok(nonempty.then_some(d))
}

/// A builtin exception type.
fn exc(p: *mut ffi::PyObject) -> Borrowed<'static> {
    // SAFETY: builtin exception types live as long as the interpreter.
    unsafe { Borrowed::from_ptr(p) }
}

/// `obj.__dict__.update(dict)`.
fn update_dict(obj: Borrowed<'_>, dict: Borrowed<'_>) -> PyResult<()> {
    let d = obj.getattr(c"__dict__")?;
    // SAFETY: live objects; `dict` is a dict (checked by `state_parts`),
    // and PyDict_Update checks that `d` is one.
    if unsafe { ffi::PyDict_Update(d.as_ptr(), dict.as_ptr()) } != 0 {
        return Err(PyErr::fetch());
    }
    Ok(())
}

/// `__reduce__`: `(copyreg.__newobj__, (type(self),), self.__getstate__())`,
/// for every protocol (CPython's own protocol 0 and 1 refuse classes with
/// their own `__new__`), `copy` and `deepcopy`.
fn reduce(slf: Borrowed<'_>) -> PyResult<Object> {
    let newobj = Object::import_held(c"copyreg")?.borrow().getattr(c"__newobj__")?;
    let state = slf.call_method(c"__getstate__", &[])?;
    let cls = slf.type_ptr() as *mut ffi::PyObject;
    // SAFETY: live objects (the type is kept alive by `slf`); PyTuple_Pack
    // takes new references.
    unsafe {
        let args = Object::from_owned_or_err(ffi::PyTuple_Pack(1, cls))?;
        Object::from_owned_or_err(ffi::PyTuple_Pack(
            3,
            newobj.as_ptr(),
            args.as_ptr(),
            state.as_ptr(),
        ))
    }
}
