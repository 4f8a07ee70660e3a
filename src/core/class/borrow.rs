//! The borrow state of bound instances: the one place that decides when
//! Rust may hold a `&T` or a `&mut T` to an instance's value.
//!
//! Each instance header ([`InstHeader`]) points at a [`BorrowCell`]: its
//! own, or, for a reference into another instance's value (`def_ref`,
//! `inst_reference`), the root owner's, so that one cell guards a value
//! and every value inside it. The header also carries the instance's
//! [`InstFlags`] (ready, destruct, where the value lives).
//!
//! # Invariants (checkable by reading this file)
//!
//! 1. A cell is *unborrowed*, *shared by n* (n ≥ 1) or *unique*; only the
//!    methods of [`BorrowCell`] below read or write its count.
//! 2. A [`SharedGuard`] exists only after its cell went from unborrowed or
//!    shared-by-n to shared-by-n+1, a [`UniqueGuard`] only after its cell
//!    went from unborrowed to unique. Dropping a guard undoes exactly that
//!    step; a guard that is never dropped (leaked) keeps its borrow for ever
//!    (`Arc`-held values: [`BorrowCell::share_forever`]).
//! 3. Hence while a `UniqueGuard` lives, no other guard of that cell does:
//!    the `&mut T` that ndbind hands out through it never aliases another
//!    `&T`/`&mut T` that ndbind hands out. Every Rust reference to an
//!    instance's value (parameters, [`crate::core::class::Inst`] handles,
//!    fields and properties, the low-level `inst_*` functions, arrays
//!    exported from an instance, the garbage collector's
//!    `Traverse::clear`) is made from a pointer a guard holds, for no
//!    longer than the guard lives.
//! 4. A guard is taken only on a *ready* value (except by the low-level
//!    functions that construct or destruct values, which take a
//!    `UniqueGuard` to do so), and for a reference instance only while
//!    every parent's value is ready and still where the reference points
//!    ([`parents_valid`]).
//! 5. The cell a guard points at outlives the guard: the guard's owner
//!    keeps the instance (and so the root owner, which the instance keeps
//!    alive) alive for the guard's life.
//!
//! The memory layout stays what the fast paths need: the cell is an `i32`
//! (0 unborrowed, n > 0 shared, -1 unique) and the flags a `u32`, both in
//! the instance header.

#[cfg(Py_GIL_DISABLED)]
use std::sync::atomic::Ordering;

use pyo3_ffi as ffi;

use crate::core::class::flags::Word;
pub(crate) use crate::core::class::flags::{FlagsCell, InstFlags};
use crate::core::class::inst::InstHeader;
use crate::core::class::record::record_of;
use crate::core::error::{PyErr, PyResult};

/// The count of an instance's borrows: unborrowed, shared by n, or unique.
/// Lives in the instance header (`own_borrow`), which points at it (or at
/// its root owner's) through `borrow`. With the GIL, plain loads and
/// stores; free-threaded, every step is one atomic compare-and-swap
/// (acquire when taking, release when giving back), so two threads never
/// both take a borrow that excludes the other's.
#[repr(transparent)]
pub(crate) struct BorrowCell(Word<i32>);

/// Count of a uniquely borrowed cell.
const UNIQUE: i32 = -1;

impl BorrowCell {
    /// An unborrowed cell.
    pub(crate) const fn new() -> BorrowCell {
        BorrowCell(Word::<i32>::new(0))
    }

    /// No borrow is live.
    #[inline]
    pub(crate) fn is_unborrowed(&self) -> bool {
        self.count() == 0
    }

    #[inline(always)]
    fn count(&self) -> i32 {
        #[cfg(not(Py_GIL_DISABLED))]
        return self.0.get();
        #[cfg(Py_GIL_DISABLED)]
        return self.0.load(Ordering::Acquire);
    }

    /// A unique borrow (a `&mut`) is live.
    #[inline]
    pub(crate) fn is_unique(&self) -> bool {
        self.count() == UNIQUE
    }

    /// One shared count more, unless uniquely borrowed (or the count is at
    /// its maximum).
    #[inline(always)]
    fn try_share(&self) -> bool {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let n = self.0.get();
            let ok = (0..i32::MAX).contains(&n);
            if ok {
                self.0.set(n + 1);
            }
            ok
        }
        #[cfg(Py_GIL_DISABLED)]
        self.0
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                (0..i32::MAX).contains(&n).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back one shared count.
    #[inline(always)]
    fn unshare(&self) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.0.set(self.0.get() - 1);
        #[cfg(Py_GIL_DISABLED)]
        self.0.fetch_sub(1, Ordering::Release);
    }

    /// Unborrowed to unique.
    #[inline(always)]
    fn try_unique(&self) -> bool {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let ok = self.0.get() == 0;
            if ok {
                self.0.set(UNIQUE);
            }
            ok
        }
        #[cfg(Py_GIL_DISABLED)]
        self.0.compare_exchange(0, UNIQUE, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Unique to unborrowed.
    #[inline(always)]
    fn release_unique(&self) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.0.set(0);
        #[cfg(Py_GIL_DISABLED)]
        self.0.store(0, Ordering::Release);
    }

    /// Takes one shared count that is never released: an `Arc`-held value
    /// may be read by the `Arc`'s other owners at any time, so Rust never
    /// gets a `&mut` to it through the instance. `false` (nothing taken)
    /// unless unborrowed: the value is being given to a not ready
    /// instance, which no other borrow (free-threaded: no other thread's
    /// `__init__`) may be using.
    pub(crate) fn share_forever(&self) -> bool {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let ok = self.0.get() == 0;
            if ok {
                self.0.set(1);
            }
            ok
        }
        #[cfg(Py_GIL_DISABLED)]
        self.0.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Gives back the count [`BorrowCell::share_forever`] took, before the
    /// value it was for was given (the instance was initialised meanwhile).
    ///
    /// # Safety
    /// This thread's `share_forever` took a count of this cell, not given
    /// back yet.
    pub(crate) unsafe fn unshare_forever(&self) {
        self.unshare()
    }
}

/// The cell guarding the value of `h`.
///
/// # Safety
/// `h` is a live instance of a bound class; the returned reference is
/// used only while it lives (which keeps its root owner, whose cell it may
/// share, alive).
#[inline(always)]
pub(crate) unsafe fn cell_of<'a>(h: *mut InstHeader) -> &'a BorrowCell {
    // SAFETY: (caller) `h` is live; `borrow` points at its own cell or at
    // its root owner's, which it keeps alive.
    unsafe { &*(*h).borrow }
}

/// A shared borrow of an instance's value (one count of its cell),
/// released on drop. The holder of a `&Point` parameter; `Default` holds
/// no borrow.
///
/// ```
/// use ndbind::__core::class::SharedGuard; // plumbing: the holder `class!` names
///
/// let g = SharedGuard::default(); // holds no borrow yet
/// ```
pub struct SharedGuard {
    ptr: *mut u8,
    cell: *const BorrowCell,
}

impl SharedGuard {
    /// A shared borrow of the value at `ptr`, guarded by `cell`; `None`
    /// while it is uniquely borrowed.
    ///
    /// # Safety
    /// `cell` guards the value at `ptr` (ready), and lives as long as the
    /// guard (see invariant 5).
    #[inline(always)]
    pub(crate) unsafe fn try_new(ptr: *mut u8, cell: *const BorrowCell) -> Option<SharedGuard> {
        // SAFETY: (caller) `cell` is live. (`then`, not `then_some`: a
        // guard made on failure would release a count it never took.)
        unsafe { (*cell).try_share() }.then(|| SharedGuard { ptr, cell })
    }

    /// The borrowed value (NULL for a guard that holds no borrow).
    #[inline(always)]
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Gives up the guard without releasing its count: for a guard dropped
    /// where the interpreter may no longer be touched (thread exit).
    pub(crate) fn leak(self) {
        std::mem::forget(self)
    }
}

impl Default for SharedGuard {
    #[inline]
    fn default() -> Self {
        SharedGuard { ptr: std::ptr::null_mut(), cell: std::ptr::null() }
    }
}

impl Drop for SharedGuard {
    #[inline]
    fn drop(&mut self) {
        if !self.cell.is_null() {
            // SAFETY: the cell outlives the guard (invariant 5), and holds
            // the shared count this guard took (count ≥ 1).
            unsafe { (*self.cell).unshare() }
        }
    }
}

/// The unique borrow of an instance's value, released on drop. The
/// holder of a `&mut Point` parameter; `Default` holds no borrow.
pub struct UniqueGuard {
    ptr: *mut u8,
    cell: *const BorrowCell,
}

impl UniqueGuard {
    /// The unique borrow of the value at `ptr`, guarded by `cell`; `None`
    /// while any borrow is live.
    ///
    /// # Safety
    /// `cell` guards the value at `ptr` and lives as long as the guard
    /// (see invariant 5).
    #[inline(always)]
    pub(crate) unsafe fn try_new(ptr: *mut u8, cell: *const BorrowCell) -> Option<UniqueGuard> {
        // SAFETY: (caller) `cell` is live. (`then`: as in `SharedGuard`.)
        unsafe { (*cell).try_unique() }.then(|| UniqueGuard { ptr, cell })
    }

    /// The borrowed value (NULL for a guard that holds no borrow).
    #[inline(always)]
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Default for UniqueGuard {
    #[inline]
    fn default() -> Self {
        UniqueGuard { ptr: std::ptr::null_mut(), cell: std::ptr::null() }
    }
}

impl Drop for UniqueGuard {
    #[inline]
    fn drop(&mut self) {
        if !self.cell.is_null() {
            // SAFETY: the cell outlives the guard (invariant 5) and is
            // unique through this guard: back to unborrowed.
            unsafe { (*self.cell).release_unique() }
        }
    }
}

/// Why a borrow failed: a plain mismatch (no error set: overload
/// resolution moves on), an instance whose value is not constructed, or
/// an error that aborts the call.
pub(crate) enum Fail {
    Mismatch,
    /// The instance is not ready: nanobind's message. An argument caster
    /// turns it into a `RuntimeWarning` and a mismatch ([`Fail::warn`]),
    /// as nanobind does; elsewhere it is this `TypeError`.
    Uninit(PyErr),
    Error(PyErr),
}

impl Fail {
    /// The error this failure raises outside overload resolution (`None`:
    /// a plain mismatch).
    #[cold]
    pub(crate) fn into_error(self) -> Option<PyErr> {
        match self {
            Fail::Mismatch => None,
            Fail::Uninit(e) | Fail::Error(e) => Some(e),
        }
    }

    /// For an argument caster: an uninitialised instance emits nanobind's
    /// `RuntimeWarning` and is a mismatch (the call then fails with the
    /// overload error, unless another overload takes it); a warning turned
    /// into an exception, and any other error, is set. Returns `false`.
    #[cold]
    #[inline(never)]
    pub(crate) fn warn(self) -> bool {
        match self {
            Fail::Mismatch => {}
            Fail::Error(e) => e.restore(),
            Fail::Uninit(e) => {
                let msg = e.message();
                match std::ffi::CString::new(msg) {
                    // SAFETY: a NUL-terminated message; the GIL is held.
                    Ok(m) => unsafe {
                        ffi::PyErr_WarnEx(ffi::PyExc_RuntimeWarning, m.as_ptr(), 1);
                    },
                    Err(_) => e.restore(),
                }
            }
        }
        false
    }
}

/// nanobind's message for an instance whose value is not constructed
/// (`type_name` is the instance's own type).
#[cold]
pub(crate) fn uninit_message(type_name: &str) -> String {
    message(&["ndbind: attempted to access an uninitialized instance of type '", type_name, "'!"])
}

/// The name of `obj`'s type as its `tp_name` has it (`module.Name` for a
/// bound class, `Name` for a Python class).
///
/// # Safety
/// `obj` is a live object.
pub(crate) unsafe fn tp_name(obj: *mut ffi::PyObject) -> String {
    // SAFETY: (caller) a live object, so a live type.
    unsafe {
        crate::core::abi::with_type_name(ffi::Py_TYPE(obj), |n| {
            String::from_utf8_lossy(n).into_owned()
        })
    }
}

/// Whether `obj` takes the fast path: exactly `target`'s class, ready, no
/// parent (its value is its own, at offset 0).
///
/// # Safety
/// `obj` is a valid object.
#[inline(always)]
unsafe fn plain(obj: *mut ffi::PyObject, target: *mut ffi::PyTypeObject) -> bool {
    let h = obj as *mut InstHeader;
    // SAFETY: (caller) a valid object; the header is read only once its
    // type is known to be `target`, a bound class.
    unsafe { ffi::Py_TYPE(obj) == target && (*h).flags.is_ready() && (*h).parent.is_null() }
}

/// A shared borrow of the value of class `target` inside `obj` (its own
/// class, a Python subclass, or a Rust subclass of `target`).
///
/// # Safety
/// `obj` is a valid object that outlives the guard; the GIL is held.
#[inline(always)]
pub(crate) unsafe fn borrow_shared(
    obj: *mut ffi::PyObject,
    target: *mut ffi::PyTypeObject,
) -> Result<SharedGuard, Fail> {
    // SAFETY: (caller) `obj` is valid and outlives the guard; in the fast
    // case it is a ready instance of `target` with its value at `value`.
    unsafe {
        if plain(obj, target) {
            let h = obj as *mut InstHeader;
            #[cfg(not(Py_GIL_DISABLED))]
            if let Some(g) = SharedGuard::try_new((*h).value, (*h).borrow) {
                return Ok(g);
            }
            // Free-threaded: another thread may have destructed the value
            // between `plain`'s check and the borrow: check again, holding
            // it (a destruction needs the unique borrow), and read where
            // the value is only then.
            #[cfg(Py_GIL_DISABLED)]
            if let Some(mut g) = SharedGuard::try_new(std::ptr::null_mut(), (*h).borrow) {
                if (*h).flags.is_ready() {
                    g.ptr = (*h).value;
                    return Ok(g);
                }
            }
        }
        // `borrow_slow` took the shared count the guard releases.
        borrow_slow(obj, target, false).map(|(ptr, cell)| SharedGuard { ptr, cell })
    }
}

/// The unique borrow of the value of class `target` inside `obj`.
///
/// # Safety
/// As for [`borrow_shared`].
#[inline(always)]
pub(crate) unsafe fn borrow_unique(
    obj: *mut ffi::PyObject,
    target: *mut ffi::PyTypeObject,
) -> Result<UniqueGuard, Fail> {
    // SAFETY: as in `borrow_shared`.
    unsafe {
        if plain(obj, target) {
            let h = obj as *mut InstHeader;
            #[cfg(not(Py_GIL_DISABLED))]
            if let Some(g) = UniqueGuard::try_new((*h).value, (*h).borrow) {
                return Ok(g);
            }
            // Free-threaded: as in `borrow_shared`.
            #[cfg(Py_GIL_DISABLED)]
            if let Some(mut g) = UniqueGuard::try_new(std::ptr::null_mut(), (*h).borrow) {
                if (*h).flags.is_ready() {
                    g.ptr = (*h).value;
                    return Ok(g);
                }
            }
        }
        // `borrow_slow` made the cell unique; the guard releases it.
        borrow_slow(obj, target, true).map(|(ptr, cell)| UniqueGuard { ptr, cell })
    }
}

/// Everything but the fast path: Python subclasses, Rust base classes,
/// references into other instances, and the errors. Takes a shared count
/// (or the unique borrow) of the cell and returns the address of
/// `target`'s value and the cell, for the caller to wrap in its guard.
///
/// # Safety
/// `obj` is a valid object; the GIL is held.
#[cold]
#[inline(never)]
unsafe fn borrow_slow(
    obj: *mut ffi::PyObject,
    target: *mut ffi::PyTypeObject,
    unique: bool,
) -> Result<(*mut u8, *const BorrowCell), Fail> {
    if target.is_null() {
        return Err(Fail::Mismatch);
    }
    // SAFETY: (caller) a valid object; its type's record lives as long as
    // it, and `target` is a live bound class.
    let Some(rec) = (unsafe { record_of(ffi::Py_TYPE(obj)) }) else { return Err(Fail::Mismatch) };
    let Some(offset) = rec.offset_of(target) else { return Err(Fail::Mismatch) };
    let h = obj as *mut InstHeader;
    // SAFETY: as above (the record lives as long as its type).
    let name = unsafe { record_of(target) }.map_or("?", |r| r.name());
    // SAFETY: `obj` is an instance of a bound class.
    if unsafe { !(*h).flags.is_ready() } {
        // SAFETY: as above.
        let flags = unsafe { (*h).flags.get() };
        if flags.contains(InstFlags::MOVED_OUT) {
            return Err(Fail::Error(not_ready_error(flags, name)));
        }
        // SAFETY: as above.
        let own = unsafe { tp_name(obj) };
        return Err(Fail::Uninit(PyErr::type_error(uninit_message(&own))));
    }
    // SAFETY: as above.
    if let Err(e) = unsafe { parents_valid(h, name) } {
        return Err(Fail::Error(e));
    }
    // SAFETY: `h` is live; its cell outlives it.
    let cell = unsafe { cell_of(h) };
    let taken = if unique { cell.try_unique() } else { cell.try_share() };
    if taken {
        // Free-threaded: the checks above ran before the borrow was taken;
        // another thread may have destructed the value (or a parent's) in
        // between. Holding the borrow now, which such a change needs,
        // check again.
        #[cfg(Py_GIL_DISABLED)]
        {
            // SAFETY: as above.
            let ok = unsafe { (*h).flags.is_ready() && parents_valid(h, name).is_ok() };
            if !ok {
                if unique {
                    drop(UniqueGuard { ptr: std::ptr::null_mut(), cell });
                } else {
                    drop(SharedGuard { ptr: std::ptr::null_mut(), cell });
                }
                let msg = message(&[
                    "ndbind: the '",
                    name,
                    "' instance was destructed by another thread",
                ]);
                return Err(Fail::Error(PyErr::runtime_error(msg)));
            }
        }
        // SAFETY: the value holds `target`'s value at `offset`.
        return Ok((unsafe { (*h).value.add(offset) }, cell));
    }
    let why = if !unique {
        ": it is mutably borrowed"
    // SAFETY: as above.
    } else if unsafe { (*h).flags.contains(InstFlags::ARC) } {
        " mutably: its value is shared through an Arc"
    } else {
        " mutably: it is already borrowed"
    };
    let msg = message(&["ndbind: cannot borrow the '", name, "' instance", why]);
    Err(Fail::Error(PyErr::runtime_error(msg)))
}

/// The error of using an instance whose value is not constructed: never
/// initialised, or moved out into a `Box` (`flags` says which).
#[cold]
#[inline(never)]
pub(crate) fn not_ready_error(flags: InstFlags, name: &str) -> PyErr {
    let pre = "ndbind: attempted to access an uninitialized instance of type '";
    let post = if flags.contains(InstFlags::MOVED_OUT) {
        "': its value was moved out into a Rust Box (return that Box to Python to restore it)"
    } else {
        "'"
    };
    PyErr::type_error(message(&[pre, name, post]))
}

/// The concatenation of `parts`, for the messages of this module.
#[cold]
#[inline(never)]
fn message(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
    }
    s
}

/// For an instance that references a value inside another instance
/// (`def_ref`, `inst_reference`): that value must still be constructed,
/// and still be where the reference points (a value moved out through a
/// `Box<T>` parameter, or rebuilt in other storage, leaves the reference
/// pointing at freed or stale memory). `name` names the instance's class.
///
/// # Safety
/// `h` is a live instance of a bound class; the GIL is held.
pub(crate) unsafe fn parents_valid(h: *mut InstHeader, name: &str) -> PyResult<()> {
    // SAFETY: (caller) `h` is live, and keeps its parent chain alive.
    let (mut child, mut parent) = (h, unsafe { (*h).parent });
    // SAFETY: `parent` is a live object (held by `child`).
    while !parent.is_null() && unsafe { record_of(ffi::Py_TYPE(parent)) }.is_some() {
        let p = parent as *mut InstHeader;
        // SAFETY: `p` is a live instance of a bound class.
        if unsafe { !(*p).flags.is_ready() } {
            let post = "' references a value inside an object that was destructed";
            return Err(PyErr::type_error(message(&[
                "ndbind: the instance of type '",
                name,
                post,
            ])));
        }
        // SAFETY: both are live instances of bound classes.
        if unsafe { !within(child, p) } {
            let post =
                "' references a value inside an object whose value was moved or rebuilt elsewhere";
            return Err(PyErr::type_error(message(&[
                "ndbind: the instance of type '",
                name,
                post,
            ])));
        }
        // SAFETY: `p` is live.
        (child, parent) = (p, unsafe { (*p).parent });
    }
    Ok(())
}

/// Whether the value of `child` (a reference instance) lies inside the
/// current value of `parent`.
///
/// # Safety
/// Both are live instances of bound classes.
unsafe fn within(child: *mut InstHeader, parent: *mut InstHeader) -> bool {
    // SAFETY: (caller) live instances: their types' records outlive them.
    let records =
        unsafe { (record_of(ffi::Py_TYPE(child.cast())), record_of(ffi::Py_TYPE(parent.cast()))) };
    let (Some(cr), Some(pr)) = records else { return false };
    // SAFETY: (caller) live instances.
    let (c, p) = unsafe { ((*child).value as usize, (*parent).value as usize) };
    c >= p && c.checked_add(cr.size).is_some_and(|end| end <= p + pr.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(c: &BorrowCell) -> i32 {
        c.count()
    }

    #[test]
    fn guards_follow_the_state_machine() {
        let cell = BorrowCell::new();
        let mut v = 0u8;
        let p = &mut v as *mut u8;
        // SAFETY: `cell` and `v` outlive every guard of this test.
        unsafe {
            let a = SharedGuard::try_new(p, &cell).expect("unborrowed: shared");
            let b = SharedGuard::try_new(p, &cell).expect("shared: shared");
            assert_eq!(count(&cell), 2);
            assert!(UniqueGuard::try_new(p, &cell).is_none());
            assert_eq!(count(&cell), 2, "a refused borrow changes nothing");
            drop((a, b));
            assert!(cell.is_unborrowed());
            let u = UniqueGuard::try_new(p, &cell).expect("unborrowed: unique");
            assert!(cell.is_unique());
            assert!(SharedGuard::try_new(p, &cell).is_none());
            assert!(UniqueGuard::try_new(p, &cell).is_none());
            assert!(!cell.share_forever());
            assert!(cell.is_unique(), "a refused borrow changes nothing");
            drop(u);
            assert!(cell.is_unborrowed());
            let s = SharedGuard::try_new(p, &cell).expect("unborrowed: shared");
            assert!(!cell.share_forever(), "only from unborrowed");
            drop(s);
            assert!(cell.share_forever());
            assert!(UniqueGuard::try_new(p, &cell).is_none());
            SharedGuard::try_new(p, &cell).expect("shared").leak();
            assert_eq!(count(&cell), 2);
            drop(SharedGuard::default());
            drop(UniqueGuard::default());
            assert_eq!(count(&cell), 2);
        }
    }

    #[test]
    fn flags() {
        let f = InstFlags::INLINE.constructed();
        assert!(f.is_ready() && f.contains(InstFlags::DESTRUCT) && f.owns_storage());
        let g = (InstFlags::READY | InstFlags::DESTRUCT | InstFlags::IN_ID_MAP).constructed();
        assert!(g.is_ready() && !g.contains(InstFlags::DESTRUCT));
        let mut h = g;
        h.remove(InstFlags::READY);
        assert!(!h.is_ready() && h.contains(InstFlags::IN_ID_MAP));
    }
}
