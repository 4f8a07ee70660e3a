"""Typed use of ndbind_test through its generated stubs: `mypy --strict` and
`pyright` must accept every line (scripts/typecheck.sh). errors.py is this
file's twin with one deliberate error per kind."""

import datetime

import numpy as np
import numpy.typing as npt
import torch

import ndbind_test as m
from ndbind_test import callables, classproto, datetimes, enums_ext, varargs

# functions: defaults, keywords, positional-only and keyword-only parameters
total: int = m.add(1) + m.add(1, 2) + m.add(a=1, b=2)
text: str = m.markers(1, 2, d=5)
maybe: int | None = m.maybe()
swapped: tuple[str, int] = m.tuple_swap((1, "a"))
floats: float = m.sum_list([1.0, 2.5])

# overloads
d1: str = m.describe(1)
d2: str = m.describe("x")
d3: str = m.describe(np.zeros(3))
r1: str = classproto.rank_or_int(3)
r2: str = classproto.rank_or_int(classproto.Rank.Mid)

# *args / **kwargs
collected = varargs.collect(1, 2, 3, key=4)
n_only: float = varargs.sum_args(1, 2.5)

# classes: constructors, methods, properties (read-write and read-only),
# static methods, operators, subclasses
p = m.Point(1.0, 2.0)
norm: float = p.norm()
p.x = 3.0
y: float = p.y
q: m.Point = p + m.Point.origin()
neg: m.Point = -q
same: bool = p == q
p3: m.Point = m.Point3(1.0, 2.0, 3.0)
c = m.Counter(5)
count: int = c.count
live: int = m.Point.live
shared: m.Counter = m.Counter.shared()

# enums
color: m.Color = m.next_color(m.Color.Red)
level: int = m.level_value(m.Level.High)
perm: int = m.perm_bits(m.Perm.R | m.Perm.W)
mode: classproto.Mode = classproto.mode_write()
# enums with methods, static methods, operators and properties
suit = enums_ext.Suit.Hearts
red: bool = suit.is_red() and suit.beats(enums_ext.Suit.trump())
less: bool = suit < enums_ext.Suit.Spades
symbol: str = suit.symbol
suit.weight = 3
bits: int = (enums_ext.Opt.A | enums_ext.Opt.B).bits

# datetimes
day: datetime.date = datetimes.rt_date(datetime.date(2024, 2, 29))
span: datetime.timedelta = datetimes.rt_timedelta(1.5)

# exceptions
try:
    m.raise_custom("boom")
except m.CustomError as e:
    message: str = str(e)

# arrays: parameters take any array (NumPy, torch, ...), results are typed
m.pass_f32(np.zeros(4, dtype=np.float32))
m.pass_f32(torch.zeros(4))
out: npt.NDArray[np.float32] = m.ret_numpy()
tensor: torch.Tensor = m.ret_torch()
first: np.float32 = m.ret_numpy()[0, 0]
view = m.Holder(3).view()
shape: list[int] = m.shape(view)

# callables
squares: list[float] = callables.apply(lambda v: v * v, [1.0, 2.0])
called: int = callables.maybe_call(lambda v: v + 1, 1) + callables.maybe_call(None, 1)
