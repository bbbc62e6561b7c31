"""The paper's design space (lutcore.studies.space): the points counted by hand, the
figures and best shapes of synthetic results worked by hand, the CLI's errors, and a real
sweep at 4 lanes."""

import json
import re

import pytest

from lutcore.cli import main
from lutcore.spec.config import preset
from lutcore.studies import cells
from lutcore.studies import space
from lutcore.studies.area import DesignSpec, SynthResult


def test_points_at_8_lanes_counted_by_hand():
    # LUT (m n g L = 8, m L <= 16): m1: g2 L1/L2/L4, g4 L1/L2; m2: g2 L1/L2, g4 L1; m4: g2 L1.
    lut = {(p["m"], p["n"], p["g"], p["lookups"]) for p in space.lut_points(8)}
    assert lut == {(1, 4, 2, 1), (1, 2, 2, 2), (1, 1, 2, 4), (1, 2, 4, 1), (1, 1, 4, 2),
                   (2, 2, 2, 1), (2, 1, 2, 2), (2, 1, 4, 1), (4, 1, 2, 1)}
    # MAC (m n k = 8, k a power of two): m1 k1..8, m2 k1..4, m4 k1..2, m8 k1.
    assert len(space.mac_points(8)) == 4 + 3 + 2 + 1
    assert all(p["m"] * p["n"] * p["k"] == 8 for p in space.mac_points(8))
    keys = [s.key for s in space.space_specs(8, preset("default"))]
    assert len(keys) == len(set(keys)) == 10 + 9 + 5      # 5 distinct precompute units
    assert {"pre_t4g2", "mac_m8n1k1", "lut_m1n1g2l4"} <= set(keys)


def _result(key, um2, mw, mhz=200.0):
    r = SynthResult(DesignSpec(key, key, "c", {}, 0, None))
    r.area_um2, r.power_mw, r.fmax_mhz, r.cells = um2, mw, mhz, {"clock_mhz": 100.0}
    return r


def _four_lanes():
    # 4 lanes: MAC m1n1k4 (1 mm^2, 10 mW) and m2n2k1 (2 mm^2, 5 mW); LUT m1n2 g2 L1 with its
    # precompute (0.25 + 0.25 mm^2, 4 mW) and m1n1 g2 L2 (0.3 + 0.1 mm^2, 6 mW).
    return [_result("mac_m1n1k4", 1e6, 10.0), _result("mac_m2n2k1", 2e6, 5.0),
            _result("lut_m1n2g2l1", 0.25e6, 3.0), _result("pre_t1g2", 0.25e6, 1.0),
            _result("lut_m1n1g2l2", 0.3e6, 5.0), _result("pre_t2g2", 0.1e6, 1.0)]


def test_best_shapes_and_ratios_worked_by_hand():
    results = _four_lanes()
    a = space.analyse(results, 4)
    rows = {space._shape(r): r for r in a["rows"] if r["error"] is None}
    # 4 products x 2 ops x 100 MHz = 0.8 GOPS: MAC k4 0.8e-3 TOPS/mm^2, LUT L2 at W2 0.4 GOPS
    # on 0.4 mm^2 = 1e-3 TOPS/mm^2.
    assert rows["M1 N1 K4"]["widths"]["2"]["tops_per_mm2"] == pytest.approx(8e-4)
    lut2 = rows["M1 N1 K4 (g2 L2)"]
    assert lut2["area_um2"] == 0.4e6 and lut2["power_mw"] == 6.0
    assert lut2["widths"]["2"]["tops_per_mm2"] == pytest.approx(1e-3)
    assert lut2["widths"]["2"]["tops_per_w"] == pytest.approx(0.4e-3 / 6e-3)
    b = a["best"]["2"]
    assert b["best_mac"] == "M1 N1 K4" and b["best_mac_power"] == "M2 N2 K1"
    assert b["best_lut"] == "M1 N1 K4 (g2 L2)"      # 1e-3 beats L1's 0.8e-3 (0.5 mm^2)
    assert b["lut_vs_mac_area"] == pytest.approx(1e-3 / 8e-4)
    assert b["l_many_vs_l1"] == pytest.approx(1e-3 / 8e-4)
    # Points never synthesized are rows with their reason.
    missing = [r for r in a["rows"] if r["error"]]
    assert missing and all(r["error"].startswith("not synthesized: ") for r in missing)


def test_paper_shapes_against_the_best_worked_by_hand(tmp_path):
    # The same 4-lane results, with the paper's shapes set to the L = 1 LUT (0.8e-3 TOPS/mm^2
    # at W2, see above) and the MAC M2 N2 K1 (0.8 GOPS on 2 mm^2 = 0.4e-3).
    results = _four_lanes()
    paper = {"lut": {"m": 1, "n": 2, "g": 2, "lookups": 1}, "mac": {"m": 2, "n": 2, "k": 1}}
    a = space.analyse(results, 4, paper)
    b = a["best"]["2"]
    assert b["paper_lut"] == "M1 N2 K2 (g2 L1)" and b["paper_mac"] == "M2 N2 K1"
    assert b["best_vs_paper_lut"] == pytest.approx(1e-3 / 8e-4)
    assert b["best_vs_paper_mac"] == pytest.approx(8e-4 / 4e-4)
    assert sorted(space._shape(r) for r in a["rows"] if r["paper"]) == \
        ["M1 N2 K2 (g2 L1)", "M2 N2 K1"]
    meta = {"node": "n", "library": "l", "clock_mhz": 100.0, "activity": 0.1,
            "seconds": 1.0, "where": "here"}
    md = space.report_markdown(a, meta)
    assert "| W2A8 | M1 N2 K2 (g2 L1) | 1.25x | M2 N2 K1 | 2.00x |" in md
    pytest.importorskip("matplotlib")
    assert space.plot(a, tmp_path / "s.png").stat().st_size > 0
    # The paper's own shapes are 512-lane ones: a 4-lane sweep has neither.
    plain = space.analyse(results, 4)["best"]["2"]
    assert plain["paper_lut"] is None and plain["best_vs_paper_mac"] is None
    assert "paper's shapes" not in space.report_markdown(space.analyse(results, 4), meta)


@pytest.mark.parametrize("args, message", [
    (["--lanes", "48"], "--lanes 48 is invalid: a power of two of at least 2"),
    (["--jobs", "0"], "argument --jobs/-j: 0 is out of range"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    status = main(["space", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and message in err[0]


@pytest.mark.slow
@pytest.mark.yosys
def test_real_sweep_at_4_lanes(tmp_path, capsys):
    if cells.ensure_tools(install=False):
        pytest.skip(cells.ensure_tools(install=False))
    assert main(["space", "--lanes", "4", "--jobs", "2", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "space.json").read_text())
    rows = doc["analysis"]["rows"]
    assert len(rows) == len(space.mac_points(4)) + len(space.lut_points(4))
    assert all(r["error"] is None and r["area_um2"] > 0 for r in rows)
    assert (tmp_path / "space.png").is_file()
    assert re.search(r"^\| W2A8 \| M\d N\d+ K\d+ \(g\d L\d\) \| M\d N\d+ K\d+ \| \d",
                     (tmp_path / "space.md").read_text(), re.M)
