//! Process-wide state that ndbind touches from Python threads: lazily
//! initialised globals ([`GilCell`]), side tables ([`GilLock`]) and
//! counters ([`GilCounter`]).
//!
//! With the GIL (every build but the free-threaded one) the GIL serialises
//! every access, so these are plain cells: no atomic read-modify-write and
//! no lock on hot paths such as interned names and cached type objects.
//! On a free-threaded interpreter (`Py_GIL_DISABLED`) threads attached to
//! the interpreter run at once, and the same types become thread-safe: a
//! race-to-initialise cell, a `PyMutex`-guarded table, atomic counters.
//! Callers write the same code for both.

#[cfg(not(Py_GIL_DISABLED))]
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// A global value initialised on first use, guarded by the GIL (or, on a
/// free-threaded interpreter, published atomically: the first value stored
/// wins, a racing initialiser's value is dropped).
///
/// `T` must be safe to read from any thread attached to the interpreter:
/// Python objects and plain data, never a `Cell`/`RefCell` (use atomics or
/// [`GilLock`] for state that changes after initialisation).
///
/// ```ignore
/// // Not compiled: `GilCell` is crate-private, which a doctest cannot name.
/// static NAME: GilCell<Object> = GilCell::new();
/// let name = NAME.get_or_init(|| Object::intern(c"__dlpack__"));
/// ```
pub struct GilCell<T> {
    #[cfg(not(Py_GIL_DISABLED))]
    slot: UnsafeCell<Option<T>>,
    #[cfg(Py_GIL_DISABLED)]
    slot: std::sync::atomic::AtomicPtr<T>,
}

// SAFETY: with the GIL, every access happens with it held (the documented
// contract of this type), which serialises readers and writers across
// threads. Free-threaded, the value is published once through an atomic
// pointer (release/acquire) and never written again; `T` is data that
// attached threads may read at once (the contract above).
unsafe impl<T> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        #[cfg(not(Py_GIL_DISABLED))]
        return GilCell { slot: UnsafeCell::new(None) };
        #[cfg(Py_GIL_DISABLED)]
        return GilCell { slot: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()) };
    }

    /// The value, initialising it with `f` on first use. The GIL must be
    /// held (free-threaded: the thread attached).
    #[inline]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            let p = self.slot.get();
            // SAFETY: the GIL is held (contract), so no other thread
            // accesses the cell; once set, the value is never replaced, so
            // shared references handed out earlier stay valid. No reference
            // to the slot is held across `f`, which may re-enter and set (or
            // read) the cell; the slot is written only while it is empty,
            // when no reference into it exists.
            unsafe {
                if let Some(v) = (*p).as_ref() {
                    return v;
                }
                let v = f();
                if (*p).is_none() {
                    p.write(Some(v));
                }
                (*p).as_ref().unwrap_unchecked()
            }
        }
        #[cfg(Py_GIL_DISABLED)]
        {
            use std::sync::atomic::Ordering::{AcqRel, Acquire};
            if let Some(v) = self.get() {
                return v;
            }
            // `f` runs unlocked: it may run Python code, re-enter, or race
            // another thread's `f`; the first value published wins.
            let new = Box::into_raw(Box::new(f()));
            match self.slot.compare_exchange(std::ptr::null_mut(), new, AcqRel, Acquire) {
                // SAFETY: published once, never freed while the cell lives.
                Ok(_) => unsafe { &*new },
                Err(won) => {
                    // SAFETY: `new` was never shared; `won` is the published
                    // value (as above). Dropping ours may decref a Python
                    // object: this thread is attached (contract).
                    unsafe {
                        drop(Box::from_raw(new));
                        &*won
                    }
                }
            }
        }
    }

    /// The value if initialised. The GIL must be held.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        #[cfg(not(Py_GIL_DISABLED))]
        // SAFETY: as in `get_or_init`; the value is never replaced once set.
        return unsafe { (*self.slot.get()).as_ref() };
        #[cfg(Py_GIL_DISABLED)]
        // SAFETY: a published pointer is a live box, never replaced or freed
        // while the cell lives (acquire: its contents are visible).
        return unsafe { self.slot.load(std::sync::atomic::Ordering::Acquire).as_ref() };
    }

    /// Like [`GilCell::get_or_init`] with a fallible initialiser.
    pub fn get_or_try_init<E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(v) = self.get() {
            return Ok(v);
        }
        let v = f()?;
        Ok(self.get_or_init(|| v))
    }
}

#[cfg(Py_GIL_DISABLED)]
impl<T> Drop for GilCell<T> {
    fn drop(&mut self) {
        let p = *self.slot.get_mut();
        if !p.is_null() {
            // SAFETY: the published box, owned by this cell.
            drop(unsafe { Box::from_raw(p) })
        }
    }
}

impl<T> Default for GilCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A side table (identity maps, loans, ...) created on first use: a
/// `RefCell` with the GIL, a `PyMutex`-guarded value when free-threaded
/// (`PyMutex_Lock` detaches the waiting thread, so a thread waiting here
/// never holds up the garbage collector's stop-the-world pause).
///
/// The closure given to [`GilLock::with`] must not run Python code (no
/// calls, no decref of an object another owner may not keep alive): code
/// that re-entered the table would panic with the GIL and deadlock
/// without it. Take what must be dropped out of the table and drop it
/// after `with` returns.
pub struct GilLock<T> {
    #[cfg(not(Py_GIL_DISABLED))]
    cell: GilCell<std::cell::RefCell<T>>,
    #[cfg(Py_GIL_DISABLED)]
    mutex: std::cell::UnsafeCell<pyo3_ffi::PyMutex>,
    #[cfg(Py_GIL_DISABLED)]
    value: std::cell::UnsafeCell<Option<T>>,
}

// SAFETY: with the GIL, the inner `GilCell` is only touched with it held;
// free-threaded, `value` is only touched with `mutex` locked. `T` moves
// between threads with the table (`Send`): its contents are Python object
// references and plain data, which attached threads may share.
unsafe impl<T> Sync for GilLock<T> {}

impl<T: Default> GilLock<T> {
    /// An empty table.
    pub const fn new() -> Self {
        GilLock {
            #[cfg(not(Py_GIL_DISABLED))]
            cell: GilCell::new(),
            #[cfg(Py_GIL_DISABLED)]
            mutex: std::cell::UnsafeCell::new(pyo3_ffi::PyMutex::new()),
            #[cfg(Py_GIL_DISABLED)]
            value: std::cell::UnsafeCell::new(None),
        }
    }

    /// Runs `f` on the table (made with `Default` on first use). The GIL
    /// must be held (free-threaded: the thread attached, or none at all).
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(Py_GIL_DISABLED))]
        return f(&mut self.cell.get_or_init(Default::default).borrow_mut());
        #[cfg(Py_GIL_DISABLED)]
        {
            let _locked = self.lock();
            // SAFETY: `value` is only touched with the mutex locked.
            f(unsafe { (*self.value.get()).get_or_insert_with(Default::default) })
        }
    }

    /// Runs `f` on the table if it was ever made (`None` otherwise: an
    /// empty table, never allocated).
    #[inline]
    pub fn with_made<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        #[cfg(not(Py_GIL_DISABLED))]
        return self.cell.get().map(|c| f(&mut c.borrow_mut()));
        #[cfg(Py_GIL_DISABLED)]
        {
            let _locked = self.lock();
            // SAFETY: as in `with`.
            unsafe { (*self.value.get()).as_mut() }.map(f)
        }
    }

    /// Runs `f` on the table if it was ever made and nobody holds it
    /// right now (`None` otherwise), never waiting. For `tp_traverse`: the
    /// free-threaded collector calls it with every other thread stopped,
    /// and a thread may be stopped just as the lock is handed to it
    /// (`PyMutex` hands off to a waiter after 1 ms), so waiting for the
    /// lock there could wait for ever.
    /// (Free-threaded builds only: with the GIL, the collector runs on
    /// the thread that holds it.)
    #[inline]
    #[cfg(Py_GIL_DISABLED)]
    pub fn try_with_made<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let _locked = self.try_lock()?;
        // SAFETY: as in `with`.
        unsafe { (*self.value.get()).as_mut() }.map(f)
    }

    #[cfg(Py_GIL_DISABLED)]
    fn try_lock(&self) -> Option<impl Drop + '_> {
        use std::sync::atomic::{AtomicU8, Ordering::Acquire};
        // SAFETY: `PyMutex` is a transparent `AtomicU8` (CPython's
        // `_bits`: 1 locked, 2 has parked waiters), which `PyMutex_Lock`'s
        // own fast path takes by this compare-and-swap of 0 to 1.
        let bits = unsafe { &*(self.mutex.get() as *const AtomicU8) };
        bits.compare_exchange(0, 1, Acquire, Relaxed).ok()?;
        Some(Unlock(&self.mutex))
    }

    #[cfg(Py_GIL_DISABLED)]
    fn lock(&self) -> impl Drop + '_ {
        // SAFETY: a `PyMutex` at a stable address (inside a static or a
        // record that outlives the call).
        unsafe { pyo3_ffi::PyMutex_Lock(self.mutex.get()) };
        Unlock(&self.mutex)
    }
}

/// Unlocks a [`GilLock`]'s mutex on drop (a panic in its closure too).
#[cfg(Py_GIL_DISABLED)]
struct Unlock<'a>(&'a std::cell::UnsafeCell<pyo3_ffi::PyMutex>);

#[cfg(Py_GIL_DISABLED)]
impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // SAFETY: locked by this thread in `lock` or `try_lock`.
        unsafe { pyo3_ffi::PyMutex_Unlock(self.0.get()) }
    }
}

impl<T: Default> Default for GilLock<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A count updated by Python threads: with the GIL a plain load and store
/// (no locked instruction on hot paths such as instance construction),
/// free-threaded an atomic add.
pub struct GilCounter(AtomicIsize);

impl GilCounter {
    /// Zero.
    pub const fn new() -> Self {
        GilCounter(AtomicIsize::new(0))
    }

    /// Adds `d`. The GIL must be held (free-threaded: any thread).
    #[inline]
    pub fn add(&self, d: isize) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.0.store(self.0.load(Relaxed) + d, Relaxed);
        #[cfg(Py_GIL_DISABLED)]
        self.0.fetch_add(d, Relaxed);
    }

    /// The count.
    #[inline]
    pub fn get(&self) -> isize {
        self.0.load(Relaxed)
    }
}

impl Default for GilCounter {
    fn default() -> Self {
        Self::new()
    }
}
