"""``lutcore dse``: the LUT core's design-space exploration (:mod:`lutcore.studies.dse`) on
the shared ``--preset/--config`` loader."""

from __future__ import annotations


from ..studies import dse
from ._config import add_config_arguments
from .synth import add_run_arguments, study_config

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run"]


HELP = "tile-shape, group-size and weight-bit exploration of the LUT core"
DESCRIPTION = (f"{dse.DESCRIPTION} Writes dse.md, dse.json and dse.png into OUT; the "
               f"configuration gives the activation and output widths, the group of "
               f"the weight-bit sweep and the ELUT group.")


def add_arguments(parser) -> None:
    """The ``dse`` options."""
    add_config_arguments(parser)
    dse.add_arguments(parser)
    add_run_arguments(parser, "build/dse")


def run(args) -> int:
    """Execute ``lutcore dse`` into ``--out`` (or, with ``--replot``, redraw from it)."""
    return dse.main(args, study_config(args))
