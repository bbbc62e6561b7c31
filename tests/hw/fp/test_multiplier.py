# amaranth: UnusedElaboratable=no

"""The floating-point multiplier is bit-exact with the exact reference of
``tests/support/fpref.py`` (:func:`exact_mul`: the product of the decoded operands in
integers, rounded once to nearest even), NaNs compared as the canonical quiet NaN.

The reference itself is checked on products worked by hand and against NumPy: a product of
two FP16 values computed in ``float32`` is exact (11 + 11 significand bits fit in 24, the
exponents in FP32's range), and rounding that exact value to ``float16`` is one correct
rounding; likewise FP32 products through ``float64`` (24 + 24 bits fit in 53), rounded to
``float32``.

The Amaranth-simulator tests (every pair of special operands, ties, overflow, gradual
underflow, random pairs, random idle and backpressure, latency) run FP16 operands in the
fast suite and BF16 ones when ``slow``; the Verilator runs (10^6 random pairs of every
format pair, FP32 operands included) are ``slow``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from fpbench import lone_result, run_lanes, simulate, specials
from fpref import FMT, Fmt, decode, exact_mul

from lutcore.errors import LutcoreError
from lutcore.hw.fp.multiplier import FpMultiplier, product_is_exact
from lutcore.hw.verilog import generate_verilog

#: (operand format, product format): the FP16 MAC's exact pair, rounding pairs of one
#: format, widening with underflow (BF16 into FP32), narrowing (FP32 into FP16).
PAIRS = [("fp16", "fp32"), ("fp16", "fp16"), ("bf16", "bf16"), ("bf16", "fp32"),
         ("fp32", "fp32"), ("fp32", "fp16")]


def reference(a, b, f: Fmt, out: Fmt) -> np.ndarray:
    return np.array([exact_mul(x, y, f, out) for x, y in zip(a.tolist(), b.tolist())],
                    np.uint64)


# -- operands -----------------------------------------------------------------------------
def random_operands(f: Fmt, out: Fmt, count: int, rng: np.random.Generator):
    """``count`` pairs, a fifth each of: uniform bit patterns (every class), products near
    the output's underflow (exponents summing to its subnormal range), products near its
    overflow, sparse significands (one or two fraction bits set, so that many products are
    exact ties), and operands near one; random signs."""
    m, top = f.man_bits, f.exp_max
    u64 = np.uint64

    def signs():
        return rng.integers(0, 2, count, dtype=np.uint64) << u64(f.width - 1)

    def fracs():
        return rng.integers(0, 1 << m, count, dtype=np.uint64)

    def pattern(exp, frac):
        return signs() | (np.clip(exp, 0, top - 1).astype(np.uint64) << u64(m)) | frac

    ea = rng.integers(1, top, count)

    def partner(target):       # exponent field of b so that the product's is near target
        return target + 2 * f.bias - ea + rng.integers(-2, 3, count)

    uniform = rng.integers(0, 1 << f.width, (2, count), dtype=np.uint64)
    low = 1 - out.bias - rng.integers(0, out.man_bits + 4, count)
    high = out.exp_max - 1 - out.bias + rng.integers(-1, 2, count)
    bit = lambda: u64(1) << rng.integers(0, m, count).astype(np.uint64)   # noqa: E731
    sparse = np.where(rng.integers(0, 3, count) == 0, u64(0), bit() | bit())
    near = f.bias + rng.integers(-3, 4, count)
    kind = rng.integers(0, 5, count)
    a = np.select([kind == 0, kind == 3, kind == 4],
                  [uniform[0], pattern(ea, sparse), pattern(near, fracs())],
                  pattern(ea, fracs()))
    b = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
                  [uniform[1], pattern(partner(low), fracs()), pattern(partner(high), fracs()),
                   pattern(rng.integers(1, top, count), bit()), pattern(near, fracs())])
    return a, b


def operands(f: Fmt, out: Fmt, random_count: int, seed: int):
    """Every pair of specials, then random pairs."""
    sp = np.array(specials(f), np.uint64)
    ra, rb = random_operands(f, out, random_count, np.random.default_rng(seed))
    return (np.concatenate([np.repeat(sp, len(sp)), ra]),
            np.concatenate([np.tile(sp, len(sp)), rb]))


def value(x: int, f: Fmt) -> Fraction:
    s, kind, sig, e = decode(x, f)
    assert kind == "finite"
    return (-1) ** s * Fraction(sig) * Fraction(2) ** e


def is_tie(a: int, b: int, f: Fmt, out: Fmt, result: int) -> bool:
    """The exact product lies halfway between ``result`` and its neighbour of the same
    sign (a finite, nonzero result only)."""
    s, kind, sig, _ = decode(result, out)
    if kind != "finite" or sig == 0 or result & (out.sign - 1) == out.max_finite:
        return False
    exact = value(a, f) * value(b, f)
    got = value(result, out)
    gap = abs(value(result + 1, out) - got)          # the ULP above |result|
    if abs(exact) < abs(got) and result & (out.sign - 1) > 0:
        gap = abs(got - value(result - 1, out))      # the ULP below
    return abs(exact - got) * 2 == gap


# -- the reference ------------------------------------------------------------------------
# (operand format, product format, a, b, a * b), worked by hand.
KNOWN = [
    ("fp16", "fp16", 0x3C01, 0x3E00, 0x3E02),     # (1 + 2^-10) * 1.5: halfway, up to even
    ("fp16", "fp16", 0x3C03, 0x3E00, 0x3E04),     # (1 + 3 * 2^-10) * 1.5: halfway, down
    ("fp16", "fp16", 0x0C00, 0x0800, 0x0000),     # 2^-12 * 2^-13 = half the smallest: to 0
    ("fp16", "fp16", 0x0C00, 0x0E00, 0x0002),     # 1.5 * 2^-24: halfway, up to 2 * 2^-24
    ("fp16", "fp16", 0x0C00, 0x0A00, 0x0001),     # 0.75 * 2^-24: to the smallest subnormal
    ("fp16", "fp16", 0x0001, 0x3400, 0x0000),     # 2^-24 * 0.25: underflow to +0
    ("fp16", "fp16", 0x5C00, 0x5C00, 0x7C00),     # 256 * 256 = 65536: overflow
    ("fp16", "fp16", 0x7BFF, 0x3C01, 0x7C00),     # 65504 * (1 + 2^-10) > 65520: overflow
    ("fp16", "fp16", 0x8000, 0x3C00, 0x8000),     # -0 * 1 = -0
    ("fp16", "fp16", 0xC000, 0x8000, 0x0000),     # -2 * -0 = +0
    ("fp16", "fp16", 0x7C00, 0x0000, 0x7E00),     # inf * 0: NaN
    ("fp16", "fp16", 0xFC00, 0x8001, 0x7C00),     # -inf * -subnormal = +inf
    ("fp16", "fp16", 0x7C01, 0x3C00, 0x7E00),     # signalling NaN in: canonical NaN out
    ("fp16", "fp32", 0x0001, 0x0001, 0x27800000), # 2^-48, exact in FP32
    ("fp16", "fp32", 0x7BFF, 0x7BFF, 0x4F7FC004), # 65504^2 = (2^11 - 1)^2 * 2^10, exact
    ("fp16", "fp32", 0x3C01, 0x3E00, 0x3FC03000), # 1.5 + 1.5 * 2^-10, exact
    ("fp16", "fp32", 0xC000, 0x8000, 0x00000000),
    ("fp16", "fp32", 0xFC00, 0x0000, 0x7FC00000),
    ("bf16", "bf16", 0x3F81, 0x3FC0, 0x3FC2),     # (1 + 2^-7) * 1.5: halfway, up to even
    ("bf16", "bf16", 0x7F7F, 0x4000, 0x7F80),     # largest * 2: overflow
    ("bf16", "fp32", 0x0001, 0x0001, 0x00000000), # 2^-266: below FP32's range
    ("fp32", "fp32", 0x00800000, 0x3F000000, 0x00400000),   # smallest normal / 2
    ("fp32", "fp32", 0x00000001, 0x3F000000, 0x00000000),   # 2^-150: halfway, down to 0
    ("fp32", "fp32", 0x00000003, 0x3F000000, 0x00000002),   # 1.5 * 2^-149: up to even
]


@pytest.mark.parametrize("src,dst,a,b,want", KNOWN)
def test_reference_on_worked_cases(src, dst, a, b, want):
    f, out = FMT[src], FMT[dst]
    assert exact_mul(a, b, f, out) == want
    assert exact_mul(b, a, f, out) == want


def _bits(values: np.ndarray, f: Fmt) -> np.ndarray:
    """Raw patterns of a NumPy array, NaNs made canonical."""
    return np.where(np.isnan(values), np.uint64(f.nan),
                    values.view(f"uint{f.width}").astype(np.uint64))


@pytest.mark.parametrize("src,ftype,wide", [("fp16", np.float16, np.float32),
                                            ("fp32", np.float32, np.float64)])
def test_reference_agrees_with_numpy(src, ftype, wide):
    """The exact product in the wider NumPy type (itself a result when it is FP32), rounded
    once to the operands' type."""
    f = FMT[src]
    a, b = operands(f, f, 20_000, seed=4)
    with np.errstate(all="ignore"):               # signalling NaNs, overflow
        x, y = (v.astype(f"uint{f.width}").view(ftype).astype(wide) for v in (a, b))
        exact = x * y
        rounded = exact.astype(ftype)
    np.testing.assert_array_equal(_bits(rounded, f), reference(a, b, f, f))
    if wide == np.float32:
        np.testing.assert_array_equal(_bits(exact, FMT["fp32"]),
                                      reference(a, b, f, FMT["fp32"]))


def test_operands_cover_every_class():
    """The fast suite's FP16 -> FP16 vectors hold ties rounded both ways, overflows,
    subnormal and underflowed products, NaNs from inf * 0 and NaN operands."""
    f = FMT["fp16"]
    a, b = operands(f, f, 300, seed=1)
    want = reference(a, b, f, f)
    ties = [(x, y, r) for x, y, r in zip(a.tolist(), b.tolist(), want.tolist())
            if is_tie(x, y, f, f, r)]
    mag = want & np.uint64(f.sign - 1)
    assert len(ties) > 10 and {r & 1 for *_, r in ties} == {0}      # ties go to even
    assert (mag == f.inf).sum() > 10 and ((mag > 0) & (mag < f.min_normal)).sum() > 10
    assert (want == f.nan).sum() > 10 and (mag == 0).sum() > 10


# -- parameters ---------------------------------------------------------------------------
def test_parameters():
    dut = FpMultiplier("fp16", "fp32")
    assert (dut.in_format, dut.out_format, dut.exact, dut.LATENCY) == ("fp16", "fp32", True, 2)
    assert dut.canonical_nan == FMT["fp32"].nan
    assert FpMultiplier("bf16").out_format == "bf16"
    assert [pair for pair in PAIRS if product_is_exact(*pair)] == [("fp16", "fp32")]
    for attr in ("in_format", "out_format", "LATENCY"):
        with pytest.raises(AttributeError):
            setattr(dut, attr, "fp16")


@pytest.mark.parametrize("kwargs,message", [
    (dict(in_format="fp8"), "FpMultiplier: in_format 'fp8' is unknown: allowed fp16, bf16, "
                            "fp32"),
    (dict(in_format="fp16", out_format="int8"), "FpMultiplier: out_format 'int8' is unknown: "
                                                "allowed fp16, bf16, fp32"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(LutcoreError) as e:
        FpMultiplier(**kwargs)
    assert str(e.value) == message


def test_bad_enable():
    with pytest.raises(TypeError, match="^FpMultiplier: enable must be True or False, not 1$"):
        FpMultiplier("fp16", enable=1)


# -- Amaranth simulation ------------------------------------------------------------------
def check(got, a, b, f: Fmt, out: Fmt) -> None:
    want = reference(a, b, f, out)
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = bad[0]
        raise AssertionError(f"{bad.size} of {len(want)} wrong; first: {int(a[i]):#x} * "
                             f"{int(b[i]):#x} = {int(got[i]):#x}, want {int(want[i]):#x}")


# FP16 operands in the fast suite, BF16 in make regress. FP32 operands only in Verilator:
# Amaranth's simulator compiles the 48-bit product's leading-zero chain into more nested
# blocks than Python allows.
@pytest.mark.parametrize("src,dst", [
    pytest.param(s, d, marks=[pytest.mark.slow] if s == "bf16" else [])
    for s, d in PAIRS if s != "fp32"])
def test_specials_and_random_pairs(src, dst):
    """Every pair of specials, the worked cases and 150 random pairs, under random idle and
    backpressure, every product in order."""
    f, out = FMT[src], FMT[dst]
    a, b = operands(f, out, 150, seed=len(src) + 3 * len(dst))
    known = [(x, y) for s, d, x, y, _ in KNOWN if (s, d) == (src, dst)]
    if known:
        a = np.concatenate([a, np.array([k[0] for k in known], np.uint64)])
        b = np.concatenate([b, np.array([k[1] for k in known], np.uint64)])
    got, _ = simulate(FpMultiplier(src, dst), a, b, seed=5, idle=0.1, stall=0.1)
    check(got, a, b, f, out)


def test_latency_throughput_and_enable():
    """One product alone comes out ``LATENCY`` cycles after it was accepted; back-to-back
    products one per cycle; with ``enable`` the pipeline moves only when it is high."""
    f = FMT["fp16"]
    dut = FpMultiplier("fp16", "fp32")
    two, three = f.pattern(f.bias + 1), f.pattern(f.bias + 1, 1 << 9)
    seen = lone_result(dut, two, three, 7)
    assert seen == [(dut.LATENCY, 0x40C00000)]                        # 6.0 in FP32, once
    a, b = random_operands(f, FMT["fp32"], 30, np.random.default_rng(2))
    got, cycles = simulate(FpMultiplier("fp16", "fp32"), a, b, idle=0.0, stall=0.0)
    check(got, a, b, f, FMT["fp32"])
    assert cycles == len(a) + dut.LATENCY

    gated = FpMultiplier("fp16", "fp32", enable=True)
    out = []

    async def gated_bench(ctx):
        ctx.set(gated.a_b.payload.a, f.one)
        ctx.set(gated.a_b.payload.b, f.one)
        ctx.set(gated.a_b.valid, 1)
        for en in (1, 0, 0, 1, 0):
            ctx.set(gated.enable, en)
            assert ctx.get(gated.a_b.ready) == en
            await ctx.tick()
            ctx.set(gated.a_b.valid, 0)
            out.append(ctx.get(gated.product.valid))

    sim = Simulator(gated)
    sim.add_clock(1e-6)
    sim.add_testbench(gated_bench)
    sim.run()
    assert out == [0, 0, 0, 1, 1]          # two enabled cycles later; it holds while disabled


# -- Verilator ----------------------------------------------------------------------------
LANES = 16
TOPLEVEL = "fpmul_lanes"
#: Bits per operand and per result on the bench's buses (:mod:`lutcore.sim.tb_fpadd`
#: packs ``a | b << width`` per lane and reads ``width`` bits per result).
BUS = 32


class MultiplierLanes(wiring.Component):
    """``lanes`` multipliers in lockstep behind the ports of the adder bench's model: lane
    i's operands in 32-bit slots ``[2*BUS*i, 2*BUS*(i+1))`` of ``a_b``'s payload (``a``
    low), its product zero-extended in ``[BUS*i, BUS*(i+1))`` of ``sum``'s; lane 0's
    handshake is every lane's."""

    def __init__(self, src: str, dst: str, lanes: int = LANES):
        self._src, self._dst, self._lanes = src, dst, lanes
        super().__init__({"a_b": In(stream.Signature(2 * BUS * lanes)),
                          "sum": Out(stream.Signature(BUS * lanes))})

    def elaborate(self, platform):
        m = Module()
        wi, wo = FMT[self._src].width, FMT[self._dst].width
        muls = []
        for i in range(self._lanes):
            mul = m.submodules[f"lane{i}"] = FpMultiplier(self._src, self._dst)
            slot = 2 * BUS * i
            m.d.comb += [mul.a_b.valid.eq(self.a_b.valid), mul.product.ready.eq(self.sum.ready),
                         mul.a_b.payload.a.eq(self.a_b.payload[slot:slot + wi]),
                         mul.a_b.payload.b.eq(self.a_b.payload[slot + BUS:slot + BUS + wi]),
                         self.sum.payload[BUS * i:BUS * i + wo].eq(mul.product.payload)]
            muls.append(mul)
        m.d.comb += [self.a_b.ready.eq(muls[0].a_b.ready),
                     self.sum.valid.eq(muls[0].product.valid)]
        return m


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("src,dst", PAIRS)
def test_verilator_million_pairs(src, dst, tmp_path):
    """10^6 random pairs per format pair (uniform patterns, products near underflow and
    overflow, sparse significands with many ties, operands near one) under light idle and
    backpressure, bit-exact with the exact reference."""
    f, out = FMT[src], FMT[dst]
    a, b = random_operands(f, out, 1_000_000, np.random.default_rng(17 + len(src + dst)))
    verilog = generate_verilog(MultiplierLanes(src, dst), name=TOPLEVEL)
    got = run_lanes(verilog, TOPLEVEL, f"fpmul-{src}-{dst}-x{LANES}", a, b, BUS, LANES,
                    tmp_path, idle=0.02, stall=0.02, seed=3)
    check(got, a, b, f, out)
