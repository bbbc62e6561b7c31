"""LUT tensor core: an m x n array of LUT units with output-stationary accumulators."""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...spec import numerics as nx
from .. import _params as P
from ..layouts import Mode, TableGeometry, output_word_layout, table_word_layout, weight_word_layout

__all__ = ["LutCore"]

# ELUT steps add (+-H) << 1 so that accumulators hold 2*O in both modes and one finalize
# ">> 1" serves both (docs/architecture.md, "Scaling").
ELUT_SHIFT = 1


class LutCore(wiring.Component):
    """m x n LUT units doing one lookup step per cycle, with finalize (DESIGN §2.1-§2.3).

    A *step* carries the m tables of one K group (broadcast to every unit of a row) and the n
    weight codes of one (plane, group). Unit (r, c) decodes its code per ``mode``
    (architecture "Buffers": index in the low bits, sign in bit ``code_bits - 1``), looks up
    ``H_r[index]``, negates it when the sign is set (paper Eq. 6: ``T[v] = -T[~v]``), shifts
    it by the plane ``b`` (bit-serial) or by 1 (ELUT) and adds it to its accumulator:

        ``acc[r][c] = (clear ? 0 : acc[r][c]) + ((sign ? -H_r[idx] : H_r[idx]) << shift)``

    With ``symmetrize=False`` a bit-serial code is the full g-bit pattern and has no sign.
    Code bits outside the mode's index field and sign bit are ignored; an index at or past
    ``table_entries`` selects 0. Row-sum accumulator r adds ``-H_r[0]`` (the sum of the
    group's activations) on bit-serial steps of plane 0, and is cleared with ``clear`` like
    the unit accumulators. All of them are :attr:`sum_bits` wide and wrap modulo
    ``2^sum_bits`` (architecture "Scaling").

    A *finalize* request with a signed constant ``c`` (``2^B - 1 - 2z``; 0 after ELUT) emits
    the m rows ``(acc[r][c] + c * rowsum[r]) >> 1``, truncated to ``acc_bits`` (exact modulo
    ``2^acc_bits``, DESIGN §2.1, §2.3), on ``rows``, one row per beat, row 0 first. The
    accumulators keep their values; a later step with ``clear`` starts a new tile.

    Ordering: a finalize covers exactly the steps accepted before it. While a finalize is
    offered or in progress ``steps.ready`` is low, and a finalize is accepted only once no
    step is in flight: ``STEP_LATENCY`` cycles after the last step's acceptance at the
    earliest. A finalize offered while the previous one issues its rows follows it directly.

    Timing (cycle t = the cycle a transfer happens):

    - :attr:`STEP_LATENCY` = 2: a step accepted in cycle t is in the accumulators from cycle
      ``t + 2`` (stage 1 registers the selected, signed entries; stage 2 accumulates).
      ``steps.ready`` is high whenever no finalize is pending, so a source that is always
      valid gets one step per cycle without bubbles.
    - :attr:`FINALIZE_LATENCY` = 3: a finalize accepted in cycle t offers row r in cycle
      ``t + 3 + r`` while ``rows.ready`` is held high (stage 1 selects the row sum, stage 2
      multiplies by c, stage 3 adds and shifts): the last row is offered in cycle
      ``t + FINALIZE_LATENCY + m - 1``. Backpressure on ``rows`` stalls the finalize
      pipeline; no row is lost or repeated.

    Parameters
    ----------
    m, n : int
        Rows (1..16) and columns (1..512) of LUT units.
    g : int
        Bit-serial group size, 2..6.
    elut_g : int
        ELUT group size 2..5, or 0 to build without the ELUT mode (ELUT steps then add 0).
    act_bits : int
        Signed activation width, 2..16 (sets the table entry width).
    acc_bits : int
        Output width, ``table_bits + weight_bits``..48; accumulators are ``acc_bits + 1``.
    weight_bits : int
        Most weight bit planes B, 1..4 (sets the plane field and the width of c).
    symmetrize : bool
        Symmetrized half tables with signed codes (paper Eq. 6), or full tables.
    src_loc_at : int
        Stack frames to skip when Amaranth records where the core was created.

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
        ``tables``: a table-buffer word; ``codes``: a weight-buffer word; ``plane``: bit plane
        b (ignored in ELUT mode); ``mode``: :class:`Mode`; ``clear``: zero the unit and row-sum
        accumulators before adding this step.
    finalize : ``In(stream.Signature(finalize_layout))``
        ``correction``: the signed constant c.
    rows : ``Out(stream.Signature(row_layout))``
        ``word``: an output-buffer word; ``row``: its row r; ``last``: r == m - 1.
    busy : ``Out(1)``
        A step or finalize is in flight or a row is waiting on ``rows``.

    Attributes
    ----------
    acc : list of list of Signal
        The ``m x n`` unit accumulators, ``signed(sum_bits)`` (for test benches and probes).
    rowsum : list of Signal
        The ``m`` row-sum accumulators, ``signed(sum_bits)``.

    Raises
    ------
    TypeError
        A parameter has the wrong type.
    LutcoreError
        A parameter is out of range.
    """

    STEP_LATENCY = 2
    FINALIZE_LATENCY = 3

    def __init__(self, *, m: int, n: int, g: int, elut_g: int, act_bits: int, acc_bits: int,
                 weight_bits: int, symmetrize: bool = True, src_loc_at: int = 0):
        owner = type(self).__name__
        self._m = P.check_int(owner, "m", m)
        self._n = P.check_int(owner, "n", n)
        self._g = P.check_int(owner, "g", g)
        self._elut_g = P.check_elut_g(owner, elut_g)
        self._act_bits = P.check_int(owner, "act_bits", act_bits)
        self._weight_bits = P.check_int(owner, "weight_bits", weight_bits)
        self._symmetrize = P.check_bool(owner, "symmetrize", symmetrize)
        self._geometry = TableGeometry(g, elut_g, act_bits, symmetrize)
        self._acc_bits = P.check_acc_bits(owner, acc_bits, self._geometry.entry_bits, weight_bits)
        super().__init__({
            "steps": In(stream.Signature(self.step_layout)),
            "finalize": In(stream.Signature(self.finalize_layout)),
            "rows": Out(stream.Signature(self.row_layout)),
            "busy": Out(1),
        }, src_loc_at=1 + src_loc_at)
        # The accumulators, created here so that test benches can observe them.
        self.acc = [[Signal(signed(self.sum_bits), name=f"acc_{r}_{c}") for c in range(n)]
                    for r in range(m)]
        self.rowsum = [Signal(signed(self.sum_bits), name=f"rowsum_{r}") for r in range(m)]

    @classmethod
    def from_config(cls, config) -> "LutCore":
        """The core of a :class:`~lutcore.spec.config.CoreConfig`."""
        return cls(m=config.m, n=config.n, g=config.g, elut_g=config.elut_g,
                   act_bits=config.act_bits, acc_bits=config.acc_bits,
                   weight_bits=config.weight_bits, symmetrize=config.symmetrize, src_loc_at=1)

    # -- parameters ---------------------------------------------------------------------
    m = property(lambda self: self._m)
    n = property(lambda self: self._n)
    g = property(lambda self: self._g)
    elut_g = property(lambda self: self._elut_g)
    act_bits = property(lambda self: self._act_bits)
    acc_bits = property(lambda self: self._acc_bits)
    weight_bits = property(lambda self: self._weight_bits)
    symmetrize = property(lambda self: self._symmetrize)

    @property
    def geometry(self) -> TableGeometry:
        return self._geometry

    @property
    def sum_bits(self) -> int:
        """Accumulator width acc_bits + 1: 2*O-scaled sums, exact modulo 2^acc_bits after >> 1."""
        return self._acc_bits + 1

    @property
    def plane_bits(self) -> int:
        return nx.unsigned_bits(self._weight_bits - 1)

    @property
    def correction_bits(self) -> int:
        """Signed width of c = 2^B - 1 - 2z over every B <= weight_bits and z."""
        return P.correction_bits(self._weight_bits)

    @property
    def row_bits(self) -> int:
        return nx.unsigned_bits(self._m - 1)

    @property
    def step_layout(self) -> data.StructLayout:
        geo = self._geometry
        return data.StructLayout({
            "tables": table_word_layout(self._m, geo.entries, geo.entry_bits),
            "codes": weight_word_layout(self._n, geo.code_bits),
            "plane": unsigned(self.plane_bits),
            "mode": Mode,
            "clear": unsigned(1),
        })

    @property
    def finalize_layout(self) -> data.StructLayout:
        return data.StructLayout({"correction": signed(self.correction_bits)})

    @property
    def row_layout(self) -> data.StructLayout:
        return data.StructLayout({
            "word": output_word_layout(self._n, self._acc_bits),
            "row": unsigned(self.row_bits),
            "last": unsigned(1),
        })

    # -- gateware -----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        geo = self._geometry
        mrows, ncols = self._m, self._n
        step = self.steps.payload
        term_shape = signed(geo.entry_bits + 1)        # +-H: the negation of any entry fits
        shift_bits = nx.unsigned_bits(max(2 ** self.plane_bits - 1, ELUT_SHIFT))

        # -- stage 1: decode, look up, negate (one lookup per unit) -------------------------
        is_elut = (step.mode == Mode.ELUT) if geo.has_elut else Const(0)
        # A build without ELUT treats an ELUT step as adding nothing (it still clears).
        unsupported = (step.mode == Mode.ELUT) if not geo.has_elut else Const(0)
        s1_valid = Signal()
        s1_clear = Signal()
        s1_shift = Signal(shift_bits)
        s1_term = [[Signal(term_shape, name=f"term_{r}_{c}") for c in range(ncols)]
                   for r in range(mrows)]
        s1_rowterm = [Signal(term_shape, name=f"rowterm_{r}") for r in range(mrows)]

        accept_step = self.steps.valid & self.steps.ready
        m.d.sync += [
            s1_valid.eq(accept_step),
            s1_clear.eq(step.clear),
            s1_shift.eq(Mux(is_elut, ELUT_SHIFT, step.plane)),
        ]
        rows_of_entries = [[step.tables[r][e] for e in range(geo.entries)] for r in range(mrows)]
        sign_bit = geo.code_bits - 1
        for c in range(ncols):
            code = step.codes[c]
            index = Signal(geo.index_bits, name=f"index_{c}")
            sign = Signal(name=f"sign_{c}")
            bs_index = code[:geo.bitserial_index_bits]
            if geo.has_elut:
                m.d.comb += index.eq(Mux(is_elut, code[:geo.elut_index_bits], bs_index))
            else:
                m.d.comb += index.eq(bs_index)
            # Full (unsymmetrized) bit-serial codes have no sign; ELUT codes always do.
            if self._symmetrize:
                m.d.comb += sign.eq(code[sign_bit])
            elif geo.has_elut:
                m.d.comb += sign.eq(is_elut & code[sign_bit])
            for r in range(mrows):
                # One multiplexer per unit (a named wire, so the two uses below share it).
                entry = Signal(signed(geo.entry_bits), name=f"entry_{r}_{c}")
                m.d.comb += entry.eq(_select(rows_of_entries[r], index))
                m.d.sync += s1_term[r][c].eq(Mux(unsupported, 0, Mux(sign, -entry, entry)))
        # Row sums: -H_r[0] = sum of the group's activations, on bit-serial plane 0 only.
        take_rowsum = ~is_elut & ~unsupported & ~step.plane.any()
        for r in range(mrows):
            m.d.sync += s1_rowterm[r].eq(Mux(take_rowsum, -step.tables[r][0], 0))

        # -- stage 2: accumulate (wraps modulo 2^sum_bits) ------------------------------------
        with m.If(s1_valid):
            for r in range(mrows):
                for c in range(ncols):
                    acc = self.acc[r][c]
                    m.d.sync += acc.eq(Mux(s1_clear, 0, acc) + (s1_term[r][c] << s1_shift))
                rs = self.rowsum[r]
                m.d.sync += rs.eq(Mux(s1_clear, 0, rs) + s1_rowterm[r])

        # -- finalize: (acc + c * rowsum) >> 1, one row per beat ---------------------------
        fin = self.finalize
        out = self.rows
        row_shape = unsigned(self.row_bits)
        c_shape = signed(self.correction_bits)
        sum_shape = signed(self.sum_bits)

        issuing = Signal()                   # rows 1..m-1 of an accepted request remain
        issue_row = Signal(row_shape)
        held_c = Signal(c_shape)
        f1_valid, f1_row, f1_last = Signal(), Signal(row_shape), Signal()
        f1_rowsum, f1_c = Signal(sum_shape), Signal(c_shape)
        f2_valid, f2_row, f2_last = Signal(), Signal(row_shape), Signal()
        f2_product = Signal(sum_shape)

        out_move = ~out.valid | out.ready
        f2_move = ~f2_valid | out_move
        f1_move = ~f1_valid | f2_move

        # A request starts only when no step is in flight, so the row sums it reads are final.
        m.d.comb += fin.ready.eq(~issuing & ~s1_valid & f1_move)
        start = fin.valid & fin.ready
        row = Mux(issuing, issue_row, 0)
        issue = f1_move & (issuing | start)
        with m.If(f1_move):
            m.d.sync += [
                f1_valid.eq(issue),
                f1_row.eq(row),
                f1_last.eq(row == mrows - 1),
                f1_rowsum.eq(_select(self.rowsum, row)),
                f1_c.eq(Mux(issuing, held_c, fin.payload.correction)),
            ]
        with m.If(start):
            m.d.sync += held_c.eq(fin.payload.correction)
        with m.If(issue):
            m.d.sync += [issuing.eq(row != mrows - 1), issue_row.eq(row + 1)]

        with m.If(f2_move):
            m.d.sync += [
                f2_valid.eq(f1_valid),
                f2_row.eq(f1_row),
                f2_last.eq(f1_last),
                f2_product.eq(f1_rowsum * f1_c),       # modulo 2^sum_bits
            ]

        with m.If(out_move):
            m.d.sync += [
                out.valid.eq(f2_valid),
                out.payload.row.eq(f2_row),
                out.payload.last.eq(f2_last),
            ]
            for c in range(ncols):
                column = _select([self.acc[r][c] for r in range(mrows)], f2_row)
                total = Signal(sum_shape, name=f"total_{c}")
                m.d.comb += total.eq(column + f2_product)
                # S + c*sumA = 2*O exactly, so dropping bit 0 is the exact ">> 1".
                m.d.sync += out.payload.word[c].eq(total[1:])

        # Steps wait while a finalize is offered or issuing, or while its rows in stages f1 and
        # f2 have yet to read the accumulators.
        m.d.comb += [
            self.steps.ready.eq(~(fin.valid | issuing | f1_valid | f2_valid)),
            self.busy.eq(s1_valid | issuing | f1_valid | f2_valid | out.valid),
        ]
        return m


def _select(items, index):
    """``items[index]`` as a multiplexer; indices past the end select 0, so every index value
    is defined (no incomplete case in the generated Verilog)."""
    if len(items) == 1:
        return Mux(index.any(), 0, items[0])
    padding = [Const(0, items[0].shape())] * (2 ** len(index) - len(items))
    return Array(list(items) + padding)[index]
