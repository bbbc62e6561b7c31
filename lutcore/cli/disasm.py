"""``lutcore disasm``: list a compiled program: per phase its buffer loads, output reads and
instructions in assembler syntax (``lutcore.spec.isa``)."""

from __future__ import annotations


from ..sw.compiler import Program
from .compile import format_summary
from .inputs import int_in

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run"]


HELP = "disassemble a compiled program (.npz)"
DESCRIPTION = "Print a program's phases: loads, output reads and instructions."


def add_arguments(p) -> None:
    """The ``disasm`` options."""
    p.add_argument("program", metavar="PROG.npz", help="program written by `lutcore compile`")
    p.add_argument("--phase", type=int_in(0), metavar="I", help="only phase I (from 0)")
    p.add_argument("--summary", action="store_true", help="print the summary only")


def run(args) -> int:
    """Execute ``lutcore disasm``; a bad file raises a one-line error (exit status 2)."""
    program = Program.load(args.program)
    if args.summary:
        print(format_summary(program, args.program))
    else:
        print(program.disassemble(args.phase), end="")
    return 0
