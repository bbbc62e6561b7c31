"""Bad inputs to the public kernel functions: one-line LutcoreError messages naming the
argument, the bad value / shape / dtype and what is allowed."""

import numpy as np
import pytest

from lutcore.errors import LutcoreError
from lutcore.sw.kernels import (check_overflow, lut_gemm, pack_elut, reference_gemm,
                                ternary_gemm)
from lutcore.sw.kernels.validate import (check_activations, check_bool, check_ternary,
                                         check_weights)

A = np.zeros((2, 5), np.int8)
W = np.zeros((3, 5), np.int8)
P = pack_elut(W)

CASES = [
    ("non-ternary", lambda: ternary_gemm(A, np.full((3, 5), 2, np.int8)),
     "w is not ternary: value 2 at [0, 0]; allowed -1, 0, 1"),
    ("K mismatch", lambda: ternary_gemm(A, np.zeros((3, 4), np.int8)),
     "K mismatch: packed has K = 4 (shape (3, 4)) but a has K = 5 (shape (2, 5)); weights "
     "must be [N, K] for activations [M, K]"),
    ("K mismatch ref", lambda: reference_gemm(A, np.zeros((3, 6), np.int8)),
     "K mismatch: w has K = 6 (shape (3, 6)) but a has K = 5 (shape (2, 5)); weights "
     "must be [N, K] for activations [M, K]"),
    ("float acts", lambda: lut_gemm(A.astype(np.float32), P),
     "a has dtype float32: allowed integer dtypes (int8 expected)"),
    ("bool weights", lambda: ternary_gemm(A, W.astype(bool)),
     "w has dtype bool: allowed integer dtypes (int8 expected)"),
    ("range", lambda: lut_gemm(np.array([[0, 0, 0, 0, 200]], np.int16), P),
     "a has value 200 at [0, 4]: allowed -128..127 (act_bits = 8)"),
    ("range act_bits", lambda: lut_gemm(np.array([[0, -9, 0, 0, 0]]), P, act_bits=4),
     "a has value -9 at [0, 1]: allowed -8..7 (act_bits = 4)"),
    ("rank 1", lambda: lut_gemm(np.zeros(5, np.int8), P),
     "a must be a 2-D array [M, K], got 1-D shape (5,)"),
    ("rank 3", lambda: ternary_gemm(A, np.zeros((1, 3, 5), np.int8)),
     "w must be a 2-D array [N, K], got 3-D shape (1, 3, 5)"),
    ("empty acts", lambda: lut_gemm(np.zeros((0, 5), np.int8), P),
     "a is empty (shape (0, 5)): [M, K] must both be >= 1"),
    ("empty weights", lambda: ternary_gemm(A, np.zeros((3, 0), np.int8)),
     "w is empty (shape (3, 0)): [N, K] must both be >= 1"),
    ("raw weights", lambda: lut_gemm(A, W),
     "packed must be BitSerialWeights or ElutWeights (from pack_bitserial / pack_elut), got "
     "ndarray; for raw ternary weights use ternary_gemm"),
    ("acc_bits", lambda: lut_gemm(A, P, 64),
     "acc_bits = 64 is out of range: allowed 2..62"),
    ("act_bits", lambda: lut_gemm(A, P, act_bits=17),
     "act_bits = 17 is out of range: allowed 2..16"),
    ("path", lambda: lut_gemm(A, P, path="gpu"),
     "path = 'gpu' is unknown: allowed 'fast', 'core'"),
    ("mode", lambda: ternary_gemm(A, W, mode="mac"),
     "mode = 'mac' is unknown: allowed 'bitserial', 'elut'"),
    ("overflow", lambda: check_overflow(70000, 8, 1, 24, allow_wrap=False),
     "K = 70000 could overflow acc_bits = 24: worst case |O| = 8960000 > 8388607; allow "
     "wrapping (--allow-wrap / allow_wrap=True) to get the result modulo 2^24"),
]


@pytest.mark.parametrize("make,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_messages(make, message):
    with pytest.raises(LutcoreError) as e:
        make()
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_overflow_check_boundary():
    # 65535 * 128 = 8388480 fits 24 signed bits; 65536 * 128 = 2^23 does not.
    check_overflow(65535, 8, 1, 24, allow_wrap=False)
    with pytest.raises(LutcoreError):
        check_overflow(65536, 8, 1, 24, allow_wrap=False)
    check_overflow(65536, 8, 1, 24, allow_wrap=True)


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("check,lo,hi,what", [
    (lambda x: check_activations(x, 8, "a"), -128, 127, "(act_bits = 8)"),
    (lambda x: check_weights(x, 3, 2, "w"), -2, 5, "(weight_bits = 3, zero_point = 2)"),
], ids=["acts", "weights"])
def test_every_integer_dtype_is_range_checked_before_conversion(dtype, check, lo, hi, what):
    info = np.iinfo(dtype)
    # In range: accepted unchanged (same dtype, no copy made by the check).
    ok = np.array([[max(lo, info.min), min(hi, info.max)]], dtype)
    assert check(ok) is ok
    # The dtype's largest value (2^64 - 1 for uint64, read as -1 by a cast to int64) and,
    # for signed dtypes, its smallest: refused, printed exactly.
    extremes = [info.max] + ([info.min] if info.min < 0 else [])
    for value in extremes:
        if lo <= value <= hi:
            continue
        bad = np.array([[0, 0], [0, value]], dtype)
        with pytest.raises(LutcoreError) as e:
            check(bad)
        assert str(e.value).endswith(f"has value {value} at [1, 1]: allowed {lo}..{hi} {what}")


def test_uint64_above_2_63_is_not_ternary():
    w = np.array([[1, (1 << 64) - 1]], np.uint64)        # int64 cast: [1, -1], ternary
    with pytest.raises(LutcoreError) as e:
        check_ternary(w, "w")
    assert str(e.value) == ("w is not ternary: value 18446744073709551615 at [0, 1]; "
                            "allowed -1, 0, 1")


@pytest.mark.parametrize("value", ["no", 0, 1, None, 1.0])
def test_check_bool_refuses_truthy_values(value):
    with pytest.raises(LutcoreError) as e:
        check_bool("allow_wrap", value)
    assert str(e.value) == f"allow_wrap = {value!r} is invalid: allowed True or False"


def test_check_bool_accepts_bools():
    assert check_bool("check", np.bool_(True)) is True and check_bool("check", False) is False
