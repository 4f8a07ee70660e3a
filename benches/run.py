"""Call-overhead benchmark: ndbind vs nanobind vs pybind11 vs pyo3 (+ rust-numpy) vs Python.

Run from the repo root, with the project's venv (scripts/venv.sh makes it):

    bash scripts/bench.sh                      # builds every contender, then runs this
    .venv/bin/python benches/run.py            # ~1 min: 9 repeats, ~30 ms samples
    .venv/bin/python benches/run.py --quick    # ~15 s, noisier, no make_jax(10**8)
    .venv/bin/python benches/run.py --json out.json   # also write the raw medians

Each table row times one call through every contender: the pure-Python floor
(the cheapest Python spelling of the same thing), ndbind's conformance module
`ndbind_test` (its `bench` submodule, CONFORMANCE.md §5), and three peers
binding the very same functions: `nanobind_peer` (C++, nanobind 3.1.0),
`pybind11_peer` (C++, pybind11 3.1.0; NumPy only) and `pyo3_peer` (pyo3 +
rust-numpy). All samples are taken in this one process, round-robin over every
contender of every row on each repeat, so drift and noise hit all of them
alike; the table shows the median ns per call. A contender that is missing or
raises on its first call is skipped and shown as `—` (so the script works at
every stage of the project).

scripts/bench.sh builds the peers (the C++ ones into benches/_peers/, which
this script puts on sys.path) and records each module's clean build time and
binary size in benches/_peers/builds.json, printed under the table. The
binary-size target is checked on `ndbind_bench` (benches/ndbind_bench/: the
same bindings as the peers and nothing else; `ndbind_test` holds every
conformance section), built by scripts/bench.sh with and without the §4 class
`Point` (which the peers bind) and also with fat LTO, for the pyo3 peer alike.
The pyo3 peer is also built here (maturin develop --release) when it cannot be
imported, or always with --build.
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
import types
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # quiet, CPU-only JAX
# NumPy's OpenBLAS starts a thread pool whose threads spin on the second of
# the two cores (a quarter of a `shape(x)` loop's samples under perf); no row
# calls BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "benches" / "pyo3_peer"
PEERS_DIR = ROOT / "benches" / "_peers"  # the C++ peers' .so (scripts/bench.sh)
BUILDS = PEERS_DIR / "builds.json"
ROLES = ("Python", "ndbind", "nanobind", "pybind11", "pyo3")
MODULES = {"ndbind": "ndbind_test", "nanobind": "nanobind_peer",
           "pybind11": "pybind11_peer", "pyo3": "pyo3_peer"}
BINDINGS = tuple(MODULES)  # the roles that are modules
# The build table: (role, builds.json key, importable module or None).
BUILT = (("ndbind", "ndbind_test", "ndbind_test"), ("ndbind", "ndbind_bench", "ndbind_bench"),
         ("ndbind", "ndbind_bench_point", None), ("Rust floor", "rust_floor", None), ("nanobind", "nanobind_peer", "nanobind_peer"),
         ("pybind11", "pybind11_peer", "pybind11_peer"), ("pyo3", "pyo3_peer", "pyo3_peer"))
RATIOS = (("ndbind", "nanobind"), ("ndbind", "pyo3"), ("ndbind", "Python"))
sys.path.insert(0, str(PEERS_DIR))


class Missing(Exception):
    """The contender's module is not importable: one note, not one per row."""


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
def make_rows(np, mods, torch, jnp, quick):
    """[(row title, {role: (stmt, namespace thunk)})]; a thunk may raise."""
    f32 = lambda: np.ones((4, 4), np.float32)  # noqa: E731
    f64 = lambda: np.arange(16, dtype=np.float64).reshape(4, 4)  # noqa: E731

    def ro(a):
        a.flags.writeable = False
        return a

    def fn(role, name, top):
        """The callable `name` of role's module (ndbind: its `bench` submodule unless top)."""
        def get():
            m = mods[role]
            if m is None:
                raise Missing
            return getattr(m if top or role != "ndbind" else m.bench, name)
        return get

    def call(stmt, get, arrays):
        return stmt, lambda: dict(f=get(), **{k: v() for k, v in arrays.items()})

    def row(stmt, name, floor=None, floor_stmt=None, roles=BINDINGS, top=False, **arrays):
        """One row: `stmt` calls `f`, the bound `name`; the floor calls `floor` or runs floor_stmt."""
        out = {}
        if floor is not None or floor_stmt:
            out["Python"] = call(floor_stmt or stmt, lambda: floor, arrays)
        for role in roles:
            out[role] = call(stmt, fn(role, name, top), arrays)
        return out

    def animal(role, override):
        """call_speak(a) on a bound Animal or on a Python subclass overriding speak()."""
        def ns():
            m = mods[role]
            if m is None or not hasattr(m, "Animal"):
                raise Missing
            cls = m.Animal
            if override:
                cls = type("Dog", (m.Animal,), {"speak": lambda self: "woof"})
            return {"f": m.call_speak, "a": cls("rex")}
        return "f(a)", ns

    def point(role):
        def ns():
            if role == "Python":
                return {"p": PyPoint(1.0, 2.0)}
            if mods[role] is None:
                raise Missing
            return {"p": mods[role].Point(1.0, 2.0)}
        return "p.norm()", ns

    x_torch = lambda: torch.ones(4, 4)  # noqa: E731
    x_jax = lambda: jnp.ones((4, 4), jnp.float32)  # noqa: E731
    nb_only = ("ndbind", "nanobind")  # make_torch / make_jax: pybind11 and pyo3 have no route
    rows = [
        ("noop()", row("f()", "noop", py_noop)),
        ("add(1, 2)", row("f(1, 2)", "add", py_add, top=True)),
        ("bench.add(1, 2)", row("f(1, 2)", "add", py_add)),
        ("shape0(x) NumPy f32 4×4", row("f(x)", "shape0", floor_stmt="x.shape[0]", x=f32)),
        ("shape0(x) NumPy read-only", row("f(x)", "shape0", floor_stmt="x.shape[0]",
                                          x=lambda: ro(f32()))),
        ("shape0(t) torch f32 4×4", row("f(x)", "shape0", floor_stmt="x.shape[0]", x=x_torch)),
        ("shape0(j) JAX f32 4×4", row("f(x)", "shape0", floor_stmt="x.shape[0]", x=x_jax)),
        ("ro_sum(x) f32 4×4", row("f(x)", "ro_sum", floor_stmt="x.sum()", x=lambda: ro(f32()))),
        ("scale_inplace(x, 1.0) f32 (16,)",
         row("f(x, 1.0)", "scale_inplace", floor_stmt="x.__imul__(1.0)",
             x=lambda: np.ones(16, np.float32))),
        ("view_of(x)", row("f(x)", "view_of", py_identity, x=f32)),
    ]
    # §5: contents unspecified, so the floors are np.empty / torch.empty.
    exps = (3, 6) if quick else (3, 6, 8)
    for exp in exps:
        rows.append((f"make_array({1000 if exp == 3 else f'10**{exp}'}) → NumPy",
                     row(f"f({10 ** exp})", "make_array", floor_stmt=f"np.empty({10 ** exp}, np.float32)")))
    for exp in exps:
        rows.append((f"make_torch({1000 if exp == 3 else f'10**{exp}'}) → torch",
                     row(f"f({10 ** exp})", "make_torch", roles=nb_only,
                         floor_stmt=f"torch.empty({10 ** exp})")))
    for exp in exps:
        rows.append((f"make_jax(10**{exp}) → JAX",
                     row(f"f({10 ** exp})", "make_jax", roles=nb_only)))
    rows += [
        ("shape(x) f64 4×4", row("f(x)", "shape", floor_stmt="list(x.shape)", top=True, x=f64)),
        ("sum_f64(x) f64 4×4", row("f(x)", "sum_f64", floor_stmt="x.sum()", top=True, x=f64)),
        ("scale(x, 2.0) f64 4×4", row("f(x, 2.0)", "scale", floor_stmt="x.__imul__(2.0)",
                                      top=True, x=f64)),
        # Issue 3: the same array arguments from torch and JAX (the peers
        # accept NumPy only; JAX is float32 by default and immutable).
        ("shape(t) torch f64 4×4", row("f(x)", "shape", floor_stmt="list(x.shape)", top=True,
                                       x=lambda: torch.ones(4, 4, dtype=torch.float64))),
        ("shape(j) JAX f32 4×4", row("f(x)", "shape", floor_stmt="list(x.shape)", top=True, x=x_jax)),
        ("sum_f64(t) torch f64 4×4", row("f(x)", "sum_f64", floor_stmt="x.sum()", top=True,
                                         x=lambda: torch.ones(4, 4, dtype=torch.float64))),
        ("scale(t, 2.0) torch f64 4×4", row("f(x, 2.0)", "scale", floor_stmt="x.mul_(2.0)", top=True,
                                            x=lambda: torch.ones(4, 4, dtype=torch.float64))),
        ("Point(1, 2).norm()", row("f(1.0, 2.0).norm()", "Point", PyPoint, top=True)),
        ("p.norm()", {role: point(role) for role in ROLES}),
        # Issue 8: Rust calling a trait method that Python may override.
        ("call_speak(a) Rust default", {role: animal(role, False) for role in ("ndbind", "pyo3")}),
        ("call_speak(a) Python override", {role: animal(role, True) for role in ("ndbind", "pyo3")}),
    ]
    # Issue 4: Rust-owned arrays out (filled 0..n-1) beside rust-numpy's
    # into_pyarray (the pyo3 peer's make_array, zero-filled), and identity.
    for exp in exps:
        n = 10 ** exp
        rows.append((f"ret_numpy_n({1000 if exp == 3 else f'10**{exp}'}) vs into_pyarray", {
            "Python": call(f"np.arange({n}, dtype=np.float32)", lambda: None, {}),
            "ndbind": call(f"f({n})", fn("ndbind", "ret_numpy_n", True), {}),
            "pyo3": call(f"f({n})", fn("pyo3", "make_array", False), {}),
        }))
    rows += [
        ("ret_torch() (2, 4)", {"ndbind": call("f()", fn("ndbind", "ret_torch", True), {})}),
        ("ret_jax() (2, 4)", {"ndbind": call("f()", fn("ndbind", "ret_jax", True), {})}),
        ("passthrough(x)", row("f(x)", "passthrough", py_identity, roles=("ndbind",), top=True, x=f32)),
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


def prepare(rows, target, glob):
    """Build the timers; a contender whose setup or first call raises is skipped."""
    timers, skipped = {}, {}
    for title, roles in rows:
        for role, (stmt, thunk) in roles.items():
            try:
                ns = thunk()
                ns.update(glob)
                exec(stmt, ns)  # the first call: a contender that raises is skipped
                timer = timeit.Timer(stmt, globals=ns)
                timers[title, role] = (timer, calibrate(timer, target))
            except Missing:
                pass
            except Exception as e:  # noqa: BLE001
                msg = str(e).splitlines()[0][:70] if str(e) else ""
                skipped[title, role] = f"{type(e).__name__}: {msg}"
    return timers, skipped


def run(timers, repeats):
    """The median ns per call of each contender, and every sample (in
    repeat order, so that samples of two rows from one repeat were taken
    seconds apart)."""
    samples = {key: [] for key in timers}
    for _ in range(repeats):  # round-robin over every contender of every row
        for key, (timer, number) in timers.items():
            samples[key].append(timer.timeit(number) / number * 1e9)
    return {key: statistics.median(s) for key, s in samples.items()}, samples


# --- build facts ----------------------------------------------------------------
def builds():
    try:
        return json.loads(BUILDS.read_text())
    except (OSError, ValueError):
        return {}


def bound_names(mod):
    """Public callables (functions and classes) of a module and its submodules."""
    seen, found, todo = set(), set(), [mod]  # by id: a package re-exports its extension
    while todo:
        m = todo.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        for k, v in vars(m).items():
            if k.startswith("_"):
                continue
            if isinstance(v, types.ModuleType):
                if v.__name__.split(".")[0] == mod.__name__.split(".")[0]:
                    todo.append(v)
            elif callable(v):
                found.add(id(v))
    return len(found)


def build_table(info):
    kib = lambda b: "—" if b is None else f"{b / 1024:,.0f} KiB"  # noqa: E731
    out = ["| module | clean build | `.so` as built | stripped | stripped, fat LTO | bound callables "
           "| stripped / callable |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for role, key, modname in BUILT:
        b = info.get(key, {})
        m = try_import(modname or "ndbind_bench")
        n = bound_names(m) + (0 if modname else 1) if m else None  # + Point: one more
        if key == "rust_floor":
            n = 0
        s = b.get("stripped_bytes")
        t = b.get("clean_build_s")
        label = {"ndbind_bench_point": "`ndbind_bench` + `Point`",
                 "rust_floor": "`ndbind_bench --features floor`: no bindings"}.get(key, f"`{key}`")
        out.append(f"| {role} ({label}) | {'—' if t is None else f'{t:.0f} s'} "
                   f"| {kib(b.get('size_bytes'))} | {kib(s)} | {kib(b.get('fat_stripped_bytes'))} | {n or '—'} "
                   f"| {'—' if not (s and n) else f'{s / n / 1024:.1f} KiB'} |")
    return "\n".join(out)


# --- report -------------------------------------------------------------------
def machine(np, torch, jax, info):
    cpu = "?"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    vers = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    vers += [f"{m.__name__} {m.__version__}" for m in (torch, jax) if m]
    for dist in ("nanobind", "pybind11"):
        try:
            vers.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    lock = PEER / "Cargo.lock"
    if lock.exists():
        txt = lock.read_text().split("[[package]]")
        for crate in ("pyo3", "numpy"):
            pkg = next((p for p in txt if f'name = "{crate}"\n' in p), "")
            v = pkg.split('version = "')[1].split('"')[0] if pkg else "?"
            vers.append(f"{'rust-' if crate == 'numpy' else ''}{crate} {v}")
    tools = info.get("toolchain", {})
    vers += [tools[k] for k in ("gxx", "rustc") if k in tools]
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; " + ", ".join(vers)


def fmt_ns(v):
    if v is None:
        return "—"
    if v < 1e4:
        return f"{v:.1f}"
    if v < 1e7:
        return f"{v / 1e3:.1f} µs"
    return f"{v / 1e6:.1f} ms"


def ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}×"


def table(rows, med):
    out = ["| call | " + " | ".join(ROLES) + " | " + " | ".join(f"{a}/{b}" for a, b in RATIOS) + " |",
           "|---|" + "---:|" * (len(ROLES) + len(RATIOS))]
    for title, _ in rows:
        v = {r: med.get((title, r)) for r in ROLES}
        out.append(f"| `{title}` | " + " | ".join(fmt_ns(v[r]) for r in ROLES) + " | "
                   + " | ".join(ratio(v[a], v[b]) for a, b in RATIOS) + " |")
    return "\n".join(out)


def targets(med, samples, mods, info):
    """Issue 6's targets (and issue 3's), checked on this run's ratios."""
    def r(title, a, b):
        x, y = med.get((title, a)), med.get((title, b))
        return None if x is None or y is None else x / y

    def r2(title_a, title_b):
        """ndbind against itself on two rows: the median of the ratios within
        each repeat, so that the machine speeding up or slowing down between
        the rows (it does, for minutes at a time) does not count."""
        x, y = samples.get((title_a, "ndbind")), samples.get((title_b, "ndbind"))
        return None if not x or not y else statistics.median(a / b for a, b in zip(x, y))

    checks = [
        ("(issue 3) `shape(x)` NumPy ≤ 2.5× a no-op ndbind call", r2("shape(x) f64 4×4", "noop()"), 2.5),
        ("(issue 3) `shape(x)` NumPy ≤ 0.5× pyo3", r("shape(x) f64 4×4", "ndbind", "pyo3"), 0.5),
        ("`shape0(x)` NumPy ≤ 0.5× nanobind", r("shape0(x) NumPy f32 4×4", "ndbind", "nanobind"), 0.5),
        ("`shape0(x)` NumPy ≤ 0.8× pyo3", r("shape0(x) NumPy f32 4×4", "ndbind", "pyo3"), 0.8),
        ("`shape0(t)` torch ≤ 0.1× nanobind", r("shape0(t) torch f32 4×4", "ndbind", "nanobind"), 0.1),
        ("`shape0(j)` JAX ≤ 0.5× nanobind", r("shape0(j) JAX f32 4×4", "ndbind", "nanobind"), 0.5),
        ("`noop()` ≤ 1.0× nanobind", r("noop()", "ndbind", "nanobind"), 1.0),
        ("`add(1, 2)` ≤ 1.0× nanobind", r("add(1, 2)", "ndbind", "nanobind"), 1.0),
        ("`make_array(1000)` ≤ 0.8× pyo3", r("make_array(1000) → NumPy", "ndbind", "pyo3"), 0.8),
        ("`make_torch(1000)` ≤ 0.3× nanobind", r("make_torch(1000) → torch", "ndbind", "nanobind"), 0.3),
    ]
    for title in sorted({t for t, _ in med if t.startswith("make_jax(")}):
        checks.append((f"`{title.split(' ')[0]}` ≤ 1.0× nanobind", r(title, "ndbind", "nanobind"), 1.0))
    checks.append(("`make_array(n)` flat in n: 10**6 ≤ 2× 1000",
                   r2("make_array(10**6) → NumPy", "make_array(1000) → NumPy"), 2.0))

    def size(key, field="stripped_bytes"):
        return info.get(key, {}).get(field)

    def size_ratio(a, b, field="stripped_bytes"):
        x, y = size(a, field), size(b, field)
        return None if not (x and y) else x / y

    checks += [
        ("binary ≤ 0.7× pyo3 peer (stripped `ndbind_bench`: §5 + shape/sum_f64/scale, no class; "
         "the pyo3 peer also binds `Point`)", size_ratio("ndbind_bench", "pyo3_peer"), 0.7),
        ("binary ≤ 0.7× pyo3 peer, like for like (`ndbind_bench` + `Point`)",
         size_ratio("ndbind_bench_point", "pyo3_peer"), 0.7),
        ("binary ≤ 0.7× pyo3 peer, both fat LTO + 1 codegen unit (no class)",
         size_ratio("ndbind_bench", "pyo3_peer", "fat_stripped_bytes"), 0.7),
        ("binary ≤ 0.7× pyo3 peer, both fat LTO + 1 codegen unit, like for like",
         size_ratio("ndbind_bench_point", "pyo3_peer", "fat_stripped_bytes"), 0.7),
    ]
    floor = size("rust_floor"), size("rust_floor", "fat_stripped_bytes")
    above = []  # info: the sizes above the Rust floor (not a target of issue 6)
    for label, key in (("no class", "ndbind_bench"), ("like for like", "ndbind_bench_point")):
        for fl, field, prof in ((floor[0], "stripped_bytes", "thin"), (floor[1], "fat_stripped_bytes", "fat")):
            x, y = size(key, field), size("pyo3_peer", field)
            if fl and x and y:
                above.append(f"{label} {prof} {(x - fl) / (y - fl):.2f}×")
    out = []
    for what, value, limit in checks:
        verdict = "n/a" if value is None else ("PASS" if value <= limit else "FAIL")
        out.append(f"- {verdict} {what}: {'—' if value is None else f'{value:.2f}×'}")
    bench = getattr(mods.get("ndbind"), "bench", None)
    aligned = []
    for name, addr in (("make_array", lambda a: a.ctypes.data), ("make_torch", lambda a: a.data_ptr()),
                       ("make_jax", lambda a: a.unsafe_buffer_pointer())):
        try:
            aligned.append(f"{name} {'yes' if addr(getattr(bench, name)(1000)) % 64 == 0 else 'NO'}")
        except Exception:  # noqa: BLE001
            aligned.append(f"{name} —")
    out.append(f"- ndbind data 64-byte aligned: {', '.join(aligned)}")
    if above and floor[0]:
        out.append(f"- (info) size above the Rust floor, ndbind_bench / pyo3 peer: {', '.join(above)}; "
                   f"the floor alone is {floor[0] / size('pyo3_peer'):.2f}× the pyo3 peer (thin)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="short samples (~5 ms), 7 repeats, no make_jax(10**8)")
    ap.add_argument("--repeats", type=int, help="samples per contender (default 9, quick 7; min 7)")
    ap.add_argument("--build", action="store_true", help="rebuild the pyo3 peer first")
    ap.add_argument("--json", metavar="PATH", help="also write the raw medians (ns) as JSON")
    args = ap.parse_args()
    repeats = max(7, args.repeats or (7 if args.quick else 9))
    target = 0.005 if args.quick else 0.03

    build_peer(args.build)
    np = try_import("numpy")
    mods = {role: try_import(name) for role, name in MODULES.items()}
    torch, jax = try_import("torch"), try_import("jax")
    jnp = try_import("jax.numpy") if jax else None
    notes = [f"`{MODULES[r]}` is not importable ({'not built yet' if r == 'ndbind' else 'run scripts/bench.sh'}):"
             f" its cells are `—`." for r, m in mods.items() if m is None]

    np.seterr(over="ignore")  # scale(x, 2.0) repeated drives x to inf: harmless
    rows = make_rows(np, mods, torch, jnp, args.quick)
    timers, skipped = prepare(rows, target, {"np": np, "torch": torch, "jnp": jnp})
    print(f"timing {len(timers)} contenders × {repeats} repeats ...", file=sys.stderr)
    med, samples = run(timers, repeats)
    info = builds()

    print(f"Machine: {machine(np, torch, jax, info)}\n")
    print(table(rows, med))
    print(f"\nMedian ns per call of {repeats} interleaved samples of ~{target * 1e3:.0f} ms each; "
          "ratios < 1 mean ndbind is faster.")
    by_reason = {}  # (role, reason) -> rows: one note line per distinct reason
    for (title, role), why in skipped.items():
        by_reason.setdefault((role, why), []).append(f"`{title}`")
    notes += [f"{role} skipped ({why}): {', '.join(t)}" for (role, why), t in by_reason.items()]
    for n in notes:
        print(f"- {n}")
    print("\nTargets (issue 6; issue 3 where marked), from this run:\n")
    print("\n".join(targets(med, samples, mods, info)))
    print("\nBuilds (scripts/bench.sh; clean build = first build from an empty build folder):\n")
    print(build_table(info))
    print("\n`ndbind_bench`: §5 + `shape`/`sum_f64`/`scale`, no class; `+ Point`: also the §4 class the peers "
          "bind (built for its size only). Stripped = `strip --strip-unneeded`; \"as built\" and \"stripped\" use "
          "the crates' release profile (`lto = \"thin\"`, 16 codegen units, the same for every Rust contender); "
          "\"fat LTO\" rebuilds the Rust crates alike with `lto = \"fat\"`, `codegen-units = 1`. "
          "Rust floor: a bare PyInit catching a panic, no binding crate linked: std's panic runtime and "
          "backtrace printer, which every Rust extension module (`panic = \"unwind\"`) carries.")
    if args.json:
        data = {"machine": machine(np, torch, jax, info), "repeats": repeats, "unit": "ns/call",
                "medians": {t: {r: med.get((t, r)) for r in ROLES} for t, _ in rows},
                "builds": info}
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
