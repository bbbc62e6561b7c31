"""``lutcore synth``: synthesize the LUT core (and, with ``--all``, the MAC and adder
baselines) with Yosys and report area and compute density."""

from __future__ import annotations

import argparse

from pathlib import Path

from ..studies import area
from ._config import add_config_arguments, load_config
from .inputs import int_in, output_dir, positive_float

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "add_run_arguments", "study_config"]


def add_run_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    """The options of every Yosys study (``lutcore synth``, ``lutcore dse``): ``--out DIR``
    (default ``out``), ``--jobs N`` and ``--timeout S``."""
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path(out),
                        help=f"output directory (created if missing; default {out})")
    parser.add_argument("--jobs", "-j", metavar="N", type=int_in(1), default=2,
                        help="parallel Yosys runs (default 2)")
    parser.add_argument("--timeout", metavar="S", type=positive_float, default=None,
                        help="give up on one Yosys run after S seconds")


def study_config(args):
    """The configuration of a Yosys study (``--preset/--config``), once its ``--out`` is
    checked to be a directory it can write (created if missing)."""
    config = load_config(args)
    output_dir("--out", args.out, {"--config": args.config})
    return config


HELP = "synthesize the LUT core and baselines; report area and compute density"
DESCRIPTION = ("Write Verilog of each design, synthesize it with YoWASP Yosys (generic "
               "gates with a CMOS transistor estimate, and ECP5 LUT4s) and write area.md "
               "and area.json into OUT. Without --all only the preset's LUT core and "
               "table precompute unit are synthesized.")


def add_arguments(parser) -> None:
    """The ``synth`` options."""
    add_config_arguments(parser)
    parser.add_argument("--all", action="store_true",
                        help="the W2A8 comparison: LUT core symmetrized, unsymmetrized and "
                             "with ELUT, their precompute units, MAC and adder baselines")
    parser.add_argument("--tile", metavar="MxN", type=area.parse_tile, default=None,
                        help="tile of the --all comparison (default 2x8: the MAC baseline at "
                             "the preset's full tile takes too long on a small machine)")
    parser.add_argument("--no-ecp5", action="store_true",
                        help="skip the ECP5 flow (CMOS transistor estimate only)")
    add_run_arguments(parser, "build/area")


def run(args) -> int:
    """Execute ``lutcore synth``: synthesize into ``--out`` and print the report."""
    config = study_config(args)
    flows = ("cmos",) if args.no_ecp5 else ("cmos", "ecp5")
    if args.all:
        m, n = args.tile or (min(config.m, area.COMPARISON_TILE["m"]),
                             min(config.n, area.COMPARISON_TILE["n"]))
        doc = area.run_comparison(config, args.out, m=m, n=n, jobs=args.jobs, flows=flows,
                                  timeout=args.timeout)
    else:
        if args.tile:
            config = config.replace(m=args.tile[0], n=args.tile[1])
        doc = area.run_single(config, args.out, jobs=args.jobs, flows=flows,
                              timeout=args.timeout)
    print()
    print(doc["markdown"])
    print(f"wrote {args.out / 'area.md'} and {args.out / 'area.json'}")
    area.check_designs(doc["designs"], args.out)
    return 0
