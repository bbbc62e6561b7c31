"""Shared gateware vocabulary: the LUT mode enum (from the ISA), table geometry and buffer word
layouts.

Every layout here is the :attr:`~lutcore.spec.words.WordFormat.layout` of the buffer word's one
format definition (:mod:`lutcore.spec.words`), so the gateware and the NumPy packing share it;
blocks take just the numbers they need:

- :func:`activation_word_layout`: ``m`` rows of ``act_slots`` signed activations;
- :func:`table_word_layout`: ``m`` tables of ``entries`` signed entries;
- :func:`weight_word_layout`: ``n`` unsigned weight codes (index low, sign in the top bit);
- :func:`output_word_layout`: ``n`` signed ``acc_bits`` outputs.

:class:`TableGeometry` (from :mod:`lutcore.spec.geometry`, re-exported) derives every table
width from the numbers a block takes; :class:`lutcore.spec.config.CoreConfig` uses the same one.
"""

from __future__ import annotations


from amaranth.lib import data

# The mode enum is the ISA's (BITSERIAL = 0, ELUT = 1): the decoder, the ISS and the gateware
# share one type, so payload fields compare against it directly.
from ..spec.isa import Mode
from ..spec.geometry import TableGeometry
from ..spec.words import WordFormat

__all__ = [
    "Mode", "TableGeometry",
    "activation_word_layout", "table_word_layout", "weight_word_layout", "output_word_layout",
]


def activation_word_layout(m: int, act_slots: int, act_bits: int) -> data.ArrayLayout:
    """Activation-buffer word: row r at ``r*act_slots*act_bits``, activation i at ``i*act_bits``."""
    return WordFormat(m * act_slots, act_bits, True, m).layout


def table_word_layout(m: int, entries: int, entry_bits: int) -> data.ArrayLayout:
    """Table-buffer word: row r's table at ``r*entries*entry_bits``, entry e at ``e*entry_bits``."""
    return WordFormat(m * entries, entry_bits, True, m).layout


def weight_word_layout(n: int, code_bits: int) -> data.ArrayLayout:
    """Weight-buffer word: unit c's code at ``c*code_bits``."""
    return WordFormat(n, code_bits, False).layout


def output_word_layout(n: int, acc_bits: int) -> data.ArrayLayout:
    """Output-buffer word: column c at ``c*acc_bits``, two's complement."""
    return WordFormat(n, acc_bits, True).layout
