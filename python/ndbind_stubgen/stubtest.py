"""`python -m ndbind_stubgen.stubtest MODULE [stubtest options]`: mypy's
stubtest, taught what ndbind's objects are.

stubtest reads ndbind's bound functions as it reads CPython's own: they
have `__signature__` and are method descriptors (`nb_func` and `nb_method`
have `__get__`). Two things remain that a stub cannot say:

- a static method is the function object itself in the class dictionary
  (as in nanobind: an `nb_func` does not bind, so it needs no
  `staticmethod` wrapper), where stubtest wants a `staticmethod` for a
  stub's `@staticmethod`;
- bound classes have the metaclass `ndbind.nb_type`, which Python code
  cannot import and a stub therefore cannot name.

This wrapper makes stubtest accept exactly those two and checks everything
else (signatures included) as usual.
"""

from __future__ import annotations

import sys
from typing import Any


def _is_ndbind_class(obj: object) -> bool:
    return repr(type(obj)) == "<class 'ndbind.nb_type'>"


def main(argv: list[str] | None = None) -> int:
    import mypy.stubtest as st

    # (`repr(type(...))`: the types' own `__module__` is shadowed by their
    # instances' attribute)
    plain_static = st._verify_static_class_methods

    def static_methods(stub: Any, runtime: Any, static_runtime: Any, object_path: list[str]) -> Any:
        from mypy import nodes

        in_class = not isinstance(getattr(stub, "info", None), (nodes.FakeInfo, type(None)))
        if in_class and repr(type(static_runtime)) == "<class 'ndbind.nb_func'>":
            try:
                static_runtime = staticmethod(static_runtime)
            except Exception:  # copying a `__doc__` that raises
                pass
        return plain_static(stub, runtime, static_runtime, object_path)

    st._verify_static_class_methods = static_methods  # type: ignore[assignment]

    plain_metaclass = st._verify_metaclass

    def metaclass(stub: Any, runtime: Any, object_path: list[str], **kw: Any) -> Any:
        if _is_ndbind_class(runtime) and stub.metaclass_type is None:
            return iter(())
        return plain_metaclass(stub, runtime, object_path, **kw)

    st._verify_metaclass = metaclass  # type: ignore[assignment]
    return st.test_stubs(st.parse_options(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
