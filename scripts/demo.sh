#!/usr/bin/env bash
# Builds the example module and shows zero-copy exchange with NumPy,
# PyTorch and JAX.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
exec env -u RUST_BACKTRACE "$root/.venv/bin/python" "$root/scripts/demo.py"
