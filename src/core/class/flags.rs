//! An instance's state flags ([`InstFlags`]) and the word that holds them
//! in its header ([`FlagsCell`]): a plain cell with the GIL, an atomic on a
//! free-threaded CPython (where [`Word`] is also the borrow cell's word).

#[cfg(Py_GIL_DISABLED)]
use std::sync::atomic::Ordering;

/// The state of the instance: whether its value is constructed, who drops
/// it, where it lives and which side tables know the instance.
///
/// ```ignore
/// // Not compiled: `InstFlags` is crate-private, which a doctest cannot name.
/// let f = InstFlags::READY | InstFlags::DESTRUCT;
/// assert!(f.is_ready());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct InstFlags(u32);

impl InstFlags {
    /// The value is fully constructed.
    pub(crate) const READY: InstFlags = InstFlags(1);
    /// The value is dropped when the instance dies.
    pub(crate) const DESTRUCT: InstFlags = InstFlags(2);
    /// The value lives inline in the instance.
    pub(crate) const INLINE: InstFlags = InstFlags(4);
    /// The value is a `Box` allocation owned by the instance (freed on death).
    pub(crate) const OWNED_BOX: InstFlags = InstFlags(8);
    /// The instance is in the identity map of references.
    pub(crate) const IN_ID_MAP: InstFlags = InstFlags(16);
    /// The instance keeps other objects alive (see `keep_alive`).
    pub(crate) const KEEP_ALIVE: InstFlags = InstFlags(32);
    /// The value is held by an `Arc` (one strong count, released on death).
    pub(crate) const ARC: InstFlags = InstFlags(64);
    /// A `Box<T>` parameter took the value out (the instance may be in the
    /// table that restores it when the box comes back: see `holder`).
    pub(crate) const MOVED_OUT: InstFlags = InstFlags(128);

    /// Whether every flag of `other` is set.
    #[inline]
    pub(crate) const fn contains(self, other: InstFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    #[inline]
    pub(crate) const fn intersects(self, other: InstFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the flags of `other`.
    #[inline]
    pub(crate) fn insert(&mut self, other: InstFlags) {
        self.0 |= other.0
    }

    /// Clears the flags of `other`.
    #[inline]
    pub(crate) fn remove(&mut self, other: InstFlags) {
        self.0 &= !other.0
    }

    /// The value is constructed.
    #[inline]
    pub(crate) const fn is_ready(self) -> bool {
        self.contains(InstFlags::READY)
    }

    /// The instance owns its value's storage (inline or an owned box).
    #[inline]
    pub(crate) const fn owns_storage(self) -> bool {
        self.intersects(InstFlags::INLINE.union(InstFlags::OWNED_BOX))
    }

    /// The flags after a value was constructed in the instance's storage:
    /// ready, and dropped on death exactly when the instance owns it.
    #[inline]
    pub(crate) fn constructed(mut self) -> InstFlags {
        self.insert(InstFlags::READY);
        if self.owns_storage() {
            self.insert(InstFlags::DESTRUCT);
        } else {
            self.remove(InstFlags::DESTRUCT);
        }
        self
    }

    /// Both sets of flags.
    #[inline]
    pub(crate) const fn union(self, other: InstFlags) -> InstFlags {
        InstFlags(self.0 | other.0)
    }
}

/// An instance's [`InstFlags`], in its header. Written while the writer
/// holds the value's unique borrow or the instance is not yet shared (and
/// `KEEP_ALIVE` at any time), read by anyone: atomic, so that free-threaded
/// readers and writers do not race (with the GIL, plain loads and stores:
/// the same instructions as a `u32` field).
#[repr(transparent)]
pub(crate) struct FlagsCell(Word<u32>);

/// The word of [`FlagsCell`] and [`BorrowCell`]: a `Cell` with the GIL
/// (which lets the compiler combine and drop loads as for any field), an
/// atomic free-threaded.
#[cfg(not(Py_GIL_DISABLED))]
pub(crate) type Word<T> = std::cell::Cell<T>;
#[cfg(Py_GIL_DISABLED)]
pub(crate) type Word<T> = <T as AtomicWord>::Atomic;

#[cfg(Py_GIL_DISABLED)]
pub(crate) trait AtomicWord {
    type Atomic;
}
#[cfg(Py_GIL_DISABLED)]
impl AtomicWord for u32 {
    type Atomic = std::sync::atomic::AtomicU32;
}
#[cfg(Py_GIL_DISABLED)]
impl AtomicWord for i32 {
    type Atomic = std::sync::atomic::AtomicI32;
}

impl FlagsCell {
    /// The flags (free-threaded, acquire: what was written before they
    /// were set is seen).
    #[inline(always)]
    pub(crate) fn get(&self) -> InstFlags {
        #[cfg(not(Py_GIL_DISABLED))]
        return InstFlags(self.0.get());
        #[cfg(Py_GIL_DISABLED)]
        return InstFlags(self.0.load(Ordering::Acquire));
    }

    /// Replaces the flags.
    #[inline(always)]
    pub(crate) fn set(&self, f: InstFlags) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.0.set(f.0);
        #[cfg(Py_GIL_DISABLED)]
        self.0.store(f.0, Ordering::Release);
    }

    /// Sets the flags of `other`.
    #[inline]
    pub(crate) fn insert(&self, other: InstFlags) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.set(self.get().union(other));
        #[cfg(Py_GIL_DISABLED)]
        self.0.fetch_or(other.0, Ordering::AcqRel);
    }

    /// Clears the flags of `other`.
    #[inline]
    pub(crate) fn remove(&self, other: InstFlags) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.set(InstFlags(self.get().0 & !other.0));
        #[cfg(Py_GIL_DISABLED)]
        self.0.fetch_and(!other.0, Ordering::AcqRel);
    }

    /// Replaces the flags by `f(flags)` in one step (free-threaded: a
    /// flag another thread sets meanwhile, `KEEP_ALIVE`, is not lost).
    #[inline]
    pub(crate) fn update(&self, f: impl Fn(InstFlags) -> InstFlags) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.set(f(self.get()));
        #[cfg(Py_GIL_DISABLED)]
        let _ =
            self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(f(InstFlags(v)).0));
    }

    /// Whether every flag of `other` is set.
    #[inline(always)]
    pub(crate) fn contains(&self, other: InstFlags) -> bool {
        self.get().contains(other)
    }

    /// The value is constructed.
    #[inline(always)]
    pub(crate) fn is_ready(&self) -> bool {
        self.get().is_ready()
    }
}

impl std::ops::BitOr for InstFlags {
    type Output = InstFlags;
    #[inline]
    fn bitor(self, other: InstFlags) -> InstFlags {
        self.union(other)
    }
}
