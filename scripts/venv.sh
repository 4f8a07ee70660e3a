#!/usr/bin/env bash
# Create (or reuse) .venv at the repo root and install into it everything that
# ndbind's tests, demo and benchmarks need: the pinned list in scripts/requirements.txt.
#
# Idempotent: after a successful install it writes a hash of requirements.txt to
# .venv/.ndbind-stamp. While that hash still matches, the script does nothing and
# prints nothing. Edit requirements.txt (or delete the stamp) to force a reinstall;
# delete .venv to start over from scratch.
#
# It also makes sure the repo's .gitignore lists /.venv/ and /target/.
#
# pip uses its normal cache, so another fresh clone installs faster.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
req="$root/scripts/requirements.txt"
stamp="$venv/.ndbind-stamp"

log() { printf 'venv.sh: %s\n' "$*"; }

# --- .gitignore: append only the lines that are missing --------------------
gitignore="$root/.gitignore"
for line in /.venv/ /target/; do
    if ! { [[ -f "$gitignore" ]] && grep -qxF -- "$line" "$gitignore"; }; then
        # Make sure the file ends with a newline before appending.
        if [[ -s "$gitignore" && -n "$(tail -c1 "$gitignore")" ]]; then
            printf '\n' >>"$gitignore"
        fi
        printf '%s\n' "$line" >>"$gitignore"
        log "added $line to .gitignore"
    fi
done

# --- typing tools and the stub generator (cheap; kept apart from the big set) --
# ndbind_stubgen (python/) is importable through a .pth file; mypy and pyright
# (pinned in scripts/requirements-typing.txt) are installed when missing or at
# another version. pyright's PyPI package runs the `node` found on PATH (or
# downloads one, about 40 MB, on its first use when there is none).
typing_tools() {
    local vpy="$venv/bin/python" site pth
    site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    pth="$site/ndbind-stubgen.pth"
    if [[ ! -f "$pth" || "$(<"$pth")" != "$root/python" ]]; then
        printf '%s\n' "$root/python" >"$pth"
    fi
    local treq="$root/scripts/requirements-typing.txt" tstamp="$venv/.ndbind-typing-stamp" twant
    twant="$(sha256sum "$treq" | cut -d' ' -f1)"
    if [[ ! -f "$tstamp" || "$(<"$tstamp")" != "$twant" ]]; then
        log "installing scripts/requirements-typing.txt (mypy, pyright) into .venv"
        "$vpy" -m pip install --disable-pip-version-check -q -r "$treq"
        printf '%s\n' "$twant" >"$tstamp"
    fi
}

# --- fast path: nothing to do ----------------------------------------------
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    typing_tools
    exit 0
fi

start=$SECONDS

# --- the venv itself --------------------------------------------------------
if ! "$venv/bin/python" -c '' 2>/dev/null; then
    if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi
    log "creating .venv with $py ($("$py" --version 2>&1))"
    # --clear: a .venv whose interpreter is gone or broken is rebuilt from scratch.
    "$py" -m venv --clear "$venv"
fi
rm -f "$stamp"

vpy="$venv/bin/python"
pip=("$vpy" -m pip install --disable-pip-version-check -q)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Split requirements.txt at the "#@no-deps" marker.
awk -v main="$tmp/main.txt" -v nodeps="$tmp/nodeps.txt" '
    /^#@no-deps[[:space:]]*$/ { below = 1; next }
    { print > (below ? nodeps : main) }
' "$req"
touch "$tmp/main.txt" "$tmp/nodeps.txt"

# pip complains about torch's left-out CUDA dependencies whenever it installs
# something with dependencies next to an installed torch. Keep other messages.
run_pip() {
    if ! "${pip[@]}" "$@" 2>"$tmp/err"; then
        cat "$tmp/err" >&2
        return 1
    fi
    grep -v \
        -e "^ERROR: pip's dependency resolver does not currently take into account" \
        -e "^torch [^ ]* requires .*, which is not installed\.\$" \
        "$tmp/err" >&2 || true
}

log "installing scripts/requirements.txt into .venv (a fresh .venv downloads about 2.5 GB and takes a few minutes)"
run_pip -r "$tmp/main.txt"
if grep -qEv '^[[:space:]]*(#|$)' "$tmp/nodeps.txt"; then
    log "installing the --no-deps part (torch and the CUDA libraries it links)"
    run_pip --no-deps -r "$tmp/nodeps.txt"
fi

# torch must import on CPU. If the --no-deps set is no longer enough (for example
# after a torch upgrade that links another library), install torch normally.
if ! "$vpy" -c 'import torch; torch.zeros(1)' >/dev/null 2>&1; then
    torch_req="$(grep -E '^[[:space:]]*torch[[:space:]]*([=<>~!]|$)' "$tmp/nodeps.txt" | head -n1 || true)"
    log "torch does not import with the --no-deps set; installing ${torch_req:-torch} with all its dependencies"
    run_pip "${torch_req:-torch}"
fi

# Check the result before stamping it.
versions="$("$vpy" -c '
import numpy, torch, torch.utils.dlpack, jax, jax.numpy, ml_dtypes, pytest, hypothesis, psutil
print(f"numpy {numpy.__version__}, torch {torch.__version__}, jax {jax.__version__}")')"
versions="$("$venv/bin/maturin" --version), $versions"

printf '%s\n' "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
typing_tools
log "done in $((SECONDS - start)) s: $versions"
