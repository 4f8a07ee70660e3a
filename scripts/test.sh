#!/usr/bin/env bash
# Runs every test: the Rust unit/integration tests (cargo), the pytest
# conformance suite against a freshly built `ndbind_test` (on .venv's CPython
# 3.11, on the newest other CPython found and on a free-threaded one, GIL
# disabled: scripts/test-versions.sh; on the abi3 build: test-abi3.sh), the example
# crates in examples/ with their own tests, and the generated type stubs
# (scripts/typecheck.sh).
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/venv.sh
export PYO3_PYTHON="$root/.venv/bin/python"

echo "== cargo fmt --check"
# rustup's default profile has rustfmt; a minimal one gets it here.
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo fmt --all --check

echo "== cargo test"
cargo test --workspace --quiet
# The pure-Rust benchmark, each case run once (it must keep building and working).
cargo test --quiet --bench pure_rust

echo "== cargo publish --dry-run (ndbind-dlpack, then ndbind against it)"
# Packages both crates and builds each from its package alone, as crates.io
# would; nothing is uploaded.
# cargo unpacks the packaged ndbind-dlpack into an overlay registry under
# CARGO_HOME (named "-<hash of the target path>") and reuses an earlier
# unpacking of the same version, as it reuses a build of it (a registry
# crate of one version never changes): drop the unpackings and build in a
# target dir of its own, emptied first, so the dry run checks this tree.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rm -rf "$cargo_home"/registry/src/-*/ndbind-dlpack-* "$cargo_home"/registry/cache/-*/ndbind-dlpack-* \
    "$root/target/publish-check"
cargo publish --dry-run --allow-dirty --quiet --target-dir "$root/target/publish-check" -p ndbind-dlpack -p ndbind

echo "== build ndbind_test"
bash scripts/build.sh

echo "== pytest"
# RUST_BACKTRACE would make every deliberate panic in the suite print a trace.
env -u RUST_BACKTRACE "$root/.venv/bin/python" -m pytest python_tests/tests -q -p no:cacheprovider "$@"

echo "== pytest on the newest other CPython found (scripts/test-versions.sh --newest)"
# Its own venv (.venvs/3.NN) and target dir (target/py3.NN); says so and goes
# on when the machine has no interpreter newer than .venv's.
bash scripts/test-versions.sh --newest -- "$@"

echo "== pytest on a free-threaded CPython, GIL disabled (scripts/test-versions.sh --free-threaded)"
# The newest 3.NNt found (a build with ./configure --disable-gil), its own
# venv and target dir; includes the 8-thread stress test. Says so and goes
# on when the machine has none.
bash scripts/test-versions.sh --free-threaded -- "$@"

echo "== pytest against the stable-ABI build (scripts/test-abi3.sh)"
# One cp312-abi3 wheel, run on the newest CPython >= 3.12 found (its own
# venv and target dir under target/abi3); says so and goes on when none.
bash scripts/test-abi3.sh "$@"

echo "== typing: stubs, stubtest, mypy --strict, pyright"
bash scripts/typecheck.sh

echo "== examples"
bash scripts/examples.sh
