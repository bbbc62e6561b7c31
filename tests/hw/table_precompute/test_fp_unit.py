# amaranth: UnusedElaboratable=no

"""The FP table precompute unit against the FP golden model's tables
(:func:`lutcore.sw.kernels.fp.fp_tables`), bit for bit (NaN as NaN), in both modes and both
table layouts, with subnormal, huge, infinite and NaN activations, under random idle and
backpressure; one word per cycle at the documented latency; and its widening and doubling
against the exact reference of ``tests/support/fpref.py``."""

from __future__ import annotations

import random

import ml_dtypes
import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from fpref import FMT, convert, is_nan, scale_pow2
from hwbench import monitor, pack_array, pack_struct, run, sink, source, wait_until

from lutcore.errors import LutcoreError
from lutcore.hw.layouts import Mode
from lutcore.hw.fp.rounding import double, widen
from lutcore.hw.table_precompute.fp_unit import FpTablePrecompute
from lutcore.sw.kernels.fp import fp_tables

DTYPES = {"fp16": (np.float16, np.uint16), "bf16": (ml_dtypes.bfloat16, np.uint16),
          "fp32": (np.float32, np.uint32)}


def special_patterns(name: str) -> list[int]:
    f = FMT[name]
    base = [0, 1, (1 << f.man_bits) - 1, f.min_normal, f.one, f.one + 1, f.max_finite,
            f.max_finite - 1, f.inf, f.nan, f.inf | 1]
    return sorted({x | s for x in base for s in (0, f.sign)})


def random_patterns(rng, name: str, shape) -> np.ndarray:
    """Normal values of many magnitudes, subnormals, values near the largest, specials."""
    f = FMT[name]
    pick = rng.integers(0, 12, shape)
    normal = rng.standard_normal(shape) * np.exp2(rng.integers(-8, 9, shape))
    x = normal.astype(DTYPES[name][0]).view(DTYPES[name][1]).astype(np.int64)
    sub = rng.integers(1, 1 << f.man_bits, shape) | (rng.integers(0, 2, shape) * f.sign)
    big = (f.max_finite - rng.integers(0, 3, shape)) | (rng.integers(0, 2, shape) * f.sign)
    specials = np.array(special_patterns(name))[rng.integers(0, len(special_patterns(name)),
                                                              shape)]
    return np.select([pick == 0, pick == 1, pick == 2], [sub, big, specials], x)


# -- the combinational helpers, exhaustively for 16-bit sources -------------------------------
def _eval(expr_of, inputs, width):
    """Evaluate a combinational expression of a 16-bit input over ``inputs`` in simulation."""
    m = Module()
    x = Signal(16)
    y = Signal(width)
    m.d.comb += y.eq(expr_of(x))
    sim = Simulator(m)
    out = []

    async def bench(ctx):
        for v in inputs:
            ctx.set(x, v)
            out.append(ctx.get(y))

    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("src,dst", [("fp16", "fp32"), ("bf16", "fp32")])
def test_widening_is_exact_for_every_pattern(src, dst):
    inputs = range(1 << 16)
    got = _eval(lambda x: widen(x, src, dst), inputs, 32)
    for v, g in zip(inputs, got):
        want = convert(v, FMT[src], FMT[dst])
        assert (is_nan(g, FMT[dst]) and is_nan(want, FMT[dst])) or g == want, hex(v)


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_doubling_is_exact_for_every_pattern(name):
    inputs = range(1 << 16)
    got = _eval(lambda x: double(x, name), inputs, 16)
    for v, g in zip(inputs, got):
        want = scale_pow2(v, 1, FMT[name])
        assert (is_nan(g, FMT[name]) and is_nan(want, FMT[name])) or g == want, hex(v)


# -- the unit ---------------------------------------------------------------------------------
def golden_word(acts_bits, mode, dut, act, tab, g, elut_g, symmetrize):
    """[rows, entries] raw table bits of one word from the golden model."""
    rows, entries = dut.rows, dut.table_layout["word"].shape.elem_shape.length
    out = np.zeros((rows, entries), np.int64)
    if mode is Mode.ELUT and not elut_g:
        return out
    group = elut_g if mode is Mode.ELUT else g
    x = acts_bits[:, :group].astype(DTYPES[act][1]).view(DTYPES[act][0])
    t = fp_tables(x, group, "elut" if mode is Mode.ELUT else "bitserial",
                  symmetrize=symmetrize, table_format=tab)[:, 0]
    bits = t.view(DTYPES[tab][1]).astype(np.int64)
    out[:, :bits.shape[1]] = bits
    return out


def canonical(words: np.ndarray, tab: str) -> np.ndarray:
    """NaNs made one pattern (the adder returns the canonical quiet NaN)."""
    f = FMT[tab]
    nan = ((words & f.inf) == f.inf) & ((words & ((1 << f.man_bits) - 1)) != 0)
    return np.where(nan, f.nan, words)


def drive(dut, words, expected, *, idle, stall, seed):
    rng = random.Random(seed)
    width = dut.table_bits
    items = [pack_struct(dut.activation_layout, mode=mode.value,
                         word=pack_array(a.reshape(-1), dut.act_bits)) for a, mode in words]
    accepted, produced = [], []

    async def main(ctx):
        await wait_until(ctx, lambda: len(produced) >= len(items),
                         40 * len(items) + 4 * dut.latency, "all tables")
        for _ in range(2 * dut.latency + 4):
            await ctx.tick()
        assert not ctx.get(dut.tables.valid)

    run(dut, main, [source(dut.activations, items, rng, idle), sink(dut.tables, rng, stall),
                    monitor(dut.activations, accepted), monitor(dut.tables, produced)])
    assert [p for _, p in accepted] == items
    assert len(produced) == len(expected)
    word_field = dut.table_layout["word"]
    for i, ((_, raw), want) in enumerate(zip(produced, expected)):
        word = (raw >> word_field.offset) & ((1 << word_field.width) - 1)
        got = np.array([(word >> (k * width)) & ((1 << width) - 1)
                        for k in range(want.size)], np.int64).reshape(want.shape)
        np.testing.assert_array_equal(canonical(got, dut._table), canonical(want, dut._table),
                                      err_msg=f"word {i} ({words[i][1].name})")
    return accepted, produced


CASES = [("fp16", "fp32", 4, 3, True, 1), ("bf16", "bf16", 3, 2, True, 2),
         ("fp16", "fp16", 4, 0, False, 1), ("bf16", "fp32", 2, 3, True, 1)]


@pytest.mark.parametrize("act,tab,g,elut_g,symmetrize,lookups", CASES)
def test_tables_match_the_golden_model_under_random_stalls(act, tab, g, elut_g, symmetrize,
                                                          lookups):
    dut = FpTablePrecompute(m=1, g=g, elut_g=elut_g, act_format=act, table_format=tab,
                            symmetrize=symmetrize, lookups=lookups)
    rng = np.random.default_rng(g * 7 + lookups)
    slots = max(g, elut_g)
    words = [(random_patterns(rng, act, (dut.rows, slots)), Mode(int(rng.integers(2))))
             for _ in range(24)]
    expected = [golden_word(a, mode, dut, act, tab, g, elut_g, symmetrize)
                for a, mode in words]
    drive(dut, words, expected, idle=0.3, stall=0.3, seed=g)


def test_one_word_per_cycle_at_the_documented_latency():
    dut = FpTablePrecompute(m=2, g=4, elut_g=3, act_format="fp16", table_format="fp32")
    assert dut.latency == 2 + 5 * 5              # the g = 4 symmetrized plan is 5 adders deep
    rng = np.random.default_rng(5)
    words = [(random_patterns(rng, "fp16", (2, 4)), Mode.BITSERIAL) for _ in range(6)]
    expected = [golden_word(a, m, dut, "fp16", "fp32", 4, 3, True) for a, m in words]
    accepted, produced = drive(dut, words, expected, idle=0, stall=0, seed=1)
    start = accepted[0][0]
    assert [c for c, _ in accepted] == list(range(start, start + len(words)))
    assert [c for c, _ in produced] == [c + dut.latency for c, _ in accepted]


def test_parameters_are_checked():
    with pytest.raises(LutcoreError, match=r"^FpTablePrecompute: table_format fp16 cannot "
                                           r"hold act_format bf16 exactly"):
        FpTablePrecompute(m=1, g=4, elut_g=3, act_format="bf16", table_format="fp16")
    with pytest.raises(LutcoreError, match=r"act_format 'int8' is unknown"):
        FpTablePrecompute(m=1, g=4, elut_g=3, act_format="int8")


def test_a_reset_empties_the_pipeline():
    """Words in flight when the domain resets are gone afterwards (the valid chain resets;
    data registers need not)."""
    from amaranth.hdl import ResetInserter
    dut = FpTablePrecompute(m=1, g=2, elut_g=0, act_format="fp16", table_format="fp16")
    rst = Signal()
    top = Module()
    top.submodules.dut = ResetInserter(rst)(dut)
    sim = Simulator(top)
    sim.add_clock(1e-8)
    after = []

    async def bench(ctx):
        ctx.set(dut.tables.ready, 1)
        ctx.set(dut.activations.valid, 1)
        for _ in range(6):                   # six words enter the pipeline
            await ctx.tick()
        ctx.set(dut.activations.valid, 0)
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        for _ in range(dut.latency + 4):
            await ctx.tick()
            after.append(ctx.get(dut.tables.valid))

    sim.add_testbench(bench)
    sim.run()
    assert not any(after)
