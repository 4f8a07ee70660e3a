import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the result is a torch.Tensor

import image_kernel  # noqa: E402


def expected_gray(img):
    rgb = np.asarray(img, dtype=np.float32)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255.0


def random_image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_numpy_image_to_torch_tensor():
    img = random_image(5, 7)
    gray = image_kernel.to_gray(img)
    assert isinstance(gray, torch.Tensor)
    assert gray.dtype == torch.float32 and tuple(gray.shape) == (5, 7)
    assert gray.is_contiguous()
    np.testing.assert_allclose(gray.numpy(), expected_gray(img), rtol=1e-6, atol=1e-6)


def test_known_colours():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    gray = image_kernel.to_gray(img)
    np.testing.assert_allclose(gray.tolist(), [[0.0, 1.0, 0.299, 0.114]], rtol=1e-6)


def test_torch_and_read_only_inputs():
    img = random_image(4, 3, seed=1)
    from_torch = image_kernel.to_gray(torch.from_numpy(img))
    ro = img.copy()
    ro.setflags(write=False)  # read-only arrays fit a read-only parameter
    from_ro = image_kernel.to_gray(ro)
    from_bytes = image_kernel.to_gray(memoryview(img.tobytes()).cast("B", img.shape))
    for gray in (from_torch, from_ro, from_bytes):
        assert torch.equal(gray, from_torch)
    np.testing.assert_allclose(from_torch.numpy(), expected_gray(img), rtol=1e-6, atol=1e-6)


def test_result_owns_its_memory():
    img = random_image(3, 3, seed=2)
    gray = image_kernel.to_gray(img)
    assert not np.shares_memory(gray.numpy(), img)
    gray.fill_(0.5)  # a new, writable tensor: the input is untouched
    np.testing.assert_array_equal(img, random_image(3, 3, seed=2))
    # Zero-copy out: the tensor wraps the Rust buffer (memory torch did not
    # allocate, so its storage cannot be resized), not a copy of it.
    assert not gray.untyped_storage().resizable()


def test_empty_image():
    gray = image_kernel.to_gray(np.zeros((0, 4, 3), dtype=np.uint8))
    assert tuple(gray.shape) == (0, 4)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 4), dtype=np.uint8),  # not 3 channels
        np.zeros((4, 4), dtype=np.uint8),  # not 3-D
        np.zeros((4, 4, 3), dtype=np.float32),  # not uint8
        np.zeros((4, 8, 3), dtype=np.uint8)[:, ::2],  # not C-contiguous
        [[[0, 0, 0]]],  # not an array
    ],
)
def test_wrong_input_is_a_type_error(bad):
    with pytest.raises(TypeError) as e:
        image_kernel.to_gray(bad)
    msg = str(e.value)
    assert msg.startswith("to_gray(): incompatible function arguments.")
    assert "shape=(*, *, 3)" in msg and "dtype=uint8" in msg and "order='C'" in msg
    assert "Invoked with types: " in msg


def test_signature():
    assert image_kernel.to_gray.__doc__.startswith(
        "to_gray(img: ndarray[dtype=uint8, shape=(*, *, 3), order='C', writable=False])"
        " -> torch.Tensor[dtype=float32, shape=(*, *)"
    )
