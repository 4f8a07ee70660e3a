#!/usr/bin/env bash
# The stable-ABI build (the `abi3` feature): builds the cp312-abi3 wheel of
# the conformance module once and runs the pytest suite with it on the
# newest CPython >= 3.12 found (pyenv's versions, /opt/python*/bin,
# python3.1N on PATH; free-threaded builds are left out: abi3 does not
# cover them). Prints why and exits 0 when there is none.
#
# That interpreter's .venvs/X.Y from scripts/test-versions.sh is used when it
# exists (numpy, torch, JAX); otherwise it gets a venv of its own,
# target/abi3/venv-X.Y, with numpy, pytest and hypothesis at
# scripts/requirements.txt's versions (no torch or jax: their tests skip,
# visibly). Cost: the first run
# builds ndbind's dependencies in release into target/abi3 and fills the
# venv (a few minutes); later runs rebuild only ndbind and ndbind_test.
#
# Usage: bash scripts/test-abi3.sh [extra pytest args]
# NDBIND_ABI3_PYTHON=/path/to/python picks the interpreter instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# --- the interpreter ---------------------------------------------------------
# "X.Y PATH" for a usable CPython >= 3.12 with the GIL, else nothing.
probe() {
    "$1" -c '
import sys, sysconfig
ok = sys.implementation.name == "cpython" and sys.version_info >= (3, 12) \
    and not sysconfig.get_config_var("Py_GIL_DISABLED")
if ok:
    print("%d.%d" % sys.version_info[:2], sys.executable)
' 2>/dev/null || true
}
if [[ -n "${NDBIND_ABI3_PYTHON:-}" ]]; then
    found="$(probe "$NDBIND_ABI3_PYTHON")"
    [[ -n "$found" ]] || { echo "test-abi3.sh: $NDBIND_ABI3_PYTHON is not a CPython >= 3.12 with the GIL" >&2; exit 1; }
else
    candidates=()
    if command -v pyenv >/dev/null 2>&1; then
        proot="$(pyenv root)"
        while read -r v; do
            candidates+=("$proot/versions/$v/bin/python")
        done < <(pyenv versions --bare 2>/dev/null || true)
    fi
    for p in /opt/python*/bin/python3*; do
        [[ -x "$p" ]] && candidates+=("$p")
    done
    for n in 12 13 14 15 16; do
        p="$(command -v "python3.$n" 2>/dev/null || true)"
        [[ -n "$p" ]] && candidates+=("$p")
    done
    found=""
    for p in "${candidates[@]}"; do
        [[ -x "$p" ]] || continue
        [[ "$p" == *-config ]] && continue
        got="$(probe "$p")"
        [[ -n "$got" ]] && found+="$got"$'\n'
    done
    found="$(printf '%s' "$found" | sort -t. -k1,1n -k2,2n | tail -n1)"
fi
if [[ -z "$found" ]]; then
    echo "test-abi3.sh: no CPython >= 3.12 found (pyenv, /opt/python*, PATH): abi3 build not tested"
    exit 0
fi
ver="${found%% *}"
py="${found#* }"
echo "test-abi3.sh: CPython $ver ($py)"

# --- its venv ------------------------------------------------------------------
bash scripts/venv.sh # .venv's maturin builds the wheel
if [[ -x "$root/.venvs/$ver/bin/python" && -f "$root/.venvs/$ver/.ndbind-stamp" ]]; then
    # scripts/test-versions.sh's venv for that version (the test command
    # makes it first): numpy, torch and JAX, so no framework's tests skip.
    # The abi3 wheel replaces its version-specific build until its next run.
    venv="$root/.venvs/$ver"
    echo "test-abi3.sh: using .venvs/$ver (scripts/test-versions.sh's, with its frameworks)"
else
    venv="$root/target/abi3/venv-$ver"
    req="$root/scripts/requirements.txt"
    pins="$(grep -E '^(numpy|pytest|hypothesis)==' "$req")"
    stamp="$venv/.ndbind-stamp"
    if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(<"$stamp")" != "$pins" ]]; then
        echo "test-abi3.sh: making $venv (numpy, pytest, hypothesis)"
        "$py" -m venv --clear "$venv"
        # The pins may have no wheel for a newer interpreter: then the newest.
        # shellcheck disable=SC2086
        if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q $pins 2>/dev/null; then
            "$venv/bin/python" -m pip install --disable-pip-version-check -q numpy pytest hypothesis
        fi
        printf '%s\n' "$pins" >"$stamp"
    fi
fi

# --- build once, run the suite ---------------------------------------------------
NDBIND_ABI3=1 PYTHON="$venv/bin/python" bash scripts/build.sh >/dev/null
echo "== pytest (abi3 build, CPython $ver)"
# The stub generator (python/) is imported by the suite's stub tests.
env -u RUST_BACKTRACE PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" \
    "$venv/bin/python" -m pytest python_tests/tests -q -p no:cacheprovider "$@"
