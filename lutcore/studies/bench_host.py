"""Host benchmark: the LUT kernels against float32 BLAS and the int64 reference.

``lutcore bench host`` (``make bench-host``) times, on the BitNet b1.58 2B linear layer
shapes (K x N = 2560x2560, 2560x6912, 6912x2560) at M = 1, 16, 256, side by side:

* ``lut_gemm`` in ELUT mode and in bit-serial mode, on packed ternary weights (fast path),
  with its lookup loop compiled from C (:mod:`lutcore.sw.kernels.native`) and, beside it, in
  NumPy (the same tables and bytes; where no C compiler works both columns are NumPy and the
  header says why);
* ``np.matmul`` with float32 activations and the weights held dequantized in float32;
* ``reference_gemm``, the int64 matmul the kernels are verified against.

Each figure is the median of at least 7 runs (and of as many as fit in one second per
cell) after one untimed run, whose LUT outputs are checked bit for bit against the
reference, with its spread (min..max over the runs); the timed runs of the four kernels are
interleaved, one run of each per round, so that load from other processes affects them
alike, and a speed ratio is the median (and min..max) of the per-round ratios. BLAS is
limited to one thread (the NumPy kernels are single-threaded) with ``threadpoolctl``, which
works after NumPy is loaded. The header names the machine: CPU model, cores, NumPy, BLAS and
its thread count. ``--quick`` runs M = 1 and 16 with fewer repeats.

Then FP16 activations (docs/architecture.md, "Floating-point activations"): the FP golden
model, which is also the host path for float activations (:func:`~lutcore.sw.kernels.fp.
fp_lut_gemm`, ELUT and bit-serial, FP32 tables and accumulators), against float32 BLAS on the
same activations, at the rows up to :data:`FP_MAX_ROWS`; with each its error against the
float64 product (max and mean relative error, and the error relative to the dot product's
magnitude), and the same errors with FP16 tables and accumulators (the paper's public RTL).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time

import numpy as np

from ..sw.kernels import lut_gemm, native, pack_bitserial, pack_elut, reference_gemm
from ..sw.kernels.fp import fp_error, fp_lut_gemm

try:                     # a pinned dev dependency; without it BLAS keeps its own threads
    import threadpoolctl
except ImportError:      # pragma: no cover - depends on the environment
    threadpoolctl = None
SHAPES = [(2560, 2560), (2560, 6912), (6912, 2560)]   # K x N of BitNet b1.58 2B
ROWS = [1, 16, 256]
QUICK_ROWS = [1, 16]
# A kernel whose single run takes longer than this is timed over at most SLOW_REPEATS runs.
SLOW_SECONDS = 0.25
SLOW_REPEATS = 3
# Timed rounds go on until a cell has taken this long (or MAX_ROUNDS rounds).
MIN_CELL_SECONDS = 1.0
MAX_ROUNDS = 200

KERNELS = ("blas", "ref", "elut", "bitserial", "elut_np", "bitserial_np")
# FP16 activations: float32 BLAS and the FP golden model's two modes, at M up to this.
FP_KERNELS = ("blas", "fp_elut", "fp_bitserial")
FP_MAX_ROWS = 16
LUT_KERNELS = ("elut", "bitserial", "elut_np", "bitserial_np")


def _time_interleaved(fns: dict, repeats: int, min_seconds: float = MIN_CELL_SECONDS) \
        -> tuple[dict, dict]:
    """Seconds of every timed run of each function in ``fns``, by round (``{name: {round:
    seconds}}``), and the result of its first run.

    Every function runs once first; that run is a warm-up, except for a function slower than
    SLOW_SECONDS, for which it counts as a sample (round -1) and only SLOW_REPEATS samples are
    taken in all. The timed runs go round-robin, one run of each function per round, so that
    load from other processes on a shared machine falls on all of them alike; rounds go on
    past ``repeats`` until they have taken ``min_seconds`` (at most MAX_ROUNDS), so that the
    figures of fast kernels cover more than one burst of such load.
    """
    results, times = {}, {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        results[name] = fn()
        first = time.perf_counter() - t0
        times[name] = {-1: first} if first > SLOW_SECONDS else {}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (time.perf_counter() - start < min_seconds
                               and rounds < MAX_ROUNDS):
        for name, fn in fns.items():
            samples = times[name]
            if -1 in samples and len(samples) >= SLOW_REPEATS:
                continue
            t0 = time.perf_counter()
            fn()
            samples[rounds] = time.perf_counter() - t0
        rounds += 1
    return times, results


def _spread(values) -> dict:
    """Median, min and max of ``values``."""
    v = np.asarray(list(values), float)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}


def _ratios(base: dict, other: dict) -> dict:
    """Spread of ``base / other`` over the rounds both were timed in (the ratio of the
    medians when they share none)."""
    common = sorted(set(base) & set(other))
    if not common:
        return _spread([np.median(list(base.values())) / np.median(list(other.values()))])
    return _spread(base[r] / other[r] for r in common)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _blas_threads():
    """``(name and version, threads)`` of every BLAS NumPy loaded, per threadpoolctl."""
    if threadpoolctl is None:
        return []
    return [(f"{i.get('internal_api', '?')} {i.get('version') or ''}".strip(),
             i.get("num_threads")) for i in threadpoolctl.threadpool_info()
            if i.get("user_api") == "blas"]


def machine_summary() -> str:
    """One line naming the machine: CPU model, logical cores (and how many this process may
    use), NumPy, BLAS and its thread count as the benchmark runs, Python, OS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical cores" + (f" ({usable} usable)" if usable else "")
    blas = _blas_threads()
    blas_text = ", ".join(f"{name}, {threads} thread{'s' * (threads != 1)}"
                          for name, threads in blas) if blas else \
        f"{_blas_name()}, threads not limited (threadpoolctl not installed)"
    return (f"machine: {_cpu_model()}, {cores}; NumPy {np.__version__} with {blas_text}; "
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")


@contextlib.contextmanager
def one_blas_thread():
    """Limit BLAS to one thread inside the block, like the single-threaded NumPy kernels it is
    compared with (no-op without threadpoolctl; :func:`machine_summary` then says so)."""
    if threadpoolctl is None:
        yield
        return
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def _blas_name() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:       # noqa: BLE001 - informational only
        return "unknown BLAS"


def _parse_list(text: str, conv):
    return [conv(x) for x in text.split(",") if x]


def _shape(text: str) -> tuple[int, int]:
    k, n = text.lower().split("x")
    return int(k), int(n)


def run(shapes, rows, repeats: int, seed: int = 0, log=None,
        min_seconds: float = MIN_CELL_SECONDS) -> list[dict]:
    """Time every kernel on every (K, N) and M; return one dict per cell. Progress goes to
    ``log`` (default stderr).

    Raises:
        AssertionError: a LUT kernel disagrees with the reference (never expected).
    """
    log = sys.stderr if log is None else log
    rng = np.random.default_rng(seed)
    cells = []
    total = len(shapes) * len(rows)
    done = 0
    for k, n in shapes:
        # Ternary weights of a BitNet layer, and their float32 dequantized copy for BLAS.
        w = rng.integers(-1, 2, (n, k)).astype(np.int8)
        scale = np.float32(0.0123)
        w_f32 = w.astype(np.float32) * scale
        t0 = time.perf_counter()
        elut = pack_elut(w)
        t1 = time.perf_counter()
        bits = pack_bitserial(w)
        t2 = time.perf_counter()
        print(f"  {k}x{n}: packed ELUT in {1e3 * (t1 - t0):.0f} ms, bit-serial in "
              f"{1e3 * (t2 - t1):.0f} ms (one-time)", file=log, flush=True)
        nbytes = {"blas": w_f32.nbytes, "ref": w.nbytes, "elut": elut.nbytes,
                  "bitserial": bits.nbytes}
        for m in rows:
            done += 1
            print(f"[{done}/{total}] K x N = {k}x{n}, M = {m} ...", file=log, end=" ",
                  flush=True)
            a = rng.integers(-128, 128, (m, k)).astype(np.int8)
            a_f32 = a.astype(np.float32)
            times, out = _time_interleaved({
                "blas": lambda: np.matmul(a_f32, w_f32.T),
                "ref": lambda: reference_gemm(a, w),
                "elut": lambda: lut_gemm(a, elut),
                "bitserial": lambda: lut_gemm(a, bits),
                "elut_np": lambda: _numpy_loop(lut_gemm, a, elut),
                "bitserial_np": lambda: _numpy_loop(lut_gemm, a, bits),
            }, repeats, min_seconds)
            # The kernels are only worth timing if they are exact (DESIGN §2).
            for name in LUT_KERNELS:
                assert np.array_equal(out[name], out["ref"]), \
                    f"{name} differs from the reference at K x N = {k}x{n}, M = {m}"
            ms = {name: _spread(1e3 * t for t in times[name].values()) for name in KERNELS}
            vs_blas = {name: _ratios(times["blas"], times[name]) for name in LUT_KERNELS}
            print("  ".join(f"{name} {ms[name]['median']:.2f} ms" for name in KERNELS),
                  file=log, flush=True)
            cells.append({"k": k, "n": n, "m": m, "ms": ms, "vs_blas": vs_blas,
                          "bytes": nbytes})
    return cells


def run_fp(shapes, rows, repeats: int, seed: int = 0, log=None,
           min_seconds: float = MIN_CELL_SECONDS) -> list[dict]:
    """Time the FP-activation kernels against float32 BLAS on every (K, N) and M up to
    :data:`FP_MAX_ROWS`, and measure their error against float64; one dict per cell."""
    log = sys.stderr if log is None else log
    rng = np.random.default_rng(seed + 1)
    cells = []
    for k, n in shapes:
        w = rng.integers(-1, 2, (n, k)).astype(np.int8)
        w_f32 = w.astype(np.float32)
        packed = {"fp_elut": pack_elut(w), "fp_bitserial": pack_bitserial(w)}
        for m in [r for r in rows if r <= FP_MAX_ROWS]:
            print(f"FP16 activations, K x N = {k}x{n}, M = {m} ...", file=log, end=" ",
                  flush=True)
            a = rng.standard_normal((m, k)).astype(np.float16)
            a_f32 = a.astype(np.float32)
            times, out = _time_interleaved({
                "blas": lambda: np.matmul(a_f32, w_f32.T),
                **{name: (lambda p=p: fp_lut_gemm(a, p, act_format="fp16"))
                   for name, p in packed.items()},
            }, repeats, min_seconds)
            ms = {name: _spread(1e3 * t for t in times[name].values()) for name in FP_KERNELS}
            errors = {"blas": fp_error(out["blas"], a, w)}
            for name, p in packed.items():
                errors[name] = fp_error(out[name], a, w)
                errors[name + "_fp16"] = fp_error(
                    fp_lut_gemm(a, p, act_format="fp16", table_format="fp16",
                                acc_format="fp16"), a, w)
            print("  ".join(f"{name} {ms[name]['median']:.2f} ms" for name in FP_KERNELS),
                  file=log, flush=True)
            cells.append({"k": k, "n": n, "m": m, "ms": ms, "errors": errors,
                          "vs_blas": {name: _ratios(times["blas"], times[name])
                                      for name in FP_KERNELS[1:]}})
    return cells


def fp_table(cells: list[dict]) -> str:
    """Markdown: FP16-activation times against float32 BLAS, then the errors."""
    lines = ["| K x N | M | f32 BLAS ms | FP ELUT ms | FP ELUT vs BLAS | FP bit-serial ms "
             "| FP bit-serial vs BLAS |", "|---|---:|---:|---:|---:|---:|---:|"]
    for c in cells:
        ms, vs = c["ms"], c["vs_blas"]
        lines.append(f"| {c['k']}x{c['n']} | {c['m']} | {_fmt_spread(ms['blas'])} | "
                     f"{_fmt_spread(ms['fp_elut'])} | {_fmt_spread(vs['fp_elut'], 'x')} | "
                     f"{_fmt_spread(ms['fp_bitserial'])} | "
                     f"{_fmt_spread(vs['fp_bitserial'], 'x')} |")
    lines += ["", "Error against the float64 product: max / mean relative error, and max "
              "error relative to the dot product's magnitude (|O - ref| / (|A| @ |W|.T))", "",
              "| K x N | M | kernel | tables / accumulators | max rel | mean rel | max vs "
              "magnitude |", "|---|---:|---|---|---:|---:|---:|"]
    labels = [("blas", "f32 BLAS", "-"), ("fp_elut", "FP ELUT", "fp32 / fp32"),
              ("fp_bitserial", "FP bit-serial", "fp32 / fp32"),
              ("fp_elut_fp16", "FP ELUT", "fp16 / fp16"),
              ("fp_bitserial_fp16", "FP bit-serial", "fp16 / fp16")]
    for c in cells:
        for key, label, formats in labels:
            e = c["errors"][key]
            lines.append(f"| {c['k']}x{c['n']} | {c['m']} | {label} | {formats} | "
                         f"{e['max_rel']:.2e} | {e['mean_rel']:.2e} | {e['max_norm']:.2e} |")
    return "\n".join(lines)


def _numpy_loop(fn, *args):
    with native.disabled():
        return fn(*args)


def _fmt_bytes(b: int) -> str:
    if b >= 2**20:
        return f"{b / 2**20:.1f} MiB"
    return f"{b / 2**10:.1f} KiB" if b >= 2**10 else f"{b} B"


def _fmt_spread(s: dict, unit: str = "") -> str:
    return f"{s['median']:.2f}{unit} ({s['min']:.2f}..{s['max']:.2f})"


def ratio_summary(cells: list[dict]) -> str:
    """Per M, the range over shapes of the median speed ratios against float32 BLAS."""
    lines = []
    for m in sorted({c["m"] for c in cells}):
        parts = []
        for name, label in (("elut", "ELUT"), ("bitserial", "bit-serial"),
                            ("elut_np", "ELUT NumPy loop"),
                            ("bitserial_np", "bit-serial NumPy loop")):
            r = [c["vs_blas"][name]["median"] for c in cells if c["m"] == m]
            parts.append(f"{label} {min(r):.2f}-{max(r):.2f}x")
        lines.append(f"M = {m}: {', '.join(parts)} float32 BLAS (medians over the shapes)")
    return "\n".join(lines)


def table(cells: list[dict]) -> str:
    """Markdown tables: time per kernel and speed relative to float32 BLAS, each as median
    (min..max), then weight bytes."""
    lines = [
        "| K x N | M | f32 BLAS ms | int64 ref ms | ELUT ms | ELUT vs BLAS | bit-serial ms "
        "| bit-serial vs BLAS | ELUT, NumPy loop ms | bit-serial, NumPy loop ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        ms, vs = c["ms"], c["vs_blas"]
        lines.append(
            f"| {c['k']}x{c['n']} | {c['m']} | {_fmt_spread(ms['blas'])} | "
            f"{_fmt_spread(ms['ref'])} | {_fmt_spread(ms['elut'])} | "
            f"{_fmt_spread(vs['elut'], 'x')} | {_fmt_spread(ms['bitserial'])} | "
            f"{_fmt_spread(vs['bitserial'], 'x')} | {_fmt_spread(ms['elut_np'])} | "
            f"{_fmt_spread(ms['bitserial_np'])} |")
    lines += [
        "",
        "| K x N | f32 BLAS weights | int8 (reference input) | ELUT packed | bit-serial packed "
        "| f32 / ELUT | f32 / bit-serial |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    seen = set()
    for c in cells:
        if (c["k"], c["n"]) in seen:
            continue
        seen.add((c["k"], c["n"]))
        b = c["bytes"]
        lines.append(
            f"| {c['k']}x{c['n']} | {_fmt_bytes(b['blas'])} | {_fmt_bytes(b['ref'])} | "
            f"{_fmt_bytes(b['elut'])} | {_fmt_bytes(b['bitserial'])} | "
            f"{b['blas'] / b['elut']:.1f}x | {b['blas'] / b['bitserial']:.1f}x |")
    return "\n".join(lines)


DESCRIPTION = "Time the LUT kernels against float32 BLAS and the int64 reference."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lutcore bench host``."""
    parser.add_argument("--quick", action="store_true",
                        help=f"M = {', '.join(map(str, QUICK_ROWS))} only, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per figure (default 7, quick 3)")
    parser.add_argument("--m", type=lambda s: _parse_list(s, int), default=None,
                        metavar="M,M", help="activation rows (default 1,16,256)")
    parser.add_argument("--shapes", type=lambda s: _parse_list(s, _shape), default=SHAPES,
                        metavar="KxN,KxN", help="weight shapes (default the BitNet 2B ones)")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help=f"keep timing a cell this long (default {MIN_CELL_SECONDS:g}, "
                             f"quick 0.3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", metavar="PATH", default=None,
                        help=f"a BitNet checkpoint whose layers the FP16-activation error is "
                             f"measured on (default: {EXAMPLE_MODEL} of the source tree, "
                             f"when present)")


def main(args: argparse.Namespace, config=None) -> int:
    """``lutcore bench host``: time every cell and print the table (``config`` is unused:
    the host path has no tile)."""
    from ..errors import LutcoreError

    rows = args.m or (QUICK_ROWS if args.quick else ROWS)
    repeats = args.repeats or (3 if args.quick else 7)
    if args.min_seconds is None:
        args.min_seconds = 0.3 if args.quick else MIN_CELL_SECONDS
    if repeats < 1 or any(m < 1 for m in rows):
        raise LutcoreError("--repeats and --m must be >= 1")

    with one_blas_thread():
        machine = machine_summary()
        print(f"lutcore host benchmark; {machine}; lookup loop: {native.status()}; medians (min..max) of >= {repeats} runs or "
              f"{args.min_seconds:g} s per cell", file=sys.stderr, flush=True)
        start = time.perf_counter()
        cells = run(args.shapes, rows, repeats, args.seed, min_seconds=args.min_seconds)
        fp_cells = run_fp(args.shapes, rows, repeats, args.seed, min_seconds=args.min_seconds)
        model, label = _model_path(args.model)
        layers = fp_model_layers(model, seed=args.seed) if model else None
    print(machine)
    print(f"lookup loop: {native.status()}")
    print(table(cells))
    print()
    print(ratio_summary(cells))
    print("\nFP16 activations (FP golden model = host path; FP32 tables and accumulators)\n")
    print(fp_table(fp_cells))
    if layers:
        print(f"\nFP16 activations on the linear layers of {label} (32 random tokens): max "
              f"error relative to the dot product's magnitude, worst layer (mean relative "
              f"error, mean over layers); end to end = against the float64 product of the "
              f"model's float32 activations\n")
        print(fp_model_table(layers))
    print(f"\n(total {time.perf_counter() - start:.0f} s; LUT outputs bit-exact against the "
          f"int64 reference in every cell)")
    return 0


# -- FP16 activations on a real model's layers ------------------------------------------------

#: The trained example model whose layers ``lutcore bench host`` measures the FP error on.
EXAMPLE_MODEL = "examples/tiny-lm"


def _model_path(given):
    """``(path, label)``: ``--model``, or the example model of the source tree when it is
    there (None if not: an installed package has no examples)."""
    from pathlib import Path
    if given is not None:
        return given, given
    example = Path(__file__).resolve().parents[2] / EXAMPLE_MODEL
    return (str(example), EXAMPLE_MODEL) if example.is_dir() else (None, None)


def fp_model_layers(path, tokens: int = 32, seed: int = 0) -> list[dict]:
    """The FP contract's error on a real model's linear layers: run the model's own forward
    (numpy backend) on ``tokens`` random token ids, take the float32 input of every
    BitLinear as it arrives, and compute each projection three ways against the float64
    product of those float32 activations with the ternary weights: the activations in FP16
    through the FP contract with FP32 tables and accumulators, the same with FP16 tables and
    accumulators, and the model's own int8 absmax quantization (exact integer GEMM, float
    rescale). ``contract`` is the FP32 path's error against the FP16 activations' own
    float64 product (the contract's rounding alone). One dict per projection, the figures
    the worst (max) or the mean over the layers."""
    from ..models.loader import load_model
    from ..sw.kernels.bitnet import EPS, quantize_activations_absmax

    model = load_model(path, backend="numpy", mode="elut")
    captured: list = []
    linear = model._linear

    def capture(x, stack):                   # the model's BitLinear inputs, in order
        captured.append((np.array(x, np.float32), stack))
        return linear(x, stack)

    model._linear = capture
    try:
        model.forward(np.random.default_rng(seed).integers(0, model.config.vocab_size, tokens))
    finally:
        model._linear = linear
        model.close()
    rows: dict[str, dict] = {}
    for x, stack in captured:
        a16 = x.astype(np.float16)
        xq, s = quantize_activations_absmax(x, 8, EPS, dtype=np.float32)
        for proj in stack:
            w = proj.packed.unpack()
            name = "+".join(n.split(".")[-1] for n in proj.names)
            int8 = reference_gemm(xq, w).astype(np.float64) / s.astype(np.float64)
            out32 = fp_lut_gemm(a16, proj.packed, act_format="fp16")
            errors = {
                "contract": fp_error(out32, a16, w),
                "fp32": fp_error(out32, x, w),
                "fp16": fp_error(fp_lut_gemm(a16, proj.packed, act_format="fp16",
                                             table_format="fp16", acc_format="fp16"), x, w),
                "int8": fp_error(int8, x, w),
            }
            row = rows.setdefault(name, {"name": name, "k": w.shape[1], "n": w.shape[0],
                                         "layers": 0, "errors": {}})
            row["layers"] += 1
            for key, e in errors.items():
                acc = row["errors"].setdefault(key, {"max_norm": 0.0, "mean_rel": 0.0})
                acc["max_norm"] = max(acc["max_norm"], e["max_norm"])
                acc["mean_rel"] += e["mean_rel"]
    for row in rows.values():
        for e in row["errors"].values():
            e["mean_rel"] /= row["layers"]
    return list(rows.values())


def fp_model_table(rows: list[dict]) -> str:
    """Markdown: per projection, the max error relative to the dot product's magnitude
    (worst layer) and the mean relative error (mean over layers) of each path."""
    lines = ["| projection | K x N | layers | FP16 acts, FP32 tables/acc: contract alone | "
             "end to end | FP16 tables/acc, end to end | int8 absmax (BitNet), end to end |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        e = r["errors"]
        cells = " | ".join(f"{e[k]['max_norm']:.1e} ({e[k]['mean_rel']:.1e})"
                           for k in ("contract", "fp32", "fp16", "int8"))
        lines.append(f"| {r['name']} | {r['k']}x{r['n']} | {r['layers']} | {cells} |")
    return "\n".join(lines)
