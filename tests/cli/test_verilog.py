"""``lutcore verilog`` argument and output errors: one line, exit 2, no file touched."""

from __future__ import annotations

import pytest

from lutcore.cli import main


@pytest.mark.parametrize("args,message", [
    (["--preset", "tiny", "--config", "x.json", "--out", "o"],
     "argument --config: not allowed with argument --preset (see lutcore verilog --help)"),
    (["--preset", "tiny", "--out", "f.txt"],
     "--out 'f.txt' is an existing file: expected a directory (created if missing)"),
    (["--preset", "tiny", "--out", "f.txt/x"],
     "--out 'f.txt/x' cannot be created: a parent of it is not a directory"),
    (["--config", "latin1.json", "--out", "o"],
     "--config 'latin1.json' is not UTF-8 text: byte 0xe9 at offset 10"),
    (["--config", "config.json", "--out", "."],
     "--out '.' holds the input --config 'config.json', which it would overwrite: choose "
     "another output directory"),
    (["--config", ".", "--out", "o"], "--config '.' cannot be read: it is a directory"),
])
def test_errors(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text("a file")
    (tmp_path / "latin1.json").write_bytes(b'{"name": "\xe9"}')
    (tmp_path / "config.json").write_text('{"name": "c"}')
    assert main(["verilog", *args]) == 2
    assert capsys.readouterr() == ("", f"lutcore verilog: error: {message}\n")
    assert (tmp_path / "f.txt").read_text() == "a file"
    assert (tmp_path / "config.json").read_text() == '{"name": "c"}'
    assert not (tmp_path / "o").exists()
