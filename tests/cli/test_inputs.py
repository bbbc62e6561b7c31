"""The command line's input layer: every bad file, output path and option is one line naming
the argument, what is wrong and what is allowed."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from lutcore.cli.inputs import (CliError, int_in, load_npy, output_dir, output_file,
                                positive_float, read_text, write_npy)

ARRAY = np.arange(12, dtype=np.int16).reshape(3, 4)


@pytest.fixture
def npy(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, ARRAY)
    return path


def _message(call) -> str:
    with pytest.raises(CliError) as e:
        call()
    assert "\n" not in str(e.value)
    return str(e.value)


def test_load_npy_valid(npy):
    got = load_npy("--acts", npy)
    assert got.dtype == np.int16 and got.tolist() == ARRAY.tolist()


def _header_len(data: bytes) -> int:
    return 10 + int.from_bytes(data[8:10], "little")


@pytest.mark.parametrize("damage,message", [
    (lambda d: d[:-1], "is truncated: its header declares int16 shape (3, 4) (24 bytes of "
                       "data), the file holds 23"),
    (lambda d: d + b"\0", "is corrupted: its header declares int16 shape (3, 4) (24 bytes of "
                          "data), the file holds 25"),
    (lambda d: d[:7], "has a corrupted .npy header"),
    (lambda d: d[:8] + b"\xff\xff" + d[10:], "has a corrupted .npy header"),
    (lambda d: d.replace(b"'<i2'", b"'<i9'"), "has a corrupted .npy header"),
    (lambda d: d.replace(b"(3, 4)", b"(3, 9)"), "is truncated: its header declares int16 "
                                                "shape (3, 9)"),
    (lambda d: d.replace(b"'<i2'", b"'|O' "), "holds Python objects (dtype object): allowed "
                                              "numeric arrays only"),
    (lambda d: b"PK\x03\x04" + d, "is an .npz archive: expected a single .npy array"),
    (lambda d: b"hello", "is not a .npy file (no NumPy header)"),
], ids=["short", "long", "magic only", "header length", "dtype", "shape", "object", "npz",
        "text"])
def test_load_npy_refuses_damaged_files(npy, damage, message):
    npy.write_bytes(damage(npy.read_bytes()))
    assert _message(lambda: load_npy("--acts", npy)).startswith(f"--acts '{npy}' {message}")


def test_load_npy_missing_and_directory(tmp_path):
    assert _message(lambda: load_npy("--w", tmp_path / "x.npy")) == \
        f"--w '{tmp_path / 'x.npy'}' cannot be read: no such file"
    assert _message(lambda: load_npy("--w", tmp_path)) == \
        f"--w '{tmp_path}' cannot be read: it is a directory"


def test_read_text_names_the_first_bad_byte(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes('{"name": "é"}'.encode("latin-1"))
    assert _message(lambda: read_text("--config", path)) == \
        f"--config '{path}' is not UTF-8 text: byte 0xe9 at offset 10"
    path.write_bytes('{"name": "é"}'.encode())
    assert read_text("--config", path) == '{"name": "é"}'


def test_output_file(tmp_path, npy):
    assert output_file("--out", tmp_path / "o.npy") == tmp_path / "o.npy"
    assert _message(lambda: output_file("--out", tmp_path)) == \
        f"--out '{tmp_path}' is a directory: expected a file to write"
    assert _message(lambda: output_file("--out", tmp_path / "no" / "o.npy")) == \
        f"--out '{tmp_path / 'no' / 'o.npy'}' cannot be created: directory " \
        f"'{tmp_path / 'no'}' does not exist"
    same = tmp_path / "." / "a.npy"
    assert _message(lambda: output_file("--out", same, {"--acts": npy})) == \
        f"--out '{same}' is the same file as --acts: choose another output, an input is " \
        f"never overwritten"
    (tmp_path / "link.npy").symlink_to(npy)
    assert "is the same file as --weights" in _message(
        lambda: output_file("--out", tmp_path / "link.npy", {"--weights": npy}))


def test_output_dir(tmp_path, npy):
    made = output_dir("--out", tmp_path / "x" / "y")
    assert made.is_dir()
    assert _message(lambda: output_dir("--out", npy)) == \
        f"--out '{npy}' is an existing file: expected a directory (created if missing)"
    assert _message(lambda: output_dir("--out", npy / "sub")) == \
        f"--out '{npy / 'sub'}' cannot be created: a parent of it is not a directory"
    assert "holds the input --config" in _message(
        lambda: output_dir("--out", tmp_path, {"--config": npy}))
    assert output_dir("--out", tmp_path, {"--config": npy}, files=("b.npy",)) == tmp_path
    assert "holds the input" in _message(
        lambda: output_dir("--out", tmp_path, {"--config": npy}, files=("a.npy",)))


def test_write_npy_replaces_atomically(tmp_path):
    path = tmp_path / "o.npy"
    path.write_bytes(b"old")
    write_npy("--out", path, ARRAY)
    np.testing.assert_array_equal(np.load(path), ARRAY)
    assert [p.name for p in tmp_path.iterdir()] == ["o.npy"]      # no temporary left


@pytest.mark.parametrize("parse,text,message", [
    (int_in(1, 4), "x", "'x' is not an integer: allowed 1..4"),
    (int_in(1, 4), "5", "5 is out of range: allowed 1..4"),
    (int_in(1, 4), "2.0", "'2.0' is not an integer: allowed 1..4"),
    (int_in(0), "-1", "-1 is out of range: allowed >= 0"),
    (positive_float, "nan", "nan is invalid: allowed a positive number"),
    (positive_float, "-3", "-3 is invalid: allowed a positive number"),
    (positive_float, "MHz", "'MHz' is not a number: allowed a positive number"),
])
def test_option_types(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as e:
        parse(text)
    assert str(e.value) == message
    assert int_in(1, 4)("4") == 4 and positive_float("12.5") == 12.5
