"""Dequantization MAC tensor core: the conventional baseline of the LUT Tensor Core paper.

Low-bit weights are widened to the multiplier width (int8 by default, as on an INT8 tensor
core) by subtracting their zero point, multiplied with int8 activations and summed by an adder
tree per unit: ``m x n x g`` multipliers per cycle.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data

from ...errors import LutcoreError
from ...spec import numerics as nx
from .common import TileCore, check_acc_bits, check_int, unit_sums, value_shape

__all__ = ["MACCore"]


class MACCore(TileCore):
    """``m x n`` multiply-accumulate units, each a ``g``-long dot product per step.

    Each accepted step carries the ``m`` activation rows of one K group (``g`` values each)
    and the ``n`` weight columns of the same group. A weight arrives as an unsigned
    ``weight_bits`` code ``q``; the core dequantizes it to the signed ``datapath_bits``
    integer ``w = q - zero_point`` and does a full ``act_bits x datapath_bits`` multiply, what
    an integer tensor core does after dequantization. With ``weight_bits = 8,
    zero_point = 128`` it *is* the INT8 tensor core fed offset-binary int8 weights; with
    ``weight_bits = 2, zero_point = 1`` it takes ternary codes ``q = w + 1`` (synthesis may
    then narrow the multipliers, since the widened weight is a sign extension).

    Interface and timing are the LUT core's (see :class:`.TileCore`): unit (r, c) adds
    ``2 * sum_i a[r][i] * w[c][i]`` (the accumulators hold ``2 * O``); the finalize
    constant ``c`` is ignored (no zero-point correction is needed) and rows are
    ``acc >> 1``, which is ``O`` modulo ``2^acc_bits``.

    Parameters
    ----------
    m, n, g, act_bits : int
        The tile, as for :class:`~lutcore.hw.baselines.adder.AdderCore`: rows, columns,
        activations per step and row, signed activation width.
    acc_bits : int
        Output width (at least one doubled dot product's width, at most 48); accumulators
        are ``acc_bits + 1``.
    weight_bits : int
        Width of a weight code (1..8).
    zero_point : int
        ``w = q - zero_point``, ``0..2^weight_bits - 1``.
    datapath_bits : int
        Signed multiplier width of the weight operand (2..16); every ``q - z`` must fit.

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
        ``acts[r][i]``: signed activations; ``codes[c][i]``: unsigned weight codes;
        ``clear``: zero the accumulators before adding this step.
    finalize, rows, busy : as :class:`.TileCore`.

    Raises ``TypeError`` for a parameter that is not an integer and :class:`LutcoreError`
    for one out of range (the message names it and the bad value).
    """

    def __init__(self, *, m: int, n: int, g: int, act_bits: int = 8, acc_bits: int = 32,
                 weight_bits: int = 8, zero_point: int = 128, datapath_bits: int = 8):
        owner = self._check_tile(m, n, g, act_bits)
        self._weight_bits = check_int(owner, "weight_bits", weight_bits, "baseline_weight_bits")
        self._zero_point = check_int(owner, "zero_point", zero_point, lo=0, hi=(1 << weight_bits) - 1)
        self._datapath_bits = check_int(owner, "datapath_bits", datapath_bits)
        need = nx.signed_bits(-zero_point, (1 << weight_bits) - 1 - zero_point)
        if need > datapath_bits:
            raise LutcoreError(
                f"{owner}: datapath_bits = {datapath_bits!r} is invalid: weight_bits = "
                f"{weight_bits}, zero_point = {zero_point} need at least {need}")
        self._acc_bits = check_acc_bits(owner, acc_bits, self.term_shape.width + 1)
        super().__init__(m=m, n=n, acc_bits=acc_bits, correction_bits=0)

    zero_point = property(lambda self: self._zero_point)
    datapath_bits = property(lambda self: self._datapath_bits)

    @property
    def product_bounds(self) -> tuple[int, int]:
        """Smallest and largest ``a * w`` over the activation and datapath ranges."""
        amax = nx.max_abs_activation(self._act_bits)
        wmax = 1 << (self._datapath_bits - 1)
        corners = [a * w for a in (-amax, amax - 1) for w in (-wmax, wmax - 1)]
        return min(corners), max(corners)

    @property
    def term_shape(self):
        """Signed shape of one unit's dot product (the stage-1 register)."""
        lo, hi = self.product_bounds
        return value_shape(self._g * lo, self._g * hi)

    @property
    def step_layout(self) -> data.StructLayout:
        return data.StructLayout({
            "acts": data.ArrayLayout(data.ArrayLayout(signed(self._act_bits), self._g), self._m),
            "codes": data.ArrayLayout(
                data.ArrayLayout(unsigned(self._weight_bits), self._g), self._n),
            "clear": unsigned(1),
        })

    def terms(self, m: Module, payload):
        # Dequantize each weight once per column: w = q - z in the multiplier's width.
        w = [[Signal(signed(self._datapath_bits), name=f"w_{c}_{i}") for i in range(self._g)]
             for c in range(self._n)]
        for c in range(self._n):
            for i in range(self._g):
                m.d.comb += w[c][i].eq(payload.codes[c][i] - self._zero_point)
        lo, hi = self.product_bounds

        def product(r, c, i):
            p = Signal(value_shape(lo, hi), name=f"p_{r}_{c}_{i}")
            m.d.comb += p.eq(payload.acts[r][i] * w[c][i])
            return p

        terms = unit_sums(self._m, self._n, self._g, product)
        return terms, self.term_shape, 1, None        # << 1: accumulators hold 2 * O
