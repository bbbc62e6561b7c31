"""``lutcore gemm``: results, the one-line exit-2 errors, backend dispatch and options."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lutcore.host.devices
import lutcore.cli.gemm as cli_gemm
from lutcore.host import GemmResult
from lutcore.cli import main

SENTINEL = b"untouched"


def oracle(a, w):
    return np.asarray(a, np.int64) @ np.asarray(w, np.int64).T


@pytest.fixture
def files(tmp_path):
    """Write named arrays to tmp_path; return a function name -> path."""
    rng = np.random.default_rng(3)
    arrays = {
        "A.npy": rng.integers(-128, 128, (3, 21)).astype(np.int8),
        "W.npy": rng.integers(-1, 2, (5, 21)).astype(np.int8),
        "W2.npy": np.where(np.arange(21) == 4, 2, 0)[None].repeat(5, 0).astype(np.int8),
        "Wk.npy": rng.integers(-1, 2, (5, 20)).astype(np.int8),
        "Af.npy": rng.normal(size=(3, 21)).astype(np.float32),
        "Abig.npy": np.full((3, 21), 200, np.int16),
        "A1.npy": np.zeros(21, np.int8),
        "A0.npy": np.zeros((0, 21), np.int8),
        "W0.npy": np.zeros((5, 0), np.int8),
    }
    for name, arr in arrays.items():
        np.save(tmp_path / name, arr)
    (tmp_path / "junk.npy").write_text("not numpy")
    np.savez(tmp_path / "Z.npz", x=np.zeros(3))
    (tmp_path / "dir.npy").mkdir()

    def path(name):
        return str(tmp_path / name)
    path.arrays = arrays
    return path


def run(capsys, *argv):
    status = main(["gemm", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("preset", ["tiny", "default", "large"])
def test_result(files, capsys, tmp_path, mode, preset):
    out_path = tmp_path / "O.npy"
    status, out, err = run(capsys, "--acts", files("A.npy"), "--weights", files("W.npy"),
                           "--out", str(out_path), "--mode", mode, "--preset", preset)
    assert (status, err) == (0, "")
    o = np.load(out_path)
    assert o.dtype == np.int32 and o.shape == (3, 5)
    np.testing.assert_array_equal(o, oracle(files.arrays["A.npy"], files.arrays["W.npy"]))
    assert out == (f"lutcore gemm: wrote {out_path} (int32 [3, 5]; K = 21, mode {mode}, "
                   f"backend numpy, preset {preset})\n")


ERRORS = [
    ("non-ternary", ["--weights", "W2.npy"],
     "--weights '{W2.npy}' is not ternary: value 2 at [0, 4]; allowed -1, 0, 1"),
    ("K mismatch", ["--weights", "Wk.npy"],
     "K mismatch: --weights '{Wk.npy}' has K = 20 (shape (5, 20)) but --acts '{A.npy}' has "
     "K = 21 (shape (3, 21)); weights must be [N, K] for activations [M, K]"),
    ("dtype", ["--acts", "Af.npy"],
     "--acts '{Af.npy}' has dtype float32: activations are integers (int8), float16 (fp16), "
     "or bfloat16 bit patterns as uint16 with --act-format bf16"),
    ("range", ["--acts", "Abig.npy"],
     "--acts '{Abig.npy}' has value 200 at [0, 0]: allowed -128..127 (act_bits = 8)"),
    ("rank", ["--acts", "A1.npy"],
     "--acts '{A1.npy}' must be a 2-D array [M, K], got 1-D shape (21,)"),
    ("empty acts", ["--acts", "A0.npy"],
     "--acts '{A0.npy}' is empty (shape (0, 21)): [M, K] must both be >= 1"),
    ("empty weights", ["--weights", "W0.npy"],
     "--weights '{W0.npy}' is empty (shape (5, 0)): [N, K] must both be >= 1"),
    ("missing", ["--acts", "nope.npy"], "--acts '{nope.npy}' cannot be read: no such file"),
    ("not npy", ["--weights", "junk.npy"],
     "--weights '{junk.npy}' is not a .npy file (no NumPy header)"),
    ("npz", ["--acts", "Z.npz"],
     "--acts '{Z.npz}' is an .npz archive: expected a single .npy array"),
    ("directory", ["--acts", "dir.npy"], "--acts '{dir.npy}' cannot be read: it is a directory"),
    ("preset", ["--preset", "huge"], "preset 'huge' is unknown: allowed tiny, default, large, decode"),
    ("port", ["--port", "/dev/ttyUSB0"], "--port is only used by --backend uart, not 'numpy'"),
    ("waves", ["--waves"], "--waves is only used by --backend rtl, not 'numpy'"),
]


@pytest.mark.parametrize("extra,message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(files, capsys, tmp_path, extra, message):
    out_path = tmp_path / "O.npy"
    out_path.write_bytes(SENTINEL)
    args = {"--acts": files("A.npy"), "--weights": files("W.npy"), "--out": str(out_path)}
    flags = []
    i = 0
    while i < len(extra):                       # file options name files in tmp_path
        if extra[i] in args:
            args[extra[i]] = files(extra[i + 1])
            i += 2
        else:
            flags.append(extra[i])
            i += 1
    argv = [x for kv in args.items() for x in kv] + flags
    status, out, err = run(capsys, *argv)
    names = {"A.npy", "Wk.npy", "W2.npy", "Af.npy", "Abig.npy", "A1.npy", "A0.npy", "W0.npy",
             "nope.npy", "junk.npy", "Z.npz", "dir.npy"}
    expect = message
    for n in names:
        expect = expect.replace("{" + n + "}", files(n))
    assert status == 2
    assert out == ""
    assert err == f"lutcore gemm: error: {expect}\n"
    assert out_path.read_bytes() == SENTINEL        # nothing written on error


def test_overflow_refused_then_wrapped(capsys, tmp_path):
    # tiny has acc_bits = 24: K = 65536 could overflow (65536 * 128 = 2^23), and with
    # a = -128, w = -1 it does: +2^23 wraps to -2^23.
    k = 1 << 16
    np.save(tmp_path / "A.npy", np.full((1, k), -128, np.int8))
    np.save(tmp_path / "W.npy", np.full((2, k), -1, np.int8))
    argv = ["--acts", str(tmp_path / "A.npy"), "--weights", str(tmp_path / "W.npy"),
            "--out", str(tmp_path / "O.npy"), "--preset", "tiny", "--mode", "elut"]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert err == ("lutcore gemm: error: K = 65536 could overflow acc_bits = 24: worst case "
                   "|O| = 8388608 > 8388607; allow wrapping (--allow-wrap / allow_wrap=True) "
                   "to get the result modulo 2^24\n")
    assert not (tmp_path / "O.npy").exists()
    status, out, err = run(capsys, *argv, "--allow-wrap")
    assert status == 0
    assert np.load(tmp_path / "O.npy").tolist() == [[-(1 << 23), -(1 << 23)]]


def test_missing_argument_is_usage_error(capsys):
    assert main(["gemm", "--acts", "A.npy"]) == 2
    assert capsys.readouterr().err == ("lutcore gemm: error: the following arguments are "
                                       "required: --weights, --out (see lutcore gemm --help)\n")


def test_unavailable_backend(files, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(lutcore.host.devices.BACKENDS, "rtl", "lutcore._no_such_backend")
    status, out, err = run(capsys, "--acts", files("A.npy"), "--weights", files("W.npy"),
                           "--out", str(tmp_path / "O.npy"), "--backend", "rtl")
    assert status == 2
    assert err == ("lutcore gemm: error: --backend 'rtl' is not available in this build: "
                   "No module named 'lutcore._no_such_backend'\n")


def fake_backend(monkeypatch, run_gemm):
    """Replace the command line's one call into the backends (``lutcore.host.run_gemm``)."""
    monkeypatch.setattr(cli_gemm, "run_gemm",
                        lambda a, w, *, backend, **kwargs: run_gemm(a, w, **kwargs))


def test_backend_options_cycles_and_utilization(files, capsys, tmp_path, monkeypatch):
    calls = []

    def run_gemm(a, w, *, mode, config, **options):
        calls.append((a.dtype, w.dtype, mode, config.name, options))
        return GemmResult(oracle(a, w), cycles=1234, utilization=0.5, useful_utilization=0.25)

    fake_backend(monkeypatch, run_gemm)
    status, out, err = run(capsys, "--acts", files("A.npy"), "--weights", files("W.npy"),
                           "--out", str(tmp_path / "O.npy"), "--backend", "rtl", "--waves",
                           "--mode", "elut", "--preset", "large")
    assert (status, err) == (0, "")
    assert calls == [(np.int8, np.int8, "elut", "large", {"allow_wrap": False, "waves": True})]
    assert out.splitlines()[1] == ("cycles: 1234  utilization: 50.0% (array steps / cycles)  "
                                   "useful: 25.0% (needed lookups / peak lookups)")

    calls.clear()
    status, out, err = run(capsys, "--acts", files("A.npy"), "--weights", files("W.npy"),
                           "--out", str(tmp_path / "O.npy"), "--backend", "uart",
                           "--port", "/dev/ttyUSB1", "--allow-wrap")
    assert status == 0
    assert calls[0][4] == {"allow_wrap": True, "port": "/dev/ttyUSB1"}


@pytest.mark.parametrize("output,message", [
    (np.zeros((5, 3), np.int64),
     "returned int64 shape (5, 3): expected integers [M, N] = (3, 5)"),
    (np.zeros((3, 5), np.float64),
     "returned float64 shape (3, 5): expected integers [M, N] = (3, 5)"),
    (np.full((3, 5), 1 << 40, np.int64),
     "returned values outside the signed acc_bits = 32 range"),
])
def test_bad_backend_output_is_not_written(files, capsys, tmp_path, monkeypatch, output,
                                           message):
    fake_backend(monkeypatch, lambda a, w, *, mode, config, **o: GemmResult(output))
    status, out, err = run(capsys, "--acts", files("A.npy"), "--weights", files("W.npy"),
                           "--out", str(tmp_path / "O.npy"), "--backend", "iss")
    assert status == 2
    assert err == f"lutcore gemm: error: --backend 'iss' {message}\n"
    assert not (tmp_path / "O.npy").exists()


def test_subprocess(files, tmp_path):
    out_path = tmp_path / "O.npy"
    cmd = [sys.executable, "-c", "import sys; from lutcore.cli import main; sys.exit(main())",
           "gemm", "--acts", files("A.npy"), "--weights", files("W.npy"),
           "--out", str(out_path), "--mode", "elut"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    np.testing.assert_array_equal(np.load(out_path),
                                  oracle(files.arrays["A.npy"], files.arrays["W.npy"]))
    bad = subprocess.run(cmd[:7] + [files("W2.npy")] + cmd[8:], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("lutcore gemm: error: --weights")


@pytest.mark.parametrize("backend", ["numpy", "iss"])
def test_uint64_above_2_63_is_refused_not_misread(files, capsys, tmp_path, backend):
    # 2^64 - 1 cast to int64 is -1, a valid activation and weight: it must be refused.
    big = np.iinfo(np.uint64).max
    a = files.arrays["A.npy"].astype(np.int64)
    a[a < 0] = 0
    a = a.astype(np.uint64)
    a[1, 2] = big
    np.save(tmp_path / "Au.npy", a)
    status, out, err = run(capsys, "--acts", str(tmp_path / "Au.npy"), "--weights",
                           files("W.npy"), "--out", str(tmp_path / "O.npy"), "--backend",
                           backend)
    assert status == 2 and out == ""
    assert err == (f"lutcore gemm: error: --acts '{tmp_path / 'Au.npy'}' has value {big} at "
                   f"[1, 2]: allowed -128..127 (act_bits = 8)\n")
    assert not (tmp_path / "O.npy").exists()


@pytest.mark.parametrize("bits,zero", [(1, 0), (2, 2), (3, 4), (4, 8), (4, 0)])
def test_bbit_weights_on_iss(capsys, tmp_path, bits, zero):
    rng = np.random.default_rng(bits * 16 + zero)
    a = rng.integers(-128, 128, (3, 37)).astype(np.int8)
    w = rng.integers(-zero, (1 << bits) - zero, (6, 37)).astype(np.int8)
    w[0, :2] = -zero, (1 << bits) - 1 - zero             # both ends of the code range
    np.save(tmp_path / "A.npy", a)
    np.save(tmp_path / "W.npy", w)
    status, out, err = run(capsys, "--acts", str(tmp_path / "A.npy"), "--weights",
                           str(tmp_path / "W.npy"), "--out", str(tmp_path / "O.npy"),
                           "--backend", "iss", "--weight-bits", str(bits), "--zero-point",
                           str(zero), "--preset", "tiny" if bits <= 2 else "default")
    assert (status, err) == (0, "")
    np.testing.assert_array_equal(np.load(tmp_path / "O.npy"), oracle(a, w))


@pytest.mark.parametrize("extra,message", [
    (["--weight-bits", "3", "--preset", "tiny"],
     "--weight-bits 3 is out of range for configuration 'tiny': allowed 1..2"),
    (["--weight-bits", "5"], "argument --weight-bits: 5 is out of range: allowed 1..4"),
    (["--weight-bits", "2", "--zero-point", "4"],
     "--zero-point 4 is out of range: allowed 0..3 (--weight-bits 2)"),
    (["--weight-bits", "2", "--mode", "elut"],
     "--weight-bits/--zero-point apply to --mode bitserial only: --mode elut takes ternary "
     "weights"),
    (["--weight-bits", "1", "--zero-point", "0"],
     "--weights '{W}' has value -1 at [0, 0]: allowed 0..1 (weight_bits = 1, zero_point = 0)"),
    (["--out", "{A}"], "--out '{A}' is the same file as --acts: choose another output, an "
                       "input is never overwritten"),
    (["--out", "{W}"], "--out '{W}' is the same file as --weights: choose another output, an "
                       "input is never overwritten"),
    (["--out", "{dir}"], "--out '{dir}' is a directory: expected a file to write"),
    (["--config", "{A}"], "--config '{A}' is not UTF-8 text: byte 0x93 at offset 0"),
    (["--config", "{A}", "--preset", "tiny"],
     "argument --preset: not allowed with argument --config"),
])
def test_option_and_path_errors(files, capsys, tmp_path, extra, message):
    w = np.zeros((5, 21), np.int8)
    w[0, 0] = -1
    np.save(tmp_path / "W.npy", w)
    names = {"{A}": files("A.npy"), "{W}": str(tmp_path / "W.npy"), "{dir}": str(tmp_path)}
    extra = [names.get(x, x) for x in extra]
    argv = ["--acts", names["{A}"], "--weights", names["{W}"], "--out",
            str(tmp_path / "O.npy"), *extra]
    before = {p: Path(p).read_bytes() for p in (names["{A}"], names["{W}"])}
    status, out, err = run(capsys, *argv)
    for key, value in names.items():
        message = message.replace(key, value)
    prog = "lutcore gemm"
    assert (status, out, err) == (2, "", f"{prog}: error: {message}"
                                  + (" (see lutcore gemm --help)" if "argument" in message
                                     else "") + "\n")
    assert {p: Path(p).read_bytes() for p in before} == before     # inputs untouched


def test_fp16_and_bf16_activations(tmp_path, capsys):
    """FP activation files run by the FP contract on the numpy backend and write float32 O
    equal to the golden model's; every misuse is one line, exit 2."""
    import ml_dtypes

    from lutcore.sw.kernels import pack_bitserial, pack_elut
    from lutcore.sw.kernels.fp import fp_lut_gemm
    rng = np.random.default_rng(9)
    a16 = rng.normal(size=(3, 22)).astype(np.float16)
    abf = rng.normal(size=(3, 22)).astype(ml_dtypes.bfloat16)
    w = rng.integers(-1, 2, (4, 22)).astype(np.int8)
    for name, arr in (("a16.npy", a16), ("abf.npy", abf.view(np.uint16)), ("w.npy", w),
                      ("ai.npy", np.ones((3, 22), np.int8))):
        np.save(tmp_path / name, arr)
    out = tmp_path / "o.npy"
    assert main(["gemm", "--acts", str(tmp_path / "a16.npy"), "--weights",
                 str(tmp_path / "w.npy"), "--out", str(out)]) == 0
    assert "activations fp16, tables fp32, accumulators fp32" in capsys.readouterr().out
    got = np.load(out)
    assert got.dtype == np.float32
    want = fp_lut_gemm(a16, pack_bitserial(w, g=4), act_format="fp16")
    np.testing.assert_array_equal(got, want)
    assert main(["gemm", "--acts", str(tmp_path / "abf.npy"), "--act-format", "bf16",
                 "--weights", str(tmp_path / "w.npy"), "--out", str(out), "--mode", "elut",
                 "--table-format", "bf16"]) == 0
    want = fp_lut_gemm(abf, pack_elut(w, g=3), act_format="bf16", table_format="bf16",
                       acc_format="fp32")
    np.testing.assert_array_equal(np.load(out), want.astype(np.float32))
    capsys.readouterr()
    for extra, message in [
        (["--acts", "a16.npy", "--backend", "iss", "--preset", "default", "--mode", "elut",
          "--weight-bits", "2"],
         "weight_bits and zero_point apply to mode 'bitserial' only: mode 'elut' takes "
         "ternary weights"),
        (["--acts", "ai.npy", "--act-format", "bf16"],
         f"--acts '{tmp_path / 'ai.npy'}' has dtype int8: act_format bf16 takes bfloat16 "
         f"(ml_dtypes) or its bits as uint16"),
        (["--acts", "ai.npy", "--acc-format", "fp16"],
         "--table-format and --acc-format apply to FP activations (--act-format fp16 or bf16)"),
        (["--acts", "a16.npy", "--weight-bits", "2"],
         "--weight-bits/--zero-point with FP activations need a compiled backend (iss, rtl, "
         "uart): --backend numpy takes ternary weights"),
        (["--acts", "abf.npy", "--act-format", "bf16", "--acc-format", "fp16"],
         "config field 'acc_format' = 'fp16' is invalid: must hold table_format fp32 "
         "exactly: allowed fp32"),
        (["--acts", "a16.npy", "--backend", "iss", "--table-format", "bf16"],
         "config field 'table_format' = 'bf16' is invalid: must hold act_format fp16 "
         "exactly: allowed fp16, fp32"),
    ]:
        argv = [str(tmp_path / x) if x.endswith(".npy") else x for x in extra]
        assert main(["gemm", *argv, "--weights", str(tmp_path / "w.npy"), "--out",
                     str(tmp_path / "bad.npy")]) == 2
        err = capsys.readouterr().err
        assert err == f"lutcore gemm: error: {message}\n"
        assert not (tmp_path / "bad.npy").exists()


def test_fp_activations_on_the_iss_use_the_presets_fp_variant(tmp_path, capsys):
    """--preset default with a float16 file runs default's FP16 variant on the ISS, with
    INT2 weights and a zero point; O equals the golden model's with those planes."""
    from lutcore.sw.kernels import pack_bitserial
    from lutcore.sw.kernels.fp import fp_lut_gemm
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 37)).astype(np.float16)
    w = rng.integers(-2, 2, (5, 37)).astype(np.int8)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "w.npy", w)
    out = tmp_path / "o.npy"
    assert main(["gemm", "--acts", str(tmp_path / "a.npy"), "--weights",
                 str(tmp_path / "w.npy"), "--out", str(out), "--backend", "iss",
                 "--weight-bits", "2", "--zero-point", "2", "--acc-format", "fp16",
                 "--table-format", "fp16"]) == 0
    printed = capsys.readouterr().out
    assert "tables fp16, accumulators fp16, backend iss, preset default_fp16" in printed
    assert "cycles: " in printed
    want = fp_lut_gemm(a, pack_bitserial(w, g=4, weight_bits=2, zero_point=2),
                       act_format="fp16", table_format="fp16", acc_format="fp16")
    np.testing.assert_array_equal(np.load(out), want.astype(np.float32))


def test_an_fp_config_file_sets_the_activation_format(tmp_path, capsys):
    """--config holding act_format bf16: a uint16 activation file is read as BF16 bits
    without --act-format (the config says what the activations are)."""
    import ml_dtypes

    from lutcore.spec.config import preset
    from lutcore.sw.kernels import pack_bitserial
    from lutcore.sw.kernels.fp import fp_lut_gemm
    rng = np.random.default_rng(5)
    a = rng.normal(size=(2, 19)).astype(ml_dtypes.bfloat16)
    w = rng.integers(-1, 2, (3, 19)).astype(np.int8)
    np.save(tmp_path / "a.npy", a.view(np.uint16))
    np.save(tmp_path / "w.npy", w)
    (tmp_path / "c.json").write_text(preset("tiny").with_act_format("bf16").to_json())
    assert main(["gemm", "--acts", str(tmp_path / "a.npy"), "--weights",
                 str(tmp_path / "w.npy"), "--out", str(tmp_path / "o.npy"), "--config",
                 str(tmp_path / "c.json"), "--backend", "iss"]) == 0
    assert "activations bf16, tables fp32, accumulators fp32, backend iss, preset tiny_bf16" \
        in capsys.readouterr().out
    want = fp_lut_gemm(a, pack_bitserial(w, g=4), act_format="bf16")
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), want)
