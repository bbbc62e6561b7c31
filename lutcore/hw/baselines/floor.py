"""Accumulator array: the part every core of the comparison shares, without any compute.

Synthesized next to the LUT core and the baselines, it shows how much of each core is the
common floor (stage-1 term registers, the ``sum_bits`` output-stationary accumulators, the
row sums and the finalize/readout) rather than the lookup, multiply or add that tells the
cores apart.
"""

from __future__ import annotations

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data

from ...spec import numerics as nx
from .common import TileCore, check_acc_bits, check_int, correction_bits

__all__ = ["AccumulatorArray"]


class AccumulatorArray(TileCore):
    """``m x n`` accumulators fed ready-made terms, with the LUT core's pipeline and readout.

    Each step carries one signed ``term_bits`` term per unit, one per row for the row sums
    and the plane ``b``; unit (r, c) adds ``terms[r][c] << b`` (the LUT core's
    ``(+-H) << b`` with the lookup already done). ``weight_bits`` sets the plane range and
    the width of the finalize constant, as in the LUT core.

    Parameters
    ----------
    m, n : int
        Rows (1..16) and columns (1..512).
    term_bits : int
        Signed width of a term (2..32; the LUT core's is ``table_bits + 1``).
    acc_bits : int
        Output width (``term_bits + weight_bits``..48).
    weight_bits : int
        Most weight bit planes (1..8).

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
        ``terms[r][c]``, ``rowterms[r]`` (signed ``term_bits``), ``plane``, ``clear``.
    finalize, rows, busy : as :class:`.TileCore`.
    """

    def __init__(self, *, m: int, n: int, term_bits: int, acc_bits: int = 32,
                 weight_bits: int = 2):
        owner = type(self).__name__
        self._m = check_int(owner, "m", m)
        self._n = check_int(owner, "n", n)
        self._term_bits = check_int(owner, "term_bits", term_bits)
        self._weight_bits = check_int(owner, "weight_bits", weight_bits, "baseline_weight_bits")
        self._acc_bits = check_acc_bits(owner, acc_bits, term_bits + weight_bits)
        super().__init__(m=m, n=n, acc_bits=acc_bits,
                         correction_bits=correction_bits(weight_bits))

    g = property(lambda self: 1)
    term_bits = property(lambda self: self._term_bits)

    @property
    def step_layout(self) -> data.StructLayout:
        term = signed(self._term_bits)
        return data.StructLayout({
            "terms": data.ArrayLayout(data.ArrayLayout(term, self._n), self._m),
            "rowterms": data.ArrayLayout(term, self._m),
            "plane": unsigned(nx.unsigned_bits(self._weight_bits - 1)),
            "clear": unsigned(1),
        })

    def terms(self, m: Module, payload):
        terms = [[payload.terms[r][c] for c in range(self._n)] for r in range(self._m)]
        rowterms = [payload.rowterms[r] for r in range(self._m)]
        return terms, signed(self._term_bits), payload.plane, rowterms
