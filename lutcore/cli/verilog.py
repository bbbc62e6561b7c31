"""``lutcore verilog``: write synthesizable Verilog and config.json for one configuration."""

from __future__ import annotations

from pathlib import Path

from ._config import add_config_arguments, load_config
from .inputs import output_dir, writing

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run"]


HELP = "write synthesizable Verilog for a configuration"
DESCRIPTION = ("Generate the Verilog of every registered core component (one file per "
               "module) and the config.json it was built from into DIR.")


def add_arguments(parser) -> None:
    """The ``verilog`` options."""
    add_config_arguments(parser)
    parser.add_argument("--out", metavar="DIR", type=Path, required=True,
                        help="output directory (created if missing)")


def run(args) -> int:
    """Execute ``lutcore verilog``: write the files into ``--out``."""
    # Imported here so that `lutcore --help` does not pay for Amaranth.
    from ..hw.verilog import CONFIG_FILE, config_components, write_verilog

    config = load_config(args)
    out = output_dir("--out", args.out, {"--config": args.config},
                     files=(*(f"{name}.v" for name in config_components()), CONFIG_FILE))
    with writing("--out", out):
        paths = write_verilog(config, out)
    for path in paths:
        print(f"wrote {path}")
    return 0
