"""ISS utilization of the BitNet b1.58 2B linear layers on one configuration.

``python -m lutcore.studies.bench_iss [--preset default] [--m 1 64] [--predict]`` compiles
``O = A @ W.T`` for the BitNet-b1.58-2B weight shapes (K x N = 2560x2560, 2560x6912,
6912x2560) with random int8 activations and ternary weights, runs each program on the
instruction-set simulator (checking the output against the int64 reference), and prints a
markdown table: phases, instructions, weight-buffer words the host loads, cycles, LMMA steps
and both utilizations, array steps / cycles and useful lookups / (cycles x m x n x L) (an M = 1
GEMV on an m = 2 tile steps the array every cycle but half its lookups are padding rows),
for the chosen K split and, where K is split, for device accumulation forced. Then the
per-token figures of the whole model's linear layers (:mod:`.workload`): decode (M = 1) and
prefill (M = 64) cycles per token and tokens/s at the preset's clock.
``--predict`` skips execution and reports the compiler's cycle prediction (the same number).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


from ..sw.compiler import compile_gemm
from .workload import run_checked

__all__ = ["SHAPES", "measure", "main"]

#: (K, N) of the BitNet b1.58 2B projections: attention (2560x2560), FFN up/gate (2560x6912),
#: FFN down (6912x2560).
SHAPES = [(2560, 2560), (2560, 6912), (6912, 2560)]


def measure(k: int, n: int, m: int, mode: str, config, *, ksplit: str = "auto",
            predict: bool = False, seed: int = 0) -> dict:
    """Compile (and unless ``predict``, run and check) one GEMM; return its figures."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-1, 2, (n, k), dtype=np.int8)
    start = time.perf_counter()
    program = compile_gemm(a, w, config=config, mode=mode, ksplit=ksplit)
    summary = program.summary()
    cycles = summary["cycles"]
    if not predict:
        run_checked(program, a, w, cycles)
    return {"K": k, "N": n, "M": m, "mode": mode, "ksplit": summary["ksplit"],
            "k_chunks": summary["k_chunks"], "phases": summary["phases"],
            "instructions": summary["instructions"], "cycles": cycles,
            "lookups": summary["lookups"], "utilization": summary["utilization"],
            "useful_utilization": summary["useful_utilization"],
            "host_words": summary["words"],
            "seconds": time.perf_counter() - start}


DESCRIPTION = __doc__.split("\n\n")[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lutcore bench iss`` (the configuration comes from --preset/--config)."""
    parser.add_argument("--m", type=int, nargs="+", default=[1, 64], metavar="M",
                        help="activation rows (tokens); default 1 64")
    parser.add_argument("--predict", action="store_true",
                        help="report predicted cycles without running the ISS")


def main(args: argparse.Namespace, config) -> int:
    """``lutcore bench iss``: print the utilization table on ``config``."""
    print(f"ISS utilization, preset {config.name} (m={config.m} n={config.n} g={config.g} "
          f"elut_g={config.elut_g} lookups={config.lookups}), ternary weights, "
          f"{'predicted' if args.predict else 'executed and checked bit-exact'}\n")
    print("| K x N | M | mode | K split | phases | instructions | weight words loaded | cycles "
          "| LMMA steps | utilization (steps) | utilization (useful) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, n in SHAPES:
        for m in args.m:
            for mode in config.modes:
                rows = [measure(k, n, m, mode, config, predict=args.predict)]
                if rows[0]["ksplit"] != "none":
                    rows.append(measure(k, n, m, mode, config, ksplit="device", predict=True))
                for r in rows:
                    split = r["ksplit"] if r["ksplit"] == "none" else \
                        f"{r['ksplit']} ({r['k_chunks']} chunks)"
                    if r is not rows[0]:
                        split += ", forced"
                    print(f"| {k}x{n} | {m} | {mode} | {split} | {r['phases']} "
                          f"| {r['instructions']} | {r['host_words']['weight']} "
                          f"| {r['cycles']} | {r['lookups']} "
                          f"| {100 * r['utilization']:.1f}% "
                          f"| {100 * r['useful_utilization']:.1f}% |", flush=True)
    print()
    print(token_table(config, args.m, run=not args.predict))
    return 0


def token_table(config, rows, *, run: bool) -> str:
    """Markdown: cycles per token of the BitNet-2B linear layers per M and mode, with the
    tokens/s at the preset's clock (:func:`lutcore.models.report.default_clock_mhz`)."""
    from ..models.report import default_clock_mhz
    from .workload import layer_gemms, token_cycles
    clock, source = default_clock_mhz(config)
    gemms = ", ".join(f"{name} {k}x{n}" for name, k, n in layer_gemms())
    lines = [f"Per token: BitNet-b1.58-2B-4T linear layers (30 layers of {gemms}; K x N), "
             f"tokens/s at {clock:g} MHz ({source}):", "",
             "| M (tokens per GEMM) | mode | cycles/token | tokens/s | utilization (steps) "
             "| utilization (useful) |", "|---|---|---:|---:|---:|---:|"]
    for m in rows:
        for mode in config.modes:
            t = token_cycles(config, mode, m, run=run)
            lines.append(f"| {m} | {mode} | {t.cycles_per_token:,.0f} | "
                         f"{t.tokens_per_s(clock):,.2f} | {100 * t.steps_utilization:.1f}% | "
                         f"{100 * t.useful_utilization:.1f}% |")
    return "\n".join(lines)

