//! Streams: on which CUDA/ROCm stream a binding uses an array argument.
//!
//! The array-API `__dlpack__(stream=…)` protocol has the consumer name the
//! stream it will use the array on; the producer then orders its pending
//! work before that stream. ndbind passes a stream only for arguments on a
//! CUDA or ROCm device:
//!
//! - by default, the spec's default: the legacy default stream (CUDA `1`,
//!   ROCm `0`); an unconstrained parameter passes no stream at all (the
//!   spec's `None`, which means the same);
//! - with [`OnStream<S>`] in the parameter's constraints, the stream that
//!   `S` ([`StreamSource`]) gives for the argument's device, e.g. the
//!   binding library's own stream.
//!
//! Types publishing the DLPack C exchange API (torch) are read without
//! synchronisation; their current work stream (`current_work_stream`) is
//! then the array's stream: the binding runs its work on it (or makes its
//! own stream wait on it). With [`OnStream`] such arrays go through
//! `__dlpack__(stream=…)` instead, so that the producer synchronises.
//! `__cuda_array_interface__` producers report their own stream, which
//! the binding must wait on. [`NdArray::stream`](crate::array::NdArray::stream)
//! tells which stream applies. ndbind makes no CUDA call itself.

use std::ffi::c_void;
use std::marker::PhantomData;

use ndbind_dlpack::{DLDevice, DeviceType};

use crate::array::requirements::{Constraint, Requirements};

/// A CUDA or ROCm stream, numbered as the array-API `__dlpack__` protocol
/// and `__cuda_array_interface__` number them: the value is the stream
/// handle (`cudaStream_t` / `hipStream_t`), where CUDA's `1` and `2` are
/// `cudaStreamLegacy` and `cudaStreamPerThread`, and `-1` asks the
/// producer not to synchronise at all.
///
/// ```
/// use ndbind::array::Stream;
/// use ndbind::dlpack::DeviceType;
///
/// let s = Stream::from_handle(0x5000 as *mut std::ffi::c_void);
/// assert_eq!(s.as_raw(), 0x5000);
/// assert_eq!(Stream::default_for(DeviceType::CUDA), Some(Stream::CUDA_LEGACY_DEFAULT));
/// assert_eq!(Stream::default_for(DeviceType::ROCM), Some(Stream::ROCM_DEFAULT));
/// assert_eq!(Stream::default_for(DeviceType::CPU), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stream(isize);

impl Stream {
    /// CUDA's legacy default stream (`cudaStreamLegacy`, `1`).
    pub const CUDA_LEGACY_DEFAULT: Stream = Stream(1);
    /// CUDA's per-thread default stream (`cudaStreamPerThread`, `2`).
    pub const CUDA_PER_THREAD_DEFAULT: Stream = Stream(2);
    /// ROCm's default stream (`0`).
    pub const ROCM_DEFAULT: Stream = Stream(0);
    /// `-1`: the producer must not synchronise (the binding takes care of
    /// ordering itself).
    pub const NO_SYNC: Stream = Stream(-1);

    /// A stream from its handle (`cudaStream_t` / `hipStream_t`).
    #[inline]
    pub fn from_handle(handle: *mut c_void) -> Stream {
        Stream(handle as isize)
    }

    /// A stream from its protocol value (see the type's documentation).
    #[inline]
    pub const fn from_raw(raw: isize) -> Stream {
        Stream(raw)
    }

    /// The protocol value, as passed to `__dlpack__(stream=…)`.
    #[inline]
    pub const fn as_raw(self) -> isize {
        self.0
    }

    /// The stream handle to launch work on (`cudaStream_t` /
    /// `hipStream_t`; CUDA's `1` and `2` are its special handles).
    #[inline]
    pub fn as_handle(self) -> *mut c_void {
        self.0 as *mut c_void
    }

    /// The spec's default stream for a device type: the legacy default
    /// stream on CUDA and ROCm; `None` for devices without streams.
    #[inline]
    pub const fn default_for(device_type: DeviceType) -> Option<Stream> {
        match device_type {
            DeviceType::CUDA => Some(Stream::CUDA_LEGACY_DEFAULT),
            DeviceType::ROCM => Some(Stream::ROCM_DEFAULT),
            _ => None,
        }
    }

    /// A producer's stream handle as reported (NULL is the default
    /// stream): on CUDA, NULL becomes `1`, as the protocol forbids `0`.
    #[inline]
    pub(crate) fn from_producer(handle: *mut c_void, device_type: DeviceType) -> Stream {
        if handle.is_null() && device_type == DeviceType::CUDA {
            Stream::CUDA_LEGACY_DEFAULT
        } else {
            Stream::from_handle(handle)
        }
    }

    /// Whether ndbind may drop this stream when a producer refuses the
    /// `stream` keyword: only the legacy default stream (what `None`
    /// means) and `-1` (no synchronisation; the producer then
    /// synchronises with the default stream, more than asked).
    #[inline]
    pub(crate) fn may_be_omitted(self, device_type: DeviceType) -> bool {
        self == Stream::NO_SYNC || Stream::default_for(device_type) == Some(self)
    }
}

/// Whether arrays on this device type are ordered by streams (CUDA, ROCm).
#[inline]
pub(crate) const fn has_streams(device_type: DeviceType) -> bool {
    matches!(device_type, DeviceType::CUDA | DeviceType::ROCM)
}

/// Where an [`OnStream`] parameter's stream comes from: called at each
/// import of an argument on a CUDA or ROCm device, with that device.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a stream source",
    label = "not a `StreamSource`",
    note = "implement `ndbind::array::StreamSource` for a type whose `stream(device)` returns the stream the binding uses the array on, or use `PerThreadStream` or `NoSync`"
)]
pub trait StreamSource {
    /// The stream the binding will use an array on `device` on; `None`:
    /// the spec's default.
    fn stream(device: DLDevice) -> Option<Stream>;
}

/// CUDA's per-thread default stream (`2`); the default stream on ROCm,
/// which has no per-thread one.
pub struct PerThreadStream;
impl StreamSource for PerThreadStream {
    fn stream(device: DLDevice) -> Option<Stream> {
        (device.device_type == DeviceType::CUDA).then_some(Stream::CUDA_PER_THREAD_DEFAULT)
    }
}

/// `-1`: the producer must not synchronise (the binding orders its work
/// itself).
pub struct NoSync;
impl StreamSource for NoSync {
    fn stream(_device: DLDevice) -> Option<Stream> {
        Some(Stream::NO_SYNC)
    }
}

/// Array constraint: the binding uses the argument on the stream `S`
/// gives, for arguments on a CUDA or ROCm device.
///
/// ndbind passes that stream to `__dlpack__(stream=…)`, so that the
/// producer orders its pending work before it (without `OnStream`, a CUDA
/// or ROCm parameter passes the spec's default, the legacy default
/// stream). DLPack exchange-API producers (torch), otherwise read without
/// synchronisation, go through `__dlpack__` for such a parameter. An old
/// producer whose `__dlpack__` has no `stream` keyword is an error unless
/// the stream is the default one or [`NoSync`]. A
/// `__cuda_array_interface__` producer cannot be asked: its own stream is
/// the array's ([`NdArray::stream`](crate::array::NdArray::stream)).
///
/// ```
/// use ndbind::array::{Cuda, NdArray, OnStream, Stream, StreamSource};
/// use ndbind::dlpack::DLDevice;
///
/// /// The library's own stream for `device` (here a fixed handle).
/// struct LibStream;
/// impl StreamSource for LibStream {
///     fn stream(_device: DLDevice) -> Option<Stream> {
///         Some(Stream::from_handle(0x1234 as *mut std::ffi::c_void))
///     }
/// }
///
/// fn scale(a: NdArray<f32, (Cuda, OnStream<LibStream>)>) -> isize {
///     // The producer has ordered its writes before `LibStream`'s stream.
///     a.stream().map_or(0, |s| s.as_raw())
/// }
/// # ndbind::module!(doc_ext, |m| {
/// #     m.def("scale", scale, ndbind::arg("a"))?;
/// #     Ok(())
/// # });
/// ```
pub struct OnStream<S: StreamSource>(PhantomData<S>);

impl<S: StreamSource> Constraint for OnStream<S> {
    const REQ: Requirements =
        Requirements { stream: Some(StreamFn(S::stream)), ..Requirements::NONE };
}

/// A parameter's stream source, as stored in its [`Requirements`]
/// (compared by address).
#[derive(Clone, Copy)]
pub struct StreamFn(pub fn(DLDevice) -> Option<Stream>);

impl PartialEq for StreamFn {
    fn eq(&self, other: &StreamFn) -> bool {
        self.0 as usize == other.0 as usize
    }
}
impl Eq for StreamFn {}

impl std::fmt::Debug for StreamFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamFn({:#x})", self.0 as usize)
    }
}

/// The stream to pass to `__dlpack__` for an array on `device` for a
/// parameter with requirements `req`: `None` for devices without streams.
#[inline]
pub(crate) fn stream_for(req: &Requirements, device: DLDevice) -> Option<Stream> {
    if !has_streams(device.device_type) {
        return None;
    }
    match req.stream {
        Some(f) => (f.0)(device).or(Stream::default_for(device.device_type)),
        None => Stream::default_for(device.device_type),
    }
}
