//! A lazily initialised global that is only touched with the GIL held.

use std::cell::UnsafeCell;

/// A global value initialised on first use, guarded by the GIL.
///
/// ndbind targets the GIL-enabled CPython build: the GIL serialises every
/// access, so no atomics or locks are needed on hot paths such as interned
/// names and cached type objects.
///
/// ```ignore
/// // Not compiled: `GilCell` is crate-private, which a doctest cannot name.
/// static NAME: GilCell<Object> = GilCell::new();
/// let name = NAME.get_or_init(|| Object::intern(c"__dlpack__"));
/// ```
pub struct GilCell<T>(UnsafeCell<Option<T>>);

// SAFETY: every access happens with the GIL held (the documented contract of
// this type), which serialises readers and writers across threads.
unsafe impl<T> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        GilCell(UnsafeCell::new(None))
    }

    /// The value, initialising it with `f` on first use. The GIL must be held.
    #[inline]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        let p = self.0.get();
        // SAFETY: the GIL is held (contract), so no other thread accesses the
        // cell; once set, the value is never replaced, so shared references
        // handed out earlier stay valid. No reference to the slot is held
        // across `f`, which may re-enter and set (or read) the cell; the
        // slot is written only while it is empty, when no reference into it
        // exists.
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

    /// The value if initialised. The GIL must be held.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        // SAFETY: as in `get_or_init`; the value is never replaced once set.
        unsafe { (*self.0.get()).as_ref() }
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

impl<T> Default for GilCell<T> {
    fn default() -> Self {
        Self::new()
    }
}
