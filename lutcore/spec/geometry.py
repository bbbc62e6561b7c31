"""Table and weight-code geometry derived from the few numbers that fix it (DESIGN §2).

One definition serves the configuration (:class:`lutcore.spec.config.CoreConfig` delegates
to it) and the gateware blocks, which take just these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import numerics as nx

__all__ = ["TableGeometry"]


@dataclass(frozen=True)
class TableGeometry:
    """Table and weight-code geometry of one build, derived via :mod:`lutcore.spec.numerics`.

    Parameters: bit-serial group ``g``, ELUT
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
