"""Session-wide hooks. This file sits at the test root so that the pytest-xdist controller,
which collects nothing itself, loads it too.

- Tool markers: tests that need YoWASP Yosys, nextpnr or a Verilator model carry the marker
  ``yosys``, ``nextpnr`` or ``rtl`` (from their module or from ``tool_markers.NEEDS``) and are
  skipped with a reason when the tool is missing (``tests/support/tool_markers.py``).
- The RTL summary table of ``make regress``.
"""

from __future__ import annotations

from pathlib import Path

import tool_markers
from lutcore.studies.regress import format_table

pytest_plugins = ("pytester",)

TESTS_ROOT = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    tool_markers.apply(items, TESTS_ROOT)


def pytest_terminal_summary(terminalreporter):
    rows, builds = [], {}
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == "rtl_run":
                    rows.append(value)
                elif name == "rtl_build":
                    builds[value[0]] = value[1]
    table = format_table(rows, builds)
    if table:
        terminalreporter.write_sep("=", "RTL summary")
        terminalreporter.write_line(table)
