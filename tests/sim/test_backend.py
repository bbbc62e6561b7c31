"""The ``rtl`` backend (``lutcore.sim.backend``) through the backend registry and the CLI,
the scoreboard's own checks, waves, and the top's and host port's construction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Shape
from amaranth.lib import wiring

from lutcore import backends
from lutcore.cli import main
from lutcore.errors import LutcoreError
from lutcore.hw import hostport
from lutcore.hw.top import Accelerator
from lutcore.sim.backend import run_gemm, run_programs
from lutcore.sim.scoreboard import SimulationError, score
from lutcore.spec import isa
from lutcore.spec.config import preset
from lutcore.sw.compiler import compile_gemm

pytestmark = pytest.mark.rtl


def operands(m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, k), dtype=np.int8),
            rng.integers(-1, 2, (n, k), dtype=np.int8))


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_backend_registry_runs_rtl(mode, model_of):
    model_of(preset("tiny"))
    a, w = operands(3, 10, 29)
    result = backends.get_backend("rtl").run_gemm(a, w, mode=mode, config="tiny", seed=2,
                                                  idle=0.3, stall=0.3)
    np.testing.assert_array_equal(result.output, a.astype(np.int64) @ w.T.astype(np.int64))
    info = result.info
    assert info["backend"] == "rtl" and info["bit_exact"] and info["cycles_match"]
    assert result.cycles == sum(info["predicted_cycles"]) == sum(info["iss_cycles"])
    iss = backends.get_backend("iss").run_gemm(a, w, mode=mode, config="tiny")
    assert result.cycles == iss.cycles and result.utilization == pytest.approx(iss.utilization)
    cfg = preset("tiny")
    tiles = -(-w.shape[0] // cfg.n)
    subs = -(-cfg.out_word_bits // cfg.host_bits)
    # every output row of every column tile is read once, sub-word by sub-word
    assert info["host_writes"] > 0 and info["host_reads"] == a.shape[0] * tiles * subs


def test_cli_gemm_backend_rtl(tmp_path, capsys, model_of):
    model_of(preset("tiny"))
    a, w = operands(2, 9, 17, seed=4)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "w.npy", w)
    status = main(["gemm", "--backend", "rtl", "--preset", "tiny", "--mode", "elut",
                   "--acts", str(tmp_path / "a.npy"), "--weights", str(tmp_path / "w.npy"),
                   "--out", str(tmp_path / "o.npy")])
    assert status == 0, capsys.readouterr().err
    out = np.load(tmp_path / "o.npy")
    np.testing.assert_array_equal(out, a.astype(np.int64) @ w.T.astype(np.int64))


def test_backend_rejects_unknown_options():
    a, w = operands(1, 1, 4)
    with pytest.raises(LutcoreError, match=r"^rtl backend option\(s\) \['speed'\] are unknown"):
        run_gemm(a, w, config="tiny", speed=3)


def test_scoreboard_catches_wrong_outputs_and_cycles(model_of):
    config = preset("tiny")
    model_of(config)
    a, w = operands(2, 9, 13, seed=7)
    program = compile_gemm(a, w, config=config, mode="bitserial")
    run = run_programs([program], config)
    records = run.results[0]
    assert score(program, records, a=a, w=w).ok
    wrong_cycles = [dict(r, cycles=r["cycles"] + 1) for r in records]
    result = score(program, wrong_cycles, a=a, w=w)
    assert not result.ok and "CYCLES" in result.mismatches[0]
    wrong_word = [dict(r, words=r["words"].copy()) for r in records]
    wrong_word[0]["words"][0, 0] ^= 1
    result = score(program, wrong_word, a=a, w=w)
    assert any("differs from the ISS" in m for m in result.mismatches)
    with pytest.raises(SimulationError, match="differs from the ISS"):
        result.raise_on_mismatch()
    faulted = [dict(r, error=1, code=isa.ErrorCode.ADDR_RANGE.value) for r in records]
    assert "ADDR_RANGE" in score(program, faulted).mismatches[0]


@pytest.mark.slow
def test_waves_are_written(tmp_path):
    a, w = operands(1, 3, 9)
    result = run_gemm(a, w, config="tiny", waves=True)
    dump = result.info["waves"]
    with open(dump) as f:
        head = f.read(4096)
    assert "$timescale" in head and "host__req__valid" in head


# -- construction (no simulation) ----------------------------------------------------------------

def test_host_port_signature():
    for bits in (8, 16, 32, 64):
        ours = hostport.HostPortSignature(bits)
        assert ours.host_bits == bits and ours == hostport.HostPortSignature(bits)
        assert set(ours.members) == {"req", "resp"}
        assert ours.members["req"].flow == wiring.Out and ours.members["resp"].flow == wiring.In
        assert ours.members["resp"].signature.members["payload"].shape == bits
        fields = dict(hostport.RequestLayout(bits))
        assert {k: Shape.cast(v.shape).width for k, v in fields.items()} == {
            "addr": 32, "data": bits, "write": 1}
    with pytest.raises(ValueError, match=r"^host_bits = 24 is invalid: allowed 8, 16, 32, 64$"):
        hostport.RequestLayout(24)


# Constructed to inspect or to fail, never elaborated.
@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_accelerator_members_and_errors(monkeypatch):
    top = Accelerator(preset("tiny"))
    assert top.signature.members["host"] == wiring.In(hostport.HostPortSignature(32))
    assert top.cycles_bits == 64 and top.config is preset("tiny")
    with pytest.raises(TypeError, match=r"^Accelerator: config must be a CoreConfig, not 'tiny'$"):
        Accelerator("tiny")
    slow = dataclasses.replace(isa.TIMING, LMMA_LATENCY=3)
    monkeypatch.setattr(isa, "TIMING", slow)
    with pytest.raises(LutcoreError, match=r"controller's timing .* differs from isa.TIMING"):
        Accelerator(preset("tiny"))
