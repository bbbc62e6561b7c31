"""``lutcore synth``: synthesize the LUT core (and, with ``--all``, the MAC and adder
baselines) with Yosys and report area and compute density."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..spec.config import preset_names
from ._config import load_config

__all__ = ["register", "run"]


def _tile(text: str) -> tuple[int, int]:
    try:
        m, n = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected MxN, e.g. 2x8") \
            from None
    return m, n


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "synth",
        help="synthesize the LUT core and baselines; report area and compute density",
        description="Write Verilog of each design, synthesize it with YoWASP Yosys (generic "
                    "gates with a CMOS transistor estimate, and ECP5 LUT4s) and write area.md "
                    "and area.json into OUT. Without --all only the preset's LUT core and "
                    "table precompute unit are synthesized.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="P", default=None,
                        help=f"preset configuration ({', '.join(preset_names())}; "
                             f"default 'default')")
    source.add_argument("--config", metavar="FILE.json", type=Path,
                        help="a configuration file (CoreConfig fields as a JSON object)")
    parser.add_argument("--all", action="store_true",
                        help="the W2A8 comparison: LUT core symmetrized, unsymmetrized and "
                             "with ELUT, their precompute units, MAC and adder baselines")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("build/area"),
                        help="output directory (default build/area)")
    parser.add_argument("--tile", metavar="MxN", type=_tile, default=None,
                        help="tile of the --all comparison (default 2x8: the MAC baseline at "
                             "the preset's full tile takes too long on a small machine)")
    parser.add_argument("--jobs", "-j", metavar="N", type=int, default=2,
                        help="parallel Yosys runs (default 2)")
    parser.add_argument("--no-ecp5", action="store_true",
                        help="skip the ECP5 flow (CMOS transistor estimate only)")
    parser.add_argument("--timeout", metavar="S", type=float, default=None,
                        help="give up on one Yosys run after S seconds")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    from . import CliError
    from ..studies import area as synth

    config = load_config(args)
    if args.jobs < 1:
        raise CliError(f"--jobs {args.jobs} is invalid: must be at least 1")
    flows = ("cmos",) if args.no_ecp5 else ("cmos", "ecp5")
    if args.all:
        m, n = args.tile or (min(config.m, synth.COMPARISON_TILE["m"]),
                             min(config.n, synth.COMPARISON_TILE["n"]))
        doc = synth.run_comparison(config, args.out, m=m, n=n, jobs=args.jobs, flows=flows,
                                   timeout=args.timeout)
    else:
        if args.tile:
            config = config.replace(m=args.tile[0], n=args.tile[1])
        doc = synth.run_single(config, args.out, jobs=args.jobs, flows=flows,
                               timeout=args.timeout)
    print()
    print(doc["markdown"])
    print(f"wrote {args.out / 'area.md'} and {args.out / 'area.json'}")
    failed = [d["spec"]["key"] for d in doc["designs"] if d["error"]]
    if failed:
        raise CliError(f"synthesis failed for {', '.join(failed)} (see {args.out})")
    return 0
