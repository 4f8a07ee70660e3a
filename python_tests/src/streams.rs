//! `ndbind_test.streams`: streams on import (`__dlpack__(stream=…)`, the
//! exchange API's current work stream) and `__cuda_array_interface__`.
//! Every test uses fake producers: no device memory is ever touched.

use ndbind::array::{
    AnyDType, Cpu, Cuda, NdArray, NoSync, OnStream, PerThreadStream, Stream, StreamSource, Writable,
};
use ndbind::dlpack::DLDevice;
use ndbind::prelude::*;

/// A library's own stream: `0x5000 + device id`.
struct LibStream;
impl StreamSource for LibStream {
    fn stream(device: DLDevice) -> Option<Stream> {
        Some(Stream::from_raw(0x5000 + device.device_id as isize))
    }
}

/// What a binding sees of an imported array: data address, shape,
/// strides, read-only, device, stream.
type Seen = (usize, Vec<i64>, Vec<i64>, bool, ndbind::array::Device, Option<isize>);

fn seen<T: ndbind::array::DTypeSpec, C: ndbind::array::Constraint>(a: &NdArray<T, C>) -> Seen {
    (
        a.as_ptr() as usize,
        a.shape().to_vec(),
        a.strides().to_vec(),
        a.is_read_only(),
        a.device(),
        a.stream().map(Stream::as_raw),
    )
}

pub fn bind(m: &Module) -> PyResult<()> {
    let s = m.submodule("streams", "Streams on import; __cuda_array_interface__.")?;
    s.def("any", |a: NdArray<AnyDType>| seen(&a), arg("a"))?;
    s.def("cuda", |a: NdArray<f32, Cuda>| seen(&a), arg("a"))?;
    s.def("cpu", |a: NdArray<f32, Cpu>| seen(&a), arg("a"))?;
    s.def("writable", |a: NdArray<f32, Writable>| seen(&a), arg("a"))?;
    s.def("lib", |a: NdArray<f32, (Cuda, OnStream<LibStream>)>| seen(&a), arg("a"))?;
    s.def("any_lib", |a: NdArray<AnyDType, OnStream<LibStream>>| seen(&a), arg("a"))?;
    s.def("per_thread", |a: NdArray<AnyDType, OnStream<PerThreadStream>>| seen(&a), arg("a"))?;
    s.def("no_sync", |a: NdArray<f32, (OnStream<NoSync>, Cuda)>| seen(&a), arg("a"))?;
    Ok(())
}
