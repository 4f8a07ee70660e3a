//! Overridable traits (nanobind's trampolines): a Rust trait bound as a
//! Python class whose methods a Python subclass may override. When Rust
//! code calls the trait method on such an object, the Python override runs.
//!
//! The bound class is a struct that implements the trait by forwarding to
//! a Rust implementation (the default), and holds a [`Trampoline`]: the
//! back-pointer to the Python object it lives in, set by ndbind whenever
//! the value becomes ready inside an instance (registered with
//! [`Class::overridable`]). Each overridable method asks [`crate::py_override!`]
//! whether the object's Python class overrides it:
//!
//! - an instance of the bound class itself runs the Rust default without
//!   any lookup, as in nanobind (which constructs the plain type, not the
//!   trampoline, for it): a method assigned to the bound class from Python
//!   is seen by Python callers, never by Rust callers of the trait;
//! - for a Python subclass, `getattr(type(obj), name)` decides, cached per
//!   call site and type (validated by the type's version tag, so a method
//!   assigned later is seen); finding ndbind's own bound method means "not
//!   overridden";
//! - the override is called as `obj.name(*args)` and its result converted
//!   back ([`FromPy`]); Python exceptions come back as `Err`.
//!
//! The GIL is taken as needed: a trait method may be called from a thread
//! that does not hold it (a `def_nogil` binding, a Rust thread). Errors
//! raised there come back as a `RuntimeError` naming the original
//! exception (the original cannot leave the GIL).
//!
//! Bind the Python-visible method to the *Rust default*, not to the trait
//! method: `super().speak()` in an override then reaches the default
//! instead of recursing into the override. A method with no default
//! ("pure virtual") raises `RuntimeError` naming it when a Python subclass
//! does not override it: never recursion, never a crash.
//!
//! ```
//! use ndbind::class::Trampoline;
//! use ndbind::prelude::*;
//!
//! pub trait Animal: Send + Sync {
//!     fn speak(&self) -> PyResult<String> {
//!         Ok("...".into())
//!     }
//! }
//!
//! /// The Rust default.
//! pub struct Basic;
//! impl Animal for Basic {}
//!
//! /// The bound class: forwards to Python overrides, else to `inner`.
//! pub struct PyAnimal { inner: Box<dyn Animal>, py: Trampoline }
//! impl Animal for PyAnimal {
//!     fn speak(&self) -> PyResult<String> {
//!         ndbind::py_override!(self.py, "speak", (), self.inner.speak())
//!     }
//! }
//! ndbind::class!(PyAnimal);
//! ndbind::dyn_param!(PyAnimal: Animal); // `&dyn Animal` parameters
//!
//! ndbind::module!(zoo, |m| {
//!     let c = m.class::<PyAnimal>("Animal", ())?;
//!     c.overridable(ndbind::field_of!(PyAnimal, py))?
//!         .init(|| PyAnimal { inner: Box::new(Basic), py: Trampoline::new() }, ())?
//!         .def("speak", |a: &PyAnimal| a.inner.speak(), ())?; // the default
//!     m.def("call_speak", |a: &dyn Animal| a.speak(), arg("a"))?;
//!     Ok(())
//! });
//! ```

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3_ffi as ffi;

use crate::core::caster::{type_name_of, FromPy, ReturnCtx};
use crate::core::class::builder::Class;
use crate::core::class::inst::InstHeader;
use crate::core::class::record::{record_of, TypeSlot};
use crate::core::class::{FieldProj, PyClass};
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::{GilCell, GilLock};
use crate::core::object::{Borrowed, Object};

/// The back-pointer from a Rust value to the Python object it lives in.
/// Detached (null) until ndbind places the value in an instance; a clone
/// is detached (it is another value).
///
/// ```
/// use ndbind::class::Trampoline;
///
/// pub struct PyShape { py: Trampoline }
/// let s = PyShape { py: Trampoline::new() };
/// ```
pub struct Trampoline {
    obj: AtomicPtr<ffi::PyObject>,
}

impl Trampoline {
    /// A detached trampoline.
    ///
    /// ```
    /// # use ndbind::class::Trampoline;
    /// let t = Trampoline::new();
    /// ```
    pub const fn new() -> Trampoline {
        Trampoline { obj: AtomicPtr::new(std::ptr::null_mut()) }
    }
}

impl Default for Trampoline {
    fn default() -> Self {
        Trampoline::new()
    }
}

impl Clone for Trampoline {
    /// A detached trampoline: the clone is a new value, attached when it
    /// is placed in its own instance.
    fn clone(&self) -> Self {
        Trampoline::new()
    }
}

impl std::fmt::Debug for Trampoline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trampoline({:p})", self.obj.load(Ordering::Relaxed))
    }
}

/// Points the trampoline of the ready value of `h` (if its class has one)
/// at `h`.
///
/// # Safety
/// `h` is a live instance whose value is ready; `slot` is its record's.
#[inline]
pub(crate) unsafe fn attach(slot: &TypeSlot, h: *mut InstHeader) {
    if let Some(off) = slot.trampoline_offset() {
        // SAFETY: (caller) the ready value of `h` holds its `Trampoline`
        // at the slot's offset.
        let t = unsafe { &*((*h).value.add(off) as *const Trampoline) };
        t.obj.store(h as *mut ffi::PyObject, Ordering::Release);
        // SAFETY: (caller) a live instance, found through the set below.
        unsafe { crate::core::try_ref::enable(h as *mut ffi::PyObject) };
        ATTACHED.with(|a| a.insert(h as usize));
    }
}

/// Detaches the trampoline of a dying instance's value (a value that
/// outlives it, such as an `Arc`'s, then uses its Rust defaults).
///
/// # Safety
/// `h` is a live instance; `slot` is its record's.
#[inline]
pub(crate) unsafe fn detach(slot: &TypeSlot, h: *mut InstHeader) {
    if let Some(off) = slot.trampoline_offset() {
        // SAFETY: (caller) a live instance; a ready value holds its
        // `Trampoline` at the slot's offset.
        if unsafe { (*h).flags.is_ready() } {
            // SAFETY: as above.
            let t = unsafe { &*((*h).value.add(off) as *const Trampoline) };
            let _ = t.obj.compare_exchange(
                h as *mut ffi::PyObject,
                std::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
        ATTACHED.with_made(|a| a.remove(&(h as usize)));
    }
}

/// Instances a trampoline was attached to and that are alive. A value can
/// leave its instance without being detached (`mem::replace` through a
/// `&mut`), keeping a back-pointer to an object that may die: a pointer is
/// only followed when its instance is in this set and still holds *this*
/// trampoline.
static ATTACHED: GilLock<crate::core::class::addr_map::AddrSet<usize>> = GilLock::new();

/// The live instance `t` is attached to, if any (the GIL is held). One
/// being deallocated (reference count 0: a Python subclass's `__dict__` is
/// cleared before ndbind's dealloc detaches it) is never handed out.
///
/// # Safety
/// The GIL is held.
unsafe fn attached_instance(t: &Trampoline) -> Option<Object> {
    let obj = t.obj.load(Ordering::Acquire);
    if obj.is_null() {
        return None;
    }
    // A new reference taken while the set still holds it (dealloc removes
    // it under the same lock before freeing): not freed yet, and refused
    // once dying.
    let obj = ATTACHED
        .with_made(|a| {
            // SAFETY: in the set: not freed yet; entered after `enable`.
            a.contains(&(obj as usize)).then(|| unsafe { crate::core::try_ref::try_new_ref(obj) })
        })
        .flatten()??;
    // SAFETY: `obj` is a live instance (held); its value, when ready, holds
    // its trampoline at the record's offset.
    unsafe {
        let h = obj.as_ptr() as *mut InstHeader;
        let off = record_of(ffi::Py_TYPE(obj.as_ptr()))?.slot.trampoline_offset()?;
        let own = (*h).value.add(off) as *const Trampoline;
        ((*h).flags.is_ready() && std::ptr::eq(own, t)).then_some(obj)
    }
}

impl<T: PyClass> Class<T> {
    /// Declares the [`Trampoline`] field of `T` (named with
    /// [`crate::field_of!`]): ndbind attaches it to every instance the
    /// value is constructed in, so that [`crate::py_override!`] finds
    /// Python overrides. Call it before any instance exists; a Rust
    /// subclass bound later inherits it.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # use ndbind::class::Trampoline;
    /// # pub struct PyAnimal { py: Trampoline }
    /// # ndbind::class!(PyAnimal);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<PyAnimal>("Animal", ())?;
    /// c.overridable(ndbind::field_of!(PyAnimal, py))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn overridable(&self, field: FieldProj<T, Trampoline>) -> PyResult<&Self> {
        T::type_slot().set_trampoline_offset(field.offset());
        Ok(self)
    }
}

/// Holds the GIL for the override machinery: taken only when the calling
/// thread does not hold it already.
struct Gil(Option<ffi::PyGILState_STATE>);

impl Gil {
    /// `None` when there is no interpreter to call into.
    fn acquire() -> Option<Gil> {
        // SAFETY: both functions may be called without the GIL.
        unsafe {
            if crate::core::gil::held() {
                return Some(Gil(None));
            }
            if ffi::Py_IsInitialized() == 0 {
                return None;
            }
            Some(Gil(Some(ffi::PyGILState_Ensure())))
        }
    }
}

impl Drop for Gil {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            // SAFETY: releases the state this guard's PyGILState_Ensure took.
            unsafe { ffi::PyGILState_Release(s) }
        }
    }
}

/// One cached lookup: whether `tp` (at version `tag`) overrides the method.
#[derive(Clone, Copy)]
struct Entry {
    tp: usize,
    tag: u32,
    over: bool,
}

const WAYS: usize = 4;

/// An overridable method's call site: its name and the per-type cache of
/// the override lookup. Made by [`crate::py_override!`].
///
/// ```
/// use ndbind::__core::class::OverrideSite; // plumbing: `py_override!` writes it
///
/// static SITE: OverrideSite = OverrideSite::new(c"speak");
/// ```
pub struct OverrideSite {
    name: &'static CStr,
    name_obj: GilCell<Object>,
    cache: UnsafeCell<([Entry; WAYS], usize)>,
}

// SAFETY: the cache and the interned name are only touched with the GIL
// held (`find` takes it first), which serialises every access. The
// free-threaded build never touches the cache (`overridden`), and the name
// is a `GilCell`, safe there.
unsafe impl Sync for OverrideSite {}

/// A Python override about to be called (holds the GIL).
pub struct Override {
    site: &'static OverrideSite,
    obj: Object,
    // Dropped after `obj` (field order): the reference is released with
    // the GIL held.
    gil: Gil,
}

impl OverrideSite {
    /// The call site of method `name`.
    ///
    /// ```
    /// # use ndbind::__core::class::OverrideSite;
    /// static SITE: OverrideSite = OverrideSite::new(c"speak");
    /// ```
    pub const fn new(name: &'static CStr) -> OverrideSite {
        const EMPTY: Entry = Entry { tp: 0, tag: 0, over: false };
        OverrideSite { name, name_obj: GilCell::new(), cache: UnsafeCell::new(([EMPTY; WAYS], 0)) }
    }

    fn name(&self) -> &str {
        self.name.to_str().unwrap_or("?")
    }

    /// The Python override of this method for the object `t` is attached
    /// to, or `None` (run the Rust default). With `pure`, "no override" is
    /// the `RuntimeError` of a pure virtual method instead.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # use ndbind::class::Trampoline;
    /// use ndbind::__core::class::OverrideSite; // plumbing: what `py_override!` expands to
    /// # pub trait Animal: Send + Sync { fn speak(&self) -> PyResult<String>; }
    /// # pub struct PyAnimal { inner: Box<dyn Animal>, py: Trampoline }
    /// # impl Animal for PyAnimal {
    /// #     fn speak(&self) -> PyResult<String> {
    /// static SITE: OverrideSite = OverrideSite::new(c"speak");
    /// match SITE.find(&self.py, false)? {
    ///     Some(o) => o.call(|_| Ok([])),
    ///     None => self.inner.speak(),
    /// }
    /// #     }
    /// # }
    /// ```
    pub fn find(&'static self, t: &Trampoline, pure: bool) -> PyResult<Option<Override>> {
        if t.obj.load(Ordering::Acquire).is_null() {
            return self.none(None, pure);
        }
        let Some(gil) = Gil::acquire() else { return self.none(None, pure) };
        // Read again with the GIL: an Arc-held value's instance may have
        // died (and detached it) while this thread waited; the value may
        // have left its instance.
        // SAFETY: the GIL is held.
        // Held from here on: the lookup below and the call may run Python
        // code that drops every other reference to it.
        let Some(obj) = (unsafe { attached_instance(t) }) else { return self.none(None, pure) };
        // SAFETY: the GIL is held and `obj` is alive.
        unsafe {
            let tp = ffi::Py_TYPE(obj.as_ptr());
            let exact = record_of(tp).map_or(true, |r| r.type_ptr == tp);
            if !exact && self.overridden(tp)? {
                return Ok(Some(Override { site: self, obj, gil }));
            }
            self.none(Some(obj.as_ptr()), pure)
        }
    }

    /// No override: `Ok(None)`, or the pure virtual error.
    fn none(&self, obj: Option<*mut ffi::PyObject>, pure: bool) -> PyResult<Option<Override>> {
        if !pure {
            return Ok(None);
        }
        Err(match obj {
            // SAFETY: the caller holds the GIL and `o` is live.
            Some(o) => unsafe {
                let tp = ffi::Py_TYPE(o);
                let rec = record_of(tp);
                let bound = rec.map_or("?", |r| r.name());
                if rec.is_some_and(|r| r.type_ptr == tp) {
                    PyErr::runtime_error(format!(
                        "ndbind: {bound}.{}() is pure virtual (it has no Rust default): only instances of Python subclasses that override it can be used",
                        self.name()
                    ))
                } else {
                    let own = Borrowed::from_ptr(o).type_name();
                    PyErr::runtime_error(format!(
                        "ndbind: {bound}.{}() is pure virtual (it has no Rust default) and the Python class '{own}' does not override it",
                        self.name()
                    ))
                }
            },
            None => PyErr::runtime_error(format!(
                "ndbind: {}() is pure virtual (it has no Rust default) and the value is not attached to a Python object that could override it",
                self.name()
            )),
        })
    }

    /// Whether the Python class `tp` overrides the method (cached).
    ///
    /// # Safety
    /// The GIL is held; `tp` is a live type.
    unsafe fn overridden(&self, tp: *mut ffi::PyTypeObject) -> PyResult<bool> {
        // The abi3 build cannot read version tags: no cache there. Nor in the
        // free-threaded build, where the per-site cache would need a lock on
        // every call (and a tag can be reassigned while it is read).
        #[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED)))]
        // SAFETY: (caller) `tp` is a live type (read under the GIL).
        let tag = |tp: *mut ffi::PyTypeObject| unsafe {
            ((*tp).tp_flags & ffi::Py_TPFLAGS_VALID_VERSION_TAG != 0).then(|| (*tp).tp_version_tag)
        };
        #[cfg(any(Py_LIMITED_API, Py_GIL_DISABLED))]
        let tag = |_: *mut ffi::PyTypeObject| None::<std::ffi::c_uint>;
        if let Some(tag) = tag(tp) {
            // SAFETY: the cache is only touched with the GIL held, and no
            // reference to it lives across Python code (which may reach
            // this site again).
            let cache = unsafe { &*self.cache.get() };
            if let Some(e) = cache.0.iter().find(|e| e.tp == tp as usize && e.tag == tag) {
                return Ok(e.over);
            }
        }
        let name = self.name_obj.get_or_try_init(|| Object::intern_held(self.name))?;
        // SAFETY: (caller) a live type and the GIL; `attr` is a new
        // reference or NULL with an exception set.
        let over = unsafe {
            let attr = ffi::PyObject_GetAttr(tp as *mut ffi::PyObject, name.as_ptr());
            match Object::from_owned(attr) {
                Some(a) => crate::core::func::func_type::as_func(a.borrow()).is_none(),
                None if ffi::PyErr_ExceptionMatches(ffi::PyExc_AttributeError) != 0 => {
                    ffi::PyErr_Clear();
                    false
                }
                None => return Err(PyErr::fetch()),
            }
        };
        // The lookup gave the type a version tag (if it can have one): a
        // later change to the class invalidates this entry.
        if let Some(tag) = tag(tp) {
            // SAFETY: as above (no Python code runs while it is borrowed).
            let (entries, next) = unsafe { &mut *self.cache.get() };
            entries[*next] = Entry { tp: tp as usize, tag, over };
            *next = (*next + 1) % WAYS;
        }
        Ok(over)
    }

    /// Calls `obj.name(*args)` (the GIL is held).
    ///
    /// # Safety
    /// `obj` is a live object; the GIL is held.
    unsafe fn invoke(
        &self,
        obj: *mut ffi::PyObject,
        args: &[*mut ffi::PyObject],
    ) -> PyResult<Object> {
        let name = self.name_obj.get_or_try_init(|| Object::intern_held(self.name))?;
        let mut stack = [std::ptr::null_mut::<ffi::PyObject>(); 8];
        let mut heap = Vec::new();
        let buf: &mut [*mut ffi::PyObject] = if args.len() < stack.len() {
            &mut stack[..args.len() + 1]
        } else {
            heap.resize(args.len() + 1, std::ptr::null_mut());
            &mut heap
        };
        buf[0] = obj;
        buf[1..].copy_from_slice(args);
        // SAFETY: (caller) `obj` is live and the GIL is held; the call gets
        // `obj` and the arguments, held by the caller (and `obj` here: Python
        // code may drop its last other reference); the result is a new
        // reference or NULL with an exception set.
        unsafe {
            let _keep = Object::from_borrowed(obj);
            // An override that calls back into Rust that calls the
            // override... ends in RecursionError, not in a stack overflow.
            if ffi::Py_EnterRecursiveCall(c" while calling a Python override".as_ptr()) != 0 {
                return Err(PyErr::fetch());
            }
            let r = ffi::PyObject_VectorcallMethod(
                name.as_ptr(),
                buf.as_ptr(),
                buf.len(),
                std::ptr::null_mut(),
            );
            ffi::Py_LeaveRecursiveCall();
            Object::from_owned_or_err(r)
        }
    }

    #[cold]
    fn bad_return(&self, obj: *mut ffi::PyObject, got: Borrowed<'_>, expected: String) -> PyErr {
        // SAFETY: the GIL is held and `obj` is live.
        let own = unsafe { Borrowed::from_ptr(obj) }.type_name();
        PyErr::type_error(format!(
            "{own}.{}(): the Python override returned {}, expected {expected}",
            self.name(),
            got.type_name()
        ))
    }
}

impl Override {
    /// Converts the arguments, calls the override and converts its result.
    ///
    /// ```no_run
    /// # use ndbind::prelude::*;
    /// # use ndbind::__core::class::Override;
    /// # fn f(o: Override, food: &str) {
    /// let s: PyResult<String> = o.call(|ctx| Ok([food.into_py(ctx)?]));
    /// # }
    /// ```
    pub fn call<R: FromPy, const N: usize>(
        self,
        args: impl FnOnce(&ReturnCtx) -> PyResult<[Object; N]>,
    ) -> PyResult<R> {
        let r = (|| {
            let args = args(&ReturnCtx::held())?;
            let ptrs = args.each_ref().map(Object::as_ptr);
            // SAFETY: the GIL is held (self.gil) and `obj` is live (held).
            let res = unsafe { self.site.invoke(self.obj.as_ptr(), &ptrs)? };
            R::from_py(res.borrow(), true).ok_or_else(|| {
                self.site.bad_return(self.obj.as_ptr(), res.borrow(), type_name_of(R::type_name))
            })
        })();
        match r {
            Err(e) if self.gil.0.is_some() => Err(detached_error(e)),
            r => r,
        }
    }
}

/// An error that may leave the GIL: a `RuntimeError` naming the original
/// exception (which is released here, with the GIL held).
#[cold]
fn detached_error(e: PyErr) -> PyErr {
    e.restore();
    // SAFETY: an exception is set (just restored); the GIL is held.
    let ty = unsafe { Borrowed::from_ptr(ffi::PyErr_Occurred()) };
    // SAFETY: a live type; the GIL is held.
    let name = unsafe {
        crate::core::abi::with_type_name(ty.as_ptr() as *mut ffi::PyTypeObject, |n| {
            String::from_utf8_lossy(n).into_owned()
        })
    };
    let msg = PyErr::fetch().message();
    PyErr::runtime_error(format!(
        "{name}: {msg} (raised by a Python override called without the GIL)"
    ))
}

/// The error of calling a pure virtual method's Python-visible binding
/// (`Shape.area(self)` with no Rust default): `RuntimeError` naming it.
///
/// ```
/// # use ndbind::prelude::*;
/// # use ndbind::class::Trampoline;
/// # pub struct PyShape { py: Trampoline }
/// # ndbind::class!(PyShape);
/// use ndbind::class::pure_virtual;
/// # ndbind::module!(doc_ext, |m| {
/// # let c = m.class::<PyShape>("Shape", ())?;
/// c.def("area", |_: &PyShape| -> PyResult<f64> { Err(pure_virtual("Shape.area")) }, ())?;
/// # Ok(())
/// # });
/// ```
pub fn pure_virtual(qualname: &str) -> PyErr {
    PyErr::runtime_error(format!("ndbind: {qualname}() is pure virtual: it has no Rust default, a Python subclass must override it"))
}

/// Calls a trait method's Python override if the object's Python class has
/// one, else the Rust default: `py_override!(self.py, "name", (args...),
/// default)`; without a default, the method is pure virtual
/// (`RuntimeError` when not overridden). Evaluates to `PyResult<R>`, `R`
/// converted from the override's result; the arguments are converted with
/// [`crate::IntoPy`] only when an override is called.
///
/// ```
/// # use ndbind::prelude::*;
/// # use ndbind::class::Trampoline;
/// # pub trait Animal {
/// #     fn speak(&self) -> PyResult<String>;
/// #     fn area(&self) -> PyResult<f64>;
/// #     fn feed(&self, food: &str) -> PyResult<bool>;
/// # }
/// # pub struct PyAnimal { inner: Box<dyn Animal>, py: Trampoline }
/// # impl Animal for PyAnimal {
/// fn speak(&self) -> PyResult<String> {
///     ndbind::py_override!(self.py, "speak", (), self.inner.speak())
/// }
/// fn area(&self) -> PyResult<f64> {
///     ndbind::py_override!(self.py, "area", ()) // pure virtual
/// }
/// fn feed(&self, food: &str) -> PyResult<bool> {
///     ndbind::py_override!(self.py, "feed", (food), Ok(true))
/// }
/// # }
/// ```
#[macro_export]
macro_rules! py_override {
    ($tramp:expr, $name:literal, ($($arg:expr),* $(,)?), $default:expr) => {{
        static SITE: $crate::__core::class::OverrideSite = $crate::__core::class::OverrideSite::new($crate::__override_name!($name));
        match SITE.find(&$tramp, false) {
            ::core::result::Result::Ok(::core::option::Option::Some(o)) => {
                o.call(|_ctx| ::core::result::Result::Ok([$($crate::IntoPy::into_py($arg, _ctx)?),*]))
            }
            ::core::result::Result::Ok(::core::option::Option::None) => $default,
            ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
        }
    }};
    ($tramp:expr, $name:literal, ($($arg:expr),* $(,)?)) => {{
        static SITE: $crate::__core::class::OverrideSite = $crate::__core::class::OverrideSite::new($crate::__override_name!($name));
        match SITE.find(&$tramp, true) {
            ::core::result::Result::Ok(::core::option::Option::Some(o)) => {
                o.call(|_ctx| ::core::result::Result::Ok([$($crate::IntoPy::into_py($arg, _ctx)?),*]))
            }
            ::core::result::Result::Ok(::core::option::Option::None) => {
                ::core::unreachable!("a pure virtual lookup yields an override or an error")
            }
            ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __override_name {
    ($name:literal) => {
        match ::core::ffi::CStr::from_bytes_with_nul(::core::concat!($name, "\0").as_bytes()) {
            ::core::result::Result::Ok(s) => s,
            ::core::result::Result::Err(_) => {
                ::core::panic!("py_override!: the method name contains a NUL byte")
            }
        }
    };
}

/// Makes `&dyn Trait` a parameter type for a bound class that implements
/// the trait: `dyn_param!(PyAnimal: Animal)` lets a binding take
/// `a: &dyn Animal` (an instance of `PyAnimal`'s class, borrowed shared).
///
/// ```
/// # use ndbind::prelude::*;
/// # use ndbind::class::Trampoline;
/// # pub trait Animal: Send + Sync { fn speak(&self) -> PyResult<String>; }
/// # pub struct PyAnimal { inner: Box<dyn Animal>, py: Trampoline }
/// # impl Animal for PyAnimal {
/// #     fn speak(&self) -> PyResult<String> { self.inner.speak() }
/// # }
/// # ndbind::class!(PyAnimal);
/// ndbind::dyn_param!(PyAnimal: Animal);
/// # ndbind::module!(doc_ext, |m| {
/// m.def("call_speak", |a: &dyn Animal| a.speak(), arg("a"))?;
/// # Ok(())
/// # });
/// ```
#[macro_export]
macro_rules! dyn_param {
    ($t:ty : $tr:path) => {
        const _: () = {
            pub struct DynCaster;
            impl $crate::__core::caster::ArgCaster for DynCaster {
                type Holder = <$crate::__core::class::ClassRef<$t> as $crate::__core::caster::ArgCaster>::Holder;
                type Out<'a> = &'a (dyn $tr + 'a);
                #[inline]
                fn load(h: &mut Self::Holder, obj: $crate::Borrowed<'_>, convert: bool) -> bool {
                    <$crate::__core::class::ClassRef<$t> as $crate::__core::caster::ArgCaster>::load(h, obj, convert)
                }
                #[inline]
                unsafe fn get<'a>(h: &'a mut Self::Holder) -> &'a (dyn $tr + 'a) {
                    // SAFETY: the caller's contract, forwarded.
                    unsafe { <$crate::__core::class::ClassRef<$t> as $crate::__core::caster::ArgCaster>::get(h) }
                }
                fn type_name(out: &mut ::std::string::String) {
                    $crate::__core::class::push_type_name::<$t>(out)
                }
            }
            impl<'a> $crate::__core::caster::Param for &'a (dyn $tr + 'a) {
                type Caster = DynCaster;
            }
        };
    };
}
