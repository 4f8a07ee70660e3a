//! `cargo bench --bench pure_rust`: the pure-Rust parts of the array
//! pipeline, timed without an interpreter so that regressions show in
//! isolation: PEP 3118 format parsing, DLPack tensor validation,
//! requirement checks, contiguity and the alias (overlap) check.
//!
//! Prints the median ns per operation over 15 samples of ~20 ms. Under
//! `cargo test --benches` (no `--bench` argument) every case runs once, as a
//! smoke test.

use std::ffi::c_void;
use std::hint::black_box;
use std::time::Instant;

use ndbind::array::format::parse_format;
use ndbind::array::{ArrayHandle, CContig, DType, NdArray, Shape2, Writable, ANY};
use ndbind::dlpack::layout::{byte_bounds, fill_c_strides, is_c_contiguous, ranges_overlap};
use ndbind_dlpack::{DLDevice, DLTensor};

fn tensor(data: *mut c_void, shape: &mut [i64], strides: &mut [i64], dtype: DType) -> DLTensor {
    DLTensor {
        data,
        device: DLDevice::CPU,
        ndim: shape.len() as i32,
        dtype,
        shape: shape.as_mut_ptr(),
        strides: strides.as_mut_ptr(),
        byte_offset: 0,
    }
}

fn handle(data: &mut [f32], shape: &[i64], strides: &[i64]) -> ArrayHandle {
    let (mut sh, mut st) = (shape.to_vec(), strides.to_vec());
    let t = tensor(data.as_mut_ptr().cast(), &mut sh, &mut st, DType::FLOAT32);
    // SAFETY: `data` holds the elements the shape and strides cover.
    ArrayHandle::from_layout(unsafe { ndbind_dlpack::validate(&t, false) }.expect("valid"))
}

struct Bench {
    timed: bool,
    rows: Vec<(String, f64)>,
}

impl Bench {
    fn run<R>(&mut self, name: &str, mut f: impl FnMut() -> R) {
        if !self.timed {
            black_box(f());
            return;
        }
        // Calibrate a batch of ~20 ms, then take 15 samples.
        let mut n = 1u64;
        loop {
            let t = Instant::now();
            for _ in 0..n {
                black_box(f());
            }
            if t.elapsed().as_millis() >= 20 {
                break;
            }
            n *= 2;
        }
        let mut samples: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(f());
                }
                t.elapsed().as_nanos() as f64 / n as f64
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        self.rows.push((name.to_owned(), samples[samples.len() / 2]));
    }
}

fn main() {
    let mut b = Bench { timed: std::env::args().any(|a| a == "--bench"), rows: Vec::new() };

    // Format strings of buffer-protocol exporters (memoryview, array.array,
    // NumPy) and ones ndbind must reject.
    for fmt in ["f", "<d", "=q", "Zf", "@?", ">i", "T{f:x:}", "2f"] {
        b.run(&format!("parse_format({fmt:?})"), || parse_format(black_box(fmt.as_bytes()), 8));
    }

    let mut data = vec![0f32; 64];
    let p: *mut c_void = data.as_mut_ptr().cast();
    for (name, shape, strides) in [
        ("validate 2-D C", vec![4i64, 4], vec![4i64, 1]),
        ("validate 4-D transposed", vec![2, 2, 2, 2], vec![1, 2, 4, 8]),
        ("validate 8-D", vec![2, 2, 2, 2, 2, 2, 1, 1], vec![32, 16, 8, 4, 2, 1, 1, 1]),
    ] {
        let (mut sh, mut st) = (shape.clone(), strides.clone());
        let t = tensor(p, &mut sh, &mut st, DType::FLOAT32);
        // SAFETY: `data` (64 floats) covers each layout.
        b.run(name, || unsafe { ndbind_dlpack::validate(black_box(&t), false) }.is_ok());
    }

    let c = handle(&mut data, &[4, 4], &[4, 1]);
    let f = handle(&mut data, &[4, 4], &[1, 4]);
    const ANY_ARRAY: ndbind::array::Requirements = NdArray::<ndbind::array::AnyDType>::REQ;
    const F32_X4_C: ndbind::array::Requirements = NdArray::<f32, (Shape2<ANY, 4>, CContig)>::REQ;
    const F64_W: ndbind::array::Requirements = NdArray::<f64, Writable>::REQ;
    b.run("check: any array", || black_box(&ANY_ARRAY).accepts(black_box(&c)));
    b.run("check: f32 (*, 4) C, accepted", || black_box(&F32_X4_C).accepts(black_box(&c)));
    b.run("check: f32 (*, 4) C, F-ordered rejected", || {
        black_box(&F32_X4_C).accepts(black_box(&f))
    });
    b.run("check: f64 writable, dtype rejected", || black_box(&F64_W).accepts(black_box(&c)));

    let shape4 = [3i64, 5, 7, 9];
    b.run("fill_c_strides 4-D", || {
        let mut s = [0i64; 4];
        fill_c_strides(black_box(&shape4), &mut s);
        s
    });
    let strides4 = [315i64, 63, 9, 1];
    b.run("is_c_contiguous 4-D", || is_c_contiguous(black_box(&shape4), black_box(&strides4)));

    // The alias check of a call with three array arguments, one writable.
    let base = data.as_ptr() as usize;
    b.run("overlap check, 3 arguments", || {
        let a = byte_bounds(black_box(base), &[16], &[1], 4).unwrap();
        let x = byte_bounds(black_box(base + 64), &[16], &[1], 4).unwrap();
        let out = byte_bounds(black_box(base + 128), &[4, 4], &[-4, 1], 4).unwrap();
        ranges_overlap(out, a) || ranges_overlap(out, x)
    });

    if b.timed {
        println!("{:<44} {:>10}", "operation", "ns (median)");
        for (name, ns) in &b.rows {
            println!("{name:<44} {ns:>10.2}");
        }
    } else {
        println!("pure_rust: every case ran once (pass --bench, or use cargo bench, to time them)");
    }
}
