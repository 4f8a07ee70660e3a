//! The owner of exported memory: a Rust value, kept (inline when small)
//! until the last consumer lets go, or a Python object kept alive.

use std::mem::{align_of, size_of, MaybeUninit};

use crate::core::error::PyResult;
use crate::core::object::Object;
use pyo3_ffi as ffi;

const INLINE_WORDS: usize = 3;

/// Type-erased owner of an exported array's memory.
pub enum OwnerBox {
    /// A Rust value (inline if it fits three words, else boxed).
    Rust {
        storage: MaybeUninit<[usize; INLINE_WORDS]>,
        drop: unsafe fn(*mut [usize; INLINE_WORDS]),
    },
    /// A Python object kept alive.
    Python(Object),
    /// A bound instance whose value the memory is part of (`self` of a
    /// method returning `reference_internal`), kept alive and borrowed.
    Pinned(crate::core::class::ExportPin),
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
        if size_of::<O>() <= size_of::<[usize; INLINE_WORDS]>()
            && align_of::<O>() <= align_of::<usize>()
        {
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

/// `ndbind.owner`: the smallest Python object owning an [`OwnerBox`]
/// (stored inline: one allocation), the base object of exported NumPy
/// arrays (which expose the data themselves).
#[repr(C)]
struct OwnerObject {
    ob_base: ffi::PyObject,
    owner: OwnerBox,
}

static OWNER_TYPE: crate::core::gil_cell::GilCell<Object> = crate::core::gil_cell::GilCell::new();

unsafe extern "C" fn owner_dealloc(slf: *mut ffi::PyObject) {
    // SAFETY: `slf` is an OwnerObject made by `owner_object` (with
    // PyObject_Malloc); the owner is dropped once, then the memory freed;
    // heap types own a type reference.
    unsafe {
        let tp = ffi::Py_TYPE(slf);
        // The owner may be a user's value, whose `Drop` may run any code.
        crate::core::error::guard_silent("an exported array owner's Drop", || {
            std::ptr::drop_in_place(&mut (*(slf as *mut OwnerObject)).owner)
        });
        ffi::PyObject_Free(slf.cast());
        ffi::Py_DECREF(tp.cast());
    }
}

fn owner_type() -> PyResult<*mut ffi::PyTypeObject> {
    let t = OWNER_TYPE.get_or_try_init(|| {
        use crate::core::heap_type::{new_type, slot};
        let slots = [
            slot(ffi::Py_tp_dealloc, owner_dealloc as *mut std::ffi::c_void),
            slot(
                ffi::Py_tp_doc,
                c"Owner of Rust memory exported by ndbind.".as_ptr() as *mut std::ffi::c_void,
            ),
        ];
        let flags = ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION;
        new_type(c"ndbind.owner", std::mem::size_of::<OwnerObject>(), 0, flags, &slots)
    })?;
    Ok(t.as_ptr() as *mut ffi::PyTypeObject)
}

/// A minimal Python object owning `owner`.
pub(crate) fn owner_object(owner: OwnerBox) -> PyResult<Object> {
    let tp = owner_type()?;
    // SAFETY: a plain (non-GC, no __dict__) object of basicsize bytes, so
    // PyObject_Malloc + PyObject_Init is what tp_alloc would do, minus
    // zeroing memory that is written right away; the owner is written
    // before the object is used.
    unsafe {
        let p = ffi::PyObject_Malloc(std::mem::size_of::<OwnerObject>()) as *mut ffi::PyObject;
        if p.is_null() {
            ffi::PyErr_NoMemory();
            return Err(crate::core::error::PyErr::fetch());
        }
        let obj = Object::from_owned_or_err(ffi::PyObject_Init(p, tp))?;
        std::ptr::addr_of_mut!((*(obj.as_ptr() as *mut OwnerObject)).owner).write(owner);
        Ok(obj)
    }
}
