"""``lutcore compile`` and ``lutcore disasm``."""

from __future__ import annotations

import numpy as np
import pytest

from lutcore.cli import main
from lutcore.spec import isa
from lutcore.sw.compiler import Program
from lutcore.host import run_program


@pytest.fixture
def operands(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (3, 100), dtype=np.int8)
    w = rng.integers(-1, 2, (70, 100), dtype=np.int8)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "w.npy", w)
    return tmp_path, a, w


def test_compile_then_disasm(operands, capsys):
    path, a, w = operands
    prog = path / "prog.npz"
    argv = ["compile", "--acts", str(path / "a.npy"), "--weights", str(path / "w.npy"),
            "--preset", "tiny", "--out", str(prog), "--mode", "elut"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    program = Program.load(prog)
    summary = program.summary()
    assert f"phases       {summary['phases']}" in out
    assert f"instructions {summary['instructions']}" in out
    assert f"cycles       {summary['cycles']} predicted" in out
    assert "M=3 N=70 K=100, mode elut" in out
    # needed lookups: M x N x ceil(K / elut_g) = 3 x 70 x 34 on tiny (elut_g = 3)
    assert " (7140 needed lookups / cycles x m x n)" in out
    np.testing.assert_array_equal(run_program(program).output, a.astype(np.int64) @ w.T)

    assert main(["disasm", str(prog)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# lutcore program: config tiny, mode elut, M=3 N=70 K=100")
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert isa.assemble("\n".join(body)) == [int(x) for p in program.phases
                                             for x in p.instructions]
    assert main(["disasm", str(prog), "--phase", "0", "--summary"]) == 0
    assert "utilization" in capsys.readouterr().out


def test_compile_with_lookups_counts_steps_of_l_groups(operands, capsys):
    """A config with L = 3: K = 100 is 25 groups of g = 4, so 9 steps of 3 (the last holds
    one group and two of padding); the LMMA counts are steps, the program is exact."""
    path, a, w = operands
    cfg = path / "l3.json"
    cfg.write_text('{"name": "tiny_l3", "m": 1, "n": 4, "g": 4, "weight_bits": 2, '
                   '"acc_bits": 24, "elut_g": 3, "lookups": 3}')
    prog = path / "prog.npz"
    assert main(["compile", "--acts", str(path / "a.npy"), "--weights", str(path / "w.npy"),
                 "--config", str(cfg), "--out", str(prog)]) == 0
    out = capsys.readouterr().out
    assert "lookups=3)" in out
    assert "25 K group(s) of 4 in 9 step(s) of 3" in out
    # needed lookups: M x N x ceil(K / g) x planes = 3 x 70 x 25 x 2 (ternary: 2 planes)
    assert " (10500 needed lookups / cycles x m x n x lookups)" in out
    program = Program.load(prog)
    lmmas = [i for p in range(len(program.phases)) for i in program.instructions(p)
             if isinstance(i, isa.Lmma)]
    assert {i.count for i in lmmas} == {9}
    # 3 row blocks x 18 column tiles, one LMMA each
    assert len(lmmas) == 3 * 18
    np.testing.assert_array_equal(run_program(program).output, a.astype(np.int64) @ w.T)


def _error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


def test_compile_errors_are_one_line(operands, capsys):
    path, a, w = operands
    base = ["compile", "--acts", str(path / "a.npy"), "--weights", str(path / "w.npy"),
            "--out", str(path / "p.npz")]
    err = _error(base[:2] + [str(path / "none.npy")] + base[3:], capsys)
    assert "--acts" in err and "no such file" in err
    np.save(path / "big.npy", np.full((1, 70000), -128, np.int8))
    np.save(path / "ones.npy", np.ones((2, 70000), np.int8))
    err = _error(["compile", "--acts", str(path / "big.npy"), "--weights", str(path / "ones.npy"),
                  "--preset", "tiny", "--out", str(path / "p.npz")], capsys)
    assert "GEMM could overflow acc_bits=24" in err and "pass --allow-wrap" in err
    assert not (path / "p.npz").exists()
    err = _error(base + ["--preset", "huge"], capsys)
    assert "preset 'huge' is unknown" in err
    np.save(path / "w3.npy", w * 3)
    err = _error(base[:4] + [str(path / "w3.npy")] + base[5:] + ["--mode", "elut"], capsys)
    assert "not ternary" in err


@pytest.mark.parametrize("bits,zero", [(1, 0), (1, 1), (2, 1), (3, 4), (4, 8), (4, 15)])
def test_compile_bbit_weights(operands, capsys, bits, zero):
    path, a, _ = operands
    w = np.random.default_rng(bits + zero).integers(-zero, (1 << bits) - zero, (9, 100))
    w[0, :2] = -zero, (1 << bits) - 1 - zero             # both ends of the code range
    np.save(path / "wb.npy", w.astype(np.int8))
    prog = path / "pb.npz"
    (path / "c.json").write_text('{"name": "file", "m": 1, "n": 8, "weight_bits": 4}')
    assert main(["compile", "--acts", str(path / "a.npy"), "--weights", str(path / "wb.npy"),
                 "--out", str(prog), "--weight-bits", str(bits), "--zero-point", str(zero),
                 "--config", str(path / "c.json"), "--ksplit", "host"]) == 0
    out = capsys.readouterr().out
    assert f"weight_bits={bits} zero_point={zero} c={(1 << bits) - 1 - 2 * zero}" in out
    assert "config       file (m=1 n=8" in out
    np.testing.assert_array_equal(run_program(Program.load(prog)).output,
                                  a.astype(np.int64) @ w.T)


def test_compile_refuses_uint64_and_overwriting_inputs(operands, capsys):
    path, a, w = operands
    wu = w.astype(np.int64)
    wu[wu < 0] = 0
    wu = wu.astype(np.uint64)
    wu[3, 7] = np.iinfo(np.uint64).max                  # -1 after a cast to int64
    np.save(path / "wu.npy", wu)
    base = ["compile", "--acts", str(path / "a.npy"), "--out", str(path / "p.npz")]
    err = _error(base + ["--weights", str(path / "wu.npy")], capsys)
    assert err == (f"lutcore compile: error: --weights '{path / 'wu.npy'}' has value "
                   f"18446744073709551615 at [3, 7]: allowed -15..15 (weight codes of 4 "
                   f"bits)\n")
    before = (path / "w.npy").read_bytes()
    err = _error(["compile", "--acts", str(path / "a.npy"), "--weights", str(path / "w.npy"),
                  "--out", str(path / "w.npy")], capsys)
    assert "--out" in err and "is the same file as --weights" in err
    assert (path / "w.npy").read_bytes() == before
    assert not (path / "p.npz").exists()


def test_disasm_errors(operands, tmp_path, capsys):
    err = _error(["disasm", str(tmp_path / "missing.npz")], capsys)
    assert "does not exist" in err
    (tmp_path / "x.npz").write_text("not a program")
    err = _error(["disasm", str(tmp_path / "x.npz")], capsys)
    assert "not an .npz archive" in err
    path, a, w = operands
    assert main(["compile", "--acts", str(path / "a.npy"), "--weights", str(path / "w.npy"),
                 "--out", str(path / "p.npz")]) == 0
    capsys.readouterr()
    data = (path / "p.npz").read_bytes()
    (path / "t.npz").write_bytes(data[:len(data) // 3])
    err = _error(["disasm", str(path / "t.npz")], capsys)
    assert err.startswith(f"lutcore disasm: error: program file '{path / 't.npz'}' is not a "
                          f"readable .npz program: BadZipFile")
    err = _error(["disasm", str(path / "p.npz"), "--phase", "99"], capsys)
    assert err.startswith("lutcore disasm: error: phase 99 is out of range: allowed 0..")
    err = _error(["disasm", str(path / "p.npz"), "--phase", "-1"], capsys)
    assert err == ("lutcore disasm: error: argument --phase: -1 is out of range: allowed >= 0 "
                   "(see lutcore disasm --help)\n")
