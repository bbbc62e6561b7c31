"""On/off options of a subcommand: :func:`add_switches`."""

from __future__ import annotations

import argparse
from typing import Mapping

__all__ = ["add_switches"]


def add_switches(parser: argparse.ArgumentParser, helps: Mapping[str, str]) -> None:
    """Add an ``action="store_true"`` option per ``--flag: help`` of ``helps``."""
    for flag, text in helps.items():
        parser.add_argument(flag, action="store_true", help=text)
