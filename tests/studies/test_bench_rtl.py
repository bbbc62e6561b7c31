"""The RTL benchmark on the tiny preset's Verilator model: a GEMV through the host port,
exact, CYCLES equal to the ISS, and both utilizations from the RTL's cycles."""

import pytest

from lutcore.spec.config import preset
from lutcore.studies import bench_rtl

pytestmark = pytest.mark.rtl


def test_gemv_figures_and_table():
    tiny = preset("tiny")                       # m = 1, n = 4, g = 4; ternary: 2 planes
    r = bench_rtl.measure(tiny, k=40, n=6, m=1, mode="bitserial")
    assert r["iss_equal"] and r["phases"] >= 1
    # 6 columns on n = 4 need 2 column tiles: 8 columns stepped, 6 useful, 10 groups, 2 planes
    assert r["lookups"] == 2 * 10 * 2
    assert r["utilization"] == pytest.approx(r["lookups"] / r["cycles"])
    assert r["useful_utilization"] == pytest.approx(1 * 6 * 10 * 2 / (r["cycles"] * 1 * 4))
    row = bench_rtl.table([r]).splitlines()[2]
    assert row.endswith(f"| {r['utilization']:.1%} | {r['useful_utilization']:.1%} | yes |")
