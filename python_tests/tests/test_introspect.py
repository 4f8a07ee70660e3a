"""Introspection: ``inspect.signature``, ``help()``/pydoc, and the names
(``__module__``, ``__qualname__``, ``__name__``, ``__doc__``) of bound
functions, methods and classes; the rendered signature (``, /`` after
unnamed parameters, ``T | None`` for ``.none()``, handle type names)."""

import inspect
import pydoc
import sys
import types

import pytest

import ndbind_test as t
from ndbind_test import introspect as i

P = inspect.Parameter


# --- a parser of the rendered signature lines (the `__doc__` format) -------

def split_top(text, sep):
    """Splits at top-level `sep` (outside brackets and string literals)."""
    out, depth, quote, start, k = [], 0, None, 0, 0
    while k < len(text):
        c = text[k]
        if quote:
            if c == "\\":
                k += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == sep and depth == 0:
            out.append(text[start:k])
            start = k + 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        k += 1
    out.append(text[start:])
    return out


def parse_line(line, method):
    """`name(params) -> ret` as ([(name, kind, annotation, default)], ret)."""
    inner = line[line.index("(") + 1:]
    close = len(split_top(inner, ")")[0])
    ret = inner[close + 1:].strip()
    assert ret.startswith("->"), line
    params, kw_only = [], False
    for p in split_top(inner[:close], ","):
        p = p.strip()
        if not p:
            continue
        if p == "/":
            params = [(n, P.POSITIONAL_ONLY, a, d) for n, _, a, d in params]
            continue
        if p == "*":
            kw_only = True
            continue
        parts = split_top(p, "=")
        decl, default = (parts[0], p[len(parts[0]) + 1:].strip()) if len(parts) > 1 else (p, None)
        pieces = split_top(decl, ":")
        name = pieces[0].strip()
        ann = decl[len(pieces[0]) + 1:].strip() if len(pieces) > 1 else ""
        if name.startswith("**"):
            kind, name = P.VAR_KEYWORD, name[2:]
        elif name.startswith("*"):
            kind, name, kw_only = P.VAR_POSITIONAL, name[1:], True
        elif kw_only:
            kind = P.KEYWORD_ONLY
        elif method and not params:
            kind = P.POSITIONAL_ONLY  # `self`
        else:
            kind = P.POSITIONAL_OR_KEYWORD
        params.append((name, kind, ann, default))
    return params, ret[2:].strip()


def join_union(a, b):
    if a and b and b not in [x.strip() for x in split_top(a, "|")]:
        return a + " | " + b
    return a


def expected(f, method):
    """What `inspect.signature(f)` must say, from `f.__doc__` alone."""
    lines = f.__doc__.split("\n\n")[0].splitlines()
    overloads = [parse_line(line, method) for line in lines]
    params, ret = overloads[0]
    params = list(params)
    for ps, r in overloads[1:]:
        ret = join_union(ret, r)
        if [(n, k, d) for n, k, _, d in ps] != [(n, k, d) for n, k, _, d in params]:
            var = [("args", P.VAR_POSITIONAL, "", None), ("kwargs", P.VAR_KEYWORD, "", None)]
            params = ([("self", P.POSITIONAL_ONLY, "", None)] if method else []) + var
            break
        params = [(n, k, join_union(a, b), d) for (n, k, a, d), (_, _, b, _) in zip(params, ps)]
    return params, ret


# Defaults rendered from `default_repr`, not from the default object.
REPR_DEFAULTS = {"repr_default"}


def check(f, method):
    sig = inspect.signature(f)
    assert isinstance(sig, inspect.Signature)
    params, ret = expected(f, method)
    got = list(sig.parameters.values())
    assert [(p.name, p.kind) for p in got] == [(n, k) for n, k, _, _ in params], f
    for p, (_, _, ann, default) in zip(got, params):
        assert (p.annotation if p.annotation is not P.empty else "") == ann, (f, p)
        if default is None:
            assert p.default is P.empty, (f, p)
        elif f.__name__ not in REPR_DEFAULTS:
            assert repr(p.default) == default, (f, p)
    assert sig.return_annotation == ret, f
    return sig


def is_bound(obj):
    return type(obj).__name__ in ("nb_func", "nb_method")


def walk():
    """Every public callable of ndbind_test: (object, is_method)."""
    seen, out = set(), []

    def visit_module(mod):
        for name, value in sorted(vars(mod).items()):
            if name.startswith("_") or id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, types.ModuleType):
                if value.__name__.startswith("ndbind_test"):
                    visit_module(value)
            elif isinstance(value, type) and type(value).__name__ == "nb_type":
                for attr, member in sorted(vars(value).items()):
                    if is_bound(member):
                        out.append((member, type(member).__name__ == "nb_method"))
            elif is_bound(value) and name != "panicky_signature":
                out.append((value, False))

    visit_module(t)
    return out


# Bound with `raw_doc`: their `__doc__` is the user's text alone.
RAW_DOCS = {"ndbind_test.datetimes.raw", "ndbind_test.datetimes.mixed"}


def test_every_public_callable_has_a_signature_consistent_with_its_doc():
    callables = walk()
    assert len(callables) > 300
    raw = [f for f, _ in callables if f"{f.__module__}.{f.__name__}" in RAW_DOCS]
    assert len(raw) == len(RAW_DOCS)
    for f, method in callables:
        if f in raw:
            # The signature comes from the record, whatever the docstring.
            sig = inspect.signature(f)
            assert [(p.name, p.kind) for p in sig.parameters.values()] == [
                ("x", P.POSITIONAL_OR_KEYWORD)
            ]
            continue
        check(f, method)


def test_every_constructible_class_has_the_signature_of_its_init():
    n = 0
    for f, method in walk():
        if f.__name__ == "__init__":
            cls = getattr(sys.modules[f.__module__], f.__qualname__.split(".")[0])
            init = inspect.signature(f)
            assert inspect.signature(cls) == init.replace(
                parameters=list(init.parameters.values())[1:]), cls
            n += 1
    assert n > 10


def test_parameter_kinds():
    assert str(inspect.signature(i.kinds)) == (
        "(a: 'int', /, b: 'int', c: 'int' = 2, *, d: 'int', e: 'int' = 5) -> 'str'")
    bound = inspect.signature(i.kinds).bind(1, 2, d=4)
    assert i.kinds(*bound.args, **bound.kwargs) == "1 2 2 4 5"
    # What the signature refuses, the function refuses too.
    with pytest.raises(TypeError):
        inspect.signature(i.kinds).bind(a=1, b=2, d=4)
    with pytest.raises(TypeError):
        i.kinds(a=1, b=2, d=4)
    assert str(inspect.signature(i.variadic)) == (
        "(a: 'int', *rest, key: 'int' = 1, **kw) -> 'tuple[int, int, int, int]'")
    kinds = [p.kind for p in inspect.signature(i.variadic).parameters.values()]
    assert kinds == [P.POSITIONAL_OR_KEYWORD, P.VAR_POSITIONAL, P.KEYWORD_ONLY, P.VAR_KEYWORD]


def test_unnamed_parameters_are_positional_only_with_a_slash():
    assert i.unnamed.__doc__ == "unnamed(arg0: int, arg1: float, /) -> float"
    assert i.unnamed_one.__doc__ == "unnamed_one(arg: int, /) -> int\n\nOne unnamed parameter."
    assert i.Gadget.scaled.__doc__ == "scaled(self, arg: float, /) -> float"
    assert str(inspect.signature(i.unnamed)) == "(arg0: 'int', arg1: 'float', /) -> 'float'"
    assert i.unnamed(2, 1.5) == 3.0
    with pytest.raises(TypeError, match="incompatible function arguments"):
        i.unnamed(arg0=2, arg1=1.5)
    # `self` alone gets no slash (as in nanobind).
    assert i.Gadget.size.__doc__ == "size(self) -> int"


def test_none_handle_and_optional_spellings():
    assert i.maybe_name.__doc__ == "maybe_name(n: str | None) -> str"
    assert i.maybe_name(None) == "nobody" and i.maybe_name("x") == "x"
    assert i.optional.__doc__ == "optional(x: float | None = None) -> float | None"
    assert i.handles.__doc__ == (
        "handles(o: object, l: list, d: dict, t: tuple, s: set, st: str) -> object")


def test_defaults_are_the_bindings_objects():
    d = inspect.signature(i.defaults).parameters["xs"].default
    assert d == [1, 2]
    assert inspect.signature(i.defaults).parameters["xs"].default is d
    f = i.defaults
    before, fbefore = sys.getrefcount(d), sys.getrefcount(f)
    for _ in range(50):
        inspect.signature(f)
    after, fafter = sys.getrefcount(d), sys.getrefcount(f)
    assert (after, fafter) == (before, fbefore)
    # `default_repr` changes the rendered text only.
    assert i.repr_default.__doc__ == "repr_default(x: int = three) -> int"
    assert inspect.signature(i.repr_default).parameters["x"].default == 3
    # A custom `sig(...)` text: its parameters, the binding's default object.
    assert str(inspect.signature(i.custom)) == "(x: 'int' = 7, /) -> 'int'"
    assert inspect.signature(i.custom).parameters["x"].default == 7
    # A default known by its text only: a Python literal is its value
    # (as a stub's default is to stubtest), other text an object showing it.
    v = sys.modules["ndbind_test.varargs"]
    tag = inspect.signature(v.sig_part).parameters["tag"].default
    assert type(tag) is str and tag == "a,b"
    three = inspect.signature(i.repr_default).parameters["x"].default
    assert three == 3


def test_overloads():
    # The same parameters: one signature, the types joined.
    assert str(inspect.signature(i.pick)) == "(x: 'int | str') -> 'int | str'"
    assert str(inspect.signature(t.describe)).startswith("(x: 'int | float | str | ")
    # Different parameters: anything goes.
    assert str(inspect.signature(i.span)) == "(*args, **kwargs) -> 'int'"
    assert i.span(3) == 3 and i.span(1, 4) == 3
    assert str(inspect.signature(i.Gadget.grow)) == "(self, /, *args, **kwargs) -> 'None'"
    assert str(inspect.signature(i.Gadget("g").grow)) == "(*args, **kwargs) -> 'None'"


def test_methods_static_methods_constructors_and_call():
    G = i.Gadget
    g = G("g", 2)
    assert str(inspect.signature(G)) == "(name: 'str', size: 'int' = 1) -> 'None'"
    assert str(inspect.signature(G.__init__)) == (
        "(self, /, name: 'str', size: 'int' = 1) -> 'None'")
    assert str(inspect.signature(G.label)) == "(self, /, upper: 'bool' = False) -> 'str'"
    assert str(inspect.signature(g.label)) == "(upper: 'bool' = False) -> 'str'"
    assert str(inspect.signature(G.make)) == "(n: 'int') -> 'ndbind_test.introspect.Gadget'"
    assert g.make is G.make and G.make(4).size() == 4
    assert str(inspect.signature(g)) == "(x: 'int') -> 'int'"
    assert g(3) == 6


def test_names_of_functions_methods_and_classes():
    assert type(i.unnamed).__module__ == "ndbind"
    assert type(i.Gadget.label).__module__ == "ndbind"
    assert isinstance(type(t.add).__module__, str)
    assert i.unnamed.__module__ == "ndbind_test.introspect"
    assert t.add.__module__ == "ndbind_test"
    f = i.Gadget.label
    assert (f.__name__, f.__qualname__, f.__module__) == ("label", "Gadget.label", "ndbind_test.introspect")
    assert f.__doc__ == "label(self, upper: bool = False) -> str\n\nThe gadget's name."
    assert i.Gadget.make.__qualname__ == "Gadget.make"
    assert i.Gadget.__init__.__qualname__ == "Gadget.__init__"
    G = i.Gadget
    assert (G.__name__, G.__qualname__, G.__module__) == ("Gadget", "Gadget", "ndbind_test.introspect")
    assert G.__doc__ == "A gadget with every kind of method."
    M = t.classproto.Mode
    assert (M.__name__, M.__qualname__, M.__module__) == ("Mode", "Mode", "ndbind_test.classproto")
    assert (t.Color.__qualname__, t.Color.__module__) == ("Color", "ndbind_test")


def test_bound_functions_are_routines():
    for f in (i.unnamed, i.Gadget.label, i.Gadget.make, i.Gadget("g").label):
        assert inspect.isroutine(f), f


def test_pydoc_lists_functions_and_methods(monkeypatch):
    # The one deliberately broken binding (its `__doc__` raises) aside.
    monkeypatch.delattr(t, "panicky_signature")
    # From 3.14 on pydoc shows string annotations unquoted.
    q = "'" if sys.version_info < (3, 14) else ""
    text = pydoc.render_doc(t, renderer=pydoc.plaintext)
    functions = text[text.index("\nFUNCTIONS\n"):text.index("\nDATA\n")]
    assert f"    add(a: {q}int{q}, b: {q}int{q} = 1) -> {q}int{q}\n" in functions
    assert "<ndbind function" not in text
    text = pydoc.render_doc(i, renderer=pydoc.plaintext)
    functions = text[text.index("\nFUNCTIONS\n"):]
    assert f"    unnamed(arg0: {q}int{q}, arg1: {q}float{q}, /) -> {q}float{q}\n" in functions
    gadget = text[text.index("class Gadget"):text.index("\nFUNCTIONS\n")]
    assert f"Gadget(name: {q}str{q}, size: {q}int{q} = 1) -> {q}None{q}" in gadget
    methods = gadget[gadget.index("Methods defined here:"):]
    assert f"label(self, /, upper: {q}bool{q} = False) -> {q}str{q}" in methods
    assert f"make(n: {q}int{q}) -> {q}ndbind_test.introspect.Gadget{q}" in methods


def test_hostile_signature_building(monkeypatch):
    # A caster whose type name panics: an exception, as for `__doc__`.
    with pytest.raises(RuntimeError, match="deliberate panic in type_name"):
        inspect.signature(t.panicky_signature)

    # inspect's classes replaced by something that raises: that error.
    class Boom(Exception):
        pass

    def boom(*a, **k):
        raise Boom("no parameters today")

    with monkeypatch.context() as mp:
        mp.setattr(inspect, "Parameter", boom)
        with pytest.raises(Boom):
            i.kinds.__signature__
    assert str(inspect.signature(i.unnamed_one)) == "(arg: 'int', /) -> 'int'"
