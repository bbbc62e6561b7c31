"""Synthesizable Verilog: the one registry of components and the one entry that turns a
component into Verilog text.

Generation is an explicit build step; elaborating a component never writes files. Each entry
of :data:`COMPONENTS` maps a Verilog module name to a :class:`Entry`: the component class as
``"python.module:Class"`` and whether it is built from a configuration.

- Components built from a :class:`~lutcore.spec.config.CoreConfig` (``Class.from_config``)
  are the files of ``lutcore verilog`` (``make verilog``): :func:`write_verilog` writes one
  ``<name>.v`` per such entry and the ``config.json`` they were built from.
- Every component is also built from keyword parameters (``Class(**params)``): the area
  study (:mod:`lutcore.studies.area`) asks :func:`generate_verilog` for the LUT core and
  precompute unit at its own tiles and for the MAC, adder and accumulator baselines, which
  have no configuration of their own.

A new top level is one more entry (or a :func:`register_component` call)::

    register_component("lutcore_baseline", "mypackage.baseline:Baseline")
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog as amaranth_verilog

from ..errors import LutcoreError
from ..spec.config import CoreConfig

__all__ = ["Entry", "COMPONENTS", "register_component", "config_components",
           "component_class", "build_component", "generate_verilog", "write_verilog",
           "CONFIG_FILE", "LINT_WAIVERS"]

CONFIG_FILE = "config.json"

# Verilator configuration file waiving, with reasons, the -Wall rules that the generated
# Verilog trips by construction (pass it before the sources: `verilator -Wall WAIVERS *.v`).
LINT_WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")


@dataclass(frozen=True)
class Entry:
    """A registered component: its class as ``"python.module:Class"``, and ``from_config`` if
    the class is built from a configuration (``Class.from_config(config)``), which makes it
    one of the files of ``lutcore verilog``. Every class is also built from keyword
    parameters (``Class(**params)``)."""

    target: str
    from_config: bool = True


#: Verilog module name -> :class:`Entry`. ``lutcore verilog`` writes the ``from_config``
#: entries in this order.
COMPONENTS: dict[str, Entry] = {
    "lutcore_table_precompute": Entry("lutcore.hw.table_precompute:TablePrecompute"),
    "lutcore_lut_core": Entry("lutcore.hw.lut_core:LutCore"),
    "lutcore_top": Entry("lutcore.hw.top:Accelerator"),
    # Baselines of the area study, built from their own parameters.
    "lutcore_mac_core": Entry("lutcore.hw.baselines:MACCore", from_config=False),
    "lutcore_adder_core": Entry("lutcore.hw.baselines:AdderCore", from_config=False),
    "lutcore_accumulator_array": Entry("lutcore.hw.baselines:AccumulatorArray",
                                       from_config=False),
    "lutcore_fp_mac_core": Entry("lutcore.hw.baselines:FpMacCore", from_config=False),
    # Floating-point building blocks (FP activations), built from their format.
    "lutcore_fp_adder": Entry("lutcore.hw.fp:FPAdder", from_config=False),
    "lutcore_fp_multiplier": Entry("lutcore.hw.fp:FpMultiplier", from_config=False),
    "lutcore_fp_table_precompute": Entry("lutcore.hw.table_precompute:FpTablePrecompute",
                                         from_config=False),
    "lutcore_fp_lut_core": Entry("lutcore.hw.lut_core:FpLutCore", from_config=False),
}

_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def register_component(name: str, target: str, *, from_config: bool = True,
                       replace: bool = False) -> None:
    """Add a component: module ``name`` from ``"module:Class"``; ``from_config`` if the class
    is built from a configuration (then ``lutcore verilog`` writes it)."""
    if not isinstance(name, str) or not _MODULE_NAME.match(name):
        raise LutcoreError(f"register_component: name = {name!r} is invalid: "
                           f"must be a Verilog identifier")
    if not isinstance(target, str) or target.count(":") != 1:
        raise LutcoreError(f"register_component: target = {target!r} is invalid: "
                           f"expected 'python.module:Class'")
    if name in COMPONENTS and not replace:
        raise LutcoreError(f"register_component: name = {name!r} is already registered "
                           f"(to {COMPONENTS[name].target!r}); pass replace=True to change it")
    COMPONENTS[name] = Entry(target, bool(from_config))


def config_components() -> list[str]:
    """The registered components built from a configuration, in registry order."""
    return [name for name, entry in COMPONENTS.items() if entry.from_config]


def _entry(name: str) -> Entry:
    try:
        return COMPONENTS[name]
    except (KeyError, TypeError):
        raise LutcoreError(f"component {name!r} is unknown: allowed {', '.join(COMPONENTS)}") \
            from None


def component_class(name: str) -> type:
    """The class registered as component ``name``."""
    module_name, class_name = _entry(name).target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_component(name: str, config: CoreConfig | None = None, **params):
    """Construct the registered component ``name``: with ``Class.from_config(config)`` when
    ``config`` is given (a ``from_config`` entry), else with ``Class(**params)``."""
    entry = _entry(name)
    cls = component_class(name)
    if config is None:
        return cls(**params)
    if not entry.from_config:
        raise LutcoreError(f"component {name!r} is not built from a configuration: "
                           f"give its keyword parameters")
    if not isinstance(config, CoreConfig) or params:
        raise LutcoreError(f"component {name!r}: give a CoreConfig or keyword parameters, "
                           f"not config = {config!r} and parameters {sorted(params)}")
    return cls.from_config(config)


def generate_verilog(component, config: CoreConfig | None = None, *, name: str | None = None,
                     **params) -> str:
    """Verilog text of a component, its top module named ``name``.

    ``component`` is a registered name (built by :func:`build_component` from ``config`` or
    ``params``; ``name`` defaults to it) or an Amaranth component already built (then
    ``name`` is required, and ``config`` and ``params`` are not taken). The ports are the
    component's signature; no source locations, so the text does not depend on where the
    kit is installed.
    """
    if isinstance(component, str):
        name = component if name is None else name
        component = build_component(component, config, **params)
    elif config is not None or params:
        raise LutcoreError("generate_verilog: a built component takes no config or parameters")
    elif name is None:
        raise LutcoreError("generate_verilog: name is required for a built component")
    if not isinstance(name, str) or not _MODULE_NAME.match(name):
        raise LutcoreError(f"generate_verilog: name = {name!r} is invalid: "
                           f"must be a Verilog identifier")
    return amaranth_verilog.convert(component, name=name, emit_src=False,
                                    strip_internal_attrs=True)


def write_verilog(config: CoreConfig, out_dir, names=None) -> list[Path]:
    """Write ``<name>.v`` for each component built from a configuration (or just ``names``)
    and ``config.json`` into ``out_dir`` (created if needed). Returns the paths written."""
    if not isinstance(config, CoreConfig):
        raise LutcoreError(f"write_verilog: config must be a CoreConfig, not {config!r}")
    allowed = config_components()
    names = allowed if names is None else list(names)
    for name in names:
        if name not in allowed:
            raise LutcoreError(f"component {name!r} is not built from a configuration: "
                               f"allowed {', '.join(allowed)}")
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
