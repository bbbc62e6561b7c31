"""The accelerator top: host port, on-chip buffers, instruction controller, table precompute
unit and LUT core (docs/architecture.md).

::

    host port ─► request decode ─┬─► CSRs (ID, CTRL, STATUS, CYCLES, PC)
                                 ├─► sub-word staging ─► instruction / activation / weight buffer
                                 └─► buffer read ─► sub-word select ─► response register
    fetch (instruction buffer) ─► instruction register ─► decode + validate ─► execute
    PRECOMP: activation buffer ─► read register ─► TablePrecompute ─► table buffer
    LMMA:    table + weight buffer ─► read register ─► LutCore steps
    STORE:   LutCore finalize ─► rows ─► output buffer
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..errors import LutcoreError
from ..spec import isa
from ..spec import numerics as nx
from ..spec.config import CoreConfig
from ..spec.isa import Csr, ErrorCode, Mode, Opcode, Region
from .hostport import HostPortSignature
from .lut_core import LutCore
from .memory import BufferMemory
from .table_precompute import TablePrecompute

__all__ = ["Accelerator", "Top"]

# Cycles the controller implements (checked against isa.TIMING when a top is built):
START_CYCLES = 4          # instruction read, instruction register, two decode registers
ISSUE_CYCLES = 1          # one execute-stage cycle for NOP, HALT and a faulting instruction
READ_CYCLES = 2           # buffer read port, then the read register in front of a block
STORE_OFFER_CYCLES = 1    # the finalize request is offered from a register


class _RequestRegister(wiring.Component):
    """A register slice in front of the host port's request stream: ``valid`` and
    ``payload`` come from flip-flops; the upstream ``ready`` is ``~valid | ready``, so a
    request held by backpressure stays put and the slice takes one request per cycle."""

    def __init__(self, upstream):
        self._upstream = upstream
        super().__init__({"valid": Out(1), "ready": In(1),
                          "payload": Out(upstream.payload.shape())})

    def elaborate(self, platform):
        m = Module()
        up = self._upstream
        m.d.comb += up.ready.eq(~self.valid | self.ready)
        with m.If(up.ready):
            m.d.sync += [self.valid.eq(up.valid), self.payload.eq(up.payload)]
        return m


def _equals(value, k: int):
    """``value == k``, written for zero as a NOR reduction (the Verilog backend would turn
    ``x == 0`` into a logical not of a vector, which Verilator -Wall flags)."""
    value = Value.cast(value)
    return ~value.any() if k == 0 else value == k


def _nonzero(value):
    return Value.cast(value).any()


# Where a host read's response comes from.
_SRC_ZERO, _SRC_CSR, _SRC_ACT, _SRC_TABLE, _SRC_WEIGHT, _SRC_OUT = range(6)


class Accelerator(wiring.Component):
    """The LUT tensor core accelerator of one :class:`~lutcore.spec.config.CoreConfig`.

    The host loads the instruction, activation and weight buffers through the host port,
    writes CTRL.start, waits for STATUS.done (or the :attr:`done` output) and reads the output
    buffer. Semantics, word layouts and the memory map are those of docs/architecture.md;
    cycle counts equal :func:`lutcore.spec.isa.phase_cycles` exactly.

    Controller: a four-stage instruction pipeline (instruction-buffer read, instruction
    register, two decode registers) runs ahead of an in-order execute stage, so the next
    instruction is fetched, decoded and validated (the rules of :func:`lutcore.spec.isa.validate`,
    same error codes and priority) while the current one executes, and a start pays the
    fetch only once (``TIMING.START``). One instruction executes at a time and finishes
    completely (its last table word, step or output row) before the next starts, so no
    hazard checks are needed:

    - PRECOMP issues one activation-buffer read per cycle; each word goes through a read
      register into the :class:`~lutcore.hw.table_precompute.TablePrecompute` unit, whose
      tables are written to the table buffer as they come out;
    - LMMA issues one table and one weight-buffer read per cycle (planes outer, groups
      inner); each pair goes through a read register into the
      :class:`~lutcore.hw.lut_core.LutCore` as one step;
    - STORE offers the finalize request from a register one cycle after issue, then writes
      the m rows to the output buffer as the core emits them.

    Every buffer is a :class:`~lutcore.hw.memory.BufferMemory` (memories split by width into
    block-RAM slices) with a synchronous (registered) read port, followed by a read register
    where its data enters a block. The activation,
    table and weight buffers have one read port each, shared between the controller (while
    busy) and host reads (while idle): a host read of those buffers waits while the core is
    busy. The output buffer has its own host read port.

    Host port: requests are decoded from their address (region ``addr[31:28]``, buffer word
    and sub-word). Writes are accepted every cycle; sub-words below the last are staged per
    buffer and the last one commits the word. Requests enter through a register; reads answer
    four cycles after the port accepts them, one
    in flight at a time; backpressure on ``resp`` holds the response. Faults follow the
    memory map: a write of a buffer while busy sets BUSY_WRITE and is dropped; an unmapped
    address, a write of a read-only or a read of a write-only location sets HOST_ADDR (writes
    dropped, reads return 0). The first error is kept until CTRL.clear or the next start;
    host faults neither stop nor restart the controller.

    Parameters
    ----------
    config : CoreConfig

    Members
    -------
    host : ``In(HostPortSignature(config.host_bits))``
        The host port.
    busy, done, error : ``Out(1)``
        STATUS.busy, STATUS.done and STATUS.error, for LEDs, interrupts and test benches.

    Raises
    ------
    TypeError
        ``config`` is not a :class:`CoreConfig`.
    LutcoreError
        The configuration cannot be built (a region does not fit the host address space) or
        the timing contract in :data:`lutcore.spec.isa.TIMING` differs from this controller.
    """

    def __init__(self, config: CoreConfig):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"Accelerator: config must be a CoreConfig, not {config!r}")
        self._config = config
        for region in (Region.INSTR, Region.ACT, Region.TABLE, Region.WEIGHT, Region.OUTPUT):
            bits = isa.region_word_bits(region, config)
            span = isa.region_depth(region, config) << isa.sub_bits(bits, config.host_bits)
            if span > 1 << isa.REGION_SHIFT:
                raise LutcoreError(f"Accelerator: region {region.name} of config "
                                   f"'{config.name}' needs {span} host addresses: at most "
                                   f"{1 << isa.REGION_SHIFT}")
        timing = isa.TIMING
        table_latency = TablePrecompute.latency_of(config.g, config.elut_g, config.symmetrize,
                                                   timing.TABLE_STAGE_LEVELS)
        step_latency, finalize_latency = LutCore.latencies_of(config.n)
        built = (START_CYCLES, ISSUE_CYCLES, READ_CYCLES, READ_CYCLES, step_latency,
                 STORE_OFFER_CYCLES + finalize_latency, table_latency)
        contract = (timing.START, timing.ISSUE, timing.PRECOMP_READ, timing.LMMA_LATENCY,
                    timing.step_latency(config), timing.store_latency(config),
                    timing.table_latency(config))
        if built != contract:
            raise LutcoreError(f"Accelerator: the controller's timing (START, ISSUE, "
                               f"PRECOMP_READ, LMMA_LATENCY, step latency, store latency, table "
                               f"latency) = {built} differs from isa.TIMING {contract}")
        super().__init__({
            "host": In(HostPortSignature(config.host_bits)),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(1),
        })

    @classmethod
    def from_config(cls, config: CoreConfig) -> "Accelerator":
        return cls(config)

    @property
    def config(self) -> CoreConfig:
        return self._config

    @property
    def cycles_bits(self) -> int:
        """Width of the cycle counter: the two host words CYCLES_LO and CYCLES_HI, at most
        64 bits (with a 64-bit host port CYCLES_HI reads 0). It wraps."""
        return min(2 * self._config.host_bits, 64)

    # -- gateware -------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        hb = cfg.host_bits
        timing = isa.TIMING

        m.submodules.precompute = pre = TablePrecompute.from_config(
            cfg, stage_levels=timing.TABLE_STAGE_LEVELS)
        m.submodules.core = core = LutCore.from_config(cfg)

        def memory(name, bits, depth):
            mem = BufferMemory(name, bits, depth)
            m.submodules[name] = mem
            return mem

        def region_memory(name, region):
            return memory(name, isa.region_word_bits(region, cfg), isa.region_depth(region, cfg))

        instr_mem = region_memory("instr_mem", Region.INSTR)
        act_mem = region_memory("act_mem", Region.ACT)
        table_mem = region_memory("table_mem", Region.TABLE)
        weight_mem = region_memory("weight_mem", Region.WEIGHT)
        # The output buffer holds each row as out_beats beats (the core's output beats); the
        # host still addresses one word per row, its sub-words split into beat and sub-word.
        beats = cfg.out_beats
        out_mem = memory("out_mem", cfg.out_beat_bits, cfg.out_depth * beats)
        instr_w, instr_r = instr_mem.write, instr_mem.read
        act_w, act_r = act_mem.write, act_mem.read
        table_w, table_r = table_mem.write, table_mem.read
        weight_w, weight_r = weight_mem.write, weight_mem.read
        out_w, out_r = out_mem.write, out_mem.read

        # -- status and CSRs ----------------------------------------------------------------
        busy = Signal()
        done = Signal()
        error_code = Signal(ErrorCode)
        cycles = Signal(self.cycles_bits)
        pc_shape = range(cfg.instr_depth + 1)        # pc == instr_depth: ran off the end
        cur_pc = Signal(pc_shape)
        error = _nonzero(error_code)
        m.d.comb += [self.busy.eq(busy), self.done.eq(done), self.error.eq(error)]
        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)

        status = Signal(isa.STATUS_LAYOUT)
        m.d.comb += [status.busy.eq(busy), status.done.eq(done), status.error.eq(error),
                     status.error_code.eq(error_code)]

        # -- host requests: address decode ------------------------------------------------------
        # Requests pass a register first (the host port's source is another block: no logic
        # of it reaches the address decode, the buffers' write ports or the CSRs).
        resp = self.host.resp
        req = _RequestRegister(self.host.req)
        m.submodules.req_register = req
        addr = req.payload.addr
        region = addr[isa.REGION_SHIFT:]
        offset = addr[:isa.REGION_SHIFT]

        class Target:
            """Address decode of one buffer region for the current request."""
            def __init__(self, reg):
                bits = isa.region_word_bits(reg, cfg)
                depth = isa.region_depth(reg, cfg)
                self.bits = bits
                self.subs = isa.sub_words(bits, hb)
                self.sub_bits = isa.sub_bits(bits, hb)
                word_bits = nx.unsigned_bits(depth - 1)
                self.hit = _equals(region, reg.value)
                self.sub = offset[:self.sub_bits]
                self.word = offset[self.sub_bits:self.sub_bits + word_bits]
                above = offset[self.sub_bits + word_bits:]
                # Words past the depth and sub-words past the last are unmapped.
                self.mapped = ~_nonzero(above) & (self.sub < self.subs
                                                  if self.subs < 2 ** self.sub_bits else Const(1))
                self.last = self.sub == self.subs - 1 if self.sub_bits else Const(1)

        t_instr, t_act, t_table, t_weight, t_out = (
            Target(r) for r in (Region.INSTR, Region.ACT, Region.TABLE, Region.WEIGHT,
                                Region.OUTPUT))
        is_csr = _equals(region, Region.CSR.value)

        # Reads: one in flight (h1, the buffer read cycle; h2, the read register behind the
        # block RAM), then the response register. No logic sits between a block RAM's data
        # and a flip-flop.
        h1_valid, h2_valid = Signal(), Signal()
        h1_source, h2_source = Signal(range(6)), Signal(range(6))
        h1_sub = Signal(max(1, max(t.sub_bits for t in (t_act, t_table, t_weight, t_out))))
        h2_sub = Signal.like(h1_sub)
        h1_csr, h2_csr = Signal(hb), Signal(hb)
        # The response register must be empty when a read is accepted (not merely being
        # emptied in the same cycle): the host port's ready then reaches no buffer enable.
        read_slot = ~h1_valid & ~h2_valid & ~resp.valid
        # The activation, table and weight buffers' read ports belong to the controller
        # while it runs; a host read of them waits (it cannot hang: every run ends).
        shared_hit = t_act.hit | t_table.hit | t_weight.hit
        m.d.comb += req.ready.eq(req.payload.write | (read_slot & ~(busy & shared_hit)))
        accept = req.valid & req.ready
        write = accept & req.payload.write
        read = accept & ~req.payload.write

        # -- host writes ------------------------------------------------------------------------
        host_fault = Signal(ErrorCode)               # a host-port fault in this cycle
        ctrl = data.View(isa.CTRL_LAYOUT, req.payload.data[:isa.CTRL_LAYOUT.size])
        ctrl_write = write & is_csr & _equals(offset, Csr.CTRL)
        start = Signal()
        m.d.comb += start.eq(ctrl_write & ctrl.start & ~busy)

        writable = [(t_instr, instr_w), (t_act, act_w), (t_weight, weight_w)]
        for (target, port), name in zip(writable, ("instr", "act", "weight")):
            hit = write & target.hit & target.mapped
            commit = hit & target.last
            if target.subs > 1:
                # Sub-words 0..subs-2 wait here; the last one commits the whole word.
                staging = Signal((target.subs - 1) * hb, name=f"staging_{name}")
                for i in range(target.subs - 1):
                    with m.If(hit & ~busy & _equals(target.sub, i)):
                        m.d.sync += staging[i * hb:(i + 1) * hb].eq(req.payload.data)
                word = Cat(staging, req.payload.data)[:target.bits]
            else:
                word = req.payload.data[:target.bits]
            m.d.comb += [
                port.addr.eq(target.word),
                port.data.eq(word),
                port.en.eq(commit & ~busy),
            ]
        buffer_write = write & (t_instr.hit | t_act.hit | t_weight.hit)
        buffer_write_ok = (t_instr.hit & t_instr.mapped) | (t_act.hit & t_act.mapped) \
            | (t_weight.hit & t_weight.mapped)
        write_fault = Mux(ctrl_write, ErrorCode.NONE.value,
                          Mux(buffer_write & buffer_write_ok,
                              Mux(busy, ErrorCode.BUSY_WRITE.value, ErrorCode.NONE.value),
                              ErrorCode.HOST_ADDR.value))

        # -- host reads -------------------------------------------------------------------------
        csr_value = Signal(hb)
        csr_ok = Signal()
        readable_csrs = {
            Csr.ID: Const(isa.ID_VALUE & ((1 << hb) - 1), hb),
            Csr.STATUS: status.as_value(),
            Csr.CYCLES_LO: cycles[:hb],
            Csr.CYCLES_HI: cycles[hb:],
            Csr.PC: cur_pc,
        }
        for csr, value in readable_csrs.items():
            with m.If(is_csr & _equals(offset, csr)):
                m.d.comb += [csr_value.eq(value), csr_ok.eq(1)]
        readable = [(t_act, _SRC_ACT), (t_table, _SRC_TABLE), (t_weight, _SRC_WEIGHT),
                    (t_out, _SRC_OUT)]
        source = Signal(range(6))
        sub = Signal.like(h1_sub)
        with m.If(csr_ok):
            m.d.comb += source.eq(_SRC_CSR)
        for target, code in readable:
            with m.If(target.hit & target.mapped):
                m.d.comb += [source.eq(code), sub.eq(target.sub)]
        read_fault = Mux(_nonzero(source), ErrorCode.NONE.value, ErrorCode.HOST_ADDR.value)
        m.d.comb += host_fault.as_value().eq(
            Mux(write, write_fault, Mux(read, read_fault, ErrorCode.NONE.value)))

        m.d.sync += [h1_valid.eq(read), h2_valid.eq(h1_valid)]
        with m.If(read):
            m.d.sync += [h1_source.eq(source), h1_sub.eq(sub), h1_csr.eq(csr_value)]
        m.d.sync += [h2_source.eq(h1_source), h2_sub.eq(h1_sub), h2_csr.eq(h1_csr)]
        host_read = {code: read & (source == code) for _, code in readable}

        def sub_word(value, subs, bits):
            """Sub-word ``h2_sub`` of a buffer word (a case over the sub-words, 0 past them)."""
            padded = Cat(value, Const(0, subs * hb - bits))
            words = [padded[i * hb:(i + 1) * hb] for i in range(subs)]
            if subs == 1:
                return words[0]
            sel_bits = isa.sub_bits(bits, hb)
            words += [Const(0, hb)] * (2 ** sel_bits - subs)
            return Array(words)[h2_sub[:sel_bits]]

        # The h2 read registers: the controller's read registers s_act, s_table and s_weight
        # (they take their port's data every cycle, and a host read of those buffers is only
        # accepted while the controller is idle), and one for the output buffer.
        out_beat_subs = isa.sub_words(cfg.out_beat_bits, hb)
        beat_sel_bits = isa.sub_bits(cfg.out_beat_bits, hb)
        o_rd = Signal(cfg.out_beat_bits)
        with m.If(h1_valid & _equals(h1_source, _SRC_OUT)):
            m.d.sync += o_rd.eq(out_r.data)
        s_act = Signal(act_r.data.shape())
        s_table = Signal(table_r.data.shape())
        s_weight = Signal(weight_r.data.shape())
        read_regs = {_SRC_ACT: (s_act, t_act.subs, t_act.bits),
                     _SRC_TABLE: (s_table, t_table.subs, t_table.bits),
                     _SRC_WEIGHT: (s_weight, t_weight.subs, t_weight.bits),
                     _SRC_OUT: (o_rd, out_beat_subs, cfg.out_beat_bits)}
        read_data = Signal(hb)
        with m.If(_equals(h2_source, _SRC_CSR)):
            m.d.comb += read_data.eq(h2_csr)
        for code, (reg, subs, bits) in read_regs.items():
            with m.If(_equals(h2_source, code)):
                m.d.comb += read_data.eq(sub_word(reg, subs, bits))
        with m.If(resp.ready):
            m.d.sync += resp.valid.eq(0)
        with m.If(h2_valid):            # never while a response waits (read_slot)
            m.d.sync += [resp.valid.eq(1), resp.payload.eq(read_data)]
        # Output buffer: host word w, sub-word s is beat w * out_beats + s // out_beat_subs.
        if beats > 1:
            out_host_addr = t_out.word * beats + t_out.sub[beat_sel_bits:]
        else:
            out_host_addr = t_out.word
        m.d.comb += [
            out_r.addr.eq(out_host_addr),
            out_r.en.eq(host_read[_SRC_OUT]),
        ]

        # -- instruction fetch: read, register, decode (runs ahead of execute) ---------------
        fetch_pc = Signal(pc_shape)
        fetch_end = Signal()                  # the pc == instr_depth marker has been issued
        f_valid, f_pc = Signal(), Signal(pc_shape)
        w_valid, w_pc = Signal(), Signal(pc_shape)
        w_word = Signal(isa.INSTR_BITS)
        d_valid, d_pc = Signal(), Signal(pc_shape)
        d_word = Signal(isa.INSTR_BITS)
        d_early = Signal(ErrorCode)
        d_steps = Signal(isa.COUNT_BITS + nx.unsigned_bits(cfg.weight_bits))

        cur_valid = Signal()
        cur_op = Signal(Opcode)
        cur_fault = Signal(ErrorCode)
        cur_mode = Signal(Mode)
        cur_c = Signal(isa.STORE_LAYOUT["c"].shape)
        cur_table = Signal(range(cfg.table_depth))
        cur_count_m1 = Signal(range(cfg.table_depth))

        x_done = Signal()                     # the instruction in execute finishes this cycle
        stop = Signal()                       # ... and it is HALT or a fault
        cur_load = busy & (~cur_valid | x_done) & ~stop
        d_move = ~d_valid | cur_load
        w_move = ~w_valid | d_move
        f_move = ~f_valid | w_move

        m.d.comb += [
            instr_r.addr.eq(fetch_pc),        # truncated; the end marker reads nothing useful
            instr_r.en.eq(busy & f_move),
        ]
        at_end = fetch_pc == cfg.instr_depth
        with m.If(busy & f_move):
            m.d.sync += [f_valid.eq(~fetch_end), f_pc.eq(fetch_pc)]
            with m.If(~fetch_end & at_end):
                m.d.sync += fetch_end.eq(1)
            with m.If(~fetch_end & ~at_end):
                m.d.sync += fetch_pc.eq(fetch_pc + 1)
        with m.If(busy & w_move):
            m.d.sync += [w_valid.eq(f_valid), w_word.eq(instr_r.data), w_pc.eq(f_pc)]

        early_fault, early_steps = self._decode_early(m, w_word, w_pc == cfg.instr_depth)
        with m.If(busy & d_move):
            m.d.sync += [d_valid.eq(w_valid), d_word.eq(w_word), d_pc.eq(w_pc),
                         d_early.eq(early_fault), d_steps.eq(early_steps)]
        dec = self._decode_late(m, d_word, d_early, d_steps)

        # -- execute ---------------------------------------------------------------------------
        ok = cur_valid & ~_nonzero(cur_fault)
        run_pre = ok & (cur_op == Opcode.PRECOMP)
        run_lmma = ok & (cur_op == Opcode.LMMA)
        run_store = ok & (cur_op == Opcode.STORE)
        m.d.comb += stop.eq(cur_valid & (_nonzero(cur_fault) | (cur_op == Opcode.HALT)))

        step_bits = nx.unsigned_bits(max(cfg.act_depth, cfg.weight_depth) - 1)
        issuing = Signal()                    # read steps remain to be issued
        left = Signal(step_bits)              # steps to issue after the current one
        first = Signal()                      # first execute cycle of the instruction
        clear_next = Signal()                 # LMMA clear: rides on the first step
        j_left = Signal(range(cfg.table_depth))
        plane = Signal(core.plane_bits)
        a_ptr = Signal(range(cfg.act_depth))
        t_ptr = Signal(range(cfg.table_depth))
        w_ptr = Signal(range(cfg.weight_depth))
        tw_ptr = Signal(range(cfg.table_depth))
        tw_left = Signal(range(cfg.table_depth))
        o_ptr = Signal(range(cfg.out_depth * beats))
        fin_valid = Signal()

        # Read pipeline shared by PRECOMP and LMMA: issue (port address) -> r (port data) ->
        # s (read register, offered to the block). It never stalls: the blocks it feeds are
        # always ready for it (the table unit's output is never held, and the LUT core only
        # refuses steps while it finalizes, which a STORE finishes before the next
        # instruction). So no ready signal reaches the wide read registers and the block RAM
        # enables; should a block ever refuse a word, the controller records INTERNAL.
        r_valid, r_last, r_clear, r_plane = Signal(), Signal(), Signal(), Signal(core.plane_bits)
        s_valid, s_last, s_clear, s_plane = Signal(), Signal(), Signal(), Signal(core.plane_bits)
        sink_ready = Mux(cur_op == Opcode.LMMA, core.steps.ready, pre.activations.ready)
        overrun = Signal()
        m.d.comb += overrun.eq(s_valid & ~sink_ready)

        m.d.comb += [
            act_r.addr.eq(Mux(busy, a_ptr, t_act.word)),
            act_r.en.eq(busy | host_read[_SRC_ACT]),
            table_r.addr.eq(Mux(busy, t_ptr, t_table.word)),
            table_r.en.eq(busy | host_read[_SRC_TABLE]),
            weight_r.addr.eq(Mux(busy, w_ptr, t_weight.word)),
            weight_r.en.eq(busy | host_read[_SRC_WEIGHT]),
        ]
        m.d.sync += [
            r_valid.eq(issuing), r_last.eq(~left.any()), r_clear.eq(clear_next),
            r_plane.eq(plane),
            s_valid.eq(r_valid), s_last.eq(r_last), s_clear.eq(r_clear), s_plane.eq(r_plane),
            s_act.eq(act_r.data), s_table.eq(table_r.data), s_weight.eq(weight_r.data),
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
            # LMMA: groups inner, planes outer; the table address restarts every plane.
            plane_end = ~j_left.any()
            m.d.sync += [
                t_ptr.eq(Mux(plane_end, cur_table, t_ptr + 1)),
                j_left.eq(Mux(plane_end, cur_count_m1, j_left - 1)),
                plane.eq(Mux(plane_end, plane + 1, plane)),
            ]
        with m.If(cur_valid):
            m.d.sync += first.eq(0)

        # PRECOMP: activation words into the table unit, tables into the table buffer.
        m.d.comb += [
            pre.activations.valid.eq(s_valid & run_pre),
            pre.activations.payload.word.eq(s_act),
            pre.activations.payload.mode.eq(cur_mode),
            pre.tables.ready.eq(1),
            table_w.addr.eq(tw_ptr),
            table_w.data.eq(pre.tables.payload.word),
            table_w.en.eq(pre.tables.valid),
        ]
        with m.If(pre.tables.valid):
            m.d.sync += [tw_ptr.eq(tw_ptr + 1), tw_left.eq(tw_left - 1)]

        # LMMA: table and weight words into the LUT core as steps.
        m.d.comb += [
            core.steps.valid.eq(s_valid & run_lmma),
            core.steps.payload.tables.eq(s_table),
            core.steps.payload.codes.eq(s_weight),
            core.steps.payload.plane.eq(s_plane),
            core.steps.payload.mode.eq(cur_mode),
            core.steps.payload.clear.eq(s_clear),
        ]

        # STORE: the finalize request from a register one cycle after issue (the core accepts
        # it at once and waits for the steps ahead of it itself), then the beats into the
        # output buffer: m * out_beats + store latency cycles after any instruction.
        with m.If(run_store & first):
            m.d.sync += fin_valid.eq(1)
        with m.If(core.finalize.valid & core.finalize.ready):
            m.d.sync += fin_valid.eq(0)
        m.d.comb += [
            core.finalize.valid.eq(fin_valid),
            core.finalize.payload.correction.eq(cur_c),
            core.rows.ready.eq(1),
            out_w.addr.eq(o_ptr),
            out_w.data.eq(core.rows.payload.word),
            out_w.en.eq(core.rows.valid),
        ]
        with m.If(core.rows.valid):
            m.d.sync += o_ptr.eq(o_ptr + 1)

        m.d.comb += x_done.eq(
            Mux(cur_op == Opcode.PRECOMP, run_pre & pre.tables.valid & ~tw_left.any(),
            Mux(cur_op == Opcode.LMMA, run_lmma & core.steps.valid & core.steps.ready & s_last,
            Mux(cur_op == Opcode.STORE, run_store & core.rows.valid & core.rows.payload.last,
                cur_valid))))

        # Load the next instruction (last, so that its set-up wins over the updates above).
        with m.If(cur_load):
            m.d.sync += [
                cur_valid.eq(d_valid),
                cur_pc.eq(d_pc),
                cur_op.eq(dec.op),
                cur_fault.eq(dec.fault),
                cur_mode.eq(dec.mode),
                cur_c.eq(dec.c),
                cur_table.eq(dec.table_addr),
                cur_count_m1.eq(dec.count - 1),
                first.eq(1),
                clear_next.eq(dec.clear),
                issuing.eq(d_valid & ~_nonzero(dec.fault)
                           & ((dec.op == Opcode.PRECOMP) | (dec.op == Opcode.LMMA))),
                left.eq(Mux(dec.op == Opcode.LMMA, dec.steps, dec.count) - 1),
                j_left.eq(dec.count - 1),
                plane.eq(0),
                a_ptr.eq(dec.act_addr),
                t_ptr.eq(dec.table_addr),
                w_ptr.eq(dec.weight_addr),
                tw_ptr.eq(dec.table_addr),
                tw_left.eq(dec.count - 1),
                o_ptr.eq(dec.out_addr * beats if beats > 1 else dec.out_addr),
            ]

        # -- start, stop, errors ------------------------------------------------------------
        clear = ctrl_write & ctrl.clear
        with m.If(clear):
            m.d.sync += [done.eq(0), error_code.eq(ErrorCode.NONE)]
        with m.If(start):
            m.d.sync += [
                busy.eq(1), done.eq(0), error_code.eq(ErrorCode.NONE), cycles.eq(0),
                cur_pc.eq(0), fetch_pc.eq(0), fetch_end.eq(0),
                f_valid.eq(0), w_valid.eq(0), d_valid.eq(0), cur_valid.eq(0),
            ]
        # The first error is kept: a host fault or a program fault records its code only when
        # none is recorded (a program fault in the same cycle as a host fault wins).
        with m.If(_nonzero(host_fault) & ~error):
            m.d.sync += error_code.eq(host_fault)
        with m.If(overrun & ~error):
            m.d.sync += error_code.eq(ErrorCode.INTERNAL)
        with m.If(stop):
            m.d.sync += [
                busy.eq(0), done.eq(1),
                f_valid.eq(0), w_valid.eq(0), d_valid.eq(0), cur_valid.eq(0), fetch_end.eq(0),
            ]
            # (A clear in this very cycle makes room for the fault's code.)
            with m.If((~error | clear) & _nonzero(cur_fault)):
                m.d.sync += error_code.eq(cur_fault)
        return m

    def _decode_early(self, m: Module, raw, past_end):
        """First decode stage: validate an instruction word (:func:`lutcore.spec.isa.validate`
        in gateware, same codes and priority) except an LMMA's weight range, and compute
        ``planes * count``. Returns (fault code so far, steps), combinational."""
        cfg = self._config
        word = data.View(isa.INSTRUCTION_LAYOUT, raw)
        op = word.opcode
        is_nop = _equals(op, Opcode.NOP.value)
        is_pre = op == Opcode.PRECOMP
        is_lmma = op == Opcode.LMMA
        is_store = op == Opcode.STORE
        is_halt = op == Opcode.HALT
        legal = is_nop | is_pre | is_lmma | is_store | is_halt

        # PRECOMP and LMMA share the positions of mode, count and table address.
        mode = word.precomp.mode
        count = word.precomp.count
        elut = mode == Mode.ELUT
        uses_mode = is_pre | is_lmma
        bad_mode = uses_mode & elut if not cfg.has_elut else Const(0)

        reserved = Mux(is_pre, word.precomp.reserved.any(),
                   Mux(is_lmma, word.lmma.reserved.any(),
                   Mux(is_store, word.store.reserved.any(),
                   Mux(is_nop, word.nop.reserved.any(), word.halt.reserved.any()))))
        planes = word.lmma.planes
        limit = Mux(elut, 1, cfg.weight_bits)
        bad_planes = is_lmma & (~planes.any() | (planes > limit))
        cmax = (1 << cfg.weight_bits) - 1
        c = word.store.c
        bad_c = is_store & ((c > cmax) | (c < -cmax))
        bad_field = reserved | (uses_mode & ~count.any()) | bad_planes | bad_c

        # planes * count by shifts and adds (planes <= weight_bits once BAD_FIELD passed).
        steps = Signal(isa.COUNT_BITS + nx.unsigned_bits(cfg.weight_bits), name="dec_steps")
        for p in range(1, cfg.weight_bits + 1):
            with m.If(planes == p):
                terms = [count << b for b in range(p.bit_length()) if p >> b & 1]
                total = terms[0]
                for t in terms[1:]:
                    total = total + t
                m.d.comb += steps.eq(total)

        table_addr = word.precomp.table_addr
        # The weight range of an LMMA (which needs steps) is checked in the second decode
        # stage; ADDR_RANGE is the last rule, so it only applies when nothing else failed.
        bad_addr = Mux(is_pre, _past(word.precomp.act_addr, count, cfg.act_depth)
                       | _past(table_addr, count, cfg.table_depth),
                   Mux(is_lmma, _past(table_addr, count, cfg.table_depth),
                   Mux(is_store, _past(word.store.out_addr, cfg.m, cfg.out_depth), 0)))

        fault = Signal(ErrorCode, name="dec_early_fault")
        # Priority of isa.validate: the first failing rule is reported.
        code = ErrorCode.NONE.value
        for failed, error in reversed([(past_end, ErrorCode.PC_RANGE),
                                       (~legal, ErrorCode.ILLEGAL_OPCODE),
                                       (bad_mode, ErrorCode.BAD_MODE),
                                       (bad_field, ErrorCode.BAD_FIELD),
                                       (bad_addr, ErrorCode.ADDR_RANGE)]):
            code = Mux(failed, error.value, code)
        m.d.comb += fault.as_value().eq(code)
        return fault, steps

    def _decode_late(self, m: Module, raw, early_fault, steps):
        """Second decode stage: the fields of the registered word, the LMMA weight range
        check on the registered ``steps``, and the final fault code."""
        cfg = self._config
        word = data.View(isa.INSTRUCTION_LAYOUT, raw)
        op = word.opcode
        weight_past = (op == Opcode.LMMA) & _past(word.lmma.weight_addr, steps, cfg.weight_depth)
        fault = Signal(ErrorCode, name="dec_fault")
        m.d.comb += fault.as_value().eq(
            Mux(_nonzero(early_fault), early_fault,
                Mux(weight_past, ErrorCode.ADDR_RANGE.value, ErrorCode.NONE.value)))

        class Decoded:
            pass
        dec = Decoded()
        dec.op = op
        dec.fault = fault
        dec.mode = word.precomp.mode
        dec.count = word.precomp.count
        dec.steps = steps
        dec.clear = word.lmma.clear
        dec.c = word.store.c
        dec.table_addr = word.precomp.table_addr
        dec.act_addr = word.precomp.act_addr
        dec.weight_addr = word.lmma.weight_addr
        dec.out_addr = word.store.out_addr
        return dec


def _past(base, words, depth: int):
    """``base + words > depth`` for a power-of-two ``depth`` = 2^k: the sum's bits above k,
    or bit k with any bit below it (no comparator after the adder)."""
    k = depth.bit_length() - 1
    total = Value.cast(base + words)
    return total[k + 1:].any() | (total[k] & total[:k].any())


#: The name the board flow looks the accelerator up by (``lutcore.fpga.board``).
Top = Accelerator
