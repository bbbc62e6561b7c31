"""Fuzzing the command line: damaged ``.npy`` files, program files and config files given to
every subcommand. Each run either fails with exit status 2 and exactly one line on standard
error (no traceback), or succeeds with the exact answer for what was read; the undamaged
inputs give the exact ``A @ W.T``.

The CLI runs in-process (``lutcore.cli.main``). Commands whose success would start a long
tool run (``verilog``, ``fpga``, ``synth``, ``dse``, ``bench``) are only given inputs that
are certain to be refused.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lutcore.cli import main
from lutcore.spec.config import preset
from lutcore.sw.compiler import Program, compile_gemm
from lutcore.host import run_program

RNG = np.random.default_rng(18)
A = RNG.integers(-128, 128, (3, 21)).astype(np.int8)
W = RNG.integers(-1, 2, (5, 21)).astype(np.int8)
CONFIG = preset("tiny")
FUZZ = settings(max_examples=25, deadline=None, derandomize=True)
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def oracle(a, w) -> np.ndarray:
    return np.asarray(a).astype(np.int64) @ np.asarray(w).astype(np.int64).T


def npy_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """A directory with the valid inputs: A.npy, W.npy, the tiny preset as c.json and
    a compiled program p.npz."""
    path = tmp_path_factory.mktemp("fuzz")
    np.save(path / "A.npy", A)
    np.save(path / "W.npy", W)
    (path / "c.json").write_text(CONFIG.to_json())
    compile_gemm(A, W, config=CONFIG).save(path / "p.npz")
    return path


def cli(*argv) -> tuple[int, str, str]:
    """Run ``lutcore *argv`` in-process; (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(x) for x in argv])
    return status, out.getvalue(), err.getvalue()


def assert_refused(status: int, out: str, err: str, command: str) -> None:
    assert status == 2, (status, out, err)
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"lutcore {command}: error: "), err


# -- damage ----------------------------------------------------------------------------------

def damaged(data: bytes):
    """Strategy: ``data`` truncated, with bytes flipped, or with a run overwritten."""
    n = len(data)
    truncate = st.integers(0, n - 1).map(lambda i: data[:i])

    def flip(edits):
        b = bytearray(data)
        for i, mask in edits:
            b[i % n] ^= mask
        return bytes(b)

    flips = st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)), min_size=1,
                     max_size=4).map(flip)
    overwrite = st.tuples(st.integers(0, n - 1), st.binary(min_size=1, max_size=16)).map(
        lambda t: data[:t[0]] + t[1] + data[t[0] + len(t[1]):])
    return st.one_of(truncate, flips, overwrite)


def reshaped(x: np.ndarray):
    """Strategy: ``x`` as valid-looking ``.npy`` files of the wrong kind: other dtypes (every
    integer one, float, bool, complex), ranks and shapes, and integer values out of range
    (uint64 above 2^63 included)."""
    dtypes = st.sampled_from(INT_DTYPES + ["float32", "float64", "bool", "complex64"])
    wrong_dtype = dtypes.map(lambda t: x.astype(t) if t != "bool" else x != 0)
    shapes = st.sampled_from([x.ravel(), x[None], x[:, :0], x[:0], x.T, x[:, :-1],
                              np.zeros((), x.dtype)])

    def poke(args):
        dtype, i, value = args
        info = np.iinfo(dtype)
        y = np.clip(x.astype(np.int64), max(info.min, -128), 127).astype(dtype)
        y.flat[i % y.size] = info.min + value % (int(info.max) - int(info.min) + 1)
        return y

    poked = st.tuples(st.sampled_from(INT_DTYPES), st.integers(0, 10 ** 6),
                      st.integers(0, 2 ** 64 - 1)).map(poke)
    return st.one_of(wrong_dtype, shapes, poked).map(npy_bytes)


def npy_damage(x: np.ndarray):
    return st.one_of(damaged(npy_bytes(x)), reshaped(x))


# -- valid inputs ----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "iss"])
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_valid_inputs_give_the_exact_answer(d, tmp_path, backend, mode):
    status, out, err = cli("gemm", "--acts", d / "A.npy", "--weights", d / "W.npy", "--out",
                           tmp_path / "O.npy", "--backend", backend, "--mode", mode,
                           "--config", d / "c.json")
    assert (status, err) == (0, "")
    np.testing.assert_array_equal(np.load(tmp_path / "O.npy"), oracle(A, W))
    assert cli("compile", "--acts", d / "A.npy", "--weights", d / "W.npy", "--out",
               tmp_path / "p.npz", "--mode", mode, "--config", d / "c.json")[0] == 0
    np.testing.assert_array_equal(run_program(Program.load(tmp_path / "p.npz")).output,
                                  oracle(A, W))
    assert cli("disasm", tmp_path / "p.npz")[0] == 0


# -- fuzzing ---------------------------------------------------------------------------------

@FUZZ
@given(which=st.sampled_from(["--acts", "--weights"]), backend=st.sampled_from(["numpy", "iss"]),
       mode=st.sampled_from(["bitserial", "elut"]), data=st.data())
def test_gemm_damaged_npy(d, which, backend, mode, data):
    bad = d / "bad.npy"
    bad.write_bytes(data.draw(npy_damage(A if which == "--acts" else W)))
    out_path = d / "O.npy"
    out_path.unlink(missing_ok=True)
    files = {"--acts": d / "A.npy", "--weights": d / "W.npy", which: bad}
    status, out, err = cli("gemm", *[x for kv in files.items() for x in kv], "--out", out_path,
                           "--backend", backend, "--mode", mode, "--preset", "tiny")
    if status == 0:            # the damage left a valid input: the answer for what was read
        a, w = np.load(files["--acts"]), np.load(files["--weights"])
        np.testing.assert_array_equal(np.load(out_path), oracle(a, w))
    else:
        assert_refused(status, out, err, "gemm")
        assert not out_path.exists()


@FUZZ
@given(which=st.sampled_from(["--acts", "--weights"]), data=st.data())
def test_compile_damaged_npy(d, which, data):
    bad = d / "bad.npy"
    bad.write_bytes(data.draw(npy_damage(A if which == "--acts" else W)))
    files = {"--acts": d / "A.npy", "--weights": d / "W.npy", which: bad}
    prog = d / "out.npz"
    prog.unlink(missing_ok=True)
    status, out, err = cli("compile", *[x for kv in files.items() for x in kv], "--out", prog,
                           "--preset", "tiny")
    if status == 0:
        a, w = np.load(files["--acts"]), np.load(files["--weights"])
        np.testing.assert_array_equal(run_program(Program.load(prog)).output, oracle(a, w))
    else:
        assert_refused(status, out, err, "compile")
        assert not prog.exists()


@FUZZ
@given(data=st.data())
def test_disasm_damaged_program(d, data):
    bad = d / "bad.npz"
    bad.write_bytes(data.draw(damaged((d / "p.npz").read_bytes())))
    status, out, err = cli("disasm", bad)
    if status == 0:            # only harmless bytes changed (zip CRCs guard the arrays)
        np.testing.assert_array_equal(run_program(Program.load(bad)).output, oracle(A, W))
    else:
        assert_refused(status, out, err, "disasm")


def _config_damage():
    """Strategy: damaged config files: bytes damaged anyhow, other encodings, JSON of the
    wrong type, fields of the wrong type or out of range."""
    text = CONFIG.to_json()
    fields = st.dictionaries(st.sampled_from(sorted(CONFIG.to_dict()) + ["lanes"]),
                             st.one_of(st.integers(-2 ** 70, 2 ** 70), st.booleans(),
                                       st.none(), st.text(max_size=4),
                                       st.floats(allow_nan=True)), max_size=3)
    return st.one_of(
        damaged(text.encode()),
        st.sampled_from(["utf-16", "utf-32", "latin-1"]).map(
            lambda enc: text.replace('"tiny"', '"tíny"').encode(enc)),
        st.sampled_from(["[]", "null", "3", '"tiny"', "{", "", "[" * 5000]).map(str.encode),
        fields.map(lambda f: json.dumps({**CONFIG.to_dict(), **f}).encode()),
    )


@FUZZ
@given(data=st.data())
def test_gemm_and_compile_damaged_config(d, data):
    bad = d / "bad.json"
    bad.write_bytes(data.draw(_config_damage()))
    out_path = d / "O.npy"
    out_path.unlink(missing_ok=True)
    status, out, err = cli("gemm", "--acts", d / "A.npy", "--weights", d / "W.npy", "--out",
                           out_path, "--config", bad, "--backend", "iss")
    if status == 0:            # still a valid configuration: still the exact answer
        np.testing.assert_array_equal(np.load(out_path), oracle(A, W))
    else:
        assert_refused(status, out, err, "gemm")
    status, out, err = cli("compile", "--acts", d / "A.npy", "--weights", d / "W.npy",
                           "--out", d / "cfg.npz", "--config", bad)
    if status == 0:
        np.testing.assert_array_equal(
            run_program(Program.load(d / "cfg.npz")).output, oracle(A, W))
    else:
        assert_refused(status, out, err, "compile")


def _refused_config():
    """Strategy: config files no configuration can come from (so no tool run can start):
    truncated before the closing brace, not UTF-8, or not an object."""
    text = CONFIG.to_json().encode()
    return st.one_of(st.integers(0, len(text) - 1).map(lambda i: text[:i]),
                     st.binary(max_size=8).map(lambda b: b"\xff" + b + text),
                     st.sampled_from([b"[]", b"null", b'"tiny"']))


_TOOLS = [("verilog", ["--out", "{out}"]),
          ("fpga", ["--board", "icebreaker", "--out", "{out}"]),
          ("synth", ["--out", "{out}"]),
          ("bench", ["iss"]),
          ("bench", ["rtl"])]
if importlib.util.find_spec("lutcore.cli.dse") is not None:
    _TOOLS.append(("dse", ["--out", "{out}"]))


@FUZZ
@given(tool=st.sampled_from(_TOOLS), config=_refused_config())
def test_tools_refuse_bad_configs_before_running(d, tool, config):
    bad = d / "tool.json"
    bad.write_bytes(config)
    command, args = tool
    argv = [x.replace("{out}", str(d / "tool_out")) for x in args]
    status, out, err = cli(command, *argv, "--config", bad)
    assert_refused(status, out, err, command)


@pytest.mark.parametrize("argv", [
    ["synth", "--jobs", "x"], ["synth", "--tile", "2by8"], ["synth", "--preset", "tiny",
                                                          "--config", "c.json"],
    ["bench", "iss", "--m", "one"], ["bench", "rtl", "--mode", "ELUT"], ["bench", "gpu"],
    ["gemm", "--acts", "A.npy"], ["compile", "--ksplit", "sideways"], ["disasm"],
    ["verilog", "--out"], ["fpga", "--board", "icebreaker", "--out", "o", "--seed", "x"],
    ["nonsense"], [],
])
def test_argument_errors_are_one_line(argv):
    status, out, err = cli(*argv)
    assert status == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and ": error: " in err


def test_a_closed_output_pipe_ends_quietly(monkeypatch, capsys):
    """``lutcore disasm p.npz | head``: when the reader goes away the command stops with the
    pipeline status 141 and no traceback."""
    import lutcore.cli.disasm as disasm

    def run(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(disasm, "run", run)
    monkeypatch.setattr("lutcore.cli._silence_stdout", lambda: None)
    assert main(["disasm", "p.npz"]) == 141
    assert capsys.readouterr().err == ""
