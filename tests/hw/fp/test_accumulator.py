"""The FP accumulator keeps the contract's five interleaved partial sums: addend i since the
clear goes to lane i mod 5, lanes not yet written read +0, idle cycles change nothing, and
five ``-0`` addends read every partial out unchanged. The model is written from the
contract's text with the exact arithmetic of ``tests/support/fpref.py``."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from fpref import FMT, exact_add, is_nan

from lutcore.hw.fp.accumulator import FpAccumulator

LANES = 5


def operands(rng: random.Random, f, count: int) -> list[int]:
    """Normal values of mixed magnitudes and signs, with subnormals, zeros of both signs,
    huge values (overflow), infinities and NaNs now and then."""
    out = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.05:
            out.append(rng.choice([0, f.sign, f.inf, f.inf | f.sign, f.nan]))
        elif pick < 0.12:
            out.append(rng.getrandbits(f.man_bits) | rng.choice([0, f.sign]))
        elif pick < 0.2:
            out.append((f.max_finite - rng.getrandbits(3)) | rng.choice([0, f.sign]))
        else:
            exp = f.bias + rng.randint(-6, 6)
            out.append(f.pattern(exp, rng.getrandbits(f.man_bits), rng.getrandbits(1)))
    return out


def same(a: int, b: int, f) -> bool:
    return a == b or (is_nan(a, f) and is_nan(b, f))


@pytest.mark.parametrize("name", ["fp32", "fp16"])
def test_lanes_follow_the_addends_not_the_cycles(name):
    f = FMT[name]
    rng = random.Random(len(name))
    dut = FpAccumulator(name)
    # (en, clear, addend) per cycle: random idle cycles, a clear now and then, then a
    # read-out of five -0 addends after each run.
    cycles = []
    for run in range(6):
        count = rng.randint(1, 17)
        for i, x in enumerate(operands(rng, f, count)):
            while rng.random() < 0.3:
                cycles.append((0, rng.getrandbits(1), rng.getrandbits(f.width)))
            cycles.append((1, int(i == 0 and run % 2 == 0), x))
        cycles += [(1, 0, f.sign)] * LANES              # read out: x + (-0) = x
    lanes = [0] * LANES
    lane = 0
    want = []
    for en, clear, x in cycles:                         # the contract, addend by addend
        if not en:
            continue
        if clear:
            lanes, lane = [0] * LANES, 0
        want.append((lane, lanes[lane]))
        lanes[lane] = exact_add(lanes[lane], x, f)
        lane = (lane + 1) % LANES
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        for en, clear, x in cycles:
            ctx.set(dut.en, en)
            ctx.set(dut.clear, clear)
            ctx.set(dut.addend, x)
            if en:
                got.append((ctx.get(dut.lane), ctx.get(dut.partial)))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(want)
    for i, ((gl, gp), (wl, wp)) in enumerate(zip(got, want)):
        assert gl == wl and same(gp, wp, f), f"addend {i}: got lane {gl} {gp:#x}, " \
                                            f"want lane {wl} {wp:#x}"


def test_read_out_gives_the_golden_partials():
    """Sixteen float32 addends, then the read-out: the five partials are those of the
    golden model's lanes (NumPy float32 additions in lane order)."""
    rng = np.random.default_rng(4)
    xs = rng.standard_normal(16).astype(np.float32)
    partials = np.zeros(LANES, np.float32)
    for i, x in enumerate(xs):
        partials[i % LANES] += x
    dut = FpAccumulator("fp32")
    read = {}
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        stream = [(int(i == 0), int(x.view(np.uint32))) for i, x in enumerate(xs)]
        stream += [(0, 1 << 31)] * LANES
        for n, (clear, x) in enumerate(stream):
            ctx.set(dut.en, 1)
            ctx.set(dut.clear, clear)
            ctx.set(dut.addend, x)
            if n >= len(xs):
                read[ctx.get(dut.lane)] = ctx.get(dut.partial)
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert sorted(read) == list(range(LANES))
    np.testing.assert_array_equal(
        np.array([read[k] for k in range(LANES)], np.uint32).view(np.float32), partials)
