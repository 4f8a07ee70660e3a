//! Capsule protocol tests against an embedded CPython interpreter.
//!
//! The interpreter is started once; each test holds the GIL for its whole
//! body (via `PyGILState_Ensure`), so tests running on different threads are
//! serialised on the GIL.

use std::ffi::CStr;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use ndbind_dlpack::*;
use pyo3_ffi as ffi;

static INIT: Once = Once::new();

/// Runs `f` with the GIL held, starting the interpreter on first use.
fn with_gil<R>(f: impl FnOnce() -> R) -> R {
    INIT.call_once(|| {
        // SAFETY: called once per process; afterwards release the GIL that
        // initialisation leaves held so that any test thread can take it.
        unsafe {
            ffi::Py_InitializeEx(0);
            ffi::PyEval_SaveThread();
        }
    });
    /// Releases the GIL even if the test body panics, so that a failing
    /// test cannot deadlock the others.
    struct Gil(ffi::PyGILState_STATE);
    impl Drop for Gil {
        fn drop(&mut self) {
            // SAFETY: the state comes from the matching Ensure on this thread.
            unsafe { ffi::PyGILState_Release(self.0) };
        }
    }
    // SAFETY: the interpreter is initialised; Ensure/Release are paired.
    let _gil = Gil(unsafe { ffi::PyGILState_Ensure() });
    f()
}

/// Heap-allocated managed tensor whose deleter bumps `manager_ctx`'s counter.
struct Counted;

unsafe extern "C" fn versioned_deleter(p: *mut DLManagedTensorVersioned) {
    // SAFETY: `p` came from `Box::into_raw` in `Counted::versioned`, and
    // manager_ctx points to a 'static counter.
    unsafe {
        let b = Box::from_raw(p);
        (*(b.manager_ctx as *const AtomicUsize)).fetch_add(1, Ordering::SeqCst);
    }
}

unsafe extern "C" fn legacy_deleter(p: *mut DLManagedTensor) {
    // SAFETY: as in `versioned_deleter`.
    unsafe {
        let b = Box::from_raw(p);
        (*(b.manager_ctx as *const AtomicUsize)).fetch_add(1, Ordering::SeqCst);
    }
}

const EMPTY: DLTensor = DLTensor {
    data: ptr::null_mut(),
    device: DLDevice::CPU,
    ndim: 0,
    dtype: DLDataType::FLOAT32,
    shape: ptr::null_mut(),
    strides: ptr::null_mut(),
    byte_offset: 0,
};

impl Counted {
    fn versioned(counter: &'static AtomicUsize) -> NonNull<DLManagedTensorVersioned> {
        NonNull::from(Box::leak(Box::new(DLManagedTensorVersioned {
            version: DLPackVersion::CURRENT,
            manager_ctx: ptr::from_ref(counter).cast_mut().cast(),
            deleter: Some(versioned_deleter),
            flags: 0,
            dl_tensor: EMPTY,
        })))
    }

    fn legacy(counter: &'static AtomicUsize) -> NonNull<DLManagedTensor> {
        NonNull::from(Box::leak(Box::new(DLManagedTensor {
            dl_tensor: EMPTY,
            manager_ctx: ptr::from_ref(counter).cast_mut().cast(),
            deleter: Some(legacy_deleter),
        })))
    }
}

/// Current capsule name.
///
/// # Safety
/// GIL held, `cap` a live capsule.
unsafe fn name_of(cap: *mut ffi::PyObject) -> &'static CStr {
    // SAFETY: caller contract; our capsule names are 'static literals.
    unsafe { CStr::from_ptr(ffi::PyCapsule_GetName(cap)) }
}

fn no_error() -> bool {
    // SAFETY: only called with the GIL held.
    unsafe { ffi::PyErr_Occurred().is_null() }
}

#[test]
fn unconsumed_versioned_capsule_runs_deleter_once() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    with_gil(|| {
        // SAFETY: GIL held; the tensor is owned and live.
        let cap = unsafe { new_versioned_capsule(Counted::versioned(&COUNT)) };
        assert!(!cap.is_null());
        // SAFETY: GIL held, `cap` live.
        unsafe {
            assert_eq!(capsule_kind(cap), CapsuleKind::Versioned);
            assert!(peek_versioned(cap).is_some());
            assert_eq!(capsule_kind(cap), CapsuleKind::Versioned, "peek must not consume");
            assert_eq!(COUNT.load(Ordering::SeqCst), 0);
            ffi::Py_DECREF(cap);
        }
        assert_eq!(COUNT.load(Ordering::SeqCst), 1);
        assert!(no_error());
    });
}

#[test]
fn take_versioned_consumes_exactly_once() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    with_gil(|| {
        // SAFETY: GIL held throughout; `cap` stays live until the DECREF and
        // `p` is owned by us after the take.
        unsafe {
            let cap = new_versioned_capsule(Counted::versioned(&COUNT));
            let p = take_versioned(cap).expect("fresh capsule");
            assert_eq!(name_of(cap), USED_VERSIONED_NAME);
            assert_eq!(capsule_kind(cap), CapsuleKind::UsedVersioned);
            assert!(take_versioned(cap).is_none());
            assert!(peek_versioned(cap).is_none());
            assert!(take_legacy(cap).is_none());
            assert!(no_error());

            ffi::Py_DECREF(cap);
            assert_eq!(COUNT.load(Ordering::SeqCst), 0, "consumed capsule must not delete");

            // EMPTY is a 0-d tensor (one element) with NULL data: rejected...
            assert_eq!(validate_versioned(p.as_ptr()).unwrap_err(), InvalidTensor::NullData);
            // ...until it gets a (never dereferenced) data pointer.
            (*p.as_ptr()).dl_tensor.data = NonNull::<f32>::dangling().as_ptr().cast();
            let layout = validate_versioned(p.as_ptr()).unwrap();
            assert_eq!((layout.ndim(), layout.size(), layout.nbytes()), (0, 1, 4));
            delete_versioned(p.as_ptr());
            assert_eq!(COUNT.load(Ordering::SeqCst), 1);
        }
    });
}

#[test]
fn legacy_capsule_roundtrip() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    with_gil(|| {
        // SAFETY: GIL held; ownership as in the versioned test.
        unsafe {
            // Unconsumed: destructor deletes.
            let cap = new_legacy_capsule(Counted::legacy(&COUNT));
            assert_eq!(capsule_kind(cap), CapsuleKind::Legacy);
            assert!(take_versioned(cap).is_none(), "wrong kind is not consumed");
            assert_eq!(name_of(cap), LEGACY_NAME);
            ffi::Py_DECREF(cap);
            assert_eq!(COUNT.load(Ordering::SeqCst), 1);

            // Consumed: the taker deletes.
            let cap = new_legacy_capsule(Counted::legacy(&COUNT));
            let p = take_legacy(cap).unwrap();
            assert_eq!(name_of(cap), USED_LEGACY_NAME);
            assert_eq!(capsule_kind(cap), CapsuleKind::UsedLegacy);
            assert!(take_legacy(cap).is_none());
            ffi::Py_DECREF(cap);
            assert_eq!(COUNT.load(Ordering::SeqCst), 1);
            delete_legacy(p.as_ptr());
            assert_eq!(COUNT.load(Ordering::SeqCst), 2);
            assert!(no_error());
        }
    });
}

#[test]
fn non_capsules_and_foreign_capsules_raise_nothing() {
    with_gil(|| {
        // SAFETY: GIL held; every object is created and released here.
        unsafe {
            let int = ffi::PyLong_FromLong(42);
            assert_eq!(capsule_kind(int), CapsuleKind::NotCapsule);
            assert!(take_versioned(int).is_none());
            assert!(take_legacy(int).is_none());
            assert!(peek_versioned(int).is_none());
            assert!(exchange_api_from_capsule(int).is_none());
            assert!(no_error());
            ffi::Py_DECREF(int);

            assert_eq!(capsule_kind(ptr::null_mut()), CapsuleKind::NotCapsule);
            assert!(take_versioned(ptr::null_mut()).is_none());

            static mut DUMMY: u8 = 0;
            let other =
                ffi::PyCapsule_New(ptr::addr_of_mut!(DUMMY).cast(), c"something".as_ptr(), None);
            assert_eq!(capsule_kind(other), CapsuleKind::OtherCapsule);
            assert!(take_versioned(other).is_none());
            ffi::Py_DECREF(other);
            let unnamed = ffi::PyCapsule_New(ptr::addr_of_mut!(DUMMY).cast(), ptr::null(), None);
            assert_eq!(capsule_kind(unnamed), CapsuleKind::OtherCapsule);
            assert!(take_legacy(unnamed).is_none());
            ffi::Py_DECREF(unnamed);
            assert!(no_error());
        }
    });
}

#[test]
fn destructor_preserves_pending_exception() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    with_gil(|| {
        // SAFETY: GIL held; the pending exception is cleared at the end.
        unsafe {
            let cap = new_versioned_capsule(Counted::versioned(&COUNT));
            ffi::PyErr_SetString(ffi::PyExc_ValueError, c"pending".as_ptr());
            ffi::Py_DECREF(cap);
            assert_eq!(COUNT.load(Ordering::SeqCst), 1);
            let err = ffi::PyErr_Occurred();
            assert!(!err.is_null());
            assert_ne!(ffi::PyErr_GivenExceptionMatches(err, ffi::PyExc_ValueError), 0);
            ffi::PyErr_Clear();
        }
    });
}

#[test]
fn null_deleter_is_tolerated() {
    with_gil(|| {
        let p = NonNull::from(Box::leak(Box::new(DLManagedTensorVersioned {
            version: DLPackVersion::CURRENT,
            manager_ctx: ptr::null_mut(),
            deleter: None,
            flags: 0,
            dl_tensor: EMPTY,
        })));
        // SAFETY: GIL held; with no deleter the capsule never frees `p`, so
        // we reclaim it ourselves after the capsule is gone.
        unsafe {
            let cap = new_versioned_capsule(p);
            ffi::Py_DECREF(cap);
            delete_versioned(p.as_ptr()); // no-op: NULL deleter
            delete_versioned(ptr::null_mut()); // no-op: NULL pointer
            drop(Box::from_raw(p.as_ptr()));
        }
        assert!(no_error());
    });
}

#[test]
fn exchange_api_capsule() {
    static API: DLPackExchangeAPI = DLPackExchangeAPI {
        header: DLPackExchangeAPIHeader {
            version: DLPackVersion::CURRENT,
            prev_api: ptr::null_mut(),
        },
        managed_tensor_allocator: None,
        managed_tensor_from_py_object_no_sync: None,
        managed_tensor_to_py_object_no_sync: None,
        dltensor_from_py_object_no_sync: None,
        current_work_stream: None,
    };
    with_gil(|| {
        // SAFETY: GIL held; the capsule points at a 'static table.
        unsafe {
            let cap = ffi::PyCapsule_New(
                ptr::from_ref(&API).cast_mut().cast(),
                EXCHANGE_API_NAME.as_ptr(),
                None,
            );
            let api = exchange_api_from_capsule(cap).unwrap();
            assert!(ptr::eq(api, &API));
            assert_eq!(capsule_kind(cap), CapsuleKind::OtherCapsule);
            ffi::Py_DECREF(cap);
        }
        assert!(no_error());
    });
}
