"""Instruction-set simulator: executes a compiled :class:`~lutcore.sw.compiler.Program`
instruction by instruction with the golden table functions, bit-exactly, and counts cycles
with the timing contract of ``docs/architecture.md`` (:func:`lutcore.spec.isa.phase_cycles`).

:class:`Machine` holds the architectural state of one core (buffers, accumulators, row sums)
and executes from its instruction memory; buffer words are kept decoded (field values), and
host writes and reads go through the word layouts of :mod:`lutcore.spec.words`.
Programs run on it through the host runtime: :mod:`lutcore.host.iss` models the host port
over a :class:`Machine` (the ``iss`` backend), and :func:`lutcore.host.run_program` runs a
program phase by phase there.

Faults (illegal opcodes, fields out of range, addresses past a buffer) stop execution with
:class:`ExecutionError`, carrying the :class:`~lutcore.spec.isa.ErrorCode` the hardware
reports; nothing of the faulting instruction is executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import LutcoreError
from ..spec import fp, isa
from ..spec import numerics as nx
from ..spec.config import CoreConfig
from ..spec.words import pack, split_codes, unpack, word_format
from .kernels import fp as fpk
from .kernels import tables

__all__ = ["ExecutionError", "PhaseStats", "Machine"]


class ExecutionError(LutcoreError):
    """The core stopped with an error. ``code`` is the :class:`~lutcore.spec.isa.ErrorCode`,
    ``pc`` the faulting instruction (None for host-port faults), ``phase`` the phase."""

    def __init__(self, code: isa.ErrorCode, message: str, *, pc: int | None = None,
                 phase: int | None = None):
        where = "".join([f"phase {phase} " if phase is not None else "",
                         f"pc {pc} " if pc is not None else ""])
        super().__init__(f"{where}error {code.name}: {message}")
        self.code = code
        self.detail = message
        self.pc = pc
        self.phase = phase


@dataclass
class PhaseStats:
    """What one start of the core did."""

    cycles: int = 0
    lookups: int = 0                  # sum of planes*count over LMMAs
    instructions: int = 0             # executed, HALT included
    by_opcode: dict[str, int] = field(default_factory=dict)

    @property
    def utilization(self) -> float:
        return self.lookups / self.cycles if self.cycles else 0.0


# Lookups (table word x output column) per slice of a PRECOMP or LMMA: bounds the ISS's
# per-instruction temporaries ([slice, m, n] int64 gathers) whatever the count.
_SLICE_WORDS = 1 << 16


class Machine:
    """Architectural state of one core on ``config`` and its instruction execution.

    Buffers hold decoded words: ``act [act_depth, rows, act_slots]``, ``table [table_depth,
    rows, table_entries]`` (``rows = m * lookups``, row r's l-th group at ``r * lookups + l``),
    ``weight [weight_depth, n * lookups]`` (codes, column c's l-th at ``c * lookups + l``),
    ``out [out_depth, n]``, all int64,
    and ``instr [instr_depth]`` uint64. ``acc [m, n]`` and ``rowsum [m]`` are the
    ``sum_bits``-wide accumulators (docs/architecture.md, "Scaling"). Everything starts at 0.

    A core with FP activations (``config.is_fp``) keeps raw IEEE bit patterns in the same
    buffers and runs the FP contract (docs/architecture.md, "Floating-point activations"):
    ``lanes [ACC_LANES, m, n]`` and ``row_lanes [ACC_LANES, m]`` are the partial sums in
    ``acc_format``, ``counts`` the addends each has taken since its clear; a clear reaches
    the row sums with their next addend (``rows_pending``), as in the FP LUT core.
    """

    def __init__(self, config: CoreConfig):
        c = self.config = config
        self.act = np.zeros((c.act_depth, c.table_rows, c.act_slots), np.int64)
        self.table = np.zeros((c.table_depth, c.table_rows, c.table_entries), np.int64)
        self.weight = np.zeros((c.weight_depth, c.step_codes), np.int64)
        self.out = np.zeros((c.out_depth, c.n), np.int64)
        self.instr = np.zeros(c.instr_depth, np.uint64)
        self.acc = np.zeros((c.m, c.n), np.int64)
        self.rowsum = np.zeros(c.m, np.int64)
        self.pc = 0
        self.last_cycles = 0          # cycles of the last run, also when it faulted
        if c.is_fp:
            self._acc_t = fp.fp_format(c.acc_format).dtype
            self.lanes = np.zeros((fp.ACC_LANES, c.m, c.n), self._acc_t)
            self.row_lanes = np.zeros((fp.ACC_LANES, c.m), self._acc_t)
            self.counts = [0, 0]
            self.rows_pending = False

    # -- host port ---------------------------------------------------------------------------
    def _span(self, region: isa.Region, addr: int, count: int) -> None:
        depth = isa.region_depth(region, self.config)
        if addr < 0 or addr + count > depth:
            raise ExecutionError(isa.ErrorCode.HOST_ADDR,
                                 f"host access to {region.name} words {addr}..{addr + count - 1} "
                                 f"runs past depth {depth}")

    def write(self, region: isa.Region, addr: int, words: np.ndarray) -> None:
        """Host write of ``words`` (limbs ``uint64 [count, limbs]``; instruction words may be
        ``uint64 [count]``) to ``region`` from word ``addr``."""
        region = isa.Region(region)
        words = np.asarray(words, np.uint64)
        if region is isa.Region.INSTR:
            words = words.reshape(-1)
            self._span(region, addr, len(words))
            self.instr[addr:addr + len(words)] = words
            return
        if region not in (isa.Region.ACT, isa.Region.WEIGHT):
            raise ExecutionError(isa.ErrorCode.HOST_ADDR, f"region {region.name} is not writable")
        values = unpack(words, word_format(region, self.config))
        self._span(region, addr, len(values))
        c = self.config
        if region is isa.Region.ACT:
            self.act[addr:addr + len(values)] = values.reshape(-1, c.table_rows, c.act_slots)
        else:
            self.weight[addr:addr + len(values)] = values

    def read(self, region: isa.Region, addr: int, count: int) -> np.ndarray:
        """Host read of ``count`` words of ``region`` from ``addr``, as limbs."""
        region = isa.Region(region)
        self._span(region, addr, count)
        c = self.config
        fmt = word_format(region, c) if region is not isa.Region.INSTR else None
        if region is isa.Region.ACT:
            return pack(self.act[addr:addr + count].reshape(count, -1), fmt)
        if region is isa.Region.TABLE:
            return pack(self.table[addr:addr + count].reshape(count, -1), fmt)
        if region is isa.Region.WEIGHT:
            return pack(self.weight[addr:addr + count], fmt)
        if region is isa.Region.OUTPUT:
            return pack(self.out[addr:addr + count], fmt)
        raise ExecutionError(isa.ErrorCode.HOST_ADDR, f"region {region.name} is not readable")

    # -- execution ---------------------------------------------------------------------------
    def run(self) -> PhaseStats:
        """Start at pc 0 and execute until HALT. Raises :class:`ExecutionError` on a fault
        (``pc`` then points at the faulting instruction; :attr:`last_cycles` holds the cycles
        up to the fault). Cycles follow :func:`lutcore.spec.isa.phase_cycles`: ``START`` once,
        then each instruction's execute-stage cost."""
        stats = PhaseStats(cycles=isa.TIMING.START)
        self.last_cycles = stats.cycles
        self.pc = 0
        while True:
            if self.pc >= self.config.instr_depth:
                stats.cycles += isa.TIMING.ISSUE
                self.last_cycles = stats.cycles
                raise ExecutionError(isa.ErrorCode.PC_RANGE,
                                     f"no HALT before the end of instruction memory "
                                     f"(depth {self.config.instr_depth})", pc=self.pc)
            instr = isa.decode(int(self.instr[self.pc]))
            fault = isa.validate(instr, self.config)
            stats.cycles += isa.instruction_cycles(instr, self.config)
            self.last_cycles = stats.cycles
            if fault is not None:
                raise ExecutionError(fault.code, fault.message, pc=self.pc)
            stats.instructions += 1
            stats.by_opcode[instr.mnemonic] = stats.by_opcode.get(instr.mnemonic, 0) + 1
            if isinstance(instr, isa.Halt):
                return stats
            self.execute(instr)
            if isinstance(instr, isa.Lmma):
                stats.lookups += instr.planes * instr.count
            self.pc += 1

    def execute(self, instr: isa.Instruction) -> None:
        """Execute one validated instruction."""
        if isinstance(instr, isa.Precomp):
            self._precomp(instr)
        elif isinstance(instr, isa.Lmma):
            self._lmma(instr)
        elif isinstance(instr, isa.Store):
            self._store(instr)

    def _slices(self, count: int):
        """Ranges of at most :data:`_SLICE_WORDS` / (m*n*lookups) words covering ``0..count``:
        PRECOMP and LMMA run slice by slice so their temporaries stay small for any count."""
        step = max(1, _SLICE_WORDS // self.config.lookups_per_cycle)
        return ((j0, min(count, j0 + step)) for j0 in range(0, count, step))

    def _precomp(self, i: isa.Precomp) -> None:
        c = self.config
        if c.is_fp:
            return self._fp_precomp(i)
        gs, rows = c.group(i.mode.mnemonic), c.table_rows
        for j0, j1 in self._slices(i.count):       # loop over slices of the count
            words = self.act[i.act_addr + j0:i.act_addr + j1, :, :gs]    # [cnt, rows, gs]
            groups = words.transpose(1, 0, 2).reshape(rows, (j1 - j0) * gs)
            if i.mode is isa.Mode.ELUT:
                h = tables.elut_tables(groups, gs)
            elif c.symmetrize:
                h = tables.bitserial_tables(groups, gs)
            else:
                h = tables.bitserial_full_tables(groups, gs)
            # [rows, cnt, E] -> [cnt, rows, table_entries], unused entries 0
            out = self.table[i.table_addr + j0:i.table_addr + j1]
            out[:, :, h.shape[2]:] = 0
            out[:, :, :h.shape[2]] = h.transpose(1, 0, 2)

    def _lmma(self, i: isa.Lmma) -> None:
        c = self.config
        if c.is_fp:
            return self._fp_lmma(i)
        lk = c.lookups
        if i.clear:
            self.acc[:] = 0
            self.rowsum[:] = 0
        codes = self.weight[i.weight_addr:i.weight_addr + i.planes * i.count]
        codes = codes.reshape(i.planes, i.count, c.n, lk)
        r = np.arange(c.m)[None, :, None, None]
        l = np.arange(lk)[None, None, None, :]
        total = np.zeros((c.m, c.n), np.int64)
        rowsum = np.zeros(c.m, np.int64)
        for j0, j1 in self._slices(i.count):       # loop over slices of the count
            tabs = self.table[i.table_addr + j0:i.table_addr + j1]        # [cnt, m*L, E]
            tabs = tabs.reshape(j1 - j0, c.m, lk, c.table_entries)
            # An index at or past the table word's entries reads 0 (docs/architecture.md).
            tabs = np.concatenate([tabs, np.zeros((j1 - j0, c.m, lk, 1), np.int64)], axis=3)
            index, sign = split_codes(codes[:, j0:j1], i.mode, c)
            index = np.minimum(index, c.table_entries)
            j = np.arange(j1 - j0)[:, None, None, None]
            for b in range(i.planes):
                h = tabs[j, r, l, index[b][:, None, :, :]]                 # [cnt, m, n, L]
                h = np.where(sign[b][:, None, :, :], -h, h).sum(axis=(0, 3))
                total += h << (b if i.mode is isa.Mode.BITSERIAL else 1)
            rowsum += tabs[:, :, :, 0].sum(axis=(0, 2))
        self.acc = nx.wrap(self.acc + total, c.sum_bits)
        if i.mode is isa.Mode.BITSERIAL:
            # plane 0: row sum of the group's activations, -H[0] (DESIGN §2.1)
            self.rowsum = nx.wrap(self.rowsum - rowsum, c.sum_bits)

    def _store(self, i: isa.Store) -> None:
        c = self.config
        if c.is_fp:
            # A clear no row addend has reached yet (ELUT): the FP LUT core clears the row
            # sums as it reads them out, so R is +0 (and the clear is done).
            self._clear_pending_rows()
            out = fpk.finalize(self.lanes, self.row_lanes, i.c)
            self.out[i.out_addr:i.out_addr + c.m] = fp.to_bits(out)
            return
        total = nx.wrap(self.acc + i.c * self.rowsum[:, None], c.sum_bits)
        self.out[i.out_addr:i.out_addr + c.m] = nx.wrap(total >> 1, c.acc_bits)

    # -- FP activations (docs/architecture.md, "Floating-point activations") ------------------
    def _fp_precomp(self, i: isa.Precomp) -> None:
        c = self.config
        gs, rows = c.group(i.mode.mnemonic), c.table_rows
        for j0, j1 in self._slices(i.count):       # loop over slices of the count
            words = self.act[i.act_addr + j0:i.act_addr + j1, :, :gs]    # raw [cnt, rows, gs]
            groups = words.transpose(1, 0, 2).reshape(rows, (j1 - j0) * gs)
            h = fpk.fp_tables(fp.from_bits(groups, c.act_format), gs, i.mode.mnemonic,
                              symmetrize=c.symmetrize, table_format=c.table_format)
            out = self.table[i.table_addr + j0:i.table_addr + j1]
            out[:, :, h.shape[2]:] = 0                                  # +0
            out[:, :, :h.shape[2]] = fp.to_bits(h).transpose(1, 0, 2)

    def _fp_lmma(self, i: isa.Lmma) -> None:
        """The steps in the FP order: every plane of a step before the next step."""
        c = self.config
        lk, acc = c.lookups, self._acc_t
        if i.clear:
            self.lanes[:] = 0
            self.counts[0] = 0
            self.rows_pending = True
        codes = self.weight[i.weight_addr:i.weight_addr + i.planes * i.count]
        codes = codes.reshape(i.planes, i.count, c.n, lk)
        shifts = range(i.planes) if i.mode is isa.Mode.BITSERIAL else [1]
        scale = np.array([1 << b for b in shifts], acc)[:, None, None, None]
        r = np.arange(c.m)[None, :, None, None]
        l = np.arange(lk)[None, None, None, :]
        for j0, j1 in self._slices(i.count):       # loop over slices of the count, in order
            raw = self.table[i.table_addr + j0:i.table_addr + j1]
            tabs = fp.from_bits(raw, c.table_format).astype(acc)
            tabs = tabs.reshape(j1 - j0, c.m, lk, c.table_entries)
            # An index at or past the table word's entries reads +0.
            tabs = np.concatenate([tabs, np.zeros((j1 - j0, c.m, lk, 1), acc)], axis=3)
            index, sign = split_codes(codes[:, j0:j1], i.mode, c)     # [P, cnt, n, L]
            index = np.minimum(index, c.table_entries)
            j = np.arange(j1 - j0)[:, None, None, None]
            factor = np.where(sign, -scale, scale).astype(acc)
            with np.errstate(over="ignore", invalid="ignore"):
                terms = np.stack([tabs[j, r, l, index[b][:, None, :, :]]
                                  * factor[b][:, None, :, :] for b in range(i.planes)])
            addends = fpk.tree_axis(terms, 4)                          # [P, cnt, m, n]
            self.counts[0] = fpk.accumulate(
                self.lanes, self.counts[0],
                addends.transpose(1, 0, 2, 3).reshape(-1, c.m, c.n))
            if i.mode is isa.Mode.BITSERIAL:
                self._clear_pending_rows()
                self.counts[1] = fpk.accumulate(self.row_lanes, self.counts[1],
                                                fpk.tree_axis(-tabs[:, :, :, 0], 2))

    def _clear_pending_rows(self) -> None:
        """Carry out a clear the row sums have not seen yet (:attr:`rows_pending`)."""
        if self.rows_pending:
            self.row_lanes[:] = 0
            self.counts[1] = 0
            self.rows_pending = False
