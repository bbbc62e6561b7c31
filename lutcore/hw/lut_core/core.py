"""LUT tensor core: an m x n array of LUT units with output-stationary accumulators."""

from __future__ import annotations

from amaranth.hdl import (Cat, Const, Elaboratable, Module, Mux, ResetSignal, Signal,
                          signed, unsigned)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import LutcoreError
from ...spec import numerics as nx
from ...spec.config import BROADCAST_COLS
from .. import _params as P
from .._mux import select
from ..layouts import Mode, TableGeometry, output_word_layout, table_word_layout, weight_word_layout

__all__ = ["LutCore"]

# ELUT steps add (+-H) << 1 so that accumulators hold 2*O in both modes and one finalize
# ">> 1" serves both (docs/architecture.md, "Scaling").
ELUT_SHIFT = 1


@P.parameters("m", "n", "g", "elut_g", "act_bits", "acc_bits", "weight_bits", "symmetrize",
              "broadcast_cols", "beats", "negate_in_unit", "lookups")
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
    ``2^acc_bits``, DESIGN §2.1, §2.3), on ``rows`` as ``m * beats`` beats of ``n / beats``
    outputs: beat ``r * beats + j`` holds columns ``j*n/beats .. (j+1)*n/beats - 1`` of row r.
    The accumulators keep their values; a later step with ``clear`` starts a new tile.

    Step pipeline (one step per cycle, no bubbles):

    - **broadcast** (only when ``n > broadcast_cols``): the step's tables, mode, plane and
      clear are registered once per group of ``broadcast_cols`` columns, and the codes once
      per column, so that each copy drives only its group's lookups (the fan-out of a table
      bit is ``m x broadcast_cols`` multiplexers, not ``m x n``);
    - **lookup**: each unit decodes its code and registers the selected entry and its sign;
    - **signed shift**: ``term = (entry << shift) ^ (sign ? ~0 : 0)``, registered with the sign;
    - **accumulate**: ``acc + term + sign`` as one carry chain (the +1 of the negation is its
      carry-in). A clearing step zeroes the accumulators as it enters the signed-shift stage
      (a synchronous reset of the accumulator flip-flops), so it adds to 0 without any gating
      in front of the adder; the accumulators read 0 one cycle before its term arrives.

    Finalize pipeline: row-sum select (one row per beat issued), correction product and
    drain (with several beats per row, a row's accumulators are copied into a drain register
    as its first beat passes, which then shifts by one beat per further beat, so every
    output beat comes from the same ``n / beats`` drain registers and no multiplexer gathers
    columns from across the array), then add and register the beat.

    Ordering: a finalize covers exactly the steps accepted before it. It is accepted while no
    other finalize waits (``steps.ready`` is low from then until its rows have read the
    accumulators) and waits ``step_latency - 1`` cycles, so the steps ahead of it have
    reached the accumulators whatever their number: its timing never depends on the steps.

    Timing (cycle t = the cycle a transfer happens):

    - :attr:`step_latency` (3, or 4 with the broadcast stage): a step accepted in cycle t is
      in the accumulators from cycle ``t + step_latency``.
    - :attr:`finalize_latency` (``step_latency - 1 + 3``): a finalize accepted in cycle t
      offers beat b in cycle ``t + finalize_latency + b`` while ``rows.ready`` is held high and
      no earlier finalize is still issuing (row-sum select, correction product and drain,
      add). Backpressure on ``rows`` stalls the finalize pipeline; no beat is lost or
      repeated.

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
    broadcast_cols : int
        Columns per copy of the step broadcast, 1..512 (default
        :data:`lutcore.spec.config.BROADCAST_COLS`).
    beats : int
        Output beats per row, a divisor of n (default 1: one beat per row).
    lookups : int
        L, table lookups per unit per step, 1..8 (default 1): a step carries ``m * L`` tables
        (row r's l-th at ``r * L + l``) and ``n * L`` codes (column c's l-th at
        ``c * L + l``); unit (r, c) sums its L signed entries in an adder tree before its
        one accumulator, so a unit covers K = g * L activations a step and the accumulators
        are shared by L times more products (the paper's K = g x L;
        ``CoreConfig.lookups``).
    negate_in_unit : bool
        Negate a signed entry in the unit (a two's complement negation, ``-entry`` before
        the shift) instead of inverting it there and adding the +1 as the accumulator's
        carry-in (the default). Same results; a rung of the area study's ladder (the paper's
        "negation removed" step), not used by the accelerator.
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
        ``word``: ``n / beats`` outputs; ``beat``: its index ``r * beats + j``; ``last``: the
        last beat of the finalize.
    busy : ``Out(1)``
        A step or finalize is in flight or a beat is waiting on ``rows``.

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

    STEP_STAGES = 3          # lookup, signed shift, accumulate
    FINALIZE_STAGES = 3      # row-sum select, product and drain, add

    def __init__(self, *, m: int, n: int, g: int, elut_g: int, act_bits: int, acc_bits: int,
                 weight_bits: int, symmetrize: bool = True, broadcast_cols: int | None = None,
                 beats: int = 1, negate_in_unit: bool = False, lookups: int = 1,
                 src_loc_at: int = 0):
        owner = type(self).__name__
        P.keep(self, m=m, n=n, g=g, elut_g=elut_g, act_bits=act_bits, weight_bits=weight_bits,
               symmetrize=symmetrize,
               broadcast_cols=BROADCAST_COLS if broadcast_cols is None else broadcast_cols,
               beats=beats, negate_in_unit=negate_in_unit, lookups=lookups)
        if n % beats:
            raise LutcoreError(f"{owner}: beats = {beats} is invalid: must divide n = {n}")
        self._geometry = TableGeometry(g, elut_g, act_bits, symmetrize)
        self._acc_bits = P.check_acc_bits(owner, acc_bits, self._geometry.entry_bits, weight_bits)
        super().__init__({
            "steps": In(stream.Signature(self.step_layout)),
            "finalize": In(stream.Signature(self.finalize_layout)),
            "rows": Out(stream.Signature(self.row_layout)),
            "busy": Out(1),
        }, src_loc_at=1 + src_loc_at)
        # The accumulators, created here so that test benches can observe them.
        # (Zeroed by each column group's registered reset, not by the domain reset.)
        self.acc = [[Signal(signed(self.sum_bits), name=f"acc_{r}_{c}", reset_less=True)
                     for c in range(n)] for r in range(m)]
        self.rowsum = [Signal(signed(self.sum_bits), name=f"rowsum_{r}", reset_less=True)
                       for r in range(m)]

    @classmethod
    def from_config(cls, config, **variant) -> "LutCore":
        """The core of a :class:`~lutcore.spec.config.CoreConfig`; ``variant`` sets the
        parameters a configuration does not carry (``negate_in_unit``)."""
        return cls(m=config.m, n=config.n, g=config.g, elut_g=config.elut_g,
                   act_bits=config.act_bits, acc_bits=config.acc_bits,
                   weight_bits=config.weight_bits, symmetrize=config.symmetrize,
                   broadcast_cols=BROADCAST_COLS, beats=config.out_beats,
                   lookups=config.lookups, src_loc_at=1, **variant)

    @property
    def geometry(self) -> TableGeometry:
        return self._geometry

    @property
    def broadcast_groups(self) -> int:
        """Copies of the step broadcast; 1 means no broadcast stage."""
        return -(-self._n // self._broadcast_cols)

    @classmethod
    def latencies_of(cls, n: int, broadcast_cols: int | None = None) -> tuple[int, int]:
        """(step latency, finalize latency) of a core with n columns, without building it
        (``broadcast_cols`` defaults to :data:`~lutcore.spec.config.BROADCAST_COLS`)."""
        cols = BROADCAST_COLS if broadcast_cols is None else broadcast_cols
        step = cls.STEP_STAGES + (1 if n > cols else 0)
        return step, step - 1 + cls.FINALIZE_STAGES

    @property
    def step_latency(self) -> int:
        """Cycles from a step's acceptance to its effect in the accumulators."""
        return self.latencies_of(self._n, self._broadcast_cols)[0]

    @property
    def finalize_latency(self) -> int:
        """Cycles from a finalize's acceptance to its first output beat."""
        return self.latencies_of(self._n, self._broadcast_cols)[1]

    @property
    def beat_cols(self) -> int:
        return self._n // self._beats

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
    def beat_bits(self) -> int:
        """Width of the beat index ``r * beats + j``."""
        return nx.unsigned_bits(self._m * self._beats - 1)

    @property
    def step_layout(self) -> data.StructLayout:
        geo = self._geometry
        return data.StructLayout({
            "tables": table_word_layout(self._m * self._lookups, geo.entries, geo.entry_bits),
            "codes": weight_word_layout(self._n * self._lookups, geo.code_bits),
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
            "word": output_word_layout(self.beat_cols, self._acc_bits),
            "beat": unsigned(self.beat_bits),
            "last": unsigned(1),
        })

    # -- gateware -----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        mrows, ncols = self._m, self._n
        accept_step = self.steps.valid & self.steps.ready
        bc = self._broadcast_cols
        spans = [range(lo, min(lo + bc, ncols)) for lo in range(0, ncols, bc)]
        groups = []
        for gi, cols in enumerate(spans):
            group = _ColumnGroup(self, cols, self.steps.payload, accept_step,
                                 broadcast=self.broadcast_groups > 1, rowsum=gi == 0)
            # One module per group (the FPGA flow keeps their hierarchy, so synthesis does not
            # merge the groups' identical broadcast and control registers back into one).
            m.submodules[f"{COLUMN_GROUP_PREFIX}{gi}"] = group
            groups.append(group)
        in_flight = [sig for group in groups for sig in group.in_flight]
        sb = self.sum_bits

        # -- finalize: wait, then (acc + c * rowsum) >> 1, one beat per cycle -----------------
        fin = self.finalize
        out = self.rows
        beats = self._beats
        total_beats = mrows * beats
        beat_shape = unsigned(self.beat_bits)
        row_shape = unsigned(nx.unsigned_bits(mrows - 1))
        part_shape = unsigned(nx.unsigned_bits(beats - 1))
        c_shape = signed(self.correction_bits)
        sum_shape = signed(sb)
        delay = self.step_latency - 1

        pending = Signal()                   # an accepted request waits for the steps
        wait = Signal(range(delay))          # cycles it still waits
        pend_c = Signal(c_shape)
        issuing = Signal()                   # beats 1.. of the current request remain
        issue_beat, issue_row, issue_part = Signal(beat_shape), Signal(row_shape), \
            Signal(part_shape)
        issue_c = Signal(c_shape)
        # The two finalize stages carry the same beat controls; stage 2 copies stage 1's.
        stage = data.StructLayout({"valid": 1, "beat": beat_shape, "row": row_shape, "last": 1})
        f1, f1_part = Signal(stage), Signal(part_shape)
        f1_rowsum = Signal(sum_shape, reset_less=True)
        f1_c = Signal(c_shape, reset_less=True)
        f2 = Signal(stage)
        f2_product = Signal(sum_shape, reset_less=True)

        out_move = ~out.valid | out.ready
        f2_move = ~f2.valid | out_move
        f1_move = ~f1.valid | f2_move

        m.d.comb += fin.ready.eq(~pending)
        accept_fin = fin.valid & fin.ready
        with m.If(accept_fin):
            m.d.sync += [pending.eq(1), pend_c.eq(fin.payload.correction)]
            if delay > 1:
                m.d.sync += wait.eq(delay - 1)
        with m.Elif(pending & wait.any()):
            m.d.sync += wait.eq(wait - 1)

        begin = pending & ~wait.any() & ~issuing      # beat 0 of the waiting request
        issue = f1_move & (issuing | begin)
        beat = Mux(issuing, issue_beat, 0)
        row = Mux(issuing, issue_row, 0)
        part = Mux(issuing, issue_part, 0)
        last_part = part == beats - 1 if beats > 1 else Const(1)
        with m.If(f1_move):
            m.d.sync += [
                f1.valid.eq(issue),
                f1.beat.eq(beat),
                f1.row.eq(row),
                f1_part.eq(part),
                f1.last.eq(beat == total_beats - 1),
                f1_rowsum.eq(select(self.rowsum, row)),
                f1_c.eq(Mux(issuing, issue_c, pend_c)),
            ]
        with m.If(issue):
            m.d.sync += [
                issuing.eq(beat != total_beats - 1),
                issue_beat.eq(beat + 1),
                issue_part.eq(Mux(last_part, 0, part + 1)),
                issue_row.eq(Mux(last_part, row + 1, row)),
            ]
            with m.If(begin):
                m.d.sync += [pending.eq(0), issue_c.eq(pend_c)]

        with m.If(f2_move):
            m.d.sync += [
                f2.eq(f1),
                f2_product.eq(f1_rowsum * f1_c),       # modulo 2^sum_bits
            ]
        width = self.beat_cols
        if beats == 1:
            # One beat per row: each output column selects its row's accumulator.
            columns = [select([self.acc[r][j] for r in range(mrows)], f2.row)
                       for j in range(width)]
        else:
            # The drain register: row r's accumulators, captured as its first beat enters f2
            # and shifted down by one beat (n / beats columns) for each further beat, so beat
            # j of the row is always in drain[0 : n/beats]. Each drain register takes its own
            # column or the one a beat above it: no wire gathers columns from across the array.
            drain = [Signal(sum_shape, name=f"drain_{c}", reset_less=True) for c in range(ncols)]
            with m.If(f2_move & f1.valid):
                with m.If(~f1_part.any()):
                    m.d.sync += [drain[c].eq(select([self.acc[r][c] for r in range(mrows)],
                                                    f1.row)) for c in range(ncols)]
                with m.Else():
                    m.d.sync += [drain[c].eq(drain[c + width]) for c in range(ncols - width)]
            columns = drain[:width]

        with m.If(out_move):
            m.d.sync += [
                out.valid.eq(f2.valid),
                out.payload.beat.eq(f2.beat),
                out.payload.last.eq(f2.last),
            ]
            for j, column in enumerate(columns):
                total = Signal(sum_shape, name=f"total_{j}")
                m.d.comb += total.eq(column + f2_product)
                # S + c*sumA = 2*O exactly, so dropping bit 0 is the exact ">> 1".
                m.d.sync += out.payload.word[j].eq(total[1:])

        # Steps wait while a finalize is offered, waits or issues, or while its beats in f1
        # and f2 have yet to read the accumulators.
        m.d.comb += [
            self.steps.ready.eq(~(fin.valid | pending | issuing | f1.valid | f2.valid)),
            self.busy.eq(_any(in_flight) | pending | issuing | f1.valid | f2.valid | out.valid),
        ]
        return m

#: Name prefix of the LUT core's column-group submodules (the FPGA flow keeps their hierarchy).
COLUMN_GROUP_PREFIX = "colgroup"
#: Names of a column group's broadcast registers start with it (the FPGA flow keeps them apart).
BROADCAST_PREFIX = "b_"


class _ColumnGroup(Elaboratable):
    """Columns ``cols`` of a :class:`LutCore`: broadcast copy, lookup, signed shift and
    accumulate for their ``m x len(cols)`` units (and the row sums in group 0).

    The group drives ``core.acc[r][c]`` of its columns (and ``core.rowsum`` when ``rowsum``).
    Data registers have no reset; the accumulators and row sums are zeroed by one registered
    signal per group, the domain reset or a clearing step in the lookup stage, so the reset
    net drives one flip-flop per group (the zeroing comes one cycle after the reset; no step
    can arrive in that cycle, as the step pipeline's valid bits are reset).
    """

    def __init__(self, core: LutCore, cols: range, step, accept, *, broadcast: bool,
                 rowsum: bool):
        self.core, self.cols, self.step, self.accept = core, cols, step, accept
        self.broadcast, self.rowsum = broadcast, rowsum
        self.in_flight = [Signal(name="l_valid"), Signal(name="t_valid")]
        if broadcast:
            self.in_flight.insert(0, Signal(name=f"{BROADCAST_PREFIX}valid"))

    def elaborate(self, platform):
        m = Module()
        core, step = self.core, self.step
        geo = core.geometry
        mrows, lookups = core.m, core.lookups
        shift_bits = nx.unsigned_bits(max(2 ** core.plane_bits - 1, ELUT_SHIFT))
        term_bits = geo.entry_bits + 2 ** shift_bits - 1     # an entry shifted by any plane
        *b_valid, l_valid, t_valid = self.in_flight

        # -- broadcast: this group's copy of the step --------------------------------------
        if self.broadcast:
            b = BROADCAST_PREFIX
            tables = Signal(step.tables.shape(), name=f"{b}tables", reset_less=True)
            mode = Signal(Mode, name=f"{b}mode", reset_less=True)
            plane = Signal(core.plane_bits, name=f"{b}plane", reset_less=True)
            clear = Signal(name=f"{b}clear", reset_less=True)
            codes = {(c, l): Signal(unsigned(geo.code_bits), name=f"{b}code_{c}" +
                                    (f"_{l}" if lookups > 1 else ""), reset_less=True)
                     for c in self.cols for l in range(lookups)}
            m.d.sync += [b_valid[0].eq(self.accept), tables.eq(step.tables), mode.eq(step.mode),
                         plane.eq(step.plane), clear.eq(step.clear)]
            m.d.sync += [codes[c, l].eq(step.codes[c * lookups + l]) for c, l in codes]
            valid = b_valid[0]
        else:
            tables, mode, plane, clear = step.tables, step.mode, step.plane, step.clear
            codes = {(c, l): step.codes[c * lookups + l]
                     for c in self.cols for l in range(lookups)}
            valid = self.accept

        # -- lookup: decode each code, select its entry (one multiplexer per unit) ---------
        elut = mode == Mode.ELUT
        # A build without ELUT treats an ELUT step as adding nothing (it still clears).
        is_elut = elut if geo.has_elut else Const(0)
        unsupported = elut if not geo.has_elut else Const(0)
        l_shift = Signal(shift_bits, reset_less=True)
        m.d.sync += [l_valid.eq(valid),
                     l_shift.eq(Mux(is_elut, ELUT_SHIFT, plane))]
        l_entry, l_sign = {}, {}
        for c, l in codes:
            suffix = f"_{l}" if lookups > 1 else ""
            index, sign = decode_code(codes[c, l], geo, is_elut, core.symmetrize)
            for r in range(mrows):
                table = tables[r * lookups + l]
                entry = Signal(signed(geo.entry_bits), name=f"l_entry_{r}_{c}{suffix}",
                               reset_less=True)
                neg = Signal(name=f"l_sign_{r}_{c}{suffix}", reset_less=True)
                m.d.sync += [
                    entry.eq(Mux(unsupported, 0,
                                 select([table[e] for e in range(geo.entries)], index))),
                    neg.eq(~unsupported & sign),
                ]
                l_entry[r, c, l], l_sign[r, c, l] = entry, neg

        # -- signed shift: (entry << shift) ^ ~0 when negative; the +1 rides on the carry ----
        # (or, with negate_in_unit, the whole negation here and no carry-in)
        # With negation in the unit (L > 1 lookups always, then through an adder tree), each
        # entry is negated whole and the sum shifted (every lookup of a step has the same
        # plane); else the entry is inverted and its +1 rides on the accumulator's carry.
        m.d.sync += t_valid.eq(l_valid)
        t_term, t_sign = {}, {}
        sb = core.sum_bits
        for r in range(mrows):
            for c in self.cols:
                if lookups > 1 or core.negate_in_unit:
                    total = _tree([Mux(l_sign[r, c, l], -l_entry[r, c, l], l_entry[r, c, l])
                                   for l in range(lookups)])
                    width = min(len(total) + 2 ** shift_bits - 1, sb)
                    term = Signal(signed(width), name=f"t_term_{r}_{c}", reset_less=True)
                    m.d.sync += term.eq(total << l_shift)
                    t_term[r, c], t_sign[r, c] = term, Const(0, 1)
                    continue
                entry, sign = l_entry[r, c, 0], l_sign[r, c, 0]
                term = Signal(signed(term_bits), name=f"t_term_{r}_{c}", reset_less=True)
                neg = Signal(name=f"t_sign_{r}_{c}", reset_less=True)
                m.d.sync += [term.eq((entry << l_shift) ^ sign.replicate(term_bits)),
                             neg.eq(sign)]
                t_term[r, c], t_sign[r, c] = term, neg

        # -- accumulate (wraps modulo 2^sum_bits) ------------------------------------------
        # A clearing step zeroes the accumulators one cycle ahead, as it enters the signed
        # shift stage (a synchronous reset of the accumulator flip-flops, registered here with
        # the domain reset), and then adds its term to 0: the adder needs no clear gating.
        # Whatever the step ahead of it adds in that cycle is discarded, as a clear asks; a
        # finalize has read the accumulators before any later step is accepted.
        zero = Signal(reset_less=True)
        m.d.sync += zero.eq(ResetSignal("sync") | (valid & clear))
        for (r, c), term in t_term.items():
            acc = core.acc[r][c]
            # {acc, 1} + {term, sign}: bit 0 carries the sign into bit 1, so the sum's upper
            # bits are acc + term + sign, one adder.
            total = Cat(Const(1, 1), acc) + Cat(t_sign[r, c], _widen(term, sb))
            with m.If(zero):
                m.d.sync += acc.eq(0)
            with m.Elif(t_valid):
                m.d.sync += acc.eq(total[1:sb + 1])

        # -- row sums: -H_r[0] = sum of the group's activations, bit-serial plane 0 only ----
        if self.rowsum:
            take = ~is_elut & ~unsupported & ~plane.any()
            for r in range(mrows):
                first = _tree([-tables[r * lookups + l][0] for l in range(lookups)])
                l_term = Signal(signed(min(len(first), sb)), name=f"l_rowterm_{r}",
                                reset_less=True)
                t_term_r = Signal.like(l_term, name=f"t_rowterm_{r}")
                m.d.sync += [l_term.eq(Mux(take, first, 0)), t_term_r.eq(l_term)]
                rs = core.rowsum[r]
                with m.If(zero):
                    m.d.sync += rs.eq(0)
                with m.Elif(t_valid):
                    m.d.sync += rs.eq(rs + t_term_r)
        return m


def decode_code(code, geo: TableGeometry, is_elut, symmetrize: bool):
    """``(index, sign)`` of a weight code as a unit reads it (architecture "Buffers"): the
    mode's index field in the low bits, the sign in bit ``code_bits - 1``; full
    (unsymmetrized) bit-serial codes have no sign, ELUT codes always do."""
    bs_index = code[:geo.bitserial_index_bits]
    index = Mux(is_elut, code[:geo.elut_index_bits], bs_index) if geo.has_elut else bs_index
    sign_bit = geo.code_bits - 1
    if symmetrize:
        sign = code[sign_bit]
    elif geo.has_elut:
        sign = is_elut & code[sign_bit]
    else:
        sign = Const(0)
    return index, sign


def _widen(value, width: int):
    """Sign-extend a signed value to ``width`` bits (wiring only)."""
    return Cat(value, value[-1].replicate(width - len(value)))


def _tree(terms):
    """Sum of signed values as a balanced adder tree (full width)."""
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[::2], terms[1::2])] + terms[len(terms) & ~1:]
    return terms[0]



def _any(signals):
    return Cat(*signals).any()
