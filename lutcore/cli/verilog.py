"""``lutcore verilog``: write synthesizable Verilog and config.json for one configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..spec.config import preset_names
from ._config import load_config

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "verilog",
        help="write synthesizable Verilog for a configuration",
        description="Generate the Verilog of every registered core component (one file per "
                    "module) and the config.json it was built from into DIR.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="P",
                        help=f"a preset configuration ({', '.join(preset_names())}); "
                             f"the default when --config is not given is 'default'")
    source.add_argument("--config", metavar="FILE.json", type=Path,
                        help="a configuration file (CoreConfig fields as a JSON object)")
    parser.add_argument("--out", metavar="DIR", type=Path, required=True,
                        help="output directory (created if missing)")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    # Imported here so that `lutcore --help` does not pay for Amaranth.
    from ..hw.verilog import write_verilog

    config = load_config(args)
    for path in write_verilog(config, args.out):
        print(f"wrote {path}")
    return 0
