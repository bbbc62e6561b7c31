"""``lutcore fpga``: build a bitstream for a board and report area and fmax.

The design is the accelerator (or, with ``--device``, the LUT core in a timing harness or a
plain scratchpad memory) behind the UART host link. The board decides the default preset and
core clock: iCEBreaker runs ``tiny`` at its 12 MHz oscillator; ULX3S runs ``default`` at
60 MHz from a PLL by default, the UART link staying on the 25 MHz oscillator.
"""

from __future__ import annotations

import argparse
import sys

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
    p.add_argument("--freq", type=positive_float, metavar="MHZ",
                   help="core clock in MHz (default: 12 on icebreaker, 60 on ulx3s via the PLL)")
    p.add_argument("--baud", type=int_in(1), default=DEFAULT_BAUD, metavar="N",
                   help=f"UART rate (default: {DEFAULT_BAUD})")
    p.add_argument("--seed", type=int_in(0, 2 ** 31 - 1), default=1, metavar="N",
                   help="nextpnr seed (default: 1)")
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


def run(args) -> int:
    """Execute ``lutcore fpga``; returns 0, or 1 when timing is not met."""
    from ..fpga.board import accelerator_available
    from ..fpga.flow import board, run_flow

    b = board(args.board)
    config = load_config(args, default=b.default_preset)
    out = output_dir("--out", args.out, {"--config": args.config})
    device = args.device
    if device == "auto":
        device = "accelerator" if accelerator_available() else "core"
        if device == "core":
            print("lutcore fpga: the accelerator top is not in this build; building the LUT "
                  "core in its timing harness (--device core)", file=sys.stderr)

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
