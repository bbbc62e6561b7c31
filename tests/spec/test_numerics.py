"""lutcore.spec.numerics: widths and wrap, against hand values and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lutcore.spec import numerics as nx
from lutcore.sw.kernels import balanced_ternary_digits, bitserial_full_tables, elut_tables


@pytest.mark.parametrize("value,bits,expect", [
    (127, 8, 127), (128, 8, -128), (-129, 8, 127), (255, 8, -1), (256, 8, 0),
    (2**31, 32, -2**31), (-2**31 - 1, 32, 2**31 - 1), (5, 3, -3), (-4, 3, -4),
])
def test_wrap_by_hand(value, bits, expect):
    assert nx.wrap(value, bits) == expect
    assert nx.wrap(np.array([value], np.int64), bits).tolist() == [expect]


@settings(max_examples=100, deadline=None)
@given(v=st.integers(-2**40, 2**40), bits=st.sampled_from([8, 16, 32]))
def test_wrap_matches_c_casts(v, bits):
    native = {8: np.int8, 16: np.int16, 32: np.int32}[bits]
    assert nx.wrap(v, bits) == int(np.array(v, np.int64).astype(native))


@settings(max_examples=100, deadline=None)
@given(lo=st.integers(-5000, 5000), span=st.integers(0, 5000))
def test_signed_bits_is_minimal(lo, span):
    hi = lo + span
    b = nx.signed_bits(lo, hi)
    assert nx.fits_signed(lo, b) and nx.fits_signed(hi, b)
    assert b == 1 or not (nx.fits_signed(lo, b - 1) and nx.fits_signed(hi, b - 1))


def test_hand_values():
    assert nx.signed_bits(-512, 512) == 11
    assert nx.signed_bits(-128, 127) == 8
    assert nx.signed_bits(0, 0) == 1 and nx.signed_bits(-1, 0) == 1
    assert [nx.unsigned_bits(x) for x in (0, 1, 2, 13, 121)] == [1, 1, 2, 4, 7]
    assert nx.fits_signed(-128, 8) and not nx.fits_signed(128, 8) and not nx.fits_signed(-129, 8)
    assert nx.correction_constant(2, 1) == 1                 # ternary (DESIGN §2.1)
    assert nx.correction_constant(4, 8) == -1 and nx.correction_constant(1, 0) == 1
    # B = 2, z = 1 codes 0..3 are weights -1..2 (ternary uses only 0..2)
    assert [nx.max_abs_weight(2, 1), nx.max_abs_weight(4, 0), nx.max_abs_weight(4, 8)] == [2, 15, 8]
    assert nx.worst_case_output(2560, 8, 1) == 2560 * 128
    assert [nx.elut_entries(g) for g in (2, 3, 4, 5)] == [5, 14, 41, 122]
    # largest |v| = 4, 13, 40, 121
    assert [nx.elut_index_bits(g) for g in (2, 3, 4, 5)] == [3, 4, 6, 7]
    assert nx.bitserial_entries(4) == 8 and nx.bitserial_full_entries(4) == 16


def test_signed_bits_error():
    with pytest.raises(ValueError) as e:
        nx.signed_bits(2, 1)
    assert str(e.value) == "signed_bits: lo must be <= hi, got lo=2, hi=1"
    with pytest.raises(ValueError) as e:
        nx.unsigned_bits(-1)
    assert str(e.value) == "unsigned_bits: hi must be >= 0, got -1"


@pytest.mark.parametrize("g", range(2, 7))
@pytest.mark.parametrize("act_bits", [2, 8])
def test_table_bits_cover_real_tables(g, act_bits):
    # The widest entries come from rows at the ends of the activation range; the derived
    # width must hold them and one bit less must not (DESIGN §2.1: the all -128 row).
    low, high = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    rows = np.array([[low] * g, [high] * g, ([low, high] * g)[:g]])
    entries = [bitserial_full_tables(rows, g)]
    if g <= 5:
        entries.append(elut_tables(rows, g))
    extreme = max(int(np.abs(t).max()) for t in entries)
    assert extreme == nx.table_bound(g, act_bits)
    b = nx.table_bits(g, act_bits)
    assert nx.fits_signed(extreme, b) and not nx.fits_signed(extreme, b - 1)


# Largest |v| = (3^g - 1) / 2 is 4, 13, 40, 121 for g = 2..5: 3, 4, 6, 7 index bits.
@pytest.mark.parametrize("g, bits", [(2, 3), (3, 4), (4, 6), (5, 7)])
def test_elut_index_bits_hold_every_code(g, bits):
    digits = balanced_ternary_digits(g)
    u = digits @ (3 ** np.arange(g - 1, -1, -1))              # the value each row encodes
    assert u.tolist() == list(range(nx.elut_entries(g)))
    assert nx.elut_index_bits(g) == bits
    assert int(u.max()) < 1 << bits and int(u.max()) >= 1 << (bits - 1)
