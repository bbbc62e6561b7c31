"""FP LUT core: the LUT core of the floating-point contract (docs/architecture.md,
"Floating-point activations"): FP table entries in, FP accumulators, FP outputs.

The arithmetic is the contract's, step by step, as :func:`lutcore.sw.kernels.fp.fp_lut_gemm`
computes it: a step's term per unit and lookup is the selected entry widened to
``acc_format``, negated by its sign and scaled by ``2^shift`` (all exact but overflow), the
L terms of a unit summed as a tree, and each sum added to the unit's
:class:`~lutcore.hw.fp.FpAccumulator` (five interleaved partial sums); row sums likewise. A
finalize reads the partials out, adds them as the contract's tree, and emits
``(S + c * R) * 0.5`` per unit, one row per beat. The order of the steps is the sender's: the
contract's is every plane of a step before the next step.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import LutcoreError
from ...spec import fp
from ...spec import numerics as nx
from ...spec.geometry import TableGeometry
from .. import _params as P
from .._mux import select
from ..fp import FPAdder, FpAccumulator
from ..fp.adder import STAGES
from ..fp.datapath import (adder_tree, emit_rows, finalize_sequence, partial_registers,
                           row_layout)
from ..fp.rounding import double, halve, negate, times_int, widen
from ..layouts import Mode
from .core import decode_code

__all__ = ["FpLutCore"]


@P.parameters("m", "n", "g", "elut_g", "weight_bits", "symmetrize", "lookups")
class FpLutCore(wiring.Component):
    """m x n FP LUT units, L lookups each a step, with FP accumulators and finalize.

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
        ``tables``: ``m * L`` tables of raw ``table_format`` entries (row r's l-th at
        ``r * L + l``); ``codes``: ``n * L`` codes (column c's l-th at ``c * L + l``),
        decoded as in :class:`~lutcore.hw.lut_core.LutCore`; ``plane``; ``mode``; ``clear``:
        this step starts new sums. Always ready but while a finalize runs.
    finalize : ``In(stream.Signature(finalize_layout))``
        ``correction``: the small signed integer c.
    rows : ``Out(stream.Signature(row_layout))``
        ``word``: the n outputs of row ``row`` (raw ``acc_format``); ``last``.

    Timing: a step accepted in cycle t reaches its accumulators at ``t + step_latency``
    (1 + 5 x tree levels). A finalize waits for the steps ahead of it, reads out the
    partials in 5 cycles, adds them in 15, then the correction and the halving in 6 more,
    and offers row 0 :attr:`finalize_latency` cycles after its acceptance, then a row per
    cycle while ``rows.ready``. The accumulators keep their values (the read-out adds -0).

    Parameters: ``m``, ``n``, ``g``, ``elut_g``, ``weight_bits``, ``symmetrize``,
    ``lookups`` as :class:`~lutcore.hw.lut_core.LutCore`; ``table_format`` (fp16, bf16,
    fp32) and ``acc_format`` (fp16, fp32), the latter at least as wide in exponent and
    fraction.
    """

    def __init__(self, *, m: int, n: int, g: int, elut_g: int, weight_bits: int,
                 symmetrize: bool = True, lookups: int = 1, table_format: str = "fp32",
                 acc_format: str = "fp32"):
        P.keep(self, m=m, n=n, g=g, elut_g=elut_g, weight_bits=weight_bits,
               symmetrize=symmetrize, lookups=lookups)
        owner = type(self).__name__
        self._table = fp.fp_format(fp.check_format(f"{owner}: table_format", table_format,
                                                   fp.TABLE_FORMATS))
        self._acc = fp.fp_format(fp.check_format(f"{owner}: acc_format", acc_format,
                                                 fp.ACC_FORMATS))
        if self._acc.exp_bits < self._table.exp_bits or self._acc.man_bits < self._table.man_bits:
            raise LutcoreError(f"{owner}: acc_format {acc_format} cannot hold table_format "
                               f"{table_format} exactly: allowed a format at least as wide")
        self._geometry = TableGeometry(g, elut_g, 8, symmetrize)
        super().__init__({
            "steps": In(stream.Signature(self.step_layout)),
            "finalize": In(stream.Signature(self.finalize_layout)),
            "rows": Out(stream.Signature(self.row_layout)),
        })

    # -- layouts and timing -------------------------------------------------------------
    @property
    def plane_bits(self) -> int:
        return nx.unsigned_bits(self._weight_bits - 1)

    @property
    def step_layout(self) -> data.StructLayout:
        geo = self._geometry
        tables = data.ArrayLayout(data.ArrayLayout(unsigned(self._table.width), geo.entries),
                                  self._m * self._lookups)
        codes = data.ArrayLayout(unsigned(geo.code_bits), self._n * self._lookups)
        return data.StructLayout({"tables": tables, "codes": codes,
                                  "plane": unsigned(self.plane_bits), "mode": Mode,
                                  "clear": unsigned(1)})

    @property
    def finalize_layout(self) -> data.StructLayout:
        return data.StructLayout({"correction": signed(P.correction_bits(self._weight_bits))})

    @property
    def row_layout(self) -> data.StructLayout:
        return row_layout(self._m, self._n, self._acc)

    @property
    def tree_levels(self) -> int:
        return (self._lookups - 1).bit_length()

    @property
    def step_latency(self) -> int:
        return 1 + STAGES * self.tree_levels

    @property
    def _emit_at(self) -> int:
        """The finalize counter's value once the outputs are valid: the steps' wait, the
        read-out (5), the lane tree (3 levels of 5), the partial and correction registers
        (1) and the correction's addition (5)."""
        return self.step_latency - 1 + STAGES + 3 * STAGES + 1 + STAGES

    @property
    def finalize_latency(self) -> int:
        """Cycles from a finalize's acceptance to row 0 being offered."""
        return self._emit_at + 2

    # -- gateware -----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        geo, acc, tab = self._geometry, self._acc, self._table
        mrows, ncols, lk = self._m, self._n, self._lookups
        step, fin = self.steps.payload, self.finalize
        accept = self.steps.valid & self.steps.ready
        is_elut = (step.mode == Mode.ELUT) if geo.has_elut else Const(0)
        unsupported = (step.mode == Mode.ELUT) if not geo.has_elut else Const(0)
        shift = Mux(is_elut, 1, step.plane)

        def term(entry, sign, name):
            # Each step through a named signal: the doublings use their operand several
            # times, and nested expressions would grow with every one.
            def wire(value, suffix):
                sig = Signal(acc.width, name=f"{name}_{suffix}")
                m.d.comb += sig.eq(value)
                return sig
            value = wire(widen(entry, tab.name, acc.name), "wide")
            value = wire(Mux(sign, negate(value, acc.width), value), "signed")
            for bit in range(len(shift)):            # 2^shift as doublings, exact
                scaled = value
                for k in range(1 << bit):
                    scaled = wire(double(scaled, acc.name), f"x2_{bit}_{k}")
                value = wire(Mux(shift[bit], scaled, value), f"shift{bit}")
            return value

        # -- lookup and term, registered (stage 1) --------------------------------------
        t_valid, t_clear, t_rows = Signal(), Signal(), Signal()
        terms = {}
        m.d.sync += [t_valid.eq(accept), t_clear.eq(step.clear),
                     t_rows.eq(accept & ~is_elut & ~unsupported & (step.plane == 0))]
        for c in range(ncols):
            for lane in range(lk):
                index, sign = decode_code(step.codes[c * lk + lane], geo, is_elut,
                                          self._symmetrize)
                for r in range(mrows):
                    table = step.tables[r * lk + lane]
                    entry = Mux(unsupported, 0,
                                select([table[e] for e in range(geo.entries)], index))
                    reg = Signal(acc.width, name=f"t_{r}_{c}_{lane}", reset_less=True)
                    m.d.sync += reg.eq(term(entry, sign, f"term_{r}_{c}_{lane}"))
                    terms[r, c, lane] = reg
        row_terms = {}
        for r in range(mrows):
            for lane in range(lk):
                reg = Signal(acc.width, name=f"t_row_{r}_{lane}", reset_less=True)
                m.d.sync += reg.eq(negate(widen(step.tables[r * lk + lane][0], tab.name,
                                                acc.name), acc.width))
                row_terms[r, lane] = reg

        # -- the L tree, then the accumulators ------------------------------------------
        delay = STAGES * self.tree_levels
        a_valid, a_clear, a_rows = t_valid, t_clear, t_rows
        for k in range(delay):
            nv, nc, nr = Signal(name=f"v{k}"), Signal(name=f"c{k}"), Signal(name=f"r{k}")
            m.d.sync += [nv.eq(a_valid), nc.eq(a_clear), nr.eq(a_rows)]
            a_valid, a_clear, a_rows = nv, nc, nr
        # The finalize's control; flush: its read-out cycles.
        busy, t, flush, start = finalize_sequence(m, fin, self.steps,
                                                  step_latency=self.step_latency,
                                                  emit_at=self._emit_at)
        minus_zero = Const(1 << (acc.width - 1), acc.width)
        units, row_accs = {}, {}
        for r in range(mrows):
            for c in range(ncols):
                total, _ = adder_tree(m, [terms[r, c, lane] for lane in range(lk)], acc,
                                      f"tree_{r}_{c}")
                unit = FpAccumulator(acc.name)
                m.submodules[f"acc_{r}_{c}"] = unit
                m.d.comb += [unit.en.eq(a_valid | flush), unit.clear.eq(a_valid & a_clear),
                             unit.addend.eq(Mux(flush, minus_zero, total))]
                units[r, c] = unit
            # Row sums: a clear without a row addend (an ELUT step) waits for the next one.
            total, _ = adder_tree(m, [row_terms[r, lane] for lane in range(lk)], acc,
                                  f"rtree_{r}")
            pending = Signal(name=f"row_clear_{r}")
            with m.If(a_valid & a_clear & ~a_rows):
                m.d.sync += pending.eq(1)
            with m.Elif(a_rows | flush):
                m.d.sync += pending.eq(0)
            row = FpAccumulator(acc.name)
            m.submodules[f"rowacc_{r}"] = row
            m.d.comb += [row.en.eq(a_rows | flush),
                         row.clear.eq((a_rows & a_clear) | pending),
                         row.addend.eq(Mux(flush, minus_zero, total))]
            row_accs[r] = row

        # -- finalize: wait, read out the partials, add them, correct, halve, emit ------
        c_reg = Signal.like(fin.payload.correction)
        with m.If(start):
            m.d.sync += c_reg.eq(fin.payload.correction)

        outputs = {}
        for r in range(mrows):
            r_sum, _ = adder_tree(m, partial_registers(m, row_accs[r], flush, acc, f"row{r}"),
                                  acc, f"rlanes_{r}")
            correction = Signal(acc.width, name=f"cr_{r}", reset_less=True)
            m.d.sync += correction.eq(times_int(r_sum, c_reg, acc.name, m=m))
            for c in range(ncols):
                s_sum, _ = adder_tree(
                    m, partial_registers(m, units[r, c], flush, acc, f"u{r}_{c}"), acc,
                    f"lanes_{r}_{c}")
                s_reg = Signal(acc.width, name=f"s_{r}_{c}", reset_less=True)
                m.d.sync += s_reg.eq(s_sum)
                adder = FPAdder(acc.exp_bits, acc.man_bits, enable=True)
                m.submodules[f"final_{r}_{c}"] = adder
                m.d.comb += [adder.enable.eq(1), adder.a_b.valid.eq(1),
                             adder.a_b.payload.a.eq(s_reg), adder.a_b.payload.b.eq(correction)]
                outputs[r, c] = halve(adder.sum.payload, acc.name, m=m)

        emit_rows(m, self.rows, outputs, busy=busy, t=t, start=start, emit_at=self._emit_at,
                  mrows=mrows, ncols=ncols)
        return m
