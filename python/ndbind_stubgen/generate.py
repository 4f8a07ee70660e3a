"""Walking an imported ndbind module and writing its stub text."""

from __future__ import annotations

import ast
import enum
import importlib
import re
import sys
import types
from dataclasses import dataclass, field

from .sigparse import ParseError, Signature, default_expr, parse_signature
from .types import Context, bare_generic, render

_SKIP_MODULE = {"__name__", "__doc__", "__package__", "__loader__", "__spec__", "__file__",
                "__path__", "__builtins__", "__cached__", "__all__"}
_SKIP_CLASS = {"__doc__", "__module__", "__new__", "__dict__", "__weakref__", "__qualname__",
               "__init_subclass__", "__subclasshook__", "__slots__"}
_ENUM_BASES = (enum.IntFlag, enum.Flag, enum.IntEnum, enum.StrEnum, enum.Enum)
_UNNAMED = re.compile(r"arg\d*\Z")

_ARRAYLIKE = '''\
class _SupportsDLPack(typing.Protocol):
    def __dlpack__(self) -> typing.Any: ...

# What an array parameter accepts: any object with `__dlpack__` (NumPy, torch,
# JAX, ...) or the buffer protocol; the `Annotated` metadata says what it needs.
_ArrayLike: typing_extensions.TypeAlias = _SupportsDLPack | typing_extensions.Buffer
'''


def _kind(obj: object) -> str:
    return type(obj).__name__


def _is_func(obj: object) -> bool:
    return _kind(obj) in ("nb_func", "nb_method")


def _doc(obj: object) -> str | None:
    try:
        d = obj.__doc__
    except Exception:  # a type name that panics or raises while rendering
        return None
    return d if isinstance(d, str) else None


def _signature_line(name: str, obj: object) -> str | None:
    """`name(params) -> ret` as ndbind renders it, from `__signature__`
    (whose annotations are rendered type names)."""
    import inspect

    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except Exception:
        return None
    P = inspect.Parameter
    parts: list[str] = []
    kinds = [p.kind for p in sig.parameters.values()]
    for k, p in enumerate(sig.parameters.values()):
        if p.kind == P.KEYWORD_ONLY and P.VAR_POSITIONAL not in kinds[:k] \
                and P.KEYWORD_ONLY not in kinds[:k]:
            parts.append("*")
        text = {P.VAR_POSITIONAL: "*", P.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if isinstance(p.annotation, str):
            text += f": {p.annotation}"
        if p.default is not P.empty:
            text += f" = {p.default!r}"
        parts.append(text)
        if p.kind == P.POSITIONAL_ONLY and (k + 1 == len(kinds) or kinds[k + 1] != P.POSITIONAL_ONLY):
            parts.append("/")
    ret = sig.return_annotation
    return f"{name}({', '.join(parts)})" + (f" -> {ret}" if isinstance(ret, str) else "")


@dataclass
class Overloads:
    sigs: list[Signature] = field(default_factory=list)
    doc: str | None = None


def split_doc(name: str, doc: str | None) -> Overloads:
    """A bound function's `__doc__`: its signature lines (up to the first
    blank line), then its docstring."""
    out = Overloads()
    if not doc:
        return out
    lines = doc.split("\n")
    k = 0
    while k < len(lines) and lines[k].strip():
        try:
            out.sigs.append(parse_signature(lines[k]))
        except ParseError:
            out.sigs = []
            return out
        k += 1
    rest = "\n".join(lines[k:]).strip()
    out.doc = rest or None
    return out


class ModuleStub:
    """The stub text of one module (submodules get their own)."""

    def __init__(self, module: types.ModuleType, name: str, root: str):
        self.module = module
        self.name = name
        self.ctx = Context(name, vars(module).keys(), root)
        self.lines: list[str] = []
        self.submodules: list[tuple[str, types.ModuleType]] = []
        self.warnings: list[str] = []
        self.core: str | None = None

    # --- output helpers --------------------------------------------------------
    def emit(self, depth: int, text: str = "") -> None:
        self.lines.append(("    " * depth + text) if text else "")

    def docstring(self, depth: int, doc: str | None) -> bool:
        if not doc:
            return False
        doc = doc.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        if doc.endswith('"'):
            doc = doc[:-1] + '\\"'
        if "\n" in doc:
            ind = "    " * depth
            body = "\n".join((ind + ln) if ln.strip() else "" for ln in doc.split("\n"))
            self.lines.append(f'{ind}"""\n{body}\n{ind}"""')
        else:
            self.emit(depth, f'"""{doc}"""')
        return True

    # --- functions --------------------------------------------------------------
    def signature_text(self, sig: Signature, *, method: bool, ret_override: str | None = None,
                       object_param: bool = False) -> str:
        ctx = self.ctx
        params = list(sig.params)
        first = 1 if method and params and params[0].name == "self" else 0
        # Unnamed parameters (`arg`, `arg0`, ...) are positional-only; older
        # renderings have no `/` for them.
        rest = params[first:]
        named_pos = [p for p in rest if p.kind in ("pos", "posonly")]
        if (named_pos and all(p.kind == "pos" for p in rest)
                and all(_UNNAMED.match(p.name) for p in named_pos)):
            for p in named_pos:
                p.kind = "posonly"
        parts: list[str] = []
        if first:
            parts.append("self")
        seen_star = False
        need_slash = False
        for p in rest:
            if p.kind == "posonly":
                need_slash = True
            elif need_slash:
                parts.append("/")
                need_slash = False
            if p.kind == "kwonly" and not seen_star:
                parts.append("*")
                seen_star = True
            ann = "typing.Any" if p.type is None else render(p.type, ctx)
            if object_param:
                ann = "object"
            if p.kind == "var":
                parts.append(f"*{p.name}: {ann}")
                seen_star = True
            elif p.kind == "varkw":
                parts.append(f"**{p.name}: {ann}")
            else:
                text = f"{p.name}: {ann}"
                d = default_expr(p.default)
                if d is not None:
                    text += f" = {d}"
                parts.append(text)
        if need_slash:
            parts.append("/")
        if ret_override is not None:
            ret = ret_override
        else:
            ret = "typing.Any" if sig.ret is None else render(sig.ret, ctx)
        return f"({', '.join(parts)}) -> {ret}"

    def function(self, depth: int, name: str, obj: object, *, method: bool,
                 static: bool = False) -> None:
        ov = split_doc(name, _doc(obj))
        if not ov.sigs:
            # A raw docstring (`raw_doc`): the signature from `__signature__`.
            line = _signature_line(name, obj)
            if line is not None:
                try:
                    ov = Overloads([parse_signature(line)], _doc(obj))
                except ParseError:
                    pass
        decorators = ["@staticmethod"] if static else []
        fallback = "(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any" if method \
            else "(*args: typing.Any, **kwargs: typing.Any) -> typing.Any"
        texts: list[str] = []
        keys: set[str] = set()
        for sig in ov.sigs:
            ret = "None" if name == "__init__" else None
            # `==`/`!=` accept anything (a mismatch returns NotImplemented).
            obj_param = name in ("__eq__", "__ne__")
            try:
                text = self.signature_text(sig, method=method, ret_override=ret,
                                           object_param=obj_param)
                ast.parse(f"def {name}{text}: ...")
            except (ParseError, SyntaxError, KeyError, AssertionError) as e:
                self.warnings.append(f"{self.name}.{name}: {e}")
                text = fallback
            if obj_param:
                text = re.sub(r"-> .*\Z", "-> bool", text)
            if name in ("__reduce__", "__reduce_ex__") and text.endswith("-> object"):
                text = text[:-len("object")] + "str | tuple[typing.Any, ...]"
            # Overloads that differ only in array metadata are one overload to
            # a type checker: keep the first.
            self.ctx.strip_meta = True
            try:
                key = self.signature_text(sig, method=method, ret_override=ret,
                                          object_param=obj_param) if text != fallback else text
            except (ParseError, KeyError, AssertionError):
                key = text
            finally:
                self.ctx.strip_meta = False
            if key not in keys:
                keys.add(key)
                texts.append(text)
        if not texts:
            self.warnings.append(f"{self.name}.{name}: no signature in __doc__")
            texts = [fallback]
        over = len(texts) > 1
        for k, text in enumerate(texts):
            for d in decorators:
                self.emit(depth, d)
            if over:
                self.emit(depth, "@typing.overload")
            doc = ov.doc if (k == 0 and len(ov.sigs) <= 1 or over and k == len(texts) - 1) else None
            if doc:
                self.emit(depth, f"def {name}{text}:")
                self.docstring(depth + 1, doc)
            else:
                self.emit(depth, f"def {name}{text}: ...")

    # --- classes ------------------------------------------------------------------
    def type_ref(self, cls: type) -> str:
        generic = bare_generic(cls.__name__, self.ctx) if cls.__module__ == "builtins" else None
        if generic is not None:
            return generic
        mod = getattr(cls, "__module__", "builtins")
        qual = getattr(cls, "__qualname__", cls.__name__)
        if mod == "builtins":
            return qual
        return self.ctx.name(f"{mod}.{qual}")

    def member(self, depth: int, key: str, value: object) -> bool:
        """Emits a bound method, static method or property of a class (an
        enum's too); false for anything else."""
        k = _kind(value)
        if k == "nb_method":
            self.function(depth, key, value, method=True)
        elif k == "nb_func":
            self.function(depth, key, value, method=False, static=True)
        elif k == "getset_descriptor":
            get, set_ = self.prop_types(key, _doc(value))
            self.prop(depth, key, get, set_)
        elif isinstance(value, property) and (value.fget is None or _is_func(value.fget)):
            # An enum's property: `property` over bound functions.
            get, set_ = "typing.Any", None
            if value.fget is not None:
                ov = split_doc(key, _doc(value.fget))
                if ov.sigs and ov.sigs[0].ret is not None:
                    get = render(ov.sigs[0].ret, self.ctx)
            if value.fset is not None:
                set_ = "typing.Any"
                ov = split_doc(key, _doc(value.fset)) if _is_func(value.fset) else Overloads()
                if ov.sigs and len(ov.sigs[0].params) == 2 and ov.sigs[0].params[1].type:
                    set_ = render(ov.sigs[0].params[1].type, self.ctx)
            self.prop(depth, key, get, set_)
        elif k == "nb_static_property":
            get, set_ = self.prop_types(key, _doc(value))
            final = "typing.ClassVar" if set_ is not None else "typing.Final"
            self.emit(depth, f"{key}: {final}[{get}]")
        else:
            return False
        return True

    def prop(self, depth: int, key: str, get: str, set_: str | None) -> None:
        self.emit(depth, "@property")
        self.emit(depth, f"def {key}(self) -> {get}: ...")
        if set_ is not None:
            self.emit(depth, f"@{key}.setter")
            self.emit(depth, f"def {key}(self, value: {set_}, /) -> None: ...")

    def prop_types(self, name: str, doc: str | None) -> tuple[str, str | None]:
        """(getter type, setter type or None) of an ndbind property from
        the first line of its `__doc__`: `name: T`, then `; read-only` or
        `; set: V` (the setter's type where it differs)."""
        from .sigparse import parse_type

        def typ(text: str) -> str:
            try:
                return render(parse_type(text.strip()), self.ctx)
            except ParseError:
                self.warnings.append(f"{self.name}: property {name}: cannot parse {text!r}")
                return "typing.Any"

        line = (doc or "").split("\n", 1)[0]
        if not line.startswith(f"{name}: "):
            self.warnings.append(f"{self.name}: property {name}: no type in __doc__")
            return "typing.Any", "typing.Any"
        get, _, rest = line[len(name) + 2:].partition("; ")
        if rest == "read-only":
            return typ(get), None
        if rest.startswith("set: "):
            return typ(get), typ(rest[len("set: "):])
        t = typ(get)
        return t, t

    def enum_class(self, depth: int, name: str, cls: type) -> None:
        base = next(b for b in _ENUM_BASES if issubclass(cls, b))
        self.ctx.imports.add("enum")
        self.emit(depth, f"class {name}(enum.{base.__name__}):")
        cdoc = cls.__doc__
        body = self.docstring(depth + 1, cdoc)
        for mname, member in cls.__members__.items():  # type: ignore[attr-defined]
            if mname != member.name:
                continue  # an alias
            self.emit(depth + 1, f"{mname} = {member._value_!r}")
            mdoc = member.__dict__.get("__doc__")
            if mdoc and mdoc != cdoc:
                self.docstring(depth + 1, mdoc)
            body = True
        for key, value in vars(cls).items():
            if not key.startswith("_") or _is_func(value):
                body = self.member(depth + 1, key, value) or body
        if not body:
            self.emit(depth + 1, "pass")

    def klass(self, depth: int, name: str, cls: type) -> None:
        if isinstance(cls, enum.EnumMeta):
            self.enum_class(depth, name, cls)
            return
        bases = [self.type_ref(b) for b in cls.__bases__ if b is not object]
        if not cls.__flags__ & _TPFLAGS_BASETYPE:
            self.emit(depth, "@typing.final")
        elif _is_disjoint_base(cls):
            self.ctx.imports.add("typing_extensions")
            self.emit(depth, "@typing_extensions.disjoint_base")
        self.emit(depth, f"class {name}" + (f"({', '.join(bases)})" if bases else "") + ":")
        start = len(self.lines)
        self.docstring(depth + 1, cls.__doc__ if cls.__doc__ != type.__doc__ else None)
        for key, value in vars(cls).items():
            if key in _SKIP_CLASS:
                continue
            if key == "__hash__" and value is None:
                self.emit(depth + 1, "__hash__: typing.ClassVar[None]  # type: ignore[assignment]")
            elif self.member(depth + 1, key, value):
                pass
            elif isinstance(value, (staticmethod, classmethod, types.FunctionType)):
                continue  # Python-level helpers
            elif isinstance(value, type):
                self.klass(depth + 1, key, value)
            elif not callable(value) and not key.startswith("__"):
                self.emit(depth + 1, f"{key}: typing.ClassVar[{self.type_ref(type(value))}]")
        if len(self.lines) == start:
            self.emit(depth + 1, "pass")

    # --- modules ------------------------------------------------------------------
    def run(self) -> None:
        mod = self.module
        for key, value in vars(mod).items():
            if key in _SKIP_MODULE or (key.startswith("__") and key.endswith("__")):
                continue
            if isinstance(value, types.ModuleType):
                vname = value.__name__
                if vname == f"{self.name}.{key}":
                    if self.is_native_core(key, value):
                        self.core = key
                        continue
                    self.submodules.append((key, value))
                    self.emit(0, f"from . import {key} as {key}")
                continue
            if _is_func(value):
                self.emit(0)
                self.function(0, key, value, method=False)
            elif isinstance(value, type):
                vmod = getattr(value, "__module__", None)
                if value.__name__ == key and vmod in (self.name, self.core_name()):
                    self.emit(0)
                    self.klass(0, key, value)
                else:
                    ref = self.type_ref(value)
                    self.emit(0)
                    self.emit(0, f"{key} = {ref}")
            elif isinstance(value, enum.Enum):
                self.emit(0, f"{key}: {self.type_ref(type(value))}")
            elif isinstance(value, (bool, int, float, str, bytes)) or value is None:
                self.emit(0, f"{key}: {type(value).__name__}")
            elif callable(value):
                self.emit(0)
                self.emit(0, f"def {key}(*args: typing.Any, **kwargs: typing.Any) -> typing.Any: ...")
            else:
                self.emit(0, f"{key}: {self.type_ref(type(value))}")

    def core_name(self) -> str:
        return f"{self.name}.{self.name.rsplit('.', 1)[-1]}"

    def is_native_core(self, key: str, value: types.ModuleType) -> bool:
        """maturin's package `m` wraps the extension `m.m` (`from .m import *`):
        the stub describes the package, not the extension a second time."""
        own = getattr(self.module, "__file__", None) or ""
        ext = getattr(value, "__file__", None) or ""
        return (key == self.name.rsplit(".", 1)[-1] and own.endswith("__init__.py")
                and ext.endswith((".so", ".pyd")))

    def text(self) -> str:
        head: list[str] = []
        doc = self.module.__doc__
        if doc:
            head.append('"""' + doc.strip().replace('"""', '\\"\\"\\"') + '"""')
            head.append("")
        head.append(f"# Generated by `python -m ndbind_stubgen {self.ctx.root}`: do not edit.")
        head.append("")
        imports = set(self.ctx.imports)
        if self.ctx.uses_arraylike:
            imports.add("typing_extensions")
        imports.discard(self.name)
        for m in sorted(imports):
            head.append(f"import {m}")
        head.append("")
        if self.ctx.uses_arraylike:
            head.append(_ARRAYLIKE)
        body = "\n".join(self.lines).strip("\n")
        return "\n".join(head).rstrip("\n") + "\n\n" + body + "\n"


_TPFLAGS_BASETYPE = 1 << 10
_PTR = 8 if sys.maxsize > 2**32 else 4


def _is_disjoint_base(cls: type) -> bool:
    """Whether instances of `cls` have a layout of their own (PEP 800): its
    base's size differs, not counting a `__dict__` or `__weakref__` slot added
    (CPython's `shape_differs`)."""
    base = cls.__base__
    if base is None or isinstance(cls, enum.EnumMeta):
        return False
    if cls.__itemsize__ or base.__itemsize__ or sys.version_info >= (3, 12):
        return cls.__basicsize__ != base.__basicsize__ or cls.__itemsize__ != base.__itemsize__
    size = cls.__basicsize__
    if not base.__weakrefoffset__ and cls.__weakrefoffset__ + _PTR == size:
        size -= _PTR
    if not base.__dictoffset__ and cls.__dictoffset__ + _PTR == size:
        size -= _PTR
    return size != base.__basicsize__


def generate(module_name: str) -> dict[str, str]:
    """Stub texts for `module_name` and its submodules, by relative path:
    `{'m.pyi': ...}` without submodules, else `{'m/__init__.pyi': ...,
    'm/sub.pyi': ...}`. A maturin package `m` wrapping its extension `m.m`
    is one module (its extension's names), plus `'m/m.pyi'` re-exporting
    them for the extension itself."""
    root = module_name.split(".")[0]
    out: dict[str, str] = {}

    def visit(mod: types.ModuleType, name: str, path: str) -> list[str]:
        stub = ModuleStub(mod, name, root)
        stub.run()
        warnings = list(stub.warnings)
        text = stub.text()
        if stub.core is not None:
            # maturin's extension inside the package: the same names
            out[f"{path}/{stub.core}.pyi"] = (
                f"# Generated by `python -m ndbind_stubgen {root}`: do not edit.\n"
                f"# The extension module maturin wraps in the package `{name}`.\n\n"
                f"from {name} import *\n")
        if stub.submodules:
            out[f"{path}/__init__.pyi"] = text
            for key, sub in stub.submodules:
                warnings += visit(sub, f"{name}.{key}", f"{path}/{key}")
        else:
            out[f"{path}.pyi"] = text
        return warnings

    mod = importlib.import_module(module_name)
    warnings = visit(mod, module_name, module_name.replace(".", "/"))
    generate.warnings = warnings  # type: ignore[attr-defined]
    return out
