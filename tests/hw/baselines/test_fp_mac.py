# amaranth: UnusedElaboratable=no

"""The FP16 MAC baseline against a NumPy model of its stated order: products of FP16 values
in ``float32`` (exact), each step's products summed as the balanced tree, step sums into
five interleaved partials (fresh ones +0), the partials added as ((s0 + s1) + (s2 + s3)) +
s4, every addition a ``float32`` one (IEEE, rounded to nearest even). Tiles with random
idle steps and output backpressure, a second finalize of the same sums, a clear that
restarts them, signed zeros, subnormals, infinities and NaNs, and the documented latencies.
Amaranth's simulator builds the many FP adders slowly: the fast suite runs a 1 x 2 tile,
``make regress`` a 2 x 3 one (the row selection of the output)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from lutcore.errors import LutcoreError
from lutcore.hw.baselines import FpMacCore
from lutcore.hw.verilog import generate_verilog

F16, F32 = np.float16, np.float32
LANES = 5


# -- the model ----------------------------------------------------------------------------
def tree(terms: list) -> F32:
    """Terms 2j and 2j + 1 paired at each level, an odd last one carried up."""
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[len(terms) & ~1:]
    return terms[0]


def model(acts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Outputs ``[m, n]`` (float32) of the steps ``acts [S, m, g]``, ``weights [S, n, g]``
    (float16) since a clear."""
    steps, m, g = acts.shape
    n = weights.shape[1]
    out = np.zeros((m, n), F32)
    with np.errstate(all="ignore"):
        for r in range(m):
            for c in range(n):
                lanes = [F32(0.0)] * LANES
                for k in range(steps):
                    products = [F32(acts[k, r, i]) * F32(weights[k, c, i]) for i in range(g)]
                    lanes[k % LANES] = lanes[k % LANES] + tree(products)
                out[r, c] = tree(lanes)
    return out


def test_model_order_by_hand():
    """Rounding makes the order visible: 2^24 + 1 + 1 is 2^24 one at a time, 2^24 + 2 as
    (1 + 1) first; and the lanes: steps 0 and 5 share a partial."""
    acts = np.array([[[2.0 ** 12, 1.0, 1.0]]], F16)
    weights = np.array([[[2.0 ** 12, 1.0, 1.0]]], F16)
    # g = 3: (p0 + p1) + p2 = (2^24 + 1) + 1 = 2^24 (ties to even twice).
    assert model(acts, weights)[0, 0] == 2.0 ** 24
    acts = np.array([[[1.0, 1.0, 2.0 ** 12]]], F16)
    assert model(acts, weights[:, :, ::-1])[0, 0] == 2.0 ** 24 + 2       # (1 + 1) + 2^24
    # Six steps: step 5 joins step 0's partial; -2^24 + (2^24 + 1) ... order by partials.
    one = np.ones((6, 1, 1), F16)
    w = np.array([4096, 1, 1, 1, 1, -4096], F16).reshape(6, 1, 1)
    a = np.array([4096, 1, 1, 1, 1, 4096], F16).reshape(6, 1, 1)
    # s0 = 2^24 - 2^24 = 0 in partial 0, then 0 + 1 + 1 + 1 + 1 = 4 exactly.
    assert model(a, w)[0, 0] == 4.0
    assert model(one, one)[0, 0] == 6.0


# -- data ---------------------------------------------------------------------------------
def random_halves(rng, shape, *, specials: bool) -> np.ndarray:
    """FP16 bit patterns: random signs, exponents (subnormals included) and fractions, a
    tenth of them signed zeros; with ``specials`` a few infinities and NaNs too."""
    bits = rng.integers(0, 1 << 16, shape, dtype=np.uint16)
    finite = (bits & 0x7C00) != 0x7C00
    bits = np.where(finite, bits, bits & 0x83FF)                       # inf/NaN -> subnormal
    zero = rng.random(shape) < 0.1
    bits = np.where(zero, bits & 0x8000, bits)
    if specials:
        pick = rng.random(shape)
        bits = np.where(pick < 0.02, np.uint16(0x7C00) | (bits & 0x8000), bits)   # +-inf
        bits = np.where((pick >= 0.02) & (pick < 0.03), np.uint16(0x7E01), bits)  # NaN
    return bits.view(F16)


# -- simulation ---------------------------------------------------------------------------
def simulate(dut: FpMacCore, tiles, *, seed: int, idle: float, stall: float,
             finalizes: int = 2):
    """Each tile: its steps (the first with ``clear``), random idle cycles between them, then
    ``finalizes`` finalizes; the rows of each (float32 ``[m, n]``) and, per finalize, the
    cycles from its acceptance to row 0 being offered."""
    rng = random.Random(seed)
    results, latencies = [], []

    async def bench(ctx):
        for acts, weights in tiles:
            for k in range(acts.shape[0]):
                while rng.random() < idle:
                    ctx.set(dut.steps.valid, 0)
                    await ctx.tick()
                ctx.set(dut.steps.payload, dut.step_layout.const({
                    "acts": acts[k].view(np.uint16).tolist(),
                    "weights": weights[k].view(np.uint16).tolist(),
                    "clear": int(k == 0)}))
                ctx.set(dut.steps.valid, 1)
                await ctx.tick().until(dut.steps.ready)
            ctx.set(dut.steps.valid, 0)
            for _ in range(finalizes):
                ctx.set(dut.finalize.valid, 1)
                await ctx.tick().until(dut.finalize.ready)
                ctx.set(dut.finalize.valid, 0)
                assert not ctx.get(dut.steps.ready)          # steps wait for the readout
                rows, cycle, first = [], 1, None
                while len(rows) < dut.m:
                    ready = stall == 0 or rng.random() >= stall
                    ctx.set(dut.rows.ready, ready)
                    valid, payload = ctx.get(dut.rows.valid), ctx.get(dut.rows.payload)
                    if valid and first is None:
                        first = cycle
                    await ctx.tick()
                    cycle += 1
                    if valid and ready:
                        assert payload.row == len(rows)
                        assert payload.last == (len(rows) == dut.m - 1)
                        rows.append([payload.word[c] for c in range(dut.n)])
                ctx.set(dut.rows.ready, 1)
                for _ in range(3):                            # drained: nothing extra
                    assert not ctx.get(dut.rows.valid)
                    await ctx.tick()
                assert ctx.get(dut.steps.ready)
                results.append(np.array(rows, np.uint32).view(F32))
                latencies.append(first)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results, latencies


def same(got: np.ndarray, want: np.ndarray) -> bool:
    """Bit for bit, every NaN as NaN."""
    nan = np.isnan(want)
    return bool((np.isnan(got) == nan).all()
                and (got[~nan].view(np.uint32) == want[~nan].view(np.uint32)).all())


@pytest.mark.parametrize("m,n,g,steps", [
    (1, 2, 3, 7),
    pytest.param(2, 3, 4, 11, marks=pytest.mark.slow),
])
def test_fp_mac_bit_exact(m, n, g, steps):
    rng = np.random.default_rng(m * 10 + g)
    dut = FpMacCore(m=m, n=n, g=g)
    special = (random_halves(rng, (3, m, g), specials=True),
               random_halves(rng, (3, n, g), specials=True))
    special[0][0, 0, 0] = np.inf                      # row 0: inf * 2 and inf * 0
    special[1][0, :, 0] = [2.0] + [0.0] * (n - 1)
    tiles = [(random_halves(rng, (steps, m, g), specials=False),
              random_halves(rng, (steps, n, g), specials=False)), special]
    results, _ = simulate(dut, tiles, seed=g, idle=0.3, stall=0.4)
    for t, (acts, weights) in enumerate(tiles):
        want = model(acts, weights)
        for f in range(2):                      # the second finalize gives the same rows
            assert same(results[2 * t + f], want), (t, f, results[2 * t + f], want)
    assert not np.isfinite(model(*special)[0]).any()     # the specials reach the outputs


def test_latencies():
    """Without idle cycles or backpressure, row 0 comes ``finalize_latency`` cycles after
    the finalize's acceptance; the step latency is the multipliers' 2 plus 5 per tree
    level."""
    dut = FpMacCore(m=1, n=1, g=4)
    assert (dut.tree_levels, dut.step_latency) == (2, 12)
    assert dut.finalize_latency == dut.step_latency - 1 + 5 + 15 + 2
    ones = np.ones((2, 1, 4), F16)
    results, latencies = simulate(dut, [(ones, ones)], seed=0, idle=0.0, stall=0.0,
                                  finalizes=1)
    assert results[0][0, 0] == 8.0
    assert latencies == [dut.finalize_latency]


# -- parameters and the registry -----------------------------------------------------------
@pytest.mark.parametrize("kwargs,error,message", [
    (dict(m=0, n=1, g=4), LutcoreError, "FpMacCore: m = 0 is invalid: allowed 1..16"),
    (dict(m=1, n=1, g=65), LutcoreError, "FpMacCore: g = 65 is invalid: allowed 1..64"),
    (dict(m=1, n=1, g="4"), TypeError, "FpMacCore: g must be an integer, not '4'"),
    (dict(m=1, n=1, g=4, operand_format="fp32"), LutcoreError,
     "FpMacCore: operand_format 'fp32' is unknown: allowed fp16, bf16"),
    (dict(m=1, n=1, g=4, acc_format="bf16"), LutcoreError,
     "FpMacCore: acc_format 'bf16' is unknown: allowed fp16, fp32"),
])
def test_parameter_messages(kwargs, error, message):
    with pytest.raises(error) as e:
        FpMacCore(**kwargs)
    assert str(e.value) == message


def test_properties_and_registry():
    dut = FpMacCore(m=2, n=8, g=4)
    assert (dut.m, dut.n, dut.g, dut.products_per_step) == (2, 8, 4, 64)
    assert (dut.operand_format, dut.acc_format) == ("fp16", "fp32")
    with pytest.raises(AttributeError):
        dut.m = 3
    text = generate_verilog("lutcore_fp_mac_core", m=1, n=1, g=2)
    assert text.count("module lutcore_fp_mac_core(") == 1
    assert "steps__payload" in text and "rows__payload" in text
