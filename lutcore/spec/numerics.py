"""Derived bit widths and table geometry (DESIGN §2).

Every width in the hardware, the compiler and the golden model comes from these functions;
nothing else in the project spells a width as a literal. They take plain numbers so that
blocks can take just the numbers they need; :class:`lutcore.spec.config.CoreConfig` exposes
them for a whole configuration.
"""

from __future__ import annotations

__all__ = [
    "signed_bits", "unsigned_bits", "wrap",
    "table_bound", "table_bits",
    "bitserial_entries", "bitserial_index_bits", "bitserial_full_entries",
    "elut_entries", "elut_index_bits", "elut_max_code",
    "correction_constant", "max_abs_weight", "max_abs_activation",
    "worst_case_output", "fits_signed",
]


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in ``[lo, hi]``."""
    if lo > hi:
        raise ValueError(f"signed_bits: lo must be <= hi, got lo={lo}, hi={hi}")
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def unsigned_bits(hi: int) -> int:
    """Smallest unsigned width holding every integer in ``[0, hi]`` (at least 1)."""
    if hi < 0:
        raise ValueError(f"unsigned_bits: hi must be >= 0, got {hi}")
    return max(1, int(hi).bit_length())


def fits_signed(value: int, bits: int) -> bool:
    return -(1 << (bits - 1)) <= value <= (1 << (bits - 1)) - 1


def wrap(value, bits: int):
    """Two's-complement wrap of an integer (or int64 NumPy array) to ``bits`` bits."""
    half = 1 << (bits - 1)
    return ((value + half) % (1 << bits)) - half


def max_abs_activation(act_bits: int) -> int:
    """Largest |a| of a signed ``act_bits`` activation (the -2^(n-1) end)."""
    return 1 << (act_bits - 1)


def table_bound(g: int, act_bits: int) -> int:
    """Bound on |entry| of either table kind: |sum of g signed activations| <= g * 2^(a-1)."""
    return g * max_abs_activation(act_bits)


def table_bits(g: int, act_bits: int) -> int:
    """Signed width of a table entry (11 for g = 4, int8: the all -128 row gives +512)."""
    bound = table_bound(g, act_bits)
    return signed_bits(-bound, bound)


# -- bit-serial mode with table symmetrization (DESIGN §2.1, paper Eq. 6) -------------------

def bitserial_full_entries(g: int) -> int:
    """Entries of the unsymmetrized table: 2^g."""
    return 1 << g


def bitserial_entries(g: int) -> int:
    """Entries of the symmetrized table: T[v] = -T[~v] halves it to 2^(g-1)."""
    return 1 << (g - 1)


def bitserial_index_bits(g: int) -> int:
    """Index bits of a symmetrized lookup (the sign bit comes on top)."""
    return g - 1


def correction_constant(weight_bits: int, zero_point: int) -> int:
    """c = 2^B - 1 - 2z of ``O = (S + c * sum(A)) >> 1`` (ternary: B = 2, z = 1, c = 1)."""
    return (1 << weight_bits) - 1 - 2 * zero_point


# -- element-wise ternary mode, ELUT (DESIGN §2.2) ------------------------------------------

def elut_entries(g: int) -> int:
    """Entries of the ELUT table: u in [0, (3^g - 1) / 2], that is (3^g + 1) / 2 entries."""
    return (3 ** g + 1) // 2


def elut_max_code(g: int) -> int:
    """Largest |v| of a group: (3^g - 1) / 2."""
    return (3 ** g - 1) // 2


def elut_index_bits(g: int) -> int:
    """Index bits of an ELUT lookup: ceil(log2(entries)) (4 for g = 3); plus one sign bit."""
    return unsigned_bits(elut_max_code(g))


# -- overflow (DESIGN §2.3) ----------------------------------------------------------------

def max_abs_weight(weight_bits: int, zero_point: int) -> int:
    """Largest |q - z| over codes q in [0, 2^B)."""
    return max(zero_point, (1 << weight_bits) - 1 - zero_point)


def worst_case_output(k: int, act_bits: int, max_weight: int) -> int:
    """Worst-case |O| of a K-long dot product: K * max|a| * max|w|."""
    return k * max_abs_activation(act_bits) * max_weight
