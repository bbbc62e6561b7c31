"""Shared gateware vocabulary: the LUT mode enum (from the ISA), table geometry and buffer word
layouts.

Every layout here reproduces, bit for bit, a buffer word of ``docs/architecture.md`` ("Buffers"),
so a word read from a buffer can be viewed through the layout without any shuffling:

- :func:`activation_word_layout`: ``m`` rows of ``act_slots`` signed activations;
- :func:`table_word_layout`: ``m`` tables of ``entries`` signed entries;
- :func:`weight_word_layout`: ``n`` unsigned weight codes (index low, sign in the top bit);
- :func:`output_word_layout`: ``n`` signed ``acc_bits`` outputs.

:class:`TableGeometry` derives every table width from the numbers a block takes, with the same
formulas as :class:`lutcore.spec.config.CoreConfig` (the tests hold the two together).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from ..spec import numerics as nx
# The mode enum is the ISA's (BITSERIAL = 0, ELUT = 1): the decoder, the ISS and the gateware
# share one type, so payload fields compare against it directly.
from ..spec.isa import Mode

__all__ = [
    "Mode", "TableGeometry",
    "activation_word_layout", "table_word_layout", "weight_word_layout", "output_word_layout",
]


@dataclass(frozen=True)
class TableGeometry:
    """Table and weight-code geometry of one build, derived via :mod:`lutcore.spec.numerics`.

    Parameters mirror :class:`~lutcore.spec.config.CoreConfig`: bit-serial group ``g``, ELUT
    group ``elut_g`` (0: no ELUT mode), signed activation width ``act_bits`` and ``symmetrize``.
    """

    g: int
    elut_g: int
    act_bits: int
    symmetrize: bool

    @property
    def has_elut(self) -> bool:
        return self.elut_g != 0

    @property
    def bitserial_entries(self) -> int:
        if self.symmetrize:
            return nx.bitserial_entries(self.g)
        return nx.bitserial_full_entries(self.g)

    @property
    def bitserial_index_bits(self) -> int:
        return nx.bitserial_index_bits(self.g) if self.symmetrize else self.g

    @property
    def bitserial_code_bits(self) -> int:
        # The full-table baseline has no sign bit: the index is the whole g-bit pattern.
        return self.bitserial_index_bits + (1 if self.symmetrize else 0)

    @property
    def elut_entries(self) -> int:
        return nx.elut_entries(self.elut_g) if self.has_elut else 0

    @property
    def elut_index_bits(self) -> int:
        return nx.elut_index_bits(self.elut_g) if self.has_elut else 0

    @property
    def elut_code_bits(self) -> int:
        return self.elut_index_bits + 1 if self.has_elut else 0

    @property
    def entries(self) -> int:
        """Entries per stored table: the larger of the two modes."""
        return max(self.bitserial_entries, self.elut_entries)

    @property
    def entry_bits(self) -> int:
        """Signed width of a table entry: the larger of the two modes."""
        bits = nx.table_bits(self.g, self.act_bits)
        if self.has_elut:
            bits = max(bits, nx.table_bits(self.elut_g, self.act_bits))
        return bits

    @property
    def index_bits(self) -> int:
        return max(self.bitserial_index_bits, self.elut_index_bits)

    @property
    def code_bits(self) -> int:
        return max(self.bitserial_code_bits, self.elut_code_bits)

    @property
    def act_slots(self) -> int:
        return max(self.g, self.elut_g)


def activation_word_layout(m: int, act_slots: int, act_bits: int) -> data.ArrayLayout:
    """Activation-buffer word: row r at ``r*act_slots*act_bits``, activation i at ``i*act_bits``."""
    return data.ArrayLayout(data.ArrayLayout(signed(act_bits), act_slots), m)


def table_word_layout(m: int, entries: int, entry_bits: int) -> data.ArrayLayout:
    """Table-buffer word: row r's table at ``r*entries*entry_bits``, entry e at ``e*entry_bits``."""
    return data.ArrayLayout(data.ArrayLayout(signed(entry_bits), entries), m)


def weight_word_layout(n: int, code_bits: int) -> data.ArrayLayout:
    """Weight-buffer word: unit c's code at ``c*code_bits``."""
    return data.ArrayLayout(unsigned(code_bits), n)


def output_word_layout(n: int, acc_bits: int) -> data.ArrayLayout:
    """Output-buffer word: column c at ``c*acc_bits``, two's complement."""
    return data.ArrayLayout(signed(acc_bits), n)
