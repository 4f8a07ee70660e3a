"""The stub generator on rendered signature strings (no module needed)."""

import pytest

from ndbind_stubgen.generate import ModuleStub, split_doc
from ndbind_stubgen.sigparse import ParseError, default_expr, parse_signature
from ndbind_stubgen.types import Context, render


def stub_of(line: str, *, method: bool = False, local=("Point",)) -> str:
    import types

    mod = types.ModuleType("m")
    for name in local:
        setattr(mod, name, object())
    s = ModuleStub(mod, "m", "m")
    return s.signature_text(parse_signature(line), method=method), s.ctx


def test_arrays_with_shape_order_device():
    text, ctx = stub_of("f(a: ndarray[dtype=float32, shape=(3, *, 4), order='C', device='cpu', "
                        "writable=False]) -> numpy.ndarray[dtype=float64, shape=(*,), writable=True]")
    assert text == ("(a: typing.Annotated[_ArrayLike, dict(dtype='float32', shape=(3, None, 4), "
                    "order='C', device='cpu', writable=False)]) -> typing.Annotated["
                    "numpy.typing.NDArray[numpy.float64], dict(shape=(None,), writable=True)]")
    assert ctx.uses_arraylike and {"numpy", "numpy.typing"} <= ctx.imports


@pytest.mark.parametrize("ret, want", [
    ("torch.Tensor[dtype=bfloat16, shape=(2, 4), writable=True]",
     "typing.Annotated[torch.Tensor, dict(dtype='bfloat16', shape=(2, 4), writable=True)]"),
    ("jax.Array[dtype=int8, shape=(), writable=False]",
     "typing.Annotated[jax.Array, dict(dtype='int8', shape=(), writable=False)]"),
    ("numpy.ndarray[dtype=bfloat16, writable=True]",
     "typing.Annotated[numpy.typing.NDArray[typing.Any], dict(dtype='bfloat16', writable=True)]"),
    ("numpy.ndarray[dtype=bool, writable=True, future_flag=yes]",
     "typing.Annotated[numpy.typing.NDArray[numpy.bool_], dict(writable=True, future_flag='yes')]"),
    ("ndarray[writable=False] | None", "typing.Annotated[_ArrayLike, dict(writable=False)] | None"),
    ("Optional[list[int]]", "typing.Optional[list[int]]"),
    ("tuple[int, tuple, dict]",
     "tuple[int, tuple[typing.Any, ...], dict[typing.Any, typing.Any]]"),
    ("collections.abc.Callable[[int, str], m.Point]", "collections.abc.Callable[[int, str], Point]"),
    ("Annotated[list[float], FixedSize(3)]", "typing.Annotated[list[float], 'FixedSize(3)']"),
    ("SmallInt", "typing.Any"),
])
def test_types(ret, want):
    text, _ = stub_of(f"f() -> {ret}")
    assert text == f"() -> {want}"


def test_defaults_and_markers():
    text, _ = stub_of("f(a: int, /, b: str = 'a,b', *, c: float = 1.5, "
                      "d: m.Point = <m.Point object at 0x7f00>, e: int | None = None) -> None")
    assert text == ("(a: int, /, b: str = 'a,b', *, c: float = 1.5, d: Point = ..., "
                    "e: int | None = None) -> None")
    assert default_expr("Color.Red") == "..."
    assert default_expr("-1") == "-1"


def test_varargs_and_kwargs():
    text, _ = stub_of("f(a: int, *args, b: int = 5, **kwargs) -> tuple[int, dict]")
    assert text == ("(a: int, *args: typing.Any, b: int = 5, **kwargs: typing.Any) "
                    "-> tuple[int, dict[typing.Any, typing.Any]]")
    text, _ = stub_of("def g(*values: int) -> int:")
    assert text == "(*values: int) -> int"


def test_methods_and_unnamed_parameters():
    # the old rendering has no `/` after unnamed parameters, the new one has
    for line in ("__eq__(self, arg: m.Point) -> bool", "__eq__(self, arg: m.Point, /) -> bool"):
        text, _ = stub_of(line, method=True)
        assert text == "(self, arg: Point, /) -> bool"
    text, _ = stub_of("eight(arg0: int, arg1: int) -> int")
    assert text == "(arg0: int, arg1: int, /) -> int"


def test_overloads_from_doc():
    ov = split_doc("order", "order(a: ndarray[order='C', writable=False]) -> str\n"
                            "order(a: ndarray[writable=False]) -> str\n\nOverloaded function.\n")
    assert [s.name for s in ov.sigs] == ["order", "order"]
    assert ov.doc == "Overloaded function."
    assert split_doc("f", "not a signature\n\ntext").sigs == []


@pytest.mark.parametrize("bad", ["f(a: list[int) -> int", "f(a: int", "f(: int) -> int",
                                 "f(a: 'open) -> int"])
def test_malformed(bad):
    with pytest.raises(ParseError):
        parse_signature(bad)


def test_render_imports():
    ctx = Context("m", ["Point"], "m")
    from ndbind_stubgen.sigparse import parse_type

    assert render(parse_type("datetime.timedelta"), ctx) == "datetime.timedelta"
    assert render(parse_type("str | os.PathLike"), ctx) == "str | os.PathLike[typing.Any]"
    assert {"datetime", "os"} <= ctx.imports
