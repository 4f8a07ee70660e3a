"""ndbind demo: functions bound from Rust, and zero-copy array exchange
with NumPy, PyTorch and JAX (run by scripts/demo.sh)."""
import ndbind_test as t


def section(title):
    print(f"\n== {title}")


section("functions")
print("add(1, 2)        =", t.add(1, 2))
print("add(40, b=2)     =", t.add(40, b=2))
print("describe(2.5)    =", t.describe(2.5))
print("add.__doc__      =", t.add.__doc__.splitlines()[0])
try:
    t.add("x")
except TypeError as e:
    print("add('x') raised TypeError:", str(e).splitlines()[0])
try:
    t.panic()
except RuntimeError as e:
    print("panic() raised", type(e).__name__ + ":", e)

if hasattr(t, "shape"):
    import numpy as np
    import torch
    import jax.numpy as jnp

    section("arrays in: Rust sees the caller's memory (no copy)")
    a = np.zeros(5, np.float32)
    t.fill_arange(a)
    print("NumPy  after fill_arange:", a)
    ta = torch.zeros(5)
    t.fill_arange(ta)
    print("torch  after fill_arange:", ta)
    print("JAX    sum_f64(jnp.ones((2, 3)))  =", t.sum_f64(jnp.ones((2, 3), dtype=jnp.float64)) if hasattr(jnp, "float64") else "")
    x = np.arange(12.0).reshape(3, 4)[:, ::-2]
    print("strided view", x.strides, "-> sum_f64 =", t.sum_f64(x), "(NumPy:", x.sum(), ")")

if hasattr(t, "ret_numpy"):
    section("arrays out: Rust-owned buffers, zero-copy")
    r = t.ret_numpy()
    print("ret_numpy()  ->", type(r).__name__, r.dtype, r.shape, "owner freed so far:", t.destruct_count())
    del r
    print("after del    -> owner freed so far:", t.destruct_count())
    print("ret_torch()  ->", t.ret_torch())
    print("ret_jax()    ->", t.ret_jax())
