# amaranth: UnusedElaboratable=no

"""The floating-point adder is bit-exact with NumPy (``float16``, ``float32``, ``float64``)
and ``ml_dtypes.bfloat16`` addition, NaNs compared as "is NaN" and the adder's output as the
canonical quiet NaN.

References:

- :func:`exact_add`: exact integer arithmetic on the decoded operands, rounded once to
  nearest even; any format. Checked against hand-worked cases and against NumPy.
- :func:`numpy_add`: NumPy on the bit patterns. ``float32`` and ``float64`` additions are
  single IEEE operations. NumPy adds ``float16`` and ``ml_dtypes`` adds ``bfloat16`` in
  ``float32`` and rounds the result again; for a sum of two p-bit values a first rounding to
  p' >= 2p + 1 bits never changes the final one (p' = 24, p = 11 and 8), and float32 has
  the exponent range of both formats, with its subnormals spacing 2^-149 finer than any
  bf16 or fp16 value, so both are correctly rounded. The tests check this against
  :func:`exact_add` as well.

The Amaranth-simulator tests (every special class, ties, overflow, cancellation, gradual
underflow, random pairs, exhaustive tiny formats, random idle and backpressure, latency)
form the fast suite; the Verilator tests (``rtl``) push 20k random pairs per format (and all
pairs of an 8-bit format), 10^6 per format when ``slow``.
"""

from __future__ import annotations

import numpy as np
import pytest
from fpbench import lone_result, run_lanes, simulate, specials
from fpref import FMT, FP64, Fmt, decode, exact_add, round_nearest_even  # noqa: F401

from lutcore.errors import LutcoreError
from lutcore.hw.fp import FORMATS, FPAdder


def exact_add_many(a, b, f: Fmt) -> np.ndarray:
    return np.array([exact_add(x, y, f) for x, y in zip(a.tolist(), b.tolist())], np.uint64)


def _numpy_types(f: Fmt):
    if f == FMT["fp16"]:
        return np.float16, np.uint16
    if f == FMT["fp32"]:
        return np.float32, np.uint32
    if f == FP64:
        return np.float64, np.uint64
    if f == FMT["bf16"]:
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return ml_dtypes.bfloat16, np.uint16
    return None


def numpy_add(a: np.ndarray, b: np.ndarray, f: Fmt) -> np.ndarray:
    """``a + b`` on the bit patterns by NumPy's (or ml_dtypes') arithmetic, NaNs made
    canonical."""
    ftype, utype = _numpy_types(f)
    x, y = a.astype(utype).view(ftype), b.astype(utype).view(ftype)
    with np.errstate(all="ignore"):
        s = x + y
    nan = np.isnan(s.astype(np.float64))
    return np.where(nan, np.uint64(f.nan), s.view(utype).astype(np.uint64))


def reference(a, b, f: Fmt) -> np.ndarray:
    """NumPy where it has the format, else :func:`exact_add`."""
    a, b = np.asarray(a, np.uint64), np.asarray(b, np.uint64)
    return numpy_add(a, b, f) if _numpy_types(f) else exact_add_many(a, b, f)


# -- operands ---------------------------------------------------------------------------------
def targeted(f: Fmt) -> list[tuple[int, int]]:
    """Halfway cases in both directions, just off halfway, cancellation, overflow,
    subnormal sums and differences."""
    m, one, s = f.man_bits, f.one, f.sign
    half_ulp_one = f.pattern(f.bias - m - 1)             # 2^-(m+1)
    quarter_ulp_one = f.pattern(f.bias - m - 2)
    half_ulp_max = f.pattern(f.exp_max - 2 - m)          # half the ULP of the largest value
    max_sub, min_norm = (1 << m) - 1, f.min_normal
    return [
        (one, half_ulp_one), (one + 1, half_ulp_one),    # ties: down to even, up to even
        (half_ulp_one, one + 1), (one | s, half_ulp_one | s),
        (one, half_ulp_one + 1), (one + 1, half_ulp_one + 1),
        (one, quarter_ulp_one | s),                      # 1 - 2^-(m+2): a tie below 1
        (one + 1, quarter_ulp_one | s),
        (f.pattern(f.bias + 1, 1), half_ulp_one | s),
        (one, one | s), (one | s, one), (max_sub, max_sub | s), (f.max_finite | s,
                                                                 f.max_finite),
        (0, s), (s, 0), (s, s), (0, 0),
        (f.max_finite, f.max_finite), (f.max_finite | s, f.max_finite | s),
        (f.max_finite, half_ulp_max), (f.max_finite - 1, half_ulp_max),
        (f.max_finite, half_ulp_max - 1), (f.max_finite | s, half_ulp_max | s),
        (max_sub, 1), (max_sub, max_sub), (1, 1), (min_norm, 1 | s),
        (min_norm + 1, max_sub | s), (f.inf, f.inf | s), (f.inf | s, f.inf),
        (f.inf, f.max_finite | s), (f.inf | s, f.nan), (f.inf | 1, 0),
    ]


def random_operands(f: Fmt, count: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """``count`` pairs, a fifth each of: uniform bit patterns (every class, specials
    included), exponents within the aligned width of each other, near cancellations, exact
    halfway alignments, and operands near the subnormal range; random signs and order."""
    m, E, W = f.man_bits, f.exp_max, f.width
    frac_mask = (1 << m) - 1

    def bits(n):
        return rng.integers(0, 1 << W, n, dtype=np.uint64)

    def fracs(n):
        return rng.integers(0, 1 << m, n, dtype=np.uint64)

    def signs(n):
        return rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(W - 1)

    a, b = bits(count), bits(count)
    kind = rng.integers(0, 5, count)
    ea = ((a >> np.uint64(m)) & np.uint64(E)).astype(np.int64)
    # Exponents within m + 3 of each other.
    eb = np.clip(ea + rng.integers(-(m + 3), m + 4, count), 0, E - 1).astype(np.uint64)
    close = signs(count) | (eb << np.uint64(m)) | fracs(count)
    # Near cancellation: -a nudged by a few ULPs (within the magnitude bits).
    mag = (a & np.uint64((1 << (W - 1)) - 1)).astype(np.int64)
    nudged = np.clip(mag, 2, (1 << (W - 1)) - 3) + rng.integers(-2, 3, count)
    cancel = ((a & np.uint64(f.sign)) ^ np.uint64(f.sign)) | nudged.astype(np.uint64)
    # Halfway: b aligned d places below a with exactly 1 then zeros shifted out.
    d = rng.integers(1, m + 2, count)
    ea_tie = rng.integers(m + 3, E, count) if E > m + 3 else np.full(count, E - 1)
    tie_frac = np.where(d <= m,
                        (fracs(count) & ~((np.uint64(1) << d.astype(np.uint64))
                                          - np.uint64(1)))
                        | (np.uint64(1) << (np.maximum(d, 1) - 1).astype(np.uint64)),
                        np.uint64(0)) & np.uint64(frac_mask)
    tie_a = signs(count) | (ea_tie.astype(np.uint64) << np.uint64(m)) | fracs(count)
    tie_b = signs(count) | (np.maximum(ea_tie - d, 1).astype(np.uint64) << np.uint64(m)) \
        | tie_frac
    # Near the subnormal range: exponent fields 0..2.
    tiny_a = signs(count) | (rng.integers(0, 3, count).astype(np.uint64) << np.uint64(m)) \
        | fracs(count)
    tiny_b = signs(count) | (rng.integers(0, 3, count).astype(np.uint64) << np.uint64(m)) \
        | fracs(count)
    a = np.select([kind == 3, kind == 4], [tie_a, tiny_a], a)
    b = np.select([kind == 1, kind == 2, kind == 3, kind == 4], [close, cancel, tie_b, tiny_b],
                  b)
    swap = rng.integers(0, 2, count).astype(bool)
    return np.where(swap, b, a), np.where(swap, a, b)


# -- the reference itself ---------------------------------------------------------------------
# (format, a, b, a + b), worked by hand.
KNOWN = [
    ("fp16", 0x3C00, 0x1000, 0x3C00),    # 1 + 2^-11: halfway, down to even
    ("fp16", 0x3C01, 0x1000, 0x3C02),    # (1 + 2^-10) + 2^-11: halfway, up to even
    ("fp16", 0x3C00, 0x1001, 0x3C01),    # just above halfway
    ("fp16", 0x3C00, 0x8C00, 0x3C00),    # 1 - 2^-12: halfway between 1 - 2^-11 and 1
    ("fp16", 0x7BFF, 0x4800, 0x7BFF),    # 65504 + 8: below halfway
    ("fp16", 0x7BFF, 0x4C00, 0x7C00),    # 65504 + 16: halfway, odd, overflows
    ("fp16", 0xFBFF, 0xFBFF, 0xFC00),
    ("fp16", 0x03FF, 0x0001, 0x0400),    # largest subnormal + smallest: smallest normal
    ("fp16", 0x0400, 0x8001, 0x03FF),    # gradual underflow
    ("fp16", 0x0001, 0x0001, 0x0002),
    ("fp16", 0x3C00, 0xBC00, 0x0000),    # exact cancellation: +0
    ("fp16", 0x8000, 0x8000, 0x8000),
    ("fp16", 0x8000, 0x0000, 0x0000),
    ("fp16", 0x7C00, 0xFC00, 0x7E00),    # inf - inf: NaN
    ("fp16", 0xFC00, 0x7BFF, 0xFC00),
    ("fp16", 0x7C01, 0x3C00, 0x7E00),    # signalling NaN in: canonical NaN out
    ("fp16", 0xFE00, 0x0000, 0x7E00),
    ("fp32", 0x3F800000, 0x33800000, 0x3F800000),   # 1 + 2^-24: down to even
    ("fp32", 0x3F800001, 0x33800000, 0x3F800002),   # up to even
    ("fp32", 0x7F7FFFFF, 0x73000000, 0x7F800000),   # max + half its ULP: overflow
    ("fp32", 0x7F7FFFFF, 0x72FFFFFF, 0x7F7FFFFF),
    ("fp32", 0x007FFFFF, 0x00000001, 0x00800000),
    ("fp32", 0x80000001, 0x00000001, 0x00000000),
    ("fp32", 0xFF800000, 0x7FC00001, 0x7FC00000),
    ("bf16", 0x3F80, 0x3B80, 0x3F80),    # 1 + 2^-8: down to even
    ("bf16", 0x3F81, 0x3B80, 0x3F82),    # up to even
    ("bf16", 0x3F80, 0x3B81, 0x3F81),    # 1 + 2^-8 + 2^-15: above halfway
    ("bf16", 0x7F7F, 0x7F7F, 0x7F80),
    ("bf16", 0x007F, 0x0001, 0x0080),
    ("bf16", 0x7F80, 0xFF80, 0x7FC0),
    ("bf16", 0x0080, 0x8080, 0x0000),
]


@pytest.mark.parametrize("name,a,b,want", KNOWN)
def test_references_on_worked_cases(name, a, b, want):
    f = FMT[name]
    assert exact_add(a, b, f) == want
    assert exact_add(b, a, f) == want
    assert int(numpy_add(np.array([a], np.uint64), np.array([b], np.uint64), f)[0]) == want


@pytest.mark.parametrize("name", [*FORMATS, "fp64"])
def test_numpy_is_correctly_rounded(name):
    """NumPy / ml_dtypes agree with the exact reference on every special pair and on random
    pairs (including many halfway cases), so a double rounding through float32 never
    shows; float32 arithmetic does not flush subnormals in this process."""
    f = FP64 if name == "fp64" else FMT[name]
    rng = np.random.default_rng(11)
    a, b = random_operands(f, 30_000, rng)
    sp = np.array(specials(f), np.uint64)
    ta, tb = zip(*targeted(f))
    a = np.concatenate([a, np.repeat(sp, len(sp)), np.array(ta, np.uint64)])
    b = np.concatenate([b, np.tile(sp, len(sp)), np.array(tb, np.uint64)])
    np.testing.assert_array_equal(numpy_add(a, b, f), exact_add_many(a, b, f))
    tiny = np.array([1], np.uint32).view(np.float32)
    assert (tiny + tiny).view(np.uint32)[0] == 2


def test_float32_agrees_with_rounded_float64():
    """A third route for fp32: the float64 sum (exact or correctly rounded to 53 bits, and
    53 >= 2 * 24 + 1) rounded to float32."""
    f = FMT["fp32"]
    a, b = random_operands(f, 100_000, np.random.default_rng(5))
    x, y = a.astype(np.uint32).view(np.float32), b.astype(np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        wide = (x.astype(np.float64) + y.astype(np.float64)).astype(np.float32)
    got = np.where(np.isnan(wide), np.uint64(f.nan), wide.view(np.uint32).astype(np.uint64))
    np.testing.assert_array_equal(got, numpy_add(a, b, f))


# -- parameters -------------------------------------------------------------------------------
def test_parameters_and_formats():
    assert FORMATS == {"fp16": (5, 10), "bf16": (8, 7), "fp32": (8, 23)}
    for name, (e, m) in FORMATS.items():
        dut = FPAdder.of(name)
        assert (dut.exp_bits, dut.man_bits, dut.width) == (e, m, 1 + e + m)
        assert dut.canonical_nan == FMT[name].nan and dut.bias == FMT[name].bias
        assert dut.LATENCY == 5
    dut = FPAdder(exp_bits=5, man_bits=10)
    for attr in ("exp_bits", "man_bits", "width", "LATENCY"):
        with pytest.raises(AttributeError):
            setattr(dut, attr, 3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(exp_bits=1, man_bits=10), r"^FPAdder: exp_bits = 1 is invalid: allowed 2\.\.11$"),
    (dict(exp_bits=12, man_bits=10), r"^FPAdder: exp_bits = 12 is invalid: allowed 2\.\.11$"),
    (dict(exp_bits=5, man_bits=0), r"^FPAdder: man_bits = 0 is invalid: allowed 1\.\.52$"),
    (dict(exp_bits=5, man_bits=53), r"^FPAdder: man_bits = 53 is invalid: allowed 1\.\.52$"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(LutcoreError, match=match):
        FPAdder(**kwargs)


def test_bad_parameter_types_and_names():
    with pytest.raises(TypeError, match="exp_bits must be an integer"):
        FPAdder(exp_bits=5.0, man_bits=10)
    with pytest.raises(TypeError, match="man_bits must be an integer"):
        FPAdder(exp_bits=5, man_bits=True)
    with pytest.raises(LutcoreError, match=r"^FPAdder\.of: name = 'fp8' is invalid: allowed "
                                           r"fp16, bf16, fp32$"):
        FPAdder.of("fp8")


# -- Amaranth simulation ----------------------------------------------------------------------
def check(got, a, b, f: Fmt) -> None:
    want = reference(a, b, f)
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = bad[0]
        w = (f.width + 3) // 4
        raise AssertionError(f"{bad.size} of {len(want)} wrong; first: {int(a[i]):#0{w + 2}x} + "
                             f"{int(b[i]):#0{w + 2}x} = {int(got[i]):#0{w + 2}x}, "
                             f"want {int(want[i]):#0{w + 2}x}")


def sim_operands(f: Fmt, random_count: int, seed: int):
    sp = specials(f)
    pairs = [(x, y) for x in sp for y in sp] + targeted(f)
    ra, rb = random_operands(f, random_count, np.random.default_rng(seed))
    a = np.concatenate([np.array([p[0] for p in pairs], np.uint64), ra])
    b = np.concatenate([np.array([p[1] for p in pairs], np.uint64), rb])
    return a, b


@pytest.mark.parametrize("name", FORMATS)
def test_specials_and_random_pairs(name):
    """Every pair of specials (both signs of zeros, subnormals, normals, infinities, quiet
    and signalling NaNs), the targeted cases and 300 random pairs, under random idle and
    backpressure, every result in order."""
    f = FMT[name]
    a, b = sim_operands(f, 300, seed=len(name))
    got, _ = simulate(FPAdder.of(name), a, b, seed=3)
    check(got, a, b, f)
    nan = reference(a, b, f) == f.nan
    assert nan.any() and (got[nan] == f.nan).all()


@pytest.mark.parametrize("exp_bits,man_bits", [(2, 1), (3, 2), (2, 3)])
def test_tiny_formats_exhaustive(exp_bits, man_bits):
    """Every pair of a tiny format against the exact reference (the alignment, sticky and
    normalisation logic at its narrowest, including exponent ranges shorter than the
    significand)."""
    f = Fmt(exp_bits, man_bits)
    values = np.arange(1 << f.width, dtype=np.uint64)
    a, b = np.repeat(values, len(values)), np.tile(values, len(values))
    got, _ = simulate(FPAdder(exp_bits, man_bits), a, b, idle=0.05, stall=0.05)
    check(got, a, b, f)


def test_fp64_parameters():
    """The widest parameters (binary64) against NumPy's float64."""
    a, b = sim_operands(FP64, 150, seed=64)
    got, _ = simulate(FPAdder(11, 52), a, b, idle=0.1, stall=0.1)
    check(got, a, b, FP64)


def test_heavy_backpressure():
    """``sum.ready`` mostly low: the pipeline fills, ``a_b.ready`` drops, and nothing is lost
    or duplicated."""
    f = FMT["fp16"]
    a, b = random_operands(f, 120, np.random.default_rng(2))
    got, cycles = simulate(FPAdder.of("fp16"), a, b, idle=0.0, stall=0.85, seed=9)
    check(got, a, b, f)
    assert cycles > 4 * len(a)


@pytest.mark.parametrize("name", FORMATS)
def test_latency_and_throughput(name):
    """With ``sum.ready`` high: one addition alone comes out ``LATENCY`` cycles after it was
    accepted; back-to-back additions come out one per cycle (N in N + LATENCY cycles)."""
    dut = FPAdder.of(name)
    f = FMT[name]
    seen = lone_result(dut, f.one, f.one, 11)
    assert seen == [(dut.LATENCY, f.pattern(f.bias + 1))]          # 1 + 1 = 2, once
    a, b = random_operands(f, 40, np.random.default_rng(1))
    got, cycles = simulate(FPAdder.of(name), a, b, idle=0.0, stall=0.0)
    check(got, a, b, f)
    assert cycles == len(a) + dut.LATENCY


# -- Verilator --------------------------------------------------------------------------------
def run_verilator(f: Fmt, a, b, tmp_path, *, idle: float = 0.05, stall: float = 0.05,
                  seed: int = 1) -> np.ndarray:
    """The sums of the pairs from the Verilator model of ``lanes`` adders (cocotb bench
    ``lutcore.sim.tb_fpadd``)."""
    from lutcore.sim import tb_fpadd

    return run_lanes(tb_fpadd.lanes_verilog(f.exp_bits, f.man_bits), tb_fpadd.TOPLEVEL,
                     f"fpadd-e{f.exp_bits}m{f.man_bits}-x{tb_fpadd.LANES}", a, b, f.width,
                     tb_fpadd.LANES, tmp_path, idle=idle, stall=stall, seed=seed)


# FP16 in the fast suite; every format, and the 8-bit format exhaustively, in make regress
# (each is a Verilator model of its own).
@pytest.mark.rtl
@pytest.mark.parametrize("name", [pytest.param(f, marks=[pytest.mark.slow] if f != "fp16" else [])
                                  for f in FORMATS])
def test_verilator_random_pairs(name, tmp_path):
    f = FMT[name]
    a, b = random_operands(f, 4_000, np.random.default_rng(100 + len(name)))
    check(run_verilator(f, a, b, tmp_path, idle=0.1, stall=0.1), a, b, f)


@pytest.mark.slow
@pytest.mark.rtl
def test_verilator_8bit_format_exhaustive(tmp_path):
    """All 65536 pairs of an 8-bit format (4 exponent, 3 fraction bits), exact reference."""
    f = Fmt(4, 3)
    values = np.arange(1 << f.width, dtype=np.uint64)
    a, b = np.repeat(values, len(values)), np.tile(values, len(values))
    check(run_verilator(f, a, b, tmp_path), a, b, f)


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("name", FORMATS)
def test_verilator_million_pairs(name, tmp_path):
    """10^6 random pairs per format (uniform bit patterns, close exponents, cancellations,
    halfway cases, subnormals), bit-exact with NumPy / ml_dtypes."""
    f = FMT[name]
    a, b = random_operands(f, 1_000_000, np.random.default_rng(7 + len(name)))
    check(run_verilator(f, a, b, tmp_path, idle=0.02, stall=0.02, seed=2), a, b, f)
