"""The ``rtl`` device: one Verilator simulation serving GEMM after GEMM in a session,
bit-exact with the int64 reference, CYCLES (the RTL's own register) equal to the ISS; the
backend through run_gemm and the CLI; waves."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lutcore.cli import main
from lutcore.host import get_backend, open_device, run_gemm, run_program
from lutcore.spec.config import preset
from lutcore.sw.compiler import compile_gemm

pytestmark = pytest.mark.rtl


def operands(m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, k), dtype=np.int8),
            rng.integers(-1, 2, (n, k), dtype=np.int8))


def reference(a, w):
    return a.astype(np.int64) @ w.astype(np.int64).T


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_session_serves_two_gemms_in_one_simulator_process(model_of):
    cfg = preset("tiny")
    model_of(cfg)
    gemms = [operands(3, 10, 29, seed=1), operands(2, 5, 1100, seed=2)]   # the second splits K
    with open_device("rtl", cfg, seed=2, idle=0.3, stall=0.3) as dev:
        pid = dev.pid
        assert pid != os.getpid() and alive(pid)
        results = [dev.gemm(a, w, mode=mode) for (a, w), mode in zip(gemms, ["bitserial",
                                                                           "elut"])]
    assert not alive(pid)
    for (a, w), result in zip(gemms, results):
        np.testing.assert_array_equal(result.output, reference(a, w))
        assert result.info["device"]["pid"] == pid and result.info["bit_exact"]
    assert dev.transport.stats["idle_cycles"] > 0 and dev.transport.stats["stall_cycles"] > 0


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_rtl_cycles_register_equals_the_iss(mode, model_of):
    """CYCLES read from the RTL (check off, so the device compares nothing) against the ISS
    running the same program: an independent count."""
    cfg = preset("tiny")
    model_of(cfg)
    a, w = operands(2, 9, 37, seed=3)
    result = run_gemm(a, w, backend="rtl", mode=mode, config=cfg, check=False)
    np.testing.assert_array_equal(result.output, reference(a, w))
    iss = run_program(compile_gemm(a, w, config=cfg, mode=mode))
    assert result.info["phase_cycles"] == iss.phase_cycles
    assert result.info["iss_cycles"] is None and result.info["bit_exact"] is None
    assert result.cycles == iss.cycles
    subs = -(-cfg.out_word_bits // cfg.host_bits)
    # every output row of every column tile is read once, sub-word by sub-word
    assert result.info["host_reads"] == a.shape[0] * -(-w.shape[0] // cfg.n) * subs


def test_backend_by_name_and_cli(tmp_path, capsys, model_of):
    model_of(preset("tiny"))
    a, w = operands(2, 9, 17, seed=4)
    result = get_backend("rtl").run_gemm(a, w, mode="elut", config="tiny")
    assert result.info["bit_exact"] and result.info["iss_cycles"] == result.info["phase_cycles"]
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "w.npy", w)
    status = main(["gemm", "--backend", "rtl", "--preset", "tiny", "--mode", "elut",
                   "--acts", str(tmp_path / "a.npy"), "--weights", str(tmp_path / "w.npy"),
                   "--out", str(tmp_path / "o.npy")])
    assert status == 0, capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), reference(a, w))


@pytest.mark.slow
def test_waves_path_is_printed_and_returned(capsys):
    a, w = operands(1, 3, 9)
    result = run_gemm(a, w, backend="rtl", config="tiny", waves=True)
    dump = result.info["waves"]
    assert f"waveform written to {dump}" in capsys.readouterr().err
    with open(dump, "rb") as f:
        head = f.read(4096)
    assert dump.endswith(".fst") or b"host__req__valid" in head
