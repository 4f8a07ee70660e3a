"""ndbind_stubgen: `.pyi` stubs for ndbind extension modules.

    python -m ndbind_stubgen MODULE [-o DIR] [--package] [--check]

imports MODULE (which must be importable: build and install it first) and
writes `DIR/MODULE.pyi`, or `DIR/MODULE/__init__.pyi` and one `.pyi` per
submodule when it has submodules. The signatures come from what ndbind
renders at the top of every bound function's `__doc__` (`__signature__`
where a raw docstring replaces it), property types from the first line
of a property's `__doc__` (`name: T`, then `; read-only` or `; set: V`);
see examples/README.md and README.md
("Type stubs") for shipping them in a maturin wheel.
"""

from .generate import generate
from .sigparse import ParseError, parse_signature, parse_type

__all__ = ["generate", "parse_signature", "parse_type", "ParseError", "main"]


def main(argv: list[str] | None = None) -> int:
    from .cli import main as _main

    return _main(argv)
