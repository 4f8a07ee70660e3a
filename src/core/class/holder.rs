//! Holders: instances whose value is held by an `Arc<T>` (nanobind's
//! `std::shared_ptr<T>` holder) or a `Box<T>` (`std::unique_ptr<T>`)
//! instead of inline.
//!
//! An `Arc`-held instance points into the `Arc`'s allocation and owns one
//! strong count, released when the instance dies. Rust keeps the *value*
//! alive through its own clones, never the Python object, so there is no
//! reference cycle between the two: when the Python object dies, Rust's
//! `Arc`s keep working, and returning one of them to Python later makes a
//! new instance. While the instance lives, returning any clone of the same
//! `Arc` gives back that same Python object (an identity map from the
//! `Arc`'s pointer to the live instance, entry removed on death).
//!
//! - `Arc<T>` return values ([`IntoPy`]) and parameters ([`FromPy`]: a new
//!   strong count of the instance's `Arc`); `&T` parameters still work.
//! - A constructor may return `Arc<T>` (`c.init(|| Arc::new(Counter::new()), ())`)
//!   so that instances made from Python are `Arc`-held too.
//! - `&mut T` is refused for `Arc`-held instances (`RuntimeError`): other
//!   owners may read the value at any time, as with `Arc::get_mut`. Use
//!   interior mutability (atomics, `Mutex`) in such classes.
//! - `T: Sync` is required: the value is shared between Rust threads.
//! - `Box<T>` return values become instances that own the box
//!   (see [`crate::core::class::inst_take_ownership`]); a `Box<T>`
//!   parameter takes the value *out* of its instance (nanobind's
//!   `unique_ptr` from Python), which is left not ready: using it again
//!   raises `TypeError`.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::{Arc, OnceLock};
//! use ndbind::prelude::*;
//!
//! #[derive(Default)]
//! pub struct Counter { hits: AtomicU64 }
//! ndbind::class!(Counter);
//!
//! static SHARED: OnceLock<Arc<Counter>> = OnceLock::new();
//!
//! ndbind::module!(counters, |m| {
//!     m.class::<Counter>("Counter", ())?
//!         .init(|| Arc::new(Counter::default()), ())?
//!         .def("hit", |c: &Counter| c.hits.fetch_add(1, Ordering::Relaxed) + 1, ())?
//!         .def_static("shared", || SHARED.get_or_init(Default::default).clone(), ())?;
//!     m.def("counter_refs", |c: Arc<Counter>| Arc::strong_count(&c), arg("c"))?;
//!     Ok(())
//! });
//! ```

use std::sync::Arc;

use pyo3_ffi as ffi;

use crate::core::caster::{ArgCaster, FromPy, IntoPy, ReturnCtx};
use crate::core::class::addr_map::AddrMap;
use crate::core::class::borrow::{cell_of, InstFlags, UniqueGuard};
use crate::core::class::cast::{not_bound, push_type_name};
use crate::core::class::inst::{self, InstHeader};
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::gil_cell::GilLock;
use crate::core::object::{Borrowed, Object};
use crate::core::try_ref::{enable, try_new_ref};

/// Drops one strong count of an `Arc<T>` given its value pointer.
pub(crate) type ReleaseFn = unsafe fn(*mut u8);

/// Live `Arc`-held instances: value pointer → (instance, release function).
static ARCS: GilLock<AddrMap<usize, (usize, ReleaseFn)>> = GilLock::new();

/// # Safety
/// `p` came from `Arc::<T>::into_raw`; this strong count is released once.
unsafe fn release<T>(p: *mut u8) {
    // SAFETY: (caller) as stated.
    drop(unsafe { Arc::from_raw(p as *const T) })
}

/// The live instance holding the `Arc` whose value is at `value`.
///
/// An instance being deallocated is not live: a Python subclass's
/// `subtype_dealloc` clears its `__dict__` (running `__del__` of what it
/// held) before `inst_dealloc` can remove the entry, and code run there
/// must not get the dying object back. Its reference count is zero then.
pub(crate) fn arc_lookup(value: *const u8) -> Option<Object> {
    ARCS.with_made(|m| {
        let obj = m.get(&(value as usize))?.0 as *mut ffi::PyObject;
        // SAFETY: entries are removed (under this lock) before their
        // instance is freed, so `obj` is live or dying (never handed out);
        // entered after `enable`.
        unsafe { try_new_ref(obj) }
    })?
}

/// Makes `h` hold the strong count `value` (from `Arc::into_raw`): ready,
/// not inline, permanently borrowed shared, in the identity map.
///
/// [`Held::Lost`], the count released, when the instance is ready after
/// all, or borrowed (another thread's `__init__` won the race);
/// [`Held::Other`] when a live instance already held this `Arc` as `h` was
/// entered (free-threaded: another thread made it meanwhile): `h` holds the
/// count all the same (released when it dies) but is not in the map, and
/// the caller hands out the other, so that one `Arc` has one object.
///
/// # Safety
/// `h` is a live, not ready instance whose class stores the `Arc`'s `T`
/// (free-threaded: not ready when the caller checked, and only ever made
/// ready with its unique borrow or by this function); `release` releases
/// a count of that `Arc<T>`.
unsafe fn hold(h: *mut InstHeader, value: *mut u8, release: ReleaseFn) -> Held {
    // Other owners of the Arc may read the value at any time: the instance
    // holds a shared borrow of it for its whole life, so `&mut T` (and the
    // low-level functions that rewrite a value) are refused.
    // SAFETY: (caller) `h` is a live instance; its own cell lives in it.
    // (Written only when it differs: free-threaded, a racing `__init__`
    // reads it.)
    let cell = unsafe {
        let own = std::ptr::addr_of!((*h).own_borrow);
        if (*h).borrow != own {
            (*h).borrow = own;
        }
        cell_of(h)
    };
    // A not ready instance is borrowed only by a low-level operation or,
    // free-threaded, another thread's `__init__`, which then wins.
    let taken = cell.share_forever();
    // Free-threaded, another thread's `__init__` may also have made it
    // ready between the caller's check and the step above (which excludes
    // any later one: it took the cell from unborrowed).
    // SAFETY: (caller) a live instance.
    if !taken || unsafe { (*h).flags.is_ready() } {
        // SAFETY: the count `share_forever` took, if any; (caller)
        // `release` releases the Arc's count, once.
        unsafe {
            if taken {
                cell.unshare_forever();
            }
            release(value);
        }
        return Held::Lost;
    }
    // SAFETY: (caller) `h` is live and not ready; its class stores the
    // Arc's `T`, now at `value` and shared for ever.
    unsafe {
        (*h).value = value;
        (*h).flags.remove(InstFlags::INLINE);
        (*h).flags.insert(InstFlags::READY | InstFlags::ARC);
    }
    // SAFETY: `h` is a live instance, found through the map from now on.
    unsafe { enable(h as *mut ffi::PyObject) };
    ARCS.with(|m| {
        if let Some(&(o, _)) = m.get(&(value as usize)) {
            // SAFETY: entries are removed (under this lock) before their
            // instance is freed; entered after `enable`.
            if let Some(o) = unsafe { try_new_ref(o as *mut ffi::PyObject) } {
                return Held::Other(o);
            }
        }
        m.insert(value as usize, (h as usize, release));
        Held::Entered
    })
}

/// What [`hold`] did.
enum Held {
    /// `h` holds the count and is in the map.
    Entered,
    /// `h` was made ready by another thread meanwhile; the count released.
    Lost,
    /// This live object already holds the `Arc` (see [`hold`]).
    Other(Object),
}

/// Takes a dying `Arc`-held instance out of the identity map (the first
/// thing `inst_dealloc` does, before any Python code can run) and returns
/// the function that releases its strong count. The entry may already
/// name a newer instance of the same `Arc` (made while this one was dying):
/// that one stays, and this one's count is released all the same.
///
/// # Safety
/// `obj` is a dying `Arc`-held instance whose value is at `value`.
pub(crate) unsafe fn arc_forget(value: *mut u8, obj: *mut ffi::PyObject) -> Option<ReleaseFn> {
    ARCS.with_made(|m| {
        let &(o, rel) = m.get(&(value as usize))?;
        if o == obj as usize {
            m.remove(&(value as usize));
        }
        Some(rel)
    })?
}

/// Releases the strong count of a dying instance (see [`arc_forget`]).
///
/// # Safety
/// `rel` is what `arc_forget` returned for this instance's `value`; called
/// once.
pub(crate) unsafe fn arc_release(value: *mut u8, rel: Option<ReleaseFn>) {
    match rel {
        Some(rel) => {
            // The last strong count drops the value: a panicking Drop must
            // not unwind into CPython.
            // SAFETY: (caller) `rel` releases this instance's count, once.
            let release = || unsafe { rel(value) };
            // SAFETY: deallocation runs with the GIL held.
            unsafe { crate::core::error::guard_silent("the Drop of an Arc-held value", release) };
        }
        None => eprintln!(
            "ndbind: an Arc-held instance was missing from the identity map (its Arc is leaked)"
        ),
    }
}

/// Number of live `Arc`-held instances (for tests and diagnostics).
///
/// ```no_run
/// assert_eq!(ndbind::leaks::arc_instances(), 0);
/// ```
pub fn arc_instances() -> usize {
    crate::core::gil::assert_held("arc_instances");
    ARCS.with_made(|m| m.len()).unwrap_or(0)
}

/// Makes the constructor's `Arc` the value of the instance `__init__` is
/// constructing.
///
/// # Safety
/// `h` is the not ready instance of `T`'s class (or a Python subclass)
/// that `init_target` returned. (`T: Sync` is required where the
/// `Arc` enters, by `InitReturn`.)
/// `Ok(false)` (the count released) when the instance was initialised
/// meanwhile (free-threaded: by another thread).
pub(crate) unsafe fn init_arc<T: PyClass>(h: *mut InstHeader, value: Arc<T>) -> PyResult<bool> {
    if let Some(other) = arc_lookup(Arc::as_ptr(&value) as *const u8) {
        return Err(PyErr::type_error(format!(
            "{}.__init__(): this Arc is already held by another Python object",
            other.borrow().type_name()
        )));
    }
    // SAFETY: (caller) `h` is the not ready instance of T's storage; the
    // count comes from `into_raw` and `release::<T>` releases it.
    match unsafe { hold(h, Arc::into_raw(value) as *mut u8, release::<T>) } {
        Held::Entered => Ok(true),
        Held::Lost => Ok(false),
        // Free-threaded only: another thread's object took this Arc between
        // the check above and now.
        Held::Other(other) => Err(PyErr::type_error(format!(
            "{}.__init__(): this Arc is already held by another Python object",
            other.borrow().type_name()
        ))),
    }
}

/// The instance holding `value`: the live one if this `Arc` (any clone of
/// it) already has one, else a new instance of `T`'s class.
///
/// ```no_run
/// # use std::sync::atomic::AtomicU64;
/// use std::sync::Arc;
/// # #[derive(Default)]
/// # pub struct Counter { hits: AtomicU64 }
/// # ndbind::class!(Counter);
/// let obj = ndbind::class::arc_into_instance(Arc::new(Counter::default()))?;
/// # Ok::<(), ndbind::PyErr>(())
/// ```
pub fn arc_into_instance<T: PyClass + Sync>(value: Arc<T>) -> PyResult<Object> {
    crate::core::gil::assert_held("arc_into_instance");
    if let Some(o) = arc_lookup(Arc::as_ptr(&value) as *const u8) {
        return Ok(o);
    }
    let tp = T::type_slot().type_ptr();
    if tp.is_null() {
        return Err(not_bound::<T>());
    }
    // SAFETY: `tp` is T's live bound type; the fresh instance is not ready
    // and takes over the strong count of `value`.
    unsafe {
        let rec = record_of(tp).ok_or_else(not_bound::<T>)?;
        let obj = inst::alloc(tp, rec)?;
        let obj = Object::from_owned(obj).expect("non-NULL");
        // A fresh instance, which no other thread sees: never ready yet.
        // Free-threaded, another thread may have made this Arc's object
        // meanwhile: that one is handed out (and ours dies at once).
        match hold(obj.as_ptr() as *mut InstHeader, Arc::into_raw(value) as *mut u8, release::<T>) {
            Held::Entered => Ok(obj),
            Held::Other(other) => Ok(other),
            Held::Lost => Err(PyErr::runtime_error("ndbind: a new instance was initialised twice")),
        }
    }
}

/// The value pointer of an `Arc`-held instance of exactly `tp`'s class
/// (or a Python subclass; a Rust subclass stores another type). `None`
/// for other objects; an error for an instance of the class that is not
/// ready or not `Arc`-held.
fn arc_value(obj: Borrowed<'_>, tp: *mut ffi::PyTypeObject) -> Result<*mut u8, Option<PyErr>> {
    // SAFETY: `obj` is a live object; its record lives as long as its type.
    unsafe {
        let rec = record_of(obj.type_ptr()).ok_or(None)?;
        if tp.is_null() || rec.type_ptr != tp {
            return Err(None);
        }
        let h = obj.as_ptr() as *mut InstHeader;
        if !(*h).flags.is_ready() {
            return Err(Some(PyErr::type_error(format!(
                "ndbind: attempted to access an uninitialized instance of type '{}'",
                rec.name()
            ))));
        }
        if !(*h).flags.contains(InstFlags::ARC) {
            return Err(Some(PyErr::type_error(format!(
                "ndbind: this '{}' instance is not held by an Arc (it was made from a value, not an Arc): \
                 take ndbind::class::Inst<T> to share any instance",
                rec.name()
            ))));
        }
        Ok((*h).value)
    }
}

impl<T: PyClass + Sync> FromPy for Arc<T> {
    /// A new strong count of the instance's `Arc`. An instance of `T`'s
    /// class that is not `Arc`-held raises `TypeError`: its value lives
    /// inside the Python object, where no `Arc` can point. To co-own any
    /// instance, take [`crate::class::Inst<T>`] instead.
    fn from_py(obj: Borrowed<'_>, _convert: bool) -> Option<Arc<T>> {
        match arc_value(obj, T::type_slot().type_ptr()) {
            // SAFETY: the instance holds a strong count of an Arc<T> whose
            // value is at `p` (the class stores exactly T), so one more
            // count may be taken.
            Ok(p) => unsafe {
                Arc::increment_strong_count(p as *const T);
                Some(Arc::from_raw(p as *const T))
            },
            Err(None) => None,
            Err(Some(e)) => {
                e.restore();
                None
            }
        }
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

impl<T: PyClass + Sync> IntoPy for Arc<T> {
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        arc_into_instance(self)
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

impl<T: PyClass> IntoPy for Box<T> {
    /// The instance this box was moved out of, if it is still alive and
    /// empty (the value goes back into it: nanobind's `unique_ptr` round
    /// trip); else a new instance that owns the box. No copy of the value
    /// either way.
    #[inline]
    fn into_py(self, _: &ReturnCtx) -> PyResult<Object> {
        match restore(self) {
            Ok(obj) => Ok(obj),
            Err(b) => crate::core::class::inst_take_ownership(b),
        }
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

/// Instances whose value a `Box<T>` parameter took out, by the box's
/// address and class (and back), so that returning that box restores the
/// same Python object. Entries are removed when restored, when moved out
/// again, and when the instance dies (`moved_forget`, from `inst_dealloc`).
#[derive(Default)]
struct Moved {
    by_box: AddrMap<(usize, usize), usize>,
    by_obj: AddrMap<usize, (usize, usize)>,
}

static MOVED: GilLock<Moved> = GilLock::new();

/// Records that the value of `obj` (of class `tp`) now lives in the box
/// at `addr`.
fn moved_record(obj: *mut ffi::PyObject, addr: usize, tp: *mut ffi::PyTypeObject) {
    // SAFETY: a live instance, found through the map from now on.
    unsafe { enable(obj) };
    MOVED.with(|m| {
        if let Some(old) = m.by_obj.insert(obj as usize, (addr, tp as usize)) {
            m.by_box.remove(&old);
        }
        if let Some(other) = m.by_box.insert((addr, tp as usize), obj as usize) {
            // Not reached: two live boxes never share an address.
            m.by_obj.remove(&other);
        }
    });
}

/// Forgets a dying (or restored) instance.
pub(crate) fn moved_forget(obj: *mut ffi::PyObject) {
    MOVED.with_made(|m| {
        if let Some(key) = m.by_obj.remove(&(obj as usize)) {
            m.by_box.remove(&key);
        }
    });
}

/// Puts `b` back into the instance it was moved out of, if that one is
/// alive, still empty and not borrowed; the box is given back otherwise.
fn restore<T: PyClass>(b: Box<T>) -> Result<Object, Box<T>> {
    crate::core::gil::assert_held("converting a Box to Python");
    let tp = T::type_slot().type_ptr();
    let addr = &*b as *const T as usize;
    if std::mem::size_of::<T>() == 0 || tp.is_null() {
        return Err(b); // every box of a zero-sized type has the same address
    }
    let found = MOVED.with_made(|m| {
        let &o = m.by_box.get(&(addr, tp as usize))?;
        // SAFETY: entries name instances removed (under the lock) before
        // they are freed; a dying one is not handed out; entered after
        // `enable`.
        unsafe { try_new_ref(o as *mut ffi::PyObject) }
    });
    let Some(obj) = found.flatten() else { return Err(b) };
    moved_forget(obj.as_ptr());
    let h = obj.as_ptr() as *mut InstHeader;
    // SAFETY: `obj` is a live (held) instance of T's class or a Python
    // subclass of it. An empty (not ready) instance that owns its storage
    // takes the box as its value, as `inst_take_ownership` does for a
    // fresh one, holding its unique borrow meanwhile (so that no other
    // thread borrows it half-filled).
    unsafe {
        let Some(_filling) = UniqueGuard::try_new(std::ptr::null_mut(), cell_of(h)) else {
            return Err(b);
        };
        let f = (*h).flags.get();
        if f.is_ready() || !f.contains(InstFlags::INLINE) {
            return Err(b);
        }
        (*h).value = Box::into_raw(b) as *mut u8;
        (*h).flags.remove(InstFlags::INLINE);
        (*h).flags.insert(InstFlags::READY | InstFlags::DESTRUCT | InstFlags::OWNED_BOX);
        crate::core::class::trampoline::attach(T::type_slot(), h);
        Ok(obj)
    }
}

/// Caster of `Box<T>` parameters (generated by [`crate::class!`]): moves
/// the value out of an instance that owns it, once every argument of the
/// call has matched. The instance is uniquely borrowed from the match to
/// the move, so the same object cannot also be passed as `&T`. The
/// instance stays alive but empty: using it raises `TypeError` ("moved
/// out"), until the same box is returned to Python, which puts the value
/// back into it (nanobind's `unique_ptr` round trip).
///
/// Refused with `TypeError` (and the reason): an instance that does not
/// own its value (a reference, an `Arc`-held one, one whose value was
/// already moved out); with `RuntimeError`: one that is borrowed.
///
/// The box is recognised by its address, as nanobind recognises a
/// returned `unique_ptr`: a box the Rust side dropped, whose memory a new
/// `Box<T>` then reuses, refills the old, still-empty instance too (a valid
/// `T`; only the object's identity is surprising). An instance that was
/// re-initialised meanwhile, or that died, is never refilled: the box
/// becomes a new instance.
///
/// ```
/// # pub struct Pod { a: f64, b: f64 }
/// # ndbind::class!(Pod);
/// # use ndbind::prelude::*;
/// # ndbind::module!(doc_ext, |m| {
/// m.def("consume", |p: Box<Pod>| p.a + p.b, arg("p"))?; // p is empty afterwards
/// // The round trip: `keep(p)` empties `p`, `give_back()` refills that same object.
/// static KEPT: std::sync::Mutex<Option<Box<Pod>>> = std::sync::Mutex::new(None);
/// m.def("keep", |p: Box<Pod>| { *KEPT.lock().unwrap() = Some(p) }, arg("p"))?;
/// m.def("give_back", || KEPT.lock().unwrap().take(), ())?;
/// # Ok(())
/// # });
/// ```
pub struct ClassBox<T>(std::marker::PhantomData<T>);

/// The per-call state of a `Box<T>` parameter.
///
/// ```
/// # pub struct Pod { a: f64, b: f64 }
/// use ndbind::__core::class::BoxHolder; // plumbing: what `class!` names
///
/// let h = BoxHolder::<Pod>::default(); // the holder of a `Box<Pod>` parameter
/// ```
pub struct BoxHolder<T> {
    obj: *mut ffi::PyObject,
    /// The unique borrow of `obj`, from the match to the move (released
    /// then: an empty instance hands out no borrow anyway).
    guard: UniqueGuard,
    taken: Option<Box<T>>,
}

impl<T> Default for BoxHolder<T> {
    fn default() -> Self {
        BoxHolder { obj: std::ptr::null_mut(), guard: UniqueGuard::default(), taken: None }
    }
}

/// Checks that `obj` owns a ready value of exactly `tp`'s class that can
/// be moved out, and borrows it uniquely.
fn box_load(obj: Borrowed<'_>, tp: *mut ffi::PyTypeObject) -> Result<UniqueGuard, Option<PyErr>> {
    // SAFETY: `obj` is a live argument; the GIL is held.
    unsafe {
        let rec = record_of(obj.type_ptr()).ok_or(None)?;
        if tp.is_null() || rec.type_ptr != tp {
            return Err(None);
        }
        let h = obj.as_ptr() as *mut InstHeader;
        let f = (*h).flags.get();
        if !f.is_ready() {
            return Err(Some(crate::core::class::borrow::not_ready_error(f, rec.name())));
        }
        if !f.contains(InstFlags::DESTRUCT)
            || !f.owns_storage()
            || f.contains(InstFlags::ARC)
            || !(*h).parent.is_null()
        {
            return Err(Some(PyErr::type_error(format!(
                "ndbind: the '{}' instance does not own its value, which cannot be moved into a Box",
                rec.name()
            ))));
        }
        // The caller keeps `obj` (an argument) alive for the guard's life.
        let guard = UniqueGuard::try_new((*h).value, (*h).borrow).ok_or_else(|| {
            Some(PyErr::runtime_error(format!(
                "ndbind: cannot move the value out of the '{}' instance: it is borrowed",
                rec.name()
            )))
        })?;
        // Free-threaded, another thread may have moved the value out (or
        // destructed it) between the checks above and the borrow: check
        // again now that the borrow, which such a change needs, is held.
        #[cfg(Py_GIL_DISABLED)]
        {
            let f = (*h).flags.get();
            if !f.is_ready() || !f.contains(InstFlags::DESTRUCT) || !f.owns_storage() {
                drop(guard);
                return Err(Some(crate::core::class::borrow::not_ready_error(f, rec.name())));
            }
        }
        // (`box_take` reads where the value is itself, after this.)
        Ok(guard)
    }
}

/// Moves the value out of `obj` (checked and borrowed by `box_load`) and
/// leaves the instance not ready, with inline storage for a new value.
///
/// # Safety
/// `box_load` succeeded on `obj` for `T`'s class during this call.
unsafe fn box_take<T: PyClass>(obj: *mut ffi::PyObject) -> Box<T> {
    let h = obj as *mut InstHeader;
    // SAFETY: (caller) `box_load` checked `obj` is a ready instance of T's
    // class that owns its value (inline or boxed) and borrowed it uniquely;
    // the value is moved out once and the instance left not ready, with
    // its inline storage for a new value.
    unsafe {
        let rec = record_of(ffi::Py_TYPE(obj)).expect("checked by box_load");
        crate::core::class::trampoline::detach(rec.slot, h);
        let value = if (*h).flags.contains(InstFlags::OWNED_BOX) {
            Box::from_raw((*h).value as *mut T)
        } else {
            Box::new(std::ptr::read((*h).value as *const T))
        };
        (*h).value = inst::inline_value(obj, rec);
        (*h).flags.remove(InstFlags::READY | InstFlags::DESTRUCT | InstFlags::OWNED_BOX);
        (*h).flags.insert(InstFlags::INLINE | InstFlags::MOVED_OUT);
        value
    }
}

impl<T: PyClass> ArgCaster for ClassBox<T> {
    type Holder = BoxHolder<T>;
    type Out<'a> = Box<T>;
    const CONVERT_BY_DEFAULT: bool = false;

    fn load(holder: &mut BoxHolder<T>, obj: Borrowed<'_>, _convert: bool) -> bool {
        match box_load(obj, T::type_slot().type_ptr()) {
            Ok(guard) => {
                *holder = BoxHolder { obj: obj.as_ptr(), guard, taken: None };
                true
            }
            Err(None) => false,
            Err(Some(e)) => {
                e.restore();
                false
            }
        }
    }

    unsafe fn commit(holder: &mut BoxHolder<T>) {
        // SAFETY: `load` checked and uniquely borrowed this instance.
        let b = unsafe { box_take::<T>(holder.obj) };
        holder.guard = UniqueGuard::default();
        if std::mem::size_of::<T>() != 0 {
            moved_record(holder.obj, &*b as *const T as usize, T::type_slot().type_ptr());
        }
        holder.taken = Some(b);
    }

    unsafe fn get(holder: &mut BoxHolder<T>) -> Box<T> {
        holder.taken.take().expect("ndbind: a Box argument is committed before it is taken")
    }

    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}
