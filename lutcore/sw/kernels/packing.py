"""Compact weight storage for both LUT modes.

Two packed forms, each a small frozen dataclass that knows its shape, mode, group size ``g``,
weight bits ``B`` and zero point ``z`` and reports ``nbytes``:

* :class:`BitSerialWeights` (DESIGN §2.1): B bit planes of the codes ``q = w + z``, 8 weights
  per byte: ``planes[b, n, j]`` bit ``i`` is bit ``b`` of ``q[n, 8*j + i]``. B bits/weight
  (2 for ternary). One byte of a plane is an 8-bit plane pattern of 8 consecutive weights,
  which the host fast path uses directly as a table index.
* :class:`ElutWeights` (DESIGN §2.2): 5 ternary weights per byte in base 3,
  ``data[n, j] = sum_i 3^(4-i) * (w[n, 5*j + i] + 1)`` in ``[0, 243)``: 1.6 bits/weight. That
  byte is the sign-free form ``v + (3^5 - 1)/2`` of the DESIGN §2.2 group value ``v``.

The storage does not depend on ``g``: ``g`` is the table geometry of the tensor core the weights
are meant for (the configuration's ``g`` / ``elut_g``) and is what :func:`lutcore.sw.kernels.
lut_gemm` uses with ``path="core"``; :meth:`codes` derives the core's per-group ``(u, s)``
codes on demand. K is zero-padded to a whole byte; padded positions meet zero activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import LutcoreError
from ...spec import numerics as nx
from ...spec.config import CoreConfig
from . import tables
from .validate import (BITSERIAL_G_RANGE, ELUT_G_RANGE, WEIGHT_BITS_RANGE, check_range,
                       check_ternary, check_weights, freeze)

__all__ = [
    "BitSerialWeights", "ElutWeights", "pack_bitserial", "pack_elut", "pack_weights",
    "PLANE_GROUP", "ELUT_BYTE_GROUP", "ELUT_BYTE_CODES", "TERNARY_WEIGHT_BITS",
    "TERNARY_ZERO_POINT", "DEFAULT_BITSERIAL_G", "DEFAULT_ELUT_G",
]

# Ternary weights as bit-serial codes: q = w + 1 in {0, 1, 2}, B = 2, z = 1 (DESIGN §2.1).
TERNARY_WEIGHT_BITS = 2
TERNARY_ZERO_POINT = 1
# The core's group sizes unless told otherwise: those of the default configuration.
DEFAULT_BITSERIAL_G = CoreConfig().g
DEFAULT_ELUT_G = CoreConfig().elut_g

# Weights per byte of a bit plane (one bit each).
PLANE_GROUP = 8
# Ternary weights per ELUT storage byte: 3^5 = 243 <= 256 is the largest power of 3 in a byte.
ELUT_BYTE_GROUP = 5
ELUT_BYTE_CODES = 3 ** ELUT_BYTE_GROUP


def _num_bytes(k: int, per_byte: int) -> int:
    return tables.num_groups(k, per_byte)


class _Packed:
    """What both packed forms answer from their storage array (attribute ``_STORAGE``, with
    the N rows along axis ``_N_AXIS``)."""

    _STORAGE: str
    _N_AXIS: int

    @property
    def n(self) -> int:
        return int(getattr(self, self._STORAGE).shape[self._N_AXIS])

    @property
    def shape(self) -> tuple[int, int]:
        """(N, K) of the weight matrix."""
        return self.n, self.k

    @property
    def nbytes(self) -> int:
        """Bytes of weight storage."""
        return int(getattr(self, self._STORAGE).nbytes)

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.nbytes / (self.n * self.k)


@dataclass(frozen=True, eq=False)
class BitSerialWeights(_Packed):
    """B-bit weights ``w = q - z`` held as bit planes, 8 weights per byte (B bits/weight).

    Attributes:
        planes: uint8 [B, N, ceil(K/8)]; bit ``i`` of ``planes[b, n, j]`` is bit ``b`` of
            the code ``q[n, 8*j + i]`` (little bit order). Padding bits are 0.
        k: K, the number of weights per output column.
        g: the core's bit-serial group size (2..6) the weights are laid out for.
        weight_bits: B, 1..4 (ternary: 2).
        zero_point: z, 0..2^B - 1 (ternary: 1).

    The object keeps a frozen copy of ``planes`` (:func:`~.validate.freeze`): changing the
    array it was built from changes nothing, and its own array cannot be written.

    Raises:
        LutcoreError: on construction, if a field is out of range, ``planes`` has the wrong
            dtype or shape, or a padding bit is set.
    """

    planes: np.ndarray
    k: int
    g: int = DEFAULT_BITSERIAL_G
    weight_bits: int = TERNARY_WEIGHT_BITS
    zero_point: int = TERNARY_ZERO_POINT

    def __post_init__(self):
        check_range("g", self.g, *BITSERIAL_G_RANGE)
        check_range("weight_bits", self.weight_bits, *WEIGHT_BITS_RANGE)
        check_range("zero_point", self.zero_point, 0, (1 << self.weight_bits) - 1)
        check_range("k", self.k, 1, np.iinfo(np.int64).max)
        p = self.planes
        want = (self.weight_bits, None, _num_bytes(self.k, PLANE_GROUP))
        if (not isinstance(p, np.ndarray) or p.dtype != np.uint8 or p.ndim != 3
                or p.shape[0] != want[0] or p.shape[2] != want[2] or p.shape[1] < 1):
            raise LutcoreError(
                f"planes must be a uint8 array [B={want[0]}, N, ceil(K/8)={want[2]}], got "
                f"{getattr(p, 'dtype', type(p).__name__)} shape {getattr(p, 'shape', None)}")
        pad = want[2] * PLANE_GROUP - self.k          # padding bits of the last byte
        if pad and np.any(p[..., -1] >> np.uint8(PLANE_GROUP - pad)):
            raise LutcoreError(f"planes has nonzero padding bits past K = {self.k}: they "
                               f"must be 0")
        object.__setattr__(self, "planes", freeze(p))

    mode = "bitserial"
    _STORAGE, _N_AXIS = "planes", 1

    @property
    def correction(self) -> int:
        """c = 2^B - 1 - 2z of the finalize ``O = (S + c * sum(A)) >> 1`` (DESIGN §2.1)."""
        return nx.correction_constant(self.weight_bits, self.zero_point)

    @property
    def max_abs_weight(self) -> int:
        return nx.max_abs_weight(self.weight_bits, self.zero_point)

    def unpack(self) -> np.ndarray:
        """The weights ``w = q - z`` as int8 [N, K]."""
        bits = np.unpackbits(self.planes, axis=-1, count=self.k, bitorder="little")
        q = np.zeros(bits.shape[1:], np.int8)
        for b in range(self.weight_bits):          # loop over bit planes only
            q |= bits[b].astype(np.int8) << b
        return q - np.int8(self.zero_point)

    def codes(self, symmetrize: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The core's per-plane lookup codes ``(u, s)``, each [B, N, ceil(K/g)], for group
        size ``g`` (paper Eq. 6, DESIGN §2.1); see :func:`tables.encode_bitserial`."""
        return tables.encode_bitserial(self.unpack(), self.g, self.weight_bits,
                                       self.zero_point, symmetrize)

    def __repr__(self) -> str:
        return (f"BitSerialWeights(shape={self.shape}, g={self.g}, "
                f"weight_bits={self.weight_bits}, zero_point={self.zero_point}, "
                f"nbytes={self.nbytes})")


@dataclass(frozen=True, eq=False)
class ElutWeights(_Packed):
    """Ternary weights held 5 per byte in base 3 (1.6 bits/weight).

    Attributes:
        data: uint8 [N, ceil(K/5)], each byte ``sum_i 3^(4-i) * (w[n, 5*j+i] + 1)`` < 243;
            padded weights are 0.
        k: K, the number of weights per output column.
        g: the core's ELUT group size (2..5) the weights are meant for.

    Ternary weights are the codes ``q = w + 1`` of B = 2, z = 1; :attr:`weight_bits` and
    :attr:`zero_point` report that so both packed forms answer the same questions.

    The object keeps a frozen copy of ``data`` (:func:`~.validate.freeze`): changing the
    array it was built from changes nothing, and its own array cannot be written.

    Raises:
        LutcoreError: on construction, if a field is out of range, ``data`` has the wrong
            dtype or shape, a byte is not a valid base-3 code (>= 243), or a padded weight is
            not 0.
    """

    data: np.ndarray
    k: int
    g: int = DEFAULT_ELUT_G

    def __post_init__(self):
        check_range("g", self.g, *ELUT_G_RANGE)
        check_range("k", self.k, 1, np.iinfo(np.int64).max)
        d = self.data
        cols = _num_bytes(self.k, ELUT_BYTE_GROUP)
        if (not isinstance(d, np.ndarray) or d.dtype != np.uint8 or d.ndim != 2
                or d.shape[1] != cols or d.shape[0] < 1):
            raise LutcoreError(
                f"data must be a uint8 array [N, ceil(K/5)={cols}], got "
                f"{getattr(d, 'dtype', type(d).__name__)} shape {getattr(d, 'shape', None)}")
        top = int(d.max())
        if top >= ELUT_BYTE_CODES:
            raise LutcoreError(f"data has byte {top}: allowed 0..{ELUT_BYTE_CODES - 1} "
                               f"(5 base-3 digits)")
        pad = cols * ELUT_BYTE_GROUP - self.k         # padded weights of the last byte: 0
        if pad and np.any(d[:, -1] % 3 ** pad != (3 ** pad - 1) // 2):
            raise LutcoreError(f"data has nonzero padded weights past K = {self.k}: they "
                               f"must be 0 (base-3 digit 1)")
        object.__setattr__(self, "data", freeze(d))

    mode = "elut"
    _STORAGE, _N_AXIS = "data", 0
    weight_bits = TERNARY_WEIGHT_BITS
    zero_point = TERNARY_ZERO_POINT

    @property
    def max_abs_weight(self) -> int:
        return 1

    def unpack(self) -> np.ndarray:
        """The ternary weights as int8 [N, K]."""
        rest = self.data.copy()
        digits = np.empty(self.data.shape + (ELUT_BYTE_GROUP,), np.int8)
        for i in range(ELUT_BYTE_GROUP - 1, -1, -1):   # loop over the 5 digit positions
            digits[..., i] = rest % 3
            rest //= 3
        return (digits.reshape(self.n, -1)[:, :self.k] - 1).astype(np.int8)

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """The core's ELUT codes ``(u, s)``, each [N, ceil(K/g)], for group size ``g``
        (DESIGN §2.2); see :func:`tables.encode_elut`."""
        return tables.encode_elut(self.unpack(), self.g)

    def __repr__(self) -> str:
        return f"ElutWeights(shape={self.shape}, g={self.g}, nbytes={self.nbytes})"


def pack_bitserial(w, *, g: int = DEFAULT_BITSERIAL_G, weight_bits: int = TERNARY_WEIGHT_BITS,
                   zero_point: int = TERNARY_ZERO_POINT, name: str = "w") -> BitSerialWeights:
    """Pack B-bit weights ``w = q - z`` [N, K] into bit planes.

    Args:
        w: integer array [N, K] with values in ``-z .. 2^B - 1 - z`` (ternary by default).
        g: the core's bit-serial group size, 2..6.
        weight_bits: B, 1..4.
        zero_point: z, 0..2^B - 1.
        name: the argument's name in error messages.

    Raises:
        LutcoreError: a parameter out of range, or ``w`` not a non-empty 2-D integer array
            within the code range.
    """
    check_range("g", g, *BITSERIAL_G_RANGE)
    check_range("weight_bits", weight_bits, *WEIGHT_BITS_RANGE)
    check_range("zero_point", zero_point, 0, (1 << weight_bits) - 1)
    w = check_weights(w, weight_bits, zero_point, name)
    q = (w.astype(np.int16) + zero_point).astype(np.uint8)
    planes = np.stack([np.packbits((q >> b) & 1, axis=-1, bitorder="little")
                       for b in range(weight_bits)])         # loop over bit planes only
    return BitSerialWeights(planes, w.shape[1], g, weight_bits, zero_point)


def pack_elut(w, *, g: int = DEFAULT_ELUT_G, name: str = "w") -> ElutWeights:
    """Pack ternary weights [N, K] 5 per byte in base 3.

    Args:
        w: integer array [N, K] of -1, 0, +1.
        g: the core's ELUT group size, 2..5.
        name: the argument's name in error messages.

    Raises:
        LutcoreError: ``g`` out of range, or ``w`` not a non-empty 2-D ternary integer array.
    """
    check_range("g", g, *ELUT_G_RANGE)
    w = check_ternary(w, name)
    n, k = w.shape
    cols = _num_bytes(k, ELUT_BYTE_GROUP)
    d = np.ones((n, cols * ELUT_BYTE_GROUP), np.uint8)     # digit 1 = weight 0 (padding)
    d[:, :k] = w + 1
    d = d.reshape(n, cols, ELUT_BYTE_GROUP)
    data = np.zeros((n, cols), np.uint8)
    for i in range(ELUT_BYTE_GROUP):                         # Horner over the 5 digits
        data = data * np.uint8(3) + d[..., i]                # < 243: no uint8 overflow
    return ElutWeights(data, k, g)


def pack_weights(w, mode: str = "elut", *, g: int | None = None,
                 name: str = "w") -> BitSerialWeights | ElutWeights:
    """Pack ternary weights for ``mode`` ('bitserial' or 'elut') with the default
    configuration's group size (``g`` = 4 bit-serial, ``elut_g`` = 3 ELUT) unless ``g`` is
    given.

    Raises:
        LutcoreError: unknown mode, ``g`` out of range, or weights not ternary [N, K].
    """
    if mode == "bitserial":
        return pack_bitserial(w, g=DEFAULT_BITSERIAL_G if g is None else g, name=name)
    if mode == "elut":
        return pack_elut(w, g=DEFAULT_ELUT_G if g is None else g, name=name)
    raise LutcoreError(f"mode = {mode!r} is unknown: allowed 'bitserial', 'elut'")
