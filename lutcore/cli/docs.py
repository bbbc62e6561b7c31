"""``lutcore docs``: write the generated ISA reference (``docs/isa.md``)."""

from __future__ import annotations

import sys
from pathlib import Path

from .inputs import output_file, writing

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run"]


HELP = "write the ISA reference (docs/isa.md)"
DESCRIPTION = ("Generate the instruction-set reference (markdown) from the ISA "
               "definitions in lutcore/spec/isa/.")


def add_arguments(parser) -> None:
    """The ``docs`` options."""
    parser.add_argument("--out", metavar="FILE.md", type=Path,
                        help="write the reference here (default: standard output)")


def run(args) -> int:
    """Execute ``lutcore docs``: print the reference or write it to ``--out``."""
    from ..spec import isa

    if args.out is None:
        sys.stdout.write(isa.render_doc())
        return 0
    out = output_file("--out", args.out)
    with writing("--out", out):
        isa.write_doc(out)
    print(f"wrote {args.out}")
    return 0
