"""The FP-activation golden model (:mod:`lutcore.sw.kernels.fp`) against a scalar model of
the contract written from docs/architecture.md ("Floating-point activations") with the exact
integer IEEE arithmetic of ``tests/support/fpref.py``: every output bit for bit (any NaN
equal to any NaN), on every format combination, both modes, L = 1, 3 and 4, multi-bit weights,
and the special values (subnormals, overflow to infinity in tables and accumulators, NaN
and infinity in activations, signed zeros). Plus the error against float64 on a
BitNet-shaped GEMM, and the one-line refusals."""

from __future__ import annotations

import itertools
import zlib

import ml_dtypes
import numpy as np
import pytest

from fpref import FMT, convert, exact_add, exact_sub, is_nan, negate, scale_pow2, times_int

from lutcore.errors import LutcoreError
from lutcore.spec.table_plan import bitserial_plan, elut_plan
from lutcore.sw.kernels import lut_gemm
from lutcore.sw.kernels.fp import fp_error, fp_lut_gemm
from lutcore.sw.kernels.packing import pack_bitserial, pack_elut

# Partial sums of an accumulator (docs/architecture.md: addend i into partial i mod 5).
LANES = 5

DTYPES = {"fp16": (np.float16, np.uint16), "bf16": (ml_dtypes.bfloat16, np.uint16),
          "fp32": (np.float32, np.uint32)}


def bits(x: np.ndarray, name: str) -> np.ndarray:
    return np.asarray(x).astype(DTYPES[name][0]).view(DTYPES[name][1]).astype(np.int64)


# -- the scalar model: the contract, one output at a time, on bit patterns ------------------
def scalar_tables(acts: list[int], g: int, mode: str, symmetrize: bool, act: str, tab: str):
    """Tables of each group of one row, from the plan, node by node in exact arithmetic."""
    fa, ft = FMT[act], FMT[tab]
    x = [convert(v, fa, ft) for v in acts]
    x += [0] * (-len(x) % g)
    plan = bitserial_plan(g, symmetrize) if mode == "bitserial" else elut_plan(g)
    out = []
    for j in range(len(x) // g):
        group = x[j * g:(j + 1) * g]
        values = []

        def get(ref):
            if ref[0] == "zero":
                return 0
            if ref[0] == "act":
                return scale_pow2(group[ref[1]], ref[2], ft)
            return values[ref[1]]

        for node in plan.nodes:
            op = exact_add if node.op == "+" else exact_sub
            values.append(op(get(node.lhs), get(node.rhs), ft))
        out.append([get(e) for e in plan.entries])
    return out


def scalar_tree(terms, f):
    while len(terms) > 1:
        terms = [exact_add(terms[i], terms[i + 1], f) for i in range(0, len(terms) - 1, 2)] \
            + terms[len(terms) & ~1:]
    return terms[0]


def scalar_gemm(a_bits, packed, mode, act, tab, acc, lookups, symmetrize=True):
    fa, ft, fc = FMT[act], FMT[tab], FMT[acc]
    if mode == "bitserial":
        u, s = packed.codes(symmetrize)
        shifts, c = list(range(packed.weight_bits)), packed.correction
    else:
        u, s = packed.codes()
        u, s, shifts, c = u[None], s[None], [1], 0
    m, n = a_bits.shape[0], u.shape[1]
    out = np.zeros((m, n), np.int64)
    for r in range(m):
        h = scalar_tables([int(v) for v in a_bits[r]], packed.g, mode,
                          symmetrize or mode == "elut", act, tab)
        h = [[convert(e, ft, fc) for e in row] for row in h]
        groups = len(h)
        for col in range(n):
            total, rowsum = [0] * LANES, [0] * LANES     # the partial sums, +0
            t_count = r_count = 0
            for j0 in range(0, groups, lookups):
                step = range(j0, j0 + lookups)
                for p, shift in enumerate(shifts):
                    terms = []
                    for j in step:
                        if j >= groups:
                            terms.append(0)
                            continue
                        t = h[j][int(u[p, col, j])]
                        if s[p, col, j]:
                            t = negate(t, fc)
                        terms.append(scale_pow2(t, shift, fc))
                    lane = t_count % LANES
                    total[lane] = exact_add(total[lane], scalar_tree(terms, fc), fc)
                    t_count += 1
                if mode == "bitserial":
                    lane = r_count % LANES
                    rowsum[lane] = exact_add(rowsum[lane], scalar_tree(
                        [negate(h[j][0], fc) if j < groups else 0 for j in step], fc), fc)
                    r_count += 1
            total, rowsum = scalar_tree(total, fc), scalar_tree(rowsum, fc)
            y = exact_add(total, times_int(c, rowsum, fc), fc)
            out[r, col] = scale_pow2(y, -1, fc)
    return out


def assert_same_bits(got, want, acc):
    nan_got = np.array([[is_nan(int(x), FMT[acc]) for x in row] for row in got])
    nan_want = np.array([[is_nan(int(x), FMT[acc]) for x in row] for row in want])
    np.testing.assert_array_equal(nan_got, nan_want)
    np.testing.assert_array_equal(np.where(nan_got, 0, got), np.where(nan_want, 0, want))


# -- operands -------------------------------------------------------------------------------
def random_acts(rng, shape, act: str, *, specials=False):
    """Normal values of several magnitudes, subnormals, values near the format's largest
    (so that table sums overflow FP16), and with ``specials`` infinities and NaNs."""
    f = FMT[act]
    pick = rng.integers(0, 10, shape)
    normal = rng.standard_normal(shape) * np.exp2(rng.integers(-6, 7, shape))
    x = bits(normal, act)
    sub = rng.integers(1, 1 << f.man_bits, shape) | (rng.integers(0, 2, shape) * f.sign)
    big = (f.max_finite - rng.integers(0, 4, shape)) | (rng.integers(0, 2, shape) * f.sign)
    x = np.where(pick == 0, sub, np.where(pick == 1, big, x))
    if specials:
        x = np.where(pick == 2, f.inf | (rng.integers(0, 2, shape) * f.sign), x)
        x = np.where((pick == 3) & (rng.random(shape) < 0.3), f.nan, x)
        x = np.where(pick == 4, rng.integers(0, 2, shape) * f.sign, x)     # signed zeros
    return x.astype(np.uint16)


def activations(x_bits, act):
    return x_bits.view(DTYPES[act][0])


COMBOS = [(act, tab, acc) for act in ("fp16", "bf16") for tab in ("fp16", "bf16", "fp32")
          for acc in ("fp16", "fp32")]


@pytest.mark.parametrize("act,tab,acc", COMBOS)
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_golden_matches_the_scalar_contract(act, tab, acc, mode):
    rng = np.random.default_rng(zlib.crc32(f"{act} {tab} {acc} {mode}".encode()))
    for lookups, (m, n, k) in [(1, (2, 3, 11)), (3, (1, 4, 13)), (4, (2, 2, 25))]:
        x = random_acts(rng, (m, k), act)
        w = rng.integers(-1, 2, (n, k))
        packed = pack_bitserial(w, g=4) if mode == "bitserial" else pack_elut(w, g=3)
        got = fp_lut_gemm(activations(x, act), packed, act_format=act, table_format=tab,
                          acc_format=acc, lookups=lookups)
        assert got.dtype == DTYPES[acc][0]
        want = scalar_gemm(x, packed, mode, act, tab, acc, lookups)
        assert_same_bits(bits(got, acc), want, acc)


@pytest.mark.parametrize("symmetrize", [True, False])
@pytest.mark.parametrize("g,weight_bits,zero", [(4, 4, 8), (3, 3, 2), (2, 1, 0)])
def test_multibit_weights_and_full_tables(g, weight_bits, zero, symmetrize):
    rng = np.random.default_rng(g * 10 + weight_bits)
    x = random_acts(rng, (2, 22), "fp16")
    w = rng.integers(-zero, (1 << weight_bits) - zero, (3, 22))
    packed = pack_bitserial(w, g=g, weight_bits=weight_bits, zero_point=zero)
    for tab, acc in (("fp32", "fp32"), ("fp16", "fp16")):
        got = fp_lut_gemm(activations(x, "fp16"), packed, act_format="fp16", table_format=tab,
                          acc_format=acc, symmetrize=symmetrize, lookups=4)
        want = scalar_gemm(x, packed, "bitserial", "fp16", tab, acc, 4, symmetrize)
        assert_same_bits(bits(got, acc), want, acc)


@pytest.mark.parametrize("act,acc", [("fp16", "fp16"), ("bf16", "fp32"), ("fp16", "fp32")])
def test_infinities_nans_and_signed_zeros_propagate_as_ieee(act, acc):
    rng = np.random.default_rng(7)
    x = random_acts(rng, (3, 12), act, specials=True)
    w = rng.integers(-1, 2, (4, 12))
    for packed, mode in ((pack_bitserial(w, g=4), "bitserial"), (pack_elut(w, g=3), "elut")):
        got = fp_lut_gemm(activations(x, act), packed, act_format=act, table_format="fp16",
                          acc_format=acc)
        want = scalar_gemm(x, packed, mode, act, "fp16", acc, 1)
        assert_same_bits(bits(got, acc), want, acc)
        assert np.isnan(got.astype(np.float64)).any()


def test_scalar_model_by_hand():
    """One group worked by hand: a = (1, 2, 3, 4) in FP16, ternary w = (1, -1, 0, 1):
    O = 1 - 2 + 4 = 3 exactly, whatever the formats; and 65504 + 65504 overflows an FP16
    table entry to infinity."""
    a = np.array([[1, 2, 3, 4]], np.float16)
    w = np.array([[1, -1, 0, 1]])
    for tab, acc in itertools.product(("fp16", "bf16", "fp32"), ("fp16", "fp32")):
        for packed in (pack_bitserial(w, g=4), pack_elut(w, g=3)):
            out = fp_lut_gemm(a, packed, act_format="fp16", table_format=tab, acc_format=acc)
            assert out.tolist() == [[3.0]]
    big = np.array([[65504, 65504]], np.float16)
    out = fp_lut_gemm(big, pack_elut(np.array([[1, 1]]), g=2), act_format="fp16",
                      table_format="fp16", acc_format="fp32")
    assert np.isposinf(out).all()
    out = fp_lut_gemm(big, pack_elut(np.array([[1, 1]]), g=2), act_format="fp16",
                      table_format="fp32", acc_format="fp32")
    assert out.tolist() == [[131008.0]]


def test_error_against_float64_on_a_bitnet_shape():
    """FP16 activations, FP32 tables and accumulators on a BitNet-2B GEMV (K 2560, N 256 of
    its 2560 columns): the error against float64 stays at FP32 rounding of a 2560-term sum;
    FP16 accumulation is about 2^-11 of the dot product's magnitude per step."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1, 2560)).astype(np.float16)
    w = rng.integers(-1, 2, (256, 2560))
    for packed in (pack_bitserial(w, g=4), pack_elut(w, g=3)):
        err32 = fp_error(fp_lut_gemm(a, packed, act_format="fp16"), a, w)
        assert err32["max_norm"] < 2 ** -20 and err32["mean_rel"] < 2 ** -16
        err16 = fp_error(fp_lut_gemm(a, packed, act_format="fp16", table_format="fp16",
                                     acc_format="fp16"), a, w)
        assert 2 ** -16 < err16["max_norm"] < 2 ** -6


def test_bf16_as_raw_bits_and_refusals():
    x = bits(np.array([[1.5, -2.0, 0.25]], np.float32), "bf16").astype(np.uint16)
    packed = pack_elut(np.array([[1, 1, -1]]), g=3)
    assert fp_lut_gemm(x, packed, act_format="bf16").tolist() == [[-0.75]]
    with pytest.raises(LutcoreError, match=r"^a has dtype float32: act_format fp16 takes "
                                           r"float16$"):
        fp_lut_gemm(np.ones((1, 3), np.float32), packed, act_format="fp16")
    with pytest.raises(LutcoreError, match=r"^act_format 'int8' is unknown: allowed fp16, "
                                           r"bf16$"):
        fp_lut_gemm(np.ones((1, 3), np.float16), packed, act_format="int8")
    with pytest.raises(LutcoreError, match=r"^acc_format 'bf16' is unknown: allowed fp16, "
                                           r"fp32$"):
        fp_lut_gemm(np.ones((1, 3), np.float16), packed, act_format="fp16", acc_format="bf16")
    with pytest.raises(LutcoreError, match=r"^a has K = 4 columns but packed has K = 3$"):
        fp_lut_gemm(np.ones((1, 4), np.float16), packed, act_format="fp16")
    with pytest.raises(LutcoreError, match=r"^lookups = 0 is invalid: allowed 1\.\.8$"):
        fp_lut_gemm(np.ones((1, 3), np.float16), packed, act_format="fp16", lookups=0)


def test_lut_gemm_takes_fp_activations():
    """The public host entry runs the FP contract for FP activations (same packed weights)."""
    rng = np.random.default_rng(11)
    x = random_acts(rng, (2, 17), "bf16")
    w = rng.integers(-1, 2, (5, 17))
    packed = pack_bitserial(w, g=4)
    got = lut_gemm(x, packed, act_format="bf16", table_format="bf16", acc_format="fp16")
    want = scalar_gemm(x, packed, "bitserial", "bf16", "bf16", "fp16", 1)
    assert_same_bits(bits(got, "fp16"), want, "fp16")
    with pytest.raises(LutcoreError, match=r"^act_format = 'fp8' is unknown: allowed 'int8', "
                                           r"'fp16', 'bf16'$"):
        lut_gemm(x, packed, act_format="fp8")


def test_lut_gemm_passes_the_cores_lookups():
    """L sets the order of the additions: lut_gemm with lookups = 4 is the contract at L = 4
    (and differs from L = 1 on these operands)."""
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((2, 40)) * 100).astype(np.float16).view(np.uint16)
    w = rng.integers(-1, 2, (3, 40))
    packed = pack_bitserial(w, g=4)
    got = lut_gemm(x.view(np.float16), packed, act_format="fp16", acc_format="fp16",
                   table_format="fp16", lookups=4)
    want = scalar_gemm(x, packed, "bitserial", "fp16", "fp16", "fp16", 4)
    assert_same_bits(bits(got, "fp16"), want, "fp16")
    other = scalar_gemm(x, packed, "bitserial", "fp16", "fp16", "fp16", 1)
    assert not np.array_equal(want, other)
