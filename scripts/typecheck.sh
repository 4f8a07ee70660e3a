#!/usr/bin/env bash
# The typed Python surface: checks the stubs that scripts/build.sh generates
# for ndbind_test (python -m ndbind_stubgen) with the type checkers users run.
#   1. the generator's own tests (python_tests/typing/test_stubgen.py);
#   2. mypy's stubtest: stubs against the imported module (through
#      ndbind_stubgen.stubtest, which teaches it ndbind's function, static
#      method and metaclass types), allowlist python_tests/typing/stubtest-allowlist.txt;
#   3. mypy --strict and pyright on python_tests/typing/usage.py (clean) and
#      errors.py (exactly its marked lines reported).
# Usage: bash scripts/typecheck.sh   (after scripts/build.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/venv.sh
py="$root/.venv/bin/python"
export PATH="$root/.venv/bin:$PATH"

echo "== stub generator tests"
"$py" -m pytest python_tests/typing/test_stubgen.py -q -p no:cacheprovider

echo "== stubtest ndbind_test"
# RUST_BACKTRACE would make the deliberately panicking signature print a trace.
(cd target && env -u RUST_BACKTRACE "$py" -m ndbind_stubgen.stubtest ndbind_test \
    --allowlist "$root/python_tests/typing/stubtest-allowlist.txt")

echo "== mypy --strict and pyright on python_tests/typing"
"$py" python_tests/typing/check.py
