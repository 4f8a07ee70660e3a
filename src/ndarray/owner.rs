//! The owner of exported memory: a Rust value, kept (inline when small)
//! until the last consumer lets go, or a Python object kept alive.

use std::mem::{align_of, size_of, MaybeUninit};

use crate::core::error::{PyErr, PyResult};
use crate::core::object::Object;
use pyo3_ffi as ffi;

const INLINE_WORDS: usize = 3;

/// Type-erased owner of an exported array's memory.
pub enum OwnerBox {
    /// A Rust value (inline if it fits three words, else boxed).
    Rust { storage: MaybeUninit<[usize; INLINE_WORDS]>, drop: unsafe fn(*mut [usize; INLINE_WORDS]) },
    /// A Python object kept alive (e.g. `self` of a method).
    Python(Object),
    /// Nothing: the caller guarantees the memory outlives every consumer
    /// (return policy `reference`).
    None,
}

unsafe fn drop_inline<O>(p: *mut [usize; INLINE_WORDS]) {
    // SAFETY: `p` holds an `O` written by `OwnerBox::new`.
    unsafe { std::ptr::drop_in_place(p as *mut O) }
}

unsafe fn drop_boxed<O>(p: *mut [usize; INLINE_WORDS]) {
    // SAFETY: `p` holds a `Box<O>` written by `OwnerBox::new`.
    unsafe { drop(std::ptr::read(p as *mut Box<O>)) }
}

impl OwnerBox {
    /// Takes ownership of `owner`. Small values (a `Vec`, an `AlignedVec`, a
    /// `Box<[T]>`) live inline: no allocation. The value may move, so only
    /// owners whose data lives on the heap may hand out pointers into it.
    pub fn new<O: Send + 'static>(owner: O) -> OwnerBox {
        let mut storage = MaybeUninit::<[usize; INLINE_WORDS]>::uninit();
        if size_of::<O>() <= size_of::<[usize; INLINE_WORDS]>() && align_of::<O>() <= align_of::<usize>() {
            // SAFETY: it fits, with compatible alignment.
            unsafe { (storage.as_mut_ptr() as *mut O).write(owner) };
            OwnerBox::Rust { storage, drop: drop_inline::<O> }
        } else {
            // SAFETY: a Box is one word.
            unsafe { (storage.as_mut_ptr() as *mut Box<O>).write(Box::new(owner)) };
            OwnerBox::Rust { storage, drop: drop_boxed::<O> }
        }
    }
}

impl Drop for OwnerBox {
    fn drop(&mut self) {
        if let OwnerBox::Rust { storage, drop } = self {
            // SAFETY: `storage` holds the value `drop` was made for; it is
            // dropped once, here.
            unsafe { drop(storage.as_mut_ptr()) }
        }
    }
}

const OWNER_CAPSULE: &std::ffi::CStr = c"ndbind.owner";

unsafe extern "C" fn drop_owner_capsule(cap: *mut ffi::PyObject) {
    // SAFETY: the capsule was made by `owner_capsule` with this name; its
    // pointer is the boxed owner, dropped once, here (GIL held).
    unsafe {
        let p = ffi::PyCapsule_GetPointer(cap, OWNER_CAPSULE.as_ptr()) as *mut OwnerBox;
        if p.is_null() {
            ffi::PyErr_Clear();
        } else {
            drop(Box::from_raw(p));
        }
    }
}

/// A minimal Python object owning `owner` (the base object of exported
/// NumPy arrays, which expose the data themselves).
pub(crate) fn owner_capsule(owner: OwnerBox) -> PyResult<Object> {
    let p = Box::into_raw(Box::new(owner));
    // SAFETY: a named capsule whose destructor frees the box.
    let cap = unsafe { ffi::PyCapsule_New(p.cast(), OWNER_CAPSULE.as_ptr(), Some(drop_owner_capsule)) };
    if cap.is_null() {
        // SAFETY: the capsule was not made: the box is still ours.
        drop(unsafe { Box::from_raw(p) });
        return Err(PyErr::fetch());
    }
    // SAFETY: a new reference.
    Ok(unsafe { Object::from_owned(cap) }.expect("non-null"))
}
