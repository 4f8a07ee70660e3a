#!/usr/bin/env bash
# Builds every example crate in examples/ (release) into .venv and runs the
# examples' pytest files. The examples are workspace members: they share
# target/ and the compiled ndbind with the conformance module.
# Usage: bash scripts/examples.sh [extra pytest args]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/venv.sh"
cd "$root"
export VIRTUAL_ENV="$root/.venv"
# maturin would otherwise pick up a different interpreter from PATH.
export PATH="$VIRTUAL_ENV/bin:$PATH"
export PYO3_PYTHON="$VIRTUAL_ENV/bin/python"

# One maturin run per example. Each cargo run inside finds ndbind already
# compiled (by build.sh's maturin run, same profile and environment) and
# builds only the example. (A plain `cargo build` beforehand would not
# help: maturin's environment differs, so pyo3-ffi and ndbind recompile.)
for manifest in examples/*/Cargo.toml; do
    # Keep maturin's output only when it fails (its progress lines are noise).
    if ! out=$(maturin develop --release -q -m "$manifest" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "examples.sh: maturin failed for $manifest" >&2
        exit 1
    fi
done

# RUST_BACKTRACE would make deliberate panics print a trace.
env -u RUST_BACKTRACE python -m pytest examples/*/tests -q -p no:cacheprovider "$@"
