"""``lutcore space``: the paper's M x N x K design space in standard cells
(:mod:`lutcore.studies.space`) on the shared ``--preset/--config`` loader."""

from __future__ import annotations

from ..studies import space
from ._config import add_config_arguments
from .synth import add_run_arguments, study_config

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run"]

HELP = "LUT vs INT8 MAC arrays over M x N x K in standard cells (the paper's Fig. 14)"
DESCRIPTION = (f"{space.DESCRIPTION} Writes space.md, space.json and space.png into OUT; "
               f"the configuration gives the activation and output widths.")


def add_arguments(parser) -> None:
    """The ``space`` options."""
    add_config_arguments(parser)
    space.add_arguments(parser)
    add_run_arguments(parser, "build/space")


def run(args) -> int:
    """Execute ``lutcore space`` into ``--out``."""
    return space.main(args, study_config(args))
