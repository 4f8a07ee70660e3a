"""What the stub generator reads from a module: property types in
`__doc__`, defaults known by their text, enum methods, raw docstrings
(ndbind_test.stubs; python/ndbind_stubgen)."""

import inspect

import pytest

import ndbind_test as t
import ndbind_test.stubs as s
from ndbind_stubgen.generate import generate


def test_property_docs_say_their_type():
    assert t.Point.x.__doc__ == "x: float"
    assert vars(t.Point)["live"].__doc__ == "live: int"
    G = s.Gauge
    assert G.reading.__doc__ == "reading: float; read-only"
    # The setter takes another type than the getter returns.
    assert G.level.__doc__ == "level: int; set: float"
    # A class bound after the property: named as in Rust (and Python).
    assert G.later.__doc__ == "later: Later; read-only"
    assert vars(G)["unit"].__doc__ == "unit: str; read-only"


def test_documented_properties_behave():
    g = s.Gauge()
    g.level = 2.6
    assert g.level == 3 and g.reading == 1.5 and g.later.n == 3
    with pytest.raises(AttributeError):
        g.reading = 1.0
    with pytest.raises(TypeError, match=r"Gauge.level: expected a value of type float, got str"):
        g.level = "x"
    assert s.Gauge.unit == "kPa"
    with pytest.raises(AttributeError, match="read-only"):
        s.Gauge.unit = "bar"


def test_text_default_that_is_no_literal_stays_text():
    d = inspect.signature(s.text_default).parameters["n"].default
    assert not isinstance(d, str) and repr(d) == "SIZE"
    assert s.text_default() == 0


def test_generated_stub_of_properties_and_defaults():
    text = generate("ndbind_test.stubs")["ndbind_test/stubs.pyi"]
    assert "    @property\n    def reading(self) -> float: ...\n    @property\n" in text
    assert ("    def level(self) -> int: ...\n    @level.setter\n"
            "    def level(self, value: float, /) -> None: ...\n") in text
    assert "    def later(self) -> Later: ...\n" in text
    assert "    unit: typing.Final[str]\n" in text
    assert "def text_default(n: int = ...) -> int: ...\n" in text
    assert generate.warnings == []


def test_generated_stub_of_enum_members_and_raw_docs():
    text = generate("ndbind_test.enums_ext")["ndbind_test/enums_ext.pyi"]
    for line in ("    def is_red(self) -> bool: ...", "    def __lt__(self, other: Suit) -> bool: ...",
                 "    @staticmethod\n    def trump() -> Suit: ...",
                 "    @weight.setter\n    def weight(self, value: int, /) -> None: ...",
                 "    @property\n    def bits(self) -> int: ..."):
        assert line + "\n" in text, line
    text = generate("ndbind_test.datetimes")["ndbind_test/datetimes.pyi"]
    assert 'def raw(x: int) -> int:\n    """raw(x) -- exactly this"""\n' in text
    assert "def mixed(x: int | float) -> int | float:" in text
