"""``--preset P`` / ``--config FILE.json``: the configuration a subcommand runs on, one
loader for every subcommand."""

from __future__ import annotations

from pathlib import Path

from ..spec.config import CoreConfig, preset, preset_names
from .inputs import read_bytes

__all__ = ["add_config_arguments", "load_config"]


def add_config_arguments(parser, default: str = "default") -> None:
    """Add the exclusive ``--preset P`` / ``--config FILE.json`` pair to ``parser``;
    ``default`` is the preset named in the help when neither is given."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="P", default=None,
                        help=f"a preset configuration ({', '.join(preset_names())}); "
                             f"default: {default}")
    source.add_argument("--config", metavar="FILE.json", type=Path, default=None,
                        help="a configuration file (CoreConfig fields as a JSON object)")


def load_config(args, default: str = "default") -> CoreConfig:
    """The configuration named by ``args.preset`` or read from ``args.config``; ``default``
    is the preset when neither is given.

    Raises:
        CliError: the file cannot be read. ConfigError: it is not UTF-8 JSON, not an object,
            or a field is unknown or out of range (messages name ``--config 'FILE'``).
    """
    if args.config is None:
        return preset(args.preset or default)
    return CoreConfig.from_json(read_bytes("--config", args.config),
                                source=f"--config {str(args.config)!r}")
