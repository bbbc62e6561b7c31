"""``lutcore`` command line. Each subcommand lives in its own module ``lutcore.cli.<name>``
(:data:`COMMANDS`) exposing ``HELP``, ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args) -> int``; :func:`build_parser` makes one parser of them all.

Files, output paths and options are checked by :mod:`lutcore.cli.inputs` and the
configuration comes from :mod:`lutcore.cli._config`, shared by every subcommand. Every user
error is a :class:`~lutcore.errors.LutcoreError` (argument errors included): :func:`main`
prints it as one line and returns 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import LutcoreError
from .inputs import CliError, one_line

__all__ = ["main", "build_parser", "CliError", "COMMANDS"]


class _UsageError(CliError):
    """An argument the parser refused; ``prog`` is the (sub)command it belongs to."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`CliError`\\ s (argparse's own
    print the usage first, over several lines)."""

    def error(self, message: str):
        raise _UsageError(self.prog, f"{message} (see {self.prog} --help)")


#: The subcommands, in the order ``lutcore --help`` lists them; each is the module
#: ``lutcore.cli.<name>``.
COMMANDS = ("gemm", "compile", "disasm", "verilog", "synth", "dse", "space", "fpga", "bench",
            "docs", "generate", "inspect", "demo")


def build_parser() -> argparse.ArgumentParser:
    """The ``lutcore`` parser with every subcommand of :data:`COMMANDS`."""
    parser = _Parser(
        prog="lutcore",
        description="LUT tensor core kit: golden GEMM, RTL generation, compiler, simulation, "
                    "FPGA, real models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``lutcore`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status: 0
    on success, 2 after a one-line error on standard error, what the subcommand returns
    otherwise."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except _UsageError as e:
        print(f"{e.prog}: error: {one_line(e)}", file=sys.stderr)
    except LutcoreError as e:
        prog = f"lutcore {args.command}" if args is not None else "lutcore"
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("lutcore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of standard output went away (``lutcore disasm p.npz | head``): stop
        # quietly, as a pipeline stage does, and keep the interpreter's final flush from
        # raising again.
        _silence_stdout()
        return 141
    return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):        # no real file descriptor behind sys.stdout
        pass


if __name__ == "__main__":
    sys.exit(main())
