"""FP table precompute unit: FP16/BF16 activation words in, FP table words out, one per cycle.

The floating-point contract's tables (docs/architecture.md, "Floating-point activations"):
activations widened to ``table_format`` (exact), then every table built by its plan of
:mod:`lutcore.spec.table_plan`, each node one :class:`~lutcore.hw.fp.FPAdder` (a subtraction
is an addition of the sign-flipped operand, which IEEE makes identical), an operand
``2 * a_i`` an exact doubling (an exponent increment; infinity when it overflows, a shift of
the fraction for a subnormal). The golden model is :func:`lutcore.sw.kernels.fp.fp_tables`.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import LutcoreError
from ...spec import fp
from ...spec.geometry import TableGeometry
from ...spec.table_plan import TablePlan, table_plans
from .. import _params as P
from ..fp import FPAdder
from ..fp.rounding import double, field_widths, negate, widen
from ..fp.adder import STAGES as ADDER_LATENCY
from ..layouts import Mode

__all__ = ["FpTablePrecompute", "ADDER_LATENCY"]



@P.parameters("m", "g", "elut_g", "symmetrize", "lookups")
class FpTablePrecompute(wiring.Component):
    """Builds the ``m * lookups`` FP tables of one step from FP activations.

    For each table row of the activation word (``act_format`` raw bits) the unit builds, per
    the word's ``mode``, the bit-serial table (symmetrized or full) or the ELUT table of the
    FP contract in ``table_format``; entries past the mode's table size are +0, as are all
    entries of an ELUT word on a build without ELUT.

    Pipeline: one rigid pipeline of :attr:`latency` stages, ``2 + ADDER_LATENCY * depth``
    (an input register, the plans' adder levels, each an :class:`FPAdder` of 5 stages, with
    registered copies carrying the activations and earlier nodes to the level that uses
    them, and an output register), depth the deeper plan of the built modes. Every register
    advances together when the output is empty or being read: one word per cycle with no
    bubbles, a stall loses and duplicates nothing.

    Parameters
    ----------
    m, g, elut_g, symmetrize, lookups : as :class:`~lutcore.hw.table_precompute.TablePrecompute`.
    act_format : 'fp16' or 'bf16'.
    table_format : 'fp16', 'bf16' or 'fp32', at least as wide as ``act_format`` in both
        exponent and fraction (FP16 into FP16 or FP32, BF16 into BF16 or FP32).

    Members
    -------
    activations : ``In(stream.Signature({"word": rows x act_slots raw bits, "mode": Mode}))``
    tables : ``Out(stream.Signature({"word": rows x entries raw bits, "mode": Mode}))``
    """

    def __init__(self, *, m: int, g: int, elut_g: int, act_format: str = "fp16",
                 table_format: str = "fp32", symmetrize: bool = True, lookups: int = 1,
                 src_loc_at: int = 0):
        P.keep(self, m=m, g=g, elut_g=elut_g, symmetrize=symmetrize, lookups=lookups)
        owner = type(self).__name__
        self._act = fp.check_format(f"{owner}: act_format", act_format, fp.ACT_FORMATS[1:])
        self._table = fp.check_format(f"{owner}: table_format", table_format,
                                      fp.TABLE_FORMATS)
        (ae, am), (te, tm) = field_widths(self._act), field_widths(self._table)
        if te < ae or tm < am:
            raise LutcoreError(f"{owner}: table_format {table_format} cannot hold "
                               f"act_format {act_format} exactly: allowed a format at least "
                               f"as wide in exponent and fraction")
        # The geometry's entry count and slots (its integer widths do not apply here).
        self._geometry = TableGeometry(g, elut_g, 8, symmetrize)
        self._plans: dict[Mode, TablePlan] = table_plans(g, elut_g, symmetrize)
        super().__init__({
            "activations": In(stream.Signature(self.activation_layout)),
            "tables": Out(stream.Signature(self.table_layout)),
        }, src_loc_at=1 + src_loc_at)

    @property
    def rows(self) -> int:
        return self._m * self._lookups

    @property
    def act_bits(self) -> int:
        return fp.fp_format(self._act).width

    @property
    def table_bits(self) -> int:
        return fp.fp_format(self._table).width

    @property
    def activation_layout(self) -> data.StructLayout:
        word = data.ArrayLayout(data.ArrayLayout(unsigned(self.act_bits),
                                                 self._geometry.act_slots), self.rows)
        return data.StructLayout({"word": word, "mode": Mode})

    @property
    def table_layout(self) -> data.StructLayout:
        word = data.ArrayLayout(data.ArrayLayout(unsigned(self.table_bits),
                                                 self._geometry.entries), self.rows)
        return data.StructLayout({"word": word, "mode": Mode})

    @property
    def depth(self) -> int:
        """Adder levels of the deeper plan."""
        return max(plan.depth for plan in self._plans.values())

    @property
    def latency(self) -> int:
        """Cycles from a word's acceptance to its tables being offered."""
        return 2 + ADDER_LATENCY * self.depth

    def elaborate(self, platform):
        m = Module()
        width, tname = self.table_bits, self._table
        ins, outs = self.activations, self.tables
        advance = Signal()
        m.d.comb += [advance.eq(~outs.valid | outs.ready), ins.ready.eq(advance)]
        delays: dict = {}

        def delayed(sig, n: int, name: str, reset_less: bool = True):
            """``sig`` n advances later (shared chains); data registers have no reset, the
            valid chain has (a reset empties the pipeline)."""
            if n == 0:
                return sig
            key = (id(sig), n)
            if key not in delays:
                prev = delayed(sig, n - 1, name, reset_less)
                reg = Signal.like(prev, name=f"{name}_d{n}", reset_less=reset_less)
                with m.If(advance):
                    m.d.sync += reg.eq(prev)
                delays[key] = (reg, sig)        # keep sig alive so its id stays unique
            return delays[key][0]

        # Stage 0 (offset 1): the word, widened to the table format, its mode and valid.
        valid0 = Signal()
        mode0 = Signal(Mode)
        acts = [[Signal(width, name=f"act_{r}_{i}", reset_less=True)
                 for i in range(self._geometry.act_slots)] for r in range(self.rows)]
        with m.If(advance):
            m.d.sync += [valid0.eq(ins.valid), mode0.eq(ins.payload.mode)]
            for r, row in enumerate(acts):
                for i, sig in enumerate(row):
                    m.d.sync += sig.eq(widen(ins.payload.word[r][i], self._act, tname))
        total = ADDER_LATENCY * self.depth            # offsets after stage 0
        zero = Const(0, width)
        results = {}
        for mode, plan in self._plans.items():
            for r in range(self.rows):
                results[mode, r] = self._build(m, plan, acts[r], advance, delayed,
                                               f"{mode.name.lower()}_{r}", total, zero)
        valid = delayed(valid0, total, "valid", reset_less=False)
        mode = delayed(mode0, total, "mode")
        with m.If(advance):
            m.d.sync += [outs.valid.eq(valid), outs.payload.mode.eq(mode)]
            for r in range(self.rows):
                bs = results[Mode.BITSERIAL, r]
                el = results.get((Mode.ELUT, r))
                for e in range(self._geometry.entries):
                    bs_e = bs[e] if e < len(bs) else zero
                    if el is None:
                        value = Mux(mode == Mode.ELUT, zero, bs_e)
                    else:
                        value = Mux(mode == Mode.ELUT, el[e] if e < len(el) else zero, bs_e)
                    m.d.sync += outs.payload.word[r][e].eq(value)
        return m

    def _build(self, m, plan: TablePlan, acts, advance, delayed, name: str, total: int, zero):
        """The plan's adders for one table row; its entries at offset ``total``."""
        width, tname = self.table_bits, self._table
        e, mbits = field_widths(tname)
        nodes = []

        def at(ref, offset: int):
            """Operand ``ref`` as it stands ``offset`` cycles after stage 0."""
            if ref[0] == "zero":
                return zero
            if ref[0] == "act":
                value = delayed(acts[ref[1]], offset, f"{name}_a{ref[1]}")
                return double(value, tname) if ref[2] else value
            level = plan.levels[ref[1]]
            return delayed(nodes[ref[1]], offset - ADDER_LATENCY * level,
                           f"{name}_n{ref[1]}")

        for j, node in enumerate(plan.nodes):
            adder = FPAdder(e, mbits, enable=True)
            m.submodules[f"{name}_add{j}"] = adder
            start = ADDER_LATENCY * (plan.levels[j] - 1)
            rhs = at(node.rhs, start)
            if node.op == "-":
                rhs = negate(rhs, width)
            m.d.comb += [adder.enable.eq(advance), adder.a_b.valid.eq(1),
                         adder.a_b.payload.a.eq(at(node.lhs, start)),
                         adder.a_b.payload.b.eq(rhs)]
            nodes.append(adder.sum.payload)
        return [at(ref, total) for ref in plan.entries]
