"""The ISS on cores with FP activations: the FP contract's values (the golden model of
``lutcore.sw.kernels.fp``, itself checked against exact IEEE arithmetic), its order across
K splits, and the FP blocks' cycle counts derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lutcore.errors import LutcoreError
from lutcore.host import run_gemm
from lutcore.host.scoreboard import first_difference
from lutcore.spec import fp, isa
from lutcore.spec.config import PRESETS
from lutcore.spec.words import pack, word_format
from lutcore.sw.compiler import compile_gemm
from lutcore.sw.iss import Machine
from lutcore.sw.kernels import tables
from lutcore.sw.kernels.fp import fp_lut_gemm
from lutcore.sw.kernels.packing import pack_bitserial, pack_elut

TINY = PRESETS["tiny"]


def golden(a, w, cfg, mode, weight_bits=2, zero_point=1):
    packed = (pack_bitserial(w, g=cfg.g, weight_bits=weight_bits, zero_point=zero_point)
              if mode == "bitserial" else pack_elut(w, g=cfg.elut_g))
    return fp_lut_gemm(a, packed, act_format=cfg.act_format, table_format=cfg.table_format,
                       acc_format=cfg.acc_format, symmetrize=cfg.symmetrize,
                       lookups=cfg.lookups).astype(np.float32)


def acts(rng, shape, fmt, scale=1.0):
    return fp.as_format(rng.standard_normal(shape) * scale, fmt)


def same(got, want):
    assert first_difference(got, want, "the golden model") is None


# Cycles by hand (docs/architecture.md, "Timing contract", FP cores): START 4; PRECOMP
# count + 2 + (2 + 5 * 5): the FP table unit's input and output registers and five 5-stage
# adders (the symmetrized g = 4 plan is 5 adders deep, the ELUT g = 3 plan 2); LMMA
# planes*count + 2; STORE m + 1 + (step - 1) + 28 with the step latency 1 (L = 1: the term
# register, no tree) and the finalize 5 (read-out) + 3 * 5 (lane tree) + 1 + 5 (correction)
# + 2 (output registers); HALT 1.
def test_hand_written_fp_program_values_and_cycles():
    c = TINY.with_act_format("fp16")
    rng = np.random.default_rng(3)
    k = 5 * c.g
    a = acts(rng, (c.m, k), "fp16")
    w = rng.integers(-1, 2, (c.n, k))
    m = Machine(c)
    values = np.zeros((5, c.m, c.act_slots), np.int64)
    values[:, :, :c.g] = a.view(np.uint16).astype(np.int64).reshape(c.m, 5, c.g).transpose(1, 0, 2)
    m.write(isa.Region.ACT, 0, pack(values.reshape(5, -1), word_format(isa.Region.ACT, c)))
    u, s = tables.encode_bitserial(w, c.g, 2, 1)                         # [2, n, 5]
    codes = (u.astype(np.int64) | s.astype(np.int64) << (c.code_bits - 1)).transpose(0, 2, 1)
    m.write(isa.Region.WEIGHT, 7, pack(codes.reshape(10, c.n), word_format(isa.Region.WEIGHT, c)))
    m.write(isa.Region.INSTR, 0, np.array(isa.assemble("""
        precomp bitserial act=0 table=3 count=5
        lmma bitserial table=3 weight=7 count=5 planes=2 clear
        store out=4 c=1
        halt
    """), np.uint64))
    stats = m.run()
    assert stats.cycles == 4 + (5 + 2 + 27) + (2 * 5 + 2) + (1 + 1 + 0 + 28) + 1
    out = m.out[4:4 + c.m].astype(np.uint32).view(np.float32)
    same(out, golden(a, w, c, "bitserial"))
    # close to the exact product (FP32 tables and sums of FP16 values)
    np.testing.assert_allclose(out, a.astype(np.float64) @ w.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("act_format, table_format, acc_format", [
    ("fp16", "fp32", "fp32"), ("fp16", "fp16", "fp16"), ("bf16", "bf16", "fp32"),
    ("bf16", "fp32", "fp32")])
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("lookups", [1, 3])
def test_iss_equals_the_golden_model(act_format, table_format, acc_format, mode, lookups):
    c = TINY.replace(lookups=lookups).with_act_format(act_format, table_format=table_format,
                                                      acc_format=acc_format)
    rng = np.random.default_rng(lookups)
    a = acts(rng, (3, 59), act_format)
    w = rng.integers(-1, 2, (9, 59))
    result = run_gemm(a, w, backend="iss", mode=mode, config=c)
    assert result.output.dtype == np.float32
    same(result.output, golden(a, w, c, mode))


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_long_k_is_accumulated_on_the_core_in_k_order(mode):
    """K = 1100 needs more steps than the 256-word buffers: the chunks of every tile go to
    the core in K order (the integer schedule alternates it), and never to the host."""
    c = TINY.with_act_format("fp16", table_format="fp16", acc_format="fp16")
    rng = np.random.default_rng(5)
    a = acts(rng, (2, 1100), "fp16")
    w = rng.integers(-1, 2, (9, 1100))        # three column tiles: the second runs backwards
    program = compile_gemm(a, w, config=c, mode=mode)
    assert program.meta["ksplit"] == "device" and program.meta["k_chunks"] > 1
    result = run_gemm(a, w, backend="iss", mode=mode, config=c)
    same(result.output, golden(a, w, c, mode))
    with pytest.raises(LutcoreError, match="ksplit 'host' is not available on config "
                       "'tiny_fp16' \\(act_format fp16\\)"):
        compile_gemm(a, w, config=c, mode=mode, ksplit="host")


def test_integer_weights_and_special_values():
    """INT2 weights with a zero point (c = 2^2 - 1 - 2*0 = 3), and inf / NaN activations:
    they propagate as IEEE arithmetic says (a row holding NaN gives NaN outputs)."""
    c = TINY.with_act_format("bf16")
    rng = np.random.default_rng(9)
    a = acts(rng, (3, 21), "bf16", scale=1e3)
    a[1, 4] = np.inf
    a[2, 0] = np.nan
    w = rng.integers(0, 4, (5, 21))
    result = run_gemm(a, w, backend="iss", config=c, weight_bits=2, zero_point=0)
    same(result.output, golden(a, w, c, "bitserial", weight_bits=2, zero_point=0))
    assert np.isnan(result.output[2]).all() and np.isfinite(result.output[0]).all()


def test_fp_activations_are_refused_in_one_line():
    c = TINY.with_act_format("fp16")
    w = np.ones((2, 8), np.int64)
    with pytest.raises(LutcoreError, match="acts has dtype int64: act_format fp16 takes "
                       "float16"):
        compile_gemm(np.ones((2, 8), np.int64), w, config=c)


def test_elut_after_bitserial_on_one_device_has_no_stale_row_sums():
    """An ELUT tile gives its row sums no addend: its STORE must see them cleared (+0, as
    the FP LUT core clears them while it reads them out), not the last bit-serial tile's
    (here infinite: 0 * inf would be NaN)."""
    from lutcore.host import open_device
    c = TINY.with_act_format("fp16")
    a_inf = np.full((1, 8), np.inf, np.float16)
    a = np.arange(1, 9, dtype=np.float16)[None, :]
    w = np.ones((1, 8), np.int64)
    with open_device("iss", c) as dev:
        dev.gemm(a_inf, w, mode="bitserial")
        out = dev.gemm(a, w, mode="elut").output
        assert out.tolist() == [[36.0]]                      # 1 + 2 + ... + 8
        same(dev.gemm(a, w, mode="bitserial").output, golden(a, w, c, "bitserial"))


@pytest.mark.parametrize("values", [(0, 1), (-1, 0), (-1, 1)])
def test_numpy_backend_takes_the_compilers_planes(values):
    """Ternary weights using two values only are one plane on the compiled backends (B = 1);
    the numpy backend takes the same planes, so the FP sums agree bit for bit."""
    c = TINY.with_act_format("fp16", table_format="fp16", acc_format="fp16")
    rng = np.random.default_rng(11)
    a = acts(rng, (3, 301), "fp16", scale=100.0)
    w = rng.choice(values, (6, 301))
    same(run_gemm(a, w, backend="numpy", config=c).output,
         run_gemm(a, w, backend="iss", config=c).output)
