#!/usr/bin/env bash
# Builds every contender of the side-by-side benchmark and runs it:
#
#   bash scripts/bench.sh            # full run (~1 min once built)
#   bash scripts/bench.sh --quick    # any benches/run.py arguments pass through
#   BENCH_CLEAN=1 bash scripts/bench.sh   # re-measure every clean build time
#
# 1. installs the C++ tools into .venv (nanobind 3.1.0, pybind11 3.1.0, cmake,
#    ninja, scikit-build-core) when they are missing or at another version;
# 2. builds the peers, incrementally:
#    - pyo3 + rust-numpy: `maturin develop --release` (benches/pyo3_peer);
#    - nanobind / pybind11: CMake + Ninja (Release) into benches/<peer>/build,
#      then copies the extension into benches/_peers/ (run.py puts that folder
#      on sys.path; it is git-ignored);
#    - ndbind_test: `bash scripts/build.sh`;
#    - ndbind_bench (benches/ndbind_bench: the peers' functions and nothing
#      else, for the binary-size target): `maturin develop --release`;
# 3. records in benches/_peers/builds.json each module's clean build time
#    (first build; kept until BENCH_CLEAN=1) and binary size (every run);
#    run.py prints them under the table;
# 4. for the size comparison only (skipped with BENCH_SIZES=0), builds with
#    cargo, incrementally, each in its own folder under the crate's target/:
#    ndbind_bench with the `point` feature (the §4 class the peers bind: like
#    for like), and ndbind_bench (with and without Point) and the pyo3 peer
#    again with `lto = "fat"`, `codegen-units = 1` (CARGO_PROFILE_RELEASE_*,
#    the same for both crates); and ndbind_bench with the `floor` feature (no
#    bindings: what std's panic runtime costs any Rust extension module),
#    with both profiles; records their stripped sizes;
# 5. runs `.venv/bin/python benches/run.py "$@"`.
#
# Clean build times: the C++ peers are timed when their build folder is
# created (configure + compile, nanobind's own library included). The two Rust
# crates are timed with `maturin build --release` into a scratch target folder
# (so nobody's target/ is deleted), with crates.io sources already downloaded.
# A failing build does not stop the benchmark: that contender shows `—`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/venv.sh

export VIRTUAL_ENV="$root/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
vpy="$VIRTUAL_ENV/bin/python"
peers="$root/benches/_peers"
json="$peers/builds.json"
clean="${BENCH_CLEAN:-0}"
log() { printf 'bench.sh: %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$peers"
[[ -f "$peers/.gitignore" ]] || printf '*\n' >"$peers/.gitignore"  # ignores itself too

# --- 1. tools -------------------------------------------------------------
if ! "$vpy" - <<'EOF' 2>/dev/null; then
import importlib.metadata as md, sys
want = {"nanobind": "3.1.0", "pybind11": "3.1.0", "cmake": None, "ninja": None,
        "scikit-build-core": None}
for name, version in want.items():
    v = md.version(name)
    if version and v != version:
        sys.exit(1)
EOF
    log "installing nanobind 3.1.0, pybind11 3.1.0, cmake, ninja, scikit-build-core into .venv"
    "$vpy" -m pip install --disable-pip-version-check -q \
        nanobind==3.1.0 pybind11==3.1.0 cmake ninja scikit-build-core
fi

# record KEY FIELD VALUE: sets builds.json[KEY][FIELD] = VALUE (a JSON literal)
record() {
    "$vpy" - "$json" "$1" "$2" "$3" <<'EOF'
import json, sys
from pathlib import Path
path, key, field, value = Path(sys.argv[1]), *sys.argv[2:]
data = json.loads(path.read_text()) if path.exists() else {}
data.setdefault(key, {})[field] = json.loads(value)
path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
EOF
}
# recorded KEY FIELD: succeeds when builds.json has that field
recorded() {
    "$vpy" - "$json" "$1" "$2" <<'EOF'
import json, sys
from pathlib import Path
p = Path(sys.argv[1])
sys.exit(0 if p.exists() and sys.argv[3] in json.loads(p.read_text()).get(sys.argv[2], {}) else 1)
EOF
}
# so_size KEY PATH: records the installed size and the size after `strip`
so_size() {
    local key=$1 so=$2 tmp
    tmp="$(mktemp)"
    strip --strip-unneeded -o "$tmp" "$so"
    record "$key" so "\"${so#"$root/"}\""
    record "$key" size_bytes "$(stat -c %s "$so")"
    record "$key" stripped_bytes "$(stat -c %s "$tmp")"
    rm -f "$tmp"
}
# so_of MODULE: prints the path of an importable extension module's .so
so_of() {
    "$vpy" - "$1" "$peers" <<'EOF'
import glob, importlib, os, sys
sys.path.insert(0, sys.argv[2])
m = importlib.import_module(sys.argv[1])
f = m.__file__
if f.endswith(".so"):
    print(f)
else:  # a package around the extension (maturin develop)
    print(sorted(glob.glob(os.path.join(os.path.dirname(f), "*.so")))[0])
EOF
}

# --- 2. the peers ---------------------------------------------------------
build_cmake() {  # build_cmake NAME: benches/NAME -> benches/_peers/NAME*.so
    local name=$1 src="$root/benches/$1" bdir="$root/benches/$1/build" fresh=0 t0 so
    if [[ "$clean" == 1 || ! -f "$bdir/build.ninja" ]]; then
        rm -rf "$bdir"
        mkdir -p "$bdir"
        fresh=1
        log "configuring $name (clean build)"
    fi
    t0=$(now)
    if [[ $fresh == 1 ]]; then
        cmake -S "$src" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_MAKE_PROGRAM="$VIRTUAL_ENV/bin/ninja" \
            -DPython_EXECUTABLE="$vpy" >"$bdir/bench.log" 2>&1 \
            || { cat "$bdir/bench.log" >&2; return 1; }
    fi
    cmake --build "$bdir" >>"$bdir/bench.log" 2>&1 || { tail -n 40 "$bdir/bench.log" >&2; return 1; }
    if [[ $fresh == 1 ]]; then
        record "$name" clean_build_s "$(since "$t0")"
    fi
    so="$(ls "$bdir"/"$name".*.so)"
    rm -f "$peers/$name".*.so
    cp "$so" "$peers/"
    so_size "$name" "$peers/$(basename "$so")"
}

# time_rust KEY MANIFEST: the clean `maturin build --release` time in a scratch target
time_rust() {
    local key=$1 manifest=$2 scratch t0
    if [[ "$clean" != 1 ]] && recorded "$key" clean_build_s; then return 0; fi
    scratch="$(mktemp -d)"
    log "timing a clean release build of $key (scratch target folder)"
    t0=$(now)
    if CARGO_TARGET_DIR="$scratch/target" maturin build --release -q -m "$manifest" \
        -o "$scratch/wheels" >"$scratch/log" 2>&1; then
        record "$key" clean_build_s "$(since "$t0")"
    else
        tail -n 20 "$scratch/log" >&2
        log "clean build of $key failed"
    fi
    rm -rf "$scratch"
}

status=0
for peer in nanobind_peer pybind11_peer; do
    build_cmake "$peer" || { log "building $peer failed: its cells stay empty"; status=1; }
done

time_rust pyo3_peer benches/pyo3_peer/Cargo.toml
if maturin develop --release -q -m benches/pyo3_peer/Cargo.toml >"$peers/pyo3_peer.log" 2>&1; then
    so_size pyo3_peer "$(so_of pyo3_peer)"
else
    tail -n 40 "$peers/pyo3_peer.log" >&2
    log "building pyo3_peer failed: its cells stay empty"; status=1
fi

time_rust ndbind_bench benches/ndbind_bench/Cargo.toml
if maturin develop --release -q -m benches/ndbind_bench/Cargo.toml >"$peers/ndbind_bench.log" 2>&1; then
    so_size ndbind_bench "$(so_of ndbind_bench)"
else
    tail -n 40 "$peers/ndbind_bench.log" >&2
    log "building ndbind_bench failed: its sizes stay as recorded before"; status=1
fi

# cargo_size KEY FIELD PROFILE CRATE [cargo args]: `cargo build --release` of
# benches/CRATE in its own target folder (incremental), PROFILE "thin" (the
# crate's own release profile) or "fat"; records the stripped size as
# builds.json[KEY][FIELD] (and the unstripped one for "thin").
cargo_size() {
    local key=$1 field=$2 profile=$3 crate=$4 tdir tmp so
    shift 4
    tdir="$root/benches/$crate/target/size-$key-$profile"
    local -a env=(PYO3_PYTHON="$vpy" PYO3_BUILD_EXTENSION_MODULE=1 CARGO_TARGET_DIR="$tdir")
    [[ $profile == fat ]] && env+=(CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1)
    if ! env "${env[@]}" cargo build --release -q --manifest-path "benches/$crate/Cargo.toml" "$@" \
        >"$peers/size-$key-$profile.log" 2>&1; then
        tail -n 20 "$peers/size-$key-$profile.log" >&2
        log "size build $key ($profile) failed"; status=1; return 0
    fi
    so="$tdir/release/lib$crate.so"
    tmp="$(mktemp)"
    strip --strip-unneeded -o "$tmp" "$so"
    record "$key" "$field" "$(stat -c %s "$tmp")"
    [[ $profile == thin ]] && record "$key" size_bytes "$(stat -c %s "$so")"
    rm -f "$tmp"
}
if [[ "${BENCH_SIZES:-1}" != 0 ]]; then
    log "size builds: ndbind_bench + Point, the Rust floor; fat LTO of those, ndbind_bench and pyo3_peer"
    cargo_size ndbind_bench_point stripped_bytes thin ndbind_bench --features point
    cargo_size rust_floor stripped_bytes thin ndbind_bench --features floor
    cargo_size rust_floor fat_stripped_bytes fat ndbind_bench --features floor
    cargo_size ndbind_bench fat_stripped_bytes fat ndbind_bench
    cargo_size ndbind_bench_point fat_stripped_bytes fat ndbind_bench --features point
    cargo_size pyo3_peer fat_stripped_bytes fat pyo3_peer
fi

time_rust ndbind_test python_tests/Cargo.toml
# scripts/build.sh hides a maturin failure when an older ndbind_test still
# imports; look for it, and retry once (a concurrent build of the shared
# target/ folder makes maturin's staging step fail now and then).
build_ndbind() {
    bash scripts/build.sh >"$peers/ndbind_test.log" 2>&1 && ! grep -q 'maturin failed' "$peers/ndbind_test.log"
}
if build_ndbind || { log "building ndbind_test failed; retrying once"; build_ndbind; }; then
    so_size ndbind_test "$(so_of ndbind_test)"
elif "$vpy" -c 'import ndbind_test' 2>/dev/null; then
    cat "$peers/ndbind_test.log" >&2
    log "building ndbind_test failed: benchmarking the ndbind_test installed before"
    so_size ndbind_test "$(so_of ndbind_test)"; status=1
else
    cat "$peers/ndbind_test.log" >&2
    log "building ndbind_test failed: its cells stay empty"; status=1
fi

record toolchain gxx "\"$(g++ --version | head -n1)\""
record toolchain rustc "\"$(rustc --version)\""
record toolchain cmake "\"$(cmake --version | head -n1)\""

# --- 5. the benchmark -----------------------------------------------------
"$vpy" benches/run.py "$@"
exit $status
