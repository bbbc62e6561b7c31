"""Buffer word formats, defined once (docs/architecture.md, "Buffers"): the NumPy packing and
the Amaranth layout of every buffer word.

Every buffer word is a flat array of equal-width fields, field ``f`` at bits
``[f*field_bits, (f+1)*field_bits)``:

=========== ========================= ============== ========
buffer      fields                    field bits     signed
=========== ========================= ============== ========
activation  rows * act_slots          act_bits       yes
table       rows * table_entries      table_bits     yes
weight      n * lookups               code_bits      no
output      n                         acc_bits       yes
instruction 1                         INSTR_BITS     no
=========== ========================= ============== ========

A core with FP activations (``act_format`` fp16 or bf16) holds raw IEEE bit patterns in its
activation (16 bits), table (``table_format``) and output (``acc_format``) fields, unsigned.

A word of W bits is held as ``ceil(W / 64)`` little-endian ``uint64`` limbs, so an image of
``count`` words is a ``uint64`` array ``[count, limbs]``. :func:`pack` and :func:`unpack`
convert between field values and limbs, vectorised over words; :func:`host_words` splits limbs
into the host port's sub-words.

``rows`` is :attr:`~lutcore.spec.config.CoreConfig.table_rows`, ``m * lookups``: row r's
l-th group (activations or table) is row ``r * lookups + l``, and column c's l-th code is
field ``c * lookups + l`` of a weight word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amaranth.hdl import signed as signed_shape, unsigned as unsigned_shape
from amaranth.lib import data

from ..errors import LutcoreError
from . import isa
from .config import CoreConfig

__all__ = ["LIMB_BITS", "WordFormat", "word_format", "pack", "unpack", "host_words", "limbs_from_host_words",
           "make_codes", "split_codes"]

#: Bits per storage limb of a word image.
LIMB_BITS = 64
_LIMB_MASK = (1 << LIMB_BITS) - 1


@dataclass(frozen=True)
class WordFormat:
    """Geometry of one buffer's word: ``fields`` fields of ``field_bits`` bits each, grouped
    in ``rows`` equal rows when given (activations and tables: one row per tile row).

    The same object gives the NumPy packing (:func:`pack`, :func:`unpack`) and the gateware's
    view of the word (:attr:`layout`), so the two cannot disagree."""

    fields: int
    field_bits: int
    signed: bool
    rows: int | None = None

    @property
    def layout(self) -> data.ArrayLayout:
        """The Amaranth layout of the word: ``ArrayLayout(field, fields)``, or
        ``ArrayLayout(ArrayLayout(field, fields // rows), rows)`` with rows."""
        field = (signed_shape if self.signed else unsigned_shape)(self.field_bits)
        if self.rows is None:
            return data.ArrayLayout(field, self.fields)
        return data.ArrayLayout(data.ArrayLayout(field, self.fields // self.rows), self.rows)

    @property
    def word_bits(self) -> int:
        return self.fields * self.field_bits

    @property
    def limbs(self) -> int:
        return -(-self.word_bits // LIMB_BITS)


def word_format(region: isa.Region, config: CoreConfig) -> WordFormat:
    """The word format of ``region`` on ``config``; its width is
    :func:`lutcore.spec.isa.region_word_bits`."""
    region = isa.Region(region)
    ints = not config.is_fp           # FP fields hold raw IEEE bit patterns, unsigned
    fmt = {
        isa.Region.INSTR: WordFormat(1, isa.INSTR_BITS, False),
        isa.Region.ACT: WordFormat(config.table_rows * config.act_slots, config.act_bits, ints,
                                   config.table_rows),
        isa.Region.TABLE: WordFormat(config.table_rows * config.table_entries,
                                     config.table_bits, ints, config.table_rows),
        isa.Region.WEIGHT: WordFormat(config.step_codes, config.code_bits, False),
        isa.Region.OUTPUT: WordFormat(config.n, config.acc_bits, ints),
    }.get(region)
    if fmt is None:
        raise LutcoreError(f"region {region.name} has no buffer words")
    assert fmt.word_bits == isa.region_word_bits(region, config)
    return fmt


def pack(values: np.ndarray, fmt: WordFormat) -> np.ndarray:
    """Field values ``[count, fields]`` -> limbs ``uint64 [count, limbs]``.

    Values must fit the field (signed or unsigned); they are stored in two's complement.
    """
    values = np.asarray(values, dtype=np.int64)
    if values.ndim != 2 or values.shape[1] != fmt.fields:
        raise LutcoreError(f"pack: values of shape {values.shape} do not match "
                           f"[count, {fmt.fields}]")
    lo, hi = ((-(1 << (fmt.field_bits - 1)), (1 << (fmt.field_bits - 1)) - 1) if fmt.signed
              else (0, (1 << fmt.field_bits) - 1))
    if values.size and (values.min() < lo or values.max() > hi):
        raise LutcoreError(f"pack: values {values.min()}..{values.max()} do not fit "
                           f"{'signed' if fmt.signed else 'unsigned'} {fmt.field_bits}-bit fields")
    bits = fmt.field_bits
    raw = (values.astype(np.uint64) & np.uint64((1 << bits) - 1))   # two's complement
    out = np.zeros((values.shape[0], fmt.limbs), np.uint64)
    for f in range(fmt.fields):
        limb, shift = divmod(f * bits, LIMB_BITS)
        v = raw[:, f]
        out[:, limb] |= v << np.uint64(shift)
        if shift + bits > LIMB_BITS:
            out[:, limb + 1] |= v >> np.uint64(LIMB_BITS - shift)
    return out


def unpack(words: np.ndarray, fmt: WordFormat) -> np.ndarray:
    """Limbs ``uint64 [count, limbs]`` -> field values ``int64 [count, fields]``."""
    words = np.asarray(words)
    if words.ndim == 1 and fmt.limbs == 1:
        words = words[:, None]
    if words.ndim != 2 or words.shape[1] != fmt.limbs:
        raise LutcoreError(f"unpack: words of shape {words.shape} do not match "
                           f"[count, {fmt.limbs}] limbs of a {fmt.word_bits}-bit word")
    words = words.astype(np.uint64, copy=False)
    bits = fmt.field_bits
    mask = np.uint64((1 << bits) - 1)
    out = np.empty((words.shape[0], fmt.fields), np.int64)
    for f in range(fmt.fields):
        limb, shift = divmod(f * bits, LIMB_BITS)
        v = words[:, limb] >> np.uint64(shift)
        if shift + bits > LIMB_BITS:
            v = v | (words[:, limb + 1] << np.uint64(LIMB_BITS - shift))
        v = v & mask
        if fmt.signed and bits < 64:
            v = v.astype(np.int64)
            out[:, f] = np.where(v >= (1 << (bits - 1)), v - (1 << bits), v)
        else:
            out[:, f] = v.astype(np.int64)
    return out


def host_words(words: np.ndarray, word_bits: int, host_bits: int) -> np.ndarray:
    """Limbs ``[count, limbs]`` -> host sub-words ``uint64 [count, sub_words]``, sub-word 0
    the least significant (docs/architecture.md, "Host port")."""
    words = np.asarray(words, dtype=np.uint64)
    if words.ndim == 1:
        words = words[:, None]
    subs = isa.sub_words(word_bits, host_bits)
    fmt = WordFormat(subs, host_bits, False)
    padded = np.zeros((words.shape[0], fmt.limbs), np.uint64)
    padded[:, :words.shape[1]] = words
    return unpack(padded, fmt).astype(np.uint64)


def limbs_from_host_words(words: np.ndarray, host_bits: int, limbs: int) -> np.ndarray:
    """Host sub-words ``[R, subs]`` (sub-word 0 least significant) -> word limbs
    ``uint64 [R, limbs]``: the inverse of :func:`host_words`."""
    words = np.asarray(words, np.uint64)
    per = LIMB_BITS // host_bits
    if per * host_bits == LIMB_BITS:
        # Host words tile the limbs: shift and OR them in place (packing field by field is
        # several times slower on large images).
        padded = np.zeros((len(words), limbs * per), np.uint64)
        take = min(words.shape[1], limbs * per)
        padded[:, :take] = words[:, :take]
        shifts = np.arange(per, dtype=np.uint64) * np.uint64(host_bits)
        return np.bitwise_or.reduce(padded.reshape(len(words), limbs, per) << shifts, axis=2)
    out = pack(words.astype(np.int64), WordFormat(words.shape[1], host_bits, False))
    if out.shape[1] < limbs:
        out = np.concatenate([out, np.zeros((len(out), limbs - out.shape[1]), np.uint64)], 1)
    return out[:, :limbs]


def make_codes(index: np.ndarray, sign: np.ndarray, config: CoreConfig) -> np.ndarray:
    """Weight codes: index in the low bits, sign in bit ``code_bits - 1``."""
    return (np.asarray(index, np.int64)
            | (np.asarray(sign, np.int64) << (config.code_bits - 1)))


def split_codes(codes: np.ndarray, mode: isa.Mode, config: CoreConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """Weight codes -> ``(index, sign)`` as the LUT unit reads them in ``mode``.

    Bit-serial codes of a build with ``symmetrize`` off carry no sign: their index is the
    whole g-bit pattern and the sign reads 0.
    """
    codes = np.asarray(codes, np.int64)
    if mode is isa.Mode.ELUT:
        index_bits, has_sign = config.elut_index_bits, True
    else:
        index_bits, has_sign = config.bitserial_index_bits, config.symmetrize
    index = codes & ((1 << index_bits) - 1)
    sign = (codes >> (config.code_bits - 1)) & 1 if has_sign else np.zeros_like(codes)
    return index, sign.astype(bool)
