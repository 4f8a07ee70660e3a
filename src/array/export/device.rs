//! Memory on any DLPack device out ([`ArrayOut::from_device`]): the
//! constructor, its checks, and the export path kept off the common one
//! (device memory is never read from the host).

use std::ffi::c_void;
use std::marker::PhantomData;

use ndbind_dlpack::DLDevice;

use crate::array::array_object;
use crate::array::dtype::{DType, Scalar};
use crate::array::export::dims::OutDims;
use crate::array::export::dlpack::ExportOptions;
use crate::array::export::{
    export_out, parent_owner, raw_dims, ArrayOut, OutParts, Target, TargetKind,
};
use crate::array::frameworks::{JAX, TENSORFLOW, TORCH};
use crate::array::owner::OwnerBox;
use crate::array::requirements::{Constraint, Requirements};
use crate::core::caster::ReturnCtx;
use crate::core::error::{PyErr, PyResult};
use crate::core::extras::RvPolicy;
use crate::core::object::Object;

impl<F: Target, T: Scalar, C: Constraint> ArrayOut<F, T, C> {
    /// Memory on any DLPack device (CUDA, ROCm, oneAPI, Metal, …, or the
    /// CPU), owned by `owner`, exported zero-copy: `data` is the device
    /// pointer, or the opaque handle of devices whose buffers are not
    /// addresses (OpenCL `cl_mem`, Vulkan, Metal, WebGPU), and
    /// `byte_offset` the bytes from it to the first element (passed on
    /// as DLPack's `byte_offset`, never folded into `data`). Strides are
    /// in elements (C order if `None`).
    ///
    /// `owner` is dropped exactly once, when the last consumer lets go:
    /// [`OwnerBox::new`] takes any Rust value (the allocation's handle;
    /// dropped with the GIL held), `OwnerBox::Python` keeps a Python
    /// object alive, `OwnerBox::None` leaves it to the return policy
    /// (`reference`, `reference_internal`).
    ///
    /// ndbind never reads device memory from the host. Non-CPU memory goes
    /// to torch, JAX, TensorFlow, `ArrayApi` (`__dlpack__` and
    /// `__dlpack_device__`; the buffer protocol is refused) and `Capsule`
    /// targets; `Numpy` and `MemoryView` targets refuse it (`BufferError`),
    /// and so does a return policy that would copy it (`copy`, or
    /// `automatic` without an owner). Pinned host memory (`kDLCUDAHost`,
    /// `kDLROCMHost`) is exported as what it is: a consumer that knows the
    /// device takes it (torch does not); to hand it to NumPy, describe it
    /// as [`Device::CPU`](crate::array::Device::CPU) yourself once the
    /// device work writing it is done. `ValueError` when the extent does
    /// not fit the address space or `data` is NULL for a non-empty array.
    ///
    /// ```
    /// use ndbind::array::{ArrayOut, Device, OwnerBox, Torch};
    /// use ndbind::prelude::*;
    /// use std::ffi::c_void;
    ///
    /// /// A buffer of `f32` from a CUDA library (here a stand-in).
    /// struct CudaBuffer { ptr: *mut c_void, len: usize }
    /// // SAFETY: CUDA memory may be freed from any thread.
    /// unsafe impl Send for CudaBuffer {}
    /// impl Drop for CudaBuffer {
    ///     fn drop(&mut self) { /* cudaFree(self.ptr) */ }
    /// }
    /// # impl CudaBuffer {
    /// #     fn zeros(len: usize) -> PyResult<CudaBuffer> { Ok(CudaBuffer { ptr: 0x1000 as *mut c_void, len }) }
    /// # }
    ///
    /// fn zeros_on_gpu(n: usize) -> PyResult<ArrayOut<Torch, f32>> {
    ///     let buf = CudaBuffer::zeros(n)?; // filled and synchronised
    ///     let (ptr, len) = (buf.ptr, buf.len);
    ///     // SAFETY: `buf` owns `len` f32 on GPU 0, ready on any stream,
    ///     // freed only when it is dropped.
    ///     unsafe { ArrayOut::from_device(Device::cuda(0), ptr, 0, &[len], None, OwnerBox::new(buf)) }
    /// }
    /// # ndbind::module!(doc_ext, |m| { m.def("zeros_on_gpu", zeros_on_gpu, arg("n"))?; Ok(()) });
    /// ```
    ///
    /// # Safety
    /// `data + byte_offset` addresses live elements of `T` on `device`
    /// covering `shape`/`strides`, valid for as long as `owner` lives (for
    /// `OwnerBox::None`: as long as the return policy requires, see
    /// [`ArrayOut::from_raw`]), which consumers may read and write (even a
    /// read-only export: torch ignores the flag) on any stream of that
    /// device: the work that produced the data must be finished or
    /// ordered before the consumer's (ndbind synchronises nothing). For
    /// `Device::CPU` the rules of [`ArrayOut::from_raw`] hold too.
    pub unsafe fn from_device(
        device: crate::array::Device,
        data: *mut c_void,
        byte_offset: u64,
        shape: &[usize],
        strides: Option<&[isize]>,
        owner: OwnerBox,
    ) -> PyResult<Self> {
        let at = DeviceAt { device, data, byte_offset, dtype: T::DTYPE };
        let parts = device_parts(at, raw_dims(shape, strides)?, owner, C::REQ.read_only)?;
        Ok(ArrayOut { parts, _m: PhantomData })
    }
}

/// Where [`ArrayOut::from_device`] data lives.
struct DeviceAt {
    device: DLDevice,
    data: *mut c_void,
    byte_offset: u64,
    dtype: DType,
}

/// [`ArrayOut::from_device`]'s body: the extent is checked as a foreign
/// DLPack tensor's would be (nothing is read).
#[inline(never)]
fn device_parts(
    at: DeviceAt,
    dims: OutDims,
    owner: OwnerBox,
    read_only: bool,
) -> PyResult<OutParts> {
    let DeviceAt { device, data, byte_offset, dtype } = at;
    // SAFETY: validation reads the dims only.
    unsafe { dims.to_device_layout(data, byte_offset, device, dtype, read_only) }
        .map_err(|e| PyErr::value_error(format!("invalid array on device {device}: {e}")))?;
    let owner = match owner {
        OwnerBox::None => None,
        o => Some(o),
    };
    Ok(OutParts { data, dtype, dims, owner, plain: false, read_only, device, byte_offset })
}

/// [`export_out`] for [`ArrayOut::from_device`] arrays: memory on another
/// device, or CPU memory with a byte offset (kept out of the common path).
/// Device memory is never read here: NumPy, `memoryview` and copies are
/// refused for it; everything else goes through an `ndbind.ndarray` and
/// DLPack (its Python-level protocol for torch and JAX, which pass the
/// consumer's stream). CPU memory that NumPy, the buffer protocol or a
/// copy takes goes on with the offset folded into the address.
#[cold]
#[inline(never)]
pub(super) fn export_device(
    mut parts: OutParts,
    req: &Requirements,
    kind: TargetKind,
    ctx: &ReturnCtx,
) -> PyResult<Object> {
    let host = parts.device.is_cpu();
    let copies = matches!(
        (&parts.owner, ctx.policy()),
        (Some(_), RvPolicy::Copy)
            | (
                None,
                RvPolicy::Automatic
                    | RvPolicy::AutomaticReference
                    | RvPolicy::Copy
                    | RvPolicy::Move
                    | RvPolicy::TakeOwnership
            )
    );
    let host_only = matches!(kind, TargetKind::Numpy | TargetKind::MemoryView);
    if host && (copies || host_only) {
        // CPU memory: the offset is an address offset.
        parts.data = (parts.data as *mut u8).wrapping_add(parts.byte_offset as usize).cast();
        (parts.byte_offset, parts.device) = (0, DLDevice::CPU);
        return export_out(parts, req, kind, ctx);
    }
    // `parts.owner` drops on every refusal below, before any object owns
    // the memory.
    if copies {
        return Err(device_refused(parts.device, "copied by the return policy"));
    }
    if host_only {
        let what = if kind == TargetKind::Numpy { "a numpy.ndarray" } else { "a memoryview" };
        return Err(device_refused(parts.device, what));
    }
    let OutParts { data, dtype, dims, owner, read_only, device, byte_offset, .. } = parts;
    let owner = match (owner, ctx.policy()) {
        (Some(o), _) => o,
        (None, RvPolicy::Reference) => OwnerBox::None,
        (None, RvPolicy::ReferenceInternal) => parent_owner(ctx)?,
        _ => {
            return Err(PyErr::runtime_error(
                "return policy none refuses to create a new array object",
            ))
        }
    };
    // SAFETY: the constructor's contract: `data` + `byte_offset` covers
    // `dims` on `device`, kept alive by `owner`; nothing here reads it.
    let layout = unsafe { dims.to_device_layout(data, byte_offset, device, dtype, false) }
        .map_err(|e| PyErr::value_error(format!("invalid array on device {device}: {e}")))?;
    let obj = array_object::new(layout, owner, read_only)?;
    let (l, ro) = array_object::layout_of(obj.borrow()).expect("fresh ndbind.ndarray");
    match kind {
        TargetKind::ArrayApi => Ok(obj),
        // A read-only array goes out versioned: only that carries the flag.
        TargetKind::Capsule => {
            let opts = ExportOptions { versioned: ro, read_only: ro, ..ExportOptions::NONE };
            crate::array::export::dlpack::export(&obj, l, opts)
        }
        TargetKind::Torch => TORCH.dlpack_importer()?.call(&[obj.borrow()]),
        TargetKind::Jax => JAX.dlpack_importer()?.call(&[obj.borrow()]),
        TargetKind::TensorFlow => {
            let cap = crate::array::export::dlpack::export(&obj, l, ExportOptions::NONE)?;
            TENSORFLOW.dlpack_importer()?.call(&[cap.borrow()])
        }
        // Went on (CPU) or refused above.
        TargetKind::Numpy | TargetKind::MemoryView => {
            Err(PyErr::runtime_error("host-only target for device memory"))
        }
    }
}

/// The error for device memory that would have to be read from the host.
#[cold]
fn device_refused(device: DLDevice, what: &str) -> PyErr {
    PyErr::buffer_error(format!(
        "an array on device {device} ({}, {}) cannot be {}{what}: ndbind never reads device memory \
         from the host (return it to a framework that takes the device, such as torch, and copy it there)",
        device.device_type.0,
        device.device_id,
        if what.starts_with("copied") { "" } else { "returned as " },
    ))
}
