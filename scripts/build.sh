#!/usr/bin/env bash
# Builds the conformance module `ndbind_test` (release) into .venv.
# Incremental: cargo rebuilds only what changed; maturin reinstalls the wheel.
#
# NDBIND_ABI3=1: builds it on CPython's stable ABI instead (the `abi3`
# feature: one cp312-abi3 wheel for CPython >= 3.12) with the interpreter
# PYTHON (default .venv's, which must be 3.12 or newer), into
# $CARGO_TARGET_DIR (default target/abi3, apart from the default build's),
# and installs the wheel into PYTHON's environment. The wheel's path is
# printed; install it into other environments with
# `python -m pip install --no-deps --force-reinstall WHEEL`.
# NDBIND_VENV=DIR builds into another, already prepared venv instead (used by
# scripts/test-versions.sh, which also gives each version its CARGO_TARGET_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${NDBIND_VENV:-}" ]]; then
    bash "$root/scripts/venv.sh"
fi
cd "$root"
if [[ "${NDBIND_ABI3:-0}" == 1 ]]; then
    py="${PYTHON:-$root/.venv/bin/python}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
        echo "build.sh: NDBIND_ABI3=1 needs CPython >= 3.12 (PYTHON=$py is $("$py" --version 2>&1))" >&2
        exit 1
    fi
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/abi3}"
    wheels="$CARGO_TARGET_DIR/wheels-abi3"
    rm -rf "$wheels"
    # .venv's maturin builds for any interpreter given with -i.
    if ! out=$("$root/.venv/bin/maturin" build --release -q --features abi3,chrono \
        -m python_tests/Cargo.toml -i "$py" -o "$wheels" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "build.sh: maturin failed (abi3)" >&2
        exit 1
    fi
    wheel="$(ls "$wheels"/ndbind_test-*-abi3-*.whl)"
    "$py" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall "$wheel"
    "$py" -c 'import ndbind_test' # fails loudly if the build did not land
    echo "$wheel"
    exit 0
fi

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
