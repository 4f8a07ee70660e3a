"""Runs mypy --strict and pyright on usage.py (no error allowed) and on
errors.py (exactly the lines marked `# E:` reported, by both). Usage:

    python python_tests/typing/check.py   (scripts/typecheck.sh runs it)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def mypy(path: Path) -> set[int]:
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-color-output", "--no-error-summary",
         "--cache-dir", str(ROOT / "target" / "mypy-cache"), str(path)],
        capture_output=True, text=True, cwd=HERE)
    lines = {int(m.group(1)) for m in re.finditer(r"^[^:\n]*:(\d+): error:", r.stdout, re.M)}
    if r.returncode not in (0, 1) or (r.returncode == 1 and not lines):
        sys.exit(f"check.py: mypy failed:\n{r.stdout}{r.stderr}")
    return lines


def pyright(path: Path) -> set[int]:
    exe = Path(sys.executable).parent / "pyright"
    if not exe.is_file():  # an environment layered over another one
        exe = Path(shutil.which("pyright") or exe)
    r = subprocess.run([str(exe), "--outputjson", "--pythonpath", sys.executable, str(path)],
                       capture_output=True, text=True, cwd=HERE)
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        sys.exit(f"check.py: pyright failed:\n{r.stdout}{r.stderr}")
    return {d["range"]["start"]["line"] + 1 for d in report["generalDiagnostics"]
            if d["severity"] == "error"}


def marked(path: Path) -> dict[int, str]:
    out = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        m = re.search(r"  # E: (.*)$", line)
        if m:
            out[i] = m.group(1)
    return out


def main() -> int:
    failures = []
    for tool, run in (("mypy --strict", mypy), ("pyright", pyright)):
        got = run(HERE / "usage.py")
        if got:
            failures.append(f"{tool} reports errors in usage.py on lines {sorted(got)}")
        want = marked(HERE / "errors.py")
        got = run(HERE / "errors.py")
        for line in sorted(set(want) - got):
            failures.append(f"{tool} misses errors.py:{line} ({want[line]})")
        for line in sorted(got - set(want)):
            failures.append(f"{tool} reports unmarked errors.py:{line}")
    for f in failures:
        print(f"check.py: {f}", file=sys.stderr)
    if not failures:
        print(f"check.py: usage.py clean, all {len(marked(HERE / 'errors.py'))} marked errors "
              "reported by mypy --strict and pyright")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
