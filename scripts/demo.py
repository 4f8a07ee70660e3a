"""ndbind demo: functions bound from Rust, and zero-copy array exchange
with NumPy, PyTorch and JAX (run by scripts/demo.sh)."""
import gc
import os
import warnings

os.environ.setdefault("JAX_PLATFORMS", "cpu")
warnings.filterwarnings("ignore")

import jax
import jax.numpy as jnp
import numpy as np
import torch

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

section("arrays in: Rust writes straight into the caller's memory")
a = np.zeros(5, np.float32)
t.fill_arange(a)
print("NumPy    fill_arange ->", a)
ta = torch.zeros(5)
t.fill_arange(ta)
print("torch    fill_arange ->", ta)
b = bytearray(5)
t.fill_arange(b)
print("bytearray fill_arange ->", list(b))
x = np.arange(12.0).reshape(3, 4)[:, ::-2]
print("NumPy view with strides", x.strides, "-> sum_f64 =", t.sum_f64(x), "(NumPy says", x.sum(), ")")
j = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
print("JAX      shape/dtype  ->", t.shape(j), t.dtype_name(j), "(read-only: JAX arrays are immutable)")
try:
    t.fill_arange(jnp.zeros(5, jnp.float32))
except TypeError:
    print("JAX      fill_arange  -> refused (TypeError), as a writable parameter must")
out = np.zeros(3)
try:
    t.add_into(out, np.ones(3), out)
except ValueError as e:
    print("aliasing a writable argument ->", e)

section("arrays out: Rust-owned buffers, zero-copy, freed exactly once")
before = t.destruct_count()
r = t.ret_numpy()
print("ret_numpy()    ->", type(r).__name__, r.dtype, r.shape, "owned by", r.base)
api = t.ret_array_api()
n, tt, jj = np.from_dlpack(api), torch.from_dlpack(api), jax.dlpack.from_dlpack(api)
n[0, 0] = 42.0
print("one Rust buffer, three views: NumPy", n[0, 0], "torch", tt[0, 0].item(), "JAX", float(jj[0, 0]))
print("same memory:", n.ctypes.data == tt.data_ptr() == jj.unsafe_buffer_pointer())
print("ret_torch()    ->", t.ret_torch().dtype, "ret_jax() ->", t.ret_jax().dtype, "ret_bf16_torch() ->", t.ret_bf16_torch().dtype)
del r, api, n, tt, jj
gc.collect()
print("buffers freed by Rust since the section started:", t.destruct_count() - before)
