"""Input checks shared by the kernels, the NumPy backend and the CLI.

Every failure raises :class:`lutcore.errors.LutcoreError` with one line naming the argument,
the bad value, shape or dtype, and what is allowed. Callers pass the name the user knows the
argument by (``a`` in the Python API, ``--acts A.npy`` on the command line).
"""

from __future__ import annotations

import numpy as np

from ...errors import LutcoreError
from ...spec.params import PARAMS
from ...spec import numerics as nx

__all__ = [
    "check_int_matrix", "check_in_range", "check_activations", "check_weights", "check_ternary", "check_k_match",
    "check_range", "check_bool", "check_choice", "check_overflow", "freeze", "activation_range", "weight_range",
    "ACT_BITS_RANGE", "ACC_BITS_RANGE", "BITSERIAL_G_RANGE", "ELUT_G_RANGE",
    "WEIGHT_BITS_RANGE",
]

# Parameter ranges of the kernels, from the one table (spec/params.py). acc_bits may go beyond
# the hardware's 48 because the golden model computes in int64 and wraps at the end
# (DESIGN §2.3): 62 keeps 2^acc_bits representable in int64.
def _span(key: str) -> tuple[int, int]:
    return PARAMS[key].lo, PARAMS[key].hi


ACT_BITS_RANGE = _span("act_bits")
ACC_BITS_RANGE = _span("kernel_acc_bits")
BITSERIAL_G_RANGE = _span("g")
ELUT_G_RANGE = _span("elut_g")
WEIGHT_BITS_RANGE = _span("weight_bits")


def check_range(name: str, value, lo: int, hi: int) -> int:
    """Check that ``value`` is an integer in ``lo..hi``; return it as ``int``.

    Raises:
        LutcoreError: not an integer (bools are refused) or outside ``lo..hi``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise LutcoreError(f"{name} = {value!r} is invalid: must be an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise LutcoreError(f"{name} = {value} is out of range: allowed {lo}..{hi}")
    return int(value)


def check_bool(name: str, value) -> bool:
    """Check that ``value`` is a bool (Python or NumPy); return it as ``bool``. Strings such
    as ``"no"`` and integers are refused rather than read by their truth value.

    Raises:
        LutcoreError: ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise LutcoreError(f"{name} = {value!r} is invalid: allowed True or False")
    return bool(value)


def check_choice(name: str, value, allowed) -> str:
    """Check that ``value`` is one of ``allowed`` (strings); return it."""
    if value not in allowed:
        raise LutcoreError(
            f"{name} = {value!r} is unknown: allowed {', '.join(repr(x) for x in allowed)}")
    return value


def check_int_matrix(x, name: str, dims: str = "[rows, cols]") -> np.ndarray:
    """Check that ``x`` is a non-empty 2-D integer array; return it as an ndarray.

    Args:
        x: array-like.
        name: how the user knows the argument (used in the message).
        dims: the expected dimension names, e.g. ``"[M, K]"``.

    Raises:
        LutcoreError: wrong rank, non-integer dtype (bool, float, object...), or a zero-sized
            dimension.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise LutcoreError(f"{name} has dtype {x.dtype}: allowed integer dtypes (int8 expected)")
    if x.ndim != 2:
        raise LutcoreError(f"{name} must be a 2-D array {dims}, got {x.ndim}-D shape {x.shape}")
    if x.size == 0:
        raise LutcoreError(f"{name} is empty (shape {x.shape}): {dims} must both be >= 1")
    return x


def _first_outside(x: np.ndarray, lo: int, hi: int):
    """Index and value (a Python int, exact for every dtype) of the first element outside
    ``lo..hi``, or None. The bounds are clipped to the dtype's own range first, so no value
    is converted and an unsigned 64-bit value above 2^63 is compared as what it is."""
    info = np.iinfo(x.dtype)
    if lo > info.max or hi < info.min:            # every value is outside
        return (0,) * x.ndim, int(x.flat[0])
    lo_x, hi_x = x.dtype.type(max(lo, info.min)), x.dtype.type(min(hi, info.max))
    # min/max first: one cheap pass in the common, valid case.
    if x.min() >= lo_x and x.max() <= hi_x:
        return None
    idx = tuple(int(i) for i in np.argwhere((x < lo_x) | (x > hi_x))[0])
    return idx, int(x[idx])


def check_in_range(x, lo: int, hi: int, name: str, what: str,
                   dims: str = "[rows, cols]") -> np.ndarray:
    """Check that ``x`` is a non-empty 2-D integer array (any integer dtype, unsigned 64-bit
    included) with every value in ``lo..hi``, without converting it; return it.

    Args:
        what: what the range is, for the message (``"act_bits = 8"``).
        dims: the expected dimension names, e.g. ``"[N, K]"``.

    Raises:
        LutcoreError: wrong rank, dtype, empty, or a value out of range (the first one, its
            index and value printed exactly).
    """
    x = check_int_matrix(x, name, dims)
    bad = _first_outside(x, lo, hi)
    if bad is not None:
        raise LutcoreError(f"{name} has value {bad[1]} at {list(bad[0])}: allowed {lo}..{hi} "
                           f"({what})")
    return x


def activation_range(act_bits: int) -> tuple[int, int]:
    """Signed range ``(lo, hi)`` of an ``act_bits`` activation."""
    top = nx.max_abs_activation(act_bits)
    return -top, top - 1


def weight_range(weight_bits: int, zero_point: int) -> tuple[int, int]:
    """Range ``(lo, hi)`` of a weight ``w = q - z`` with codes ``q`` in ``[0, 2^B)``."""
    return -zero_point, (1 << weight_bits) - 1 - zero_point


def check_activations(a, act_bits: int = 8, name: str = "a") -> np.ndarray:
    """Check activations: a non-empty integer [M, K] array (any integer dtype) within the
    signed ``act_bits`` range (-128..127 for int8), checked without converting. Returns the
    array unchanged.

    Raises:
        LutcoreError: ``act_bits`` out of range; wrong rank, dtype, empty, or a value out of
            range.
    """
    check_range("act_bits", act_bits, *ACT_BITS_RANGE)
    a = check_int_matrix(a, name, "[M, K]")
    return check_in_range(a, *activation_range(act_bits), name, f"act_bits = {act_bits}")


def check_ternary(w, name: str = "w") -> np.ndarray:
    """Check ternary weights: a non-empty integer [N, K] array of -1, 0, +1 (any integer
    dtype). Returns it unchanged.

    Raises:
        LutcoreError: wrong rank, dtype, empty, or a value other than -1, 0, 1.
    """
    w = check_int_matrix(w, name, "[N, K]")
    bad = _first_outside(w, -1, 1)
    if bad is not None:
        raise LutcoreError(
            f"{name} is not ternary: value {bad[1]} at {list(bad[0])}; allowed -1, 0, 1")
    return w


def check_weights(w, weight_bits: int, zero_point: int, name: str = "w") -> np.ndarray:
    """Check B-bit weights ``w = q - z``: a non-empty integer [N, K] array (any integer
    dtype) with values in ``-z .. 2^B - 1 - z``, checked without converting. Returns it
    unchanged.

    Raises:
        LutcoreError: ``weight_bits`` or ``zero_point`` out of range; wrong rank, dtype,
            empty, or a value outside the code range.
    """
    check_range("weight_bits", weight_bits, *WEIGHT_BITS_RANGE)
    check_range("zero_point", zero_point, 0, (1 << weight_bits) - 1)
    w = check_int_matrix(w, name, "[N, K]")
    return check_in_range(w, *weight_range(weight_bits, zero_point), name,
                          f"weight_bits = {weight_bits}, zero_point = {zero_point}")


def check_k_match(a_shape, w_shape, a_name: str = "a", w_name: str = "w") -> int:
    """Check that activations [M, K] and weights [N, K] agree on K; return K.

    Raises:
        LutcoreError: the two K differ.
    """
    if a_shape[1] != w_shape[1]:
        raise LutcoreError(
            f"K mismatch: {w_name} has K = {w_shape[1]} (shape {tuple(w_shape)}) but {a_name} "
            f"has K = {a_shape[1]} (shape {tuple(a_shape)}); weights must be [N, K] for "
            f"activations [M, K]")
    return int(a_shape[1])


def check_overflow(k: int, act_bits: int, max_weight: int, acc_bits: int,
                   allow_wrap: bool) -> None:
    """Refuse a GEMM whose worst case ``K * max|a| * max|w|`` does not fit ``acc_bits``
    (DESIGN §2.3), unless ``allow_wrap``: then the output wraps modulo 2^acc_bits.

    Raises:
        LutcoreError: the worst case overflows and wrapping was not allowed.
    """
    worst = nx.worst_case_output(k, act_bits, max_weight)
    if not allow_wrap and not nx.fits_signed(worst, acc_bits):
        raise LutcoreError(
            f"K = {k} could overflow acc_bits = {acc_bits}: worst case |O| = {worst} > "
            f"{(1 << (acc_bits - 1)) - 1}; allow wrapping (--allow-wrap / allow_wrap=True) "
            f"to get the result modulo 2^{acc_bits}")


def freeze(x: np.ndarray) -> np.ndarray:
    """A read-only copy of ``x`` whose memory is an immutable ``bytes`` object, so that
    neither ``x``'s owner nor the copy's holder can change it (NumPy refuses to make it
    writable again). Validated objects keep their arrays this way."""
    x = np.asarray(x)
    root = x
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    if not x.flags.writeable and isinstance(root, bytes):
        return x                                  # frozen already
    data = np.ascontiguousarray(x).tobytes()
    return np.frombuffer(data, x.dtype).reshape(x.shape)
