//! Beyond CONFORMANCE (issue 19, items 1 and 3): arrays on any DLPack
//! device exported zero-copy (`ArrayOut::from_device`), and the device
//! accessors of imported arrays. The device pointers the tests pass are
//! fake (`0xdead0000`): ndbind must never dereference them, which is what
//! the tests check. Submodule `ndbind_test.devexport`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndbind::array::{
    AlignedVec, AnyDType, ArrayApi, ArrayOut, Capsule, Cuda, Device, DeviceType, Jax, MemoryView,
    NdArray, Numpy, OwnerBox, Target, Torch,
};
use ndbind::prelude::*;

static DROPS: AtomicUsize = AtomicUsize::new(0);
/// Drops that ran without the GIL (owners are dropped with it: DESIGN.md).
static DROPS_WITHOUT_GIL: AtomicUsize = AtomicUsize::new(0);

/// Stands for the handle of a device allocation (its `Drop` would free
/// it): counts its drops.
struct DeviceAlloc;

impl Drop for DeviceAlloc {
    fn drop(&mut self) {
        if !crate::arrays_out::gil_held() {
            DROPS_WITHOUT_GIL.fetch_add(1, Ordering::SeqCst);
        }
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

type Dev = (i32, i32);

/// An f32 array at the fake device address `ptr` (+ `byte_offset`) on
/// `device`, owned by a counted Rust value or by the Python `owner`.
fn fake<F: Target>(
    device: Dev,
    ptr: usize,
    shape: Vec<usize>,
    strides: Option<Vec<isize>>,
    byte_offset: u64,
    read_only: bool,
    owner: Option<Object>,
) -> PyResult<ArrayOut<F, f32>> {
    let device = Device::new(DeviceType(device.0), device.1);
    if device.is_cpu() {
        // A fake address on the CPU would be read: not for this function.
        return Err(PyErr::value_error("fake device pointers only (not kDLCPU)"));
    }
    let owner = match owner {
        Some(o) => OwnerBox::Python(o),
        None => OwnerBox::new(DeviceAlloc),
    };
    // SAFETY: not a CPU address (checked above), and ndbind never reads
    // memory on another device: the tests check that nothing does.
    let out = unsafe {
        ArrayOut::from_device(
            device,
            ptr as *mut c_void,
            byte_offset,
            &shape,
            strides.as_deref(),
            owner,
        )
    }?;
    Ok(if read_only { out.read_only() } else { out })
}

/// Elements 2, 4, 6 of a counted CPU buffer `0..8`, described as its base
/// address plus a byte offset of 8 and a stride of 2.
fn cpu_offset<F: Target>() -> PyResult<ArrayOut<F, f32>> {
    let buf = AlignedVec::from_fn(8, |i| i as f32)?;
    let ptr = buf.as_ptr() as *mut c_void;
    // SAFETY: the buffer (moved into the owner; its heap memory stays put)
    // holds 8 f32: offset 8 bytes = element 2, then 4 and 6.
    unsafe {
        ArrayOut::from_device(
            Device::CPU,
            ptr,
            8,
            &[3],
            Some(&[2]),
            OwnerBox::new((buf, DeviceAlloc)),
        )
    }
}

/// What an imported array says about its memory: raw data pointer, byte
/// offset, device, first-element pointer.
fn info<C: ndbind::array::Constraint>(a: NdArray<AnyDType, C>) -> (usize, u64, Device, usize) {
    (a.raw_data() as usize, a.byte_offset(), a.device(), a.as_ptr() as usize)
}

macro_rules! targets {
    ($m:ident, $($name:literal => $F:ty),*) => {$(
        $m.def(
            $name,
            fake::<$F>,
            (
                arg("device"),
                arg("ptr"),
                arg("shape"),
                arg("strides").default(()),
                arg("byte_offset").default(0u64),
                arg("read_only").default(false),
                arg("owner").default(()),
            ),
        )?;
    )*};
}

pub fn bind(m: &Module) -> PyResult<()> {
    let m = m.submodule("devexport", "Device export and device accessors (issue 19).")?;
    m.def("drops", || DROPS.load(Ordering::SeqCst), ())?;
    m.def("drops_without_gil", || DROPS_WITHOUT_GIL.load(Ordering::SeqCst), ())?;
    targets!(m,
        "to_numpy" => Numpy, "to_torch" => Torch, "to_jax" => Jax, "to_array" => ArrayApi,
        "to_capsule" => Capsule, "to_memoryview" => MemoryView);
    // No owner: the return policy decides.
    let unowned = |device: Dev, ptr: usize, n: usize| -> PyResult<ArrayOut<ArrayApi, f32>> {
        let device = Device::new(DeviceType(device.0), device.1);
        if device.is_cpu() {
            return Err(PyErr::value_error("fake device pointers only (not kDLCPU)"));
        }
        // SAFETY: as in `fake`; nobody owns fake memory.
        unsafe { ArrayOut::from_device(device, ptr as *mut c_void, 0, &[n], None, OwnerBox::None) }
    };
    m.def("ref_array", unowned, (arg("device"), arg("ptr"), arg("n"), RvPolicy::Reference))?;
    m.def("auto_array", unowned, (arg("device"), arg("ptr"), arg("n")))?;
    m.def(
        "copy_array",
        |device: Dev, ptr: usize| fake::<ArrayApi>(device, ptr, vec![4], None, 0, false, None),
        (arg("device"), arg("ptr"), RvPolicy::Copy),
    )?;
    m.def("cpu_offset_numpy", cpu_offset::<Numpy>, ())?;
    m.def("cpu_offset_torch", cpu_offset::<Torch>, ())?;
    m.def("cpu_offset_array", cpu_offset::<ArrayApi>, ())?;
    m.def("info", info::<()>, arg("a"))?;
    m.def("cuda_info", info::<Cuda>, arg("a"))?;
    Ok(())
}
