"""RTL performance of a BitNet b1.58 2B layer GEMV on the Verilator model of the accelerator.

``python -m lutcore.studies.bench_rtl [--preset default] [--k 2560] [--n 6912] [--m 1]
[--mode bitserial] [--host-bits 32 64] [--rebuild]`` compiles ``O = A @ W.T`` (random int8
activations, ternary weights; by default the FFN up/gate projection, K = 2560, N = 6912,
M = 1), runs it through the host port of the Verilator model (the host runtime of
:mod:`lutcore.host` in an rtl session: host writes of every buffer image and instruction,
start, one long await for the core to stop, CYCLES, output reads), checks it bit-exact
against the ISS and the int64 reference with CYCLES equal to the ISS per phase, and prints
a markdown table:

- wall-clock seconds of the model build (``cached`` when an existing model was reused;
  ``--rebuild`` forces a fresh build), the compile, and in the simulation the load (host
  writes), the run (start to done, all phases) and the output reads;
- host writes and their rate; simulated cycles of the compute (the CYCLES CSRs) and the
  simulated cycles per second while computing; the whole simulation's cycles per second;
- utilization = LMMA steps / cycles, and useful utilization = the lookups the GEMV needs /
  (cycles x m x n x L), from the RTL's own CYCLES.

``--host-bits`` runs the same GEMV on configurations whose host port is that wide (a wider
port halves the host writes; the compute is the same).

``--overhead N`` measures instead the wall-clock per 64x64x64 GEMM, model already built:
N GEMMs each in its own simulator process (``run_gemm(backend="rtl")``), then the same N
in one session (``open_device("rtl")``, one simulator process serving them all).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


from ..sw.compiler import compile_gemm

__all__ = ["measure", "main"]


def _operands(rng, m, k, n):
    return (rng.integers(-128, 128, (m, k), dtype=np.int8),
            rng.integers(-1, 2, (n, k), dtype=np.int8))


def measure(config, *, k: int = 2560, n: int = 6912, m: int = 1, mode: str = "bitserial",
            seed: int = 0, rebuild: bool = False) -> dict:
    """Run one GEMM on the RTL of ``config``; returns its figures (raises if not exact)."""
    from ..host import open_device
    from ..host.scoreboard import score
    from ..sim.runner import top_model

    a, w = _operands(np.random.default_rng(seed), m, k, n)
    if rebuild:
        model = top_model(config)
        (model.build_dir / "model.sha256").unlink(missing_ok=True)
    t0 = time.perf_counter()
    model = top_model(config)
    t1 = time.perf_counter()
    program = compile_gemm(a, w, config=config, mode=mode)
    t2 = time.perf_counter()
    with open_device("rtl", config) as dev:
        t3 = time.perf_counter()
        run = dev.runtime.run(program)
    t4 = time.perf_counter()
    result = score(run, a=a, w=w)
    result.raise_on_mismatch(f"bench {config.name} K={k} N={n} M={m} {mode}")
    load = sum(p.load_s for p in run.phases)
    compute = sum(p.run_s for p in run.phases)
    read = sum(p.read_s for p in run.phases)
    writes = sum(p.writes for p in run.phases)
    sim_cycles = dev.transport.stats["sim_cycles"]
    return {
        "config": config.name, "host_bits": config.host_bits, "K": k, "N": n, "M": m,
        "mode": mode, "phases": len(program.phases),
        "build_s": model.build_seconds if model.rebuilt else None,
        "verilog_s": (t1 - t0) - (model.build_seconds if model.rebuilt else 0.0),
        "compile_s": t2 - t1, "start_s": t3 - t2, "sim_s": t4 - t2, "load_s": load,
        "run_s": compute, "read_s": read, "writes": writes,
        "writes_per_s": writes / load if load else 0.0,
        "cycles": run.cycles, "cycles_per_s": run.cycles / compute if compute else 0.0,
        "sim_cycles": sim_cycles, "sim_cycles_per_s": sim_cycles / (t4 - t2),
        "lookups": program.lookups(), "utilization": run.utilization or 0.0,
        "useful_utilization": run.useful_utilization or 0.0,
        "iss_equal": result.phase_cycles == result.iss_cycles,
    }


def overhead(config, *, gemms: int = 3, size: int = 64, mode: str = "bitserial",
             seed: int = 0) -> dict:
    """Wall-clock seconds per ``size``-cubed GEMM on the RTL of ``config`` (model built
    first): one simulator process per GEMM (``run_gemm(backend="rtl")`` each time) against
    one session (``open_device("rtl")`` serving them all); every GEMM checked bit-exact."""
    from ..host import open_device, run_gemm
    from ..sim.runner import top_model

    top_model(config)
    rng = np.random.default_rng(seed)
    cases = [_operands(rng, size, size, size) for _ in range(gemms)]

    def timed(call):
        seconds = []
        for a, w in cases:
            started = time.perf_counter()
            result = call(a, w)
            seconds.append(time.perf_counter() - started)
            if not np.array_equal(result.output, a.astype(np.int64) @ w.astype(np.int64).T):
                raise AssertionError(f"bench overhead: a {size}^3 GEMM is not exact")
        return seconds

    separate = timed(lambda a, w: run_gemm(a, w, backend="rtl", mode=mode, config=config))
    started = time.perf_counter()
    with open_device("rtl", config) as dev:
        opened = time.perf_counter() - started
        session = timed(lambda a, w: dev.gemm(a, w, mode=mode))
    return {"gemms": gemms, "size": size, "separate": separate, "session": session,
            "session_open_s": opened, "pids": len({dev.pid})}


def _seconds(value) -> str:
    return "cached" if value is None else f"{value:.1f}"


def table(rows: list[dict]) -> str:
    lines = ["| host port | phases | build (s) | compile (s) | load (s) | host writes | writes/s "
             "| run (s) | cycles | sim. cycles/s (run) | read (s) | sim. cycles/s (all) "
             "| utilization (steps) | utilization (useful) | = ISS |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['host_bits']} bit | {r['phases']} | {_seconds(r['build_s'])} | "
            f"{r['compile_s']:.1f} | {r['load_s']:.1f} | {r['writes']} | "
            f"{r['writes_per_s'] / 1e3:.0f}k | {r['run_s']:.2f} | {r['cycles']} | "
            f"{r['cycles_per_s'] / 1e3:.0f}k | {r['read_s']:.2f} | "
            f"{r['sim_cycles_per_s'] / 1e3:.0f}k | {r['utilization']:.1%} | "
            f"{r['useful_utilization']:.1%} | {'yes' if r['iss_equal'] else 'NO'} |")
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
    parser.add_argument("--overhead", type=int, default=0, metavar="N",
                        help="instead: wall-clock per 64x64x64 GEMM for N GEMMs, one "
                             "simulator process each against one session")


def overhead_table(r: dict) -> str:
    """The per-GEMM overhead figures as markdown."""
    def per(xs):
        return f"{sum(xs) / len(xs):.2f} (min {min(xs):.2f}, max {max(xs):.2f})"
    return "\n".join([
        "| how | wall-clock s per GEMM |", "|---|---|",
        f"| one simulator process per GEMM | {per(r['separate'])} |",
        f"| one session (simulator started once, {r['session_open_s']:.1f} s) "
        f"| {per(r['session'])} |"])


def main(args: argparse.Namespace, config) -> int:
    """``lutcore bench rtl``: print the GEMV table on ``config`` (and with ``--overhead N``
    the per-GEMM overhead of N GEMMs of 64x64x64)."""
    if args.overhead:
        r = overhead(config, gemms=args.overhead, mode=args.mode, seed=args.seed)
        print(f"RTL (Verilator) per-GEMM wall-clock, preset {config.name}, {r['gemms']} GEMMs "
              f"of {r['size']}x{r['size']}x{r['size']} ({args.mode}), model built, every "
              f"GEMM checked bit-exact\n")
        print(overhead_table(r))
        return 0
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

