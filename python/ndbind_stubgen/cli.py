"""The command line of `python -m ndbind_stubgen`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generate import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m ndbind_stubgen",
        description="Write .pyi stubs for an ndbind extension module and its submodules.")
    ap.add_argument("module", help="the module to import (build and install it first)")
    ap.add_argument("-o", "--output", default=".", type=Path,
                    help="folder to write into (default: the current one)")
    ap.add_argument("--package", action="store_true",
                    help="write DIR/MODULE/__init__.pyi (and py.typed) even without submodules: "
                         "for stubs next to an installed package, or in a mixed Rust/Python "
                         "project's package folder. Without it, a module without submodules is "
                         "DIR/MODULE.pyi: the file maturin ships, with py.typed, from next to "
                         "Cargo.toml")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; fail when a file differs from what would be written")
    ap.add_argument("-q", "--quiet", action="store_true", help="no warnings")
    args = ap.parse_args(argv)

    files = generate(args.module)
    top = args.module.replace(".", "/")
    if args.package:
        files = {(f"{top}/__init__.pyi" if k == f"{top}.pyi" else k): v for k, v in files.items()}
        files[f"{top}/py.typed"] = ""
    elif f"{top}.pyi" in files:
        # One file, `MODULE.pyi`: what maturin ships as the package's stub
        # when it lies next to Cargo.toml (a folder `MODULE/` there would
        # make the project a mixed Rust/Python one).
        files = {k: v for k, v in files.items() if not k.startswith(f"{top}/")}
    if not args.quiet:
        for w in getattr(generate, "warnings", []):
            print(f"ndbind_stubgen: warning: {w}", file=sys.stderr)
    stale = []
    for rel, text in sorted(files.items()):
        path = args.output / rel
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old == text:
            continue
        if args.check:
            stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        again = f"python -m ndbind_stubgen {args.module} -o {args.output}"
        if args.package:
            again += " --package"
        print(f"ndbind_stubgen: out of date (regenerate with `{again}`):", file=sys.stderr)
        for s in stale:
            print(f"  {s}", file=sys.stderr)
        return 1
    return 0
