"""Synthesizable Verilog for one configuration: one file per registered component + config.json.

Generation is an explicit build step (``lutcore verilog``, ``make verilog``); elaborating a
component never writes files. Each entry of :data:`COMPONENTS` maps a Verilog module name to
``"python.module:Class"``, a component class with a ``from_config(config)`` classmethod. A new
top level is one more entry (or a :func:`register_component` call)::

    register_component("lutcore_baseline", "mypackage.baseline:Baseline")
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from amaranth.back import verilog as amaranth_verilog

from ..errors import LutcoreError
from ..spec.config import CoreConfig

__all__ = ["COMPONENTS", "register_component", "build_component", "generate_verilog",
           "write_verilog", "CONFIG_FILE", "LINT_WAIVERS"]

CONFIG_FILE = "config.json"

# Verilator configuration file waiving, with reasons, the -Wall rules that the generated
# Verilog trips by construction (pass it before the sources: `verilator -Wall WAIVERS *.v`).
LINT_WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")

# Verilog module name -> "python.module:Class". Emitted in this order.
COMPONENTS: dict[str, str] = {
    "lutcore_table_precompute": "lutcore.hw.table_precompute:TablePrecompute",
    "lutcore_lut_core": "lutcore.hw.lut_core:LutCore",
    "lutcore_top": "lutcore.hw.top:Accelerator",
}

_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def register_component(name: str, target: str, *, replace: bool = False) -> None:
    """Add a component to the Verilog build: module ``name`` from ``"module:Class"``."""
    if not isinstance(name, str) or not _MODULE_NAME.match(name):
        raise LutcoreError(f"register_component: name = {name!r} is invalid: "
                           f"must be a Verilog identifier")
    if not isinstance(target, str) or target.count(":") != 1:
        raise LutcoreError(f"register_component: target = {target!r} is invalid: "
                           f"expected 'python.module:Class'")
    if name in COMPONENTS and not replace:
        raise LutcoreError(f"register_component: name = {name!r} is already registered "
                           f"(to {COMPONENTS[name]!r}); pass replace=True to change it")
    COMPONENTS[name] = target


def build_component(name: str, config: CoreConfig):
    """Construct the registered component ``name`` for ``config``."""
    try:
        target = COMPONENTS[name]
    except KeyError:
        raise LutcoreError(f"component {name!r} is unknown: allowed {', '.join(COMPONENTS)}") \
            from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_config(config)


def generate_verilog(name: str, config: CoreConfig) -> str:
    """Verilog text of component ``name`` for ``config`` (top module named ``name``)."""
    component = build_component(name, config)
    # No source locations: the output must not depend on where the kit is installed.
    return amaranth_verilog.convert(component, name=name, emit_src=False,
                                    strip_internal_attrs=True)


def write_verilog(config: CoreConfig, out_dir, names=None) -> list[Path]:
    """Write ``<name>.v`` for each registered component (or just ``names``) and
    ``config.json`` into ``out_dir`` (created if needed). Returns the paths written."""
    if not isinstance(config, CoreConfig):
        raise LutcoreError(f"write_verilog: config must be a CoreConfig, not {config!r}")
    names = list(COMPONENTS) if names is None else list(names)
    for name in names:
        if name not in COMPONENTS:
            raise LutcoreError(f"component {name!r} is unknown: allowed {', '.join(COMPONENTS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = out / f"{name}.v"
        path.write_text(generate_verilog(name, config))
        written.append(path)
    path = out / CONFIG_FILE
    path.write_text(config.to_json() + "\n")
    written.append(path)
    return written
