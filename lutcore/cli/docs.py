"""``lutcore docs``: write the generated ISA reference (``docs/isa.md``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .inputs import output_file, writing

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``docs`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "docs", help="write the ISA reference (docs/isa.md)",
        description="Generate the instruction-set reference (markdown) from the ISA "
                    "definitions in lutcore/spec/isa/.")
    parser.add_argument("--out", metavar="FILE.md", type=Path,
                        help="write the reference here (default: standard output)")
    parser.set_defaults(func=run)
    return parser


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
