"""`python -m ndbind_stubgen.stubtest MODULE [stubtest options]`: mypy's
stubtest, taught what ndbind's objects are.

stubtest knows CPython's own function types only. ndbind's bound functions
are callable objects of their own types (`ndbind.nb_func`, `ndbind.nb_method`),
a static method is the function object itself in the class dictionary (as in
nanobind: it does not bind, so no `staticmethod` wrapper is needed), and bound
classes have the metaclass `ndbind.nb_type`, which Python code cannot import
and a stub therefore cannot name. This wrapper makes stubtest accept exactly
those three things and checks everything else (signatures included) as usual.
"""

from __future__ import annotations

import sys
from typing import Any


def _is_ndbind_func(obj: object) -> bool:
    # (the types' own `__module__` is shadowed by their instances' attribute)
    return repr(type(obj)) in ("<class 'ndbind.nb_func'>", "<class 'ndbind.nb_method'>")


def _is_ndbind_class(obj: object) -> bool:
    return repr(type(obj)) == "<class 'ndbind.nb_type'>"


def main(argv: list[str] | None = None) -> int:
    import mypy.stubtest as st

    plain_is_function = st.is_probably_a_function
    st.is_probably_a_function = lambda rt: _is_ndbind_func(rt) or plain_is_function(rt)  # type: ignore[assignment]

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
