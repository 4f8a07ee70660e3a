//! An image kernel: a read-only `(H, W, 3)` uint8 image from any framework
//! (NumPy, torch, JAX, a buffer) in, a new `torch.Tensor` out, no copy on
//! either side.

use ndbind::array::{AlignedVec, ArrayOut, CContig, NdArray, Shape2, Shape3, Torch, ANY};
use ndbind::prelude::*;

/// The input: uint8, shape `(*, *, 3)`, C-contiguous. Without `Writable`,
/// read-only arrays (a NumPy array with `writeable=False`, `bytes`, JAX)
/// are accepted too. Anything else is refused before the call with
/// nanobind's "incompatible function arguments" `TypeError`.
type Rgb = NdArray<u8, (Shape3<ANY, ANY, 3>, CContig)>;

/// The output: a float32 `(H, W)` torch tensor that owns a Rust buffer.
type Gray = ArrayOut<Torch, f32, Shape2<ANY, ANY>>;

/// ITU-R BT.601 luma, scaled to `[0, 1]`.
fn luma(px: &[u8]) -> f32 {
    (0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2])) / 255.0
}

fn to_gray(img: Rgb) -> PyResult<Gray> {
    let (h, w) = (img.shape()[0] as usize, img.shape()[1] as usize);
    let view = img.view()?;
    // C-contiguous (the type says so): one flat slice, three bytes a pixel.
    let pixels = view.as_slice().expect("a C-contiguous view is one slice");
    let mut px = pixels.chunks_exact(3);
    // A buffer whose size Python chose is allocated fallibly
    // (`MemoryError`, not an abort), 64-byte aligned.
    let gray = AlignedVec::from_fn(h * w, |_| luma(px.next().expect("h * w pixels")))?;
    // The tensor takes ownership of the buffer: no copy; freed when torch
    // lets go of it.
    ArrayOut::from_aligned(gray, &[h, w])
}

ndbind::module!(image_kernel, |m| {
    m.doc("ndbind example: an image kernel returning torch tensors.")?;
    m.def(
        "to_gray",
        to_gray,
        (arg("img"), doc("Grayscale (H, W) float32 in [0, 1] of an (H, W, 3) uint8 RGB image.")),
    )?;
    Ok(())
});
