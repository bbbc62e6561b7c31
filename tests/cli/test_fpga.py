"""``lutcore fpga`` argument errors: one line, exit 2, before any tool runs."""

from __future__ import annotations

import pytest

from lutcore.cli import main


def run_cli(*args):
    return main(["fpga", *args])


@pytest.mark.parametrize("args,message", [
    (["--board", "arty", "--out", "x"],
     "argument --board: invalid choice: 'arty' (choose from icebreaker, ulx3s)"),
    (["--board", "ulx3s", "--out", "x", "--route-stall", "-1"],
     "argument --route-stall: -1 is out of range: allowed >= 0"),
    (["--board", "ulx3s", "--out", "x", "--preset", "huge"],
     "preset 'huge' is unknown: allowed tiny, default, large, decode"),
    (["--board", "ulx3s", "--out", "x", "--device", "gpu"],
     "argument --device: invalid choice: 'gpu' (choose from auto, accelerator, core, "
     "scratchpad)"),
    (["--board", "ulx3s", "--out", "x", "--freq", "0"],
     "argument --freq: 0 is invalid: allowed a positive number"),
    (["--board", "ulx3s", "--out", "x", "--freq", "inf"],
     "argument --freq: inf is invalid: allowed a positive number"),
    (["--board", "ulx3s", "--out", "x", "--baud", "fast"],
     "argument --baud: 'fast' is not an integer: allowed >= 1"),
    (["--board", "ulx3s", "--out", "x", "--seed", "-2"],
     "argument --seed: -2 is out of range: allowed 0..2147483647"),
    (["--board", "ulx3s", "--out", "x", "--device", "scratchpad", "--freq", "900"],
     "core clock 900 MHz is outside the ECP5 PLL's output range 3.125..400 MHz"),
    (["--board", "ulx3s", "--out", "x", "--device", "scratchpad", "--router", "maze"],
     "argument --router: invalid choice: 'maze' (choose from router1, router2)"),
    (["--board", "icebreaker", "--out", "x", "--device", "scratchpad", "--baud", "9000000"],
     "baud = 9000000 is too fast for a 12 MHz clock: at most 3000000"),
    (["--board", "ulx3s", "--out", "x", "--seeds", "1,1"],
     "argument --seeds: '1,1' is invalid: distinct seeds in 0..2147483647"),
    (["--board", "ulx3s", "--out", "x", "--seeds", "1,b"],
     "argument --seeds: '1,b' is invalid: expected seeds like 1,2,3"),
    (["--board", "ulx3s", "--out", "x", "--seeds", "1,2", "--seed", "3"],
     "argument --seed: not allowed with argument --seeds"),
    (["--board", "ulx3s", "--out", "x", "--seeds", "1,2", "--synth-only"],
     "--seeds: the seed only matters to place and route: drop --synth-only"),
    (["--board", "ulx3s", "--out", "x", "--jobs", "4"],
     "--jobs and --scheduler go with --seeds (several builds)"),
    (["--board", "icebreaker", "--out", "f.txt"],
     "--out 'f.txt' is an existing file: expected a directory (created if missing)"),
    (["--board", "icebreaker", "--out", "f.txt/sub"],
     "--out 'f.txt/sub' cannot be created: a parent of it is not a directory"),
    (["--board", "icebreaker", "--out", ".", "--config", "c.json"],
     "--out '.' holds the input --config 'c.json', which it would overwrite: choose another "
     "output directory"),
])
def test_cli_errors(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text("a file")
    (tmp_path / "c.json").write_text('{"name": "c"}')
    assert run_cli(*args) == 2
    out, err = capsys.readouterr()
    if "(choose from" in message:          # argparse quotes choices from Python 3.12 on
        err = err.replace("'icebreaker', 'ulx3s'", "icebreaker, ulx3s")
        for word in ("auto", "accelerator", "core", "scratchpad", "router1", "router2"):
            err = err.replace(f"'{word}'", word)
    suffix = " (see lutcore fpga --help)" if message.startswith("argument") else ""
    assert err == f"lutcore fpga: error: {message}{suffix}\n"
    assert (tmp_path / "f.txt").read_text() == "a file"


def test_cli_config_file(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "n": 0}')
    out = tmp_path / "out"
    assert run_cli("--board", "icebreaker", "--out", str(out), "--config", str(bad)) == 2
    assert capsys.readouterr().err == (f"lutcore fpga: error: --config '{bad}': config field "
                                       f"'n' = 0 is invalid: allowed 1..512\n")
    assert run_cli("--board", "icebreaker", "--out", str(out), "--config", str(bad),
                   "--preset", "tiny") == 2
    assert capsys.readouterr().err == ("lutcore fpga: error: argument --preset: not allowed "
                                       "with argument --config (see lutcore fpga --help)\n")
    assert run_cli("--board", "icebreaker", "--out", str(out), "--config",
                   str(tmp_path / "missing.json")) == 2
    assert capsys.readouterr().err == (f"lutcore fpga: error: --config "
                                       f"'{tmp_path / 'missing.json'}' cannot be read: no such "
                                       f"file\n")
    bad.write_bytes(b'{"name": "\xe9"}')
    assert run_cli("--board", "icebreaker", "--out", str(out), "--config", str(bad)) == 2
    assert capsys.readouterr().err == (f"lutcore fpga: error: --config '{bad}' is not UTF-8 "
                                       f"text: byte 0xe9 at offset 10\n")
    assert not out.exists()                        # nothing created before the checks pass
