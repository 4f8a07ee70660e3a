#!/usr/bin/env bash
# Builds the conformance module `ndbind_test` (release) into .venv.
# Incremental: cargo rebuilds only what changed; maturin reinstalls the wheel.
# NDBIND_VENV=DIR builds into another, already prepared venv instead (used by
# scripts/test-versions.sh, which also gives each version its CARGO_TARGET_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${NDBIND_VENV:-}" ]]; then
    bash "$root/scripts/venv.sh"
fi
cd "$root"
export VIRTUAL_ENV="${NDBIND_VENV:-$root/.venv}"
# pyo3-ffi's build script reads the interpreter from PYO3_PYTHON: the venv's.
export PYO3_PYTHON="$VIRTUAL_ENV/bin/python"
# maturin would otherwise pick up a different interpreter from PATH.
export PATH="$VIRTUAL_ENV/bin:$PATH"
# Keep maturin's output only when it fails (its progress lines are noise).
if ! out=$(maturin develop --release -q --features chrono -m python_tests/Cargo.toml 2>&1); then
    printf '%s\n' "$out" >&2
    echo "build.sh: maturin failed" >&2
    exit 1
fi
python -c 'import ndbind_test' # fails loudly if the build did not land
# Type stubs (and py.typed) next to the installed package, for editors, mypy,
# pyright and stubtest (scripts/typecheck.sh).
site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
env -u RUST_BACKTRACE python -m ndbind_stubgen ndbind_test -o "$site" --package -q 2>/dev/null \
    || { echo "build.sh: stub generation failed" >&2; env -u RUST_BACKTRACE python -m ndbind_stubgen ndbind_test -o "$site" --package; exit 1; }
