"""Session-wide hooks. This file sits at the test root so that the pytest-xdist controller,
which collects nothing itself, loads it too."""

from __future__ import annotations

from lutcore.studies.regress import format_table


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
