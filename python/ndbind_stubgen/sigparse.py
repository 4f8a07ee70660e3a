"""Parsing the signatures ndbind renders at the top of every bound function's
``__doc__`` (``add(a: int, b: int = 1) -> int``, one line per overload), and
turning their type expressions into valid stub annotations.

A small tokenizer and a recursive-descent parser, no regular expressions on
whole lines: types nest (``collections.abc.Callable[[int], int] | None``),
array types carry ``key=value`` metadata (``ndarray[dtype=float32,
shape=(3, *, 4), order='C', device='cpu', writable=False]``) and defaults are
arbitrary ``repr()`` text.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import typing
from dataclasses import dataclass, field


class ParseError(ValueError):
    """A signature or type the parser does not understand."""


# --- tokens -----------------------------------------------------------------

@dataclass
class Tok:
    kind: str  # 'name', 'num', 'str', 'op', 'other'
    text: str
    start: int
    end: int


_OPS = ("**", "->", "...", "[", "]", "(", ")", ",", "|", "=", "*", "/", ":", "{", "}")


def tokenize(s: str) -> list[Tok]:
    """Splits `s` into tokens; characters the grammar does not know become
    'other' tokens (they may only appear in default values)."""
    out: list[Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] == "_" or
                             (s[j] == "." and j + 1 < n and (s[j + 1].isalpha() or s[j + 1] == "_"))):
                j += 1
            out.append(Tok("name", s[i:j], i, j))
            i = j
            continue
        if c.isdigit() or (c == "-" and i + 1 < n and s[i + 1].isdigit() and s[i:i + 2] != "->"):
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "._+-" and s[j - 1] in "eE" or s[j] in "._"):
                j += 1
            out.append(Tok("num", s[i:j], i, j))
            i = j
            continue
        if c in "'\"":
            j = i + 1
            while j < n and s[j] != c:
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                raise ParseError(f"unterminated string in {s!r}")
            out.append(Tok("str", s[i:j + 1], i, j + 1))
            i = j + 1
            continue
        for op in _OPS:
            if s.startswith(op, i):
                out.append(Tok("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            out.append(Tok("other", c, i, i + 1))
            i += 1
    return out


# --- type expressions ---------------------------------------------------------

@dataclass
class TName:
    """`name` or `name[args]` (args: types, lists of types, key=value)."""
    name: str
    args: list[Node] | None = None


@dataclass
class TList:
    """`[a, b]` (the parameter list of a Callable)."""
    items: list[Node]


@dataclass
class TUnion:
    items: list[Node]


@dataclass
class TLit:
    """A literal: a number, string, `...`, `*` (any extent) or a tuple of them."""
    text: str
    items: list[Node] | None = None  # a parenthesised tuple
    trailing_comma: bool = False


@dataclass
class TCall:
    """`Name(args)` (Annotated metadata such as `FixedSize(3)`)."""
    name: str
    args: list[Node]


@dataclass
class TKw:
    key: str
    value: Node


Node = typing.Union[TName, TList, TUnion, TLit, TCall, TKw]


class _Parser:
    def __init__(self, toks: list[Tok]):
        self.t = toks
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def at(self, text: str) -> bool:
        p = self.peek()
        return p is not None and p.kind == "op" and p.text == text

    def expect(self, text: str) -> Tok:
        if not self.at(text):
            p = self.peek()
            raise ParseError(f"expected {text!r}, found {p.text if p else 'end'!r}")
        tok = self.t[self.i]
        self.i += 1
        return tok

    def type_(self) -> Node:
        items = [self.primary()]
        while self.at("|"):
            self.i += 1
            items.append(self.primary())
        return items[0] if len(items) == 1 else TUnion(items)

    def primary(self) -> Node:
        p = self.peek()
        if p is None:
            raise ParseError("unexpected end of type")
        if p.kind == "op" and p.text == "[":
            self.i += 1
            return TList(self.items("]"))
        if p.kind == "op" and p.text == "(":
            self.i += 1
            items = self.items(")", allow_trailing=True)
            trailing = self.t[self.i - 2].text == "," if len(items) else False
            return TLit("()", items, trailing)
        if p.kind == "op" and p.text in ("...", "*"):
            self.i += 1
            return TLit(p.text)
        if p.kind in ("num", "str"):
            self.i += 1
            return TLit(p.text)
        if p.kind == "name":
            self.i += 1
            if self.at("["):
                self.i += 1
                return TName(p.text, self.items("]"))
            if self.at("("):
                self.i += 1
                return TCall(p.text, self.items(")"))
            return TName(p.text)
        raise ParseError(f"unexpected {p.text!r} in a type")

    def items(self, close: str, allow_trailing: bool = True) -> list[Node]:
        out: list[Node] = []
        while not self.at(close):
            p, q = self.peek(), self.peek(1)
            if p is not None and p.kind == "name" and q is not None and q.kind == "op" and q.text == "=":
                self.i += 2
                out.append(TKw(p.text, self.type_()))
            else:
                out.append(self.type_())
            if self.at(","):
                self.i += 1
                continue
            if not self.at(close):
                p = self.peek()
                raise ParseError(f"expected ',' or {close!r}, found {p.text if p else 'end'!r}")
        self.expect(close)
        return out


def parse_type(text: str) -> Node:
    """Parses one rendered type (`list[int] | None`, `ndarray[...]`)."""
    p = _Parser(tokenize(text))
    node = p.type_()
    if p.peek() is not None:
        raise ParseError(f"trailing text after type {text!r}")
    return node


# --- signatures ---------------------------------------------------------------

@dataclass
class Param:
    name: str
    kind: str  # 'pos' (positional or keyword), 'posonly', 'kwonly', 'var', 'varkw'
    type: Node | None = None
    type_text: str | None = None
    default: str | None = None  # the rendered default's text


@dataclass
class Signature:
    name: str
    params: list[Param] = field(default_factory=list)
    ret: Node | None = None
    ret_text: str | None = None


def _split_top(toks: list[Tok]) -> list[list[Tok]]:
    """Splits tokens at commas outside brackets."""
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.text == ",":
            parts.append([])
        else:
            parts[-1].append(t)
    if parts == [[]]:
        return []
    return parts


def parse_signature(line: str) -> Signature:
    """Parses one rendered overload: `name(params) -> ret` (a leading `def `
    and a trailing `:` of custom signatures are allowed)."""
    s = line.strip()
    if s.startswith("def "):
        s = s[4:]
    if s.endswith(":"):
        s = s[:-1]
    toks = tokenize(s)
    if len(toks) < 3 or toks[0].kind != "name" or toks[1].text != "(":
        raise ParseError(f"not a signature: {line!r}")
    # the matching ')'
    depth, close = 0, None
    for k in range(1, len(toks)):
        t = toks[k]
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
            if depth == 0:
                close = k
                break
    if close is None:
        raise ParseError(f"unbalanced parentheses in {line!r}")
    sig = Signature(toks[0].text)
    rest = toks[close + 1:]
    if rest:
        if rest[0].text != "->" or len(rest) < 2:
            raise ParseError(f"expected '-> type' in {line!r}")
        sig.ret_text = s[rest[1].start:].strip()
        sig.ret = parse_type(sig.ret_text)
    kind = "pos"
    for part in _split_top(toks[2:close]):
        if not part:
            raise ParseError(f"empty parameter in {line!r}")
        first = part[0]
        if first.kind == "op" and first.text == "/" and len(part) == 1:
            for p in sig.params:
                if p.kind == "pos":
                    p.kind = "posonly"
            continue
        if first.kind == "op" and first.text == "*" and len(part) == 1:
            kind = "kwonly"
            continue
        pkind = kind
        j = 0
        if first.kind == "op" and first.text in ("*", "**"):
            pkind = "var" if first.text == "*" else "varkw"
            if first.text == "*":
                kind = "kwonly"
            j = 1
        if j >= len(part) or part[j].kind != "name" or not part[j].text.isidentifier():
            raise ParseError(f"bad parameter name in {line!r}")
        p = Param(part[j].text, pkind)
        j += 1
        # annotation: up to a top-level '='
        depth, eq = 0, None
        for k in range(j, len(part)):
            t = part[k]
            if t.kind == "op" and t.text in "([{":
                depth += 1
            elif t.kind == "op" and t.text in ")]}":
                depth -= 1
            elif depth == 0 and t.kind == "op" and t.text == "=":
                eq = k
                break
        ann_end = eq if eq is not None else len(part)
        if j < ann_end:
            if part[j].text != ":":
                raise ParseError(f"expected ':' after {p.name!r} in {line!r}")
            if j + 1 >= ann_end:
                raise ParseError(f"missing annotation of {p.name!r} in {line!r}")
            p.type_text = s[part[j + 1].start:part[ann_end - 1].end].strip()
            p.type = parse_type(p.type_text)
        if eq is not None:
            if eq + 1 >= len(part):
                raise ParseError(f"missing default of {p.name!r} in {line!r}")
            p.default = s[part[eq + 1].start:part[-1].end].strip()
        sig.params.append(p)
    return sig


def default_expr(text: str | None) -> str | None:
    """The default as it goes into a stub: a literal Python expression kept
    as written, anything else (an object's repr, a call) as `...`."""
    if text is None:
        return None
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "..."
    return text if len(text) <= 60 else "..."


def is_valid_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))
