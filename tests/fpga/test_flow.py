"""The FPGA flow without place and route: board tops, build plans, PLL settings, the CLI's
checks, and a yosys-only synthesis of the tiny preset (the fast smoke test); the full
flows are slow tests."""

import fnmatch
import json
import re

import pytest

from lutcore.cli import main as cli_main
from lutcore.fpga.board import LinkTiming, accelerator_available
from lutcore.fpga.clocks import ecp5_pll_settings
from lutcore.fpga.flow import BOARDS, build_plan, run_flow
from lutcore.spec.config import preset


@pytest.mark.parametrize("mhz,dividers", [
    (150.0, (1, 6, 4)),
    (100.0, (1, 4, 6)),
    (125.0, (1, 5, 5)),
])
def test_pll_settings(mhz, dividers):
    s = ecp5_pll_settings(25.0, mhz)
    assert (s.clki_div, s.clkfb_div, s.clkop_div) == dividers
    assert s.output_mhz == pytest.approx(mhz)
    assert 400 <= s.vco_mhz <= 800
    assert s.clkop_cphase == s.clkop_div // 2


def test_pll_settings_inexact_and_out_of_range():
    s = ecp5_pll_settings(25.0, 133.0, tolerance=0.01)
    assert abs(s.output_mhz - 133.0) < 0.5 and 400 <= s.vco_mhz <= 800
    assert 3.125 <= 25.0 / s.clki_div <= 400
    with pytest.raises(ValueError, match=r"core clock 500 MHz is outside the ECP5 PLL's output "
                                         r"range 3.125..400 MHz"):
        ecp5_pll_settings(25.0, 500.0)
    with pytest.raises(ValueError, match=r"core clock 133.1 MHz cannot be made from 25 MHz"):
        ecp5_pll_settings(25.0, 133.1, tolerance=1e-6)


def test_link_timing():
    t = LinkTiming.for_clock(25e6, 115_200)
    assert t.divisor == 217
    assert t.frame_timeout == 1_250_000 and t.device_timeout == 250_000


@pytest.mark.parametrize("name,device,core_mhz", [
    ("icebreaker", "scratchpad", 12.0),
    ("ulx3s", "scratchpad", 150.0),
])
def test_build_plan(name, device, core_mhz):
    """The platform's build plan: pin constraints for clock and UART, our nextpnr options,
    the tools in order; on ULX3S the PLL and a second (link) clock domain."""
    b = BOARDS[name]
    plan, top = build_plan(b, preset(b.default_preset), device=device, core_mhz=core_mhz,
                           baud=115_200, seed=3)
    commands = json.loads(plan.files["build_lutcore.json"])["commands"]
    tools = [c[0] for c in commands]
    pack = "icepack" if b.family == "ice40" else "ecppack"
    assert tools == ["yosys", f"nextpnr-{b.family}", pack]
    nextpnr = commands[1]
    for opt in ("--report", "lutcore.report.json", "--detailed-timing-report",
                "--timing-allow-fail"):
        assert opt in nextpnr
    assert nextpnr[nextpnr.index("--seed") + 1] == "3"
    assert nextpnr[nextpnr.index("--router") + 1] == b.default_router
    assert b.default_router == ("router2" if name == "icebreaker" else "router1")
    assert top.core_hz == pytest.approx(core_mhz * 1e6)
    # ECP5 synthesis maps to LUT4s only (no PFUMX/L6MUX wide functions).
    assert ("-nowidelut" in plan.files["lutcore.ys"]) == (b.family == "ecp5")
    rtlil = plan.files["lutcore.il"]
    if name == "icebreaker":
        pcf = plan.files["lutcore.pcf"]
        assert "set_io uart_0__rx__io 6" in pcf and "set_io uart_0__tx__io 9" in pcf
        assert "set_frequency clk12_0__io 12.0" in pcf
        assert "EHXPLLL" not in rtlil
    else:
        lpf = plan.files["lutcore.lpf"]
        assert 'LOCATE COMP "uart_0__rx__io" SITE "M1"' in lpf
        assert 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ' in lpf
        assert "EHXPLLL" in rtlil and "CLKFB_DIV" in rtlil
        assert top.design.link.divisor == 217          # the link runs from the 25 MHz clock
    # The LUT core's column groups keep their hierarchy when there are several (default
    # preset: 8), so yosys cannot merge their identical broadcast registers.
    script = plan.files["lutcore.ys"]
    groups = preset(b.default_preset).broadcast_groups
    keep = "setattr -mod -set keep_hierarchy 1 *.colgroup*"
    assert (keep in script) == (groups > 1) and (groups > 1) == (name == "ulx3s")


def test_keep_hierarchy_pattern_names_the_column_groups():
    """The yosys pattern must match the LUT core's group modules as the RTLIL names them."""
    b = BOARDS["ulx3s"]
    # Two broadcast groups name the pattern's modules as well as the default preset's eight
    # do, in an eighth of the LUT units to elaborate.
    cfg = preset("default").replace(name="two-groups", n=16)
    assert cfg.broadcast_groups == 2
    plan, _ = build_plan(b, cfg, device="core", core_mhz=150.0, baud=115_200, seed=1)
    modules = re.findall(r"^module \\(\S+)$", plan.files["lutcore.il"], re.M)
    groups = [m for m in modules if fnmatch.fnmatchcase(m, "*.colgroup*")]
    assert sorted(groups) == sorted(f"lutcore.design.device.core.colgroup{g}"
                                    for g in range(cfg.broadcast_groups))
    assert "*.colgroup*" in plan.files["lutcore.ys"]


def test_one_row_tile_keeps_each_groups_broadcast_registers(tmp_path):
    """A one-row tile builds flattened, so its broadcast flip-flops carry ``keep``: the
    script's selection, run by yosys on the build's RTLIL, picks exactly the registers of
    each group's copy of the step (valid, tables, mode, plane, clear and one code per lookup
    of each column: 5 + cols x L), and opt_merge leaves the copies apart."""
    import subprocess

    from lutcore.fpga.flow import tool_command
    b = BOARDS["ulx3s"]
    cfg = preset("decode").replace(name="one-row", n=16)          # 2 groups of 8 columns
    assert (cfg.m, cfg.broadcast_groups, cfg.lookups) == (1, 2, 2)
    plan, _ = build_plan(b, cfg, device="core", core_mhz=150.0, baud=115_200, seed=1)
    script = plan.files["lutcore.ys"]
    assert "keep_hierarchy" not in script
    keep = next(line for line in script.splitlines() if line.startswith("setattr -set keep"))
    (tmp_path / "d.il").write_text(plan.files["lutcore.il"])
    selection = keep.removeprefix("setattr -set keep 1 ")
    out = subprocess.run(
        [tool_command("yosys"), "-p", f"read_rtlil d.il; {keep}; select -count {selection}; "
         f"flatten; opt_merge; select -count */a:keep"],
        cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    per_group = 5 + 8 * cfg.lookups
    counts = [int(n) for n in re.findall(r"^(\d+) objects\.$", out, re.M)]
    assert counts == [2 * per_group, 2 * per_group]


def test_core_clock_per_preset():
    """Each board's presets and the core clock a build of each runs at unless --freq says."""
    ice, ulx = BOARDS["icebreaker"], BOARDS["ulx3s"]
    assert ice.presets == ("tiny",) and ice.core_mhz_of("tiny") == 12.0
    assert ulx.presets == ("default", "decode")
    assert (ulx.core_mhz_of("default"), ulx.core_mhz_of("decode")) == (60.0, 80.0)
    assert ulx.core_mhz_of("large") == 60.0            # not one of its presets: the board's
    assert all(preset(name) for b in BOARDS.values() for name in b.presets)


def test_build_plan_icebreaker_has_no_pll():
    b = BOARDS["icebreaker"]
    with pytest.raises(Exception, match=r"a 48 MHz core clock needs a PLL; only ECP5 boards"):
        build_plan(b, preset("tiny"), device="scratchpad", core_mhz=48.0, baud=115_200, seed=1)


def run_cli(*args):
    return cli_main(["fpga", *args])


def test_cli_accelerator_device_missing(capsys, tmp_path, monkeypatch):
    """A build without the accelerator top says so in one line."""
    import lutcore.fpga.board as board

    monkeypatch.setattr(board, "ACCELERATOR_TOPS", ("lutcore.hw.no_such_top:Top",))
    assert not board.accelerator_available()
    assert run_cli("--board", "icebreaker", "--out", str(tmp_path), "--device",
                   "accelerator") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "lutcore fpga: error: --device accelerator: the accelerator top (lutcore.hw.top) is "
        "not part of this build yet: use --device core or scratchpad")


@pytest.mark.slow
def test_yosys_smoke_tiny(tmp_path, capsys):
    """Yosys only, the tiny preset for the iCEBreaker: a netlist of LUT4s, flip-flops and
    block RAMs of plausible size, with exactly the board top's four I/Os."""
    device = "accelerator" if accelerator_available() else "core"
    report = run_flow("icebreaker", tmp_path, config=preset("tiny"), device=device,
                      synth_only=True)
    cells = report.netlist_cells
    luts = cells.get("SB_LUT4", 0)
    ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
    assert 500 < luts < 2 * 5280, cells
    assert 100 < ffs < 2 * 5280, cells
    assert cells.get("SB_RAM40_4K", 0) >= 2, cells          # at least the link's buffer
    assert cells.get("SB_IO", 0) + cells.get("SB_GB_IO", 0) == 4   # clock, rx, tx, LED
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["netlist_cells"]["SB_LUT4"] == luts
    assert "synthesis" in saved["stages"] and "place & route" not in saved["stages"]
    assert "[1/1] synthesis (yosys) done in" in capsys.readouterr().err
    md = (tmp_path / "report.md").read_text()
    assert "- timing: not run (synthesis only)" in md and f"| SB_LUT4 | {luts} |" in md


@pytest.mark.slow
@pytest.mark.parametrize("name,args", [
    ("icebreaker", ["--device", "core"]),
    ("ulx3s", ["--preset", "tiny", "--allow-timing-fail"]),
])
def test_full_flow(name, args, tmp_path):
    """The whole flow through the CLI: bitstream, report, timing verdict against the
    board's core clock."""
    b = BOARDS[name]
    assert run_cli("--board", name, "--out", str(tmp_path), *args) == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert (tmp_path / f"lutcore{b.bitstream_suffix}").stat().st_size > 10_000
    assert {r["name"] for r in rep["resources"]} >= {"LUT4", "FF", "BRAM", "DSP"}
    core = next(c for c in rep["clocks"] if c["role"] == "core")
    assert core["constraint_mhz"] == pytest.approx(b.default_core_mhz, rel=1e-3)
    assert rep["critical_paths"][0]["from"] == rep["critical_paths"][0]["to"]
    assert rep["critical_paths"][0]["delay_ns"] == pytest.approx(1e3 / core["achieved_mhz"],
                                                                 rel=0.02)
    if name == "icebreaker":
        assert core["passed"] and rep["timing_met"]


@pytest.mark.slow
def test_tiny_accelerator_fits_icebreaker(tmp_path):
    """``make fpga BOARD=icebreaker``: the whole accelerator places, routes and meets 12 MHz."""
    assert run_cli("--board", "icebreaker", "--out", str(tmp_path), "--device",
                   "accelerator") == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["timing_met"]
    assert (tmp_path / "lutcore.bin").stat().st_size > 10_000


def test_overflow_named_when_the_design_does_not_fit():
    from lutcore.fpga.flow import _overflow

    log = ("Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    6512/   5280   123%\n"
           "Info: \t        ICESTORM_RAM:      35/     30   116%\n"
           "Info: \t               SB_IO:       4/     39    10%\n"
           "ERROR: Unable to place cell 'x', no BELs remaining\n")
    assert _overflow(log) == "; the design does not fit: ICESTORM_LC 6512/5280, ICESTORM_RAM 35/30"
    assert _overflow("Info: nothing\n") == ""


def test_progress_reports_router_congestion(tmp_path):
    """While router2 runs, the progress line tells how many wires are still overused; while
    router1 runs, how many arcs it has left."""
    from lutcore.fpga.flow import _log_phase
    log = tmp_path / "lutcore.tim"
    log.write_text("Info: Running router2...\n"
                   "Info:     iter=1 wires=779214 overused=76458 overuse=95021 archfail=NA\n"
                   "Info:     iter=2 wires=815535 overused=56628 overuse=63656 archfail=NA\n")
    assert _log_phase("nextpnr-ecp5", log) == "routing, iteration 2, 56,628 wires overused"
    log.write_text("Info: Routing 148659 arcs.\n"
                   "Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |\n"
                   "Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|\n"
                   "Info:      38000 |     5255      32744 |   88   912 |    123076|       0.70      39.54|\n")
    assert _log_phase("nextpnr-ecp5", log) == "routing, 123,076 arcs left"
    log.write_text("Info: Running simulated annealing placer for refinement.\n")
    assert _log_phase("nextpnr-ecp5", log) == "placing"
    assert _log_phase("nextpnr-ecp5", tmp_path / "missing.tim") == ""


def _router_log(counts):
    return "".join(f"Info:     iter={i} wires=800000 overused={n} overuse={n} archfail=NA\n"
                   for i, n in enumerate(counts, 1))


def test_route_watch_stops_a_router_that_no_longer_converges():
    from lutcore.fpga.flow import RouteWatch
    watch = RouteWatch(stall=4)
    # Converging: every window of 4 iterations brings the count 10 % down.
    watch.update(_router_log([60000, 40000, 30000, 20000, 15000, 11000, 9000]))
    assert watch.stalled() == ""
    # Stuck near 10 900 for 4 iterations after reaching 11 000: give up with the figures.
    watch.update(_router_log([60000, 40000, 30000, 20000, 15000, 11000, 10900, 10950,
                              10800, 10850, 10900]))
    reason = watch.stalled()
    assert reason.startswith("router2 is not converging: 10,900 wires still overused after "
                             "11 iterations (10,900 4 iterations earlier)")
    assert "--route-stall 0 never gives up" in reason
    assert RouteWatch(stall=0).stalled() == ""
    # The last few hundred conflicts resolve slowly but do resolve: no verdict below the floor.
    tail = RouteWatch(stall=4)
    tail.update(_router_log([5000, 600, 480, 470, 460, 455, 450, 445, 440]))
    assert tail.stalled() == ""
    short = RouteWatch(stall=12)
    short.update(_router_log([5000] * 12))          # not yet 12 iterations of history
    assert short.stalled() == ""


def _router1_log(counts):
    """router1's progress rows, one per 1000 iterations, with these arcs left."""
    return "".join(f"Info: {1000 * i:10d} | {i:8d} {i:10d} | {i:4d} {i:5d} | {n:9d}| "
                   f"      1.00      {i:.2f}|\n" for i, n in enumerate(counts, 1))


def test_route_watch_stops_router1_too():
    from lutcore.fpga.flow import RouteWatch
    # The default window: 12 x 5 = 60 rows (60 000 iterations).
    healthy = RouteWatch()                  # a real ULX3S build: 0.3 % fewer arcs a row
    healthy.update(_router1_log([int(150000 * 0.997 ** i) for i in range(200)]))
    assert healthy.stalled() == ""
    stuck = RouteWatch()
    stuck.update(_router1_log([150000 - 1000 * i for i in range(40)] + [111000] * 60
                              + [110500]))
    reason = stuck.stalled()
    assert reason.startswith("router1 is not converging: 110,500 arcs still to route after "
                             "101,000 iterations (111,000 60,000 iterations earlier); ")
    assert "--router router2" in reason and "--route-stall 0 never gives up" in reason
    ending = RouteWatch()                   # the last few hundred arcs: left to finish
    ending.update(_router1_log([5000] + [900] * 100))
    assert ending.stalled() == ""
    assert RouteWatch(stall=0).stalled() == ""


def test_decode_rows_by_hand():
    from lutcore.fpga.flow import FlowReport, decode_rows, render_markdown
    report = FlowReport(board="b", part="p", preset="x", device="accelerator",
                        config={"host_bits": 32}, core_mhz=12.0, link_mhz=12.0, baud=115200)
    report.clocks = [{"clock": "sync", "role": "core", "achieved_mhz": 50.0,
                      "constraint_mhz": 12.0, "passed": True, "slack_ns": 1.0}]
    cycles = [{"mode": "elut", "cycles_per_token": 1e6, "useful_utilization": 0.5,
               "write_words_per_token": 1000.0, "read_words_per_token": 10.0}]
    (row,) = decode_rows(cycles, report, max_words=64)
    assert row["tokens_per_s_fmax"] == pytest.approx(50.0)         # 50 MHz / 1e6 cycles
    assert row["tokens_per_s_clock"] == pytest.approx(12.0)
    # to the board: 1000 words x 4 bytes + (16 write + 1 read request frames) x 9 bytes
    assert row["link_bytes_per_token"] == 4000 + 17 * 9
    assert row["tokens_per_s_link"] == pytest.approx(11520 / 4153)  # 115200 baud, 8N1
    assert row["bound"] == "link"
    report.decode = [row]
    md = render_markdown(report)
    assert "| elut | 1,000,000 | 50.0% | 50.00 | 12.00 | 4,153 | 2.77e+00 | link |" in md
    report.decode, report.decode_error = [], "RuntimeError: no"
    assert "Not computed: RuntimeError: no" in render_markdown(report)
    assert "- timing: met" in render_markdown(report)
    synth = FlowReport(board="b", part="p", preset="x", device="accelerator",
                       config={"host_bits": 32}, core_mhz=12.0, link_mhz=12.0, baud=115200)
    synth.netlist_cells = {"SB_LUT4": 36865}
    md = render_markdown(synth)
    assert "- timing: not run (synthesis only)" in md and "| SB_LUT4 | 36865 |" in md


@pytest.mark.slow
def test_seed_sweep_on_dask(tmp_path, capsys):
    """Two nextpnr seeds of the tiny scratchpad build at once: a report per seed, the table
    in seeds.md, the best seed the one of highest fmax in the seed reports themselves."""
    status = cli_main(["fpga", "--board", "icebreaker", "--device", "scratchpad",
                       "--seeds", "3,5", "--jobs", "2", "--out", str(tmp_path)])
    assert status in (0, 1)
    fmax = {}
    for seed in (3, 5):
        report = json.loads((tmp_path / f"seed-{seed}" / "report.json").read_text())
        fmax[seed] = next(c["achieved_mhz"] for c in report["clocks"] if c["role"] == "core")
    doc = json.loads((tmp_path / "seeds.json").read_text())
    assert [r["seed"] for r in doc["seeds"]] == [3, 5]
    assert doc["best"]["seed"] == max(fmax, key=fmax.get)
    assert f"| 3 | {fmax[3]:.2f} |" in (tmp_path / "seeds.md").read_text()
    assert "2 builds (seeds 3,5) on 2 local Dask worker(s)" in capsys.readouterr().out
