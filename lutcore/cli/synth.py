"""``lutcore synth``: synthesize the LUT core (and, with ``--all``, the MAC and adder
baselines) with Yosys and report area and compute density."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..studies import area
from ..studies import cells as cl
from ._config import add_config_arguments, load_config
from ..errors import LutcoreError
from ._switches import add_switches
from .inputs import int_in, output_dir, positive_float

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "add_run_arguments", "study_config"]


def add_run_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    """The options of every Yosys study (``lutcore synth``, ``lutcore dse``): ``--out DIR``
    (default ``out``), ``--jobs N``, ``--timeout S`` and ``--scheduler ADDRESS``."""
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path(out),
                        help=f"output directory (created if missing; default {out})")
    parser.add_argument("--jobs", "-j", metavar="N", type=int_in(1), default=2,
                        help="parallel syntheses: local Dask workers (default 2; 1 runs them "
                             "in this process)")
    parser.add_argument("--timeout", metavar="S", type=positive_float, default=None,
                        help="give up on one Yosys run after S seconds")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run the syntheses on the Dask cluster of this scheduler "
                             "(tcp://host:8786; its workers need lutcore and OUT on a shared "
                             "file system) instead of --jobs local Dask workers")


def study_config(args):
    """The configuration of a Yosys study (``--preset/--config``), once its ``--out`` is
    checked to be a directory it can write (created if missing)."""
    config = load_config(args)
    output_dir("--out", args.out, {"--config": args.config})
    return config


HELP = "synthesize the LUT core and baselines; report area and compute density"
DESCRIPTION = ("Write Verilog of each design, synthesize it with YoWASP Yosys (generic "
               "gates with a CMOS transistor estimate, and ECP5 LUT4s) and write area.md "
               "and area.json into OUT. With --all, also map every design to the OSU "
               "0.18 um standard cells and time it with OpenSTA (um^2, fmax, mW, TOPS/mm^2 "
               "and TOPS/W at W1/W2/W4 A8), when those tools are installed. Without --all "
               "only the preset's LUT core and table precompute unit are synthesized.")


def add_arguments(parser) -> None:
    """The ``synth`` options."""
    add_config_arguments(parser)
    parser.add_argument("--all", action="store_true",
                        help="the W2A8 comparison: LUT core symmetrized, unsymmetrized and "
                             "with ELUT, their precompute units, MAC and adder baselines")
    parser.add_argument("--fp16", action="store_true",
                        help="the FP16-activation comparison instead: the FP LUT core and its "
                             "FP table precompute unit (FP16 tables, FP32 accumulators) at "
                             "W1/W2/W4 against the FP16 MAC tensor core, tile "
                             f"M{area.FP_TILE['m']} N{area.FP_TILE['n']} K{area.FP_TILE['g']}, "
                             "standard cells only; writes area_fp16.md and area_fp16.json")
    parser.add_argument("--tile", metavar="MxN", type=area.parse_tile, default=None,
                        help="tile of the --all comparison (default 2x8: the MAC baseline at "
                             "the preset's full tile takes too long on a small machine)")
    add_switches(parser, {
        "--no-ecp5": "skip the ECP5 flow (CMOS transistor estimate only)",
        "--no-cells": "skip the standard-cell flow (OSU 0.18 um cells, OpenSTA)",
        "--install-tools": "install the standard-cell flow's Debian packages "
                           f"({' '.join(cl.PACKAGES)}) with apt-get when they are missing",
    })
    parser.add_argument("--clock", metavar="MHZ", type=positive_float,
                        default=cl.DEFAULT_POWER_MHZ,
                        help="common clock of the standard-cell power and TOPS figures "
                             f"(default {cl.DEFAULT_POWER_MHZ:g})")
    parser.add_argument("--activity", metavar="A", type=positive_float,
                        default=cl.DEFAULT_ACTIVITY,
                        help="global switching activity of the power figures, transitions "
                             f"per cycle per net, at most 2 (default {cl.DEFAULT_ACTIVITY:g})")
    add_run_arguments(parser, "build/area")


def study_flows(args) -> tuple[str, ...]:
    """The flows of ``lutcore synth``: cmos, ecp5 unless ``--no-ecp5``, and the standard
    cells unless ``--no-cells`` or their tools are missing (then one line says which packages
    to install, and the study goes on without them)."""
    flows = ("cmos",) if args.no_ecp5 else ("cmos", "ecp5")
    if args.no_cells:
        return flows
    missing = cl.ensure_tools(install=args.install_tools)
    if missing:
        print(f"lutcore synth: note: {missing}; going on without the standard-cell figures",
              file=sys.stderr)
        return flows
    return flows + ("cells",)


def run(args) -> int:
    """Execute ``lutcore synth``: synthesize into ``--out`` and print the report."""
    config = study_config(args)
    if args.activity > 2:
        raise LutcoreError(f"--activity {args.activity:g} is invalid: at most 2 transitions "
                           "per cycle")
    if args.fp16:
        return _run_fp16(args)
    flows = study_flows(args) if args.all else \
        (("cmos",) if args.no_ecp5 else ("cmos", "ecp5"))
    if args.all:
        m, n = args.tile or (min(config.m, area.COMPARISON_TILE["m"]),
                             min(config.n, area.COMPARISON_TILE["n"]))
        doc = area.run_comparison(config, args.out, m=m, n=n, jobs=args.jobs, flows=flows,
                                  timeout=args.timeout, clock_mhz=args.clock,
                                  activity=args.activity, scheduler=args.scheduler)
    else:
        if args.tile:
            config = config.replace(m=args.tile[0], n=args.tile[1])
        doc = area.run_single(config, args.out, jobs=args.jobs, flows=flows,
                              timeout=args.timeout, scheduler=args.scheduler)
    print()
    print(doc["markdown"])
    print(f"wrote {args.out / 'area.md'} and {args.out / 'area.json'}")
    area.check_designs(doc["designs"], args.out)
    return 0


def _run_fp16(args) -> int:
    """``lutcore synth --fp16``: the FP16 comparison, which needs the standard-cell tools."""
    if args.all or args.tile:
        raise LutcoreError("--fp16 is invalid with --all or --tile: it has its own tile")
    missing = cl.ensure_tools(install=args.install_tools)
    if missing:
        raise LutcoreError(f"--fp16: {missing}")
    doc = area.run_fp_comparison(args.out, jobs=args.jobs, timeout=args.timeout,
                                 clock_mhz=args.clock, activity=args.activity,
                                 scheduler=args.scheduler)
    print()
    print(doc["markdown"])
    print(f"wrote {args.out / 'area_fp16.md'} and {args.out / 'area_fp16.json'}")
    area.check_designs(doc["designs"], args.out)
    return 0
