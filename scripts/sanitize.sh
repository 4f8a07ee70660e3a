#!/usr/bin/env bash
# Runs the array test files under valgrind memcheck and fails on any memory
# error whose stack has a frame in ndbind's extension module
# (ndbind_test*.so): invalid reads/writes, uses of uninitialised values,
# invalid or mismatched frees, overlapping copies, and definite leaks of
# memory allocated by ndbind. Errors elsewhere (CPython, NumPy, torch,
# OpenBLAS/OpenMP noise) are counted and reported, never fatal.
#
#   bash scripts/sanitize.sh [extra pytest args]
#
# Environment:
#   NDBIND_SANITIZE_OUT    output folder (default target/sanitize): memcheck
#                          XML, pytest log and junit report
#   NDBIND_SANITIZE_BUILD  0 to skip `scripts/build.sh` (use the installed
#                          module, or whatever PYTHONPATH points to)
#   NDBIND_SANITIZE_JAX    1 to include the JAX cases (XLA under valgrind
#                          adds many minutes; skipped by default)
#   PYTHON                 interpreter (default .venv/bin/python)
#
# The leak tests (`-k "not leak"`) are deselected: they call each function
# 10^4+ times, which under valgrind takes hours, and the suite runs them
# natively anyway; valgrind's own definite-leak check stands in for them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="${PYTHON:-$root/.venv/bin/python}"
out="${NDBIND_SANITIZE_OUT:-$root/target/sanitize}"
mkdir -p "$out"
rm -f "$out"/memcheck.*.xml "$out"/junit.xml "$out"/pytest.log

command -v valgrind >/dev/null || { echo "sanitize: valgrind is not installed" >&2; exit 2; }
if [ "${NDBIND_SANITIZE_BUILD:-1}" != 0 ]; then
    bash scripts/build.sh
fi

files=(python_tests/tests/test_arrays_in.py python_tests/tests/test_arrays_out.py
       python_tests/tests/test_hostile.py python_tests/tests/test_exchange_api.py
       python_tests/tests/test_soundness.py)

# JAX is made unimportable (ModuleNotFoundError: pytest.importorskip skips) unless
# asked for: a stub package that raises ImportError, first on the path.
stub="$out/nojax"
rm -rf "$stub"
if [ "${NDBIND_SANITIZE_JAX:-0}" != 1 ]; then
    mkdir -p "$stub/jax" "$stub/jaxlib"
    echo 'raise ModuleNotFoundError("JAX is disabled under valgrind (NDBIND_SANITIZE_JAX=1 enables it)", name=__name__)' \
        | tee "$stub/jax/__init__.py" > "$stub/jaxlib/__init__.py"
    export PYTHONPATH="$stub${PYTHONPATH:+:$PYTHONPATH}"
fi

supp=()
if [ -f "$root/scripts/valgrind-python.supp" ]; then
    supp=(--suppressions="$root/scripts/valgrind-python.supp")
fi

start=$(date +%s)
set +e
# PYTHONMALLOC=malloc: every object goes through malloc, so memcheck sees
# each allocation (pymalloc arenas would hide overruns and reads of freed
# objects). --error-exitcode only marks "some error happened"; which ones
# count is decided below from the XML.
# NDBIND_SANITIZE: tests that start fresh interpreters skip themselves
# (those run outside valgrind, and a fork leaves a truncated log behind).
NDBIND_SANITIZE=1 PYTHONMALLOC=malloc PYTHONFAULTHANDLER=1 JAX_PLATFORMS=cpu \
valgrind --tool=memcheck --error-limit=no --num-callers=50 \
    "${supp[@]}" \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --xml=yes --xml-file="$out/memcheck.%p.xml" --error-exitcode=99 \
    "$py" -m pytest "${files[@]}" -q -p no:cacheprovider -k "not leak" \
        --junitxml="$out/junit.xml" "$@" 2>&1 | tee "$out/pytest.log" | tail -n 25
vg_rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

"$py" - "$out" "$vg_rc" "$elapsed" <<'EOF'
import glob, os, sys
import xml.etree.ElementTree as ET

out, vg_rc, elapsed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MODULE = "ndbind_test"

def frames(err):
    for stack in err.iter("stack"):
        for f in stack.iter("frame"):
            yield (f.findtext("obj") or ""), (f.findtext("fn") or "??"), f.findtext("file"), f.findtext("line")

total, ours, shown = 0, [], 0
for path in sorted(glob.glob(os.path.join(out, "memcheck.*.xml"))):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:  # a crashed run leaves truncated XML
        print(f"sanitize: cannot parse {path}: {e}")
        ours.append(("unparsable-xml", path, []))
        continue
    for err in root.iter("error"):
        total += 1
        fs = list(frames(err))
        if any(MODULE in os.path.basename(obj) for obj, *_ in fs):
            what = err.findtext("what") or err.findtext("xwhat/text") or ""
            ours.append((err.findtext("kind"), what, fs))

for kind, what, fs in ours[:20]:
    print(f"\n== {kind}: {what}")
    for obj, fn, file, line in fs[:25]:
        where = f"{file}:{line}" if file else os.path.basename(obj)
        print(f"   {fn}  ({where})")

tests = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
try:
    suite = ET.parse(os.path.join(out, "junit.xml")).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests = {k: int(suite.get(k, 0)) for k in tests}
except (OSError, ET.ParseError, AttributeError):
    print("sanitize: no junit report (did pytest crash?)")
    tests["errors"] = 1

pytest_ok = tests["failures"] == 0 and tests["errors"] == 0
print(f"\nsanitize: {len(ours)} memcheck error(s) in ndbind ({total} in total, the rest in "
      f"CPython/NumPy/torch); pytest {tests['tests']} run, {tests['failures']} failed, "
      f"{tests['errors']} errors, {tests['skipped']} skipped; {elapsed // 60} min {elapsed % 60} s; "
      f"valgrind exit {vg_rc}; details in {out}")
sys.exit(0 if not ours and pytest_ok and vg_rc in (0, 99) else 1)
EOF
