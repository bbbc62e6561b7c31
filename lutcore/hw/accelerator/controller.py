"""The instruction controller: fetch from the instruction buffer, the instruction and decode
registers (the decode logic is :mod:`.decode`), and the in-order execute stage that reads the
buffers through the read path and feeds the table precompute unit (PRECOMP), the LUT core
(LMMA, STORE) and the table and output buffers."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...spec import isa
from ...spec import numerics as nx
from ...spec.config import CoreConfig
from ...spec.isa import ErrorCode, Mode, Opcode
from ..lut_core import LutCore
from ..memory import BufferReadSignature, BufferWriteSignature
from ..table_precompute import TablePrecompute
from .decode import Validate, ValidateWeights, steps_bits
from .signatures import OperandSignature, RunSignature

__all__ = ["Controller", "START_CYCLES", "ISSUE_CYCLES", "READ_CYCLES", "STORE_OFFER_CYCLES"]

# Cycles the controller implements (checked against isa.TIMING when a top is built):
START_CYCLES = 4          # instruction read, instruction register, two decode registers
ISSUE_CYCLES = 1          # one execute-stage cycle for NOP, HALT and a faulting instruction
READ_CYCLES = 2           # buffer read port, then the read register in front of a block
STORE_OFFER_CYCLES = 1    # the finalize request is offered from a register


class Controller(wiring.Component):
    """Fetch, decode and execute (docs/architecture.md, "Controller"; docs/rtl.md).

    A four-stage pipeline (instruction-buffer read, instruction register, two decode
    registers) runs ahead of an in-order execute stage; one instruction executes at a time and
    finishes completely (its last table word, step or output row) before the next loads, so
    no hazard checks are needed. ``run.start`` restarts at pc 0; HALT or a faulting instruction
    in execute is ``run.stop`` (with its ``run.fault``). The fetch after the last instruction
    reads the pc == instr_depth marker, which decodes to PC_RANGE.

    - PRECOMP reads one activation word per cycle; two cycles later (read port, read register)
      it is offered to ``activations``; every word of ``tables`` is written to the table
      buffer;
    - LMMA reads one table and one weight word per cycle (planes outer, groups inner; with
      FP activations groups outer, planes inner) and offers each pair as a ``steps``
      payload two cycles later (``clear`` on the first);
    - STORE offers ``finalize`` from a register one cycle after issue and writes every beat of
      ``rows`` to the output buffer.

    The read pipeline never stalls: the blocks are always ready for it (the LUT core refuses
    steps only while it finalizes, which a STORE finishes before the next instruction). A word
    refused all the same is ``run.overrun`` (INTERNAL).

    Parameters
    ----------
    config : CoreConfig
    precompute, core : TablePrecompute, LutCore (or their FP counterparts)
        The blocks the controller feeds (their stream signatures).

    Members
    -------
    run : ``In(RunSignature(config))``
    instr : ``Out(BufferReadSignature)``
        The instruction buffer's read port.
    operands : ``Out(OperandSignature(config))``
        Activation, table and weight reads through the read path.
    table_write, out_write : ``Out(BufferWriteSignature)``
        The table and output buffers' write ports.
    activations, tables : to and from :class:`~lutcore.hw.table_precompute.TablePrecompute`.
    steps, finalize, rows : to and from :class:`~lutcore.hw.lut_core.LutCore`.
    """

    def __init__(self, config: CoreConfig, precompute: TablePrecompute, core: LutCore):
        self._config = config
        self.plane_bits = core.plane_bits

        def towards(block, name):
            """The member ``name`` of ``block``'s signature, seen from the controller."""
            member = block.signature.members[name]
            return member.flip()

        super().__init__({
            "run": In(RunSignature(config)),
            "instr": Out(BufferReadSignature(isa.INSTR_BITS, config.instr_depth)),
            "operands": Out(OperandSignature(config)),
            "table_write": Out(BufferWriteSignature(config.table_word_bits,
                                                    config.table_depth)),
            "out_write": Out(BufferWriteSignature(config.out_beat_bits,
                                                  config.out_depth * config.out_beats)),
            **{name: towards(precompute, name) for name in ("activations", "tables")},
            **{name: towards(core, name) for name in ("steps", "finalize", "rows")},
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        beats = cfg.out_beats
        run = self.run
        busy, start = run.busy, run.start
        pc_shape = range(cfg.instr_depth + 1)        # pc == instr_depth: ran off the end

        # -- fetch: read, instruction register, two decode registers ---------------------
        fetch_pc = Signal(pc_shape)
        fetch_end = Signal()                  # the pc == instr_depth marker has been issued
        f_valid, f_pc = Signal(), Signal(pc_shape)
        w_valid, w_pc = Signal(), Signal(pc_shape)
        w_word = Signal(isa.INSTR_BITS)
        d_valid, d_pc = Signal(), Signal(pc_shape)
        d_word = Signal(isa.INSTR_BITS)
        d_early = Signal(ErrorCode)
        d_steps = Signal(steps_bits(cfg))

        cur_valid = Signal()
        cur_pc = Signal(pc_shape)
        cur_op = Signal(Opcode)
        cur_fault = Signal(ErrorCode)
        cur_mode = Signal(Mode)
        cur_c = Signal(isa.STORE_LAYOUT["c"].shape)
        cur_table = Signal(range(cfg.table_depth))
        cur_count_m1 = Signal(range(cfg.table_depth))

        x_done = Signal()                     # the instruction in execute finishes this cycle
        stop = run.stop                       # ... and it is HALT or a fault
        cur_load = busy & (~cur_valid | x_done) & ~stop
        d_move = ~d_valid | cur_load
        w_move = ~w_valid | d_move
        f_move = ~f_valid | w_move

        m.d.comb += [
            self.instr.addr.eq(fetch_pc),     # truncated; the end marker reads nothing useful
            self.instr.en.eq(busy & f_move),
            run.pc.eq(cur_pc),
            run.fault.eq(cur_fault),
        ]
        at_end = fetch_pc == cfg.instr_depth
        with m.If(busy & f_move):
            m.d.sync += [f_valid.eq(~fetch_end), f_pc.eq(fetch_pc)]
            with m.If(~fetch_end & at_end):
                m.d.sync += fetch_end.eq(1)
            with m.If(~fetch_end & ~at_end):
                m.d.sync += fetch_pc.eq(fetch_pc + 1)
        with m.If(busy & w_move):
            m.d.sync += [w_valid.eq(f_valid), w_word.eq(self.instr.data), w_pc.eq(f_pc)]

        m.submodules.validate = early = Validate(cfg)
        m.d.comb += [early.word.eq(w_word), early.past_end.eq(w_pc == cfg.instr_depth)]
        with m.If(busy & d_move):
            m.d.sync += [d_valid.eq(w_valid), d_word.eq(w_word), d_pc.eq(w_pc),
                         d_early.eq(early.fault), d_steps.eq(early.steps)]
        m.submodules.validate_weights = late = ValidateWeights(cfg)
        m.d.comb += [late.word.eq(d_word), late.early.eq(d_early), late.steps.eq(d_steps)]
        dec = data.View(isa.INSTRUCTION_LAYOUT, d_word)
        dec_fault = late.fault
        dec_count = dec.precomp.count

        # -- execute -----------------------------------------------------------------------
        ok = cur_valid & ~cur_fault.as_value().any()
        run_pre = ok & (cur_op == Opcode.PRECOMP)
        run_lmma = ok & (cur_op == Opcode.LMMA)
        run_store = ok & (cur_op == Opcode.STORE)
        m.d.comb += stop.eq(cur_valid & (cur_fault.as_value().any() | (cur_op == Opcode.HALT)))

        step_bits = nx.unsigned_bits(max(cfg.act_depth, cfg.weight_depth) - 1)
        issuing = Signal()                    # read steps remain to be issued
        left = Signal(step_bits)              # steps to issue after the current one
        first = Signal()                      # first execute cycle of the instruction
        clear_next = Signal()                 # LMMA clear: rides on the first step
        j_left = Signal(range(cfg.table_depth))
        plane = Signal(self.plane_bits)
        a_ptr = Signal(range(cfg.act_depth))
        t_ptr = Signal(range(cfg.table_depth))
        w_ptr = Signal(range(cfg.weight_depth))
        w_row = Signal(range(cfg.weight_depth))     # FP: weight word of the group's plane 0
        cur_planes_m1 = Signal(self.plane_bits)
        tw_ptr = Signal(range(cfg.table_depth))
        tw_left = Signal(range(cfg.table_depth))
        o_ptr = Signal(range(cfg.out_depth * beats))
        fin_valid = Signal()

        # Read pipeline shared by PRECOMP and LMMA: issue (port address) -> r (port data) ->
        # s (read register in the read path, offered to the block). It never stalls.
        r_valid, r_last, r_clear, r_plane = Signal(), Signal(), Signal(), Signal(self.plane_bits)
        s_valid, s_last, s_clear, s_plane = Signal(), Signal(), Signal(), Signal(self.plane_bits)
        ops = self.operands
        sink_ready = Mux(cur_op == Opcode.LMMA, self.steps.ready, self.activations.ready)
        m.d.comb += [
            run.overrun.eq(s_valid & ~sink_ready),
            ops.act_addr.eq(a_ptr), ops.table_addr.eq(t_ptr), ops.weight_addr.eq(w_ptr),
        ]
        m.d.sync += [
            r_valid.eq(issuing), r_last.eq(~left.any()), r_clear.eq(clear_next),
            r_plane.eq(plane),
            s_valid.eq(r_valid), s_last.eq(r_last), s_clear.eq(r_clear), s_plane.eq(r_plane),
        ]
        with m.If(issuing):
            m.d.sync += [
                left.eq(left - 1),
                clear_next.eq(0),
                a_ptr.eq(a_ptr + 1),
                w_ptr.eq(w_ptr + 1),
            ]
            with m.If(~left.any()):
                m.d.sync += issuing.eq(0)
            if not cfg.is_fp:
                # LMMA: groups inner, planes outer; the table address restarts every plane.
                plane_end = ~j_left.any()
                m.d.sync += [
                    t_ptr.eq(Mux(plane_end, cur_table, t_ptr + 1)),
                    j_left.eq(Mux(plane_end, cur_count_m1, j_left - 1)),
                    plane.eq(Mux(plane_end, plane + 1, plane)),
                ]
            else:
                # FP: planes inner, groups outer (the FP contract's order); the weight
                # address steps by count through the planes of a group, then returns to the
                # next group's plane 0.
                step_end = plane == cur_planes_m1
                m.d.sync += [
                    t_ptr.eq(Mux(step_end, t_ptr + 1, t_ptr)),
                    w_row.eq(Mux(step_end, w_row + 1, w_row)),
                    w_ptr.eq(Mux(step_end, w_row + 1, w_ptr + cur_count_m1 + 1)),
                    plane.eq(Mux(step_end, 0, plane + 1)),
                ]
        with m.If(cur_valid):
            m.d.sync += first.eq(0)

        # PRECOMP: activation words into the table unit, tables into the table buffer.
        m.d.comb += [
            self.activations.valid.eq(s_valid & run_pre),
            self.activations.payload.word.eq(ops.act),
            self.activations.payload.mode.eq(cur_mode),
        ]
        _store_words(m, self.tables, self.table_write, tw_ptr)
        with m.If(self.tables.valid):
            m.d.sync += tw_left.eq(tw_left - 1)

        # LMMA: table and weight words into the LUT core as steps.
        m.d.comb += [
            self.steps.valid.eq(s_valid & run_lmma),
            self.steps.payload.tables.eq(ops.table),
            self.steps.payload.codes.eq(ops.weight),
            self.steps.payload.plane.eq(s_plane),
            self.steps.payload.mode.eq(cur_mode),
            self.steps.payload.clear.eq(s_clear),
        ]

        # STORE: the finalize request from a register one cycle after issue, then the beats
        # into the output buffer.
        with m.If(run_store & first):
            m.d.sync += fin_valid.eq(1)
        with m.If(self.finalize.valid & self.finalize.ready):
            m.d.sync += fin_valid.eq(0)
        m.d.comb += [
            self.finalize.valid.eq(fin_valid),
            self.finalize.payload.correction.eq(cur_c),
        ]
        _store_words(m, self.rows, self.out_write, o_ptr)

        m.d.comb += x_done.eq(
            Mux(cur_op == Opcode.PRECOMP, run_pre & self.tables.valid & ~tw_left.any(),
            Mux(cur_op == Opcode.LMMA, run_lmma & self.steps.valid & self.steps.ready & s_last,
            Mux(cur_op == Opcode.STORE, run_store & self.rows.valid & self.rows.payload.last,
                cur_valid))))

        # Load the next instruction (last, so that its set-up wins over the updates above).
        with m.If(cur_load):
            m.d.sync += [
                cur_valid.eq(d_valid),
                cur_pc.eq(d_pc),
                cur_op.eq(dec.opcode),
                cur_fault.eq(dec_fault),
                cur_mode.eq(dec.precomp.mode),
                cur_c.eq(dec.store.c),
                cur_table.eq(dec.precomp.table_addr),
                cur_count_m1.eq(dec_count - 1),
                first.eq(1),
                clear_next.eq(dec.lmma.clear),
                issuing.eq(d_valid & ~dec_fault.as_value().any()
                           & ((dec.opcode == Opcode.PRECOMP) | (dec.opcode == Opcode.LMMA))),
                left.eq(Mux(dec.opcode == Opcode.LMMA, d_steps, dec_count) - 1),
                j_left.eq(dec_count - 1),
                plane.eq(0),
                a_ptr.eq(dec.precomp.act_addr),
                t_ptr.eq(dec.precomp.table_addr),
                w_ptr.eq(dec.lmma.weight_addr),
                w_row.eq(dec.lmma.weight_addr),
                cur_planes_m1.eq(dec.lmma.planes - 1),
                tw_ptr.eq(dec.precomp.table_addr),
                tw_left.eq(dec_count - 1),
                o_ptr.eq(dec.store.out_addr * beats if beats > 1 else dec.store.out_addr),
            ]

        with m.If(start):
            m.d.sync += [cur_pc.eq(0), fetch_pc.eq(0), fetch_end.eq(0),
                         f_valid.eq(0), w_valid.eq(0), d_valid.eq(0), cur_valid.eq(0)]
        with m.If(stop):
            m.d.sync += [f_valid.eq(0), w_valid.eq(0), d_valid.eq(0), cur_valid.eq(0),
                         fetch_end.eq(0)]
        return m


def _store_words(m: Module, words, port, ptr):
    """Every ``word`` of the stream ``words`` (always ready) into the buffer write ``port`` at
    ``ptr``, which then advances."""
    m.d.comb += [
        words.ready.eq(1),
        port.addr.eq(ptr),
        port.data.eq(words.payload.word),
        port.en.eq(words.valid),
    ]
    with m.If(words.valid):
        m.d.sync += ptr.eq(ptr + 1)
