"""The finalize's rounding helpers against the exact reference of ``tests/support/fpref.py``:
the halving of every FP16 exponent (of every FP16 and BF16 pattern and FP32's extreme
exponents when slow), and the product with every small integer -15..15 of special and
random FP16 patterns (and many more of each format when slow). Amaranth's simulator
evaluates these wide expressions slowly, hence the split."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from fpref import FMT, is_nan, scale_pow2, times_int as ref_times_int

from lutcore.hw.fp.rounding import halve, times_int


def evaluate(build, inputs, width: int, in_width: int, *, c_bits: int = 0):
    """Values of a combinational expression over ``inputs`` ((x,) or (x, c) tuples), built
    by ``build(x, c, m)`` in the module ``m`` it may add named signals to."""
    m = Module()
    x = Signal(in_width)
    c = Signal(signed(max(c_bits, 1)))
    y = Signal(width)
    m.d.comb += y.eq(build(x, c, m))
    sim = Simulator(m)
    out = []

    async def bench(ctx):
        for item in inputs:
            ctx.set(x, item[0])
            if c_bits:
                ctx.set(c, item[1])
            out.append(ctx.get(y))

    sim.add_testbench(bench)
    sim.run()
    return out


def check(got, want, f, inputs):
    for item, g, w in zip(inputs, got, want):
        assert g == w or (is_nan(g, f) and is_nan(w, f)), \
            f"{[hex(v) for v in item]}: got {g:#x}, want {w:#x}"


def patterns(name: str, count: int, seed: int) -> list[int]:
    f = FMT[name]
    rng = random.Random(seed)
    special = [0, 1, 2, (1 << f.man_bits) - 1, f.min_normal, f.min_normal + 1, f.one,
               f.max_finite, f.max_finite - 1, f.inf, f.nan]
    out = [x | s for x in special for s in (0, f.sign)]
    out += [rng.getrandbits(f.width) for _ in range(count)]
    return out


def every_exponent(name: str, seed: int) -> list[int]:
    """Each exponent with both signs and a few fractions (the low ones, where subnormal
    rounding ties live, and random ones)."""
    f = FMT[name]
    rng = random.Random(seed)
    fracs = [0, 1, 3, (1 << f.man_bits) - 1, rng.getrandbits(f.man_bits)]
    # every exponent of the 16-bit formats; FP32's lowest, highest and some between
    top = 1 << f.exp_bits
    exps = range(top) if top <= 32 else [*range(0, 8), *range(top - 8, top),
                                        *rng.sample(range(8, top - 8), 16)]
    return [f.pattern(e, m, s) for e in exps for m in fracs for s in (0, 1)]


HALVING = [pytest.param("fp16", every_exponent("fp16", 1), id="fp16-exponents"),
           pytest.param("fp32", every_exponent("fp32", 1), id="fp32-exponents",
                        marks=pytest.mark.slow)]
HALVING += [pytest.param(name, range(1 << 16), id=f"{name}-all", marks=pytest.mark.slow)
            for name in ("fp16", "bf16")]
HALVING += [pytest.param("bf16", every_exponent("bf16", 1), id="bf16-exponents",
                         marks=pytest.mark.slow)]


@pytest.mark.parametrize("name,values", HALVING)
def test_halving(name, values):
    f = FMT[name]
    inputs = [(v,) for v in values]
    got = evaluate(lambda x, c, m: halve(x, name, m=m), inputs, f.width, f.width)
    check(got, [scale_pow2(v, -1, f) for (v,) in inputs], f, inputs)


@pytest.mark.parametrize("name,count", [
    ("fp16", 20), *(pytest.param(name, 200, marks=pytest.mark.slow)
                    for name in ("fp16", "bf16", "fp32"))])
def test_product_with_a_small_integer(name, count):
    f = FMT[name]
    xs = patterns(name, count, 2)
    inputs = [(x, c) for x in xs for c in range(-15, 16)]
    got = evaluate(lambda x, c, m: times_int(x, c, name, m=m), inputs, f.width, f.width, c_bits=5)
    check(got, [ref_times_int(c, x, f) for x, c in inputs], f, inputs)
