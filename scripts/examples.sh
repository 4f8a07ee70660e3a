#!/usr/bin/env bash
# Builds every example crate in examples/ (release) into .venv, checks each
# one's committed type stub (examples/X/<module>.pyi, which maturin ships in
# the wheel with py.typed): it must be what `python -m ndbind_stubgen` writes
# for the built module, and mypy's stubtest must accept it; then runs the
# examples' pytest files. The examples are workspace members: they share
# target/ and the compiled ndbind with the conformance module.
# Usage: bash scripts/examples.sh [extra pytest args]
#        UPDATE_STUBS=1 bash scripts/examples.sh   (rewrites stale stubs first)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/venv.sh"
cd "$root"
export VIRTUAL_ENV="$root/.venv"
# maturin would otherwise pick up a different interpreter from PATH.
export PATH="$VIRTUAL_ENV/bin:$PATH"
export PYO3_PYTHON="$VIRTUAL_ENV/bin/python"
# RUST_BACKTRACE would make deliberate panics print a trace.
unset RUST_BACKTRACE

# One maturin run per example. Each cargo run inside finds ndbind already
# compiled (by build.sh's maturin run, same profile and environment) and
# builds only the example. (A plain `cargo build` beforehand would not
# help: maturin's environment differs, so pyo3-ffi and ndbind recompile.)
dirs=() modules=()
for manifest in examples/*/Cargo.toml; do
    # Keep maturin's output only when it fails (its progress lines are noise).
    if ! out=$(maturin develop --release -q -m "$manifest" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "examples.sh: maturin failed for $manifest" >&2
        exit 1
    fi
    dirs+=("$(dirname "$manifest")")
    # The module's name: `name` in the manifest's [lib] section.
    modules+=("$(sed -n '/^\[lib\]/,/^\[/s/^name *= *"\(.*\)"/\1/p' "$manifest")")
done

# The stubs: up to date, and right about the modules.
stale=()
for k in "${!modules[@]}"; do
    if [[ -n "${UPDATE_STUBS:-}" ]]; then
        python -m ndbind_stubgen "${modules[$k]}" -o "${dirs[$k]}"
    elif ! python -m ndbind_stubgen "${modules[$k]}" -o "${dirs[$k]}" --check -q 2>/dev/null; then
        stale+=("${dirs[$k]}/${modules[$k]}.pyi")
    fi
done
if (( ${#stale[@]} )); then
    echo "examples.sh: stale type stubs: ${stale[*]}" >&2
    echo "examples.sh: regenerate them with \`UPDATE_STUBS=1 bash scripts/examples.sh\`" >&2
    exit 1
fi
# stubtest reads the committed stubs (MYPYPATH comes before installed
# packages); the array frameworks' stubs are skipped (see the .ini).
(IFS=:; export MYPYPATH="${dirs[*]/#/$root/}"; cd target && \
    python -m ndbind_stubgen.stubtest "${modules[@]}" \
        --allowlist "$root/python_tests/typing/examples-allowlist.txt" \
        --mypy-config-file "$root/python_tests/typing/examples-mypy.ini")

python -m pytest examples/*/tests -q -p no:cacheprovider "$@"
