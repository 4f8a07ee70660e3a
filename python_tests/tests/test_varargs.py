"""`*args` / `**kwargs` parameters (Args, Kwargs), custom signatures (sig),
and releasing the GIL inside a binding (allow_threads)."""
import sys
import threading

import numpy as np
import pytest

import ndbind_test.varargs as v


# --- *args / **kwargs -------------------------------------------------------


def test_extra_positionals_and_keywords_are_collected():
    assert v.collect(1, 2, 3, x=4, y="s") == (1, (2, 3), {"x": 4, "y": "s"})
    assert v.collect(1) == (1, (), {})
    assert v.collect(a=1, z=2) == (1, (), {"z": 2})


def test_args_and_kwargs_are_a_tuple_and_a_fresh_dict():
    a, rest, kw = v.collect(1, 2, k=3)
    assert type(rest) is tuple and type(kw) is dict
    kw2 = v.collect(1, k=3)[2]
    assert kw2 is not kw
    assert v.only_args() == () and v.only_kwargs() == {}
    assert v.only_args(*range(20)) == tuple(range(20))


def test_keyword_only_after_args():
    assert v.kwonly_after(1, 2, 3) == (1, 2, 5, 0)
    assert v.kwonly_after(1, 2, 3, b=7, z=1, w=2) == (1, 2, 7, 2)
    assert v.required_kwonly(1, 2, key="k") == "2:k"
    with pytest.raises(TypeError, match="incompatible function arguments"):
        v.required_kwonly(1, 2)


def test_keyword_naming_a_positional_only_parameter_goes_to_kwargs():
    assert v.posonly_kwargs(1, a=2) == (1, {"a": 2})


def test_keyword_named_like_the_variadic_parameter_goes_to_kwargs():
    assert v.collect(1, args=2, kwargs=3) == (1, (), {"args": 2, "kwargs": 3})
    assert v.kwonly_after(1, items=5, options=6) == (1, 0, 5, 2)


def test_unexpected_keyword_without_kwargs_is_refused():
    with pytest.raises(TypeError) as e:
        v.no_kwargs(1, 2, z=3)
    msg = str(e.value)
    assert "no_kwargs(a: int, *args) -> tuple[int, int]" in msg
    assert "Invoked with types: int, int, kwargs = { z: int }" in msg
    assert v.no_kwargs(1, 2, 3) == (1, 2)
    with pytest.raises(TypeError):
        v.collect(1, a=2)  # given twice


def test_items_are_reached_through_the_handles():
    assert v.sum_args(1, 2.5, 3) == 6.5
    with pytest.raises(TypeError, match="not a number"):
        v.sum_args(1, "x")
    assert v.arg_at(1, "a", "b") == "b"
    assert v.arg_at(5, "a") is None
    assert v.kwarg("b", a=1, b=2) == 2
    assert v.kwarg("c", a=1) is None
    assert v.kwarg_keys(z=1, a=2) == ["z", "a"]


def test_reference_counts_are_exact():
    o = object()
    before = sys.getrefcount(o)
    for _ in range(100):
        v.only_args(o, o)
        v.kwarg_keys(k=o)
        v.collect(1, o, o, k=o)
        with pytest.raises(TypeError):
            v.collect(o, o, k=o)  # refused after building the tuple and dict
        with pytest.raises(TypeError):
            v.required_kwonly(o)
    assert sys.getrefcount(o) == before
    t = v.only_args(o)
    assert sys.getrefcount(o) == before + 1
    del t
    assert sys.getrefcount(o) == before


def test_overloads_are_tried_in_order():
    assert v.overloaded(1) == "int 1"
    assert v.overloaded(1, 2) == "int+1 1"
    assert v.overloaded("a", k=1) == "any 1 1"
    assert v.overloaded() == "any 0 0"
    assert v.overloaded(x=1) == "int 1"


def test_hostile_keyword_hash():
    class Key(str):
        calls = 0

        def __hash__(self):
            Key.calls += 1
            return str.__hash__(self)

    assert v.kwargs_len(**{Key("a"): 1, Key("b"): 2}) == 2

    class Bad(str):
        def __hash__(self):
            raise ValueError("no hash")

    with pytest.raises(ValueError, match="no hash"):
        v.kwargs_len(**{Bad("a"): 1})


def test_methods_and_constructors():
    h = v.VarHolder(1, 2, 3, a=1, b=2)
    assert h.n_args() == 3 and h.keys() == ["a", "b"]
    assert v.VarHolder().call("t", 1, 2, z=3) == "t:0:2:1"
    assert v.VarHolder().call(tag="u") == "u:0:0:0"


def test_signatures_show_args_and_kwargs():
    assert v.collect.__doc__ == "collect(a: int, *args, **kwargs) -> tuple[int, tuple, dict]"
    assert v.collect.__text_signature__ == "(a, *args, **kwargs)"
    assert v.kwonly_after.__doc__.startswith(
        "kwonly_after(a: int, *items, b: int = 5, **options) ->"
    )
    assert v.kwonly_after.__text_signature__ == "(a, *items, b=5, **options)"
    assert v.only_args.__doc__ == "only_args(*args) -> tuple"
    assert v.VarHolder.call.__text_signature__ == "($self, tag, *args, **kwargs)"
    assert v.VarHolder.__init__.__doc__ == "__init__(self, *args, **kwargs) -> None"


def test_bindings_the_rules_refuse():
    assert v.REFUSED == [
        "_bad: at most one `*args` (`Args`) parameter is allowed",
        "_bad: the `**kwargs` (`Kwargs`) parameter must be the last one",
        "_bad: at most one `**kwargs` (`Kwargs`) parameter is allowed",
        "_bad: kw_only() cannot be used with `*args` (`Args`): the parameters after it are keyword-only already",
        "_bad: the parameters after `*args` (`Args`) are keyword-only: name them with arg(...)",
        "_bad: `*args` / `**kwargs` cannot have a default",
        "_bad: the binding names 3 argument(s), but the function takes 2",
    ]
    assert not hasattr(v, "_bad")


# --- sig(...) ---------------------------------------------------------------


def test_custom_signature_replaces_the_rendered_one():
    assert v.sig_full.__doc__ == "sig_full(x: int = 0) -> int"
    assert v.sig_full.__text_signature__ == "(x=0)"
    assert v.sig_part.__doc__ == "sig_part(x: float, *, scale: float = 1.0, tag: str = 'a,b') -> float"
    assert v.sig_part.__text_signature__ == "(x, *, scale=1.0, tag='a,b')"
    assert v.sig_varargs.__doc__ == "sig_varargs(*values: int) -> int"
    assert v.sig_varargs.__text_signature__ == "(*values)"
    # Behaviour is the binding's own.
    assert v.sig_full() == 0 and v.sig_part(2.0, scale=3.0) == 6.0


def test_custom_signature_in_the_mismatch_error():
    with pytest.raises(TypeError) as e:
        v.sig_over(1.5)
    assert "1. sig_over(x: SmallInt) -> int\n    2. sig_over(s: str) -> int" in str(e.value)
    assert v.sig_over.__doc__.startswith("sig_over(x: SmallInt) -> int\nsig_over(s: str) -> int")


# --- allow_threads ----------------------------------------------------------


def _signaller():
    """A Python thread that, once Rust waits, calls `signal()`: Python code
    that can run only when it gets the GIL."""

    def run():
        if v.until_waiting(10_000):
            v.signal()

    th = threading.Thread(target=run)
    th.start()
    return th


def test_allow_threads_lets_another_python_thread_run():
    th = _signaller()
    # Rust waits with the GIL released for the other thread's signal().
    assert v.wait_for_signal(10_000) is True
    th.join()


@pytest.mark.skipif(
    not getattr(sys, "_is_gil_enabled", lambda: True)(),
    reason="free-threaded, GIL disabled: there is no GIL to hold",
)
def test_holding_the_gil_the_other_thread_cannot_signal():
    th = _signaller()
    # The same wait with the GIL held: the thread cannot run signal().
    assert v.wait_with_gil(100) is False
    th.join()


def test_allow_threads_result_and_views():
    a = np.arange(10.0)
    assert v.sum_released(a) == 45.0
    assert v.nested_released() == 7
    assert v.released_in_rust_thread() == 3


def test_panic_inside_allow_threads_propagates_with_the_gil_back():
    with pytest.raises(BaseException, match="Rust panic: inside allow_threads"):
        v.panic_released()
    assert v.nested_released() == 7


def test_python_objects_cannot_be_made_without_the_gil():
    assert v.python_inside_released() is True
    assert "Object::str needs the GIL" in v.str_inside_released()
