"""``--preset P`` / ``--config FILE.json``: the configuration a subcommand runs on."""

from __future__ import annotations

from pathlib import Path

from ..spec.config import CoreConfig, preset

__all__ = ["add_config_arguments", "load_config"]


def add_config_arguments(parser, default: str = "default") -> None:
    """Add the exclusive ``--preset P`` / ``--config FILE.json`` pair to ``parser``."""
    from ..spec.config import preset_names

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="P", default=None,
                        help=f"a preset configuration ({', '.join(preset_names())}); "
                             f"default {default!r}")
    source.add_argument("--config", metavar="FILE.json", type=Path, default=None,
                        help="a configuration file (CoreConfig fields as a JSON object)")


def load_config(args, default: str = "default") -> CoreConfig:
    """The configuration named by ``args.preset`` or read from ``args.config``; ``default``
    is the preset when neither is given. Errors are one-line :class:`CliError`s or
    ``ConfigError``s."""
    from . import CliError

    if args.config is None:
        return preset(args.preset or default)
    if args.preset is not None:
        raise CliError("--config and --preset are exclusive: give one")
    path = Path(args.config)
    try:
        text = path.read_text()
    except OSError as e:
        raise CliError(f"--config {str(path)!r} cannot be read: {e.strerror}") from None
    return CoreConfig.from_json(text)
