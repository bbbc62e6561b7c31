"""``lutcore`` command line. Each subcommand lives in its own module ``lutcore.cli.<name>``
exposing ``register(subparsers)``; the parser it adds sets ``func(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import USER_ERRORS

__all__ = ["main", "CliError"]

SUBCOMMANDS = ["gemm", "compile", "disasm", "verilog", "synth", "fpga", "bench", "docs"]


class CliError(Exception):
    """A one-line usage error raised by a subcommand (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lutcore",
        description="LUT tensor core kit: golden GEMM, RTL generation, compiler, simulation, FPGA.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                continue          # subcommand not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, *USER_ERRORS) as e:
        print(f"lutcore {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lutcore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
