"""Pieces shared by the comparison baselines: parameter checks, an adder tree and the
finalize/readout block.

The baselines exist to be synthesized next to :class:`~lutcore.hw.lut_core.LutCore`, so they
keep its contract wherever the arithmetic allows: the same ``steps`` stream handshake, the
same ``sum_bits = acc_bits + 1`` accumulators holding ``2 * O``, and a ``finalize`` /
``rows`` readout with three stages, one row per beat. Their step pipeline has two stages
(stage 1 registers one term per unit, stage 2 accumulates); the LUT core's has a signed-shift
stage between lookup and accumulate, which it pays for in the area comparison. Only the
term differs: a table lookup in the LUT core, a multiplier tree in :class:`.MACCore`, an
adder tree in :class:`.AdderCore`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import LutcoreError
from ...spec import numerics as nx
from ...spec.params import check_param
from .._mux import select
from .._params import parameters

__all__ = ["check_int", "check_acc_bits", "tree_sum", "unit_sums", "value_shape", "Finalizer",
           "finalize_layout", "row_layout"]


def check_int(owner: str, name: str, value, key: str | None = None, *,
              lo: int | None = None, hi: int | None = None) -> int:
    """``value`` if :data:`lutcore.spec.params.PARAMS` allows it for ``key`` (default
    ``name``), or, with ``lo`` and ``hi`` and no key, if it lies in ``[lo, hi]``; else a
    one-line error naming the block, the argument and the bad value (``TypeError`` for a
    non-integer)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an integer, not {value!r}")
    if key is None and hi is not None:
        if not lo <= value <= hi:
            raise LutcoreError(f"{owner}: {name} = {value!r} is invalid: allowed {lo}..{hi}")
        return value
    return check_param(name, value, key=key, owner=owner, lo=lo)


def check_acc_bits(owner: str, value, term_bits: int) -> int:
    """``acc_bits`` must hold one (shifted) term, as the LUT core demands of its entries."""
    return check_int(owner, "acc_bits", value, lo=term_bits)


def value_shape(lo: int, hi: int):
    """Smallest signed shape holding ``[lo, hi]``."""
    return signed(nx.signed_bits(lo, hi))


def unit_sums(rows: int, cols: int, g: int, term) -> list[list]:
    """``[r][c]``: the adder tree (:func:`tree_sum`) over ``i < g`` of ``term(r, c, i)``,
    one unit's dot product; ``term`` is called in ``r, c, i`` order."""
    return [[tree_sum([term(r, c, i) for i in range(g)]) for c in range(cols)]
            for r in range(rows)]


def tree_sum(terms):
    """Sum ``terms`` with a balanced binary adder tree (depth ``ceil(log2(len))``); Amaranth
    widens each partial sum by a bit, so nothing wraps inside the tree."""
    terms = list(terms)
    if not terms:
        raise LutcoreError("tree_sum: needs at least one term")
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


def correction_bits(weight_bits: int) -> int:
    """Signed width of ``c = 2^B - 1 - 2z`` over every zero point z of a B-bit code."""
    top = (1 << weight_bits) - 1
    return nx.signed_bits(nx.correction_constant(weight_bits, top),
                          nx.correction_constant(weight_bits, 0))


def finalize_layout(correction_bits: int) -> data.StructLayout:
    return data.StructLayout({"correction": signed(correction_bits)})


def row_layout(m: int, n: int, acc_bits: int) -> data.StructLayout:
    return data.StructLayout({
        "word": data.ArrayLayout(signed(acc_bits), n),
        "row": unsigned(nx.unsigned_bits(m - 1)),
        "last": unsigned(1),
    })


class Finalizer(wiring.Component):
    """Reads an ``m x n`` accumulator array out as ``m`` output rows, ``(acc + c*rowsum) >> 1``.

    The readout of the LUT core, as a block of its own: a request on ``finalize`` (signed
    constant ``c``) emits rows ``0..m-1`` on ``rows``, one per beat, each column
    ``(acc[r][c] + c * rowsum[r]) >> 1`` truncated to ``acc_bits``. The accumulators hold
    ``2 * O``-scaled sums, so dropping bit 0 is an exact halving (DESIGN §2.1). A request is
    accepted only while ``step_in_flight`` is low; row r of a request accepted in cycle t is
    offered in cycle ``t + 3 + r`` when ``rows`` is never stalled (stage 1 picks the row
    sum, stage 2 multiplies by c, stage 3 adds and shifts); backpressure stalls every stage.

    Parameters
    ----------
    m, n : accumulator rows and columns.
    acc_bits : output width; accumulators are ``acc_bits + 1`` wide.
    correction_bits : width of ``c``, or 0 for a core that needs no correction (``c`` and the
        row sums are then ignored and the rows are ``acc >> 1``).

    Members
    -------
    finalize : ``In(stream.Signature(finalize_layout))``
    rows : ``Out(stream.Signature(row_layout))``: ``word``, ``row``, ``last``.
    acc : ``In(ArrayLayout(ArrayLayout(signed(acc_bits + 1), n), m))``
    rowsum : ``In(ArrayLayout(signed(acc_bits + 1), m))``
    step_in_flight : ``In(1)``: the core's step pipeline still holds a step.
    pending : ``Out(1)``: a request is being read out (the core must hold its steps).
    """

    def __init__(self, *, m: int, n: int, acc_bits: int, correction_bits: int):
        self._m, self._n, self._acc_bits = m, n, acc_bits
        self._correction_bits = correction_bits
        sum_shape = signed(acc_bits + 1)
        super().__init__({
            "finalize": In(stream.Signature(finalize_layout(max(correction_bits, 1)))),
            "rows": Out(stream.Signature(row_layout(m, n, acc_bits))),
            "acc": In(data.ArrayLayout(data.ArrayLayout(sum_shape, n), m)),
            "rowsum": In(data.ArrayLayout(sum_shape, m)),
            "step_in_flight": In(1),
            "pending": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rows, ncols = self._m, self._n
        fin, out = self.finalize, self.rows
        row_shape = unsigned(nx.unsigned_bits(rows - 1))
        sum_shape = signed(self._acc_bits + 1)
        corrected = self._correction_bits > 0

        issuing = Signal()                    # rows 1..m-1 of an accepted request remain
        next_row = Signal(row_shape)
        held_c = Signal(signed(max(self._correction_bits, 1)))
        f1_valid, f1_row, f1_last = Signal(), Signal(row_shape), Signal()
        f2_valid, f2_row, f2_last = Signal(), Signal(row_shape), Signal()

        out_move = ~out.valid | out.ready
        f2_move = ~f2_valid | out_move
        f1_move = ~f1_valid | f2_move

        m.d.comb += fin.ready.eq(~issuing & ~self.step_in_flight & f1_move)
        start = fin.valid & fin.ready
        row = Mux(issuing, next_row, 0)
        issue = f1_move & (issuing | start)
        with m.If(f1_move):
            m.d.sync += [f1_valid.eq(issue), f1_row.eq(row), f1_last.eq(row == rows - 1)]
        with m.If(issue):
            m.d.sync += [issuing.eq(row != rows - 1), next_row.eq(row + 1)]
        with m.If(f2_move):
            m.d.sync += [f2_valid.eq(f1_valid), f2_row.eq(f1_row), f2_last.eq(f1_last)]

        product = Signal(sum_shape)
        if corrected:
            f1_rowsum, f1_c = Signal(sum_shape), Signal(held_c.shape())
            with m.If(start):
                m.d.sync += held_c.eq(fin.payload.correction)
            with m.If(f1_move):
                m.d.sync += [f1_rowsum.eq(select([self.rowsum[r] for r in range(rows)], row)),
                             f1_c.eq(Mux(issuing, held_c, fin.payload.correction))]
            with m.If(f2_move):
                m.d.sync += product.eq(f1_rowsum * f1_c)     # modulo 2^sum_bits

        with m.If(out_move):
            m.d.sync += [out.valid.eq(f2_valid), out.payload.row.eq(f2_row),
                         out.payload.last.eq(f2_last)]
            for c in range(ncols):
                column = select([self.acc[r][c] for r in range(rows)], f2_row)
                total = Signal(sum_shape, name=f"total_{c}")
                m.d.comb += total.eq(column + product if corrected else column)
                m.d.sync += out.payload.word[c].eq(total[1:])      # exact >> 1 of 2*O
        m.d.comb += self.pending.eq(issuing | f1_valid | f2_valid)
        return m


@parameters("m", "n", "g", "act_bits", "acc_bits", "weight_bits")
class TileCore(wiring.Component):
    """Base of the baselines: ``m x n`` output-stationary units behind the LUT core's step
    and finalize interface (with one output row per beat, the LUT core's ``beats = 1``). A
    subclass supplies :meth:`step_layout` and :meth:`terms`.

    Step pipeline (``STEP_LATENCY = 2``; the LUT core has a signed-shift stage more and,
    past 8 columns, a broadcast stage, which the n = 8 area comparisons do not use): stage 1
    registers each unit's term ``t[r][c]`` (and the shift that goes with it), stage 2 does
    ``acc[r][c] = (clear ? 0 : acc[r][c]) + (t[r][c] << shift)`` modulo ``2^sum_bits``.
    Row sums (only for cores with a zero-point correction) add their stage-1 row term the
    same way. ``steps.ready`` is low while a finalize is offered or being read out.

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
    finalize : ``In(stream.Signature(finalize_layout))``: ``correction`` c.
    rows : ``Out(stream.Signature(row_layout))``: ``word`` (n signed ``acc_bits``), ``row``,
        ``last``.
    busy : ``Out(1)``: a step or finalize is in flight or a row is waiting.

    Attributes ``acc[r][c]`` and ``rowsum[r]`` are the accumulator signals (for test benches).
    """

    STEP_LATENCY = 2
    FINALIZE_LATENCY = 3

    def _check_tile(self, m: int, n: int, g: int, act_bits: int) -> str:
        """Validate and keep the tile parameters every baseline takes (before the subclass
        computes its step layout); returns the owner name for further messages."""
        owner = type(self).__name__
        self._m = check_int(owner, "m", m)
        self._n = check_int(owner, "n", n)
        self._g = check_int(owner, "g", g, "baseline_g")
        self._act_bits = check_int(owner, "act_bits", act_bits)
        return owner


    def __init__(self, *, m: int, n: int, acc_bits: int, correction_bits: int):
        self._correction_bits = correction_bits
        super().__init__({
            "steps": In(stream.Signature(self.step_layout)),
            "finalize": In(stream.Signature(finalize_layout(max(correction_bits, 1)))),
            "rows": Out(stream.Signature(row_layout(m, n, acc_bits))),
            "busy": Out(1),
        })
        self.acc = [[Signal(signed(acc_bits + 1), name=f"acc_{r}_{c}") for c in range(n)]
                    for r in range(m)]
        self.rowsum = [Signal(signed(acc_bits + 1), name=f"rowsum_{r}") for r in range(m)]

    @property
    def sum_bits(self) -> int:
        """Accumulator width ``acc_bits + 1`` (sums scaled by 2, as in the LUT core)."""
        return self.acc_bits + 1

    @property
    def products_per_step(self) -> int:
        """Weight-activation products (one weight bit plane for bit-serial cores) per step."""
        return self.m * self.n * self.g

    def terms(self, m: Module, payload):
        """Stage-1 logic: returns ``(terms, term_shape, shift, rowterms)`` where
        ``terms[r][c]`` is unit (r, c)'s term, ``shift`` an int or value, and ``rowterms``
        the m row-sum terms or None."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        steps = self.steps
        accept = steps.valid & steps.ready
        terms, term_shape, shift, rowterms = self.terms(m, steps.payload)

        # -- stage 1: one registered term per unit ----------------------------------------
        s1_valid, s1_clear = Signal(), Signal()
        m.d.sync += [s1_valid.eq(accept), s1_clear.eq(steps.payload.clear)]
        if isinstance(shift, int):                      # a fixed shift is wiring
            shifted = lambda t: t << shift
        else:
            s1_shift = Signal(shift.shape())
            m.d.sync += s1_shift.eq(shift)
            shifted = lambda t: t << s1_shift
        s1_term = [[Signal(term_shape, name=f"term_{r}_{c}") for c in range(self.n)]
                   for r in range(self.m)]
        for r in range(self.m):
            for c in range(self.n):
                m.d.sync += s1_term[r][c].eq(terms[r][c])
        if rowterms is not None:
            s1_rowterm = [Signal(term_shape, name=f"rowterm_{r}") for r in range(self.m)]
            m.d.sync += [s1_rowterm[r].eq(rowterms[r]) for r in range(self.m)]

        # -- stage 2: accumulate ------------------------------------------------------------
        with m.If(s1_valid):
            for r in range(self.m):
                for c in range(self.n):
                    acc = self.acc[r][c]
                    m.d.sync += acc.eq(Mux(s1_clear, 0, acc) + shifted(s1_term[r][c]))
                if rowterms is not None:
                    rs = self.rowsum[r]
                    m.d.sync += rs.eq(Mux(s1_clear, 0, rs) + s1_rowterm[r])

        # -- finalize -----------------------------------------------------------------------
        m.submodules.finalizer = fin = Finalizer(
            m=self.m, n=self.n, acc_bits=self.acc_bits, correction_bits=self._correction_bits)
        wiring.connect(m, wiring.flipped(self.finalize), fin.finalize)
        wiring.connect(m, fin.rows, wiring.flipped(self.rows))
        for r in range(self.m):
            m.d.comb += fin.rowsum[r].eq(self.rowsum[r])
            for c in range(self.n):
                m.d.comb += fin.acc[r][c].eq(self.acc[r][c])
        m.d.comb += [
            fin.step_in_flight.eq(s1_valid),
            steps.ready.eq(~(self.finalize.valid | fin.pending)),
            self.busy.eq(s1_valid | fin.pending | self.rows.valid),
        ]
        return m
