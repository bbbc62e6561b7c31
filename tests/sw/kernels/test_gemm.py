"""lut_gemm against an independent int64 oracle: random shapes, every g / B / zero point,
extremes, wrap-around, both modes and both paths (DESIGN §2), each test with the fast path's
lookup loop in C and in NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lutcore.sw.kernels import (lut_gemm, native, pack_bitserial, pack_elut, reference_gemm,
                                ternary_gemm)

PATHS = ("fast", "core")


@pytest.fixture(autouse=True, params=["c", "numpy"])
def lookup_loop(request):
    """Every test twice: the C loop (skipped without a C compiler) and the NumPy one."""
    if request.param == "numpy":
        with native.disabled():
            yield request.param
    else:
        if not native.enabled():
            pytest.skip(f"the C lookup loop is not available: {native.status()}")
        yield request.param


def oracle(a, w):
    """A @ W.T in int64, computed here rather than by the code under test."""
    return np.asarray(a, np.int64) @ np.asarray(w, np.int64).T


def wrapped(v, bits):
    """Two's-complement wrap, through a C cast where NumPy has the width."""
    v = np.asarray(v, np.int64)
    native = {8: np.int8, 16: np.int16, 32: np.int32}
    if bits in native:
        return v.astype(native[bits]).astype(np.int64)
    m = np.int64(1) << np.int64(bits)
    low = v & (m - 1)
    return np.where(low >= m >> 1, low - m, low)


def ternary(rng, shape):
    return rng.integers(-1, 2, shape).astype(np.int8)


def acts(rng, shape, act_bits=8):
    top = 1 << (act_bits - 1)
    return rng.integers(-top, top, shape).astype(np.int8 if act_bits <= 8 else np.int16)


def test_reference_gemm_matches_plain_loops():
    rng = np.random.default_rng(0)
    a, w = acts(rng, (3, 7)), ternary(rng, (4, 7))
    expect = [[sum(int(a[m, k]) * int(w[n, k]) for k in range(7)) for n in range(4)]
              for m in range(3)]
    out = reference_gemm(a, w)
    assert out.dtype == np.int64
    assert out.tolist() == expect


# M = 1, N = 1, K not a multiple of any g, K below a group, large K, M past the row-wise
# gather threshold (a lookup fetches all rows at once), N past one cache block.
SHAPES = [(1, 1, 1), (1, 1, 7), (1, 9, 13), (4, 1, 29), (3, 5, 40), (2, 3, 4099),
          (1, 300, 257), (37, 6, 61), (70, 5, 9)]


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_ternary_random_shapes(m, n, k, mode, path):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a, w = acts(rng, (m, k)), ternary(rng, (n, k))
    out = ternary_gemm(a, w, mode=mode, path=path)
    assert out.shape == (m, n) and out.dtype == np.int64
    np.testing.assert_array_equal(out, oracle(a, w))


@pytest.mark.parametrize("g", range(2, 7))
@pytest.mark.parametrize("bits", range(1, 5))
def test_bitserial_every_g_bits_and_zero_point(g, bits):
    rng = np.random.default_rng(10 * g + bits)
    for z in range(1 << bits):                       # every zero point of this B
        m, n, k = 2, 3, 3 * g + 1                    # K not a multiple of g nor of 8
        a = acts(rng, (m, k))
        w = rng.integers(-z, (1 << bits) - z, (n, k))
        packed = pack_bitserial(w, g=g, weight_bits=bits, zero_point=z)
        want = oracle(a, w)
        for path in PATHS:
            np.testing.assert_array_equal(lut_gemm(a, packed, path=path), want)
        # the unsymmetrized baseline tables give the same result
        np.testing.assert_array_equal(lut_gemm(a, packed, path="core", symmetrize=False), want)


@pytest.mark.parametrize("g", range(2, 6))
@pytest.mark.parametrize("k", [1, 11, 64])
def test_elut_every_g(g, k):
    rng = np.random.default_rng(g * 100 + k)
    a, w = acts(rng, (3, k)), ternary(rng, (4, k))
    packed = pack_elut(w, g=g)
    for path in PATHS:
        np.testing.assert_array_equal(lut_gemm(a, packed, path=path), oracle(a, w))


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("a_val", [-128, 127, 0])
@pytest.mark.parametrize("w_val", [-1, 1, 0])
@pytest.mark.parametrize("k", [5, 263])
def test_extremes(mode, path, a_val, w_val, k):
    # All activations at an end of int8 drive every table entry to its bound (|T| = g*128
    # for -128), the width DESIGN §2.1 sizes tables for.
    a = np.full((2, k), a_val, np.int8)
    w = np.full((3, k), w_val, np.int8)
    out = ternary_gemm(a, w, mode=mode, path=path)
    np.testing.assert_array_equal(out, np.full((2, 3), k * a_val * w_val))


@pytest.mark.parametrize("bits,z", [(2, 1), (4, 0), (4, 15), (3, 5)])
@pytest.mark.parametrize("path", PATHS)
def test_bitserial_extreme_codes(bits, z, path):
    # Both ends of the code range with both ends of int8.
    k = 41
    a = np.where(np.arange(k) % 2, -128, 127)[None].astype(np.int8)
    lo, hi = -z, (1 << bits) - 1 - z
    w = np.stack([np.full(k, lo), np.full(k, hi), np.where(np.arange(k) % 2, lo, hi)])
    packed = pack_bitserial(w, weight_bits=bits, zero_point=z)
    np.testing.assert_array_equal(lut_gemm(a, packed, path=path), oracle(a, w))


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("acc_bits", [8, 12, 16, 24])
def test_wraps_to_acc_bits(mode, path, acc_bits):
    # K * 127 just past 2^(acc_bits-1): the true result overflows acc_bits and the output must
    # be the value modulo 2^acc_bits (DESIGN §2.3), element-wise across mixed rows.
    k = (1 << (acc_bits - 1)) // 127 + 3
    a = np.stack([np.full(k, 127), np.full(k, -128), np.arange(k) % 7 - 3]).astype(np.int8)
    w = np.stack([np.ones(k), -np.ones(k), np.zeros(k)]).astype(np.int8)
    full = oracle(a, w)
    assert np.abs(full).max() >= 1 << (acc_bits - 1)          # the case really overflows
    out = ternary_gemm(a, w, mode=mode, path=path, acc_bits=acc_bits)
    np.testing.assert_array_equal(out, wrapped(full, acc_bits))
    assert out.min() >= -(1 << (acc_bits - 1)) and out.max() < 1 << (acc_bits - 1)


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_sums_beyond_int32(mode):
    # 16-bit activations and K = 70000 give |O| > 2^31: the fast path must leave int32
    # accumulators; wrapped to 32 bits it must still agree.
    k = 70000
    a = np.full((1, k), 32767, np.int16)
    w = np.stack([np.ones(k), -np.ones(k)]).astype(np.int8)
    full = oracle(a, w)
    assert full.max() > np.iinfo(np.int32).max
    np.testing.assert_array_equal(ternary_gemm(a, w, mode=mode, act_bits=16, acc_bits=40), full)
    np.testing.assert_array_equal(ternary_gemm(a, w, mode=mode, act_bits=16, acc_bits=32),
                                  wrapped(full, 32))


@pytest.mark.parametrize("act_bits", [2, 4, 12, 16])
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_other_activation_widths(act_bits, mode):
    rng = np.random.default_rng(act_bits)
    a, w = acts(rng, (3, 23), act_bits), ternary(rng, (4, 23))
    for path in PATHS:
        out = ternary_gemm(a, w, mode=mode, act_bits=act_bits, path=path)
        np.testing.assert_array_equal(out, oracle(a, w))


def test_any_integer_dtype_is_accepted():
    rng = np.random.default_rng(5)
    a, w = acts(rng, (2, 17)), ternary(rng, (3, 17))
    want = oracle(a, w)
    for adt in (np.int16, np.int64):
        for wdt in (np.int64, np.int32):
            out = ternary_gemm(a.astype(adt), w.astype(wdt))
            np.testing.assert_array_equal(out, want)


@st.composite
def gemm_case(draw):
    m = draw(st.integers(1, 5))
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 50))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return acts(rng, (m, k)), ternary(rng, (n, k))


@settings(max_examples=60, deadline=None)
@given(case=gemm_case(), mode=st.sampled_from(["bitserial", "elut"]),
       path=st.sampled_from(PATHS), acc_bits=st.sampled_from([10, 16, 32]))
def test_property_ternary(case, mode, path, acc_bits):
    a, w = case
    out = ternary_gemm(a, w, mode=mode, path=path, acc_bits=acc_bits)
    np.testing.assert_array_equal(out, wrapped(oracle(a, w), acc_bits))


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(1, 4), g=st.integers(2, 6), data=st.data())
def test_property_bitserial_codes(bits, g, data):
    z = data.draw(st.integers(0, (1 << bits) - 1))
    m, n, k = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 30)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = acts(rng, (m, k))
    w = rng.integers(-z, (1 << bits) - z, (n, k))
    packed = pack_bitserial(w, g=g, weight_bits=bits, zero_point=z)
    for path in PATHS:
        np.testing.assert_array_equal(lut_gemm(a, packed, path=path), oracle(a, w))


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
@pytest.mark.parametrize("rowwise_max_m", [0, 1000])
@pytest.mark.parametrize("table_elements", [1, 1 << 12, 1 << 24])
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_fast_path_blocking(monkeypatch, block, rowwise_max_m, table_elements, mode):
    # Small cache blocks force many blocks with a partial last one, over columns and over
    # activation rows, through both gather layouts (per-row tables, and one row of M entries
    # per lookup).
    import lutcore.sw.kernels.gemm as gemm
    monkeypatch.setattr(gemm, "_BLOCK_ELEMENTS", block)
    monkeypatch.setattr(gemm, "_ROWWISE_MAX_M", rowwise_max_m)
    monkeypatch.setattr(gemm, "_NATIVE_ROWWISE_MAX_M", rowwise_max_m)
    monkeypatch.setattr(gemm, "_TABLE_ELEMENTS", table_elements)
    rng = np.random.default_rng(block)
    for m, n, k in [(1, 23, 17), (3, 29, 40), (5, 11, 3)]:
        a, w = acts(rng, (m, k)), ternary(rng, (n, k))
        np.testing.assert_array_equal(ternary_gemm(a, w, mode=mode), oracle(a, w))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("bits,z,g", [(2, 1, 4), (4, 3, 5), (1, 0, 6)])
def test_k_chunks(monkeypatch, path, bits, z, g):
    # Tiny chunk budgets cut K into many chunks of 120 columns (whole plane bytes, ELUT bytes
    # and groups of every g) with a partial last one; the exact partial sums add up, and a
    # narrow acc_bits wraps only the total.
    import lutcore.sw.kernels.gemm as gemm
    monkeypatch.setattr(gemm, "_CHUNK_ELEMENTS", 1)
    monkeypatch.setattr(gemm, "_CORE_ELEMENTS", 1)
    rng = np.random.default_rng(bits)
    for m, n, k in [(1, 3, 121), (4, 9, 1001), (2, 1, 360)]:
        a = acts(rng, (m, k))
        w = rng.integers(-z, (1 << bits) - z, (n, k))
        packed = pack_bitserial(w, g=g, weight_bits=bits, zero_point=z)
        np.testing.assert_array_equal(lut_gemm(a, packed, 62, path=path), oracle(a, w))
        np.testing.assert_array_equal(lut_gemm(a, packed, 12, path=path),
                                      wrapped(oracle(a, w), 12))
        t = ternary(rng, (n, k))
        np.testing.assert_array_equal(lut_gemm(a, pack_elut(t, g=min(g, 5)), 62, path=path),
                                      oracle(a, t))
