"""Host benchmark: the LUT kernels against float32 BLAS and the int64 reference.

``python -m lutcore.studies.bench_host`` (``make bench-host``) times, on the BitNet b1.58 2B linear
layer shapes (K x N = 2560x2560, 2560x6912, 6912x2560) at M = 1, 16, 256, side by side:

* ``lut_gemm`` in ELUT mode and in bit-serial mode, on packed ternary weights (fast path);
* ``np.matmul`` with float32 activations and the weights held dequantized in float32;
* ``reference_gemm``, the int64 matmul the kernels are verified against.

Each figure is the median of at least 7 runs (and of as many as fit in one second per
cell) after one untimed run, whose LUT outputs are checked bit for bit against the
reference; the timed runs of the four kernels are interleaved so that load from other
processes affects them alike. BLAS is limited to one
thread unless the environment already says otherwise (the NumPy kernels are
single-threaded). ``--quick`` runs M = 1 and 16 with fewer repeats.
"""

from __future__ import annotations

import os
import sys

# One BLAS thread, like the kernels it is compared with: only effective if NumPy has not
# been imported yet (it has not when run as `python -m lutcore.studies.bench_host`).
if "numpy" not in sys.modules:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse          # noqa: E402
import platform          # noqa: E402
import time              # noqa: E402

import numpy as np       # noqa: E402

from ..sw.kernels import lut_gemm, pack_bitserial, pack_elut, reference_gemm  # noqa: E402

SHAPES = [(2560, 2560), (2560, 6912), (6912, 2560)]   # K x N of BitNet b1.58 2B
ROWS = [1, 16, 256]
QUICK_ROWS = [1, 16]
# A kernel whose single run takes longer than this is timed over at most SLOW_REPEATS runs.
SLOW_SECONDS = 0.25
SLOW_REPEATS = 3
# Timed rounds go on until a cell has taken this long (or MAX_ROUNDS rounds).
MIN_CELL_SECONDS = 1.0
MAX_ROUNDS = 200

KERNELS = ("blas", "ref", "elut", "bitserial")


def _time_interleaved(fns: dict, repeats: int, min_seconds: float = MIN_CELL_SECONDS) \
        -> tuple[dict, dict]:
    """Median milliseconds of each function in ``fns``, and the result of its first run.

    Every function runs once first; that run is a warm-up, except for a function slower than
    SLOW_SECONDS, for which it counts as a sample and only SLOW_REPEATS samples are taken in
    all. The timed runs go round-robin, one run of each function per round, so that load from
    other processes on a shared machine falls on all of them alike; rounds go on past
    ``repeats`` until they have taken ``min_seconds`` (at most MAX_ROUNDS), so that the
    medians of fast kernels cover more than one burst of such load.
    """
    results, times = {}, {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        results[name] = fn()
        first = time.perf_counter() - t0
        times[name] = [first] if first > SLOW_SECONDS else []
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (time.perf_counter() - start < min_seconds
                               and rounds < MAX_ROUNDS):
        for name, fn in fns.items():
            samples = times[name]
            if samples and samples[0] > SLOW_SECONDS and len(samples) >= SLOW_REPEATS:
                continue
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        rounds += 1
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}, results


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
            ms, out = _time_interleaved({
                "blas": lambda: np.matmul(a_f32, w_f32.T),
                "ref": lambda: reference_gemm(a, w),
                "elut": lambda: lut_gemm(a, elut),
                "bitserial": lambda: lut_gemm(a, bits),
            }, repeats, min_seconds)
            # The kernels are only worth timing if they are exact (DESIGN §2).
            for name in ("elut", "bitserial"):
                assert np.array_equal(out[name], out["ref"]), \
                    f"{name} differs from the reference at K x N = {k}x{n}, M = {m}"
            print("  ".join(f"{name} {ms[name]:.2f} ms" for name in KERNELS), file=log,
                  flush=True)
            cells.append({"k": k, "n": n, "m": m, "ms": ms, "bytes": nbytes})
    return cells


def _fmt_bytes(b: int) -> str:
    if b >= 2**20:
        return f"{b / 2**20:.1f} MiB"
    return f"{b / 2**10:.1f} KiB" if b >= 2**10 else f"{b} B"


def table(cells: list[dict]) -> str:
    """A Markdown table: time per kernel, speed relative to float32 BLAS, weight bytes."""
    lines = [
        "| K x N | M | f32 BLAS ms | int64 ref ms | ELUT ms | ELUT vs BLAS | bit-serial ms "
        "| bit-serial vs BLAS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        ms = c["ms"]
        lines.append(
            f"| {c['k']}x{c['n']} | {c['m']} | {ms['blas']:.2f} | {ms['ref']:.2f} | "
            f"{ms['elut']:.2f} | {ms['blas'] / ms['elut']:.2f}x | {ms['bitserial']:.2f} | "
            f"{ms['blas'] / ms['bitserial']:.2f}x |")
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

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"lutcore host benchmark: NumPy {np.__version__} with {_blas_name()} "
          f"(OPENBLAS_NUM_THREADS={threads}), Python {platform.python_version()}, "
          f"{platform.machine()}; medians of >= {repeats} runs or {args.min_seconds:g} s per "
          f"cell", file=sys.stderr, flush=True)
    start = time.perf_counter()
    cells = run(args.shapes, rows, repeats, args.seed, min_seconds=args.min_seconds)
    print(table(cells))
    print(f"\n(total {time.perf_counter() - start:.0f} s; LUT outputs bit-exact against the "
          f"int64 reference in every cell)")
    return 0

