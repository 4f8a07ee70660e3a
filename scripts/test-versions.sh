#!/usr/bin/env bash
# Runs the pytest conformance suite on every CPython version it finds (or on
# the ones named), then prints a table: version -> passed / failed / skipped.
#
# Usage: bash scripts/test-versions.sh [--newest] [VERSION...] [-- PYTEST ARGS]
#   VERSION   3.12, 3.13, 3.14, 3.13t (free-threaded) ...; default: every
#             3.11 and newer that is found.
#   --newest  only the newest version found that is not .venv's own (the one
#             scripts/test.sh already ran); says so and succeeds when none is.
#   --free-threaded  only the newest free-threaded CPython found (3.13t, ...),
#             where the suite runs with the GIL disabled (the log's first line
#             says so); says so and succeeds when none is.
#
# Interpreters are looked up, for version V, as pyenv's
# ~/.pyenv/versions/V.*/bin/pythonV (newest patch release), /opt/pythonV/bin/pythonV,
# /opt/python*/bin/pythonV, then pythonV on PATH; NDBIND_PYTHON_V (dots and t
# as in NDBIND_PYTHON_3_14) names one explicitly.
#
# .venv's own version uses .venv (scripts/venv.sh) and target/. Every other
# version gets .venvs/V/ (gitignored) and its own cargo target dir target/pyV/,
# so that builds for different interpreters do not rebuild each other. A venv
# is installed from scripts/requirements.txt (the same pins as .venv), stamped
# like venv.sh does, and reinstalled only when requirements.txt or this
# script's install step changes. numpy, pytest, hypothesis, psutil and maturin
# are required; JAX and torch are installed where they have wheels for that
# version and otherwise skipped: the log and the table say which (their tests
# skip themselves when the import fails). torch's CUDA libraries (the nvidia-*
# wheels, the same files for every Python version, 2.6 GB) are shared with .venv
# through a symlink when .venv has the same pins.
#
# Logs: target/test-versions/V.log (full pytest output).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# Bump when the install step below changes, to reinstall every .venvs/*.
install_rev=1
jax_pkgs='jax|jaxlib|ml_dtypes'

log() { printf 'test-versions: %s\n' "$*"; }

newest=0
free_threaded=0
versions=()
pytest_args=()
while (($#)); do
    case "$1" in
        --newest) newest=1 ;;
        --free-threaded) free_threaded=1 ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) versions+=("$1") ;;
    esac
    shift
done

# --- .gitignore ---------------------------------------------------------------
if ! grep -qxF -- /.venvs/ .gitignore 2>/dev/null; then
    printf '/.venvs/\n' >>.gitignore
    log "added /.venvs/ to .gitignore"
fi

# --- interpreters ---------------------------------------------------------------
# What an interpreter calls itself: 3.12, or 3.13t when free-threaded.
py_tag() {
    "$1" -c 'import sys, sysconfig
print("%d.%d%s" % (sys.version_info[:2] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))' 2>/dev/null
}

find_python() {
    local v="$1" base="${1%t}" c env_name
    env_name="NDBIND_PYTHON_${v//./_}"
    local cands=()
    [[ -n "${!env_name:-}" ]] && cands+=("${!env_name}")
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    if [[ -d "$pyenv_root/versions" ]]; then
        while IFS= read -r c; do cands+=("$c"); done < <(
            ls -d "$pyenv_root"/versions/"$base".*/bin/python"$v" 2>/dev/null | sort -rV)
    fi
    cands+=("/opt/python$v/bin/python$v")
    for c in /opt/python*/bin/python"$v"; do cands+=("$c"); done
    c="$(command -v "python$v" 2>/dev/null || true)"
    [[ -n "$c" ]] && cands+=("$c")
    for c in "${cands[@]}"; do
        if [[ -x "$c" && "$(py_tag "$c")" == "$v" ]]; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

main_tag=""
if [[ -x .venv/bin/python ]]; then main_tag="$(py_tag .venv/bin/python || true)"; fi
if [[ -z "$main_tag" ]]; then
    # No .venv yet: venv.sh makes it from python3.11 (or python3).
    if command -v python3.11 >/dev/null 2>&1; then main_tag=3.11; else main_tag="$(py_tag python3)"; fi
fi

if ((free_threaded)); then
    for minor in $(seq 13 20); do
        if find_python "3.${minor}t" >/dev/null; then versions=("3.${minor}t"); fi
    done
    if ((${#versions[@]} == 0)); then
        log "no free-threaded CPython found (pyenv, /opt/python3.NNt, PATH): nothing more to test"
        exit 0
    fi
fi

if ((${#versions[@]} == 0)); then
    for minor in $(seq 11 20); do
        if find_python "3.$minor" >/dev/null || [[ "3.$minor" == "$main_tag" ]]; then
            versions+=("3.$minor")
        fi
    done
    if ((newest)); then
        newer=()
        for v in "${versions[@]}"; do [[ "$v" != "$main_tag" ]] && newer+=("$v"); done
        if ((${#newer[@]} == 0)); then
            log "no CPython other than .venv's $main_tag found (pyenv, /opt/python*, PATH): nothing more to test"
            exit 0
        fi
        versions=("${newer[-1]}")
    fi
fi

# --- one venv per version --------------------------------------------------------
# Splits requirements.txt (as venv.sh does) into $tmp/main.txt and $tmp/nodeps.txt.
split_requirements() {
    awk -v main="$1/main.txt" -v nodeps="$1/nodeps.txt" '
        /^#@no-deps[[:space:]]*$/ { below = 1; next }
        { print > (below ? nodeps : main) }
    ' scripts/requirements.txt
    touch "$1/main.txt" "$1/nodeps.txt"
}

# The directory holding .venv's nvidia/ packages when they are exactly the
# pinned ones (in a git worktree .venv may layer over another venv: ask it).
shared_nvidia() {
    [[ -x .venv/bin/python && -f .venv/.ndbind-stamp ]] || return 1
    .venv/bin/python - "$1" <<'EOF'
import importlib.metadata as md, importlib.util, os, re, sys
for line in open(sys.argv[1]):
    m = re.match(r"\s*(nvidia-[A-Za-z0-9_.-]+)\s*==\s*(\S+)", line)
    if m:
        try:
            if md.version(m.group(1)) != m.group(2):
                sys.exit(1)
        except md.PackageNotFoundError:
            sys.exit(1)
spec = importlib.util.find_spec("nvidia")
for d in (spec.submodule_search_locations if spec else []):
    if any(os.path.isdir(os.path.join(d, c, "lib")) for c in os.listdir(d)):
        print(d)
        sys.exit(0)
sys.exit(1)
EOF
}

prepare_venv() {
    local v="$1" py="$2" venv="$root/.venvs/$1"
    local stamp="$venv/.ndbind-stamp" want
    want="$({ cat scripts/requirements.txt; echo "install_rev=$install_rev"; } | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
        return 0
    fi
    local start=$SECONDS
    if [[ "$(py_tag "$venv/bin/python" || true)" != "$v" ]]; then
        log "$v: creating .venvs/$v with $py ($("$py" --version 2>&1))"
        "$py" -m venv --clear "$venv"
    fi
    rm -f "$stamp"
    local vpy="$venv/bin/python" tmp
    local pip=("$vpy" -m pip install --disable-pip-version-check -q)
    tmp="$(mktemp -d)"
    split_requirements "$tmp"
    grep -Ev "^[[:space:]]*($jax_pkgs)[[:space:]]*([=<>~!;#]|$)" "$tmp/main.txt" >"$tmp/core.txt" || true
    grep -E "^[[:space:]]*($jax_pkgs)[[:space:]]*([=<>~!;#]|$)" "$tmp/main.txt" >"$tmp/jax.txt" || true
    local skipped=()

    if [[ "$v" == *t ]]; then
        # Free-threaded: the pinned hypothesis ships compiled wheels but none
        # for cp313t (pip would build its Rust part with a PyO3 that refuses
        # 3.13t); take the newest release that has a pure-Python wheel.
        grep -Ev '^[[:space:]]*hypothesis[[:space:]]*([=<>~!;#]|$)' "$tmp/core.txt" >"$tmp/core.ft" || true
        mv "$tmp/core.ft" "$tmp/core.txt"
        log "$v: installing hypothesis (newest pure-Python wheel: the pinned one has none for this ABI)"
        "${pip[@]}" --only-binary=:all: hypothesis >&2 || true
    fi
    log "$v: installing numpy, pytest, hypothesis, psutil, maturin, torch's pure-Python requirements"
    "${pip[@]}" -r "$tmp/core.txt" 2>&1 | grep -v -e "dependency resolver does not currently" -e "which is not installed\.\$" >&2 || true
    "$vpy" -c 'import numpy, pytest, hypothesis, psutil' || { log "$v: the required packages did not install"; rm -rf "$tmp"; return 1; }

    log "$v: installing JAX (jax, jaxlib, ml_dtypes)"
    if ! "${pip[@]}" --only-binary=:all: -r "$tmp/jax.txt" >"$tmp/jax.err" 2>&1 \
        || ! "$vpy" -c 'import jax, jax.numpy, ml_dtypes; jax.numpy.zeros(1)' >/dev/null 2>&1; then
        log "$v: SKIPPING JAX: no wheel installs or imports for this Python ($(grep -m1 -E 'ERROR|Error' "$tmp/jax.err" || true))"
        skipped+=(jax)
    fi

    log "$v: installing torch"
    local site nv torch_req
    site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    torch_req="$(grep -E '^[[:space:]]*torch[[:space:]]*([=<>~!]|$)' "$tmp/nodeps.txt" | head -n1 || true)"
    if nv="$(shared_nvidia "$tmp/nodeps.txt")" && [[ -n "$nv" ]]; then
        # Same pins as .venv: link its nvidia/ (torch finds it as ../../nvidia).
        [[ -L "$site/nvidia" || ! -e "$site/nvidia" ]] && ln -sfn "$nv" "$site/nvidia"
        "${pip[@]}" --no-deps --only-binary=:all: "${torch_req:-torch}" >"$tmp/torch.err" 2>&1 || true
    else
        "${pip[@]}" --no-deps --only-binary=:all: -r "$tmp/nodeps.txt" >"$tmp/torch.err" 2>&1 || true
    fi
    if ! "$vpy" -c 'import torch; torch.zeros(1)' >/dev/null 2>&1; then
        "${pip[@]}" --only-binary=:all: "${torch_req:-torch}" >>"$tmp/torch.err" 2>&1 || true
    fi
    if ! "$vpy" -c 'import torch; torch.zeros(1)' >/dev/null 2>&1; then
        log "$v: SKIPPING torch: no wheel installs or imports for this Python ($(grep -m1 -E 'ERROR|Error' "$tmp/torch.err" || true))"
        # A torch that is installed but does not import would fail tests, not skip them.
        "$vpy" -m pip uninstall -q -y torch >/dev/null 2>&1 || true
        skipped+=(torch)
    fi
    rm -rf "$tmp"

    # The stub generator (python/), which build.sh runs, as in venv.sh.
    printf '%s\n' "$root/python" >"$site/ndbind-stubgen.pth"
    printf '%s\n' "${skipped[@]}" >"$venv/.ndbind-skipped"
    printf '%s\n' "$want" >"$stamp"
    log "$v: venv ready in $((SECONDS - start)) s: $("$vpy" -c '
import importlib.metadata as md
out = []
for n in ("numpy", "torch", "jax"):
    try: out.append(f"{n} {md.version(n)}")
    except md.PackageNotFoundError: out.append(f"{n} -")
print(", ".join(out))')"
}

# --- run -----------------------------------------------------------------------
mkdir -p target/test-versions
rows=()
status=0
for v in "${versions[@]}"; do
    start=$SECONDS
    if [[ "$v" == "$main_tag" ]]; then
        venv="$root/.venv"
        target="$root/target"
        log "$v: .venv (scripts/venv.sh), target/"
        bash scripts/venv.sh
        skipped="-"
    else
        if ! py="$(find_python "$v")"; then
            log "$v: no interpreter found (pyenv, /opt/python*, PATH)"
            rows+=("$v|-|-|-|-|not found|0")
            status=1
            continue
        fi
        venv="$root/.venvs/$v"
        target="$root/target/py$v"
        log "$v: $py, .venvs/$v, target/py$v"
        if ! prepare_venv "$v" "$py"; then
            rows+=("$v|-|-|-|-|venv failed|$((SECONDS - start))")
            status=1
            continue
        fi
        skipped="$(paste -sd, "$venv/.ndbind-skipped")"
        skipped="${skipped:--}"
    fi
    [[ "$skipped" != "-" ]] && log "$v: frameworks skipped (no wheels): $skipped"
    log "$v: building ndbind_test"
    if ! NDBIND_VENV="$venv" CARGO_TARGET_DIR="$target" bash scripts/build.sh; then
        rows+=("$v|-|-|-|-|build failed|$((SECONDS - start))")
        status=1
        continue
    fi
    pyver="$("$venv/bin/python" -c 'import platform; print(platform.python_version())')"
    logf="target/test-versions/$v.log"
    log "$v: pytest (Python $pyver), log in $logf"
    : >"$logf"
    if [[ "$v" == *t ]]; then
        # Free-threaded: whether importing ndbind keeps the GIL off (a module
        # that does not declare Py_mod_gil turns it back on, with a warning).
        gil="$("$venv/bin/python" -W error -c 'import sys, ndbind_test
print("disabled" if not sys._is_gil_enabled() else "ENABLED")' 2>&1 | tail -n1)"
        log "$v: GIL after importing ndbind_test: $gil"
        if [[ "$gil" != disabled ]]; then
            log "$v: FAIL: importing ndbind_test did not keep the GIL disabled"
            status=1
        fi
        printf 'GIL after importing ndbind_test (sys._is_gil_enabled()): %s\n' "$gil" >>"$logf"
    fi
    rc=0
    env -u RUST_BACKTRACE "$venv/bin/python" -m pytest python_tests/tests -q -p no:cacheprovider \
        "${pytest_args[@]}" >>"$logf" 2>&1 || rc=$?
    last="$(tail -n1 "$logf")"
    count() { grep -oE "[0-9]+ $1" <<<"$last" | grep -oE '^[0-9]+' || echo 0; }
    passed="$(count passed)"
    failed=$(($(count failed) + $(count 'errors?')))
    nskipped="$(count skipped)"
    if ((rc != 0)); then
        status=1
        # The failures and the summary, not the dots.
        grep -E '^(FAILED|ERROR)|^=+ (FAILURES|ERRORS|short test summary)' "$logf" | head -n 40 >&2 || true
        ((failed == 0)) && failed="rc=$rc"
    fi
    log "$v: $last"
    rows+=("$v|$pyver|$passed|$failed|$nskipped|$skipped|$((SECONDS - start))")
done

printf '\n%-8s %-9s %7s %7s %8s  %-22s %6s\n' version python passed failed skipped "frameworks skipped" time
for r in "${rows[@]}"; do
    IFS='|' read -r v pv p f s fw t <<<"$r"
    printf '%-8s %-9s %7s %7s %8s  %-22s %5ss\n' "$v" "$pv" "$p" "$f" "$s" "$fw" "$t"
done
exit "$status"
