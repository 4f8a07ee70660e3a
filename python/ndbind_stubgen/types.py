"""Rendering parsed types as stub annotations.

Array types become what type checkers understand, with the requirements
kept as `typing.Annotated` metadata (as nanobind's stubgen does):

- a parameter (`ndarray[...]`: any framework's array is accepted) becomes
  the module's `_ArrayLike` alias (objects with `__dlpack__` or the buffer
  protocol);
- `numpy.ndarray[dtype=float32, ...]` becomes
  `numpy.typing.NDArray[numpy.float32]`; `torch.Tensor[...]`, `jax.Array[...]`,
  `tensorflow.Tensor[...]` and `memoryview[...]` their framework's type;
- shape (`*` as `None`), order, device, writability and any other
  `key=value` stay in `typing.Annotated[T, dict(...)]`.
"""

from __future__ import annotations

import importlib.util
import typing

from .sigparse import BUILTIN_NAMES, Node, TCall, TKw, TList, TLit, TName, TUnion

# numpy scalar types by ndbind dtype name (`bfloat16` has none).
_NUMPY_DTYPES = {
    "bool": "numpy.bool_",
    **{n: f"numpy.{n}" for n in (
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "complex64", "complex128")},
}

# array type name -> (stub type, module to import, numpy-style dtype parameter)
_ARRAYS = {
    "ndarray": ("_ArrayLike", None, False),
    "ndbind.ndarray": ("_ArrayLike", None, False),
    "numpy.ndarray": ("numpy.typing.NDArray", "numpy.typing", True),
    "torch.Tensor": ("torch.Tensor", "torch", False),
    "jax.Array": ("jax.Array", "jax", False),
    "tensorflow.Tensor": ("tensorflow.Tensor", "tensorflow", False),
    "memoryview": ("memoryview", None, False),
    "types.CapsuleType": ("typing_extensions.CapsuleType", "typing_extensions", False),
}

# bare generic builtins get explicit parameters (`list` -> `list[typing.Any]`)
_BARE_GENERICS = {
    "list": "list[typing.Any]",
    "dict": "dict[typing.Any, typing.Any]",
    "set": "set[typing.Any]",
    "frozenset": "frozenset[typing.Any]",
    "tuple": "tuple[typing.Any, ...]",
    "type": "type[typing.Any]",
    "os.PathLike": "os.PathLike[typing.Any]",
    "collections.abc.Callable": "collections.abc.Callable[..., typing.Any]",
    "collections.abc.Sequence": "collections.abc.Sequence[typing.Any]",
    "collections.abc.Iterator": "collections.abc.Iterator[typing.Any]",
    "collections.abc.Iterable": "collections.abc.Iterable[typing.Any]",
    "collections.abc.Mapping": "collections.abc.Mapping[typing.Any, typing.Any]",
}


class Context:
    """What one stub file knows: its module's name and attributes, the
    imports its annotations need, and whether it uses `_ArrayLike`."""

    def __init__(self, module_name: str, local_names: typing.Iterable[str], root: str):
        self.module = module_name
        self.local = set(local_names)
        self.root = root  # the top-level package (`ndbind_test`)
        self.imports: set[str] = {"typing"}
        self.uses_arraylike = False
        # render without `Annotated` metadata (what a type checker compares)
        self.strip_meta = False

    def _module_of(self, dotted: str) -> str | None:
        """The longest importable module prefix of `dotted` (`a.b.C` -> `a.b`)."""
        parts = dotted.split(".")
        for k in range(len(parts) - 1, 0, -1):
            mod = ".".join(parts[:k])
            try:
                if importlib.util.find_spec(mod) is not None:
                    return mod
            except (ImportError, ValueError):
                continue
        return None

    def name(self, dotted: str) -> str:
        """A type name as the stub refers to it (importing what it needs)."""
        if dotted == "NoneType":
            return "None"
        if "." not in dotted:
            if dotted in self.local or dotted in BUILTIN_NAMES or dotted == "None":
                return dotted
            if hasattr(typing, dotted):
                return f"typing.{dotted}"
            return "typing.Any"  # a name nothing defines (a custom signature's)
        if dotted.startswith(self.module + "."):
            rest = dotted[len(self.module) + 1:]
            if rest.split(".")[0] in self.local:
                return rest
        if dotted.startswith("builtins."):
            return dotted[len("builtins."):]
        if dotted.startswith("typing.") or dotted.startswith("typing_extensions."):
            self.imports.add(dotted.split(".")[0])
            return dotted
        mod = self._module_of(dotted)
        if mod is None:
            return "typing.Any"
        self.imports.add(mod)
        return dotted


def bare_generic(name: str, ctx: Context) -> str | None:
    """`list` -> `list[typing.Any]` (a generic named without parameters)."""
    full = _BARE_GENERICS.get(name)
    if full is not None:
        head = full.split("[")[0]
        if "." in head:
            ctx.imports.add(head.rsplit(".", 1)[0])
    return full


def render(node: Node, ctx: Context) -> str:
    """`node` as a stub annotation."""
    if isinstance(node, TUnion):
        return " | ".join(render(n, ctx) for n in node.items)
    if isinstance(node, TList):
        return "[" + ", ".join(render(n, ctx) for n in node.items) + "]"
    if isinstance(node, TLit):
        if node.items is not None:
            inner = ", ".join(render(n, ctx) for n in node.items)
            return f"({inner},)" if len(node.items) == 1 else f"({inner})"
        return "None" if node.text == "*" else node.text
    if isinstance(node, TCall):
        # metadata nothing defines (`FixedSize(3)`): kept as a string
        return repr(_source(node))
    if isinstance(node, TKw):
        return f"{node.key}={_meta_value(node.value)}"
    assert isinstance(node, TName)
    if node.name in _ARRAYS and node.args is not None and all(isinstance(a, TKw) for a in node.args):
        return _array(node, ctx)
    if node.name in _ARRAYS and node.args is None and node.name not in ("memoryview",):
        return _array(TName(node.name, []), ctx)
    if node.args is None:
        full = bare_generic(node.name, ctx)
        if full is not None:
            return full
        return ctx.name(node.name)
    head = ctx.name(node.name)
    if head == "typing.Annotated" and node.args:
        first = render(node.args[0], ctx)
        meta = ", ".join(_annotated_meta(a, ctx) for a in node.args[1:])
        return f"typing.Annotated[{first}, {meta}]" if meta and not ctx.strip_meta else first
    if head == "typing.Any":
        return head
    return f"{head}[" + ", ".join(render(a, ctx) for a in node.args) + "]"


def _annotated_meta(node: Node, ctx: Context) -> str:
    if isinstance(node, TCall):
        return repr(_source(node))
    if isinstance(node, TLit):
        return render(node, ctx)
    return repr(_source(node))


def _source(node: Node) -> str:
    """A plain text form of a node (for metadata kept as strings)."""
    if isinstance(node, TName):
        if node.args is None:
            return node.name
        return node.name + "[" + ", ".join(_source(a) for a in node.args) + "]"
    if isinstance(node, TCall):
        return node.name + "(" + ", ".join(_source(a) for a in node.args) + ")"
    if isinstance(node, TKw):
        return f"{node.key}={_source(node.value)}"
    if isinstance(node, TList):
        return "[" + ", ".join(_source(a) for a in node.items) + "]"
    if isinstance(node, TUnion):
        return " | ".join(_source(a) for a in node.items)
    if node.items is not None:
        inner = ", ".join(_source(a) for a in node.items)
        return f"({inner},)" if len(node.items) == 1 else f"({inner})"
    return node.text


def _meta_value(node: Node) -> str:
    """A `key=value` metadata value as a Python expression: `*` extents are
    `None`, bare names strings (`dtype=float32` -> `'float32'`)."""
    if isinstance(node, TLit):
        if node.items is not None:
            inner = [_meta_value(n) for n in node.items]
            return f"({inner[0]},)" if len(inner) == 1 else "(" + ", ".join(inner) + ")"
        return "None" if node.text == "*" else node.text
    if isinstance(node, TName) and node.args is None:
        return node.name if node.name in ("True", "False", "None") else repr(node.name)
    return repr(_source(node))


def _array(node: TName, ctx: Context) -> str:
    stub, module, numpy_dtype = _ARRAYS[node.name]
    if module is not None:
        ctx.imports.add(module)
    if stub == "_ArrayLike":
        ctx.uses_arraylike = True
    meta = [a for a in node.args or [] if isinstance(a, TKw)]
    if numpy_dtype:
        ctx.imports.add("numpy")
        dtype = next((a for a in meta if a.key == "dtype"), None)
        scalar = None
        if dtype is not None and isinstance(dtype.value, TName):
            scalar = _NUMPY_DTYPES.get(dtype.value.name)
        if scalar is not None:
            meta = [a for a in meta if a is not dtype]
        stub = f"{stub}[{scalar or 'typing.Any'}]"
    if not meta or ctx.strip_meta:
        return stub
    fields = ", ".join(f"{a.key}={_meta_value(a.value)}" for a in meta)
    return f"typing.Annotated[{stub}, dict({fields})]"
