"""The paper's design space (its Fig. 14): arrays of ``M x N x K`` weight x activation
products per cycle, swept over ``M``, ``N`` and ``K`` for the LUT core and the INT8 MAC core,
measured in standard cells (:mod:`lutcore.studies.cells`).

- MAC: ``M x N`` units, each a ``K``-long dot product of int8 x int8 (dequantized weights,
  so every weight width runs at ``M N K`` products per cycle). The A100-like tile of the
  paper is M8 N4 K16 (at 512 lanes).
- LUT: ``K = g x L``: each unit looks up ``L`` tables of ``g`` activations a step and sums
  them in an adder tree before its one accumulator (the LUT core's ``lookups``), next to the
  table precompute unit for ``M x L`` tables a step. Bit-serial, so W-bit weights take W
  steps: ``M N K / W`` products per cycle.

``lanes = M N K`` is fixed per sweep (the paper: 512). The default is 64, so that each INT8
MAC array maps in about a minute on a small machine; ``--lanes 512`` gives the paper's size
(66 min on two cores). Every point reports um^2, fmax, mW at a common clock, and TOPS/mm^2
and TOPS/W at that clock for W1, W2 and W4 weights; each design at its best shape, and the
LUT-vs-MAC ratio best shape against best shape. Whether ``L > 1`` beats ``K = g`` is read
off the same table.

``lutcore space --jobs N --out DIR`` (``make dse``) writes ``space.md``, ``space.json`` and
``space.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ..errors import LutcoreError
from ..spec.config import CoreConfig
from ..spec.params import PARAMS
from . import area as synth
from . import cells as cl

__all__ = ["DEFAULT_LANES", "PAPER_SHAPES", "ROWS", "WIDTHS", "lut_points", "mac_points", "space_specs",
           "analyse", "report_markdown", "plot", "add_arguments", "main", "DESCRIPTION"]

DESCRIPTION = ("The paper's design space: LUT and INT8 MAC arrays of M x N x K products per "
               "cycle in OSU 0.18 um standard cells (um^2, fmax, mW, TOPS/mm^2, TOPS/W).")

#: Products per cycle of every array of the default sweep (the paper's: 512).
DEFAULT_LANES = 64
#: Tile rows of the sweep.
ROWS = (1, 2, 4, 8)
#: Weight widths of the figures.
WIDTHS = (1, 2, 4)
#: Group sizes of the LUT points (K = g x L).
LUT_GROUPS = (2, 4)
#: The paper's own shapes at its 512 lanes (Fig. 14): its best LUT tile M2 N64 K4 (g = 4,
#: one lookup per unit) and the A100-like MAC tile M8 N4 K16. Marked and compared against
#: when the sweep has them.
PAPER_SHAPES = {"lut": {"m": 2, "n": 64, "g": 4, "lookups": 1},
                "mac": {"m": 8, "n": 4, "k": 16}}


def _check_lanes(lanes) -> int:
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 2 or lanes & (lanes - 1):
        raise LutcoreError(f"--lanes {lanes!r} is invalid: a power of two of at least 2")
    return lanes


def lut_points(lanes: int, groups=LUT_GROUPS) -> list[dict[str, int]]:
    """Every ``(m, n, g, L)`` with ``m n g L = lanes``, ``m`` in :data:`ROWS` and each value
    within its range of :data:`PARAMS` (``m L`` tables a step for the precompute unit)."""
    points = []
    for m in ROWS:
        for g in groups:
            for lookups in PARAMS["lookups"].values:
                n, rest = divmod(lanes, m * g * lookups)
                if rest or n < 1 or n not in PARAMS["n"] or m * lookups not in PARAMS["m"]:
                    continue
                points.append({"m": m, "n": n, "g": g, "lookups": lookups,
                               "k": g * lookups})
    return points


def mac_points(lanes: int) -> list[dict[str, int]]:
    """Every ``(m, n, k)`` with ``m n k = lanes``, ``m`` in :data:`ROWS`, ``k`` a power of
    two within the baselines' range."""
    points = []
    for m in ROWS:
        for k in PARAMS["baseline_g"].values:
            n, rest = divmod(lanes, m * k)
            if k & (k - 1) or rest or n < 1 or n not in PARAMS["n"]:
                continue
            points.append({"m": m, "n": n, "k": k})
    return points


def _lut_key(p):
    return f"lut_m{p['m']}n{p['n']}g{p['g']}l{p['lookups']}"


def _pre_key(p):
    return f"pre_t{p['m'] * p['lookups']}g{p['g']}"


def _mac_key(p):
    return f"mac_m{p['m']}n{p['n']}k{p['k']}"


def space_specs(lanes: int, config: CoreConfig) -> list[synth.DesignSpec]:
    """The sweep's designs: MAC arrays first (the slow ones, so the workers stay busy), then
    each LUT core and each distinct precompute unit."""
    a, acc = config.act_bits, config.acc_bits
    specs = [synth.mac_spec(_mac_key(p), f"MAC INT8 M{p['m']} N{p['n']} K{p['k']}",
                            m=p["m"], n=p["n"], g=p["k"], act_bits=a, acc_bits=acc,
                            weight_bits=8, zero_point=128)
             for p in mac_points(lanes)]
    pres = {}
    for p in lut_points(lanes):
        specs.append(synth.lut_spec(
            _lut_key(p), f"LUT M{p['m']} N{p['n']} K{p['k']} (g{p['g']} L{p['lookups']})",
            m=p["m"], n=p["n"], g=p["g"], act_bits=a, acc_bits=acc, weight_bits=4,
            lookups=p["lookups"]))
        pres.setdefault(_pre_key(p), synth.precompute_spec(
            _pre_key(p), f"table precompute, {p['m'] * p['lookups']} tables of g{p['g']}",
            m=p["m"], lookups=p["lookups"], g=p["g"], act_bits=a))
    return specs + list(pres.values())


def _is_paper(row: dict[str, Any], paper: dict[str, dict[str, int]]) -> bool:
    shape = paper.get(row["design"])
    return shape is not None and all(row.get(k) == v for k, v in shape.items())


def analyse(results: list[synth.SynthResult], lanes: int,
            paper: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """Rows per point (area, power, fmax, and per weight width products per cycle,
    TOPS/mm^2 and TOPS/W), the best shape of each design per width (by TOPS/mm^2), the
    LUT-vs-MAC ratios best against best, the best LUT shape with L = 1 against L > 1, and
    each design's best against the paper's shape (``paper``: design -> shape fields; default
    :data:`PAPER_SHAPES` where the sweep has them)."""
    paper = PAPER_SHAPES if paper is None else paper
    by_key = {r.spec.key: r for r in results}
    rows = []
    for design, points in (("mac", mac_points(lanes)), ("lut", lut_points(lanes))):
        for p in points:
            keys = [_mac_key(p)] if design == "mac" else [_lut_key(p), _pre_key(p)]
            row = {"design": design, **p, "area_um2": None, "power_mw": None,
                   "fmax_mhz": None, "widths": {}}
            figures, row["error"] = synth.cell_sum([by_key.get(k) for k in keys], keys)
            if figures is None:
                rows.append(row)
                continue
            row.update(figures)
            for w in WIDTHS:
                products = lanes if design == "mac" else lanes / w
                per_mm2, per_w = synth.tops_figures(products, row["area_um2"],
                                                    row["power_mw"], row["clock_mhz"])
                row["widths"][str(w)] = {"products_per_cycle": products,
                                         "tops_per_mm2": per_mm2, "tops_per_w": per_w}
            rows.append(row)
    ok = [r for r in rows if r["error"] is None]

    def best(design, w, metric="tops_per_mm2", where=lambda r: True):
        pool = [r for r in ok if r["design"] == design and where(r)]
        return max(pool, key=lambda r: r["widths"][str(w)][metric], default=None)

    summary = {}
    for w in WIDTHS:
        lut, mac = best("lut", w), best("mac", w)
        lut_w, mac_w = best("lut", w, "tops_per_w"), best("mac", w, "tops_per_w")
        one = best("lut", w, where=lambda r: r["lookups"] == 1)
        many = best("lut", w, where=lambda r: r["lookups"] > 1)

        def ratio(a, b, metric):
            return None if not a or not b else \
                a["widths"][str(w)][metric] / b["widths"][str(w)][metric]
        summary[str(w)] = {
            "best_lut": _shape(lut), "best_mac": _shape(mac),
            "best_lut_power": _shape(lut_w), "best_mac_power": _shape(mac_w),
            "lut_vs_mac_area": ratio(lut, mac, "tops_per_mm2"),
            "lut_vs_mac_power": ratio(lut_w, mac_w, "tops_per_w"),
            "best_l1": _shape(one), "best_l_many": _shape(many),
            "l_many_vs_l1": ratio(many, one, "tops_per_mm2"),
        }
        for design in ("lut", "mac"):
            ref = best(design, w, where=lambda r: _is_paper(r, paper))
            top = lut if design == "lut" else mac
            summary[str(w)][f"paper_{design}"] = _shape(ref)
            summary[str(w)][f"best_vs_paper_{design}"] = ratio(top, ref, "tops_per_mm2")
    for r in rows:
        r["paper"] = _is_paper(r, paper)
    return {"lanes": lanes, "rows": rows, "best": summary}


def _shape(row) -> str | None:
    if row is None:
        return None
    text = f"M{row['m']} N{row['n']} K{row['k']}"
    return text + (f" (g{row['g']} L{row['lookups']})" if row["design"] == "lut" else "")


def _f(x, digits=3):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def report_markdown(analysis: dict[str, Any], meta: dict[str, Any]) -> str:
    """The sweep as Markdown: one row per point, then the best shapes and ratios."""
    lanes = analysis["lanes"]
    out = [f"# Design space: M x N x K = {lanes} products per cycle ({meta['node']})", "",
           f"Standard cells (`{meta['library']}`), OpenSTA; power at {meta['clock_mhz']:g} MHz "
           f"with activity {meta['activity']:g}; TOPS at that clock, 2 operations per "
           f"product. LUT: K = g x L, bit-serial (W-bit weights: {lanes}/W products per "
           f"cycle), with its table precompute unit; MAC: INT8 (every width at {lanes} "
           f"products per cycle). {meta['seconds']:.0f} s on {meta['where']}.", "",
           "| design | shape | um^2 | fmax MHz | mW | W1 TOPS/mm^2 | W2 TOPS/mm^2 | "
           "W4 TOPS/mm^2 | W2 TOPS/W |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in analysis["rows"]:
        shape = _shape(r)
        if r["error"]:
            out.append(f"| {r['design'].upper()} | {shape} | FAILED: {r['error']} |||||||")
            continue
        wd = r["widths"]
        out.append(f"| {r['design'].upper()} | {shape} | {r['area_um2']:,.0f} | "
                   f"{_f(r['fmax_mhz'], 1)} | {r['power_mw']:.2f} | "
                   f"{_f(wd['1']['tops_per_mm2'])} | {_f(wd['2']['tops_per_mm2'])} | "
                   f"{_f(wd['4']['tops_per_mm2'])} | {_f(wd['2']['tops_per_w'])} |")
    out += ["", "| weights | best LUT (TOPS/mm^2) | best MAC | LUT vs MAC, area | "
            "LUT vs MAC, power (best TOPS/W each) | best L = 1 | best L > 1 | "
            "L > 1 vs L = 1 |", "|---|---|---|---:|---:|---|---|---:|"]
    for w, b in analysis["best"].items():
        x = lambda v: "n/a" if v is None else f"{v:.2f}x"        # noqa: E731
        out.append(f"| W{w}A8 | {b['best_lut']} | {b['best_mac']} | {x(b['lut_vs_mac_area'])} "
                   f"| {x(b['lut_vs_mac_power'])} | {b['best_l1']} | {b['best_l_many']} | "
                   f"{x(b['l_many_vs_l1'])} |")
    papers = [(w, b) for w, b in analysis["best"].items()
              if b.get("paper_lut") or b.get("paper_mac")]
    if papers:
        out += ["", "The paper's shapes (its Fig. 14) against the best of each design, in "
                "TOPS/mm^2:", "", "| weights | paper's LUT | best LUT vs it | paper's MAC | "
                "best MAC vs it |", "|---|---|---:|---|---:|"]
        for w, b in papers:
            x = lambda v: "n/a" if v is None else f"{v:.2f}x"        # noqa: E731
            out.append(f"| W{w}A8 | {b['paper_lut'] or 'not swept'} | "
                       f"{x(b['best_vs_paper_lut'])} | {b['paper_mac'] or 'not swept'} | "
                       f"{x(b['best_vs_paper_mac'])} |")
    return "\n".join(out) + "\n"


def plot(analysis: dict[str, Any], path: Path) -> Path | None:
    """TOPS/mm^2 and TOPS/W at W2A8 of every point, LUT points by L; None without
    matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in analysis["rows"] if r["error"] is None]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, metric, title in ((axes[0], "tops_per_mm2", "TOPS/mm^2"),
                              (axes[1], "tops_per_w", "TOPS/W")):
        mac = [r for r in rows if r["design"] == "mac"]
        lut = [r for r in rows if r["design"] == "lut"]
        ax.scatter([r["k"] for r in mac], [r["widths"]["2"][metric] for r in mac],
                   c="gray", marker="s", label="MAC INT8")
        ax.scatter([r["k"] for r in lut], [r["widths"]["2"][metric] for r in lut],
                   c=[r["lookups"] for r in lut], cmap="viridis", marker="o",
                   label="LUT (colour: L)")
        # The paper's shapes (stars) and the best of each design (rings).
        for design, color in (("lut", "crimson"), ("mac", "black")):
            pool = [r for r in rows if r["design"] == design]
            for r in pool:
                if r.get("paper"):
                    ax.scatter([r["k"]], [r["widths"]["2"][metric]], s=260, marker="*",
                               color=color, zorder=5)
                    ax.annotate(f"paper: {_shape(r).split(' (')[0]}",
                                (r["k"], r["widths"]["2"][metric]),
                                textcoords="offset points", xytext=(6, 6), fontsize=8)
            if pool:
                top = max(pool, key=lambda r: r["widths"]["2"][metric])
                ax.scatter([top["k"]], [top["widths"]["2"][metric]], s=200,
                           facecolors="none", edgecolors=color, linewidths=1.5, zorder=6)
                ax.annotate(f"best {design.upper()}: {_shape(top)}",
                            (top["k"], top["widths"]["2"][metric]),
                            textcoords="offset points", xytext=(6, -12), fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("K (products per unit per cycle)")
        ax.set_ylabel(f"{title} at W2A8")
        ax.set_title(f"{title}, M x N x K = {analysis['lanes']}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                        help=f"products per cycle of every array, a power of two (default "
                             f"{DEFAULT_LANES}; the paper's 512: about an hour on two cores)")
    parser.add_argument("--install-tools", action="store_true",
                        help="install the standard-cell tools with apt-get when missing")


def main(args: argparse.Namespace, config: CoreConfig) -> int:
    """Run the sweep into ``--out``."""
    lanes = _check_lanes(args.lanes)
    missing = cl.ensure_tools(install=args.install_tools)
    if missing:
        raise LutcoreError(missing)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = space_specs(lanes, config)
    t0 = time.monotonic()
    results = synth.synthesize_all(specs, out, args.jobs, ("cells",), args.timeout,
                                   scheduler=args.scheduler)
    analysis = analyse(results, lanes)
    library = cl.find_library()
    meta = {"node": library.node, "library": library.name,
            "clock_mhz": cl.DEFAULT_POWER_MHZ, "activity": cl.DEFAULT_ACTIVITY,
            "seconds": time.monotonic() - t0, "preset": config.name,
            "where": args.scheduler or f"{args.jobs} job(s)"}
    md = report_markdown(analysis, meta)
    png = plot(analysis, out / "space.png")
    (out / "space.md").write_text(md)
    (out / "space.json").write_text(json.dumps(
        {"meta": meta, "analysis": analysis, "designs": [r.to_dict() for r in results]},
        indent=2))
    print()
    print(md)
    print(f"wrote {out / 'space.md'}, {out / 'space.json'}" + (f", {png}" if png else ""))
    synth.check_designs([r.to_dict() for r in results], out)
    return 0
