"""``lutcore fpga``: build a bitstream for a board and report area and fmax.

The design is the accelerator (or, with ``--device``, the LUT core in a timing harness or a
plain scratchpad memory) behind the UART host link. The board decides the default preset and
core clock: iCEBreaker runs ``tiny`` at its 12 MHz oscillator; ULX3S runs ``default`` at
60 MHz (``decode`` at 80 MHz) from a PLL by default, the UART link staying on the 25 MHz
oscillator.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import LutcoreError

from ._config import add_config_arguments, load_config
from ._switches import add_switches
from .inputs import int_in, output_dir, positive_float

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run"]


HELP = "build a bitstream (yosys, nextpnr, icepack/ecppack) with an area/fmax report"
DESCRIPTION = ("Build the accelerator behind a UART host link for a board; write the "
               "bitstream, the tool logs and report.md / report.json (LUT4, FF, BRAM, DSP "
               "use and post-route fmax).")


def add_arguments(p) -> None:
    """The ``fpga`` options."""
    from ..fpga.board import DEFAULT_BAUD, DEVICES
    from ..fpga.flow import BOARDS, ROUTE_STALL_ITERATIONS, ROUTERS
    p.add_argument("--board", required=True, metavar="BOARD", choices=list(BOARDS),
                   help=f"target board: {', '.join(BOARDS)}")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory (created if missing)")
    add_config_arguments(p, default="tiny on icebreaker, default on ulx3s")
    p.add_argument("--device", metavar="D", default="auto", choices=["auto", *DEVICES],
                   help=f"what sits behind the host port: {', '.join(DEVICES)}, or auto "
                        f"(the accelerator if this build has it, else core)")
    clocks = "; ".join(
        f"{b.default_core_mhz:g} on {name}"
        + "".join(f", {mhz:g} for {preset}" for preset, mhz in b.other_presets)
        for name, b in BOARDS.items())
    p.add_argument("--freq", type=positive_float, metavar="MHZ",
                   help=f"core clock in MHz (default: {clocks}; ulx3s via the PLL)")
    p.add_argument("--baud", type=int_in(1), default=DEFAULT_BAUD, metavar="N",
                   help=f"UART rate (default: {DEFAULT_BAUD})")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int_in(0, 2 ** 31 - 1), default=1, metavar="N",
                       help="nextpnr seed (default: 1)")
    seeds.add_argument("--seeds", type=_seed_list, metavar="N,N,...",
                       help="build once per nextpnr seed, into OUT/seed-N, as Dask tasks "
                            "(--jobs, --scheduler), and report them side by side with the "
                            "best")
    p.add_argument("--jobs", "-j", type=int_in(1), default=2, metavar="N",
                   help="with --seeds: builds at once, local Dask workers (default 2)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --seeds: run the builds on this Dask scheduler's cluster")
    p.add_argument("--router", metavar="R", choices=ROUTERS,
                   help="nextpnr router: router1 or router2 (default: router2 on icebreaker, "
                        "router1 on ulx3s)")
    p.add_argument("--route-stall", type=int_in(0), default=ROUTE_STALL_ITERATIONS,
                   metavar="N",
                   help=f"stop when router2 has not cut the overused wires by 10 %% in N "
                        f"iterations, or router1 its arcs left in 5N x 1000 iterations "
                        f"(default: {ROUTE_STALL_ITERATIONS}; 0: never give up)")
    add_switches(p, {
        "--synth-only": "run yosys only (netlist cell counts, no place and route)",
        "--allow-timing-fail": "exit 0 even if a clock misses its constraint",
    })


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected seeds like 1,2,3") \
            from None
    if not seeds or len(set(seeds)) != len(seeds) or not all(0 <= x < 2 ** 31 for x in seeds):
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: distinct seeds in "
                                         f"0..{2 ** 31 - 1}")
    return seeds


def run(args) -> int:
    """Execute ``lutcore fpga``; returns 0, or 1 when timing is not met."""
    from ..fpga.board import accelerator_available
    from ..fpga.flow import board, run_flow

    if args.seeds and args.synth_only:
        raise LutcoreError("--seeds: the seed only matters to place and route: drop "
                           "--synth-only")
    if (args.jobs != 2 or args.scheduler) and not args.seeds:
        raise LutcoreError("--jobs and --scheduler go with --seeds (several builds)")
    b = board(args.board)
    config = load_config(args, default=b.default_preset)
    out = output_dir("--out", args.out, {"--config": args.config})
    device = args.device
    if device == "auto":
        device = "accelerator" if accelerator_available() else "core"
        if device == "core":
            print("lutcore fpga: the accelerator top is not in this build; building the LUT "
                  "core in its timing harness (--device core)", file=sys.stderr)

    if args.seeds:
        return _seed_sweep(args, b, config, device, out)
    report = run_flow(b.name, out, config=config, device=device, core_mhz=args.freq,
                      baud=args.baud, seed=args.seed, router=args.router,
                      synth_only=args.synth_only, route_stall=args.route_stall)
    print(f"lutcore fpga: {b.name}, preset {config.name}, device {device}: wrote {args.out}/"
          f"report.md" + (f" and {report.bitstream}" if report.bitstream else ""))
    if args.synth_only:
        cells = ", ".join(f"{k} {v}" for k, v in report.netlist_cells.items())
        print(f"netlist: {cells}")
        return 0
    for res in report.resources:
        print(f"  {res.name:6} {res.used:7} / {res.available:<7} {res.percent:5.1f} %")
    for c in report.clocks:
        verdict = {True: "PASS", False: "FAIL", None: ""}[c["passed"]]
        target = f" (target {c['constraint_mhz']:g} MHz)" if c["constraint_mhz"] else ""
        print(f"  clock {c['role']:5} fmax {c['achieved_mhz']:7.2f} MHz{target} {verdict}")
    for d in report.decode:
        at = "" if d["tokens_per_s_fmax"] is None else f"{d['tokens_per_s_fmax']:.2f} at fmax, "
        print(f"  BitNet-2B decode, {d['mode']:9} tokens/s: {at}{d['tokens_per_s_clock']:.2f} "
              f"at {report.core_mhz:g} MHz, {d['tokens_per_s_link']:.2e} over the link "
              f"({d['bound']}-bound)")
    if report.decode_error:
        print(f"  BitNet-2B decode figures not computed: {report.decode_error}")
    if not report.timing_met:
        core = report.core_clock
        hint = (f"; rerun with --freq {int(core['achieved_mhz'])} for a bitstream that meets "
                f"timing" if core and core["passed"] is False else "")
        print(f"lutcore fpga: timing NOT met{hint} (critical paths in report.md)",
              file=sys.stderr)
        return 0 if args.allow_timing_fail else 1
    return 0


def _seed_sweep(args, b, config, device, out) -> int:
    """One build per seed as Dask tasks; a table of them and the best (highest core fmax)
    in OUT/seeds.md and seeds.json."""
    import io
    import json
    from pathlib import Path

    from ..fpga.flow import Progress, run_flow
    from ..tasks import run_tasks

    def build(seed):
        return run_flow(b.name, Path(out) / f"seed-{seed}", config=config, device=device,
                        core_mhz=args.freq, baud=args.baud, seed=seed, router=args.router,
                        route_stall=args.route_stall, progress=Progress(io.StringIO()))

    where = args.scheduler or f"{args.jobs} local Dask worker(s)"
    print(f"lutcore fpga: {b.name}, preset {config.name}, device {device}: "
          f"{len(args.seeds)} builds (seeds {','.join(map(str, args.seeds))}) on {where}")
    rows = {}
    for seed, report, error in run_tasks(((s, build, (s,)) for s in args.seeds), args.jobs,
                                         args.scheduler):
        core = report.core_clock if error is None else None
        rows[seed] = {"seed": seed, "dir": f"seed-{seed}",
                      "error": None if error is None else f"{type(error).__name__}: "
                                                          f"{' '.join(str(error).split())}",
                      "fmax_mhz": core["achieved_mhz"] if core else None,
                      "timing_met": report.timing_met if error is None else False,
                      "resources": {r.name: r.used for r in report.resources}
                      if error is None else {}}
        r = rows[seed]
        print(f"  [{len(rows)}/{len(args.seeds)}] seed {seed}: " + (
            f"FAILED: {r['error']}" if r["error"] else
            f"core fmax {r['fmax_mhz']:.2f} MHz, timing {'met' if r['timing_met'] else 'NOT met'}"))
    ordered = [rows[s] for s in args.seeds]
    done = [r for r in ordered if r["fmax_mhz"] is not None]
    best = max(done, key=lambda r: r["fmax_mhz"], default=None)
    lines = [f"# {b.name}, preset {config.name}: one build per nextpnr seed", "",
             "| seed | core fmax MHz | timing | resources | directory |", "|---:|---:|---|---|---|"]
    for r in ordered:
        res = ", ".join(f"{k} {v}" for k, v in r["resources"].items())
        fmax = f"{r['fmax_mhz']:.2f}" if r["fmax_mhz"] is not None else "n/a"
        verdict = r["error"] or ("met" if r["timing_met"] else "NOT met")
        lines.append(f"| {r['seed']} | {fmax} | {verdict} | {res} | {r['dir']} |")
    if best:
        lines += ["", f"Best: seed {best['seed']}, {best['fmax_mhz']:.2f} MHz "
                      f"({best['dir']}/report.md)."]
    Path(out, "seeds.md").write_text("\n".join(lines) + "\n")
    Path(out, "seeds.json").write_text(json.dumps({"seeds": ordered, "best": best}, indent=2))
    print("\n".join(lines))
    if best is None or not best["timing_met"]:
        print("lutcore fpga: no seed met timing", file=sys.stderr)
        return 0 if args.allow_timing_fail and best else 1
    return 0
