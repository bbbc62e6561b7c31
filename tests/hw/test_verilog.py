"""Verilog generation: the component registry, `lutcore verilog`, and a Verilator -Wall lint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lutcore
from hwbench import CONFIGS
from lutcore.cli import main
from lutcore.errors import LutcoreError
from lutcore.hw import verilog as hv
from lutcore.spec.config import CoreConfig, preset


#: The modules `lutcore verilog` writes for a configuration, in order: the table precompute
#: unit, the LUT core and the accelerator top (not the area study's baselines).
CONFIG_MODULES = ["lutcore_table_precompute", "lutcore_lut_core", "lutcore_top"]


def test_cli_writes_each_component_and_the_config(tmp_path, capsys):
    assert main(["verilog", "--preset", "tiny", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.splitlines()
    names = [f"{name}.v" for name in CONFIG_MODULES] + ["config.json"]
    assert printed == [f"wrote {tmp_path / 'out' / name}" for name in names]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    for name in CONFIG_MODULES:
        text = (tmp_path / "out" / f"{name}.v").read_text()
        assert re.search(rf"^module {name}\(", text, re.M), f"{name}.v lacks module {name}"
        # Location independent: no source attributes, no path of the installed package.
        assert "src =" not in text and str(Path(lutcore.__file__).parent) not in text
    config = CoreConfig.from_json((tmp_path / "out" / "config.json").read_text())
    assert config == preset("tiny")


def test_cli_reads_a_config_file(tmp_path, capsys):
    cfg = CONFIGS["m3n5g3"]
    (tmp_path / "c.json").write_text(cfg.to_json())
    assert main(["verilog", "--config", str(tmp_path / "c.json"), "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "config.json").read_text()) == cfg.to_dict()
    # Widths follow the configuration: the table word plus the 1-bit mode field.
    text = (tmp_path / "lutcore_table_precompute.v").read_text()
    assert re.search(rf"output \[{cfg.table_word_bits}:0\] tables__payload;", text)


@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "preset 'huge' is unknown: allowed tiny, default, large, decode"),
    (["--config", "missing.json"], "--config 'missing.json' cannot be read"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["verilog", *args, "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lutcore verilog: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_registry_validates_and_extends(monkeypatch):
    monkeypatch.setattr(hv, "COMPONENTS", dict(hv.COMPONENTS))
    with pytest.raises(LutcoreError, match=r"^register_component: name = 'lut core' is invalid"):
        hv.register_component("lut core", "lutcore.hw.lut_core:LutCore")
    with pytest.raises(LutcoreError, match=r"^register_component: target = 'LutCore' is invalid"):
        hv.register_component("x", "LutCore")
    with pytest.raises(LutcoreError, match=r"'lutcore_lut_core' is already registered"):
        hv.register_component("lutcore_lut_core", "lutcore.hw.lut_core:LutCore")
    with pytest.raises(LutcoreError, match=r"^component 'top' is unknown: allowed "):
        hv.build_component("top", preset("tiny"))
    # A later top level is one registration away, and `lutcore verilog` then writes it.
    hv.register_component("lutcore_core_copy", "lutcore.hw.lut_core:LutCore")
    assert "module lutcore_core_copy(" in hv.generate_verilog("lutcore_core_copy", preset("tiny"))
    assert hv.config_components() == CONFIG_MODULES + ["lutcore_core_copy"]


def test_one_entry_builds_from_a_config_or_from_parameters():
    tiny = preset("tiny")
    params = dict(m=tiny.m, n=tiny.n, g=tiny.g, elut_g=tiny.elut_g, act_bits=tiny.act_bits,
                  acc_bits=tiny.acc_bits, weight_bits=tiny.weight_bits,
                  symmetrize=tiny.symmetrize)
    # The same core by its configuration and by its parameters: the same Verilog.
    assert hv.generate_verilog("lutcore_lut_core", **params) == \
        hv.generate_verilog("lutcore_lut_core", tiny)
    # A baseline has no configuration: parameters only, and `lutcore verilog` leaves it out.
    mac = hv.generate_verilog("lutcore_mac_core", m=1, n=1, g=2, act_bits=4, acc_bits=16,
                              weight_bits=4, zero_point=8)
    assert re.search(r"^module lutcore_mac_core\(", mac, re.M)
    assert "lutcore_mac_core" not in hv.config_components()
    with pytest.raises(LutcoreError, match=r"'lutcore_mac_core' is not built from a config"):
        hv.generate_verilog("lutcore_mac_core", tiny)
    with pytest.raises(LutcoreError, match=r"'lutcore_lut_core': give a CoreConfig or keyword"):
        hv.build_component("lutcore_lut_core", tiny, m=1)
    with pytest.raises(LutcoreError, match=r"'lutcore_mac_core' is not built from a config"):
        hv.write_verilog(tiny, "unused", names=["lutcore_mac_core"])


def test_a_built_component_needs_a_module_name():
    component = hv.build_component("lutcore_table_precompute", preset("tiny"))
    text = hv.generate_verilog(component, name="pre")
    assert re.search(r"^module pre\(", text, re.M) and "lutcore_table_precompute" not in text
    with pytest.raises(LutcoreError, match="name is required"):
        hv.generate_verilog(component)
    with pytest.raises(LutcoreError, match="takes no config or parameters"):
        hv.generate_verilog(component, preset("tiny"), name="pre")
    with pytest.raises(LutcoreError, match=r"name = 'a b' is invalid"):
        hv.generate_verilog(component, name="a b")


def _verilator():
    """The venv's Verilator (DESIGN §4): never an older system copy first on PATH."""
    local = Path(sys.executable).parent / "verilator"
    return str(local) if local.exists() else shutil.which("verilator")


# The default top lints in about a minute; the fast suite lints tiny, make regress the
# default, the build without ELUT and the odd configurations (which reach every
# parameterised width rule).
LINT_CONFIGS = ["tiny", *(pytest.param(name, marks=pytest.mark.slow)
                         for name in ("noelut", "default", "m3n5g3", "full_g5"))]


@pytest.mark.rtl
@pytest.mark.parametrize("name", LINT_CONFIGS)
def test_verilator_lint_is_clean_with_documented_waivers(tmp_path, name):
    verilator = _verilator()
    if verilator is None:
        pytest.skip("Verilator is not installed")
    hv.write_verilog(CONFIGS[name], tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The accelerator top holds both blocks (and the host port, buffers and controller), so
    # linting it covers them with this configuration; the stand-alone block files, generated
    # by the same code, are linted on their own for one configuration.
    for module in CONFIG_MODULES if name == "tiny" else ["lutcore_top"]:
        result = subprocess.run(
            [verilator, "--lint-only", "-Wall", "--top-module", module,
             str(hv.LINT_WAIVERS), str(tmp_path / f"{module}.v")],
            capture_output=True, text=True, env=env, timeout=300)
        warnings = [l for l in result.stderr.splitlines() if l.startswith("%")]
        assert result.returncode == 0 and not warnings, "\n".join(warnings[:20])


def test_waiver_file_gives_a_reason_for_each_rule():
    lines = hv.LINT_WAIVERS.read_text().splitlines()
    assert lines[0] == "`verilator_config"
    for i, line in enumerate(lines):
        if line.startswith("lint_off"):
            # Generated files only; a rule may be narrowed further to one message pattern.
            assert re.fullmatch(r'lint_off -rule [A-Z]+ -file "\*lutcore_\*\.v"'
                                r'( -match "[^"]+")?', line), line
            assert lines[i - 1].startswith("//"), f"waiver without a reason: {line}"
