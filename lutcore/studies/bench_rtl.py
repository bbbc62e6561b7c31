"""RTL performance of a BitNet b1.58 2B layer GEMV on the Verilator model of the accelerator.

``python -m lutcore.studies.bench_rtl [--preset default] [--k 2560] [--n 6912] [--m 1]
[--mode bitserial] [--host-bits 32 64] [--rebuild]`` compiles ``O = A @ W.T`` (random int8
activations, ternary weights; by default the FFN up/gate projection, K = 2560, N = 6912,
M = 1), runs it through the host port of the Verilator model (the ``run_job`` bench of
:mod:`lutcore.sim.tb_top`: host writes of every buffer image and instruction, start, one
long await for the core to stop, CYCLES, output reads), checks it bit-exact against the ISS
and the int64 reference with CYCLES equal to the ISS per phase, and prints a markdown table:

- wall-clock seconds of the model build (``cached`` when an existing model was reused;
  ``--rebuild`` forces a fresh build), the compile, and in the simulation the load (host
  writes), the run (start to done, all phases) and the output reads;
- host writes and their rate; simulated cycles of the compute (the CYCLES CSRs) and the
  simulated cycles per second while computing; the whole simulation's cycles per second;
- utilization = LMMA steps / cycles.

``--host-bits`` runs the same GEMV on configurations whose host port is that wide (a wider
port halves the host writes; the compute is the same).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


from ..sw.compiler import compile_gemm

__all__ = ["measure", "main"]


def measure(config, *, k: int = 2560, n: int = 6912, m: int = 1, mode: str = "bitserial",
            seed: int = 0, rebuild: bool = False) -> dict:
    """Run one GEMM on the RTL of ``config``; returns its figures (raises if not exact)."""
    from ..sim.backend import run_programs
    from ..sim.runner import top_model
    from ..sim.scoreboard import score

    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-1, 2, (n, k), dtype=np.int8)
    if rebuild:
        model = top_model(config)
        (model.build_dir / "model.sha256").unlink(missing_ok=True)
    t0 = time.perf_counter()
    model = top_model(config)
    t1 = time.perf_counter()
    program = compile_gemm(a, w, config=config, mode=mode)
    t2 = time.perf_counter()
    run = run_programs([program], config)
    t3 = time.perf_counter()
    result = score(program, run.results[0], a=a, w=w)
    t4 = time.perf_counter()
    result.raise_on_mismatch(f"bench {config.name} K={k} N={n} M={m} {mode}")
    records = run.results[0]
    load = sum(r["load_s"] for r in records)
    compute = sum(r["run_s"] for r in records)
    read = sum(r["read_s"] for r in records)
    writes = sum(r["writes"] for r in records)
    return {
        "config": config.name, "host_bits": config.host_bits, "K": k, "N": n, "M": m,
        "mode": mode, "phases": len(program.phases),
        "build_s": model.build_seconds if model.rebuilt else None,
        "verilog_s": (t1 - t0) - (model.build_seconds if model.rebuilt else 0.0),
        "compile_s": t2 - t1, "sim_s": run.sim_seconds, "load_s": load, "run_s": compute,
        "read_s": read, "check_s": t4 - t3, "writes": writes,
        "writes_per_s": writes / load if load else 0.0,
        "cycles": result.cycles, "cycles_per_s": result.cycles / compute if compute else 0.0,
        "sim_cycles": run.stats.get("sim_cycles", 0),
        "sim_cycles_per_s": run.stats.get("sim_cycles", 0) / run.sim_seconds,
        "lookups": result.lookups, "utilization": result.utilization,
        "iss_equal": result.phase_cycles == result.iss_cycles,
    }


def _seconds(value) -> str:
    return "cached" if value is None else f"{value:.1f}"


def table(rows: list[dict]) -> str:
    lines = ["| host port | phases | build (s) | compile (s) | load (s) | host writes | writes/s "
             "| run (s) | cycles | sim. cycles/s (run) | read (s) | sim. cycles/s (all) "
             "| utilization | = ISS |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['host_bits']} bit | {r['phases']} | {_seconds(r['build_s'])} | "
            f"{r['compile_s']:.1f} | {r['load_s']:.1f} | {r['writes']} | "
            f"{r['writes_per_s'] / 1e3:.0f}k | {r['run_s']:.2f} | {r['cycles']} | "
            f"{r['cycles_per_s'] / 1e3:.0f}k | {r['read_s']:.2f} | "
            f"{r['sim_cycles_per_s'] / 1e3:.0f}k | {r['utilization']:.1%} | "
            f"{'yes' if r['iss_equal'] else 'NO'} |")
    return "\n".join(lines)


DESCRIPTION = __doc__.split("\n\n")[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lutcore bench rtl`` (the configuration comes from --preset/--config)."""
    parser.add_argument("--k", type=int, default=2560)
    parser.add_argument("--n", type=int, default=6912)
    parser.add_argument("--m", type=int, default=1)
    parser.add_argument("--mode", default="bitserial", choices=["bitserial", "elut"])
    parser.add_argument("--host-bits", type=int, nargs="+", default=[32], choices=[32, 64],
                        help="host port widths to run (default: 32)")
    parser.add_argument("--rebuild", action="store_true",
                        help="build the model afresh to measure the build time")
    parser.add_argument("--seed", type=int, default=0)


def main(args: argparse.Namespace, config) -> int:
    """``lutcore bench rtl``: print the GEMV table on ``config``."""
    base = config
    rows = []
    for bits in args.host_bits:
        config = base if bits == base.host_bits else \
            base.replace(name=f"{base.name}-host{bits}", host_bits=bits)
        rows.append(measure(config, k=args.k, n=args.n, m=args.m, mode=args.mode,
                            seed=args.seed, rebuild=args.rebuild))
    print(f"RTL (Verilator) GEMV, preset {base.name} (m={base.m} n={base.n} g={base.g}), "
          f"K={args.k} N={args.n} M={args.m}, {args.mode}, ternary weights; bit-exact with "
          f"the ISS and the int64 reference\n")
    print(table(rows))
    return 0

