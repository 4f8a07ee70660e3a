"""Call-overhead benchmark: ndbind vs pyo3 (+ rust-numpy) vs pure Python.

Run from the repo root, with the project's venv (scripts/venv.sh makes it):

    .venv/bin/python benches/run.py            # ~20 s: 9 repeats, ~30 ms samples
    .venv/bin/python benches/run.py --quick    # a few seconds, noisier
    .venv/bin/python benches/run.py --json out.json   # also write the raw medians

Each table row times one call through three contenders: the pure-Python floor
(the cheapest Python spelling of the same thing), ndbind's conformance module
`ndbind_test` and the pyo3 peer `pyo3_peer` (benches/pyo3_peer). All samples
are taken in this one process, round-robin over every contender of every row
on each repeat, so drift and noise hit all of them alike; the table shows the
median ns per call. A contender that is missing or raises on its first call is
skipped and shown as `—` (so the script works at every stage of the project).

The pyo3 peer is built (maturin develop --release) when it cannot be imported,
or always with --build. `ndbind_test` is built by the project's own scripts
(`.venv/bin/maturin develop --release -m python_tests/Cargo.toml`); when it is
missing its cells stay empty.
"""
import argparse
import importlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # quiet, CPU-only JAX
ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "benches" / "pyo3_peer"
ROLES = ("Python", "ndbind", "pyo3")


def try_import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def build_peer(force):
    if not force and try_import("pyo3_peer"):
        return
    maturin = Path(sys.executable).with_name("maturin")
    cmd = [str(maturin), "develop", "--release", "-m", str(PEER / "Cargo.toml")]
    print("building the pyo3 peer:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)
    importlib.invalidate_caches()


# --- the pure-Python floors -------------------------------------------------
def py_noop():
    pass


def py_add(a, b):
    return a + b


def py_identity(x):
    return x


class PyPoint:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return math.hypot(self.x, self.y)


# --- the rows ---------------------------------------------------------------
def make_rows(np, nb, p3, torch, jnp):
    """[(row title, {role: (stmt, namespace thunk)})]; a thunk may raise."""
    nbb = lambda: nb.bench  # noqa: E731  (AttributeError while not bound yet)
    f32 = lambda: np.ones((4, 4), np.float32)  # noqa: E731
    f64 = lambda: np.arange(16, dtype=np.float64).reshape(4, 4)  # noqa: E731

    def ro(a):
        a.flags.writeable = False
        return a

    def call(stmt, fn, **arrays):
        return stmt, lambda: dict(f=fn(), **{k: v() for k, v in arrays.items()})

    def trio(stmt, floor, nb_fn, p3_fn, floor_stmt=None, **arrays):
        return {"Python": call(floor_stmt or stmt, lambda: floor, **arrays),
                "ndbind": call(stmt, nb_fn, **arrays),
                "pyo3": call(stmt, lambda: p3_fn(p3), **arrays)}

    rows = [
        ("noop()", trio("f()", py_noop, lambda: nbb().noop, lambda m: m.noop)),
        ("add(1, 2)", trio("f(1, 2)", py_add, lambda: nb.add, lambda m: m.add)),
        ("bench.add(1, 2)", trio("f(1, 2)", py_add, lambda: nbb().add, lambda m: m.add)),
        ("shape0(x) numpy f32 4×4", trio("f(x)", None, lambda: nbb().shape0, lambda m: m.shape0,
                                         floor_stmt="x.shape[0]", x=f32)),
        ("shape0(x) numpy read-only", trio("f(x)", None, lambda: nbb().shape0, lambda m: m.shape0,
                                           floor_stmt="x.shape[0]", x=lambda: ro(f32()))),
        ("shape0(x) torch f32 4×4", trio("f(x)", None, lambda: nbb().shape0, lambda m: m.shape0,
                                         floor_stmt="x.shape[0]", x=lambda: torch.ones(4, 4))),
        ("shape0(x) jax f32 4×4", trio("f(x)", None, lambda: nbb().shape0, lambda m: m.shape0,
                                       floor_stmt="x.shape[0]",
                                       x=lambda: jnp.ones((4, 4), jnp.float32))),
        ("ro_sum(x) f32 4×4", trio("f(x)", None, lambda: nbb().ro_sum, lambda m: m.ro_sum,
                                   floor_stmt="x.sum()", x=lambda: ro(f32()))),
        ("scale_inplace(x, 1.0) f32 (16,)",
         trio("f(x, 1.0)", None, lambda: nbb().scale_inplace, lambda m: m.scale_inplace,
              floor_stmt="x.__imul__(1.0)", x=lambda: np.ones(16, np.float32))),
        ("view_of(x)", trio("f(x)", py_identity, lambda: nbb().view_of, lambda m: m.view_of, x=f32)),
        ("make_array(1000)", trio("f(1000)", None, lambda: nbb().make_array, lambda m: m.make_array,
                                  floor_stmt="np.zeros(1000, np.float32)")),
        ("shape(x) f64 4×4", trio("f(x)", None, lambda: nb.shape, lambda m: m.shape,
                                  floor_stmt="list(x.shape)", x=f64)),
        ("sum_f64(x) f64 4×4", trio("f(x)", None, lambda: nb.sum_f64, lambda m: m.sum_f64,
                                    floor_stmt="x.sum()", x=f64)),
        ("scale(x, 2.0) f64 4×4", trio("f(x, 2.0)", None, lambda: nb.scale, lambda m: m.scale,
                                       floor_stmt="x.__imul__(2.0)", x=f64)),
        ("Point(1, 2).norm()", trio("f(1.0, 2.0).norm()", PyPoint, lambda: nb.Point,
                                    lambda m: m.Point)),
        ("p.norm()", {"Python": ("p.norm()", lambda: {"p": PyPoint(1.0, 2.0)}),
                      "ndbind": ("p.norm()", lambda: {"p": nb.Point(1.0, 2.0)}),
                      "pyo3": ("p.norm()", lambda: {"p": p3.Point(1.0, 2.0)})}),
    ]
    return rows


# --- timing -------------------------------------------------------------------
def calibrate(timer, target):
    """Loop count so that one sample takes about `target` seconds."""
    n = 1
    while True:
        t = timer.timeit(n)
        if t >= target / 10 or n >= 1 << 30:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 10 if t < target / 100 else 2


def prepare(rows, target, np):
    """Build the timers; a contender whose setup or first call raises is skipped."""
    timers, skipped = {}, {}
    for title, roles in rows:
        for role, (stmt, thunk) in roles.items():
            try:
                ns = thunk()
                ns["np"] = np
                exec(stmt, ns)  # the first call: a contender that raises is skipped
                timer = timeit.Timer(stmt, globals=ns)
                timers[title, role] = (timer, calibrate(timer, target))
            except Exception as e:  # noqa: BLE001
                skipped[title, role] = f"{type(e).__name__}: {str(e).splitlines()[0][:70] if str(e) else ''}"
    return timers, skipped


def run(timers, repeats):
    samples = {key: [] for key in timers}
    for _ in range(repeats):  # round-robin over every contender of every row
        for key, (timer, number) in timers.items():
            samples[key].append(timer.timeit(number) / number * 1e9)
    return {key: statistics.median(s) for key, s in samples.items()}


# --- report -------------------------------------------------------------------
def machine(np, torch, jax):
    cpu = "?"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    vers = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    vers += [f"{m.__name__} {m.__version__}" for m in (torch, jax) if m]
    lock = PEER / "Cargo.lock"
    if lock.exists():
        txt = lock.read_text().split("[[package]]")
        for crate in ("pyo3", "numpy"):
            pkg = next((p for p in txt if f'name = "{crate}"\n' in p), "")
            v = pkg.split('version = "')[1].split('"')[0] if pkg else "?"
            vers.append(f"{'rust-' if crate == 'numpy' else ''}{crate} {v}")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; " + ", ".join(vers)


def table(rows, med):
    fmt = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
    ratio = lambda a, b: "—" if a is None or b is None else f"{a / b:.2f}×"  # noqa: E731
    out = ["| call | " + " | ".join(f"{r} ns" for r in ROLES) + " | ndbind/pyo3 | ndbind/Python |",
           "|---|" + "---:|" * (len(ROLES) + 2)]
    for title, _ in rows:
        v = {r: med.get((title, r)) for r in ROLES}
        out.append(f"| `{title}` | " + " | ".join(fmt(v[r]) for r in ROLES)
                   + f" | {ratio(v['ndbind'], v['pyo3'])} | {ratio(v['ndbind'], v['Python'])} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short samples (~5 ms), 7 repeats")
    ap.add_argument("--repeats", type=int, help="samples per contender (default 9, quick 7; min 7)")
    ap.add_argument("--build", action="store_true", help="rebuild the pyo3 peer first")
    ap.add_argument("--json", metavar="PATH", help="also write the raw medians (ns) as JSON")
    args = ap.parse_args()
    repeats = max(7, args.repeats or (7 if args.quick else 9))
    target = 0.005 if args.quick else 0.03

    build_peer(args.build)
    np, p3, nb = try_import("numpy"), try_import("pyo3_peer"), try_import("ndbind_test")
    torch, jax = try_import("torch"), try_import("jax")
    jnp = try_import("jax.numpy") if jax else None
    notes = [] if nb else ["`ndbind_test` is not importable (not built yet): its cells are `—`."]
    if not p3:
        notes.append("`pyo3_peer` is not importable: its cells are `—`.")

    np.seterr(over="ignore")  # scale(x, 2.0) repeated drives x to inf: harmless
    rows = make_rows(np, nb, p3, torch, jnp)
    timers, skipped = prepare(rows, target, np)
    print(f"timing {len(timers)} contenders × {repeats} repeats ...", file=sys.stderr)
    med = run(timers, repeats)

    print(f"Machine: {machine(np, torch, jax)}\n")
    print(table(rows, med))
    print(f"\nMedian of {repeats} interleaved samples of ~{target * 1e3:.0f} ms each; "
          "ratios < 1 mean ndbind is faster.")
    by_reason = {}  # (role, reason) -> rows: one note line per distinct reason
    for (title, role), why in skipped.items():
        if nb or role != "ndbind":
            by_reason.setdefault((role, why), []).append(f"`{title}`")
    notes += [f"{role} skipped ({why}): {', '.join(t)}" for (role, why), t in by_reason.items()]
    for n in notes:
        print(f"- {n}")
    if args.json:
        data = {"machine": machine(np, torch, jax), "repeats": repeats, "unit": "ns/call",
                "medians": {t: {r: med.get((t, r)) for r in ROLES} for t, _ in rows}}
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
