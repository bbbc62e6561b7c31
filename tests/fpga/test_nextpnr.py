"""The nextpnr report and log parser, on real outputs of small runs (kept in data/: the
UART link with the scratchpad device on both boards, absolute paths replaced), and on a
live run (slow)."""

import json
from pathlib import Path

import pytest

from lutcore.fpga import nextpnr as npr

DATA = Path(__file__).parent / "data"


def read(name):
    return (DATA / name).read_text()


def test_ice40_report_json():
    rep = npr.parse_report_json(read("ice40_scratchpad.report.json"))
    assert rep.utilization["ICESTORM_LC"] == npr.Utilization(1011, 5280)
    assert rep.utilization["ICESTORM_RAM"] == npr.Utilization(10, 30)
    assert rep.utilization["SB_IO"] == npr.Utilization(4, 39)
    assert list(rep.fmax) == ["cd_sync.clk"]
    clk = rep.fmax["cd_sync.clk"]
    assert clk.achieved_mhz == pytest.approx(44.68, abs=0.01)
    assert clk.constraint_mhz == pytest.approx(12.0, abs=1e-3)
    assert clk.passed is True
    assert clk.slack_ns == pytest.approx(1e3 / clk.constraint_mhz - 1e3 / clk.achieved_mhz)
    # One clock-to-clock path and the two I/O paths.
    assert [(p.start, p.end) for p in rep.critical_paths] == [
        ("posedge cd_sync.clk", "posedge cd_sync.clk"),
        ("<async>", "posedge cd_sync.clk"),
        ("posedge cd_sync.clk", "<async>"),
    ]
    worst = rep.critical_paths[0]
    assert worst.delay_ns == pytest.approx(1e3 / clk.achieved_mhz, abs=0.02)
    assert worst.steps[0].kind == "clk-to-q" and worst.steps[-1].kind == "setup"
    assert worst.delay_ns == pytest.approx(worst.logic_ns + worst.routing_ns)
    assert any(s.startswith("design.link.bridge") for s in worst.signals)


def test_ice40_log_agrees_with_report():
    """The log gives the same figures as the JSON report, its post-route fmax (not the
    earlier estimate) and the packer's LUT/FF split."""
    log = npr.parse_log(read("ice40_scratchpad.tim"))
    rep = npr.parse_report_json(read("ice40_scratchpad.report.json"))
    assert log.utilization == rep.utilization
    assert log.fmax["cd_sync.clk"].achieved_mhz == pytest.approx(
        rep.fmax["cd_sync.clk"].achieved_mhz, abs=0.01)
    assert log.pack == {"LUT4 only": 430, "LUT4 and DFF": 304, "DFF only": 254,
                        "CARRY only": 4}
    assert [(p.start, p.end) for p in log.critical_paths] == \
        [(p.start, p.end) for p in rep.critical_paths]
    assert log.critical_paths[0].delay_ns == pytest.approx(rep.critical_paths[0].delay_ns,
                                                           abs=0.05)
    assert log.critical_paths[0].signals == rep.critical_paths[0].signals
    merged = npr.merge(rep, log)
    assert merged.pack == log.pack and merged.utilization == rep.utilization


def test_ecp5_two_clocks():
    """ECP5 with the PLL: a 150 MHz core clock derived by nextpnr and the 25 MHz link clock;
    the core clock fails in this run, the link clock passes."""
    rep = npr.parse_report_json(read("ecp5_scratchpad.report.json"))
    assert rep.utilization["TRELLIS_COMB"].available == 83640
    assert rep.utilization["EHXPLLL"] == npr.Utilization(1, 4)
    core = rep.fmax["$glbnet$clk"]
    link = rep.fmax["$glbnet$clk_buf.buf.i"]
    assert core.constraint_mhz == pytest.approx(150.0, abs=0.05)
    assert link.constraint_mhz == pytest.approx(25.0, abs=1e-3)
    assert (core.passed, link.passed) == (False, True)
    assert core.slack_ns < 0 < link.slack_ns
    log = npr.parse_log(read("ecp5_scratchpad.tim"))
    assert log.fmax.keys() == rep.fmax.keys()
    for clock, f in rep.fmax.items():       # the log rounds to 0.01 MHz
        assert log.fmax[clock].achieved_mhz == pytest.approx(f.achieved_mhz, abs=0.006)
        assert log.fmax[clock].passed == f.passed
    assert log.warnings >= 1           # the FAIL is a warning in the log
    # The core clock's worst path starts at the scratchpad's block RAM (no output register).
    path = next(p for p in rep.critical_paths if p.start == "posedge $glbnet$clk"
                and p.end == "posedge $glbnet$clk")
    assert path.steps[0].kind == "clk-to-q" and path.steps[0].delay_ns > 5.0
    assert path.signals[0].startswith("design.device.mem")


def test_summary_is_json_and_truncates_nets():
    rep = npr.parse_report_json(read("ice40_scratchpad.report.json"))
    s = npr.summarize_path(rep.critical_paths[0], max_nets=4)
    json.dumps(s)
    assert len(s["nets"]) <= 5
    assert s["logic_levels"] == rep.critical_paths[0].logic_levels > 0


@pytest.mark.parametrize("text,message", [
    ("not json", r"nextpnr report is not valid JSON"),
    ("[1, 2]", r"nextpnr report has no 'utilization', 'fmax' or 'critical_paths'"),
    ('{"utilization": {"X": {"used": 1}}}', r"utilization of 'X' is malformed"),
    ('{"fmax": {"clk": {}}}', r"fmax of clock 'clk' is malformed"),
])
def test_report_errors(text, message):
    with pytest.raises(npr.NextpnrError, match=message):
        npr.parse_report_json(text)


def test_log_errors_and_truncated_log():
    with pytest.raises(npr.NextpnrError, match="nextpnr log has no utilisation, fmax"):
        npr.parse_log("Info: nothing to see\n")
    # A run that stopped with an error still parses, and says why.
    rep = npr.parse_log("Info: Device utilisation:\nERROR: Unable to place cell 'x'\n")
    assert rep.errors == ["Unable to place cell 'x'"]
    # The first half of a log (pre-route estimate only) gives that estimate.
    text = read("ice40_scratchpad.tim")
    early = npr.parse_log(text[:text.index("Info: Routing")])
    assert early.fmax["cd_sync.clk"].achieved_mhz != npr.parse_log(text).fmax[
        "cd_sync.clk"].achieved_mhz


@pytest.mark.slow
def test_live_ice40_run(tmp_path):
    """A real place and route of the UART link with the scratchpad on the iCEBreaker, read
    back through the flow's report."""
    from lutcore.fpga.flow import run_flow
    from lutcore.spec.config import preset

    report = run_flow("icebreaker", tmp_path, config=preset("tiny"), device="scratchpad")
    assert (tmp_path / "lutcore.bin").stat().st_size > 100_000
    res = {r.name: r for r in report.resources}
    assert 300 < res["LUT4"].used < 3000 and res["LUT4"].available == 5280
    assert res["BRAM"].used >= 8            # 1024 x 32 scratchpad
    core = report.core_clock
    assert core["constraint_mhz"] == pytest.approx(12.0) and core["passed"]
    assert json.loads((tmp_path / "report.json").read_text())["timing_met"] is True
    assert "## Critical paths" in (tmp_path / "report.md").read_text()
