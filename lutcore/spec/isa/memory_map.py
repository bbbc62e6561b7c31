"""The host port's memory map (docs/architecture.md, "Host port"): regions, CSRs, the
CTRL and STATUS layouts, and the host address arithmetic, defined once.

:func:`host_addresses` is the one place that turns buffer words into host addresses
(vectorised); :func:`host_address` is its scalar form and :func:`decode_address` its inverse.
The compiler, the runtime, the device models and the benches all call these; the gateware
decodes the same fields."""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
from amaranth.lib import data, enum

from ...errors import IsaError
from ..config import CoreConfig
from .encoding import INSTR_BITS, ErrorCode

__all__ = [
    "Region", "Csr", "CTRL_LAYOUT", "STATUS_LAYOUT", "HOST_ADDR_BITS", "REGION_SHIFT",
    "ID_VALUE", "region_depth", "region_word_bits", "sub_words", "sub_bits", "host_addresses",
    "host_address", "HostAddress", "buffer_words", "decode_address", "split_host_words", "join_host_words",
]


HOST_ADDR_BITS = 32
#: The region is ``addr[31:REGION_SHIFT]``; the offset in it ``addr[REGION_SHIFT-1:0]``.
REGION_SHIFT = 28
#: The value of the ID CSR ("LUTC" in ASCII), truncated to ``host_bits``.
ID_VALUE = 0x4C555443


class Region(enum.Enum, shape=HOST_ADDR_BITS - REGION_SHIFT):
    """Host port regions, ``addr[31:28]``."""
    CSR = 0
    INSTR = 1
    ACT = 2
    TABLE = 3
    WEIGHT = 4
    OUTPUT = 5


class Csr(enum.IntEnum):
    """CSR offsets in region CSR (one host word each)."""
    ID = 0
    CTRL = 1
    STATUS = 2
    CYCLES_LO = 3
    CYCLES_HI = 4
    PC = 5


#: CTRL (write): bit 0 starts at pc 0 (ignored while busy); bit 1 clears done and error.
CTRL_LAYOUT = data.StructLayout({"start": 1, "clear": 1})
#: STATUS (read): busy, done, error flags; the error code in bits 15:8.
STATUS_LAYOUT = data.StructLayout({"busy": 1, "done": 1, "error": 1, "reserved": 5,
                                   "error_code": ErrorCode})

_CSR_TEXT = {
    Csr.ID: ("read", f"constant {ID_VALUE:#010x} ('LUTC'), low host_bits bits"),
    Csr.CTRL: ("write", "bit 0 start at pc 0 (ignored while busy), bit 1 clear done and error"),
    Csr.STATUS: ("read", "bit 0 busy, bit 1 done, bit 2 error, bits 15:8 error code"),
    Csr.CYCLES_LO: ("read", "cycles of the last (or running) start, low host word"),
    Csr.CYCLES_HI: ("read", "cycles, next host word"),
    Csr.PC: ("read", "program counter (of the faulting instruction after an error)"),
}

_REGION_TEXT = {
    Region.CSR: ("see CSRs", "-"),
    Region.INSTR: ("write", "write only while idle; a write while busy sets BUSY_WRITE and is "
                            "dropped"),
    Region.ACT: ("read/write", "writes while busy set BUSY_WRITE and are dropped"),
    Region.TABLE: ("read", "debug"),
    Region.WEIGHT: ("read/write", "writes while busy set BUSY_WRITE and are dropped"),
    Region.OUTPUT: ("read", ""),
}


def _region(region) -> Region:
    try:
        return region if isinstance(region, Region) else Region(region)
    except ValueError:
        raise IsaError(f"region {region!r} is unknown: allowed "
                       f"{', '.join(f'{r.name}={r.value}' for r in Region)}") from None


def region_depth(region, config: CoreConfig) -> int:
    """Words in ``region`` on ``config`` (CSR: the number of CSRs)."""
    region = _region(region)
    return {
        Region.CSR: len(Csr),
        Region.INSTR: config.instr_depth,
        Region.ACT: config.act_depth,
        Region.TABLE: config.table_depth,
        Region.WEIGHT: config.weight_depth,
        Region.OUTPUT: config.out_depth,
    }[region]


def region_word_bits(region, config: CoreConfig) -> int:
    """Width of one word of ``region`` on ``config`` (docs/architecture.md, "Buffers")."""
    region = _region(region)
    return {
        Region.CSR: config.host_bits,
        Region.INSTR: INSTR_BITS,
        Region.ACT: config.act_word_bits,
        Region.TABLE: config.table_word_bits,
        Region.WEIGHT: config.weight_word_bits,
        Region.OUTPUT: config.out_word_bits,
    }[region]


def sub_words(word_bits: int, host_bits: int) -> int:
    """Host words one buffer word of ``word_bits`` spans: ceil(word_bits / host_bits)."""
    if word_bits < 1 or host_bits < 1:
        raise IsaError(f"sub_words: word_bits={word_bits}, host_bits={host_bits}: must be >= 1")
    return -(-word_bits // host_bits)


def sub_bits(word_bits: int, host_bits: int) -> int:
    """Address bits of the sub-word index: ceil(log2(sub_words)) (0 for one sub-word)."""
    return (sub_words(word_bits, host_bits) - 1).bit_length()


def host_addresses(region, words, *, config: CoreConfig) -> np.ndarray:
    """Host addresses ``uint64 [len(words), sub_words]`` of every sub-word of buffer words
    ``words`` of ``region``: ``region << REGION_SHIFT | word << sub_bits | sub``.

    The one definition of the address arithmetic; every word is range-checked (one-line
    :class:`IsaError` naming the region and the word)."""
    region = _region(region)
    words = np.asarray(words, np.int64).reshape(-1)
    depth = region_depth(region, config)
    if words.size and (words.min() < 0 or words.max() >= depth):
        bad = int(words.min()) if words.min() < 0 else int(words.max())
        raise IsaError(f"host address: word {bad} is out of range for region {region.name}: "
                       f"allowed 0..{depth - 1}")
    bits = region_word_bits(region, config)
    n_sub = sub_words(bits, config.host_bits) if region is not Region.CSR else 1
    shift = sub_bits(bits, config.host_bits) if region is not Region.CSR else 0
    if (depth - 1) << shift >> REGION_SHIFT:
        raise IsaError(f"host address: region {region.name} needs more than {REGION_SHIFT} "
                       f"offset bits on config '{config.name}'")
    base = np.uint64(region.value << REGION_SHIFT)
    return (base | (words.astype(np.uint64)[:, None] << np.uint64(shift))
            | np.arange(n_sub, dtype=np.uint64)[None, :])


def host_address(region, word: int = 0, sub: int = 0, *, config: CoreConfig) -> int:
    """Host address of sub-word ``sub`` of word ``word`` of ``region`` (for CSRs ``word`` is
    the :class:`Csr`): one element of :func:`host_addresses`."""
    row = host_addresses(region, [int(word)], config=config)[0]
    if not 0 <= sub < len(row):
        raise IsaError(f"host address: sub-word {sub} is out of range for region "
                       f"{_region(region).name}: allowed 0..{len(row) - 1}")
    return int(row[sub])


class HostAddress(NamedTuple):
    """A decoded host address: ``region``, buffer ``word`` (the :class:`Csr` offset in region
    CSR), ``sub`` and the region's ``sub_words``."""
    region: Region
    word: int
    sub: int
    sub_words: int


def buffer_words(region, addrs, config: CoreConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The inverse of :func:`host_addresses` for addresses all in buffer ``region``:
    ``(words, subs)`` int64 arrays, or None when one of them is unmapped (a word past the
    depth or a sub-word past the word). Vectorised; :func:`decode_address` is its scalar
    form."""
    region = _region(region)
    bits = region_word_bits(region, config)
    n_sub = sub_words(bits, config.host_bits)
    shift = sub_bits(bits, config.host_bits)
    offset = (np.asarray(addrs, np.uint64) & np.uint64((1 << REGION_SHIFT) - 1)).astype(np.int64)
    words, subs = offset >> shift, offset & ((1 << shift) - 1)
    if words.size and (words.max() >= region_depth(region, config) or subs.max() >= n_sub):
        return None
    return words, subs


def decode_address(addr: int, config: CoreConfig) -> HostAddress | None:
    """The inverse of :func:`host_address`; None for an unmapped address (an unknown region,
    a word past the depth, a sub-word past the word)."""
    try:
        region = Region(addr >> REGION_SHIFT)
    except ValueError:
        return None
    offset = addr & ((1 << REGION_SHIFT) - 1)
    if region is Region.CSR:
        return HostAddress(region, offset, 0, 1) if offset < len(Csr) else None
    where = buffer_words(region, [addr], config)
    if where is None:
        return None
    n_sub = sub_words(region_word_bits(region, config), config.host_bits)
    return HostAddress(region, int(where[0][0]), int(where[1][0]), n_sub)


def split_host_words(value: int, word_bits: int, host_bits: int) -> list[int]:
    """A buffer word as its host words, sub-word 0 holding the least significant bits."""
    if not 0 <= value < (1 << word_bits):
        raise IsaError(f"word {value:#x} does not fit {word_bits} bits")
    mask = (1 << host_bits) - 1
    return [(value >> (i * host_bits)) & mask for i in range(sub_words(word_bits, host_bits))]


def join_host_words(parts: Iterable[int], word_bits: int, host_bits: int) -> int:
    """Inverse of :func:`split_host_words` (bits above ``word_bits`` are dropped)."""
    value = 0
    for i, part in enumerate(parts):
        value |= (int(part) & ((1 << host_bits) - 1)) << (i * host_bits)
    return value & ((1 << word_bits) - 1)
