"""usage.py's twin: each line marked with an `E:` comment has one deliberate type
error that both mypy --strict and pyright must report (and no other line
may be reported). scripts/typecheck.sh checks that."""

import datetime

import numpy as np
import numpy.typing as npt
import torch

import ndbind_test as m
from ndbind_test import callables, classproto, datetimes, enums_ext

m.add("one")  # E: wrong argument type
m.add(1, c=2)  # E: unknown keyword
m.markers(a=1, b=2)  # E: positional-only passed by keyword
m.markers(1, 2, 3, 4)  # E: keyword-only passed positionally
bad_ret: str = m.add(1)  # E: wrong return type
m.describe(None)  # E: no overload matches
classproto.rank_or_int("3")  # E: no overload matches (enum or int)

p = m.Point(1.0, 2.0)
p.translate(1.0)  # E: unknown method
p.x = "3"  # E: wrong property type
c = m.Counter(5)
c.count = 3  # E: assigning a read-only property
m.Point(1.0)  # E: missing constructor argument
m.Point.origin(1)  # E: static method takes no argument

m.next_color(m.Color.Purple)  # E: unknown enum member
m.next_color(m.Level.High)  # E: wrong enum type
enums_ext.Suit.Clubs.is_red(1)  # E: enum method takes no argument
enums_ext.Suit.Clubs.symbol = "x"  # E: assigning a read-only enum property
m.Point.live = "many"  # E: wrong static property type

datetimes.rt_date(datetime.time(1))  # E: a time for a date
callables.maybe_call(lambda v: str(v), 1)  # E: callback returns the wrong type

m.pass_f32("not an array")  # E: wrong array type (a str)
bad_tensor: npt.NDArray[np.float32] = m.ret_torch()  # E: wrong array type (torch for numpy)
bad_array: torch.Tensor = m.ret_numpy()  # E: wrong array type (numpy for torch)
m.ret_numpy_n("4")  # E: wrong argument of an array function

m.CustomError.missing  # E: unknown class attribute
