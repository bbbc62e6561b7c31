"""Adder-based core: the "ADD" approach to low-bit GEMM, with neither tables nor multipliers.

Every weight steers its activation into a per-unit adder tree. A ternary weight selects
``+a``, ``0`` or ``-a`` (one pass); bit-serially, one bit of a ``B``-bit weight code selects
``+a`` or ``-a`` and the tree's sum is shifted by the plane number, so B-bit weights take B
passes, exactly like the LUT core. The bit-serial term is the very sum the LUT core reads
from its table, ``T[v] = sum_i (2*v_i - 1) * a_i`` (DESIGN §2.1): the two cores differ only
in how it is produced, a lookup into a table shared by the ``n`` units of a row versus
``g - 1`` adders in every unit.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from ...errors import LutcoreError
from ...spec import numerics as nx
from .common import (TileCore, check_acc_bits, check_int, correction_bits, tree_sum,
                     unit_sums, value_shape)

__all__ = ["AdderCore", "ADDER_MODES", "TERNARY_CODE_BITS"]

#: Operating modes of :class:`AdderCore`.
ADDER_MODES = ("ternary", "bitserial")

#: Width of a ternary code ``q = w + 1`` (0 -> -1, 1 -> 0, 2 -> +1; 3 is not a ternary code
#: and reads as +1), the bit-serial encoding of ternary weights with zero point 1.
TERNARY_CODE_BITS = 2


class AdderCore(TileCore):
    """``m x n`` adder-tree units over groups of ``g`` activations.

    ``mode = "ternary"``: each step carries 2-bit codes ``q = w + 1``; unit (r, c) adds
    ``2 * sum_i w[c][i] * a[r][i]`` (the ``2 * O`` scaling of the LUT core's ELUT mode) and
    the finalize constant is ignored (rows are ``acc >> 1``).

    ``mode = "bitserial"`` (DESIGN §2.1): each step carries bit ``b`` of every code
    (``q = w + z``) and ``plane = b``; unit (r, c) adds
    ``(sum_i (2 * q_b,i - 1) * a[r][i]) << b`` and row sum r adds the group's activation sum
    on plane 0, so that a finalize with ``c = 2^B - 1 - 2z`` yields ``O``, as in the LUT core.

    B-bit weights: the bit-serial mode generalizes to ``weight_bits`` = 1..8 planes, one step
    per plane (B passes per group, the LUT core's cost model); the one-pass ternary mode is
    2-bit only.

    Parameters
    ----------
    m, n : int
        Rows (1..16) and columns (1..512) of units.
    g : int
        Activations per step and row (1..8).
    act_bits : int
        Signed activation width (2..16).
    acc_bits : int
        Output width (at most 48); accumulators are ``acc_bits + 1``.
    mode : str
        ``"ternary"`` or ``"bitserial"``.
    weight_bits : int
        Most weight bit planes in bit-serial mode (1..8); 2 in ternary mode.

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
        ``acts[r][i]``: signed activations; ``codes[c][i]``: a ternary code, or one bit of
        the code (bit-serial); ``plane``: b (bit-serial only); ``clear``: zero the unit and
        row-sum accumulators before adding this step.
    finalize, rows, busy : as :class:`.TileCore`.

    Raises ``TypeError`` for a parameter that is not an integer and :class:`LutcoreError`
    for one out of range (the message names it and the bad value).
    """

    def __init__(self, *, m: int, n: int, g: int, act_bits: int = 8, acc_bits: int = 32,
                 mode: str = "ternary", weight_bits: int = 2):
        owner = self._check_tile(m, n, g, act_bits)
        if mode not in ADDER_MODES:
            raise LutcoreError(f"{owner}: mode = {mode!r} is invalid: allowed "
                               f"{', '.join(map(repr, ADDER_MODES))}")
        self._mode = mode
        if mode == "ternary":
            check_int(owner, "weight_bits", weight_bits, lo=TERNARY_CODE_BITS, hi=TERNARY_CODE_BITS)
        self._weight_bits = check_int(owner, "weight_bits", weight_bits, "baseline_weight_bits")
        # The largest shifted term must fit, as for the LUT core (table_bits + weight_bits).
        top_shift = weight_bits if mode == "bitserial" else 1
        self._acc_bits = check_acc_bits(owner, acc_bits, self.term_shape.width + top_shift)
        super().__init__(m=m, n=n, acc_bits=acc_bits,
                         correction_bits=correction_bits(weight_bits) if mode == "bitserial"
                         else 0)

    mode = property(lambda self: self._mode)

    @property
    def plane_bits(self) -> int:
        return nx.unsigned_bits(self._weight_bits - 1)

    @property
    def term_shape(self):
        """Signed shape of one unit's tree sum: ``|sum| <= g * 2^(act_bits-1)``, the LUT
        core's table entry bound."""
        bound = nx.table_bound(self._g, self._act_bits)
        return value_shape(-bound, bound)

    @property
    def step_layout(self) -> data.StructLayout:
        code = TERNARY_CODE_BITS if self._mode == "ternary" else 1
        fields = {
            "acts": data.ArrayLayout(data.ArrayLayout(signed(self._act_bits), self._g), self._m),
            "codes": data.ArrayLayout(data.ArrayLayout(unsigned(code), self._g), self._n),
        }
        if self._mode == "bitserial":
            fields["plane"] = unsigned(self.plane_bits)
        fields["clear"] = unsigned(1)
        return data.StructLayout(fields)

    def terms(self, m: Module, payload):
        amax = nx.max_abs_activation(self._act_bits)
        sel_shape = value_shape(-amax, amax)          # -(-2^(A-1)) = +2^(A-1) must fit
        # -a is formed once per activation and shared by the n units of its row.
        neg = [[Signal(sel_shape, name=f"neg_{r}_{i}") for i in range(self._g)]
               for r in range(self._m)]
        for r in range(self._m):
            for i in range(self._g):
                m.d.comb += neg[r][i].eq(-payload.acts[r][i])

        def selected(r, c, i):
            a, q = payload.acts[r][i], payload.codes[c][i]
            s = Signal(sel_shape, name=f"sel_{r}_{c}_{i}")
            if self._mode == "ternary":
                m.d.comb += s.eq(Mux(q[1], a, Mux(q[0], 0, neg[r][i])))
            else:
                m.d.comb += s.eq(Mux(q[0], a, neg[r][i]))
            return s

        terms = unit_sums(self._m, self._n, self._g, selected)

        if self._mode == "ternary":
            return terms, self.term_shape, 1, None      # << 1: accumulators hold 2 * O
        # Row sums for the zero-point correction: the group's activation sum, on plane 0.
        first = payload.plane == 0
        rowterms = [Mux(first, tree_sum(payload.acts[r][i] for i in range(self._g)), 0)
                    for r in range(self._m)]
        return terms, self.term_shape, payload.plane, rowterms
