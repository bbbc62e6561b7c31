"""The timing contract (docs/architecture.md, "Timing contract"): the cycles each
instruction occupies the controller's execute stage. The RTL top implements it and the ISS
counts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ...errors import IsaError
from .. import fp
from ..config import CoreConfig
from .encoding import Halt, Illegal, Instruction, Lmma, Precomp, Store, decode
from .validation import validate

__all__ = [
    "Timing", "TIMING", "instruction_cycles", "phase_cycles", "table_unit_depth",
]


def table_unit_depth(g: int, elut_g: int, symmetrize: bool) -> int:
    """Adder depth of the table precompute unit (DESIGN §2.1, §2.2): the longest chain of
    adders between an activation and a table entry, the deeper of the two modes.

    Each table starts from a balanced adder tree over the group (``ceil(log2 g)`` levels) and
    derives every further entry from a built one by one adder. Symmetrized bit-serial tables
    reach ``H[0]`` after ``g - 1`` more; full tables grow from two seeds (the tree and its
    negation) and reach every entry within ``ceil(g/2)`` more; an ELUT entry with ``elut_g``
    non-zero digits is ``elut_g - 1`` adders from its first activation.
    """
    tree = (g - 1).bit_length()                # ceil(log2 g) for g >= 2
    depth = tree + (g - 1 if symmetrize else -(-g // 2))
    if elut_g:
        depth = max(depth, elut_g - 1)
    return depth


@dataclass(frozen=True)
class Timing:
    """Cycle costs of the controller (docs/architecture.md, "Timing contract").

    The controller fetches and decodes the next instruction while the current one executes,
    so an instruction's cost is the number of cycles it occupies the execute stage; a start
    pays the fetch pipeline once.

    START: from the start command to the first instruction in the execute stage
    (instruction read, instruction register, two decode registers: the second checks an
    LMMA's weight range on the registered planes*count).
    ISSUE: cost of NOP, HALT, and of an instruction that faults (it does nothing else);
    running past the instruction memory (PC_RANGE) costs the same.
    PRECOMP_READ: activation-buffer read plus the read register before the table unit; a
    PRECOMP of ``count`` words costs ``count + PRECOMP_READ + table unit latency``
    (:meth:`precomp_latency`), the last table word being written in its last cycle.
    LMMA_LATENCY: table and weight-buffer read plus the read register; the LUT core accepts
    the last of ``planes*count`` steps in the LMMA's last cycle.
    STORE_OFFER: the finalize request is offered from a register one cycle after issue.
    STEP_STAGES: the LUT core's step pipeline (lookup, signed shift, accumulate), plus a
    broadcast stage in front when the core has more than one broadcast group
    (:meth:`step_latency`).
    FINALIZE_STAGES: the LUT core's finalize pipeline (row-sum select; correction product and
    drain register; add). A STORE costs ``m * out_beats + STORE_OFFER + (step_latency - 1)
    + FINALIZE_STAGES`` (:meth:`store_latency`): the finalize waits ``step_latency - 1``
    cycles so that the steps before it have reached the accumulators, and the last of the
    ``m * out_beats`` output beats is written in the STORE's last cycle.
    TABLE_STAGE_LEVELS: chained adders per pipeline stage of the table unit, which sets its
    latency ``max(1, ceil(depth / TABLE_STAGE_LEVELS))`` (:func:`table_unit_depth`).

    A core with FP activations (``config.is_fp``) has the FP blocks' latencies, in units of
    the FP adder's FP_ADDER_STAGES pipeline stages: the FP table unit ``2 + FP_ADDER_STAGES *
    depth`` (depth the deeper table plan's adder depth); the FP LUT core's steps
    ``1 + FP_ADDER_STAGES * ceil(log2 lookups)`` (the term register, the L tree) and its
    finalize the step wait plus FP_FINALIZE_STAGES: the read-out of the ACC_LANES partials,
    the lane tree (ceil(log2 ACC_LANES) adders), the correction register, the correction's
    addition and two output registers.
    """
    START: int = 4
    ISSUE: int = 1
    PRECOMP_READ: int = 2
    LMMA_LATENCY: int = 2
    STORE_OFFER: int = 1
    STEP_STAGES: int = 3
    FINALIZE_STAGES: int = 3
    TABLE_STAGE_LEVELS: int = 2
    FP_ADDER_STAGES: int = fp.ACC_LANES

    @property
    def FP_FINALIZE_STAGES(self) -> int:
        lane_levels = (fp.ACC_LANES - 1).bit_length()
        return fp.ACC_LANES + self.FP_ADDER_STAGES * (lane_levels + 1) + 1 + 2

    def table_latency(self, config: CoreConfig) -> int:
        """Pipeline stages of the table precompute unit of ``config``."""
        if config.is_fp:
            from ..table_plan import table_plans
            depth = max(p.depth for p in table_plans(config.g, config.elut_g,
                                                     config.symmetrize).values())
            return 2 + self.FP_ADDER_STAGES * depth
        depth = table_unit_depth(config.g, config.elut_g, config.symmetrize)
        return max(1, -(-depth // self.TABLE_STAGE_LEVELS))

    def precomp_latency(self, config: CoreConfig) -> int:
        """Cycles of a PRECOMP beyond its ``count``: the read and the table unit pipeline."""
        return self.PRECOMP_READ + self.table_latency(config)

    def step_latency(self, config: CoreConfig) -> int:
        """Cycles from a step's acceptance by the LUT core to its effect in the
        accumulators: STEP_STAGES, plus the broadcast stage when there is one (FP: the
        term register and the L tree)."""
        if config.is_fp:
            return 1 + self.FP_ADDER_STAGES * (config.lookups - 1).bit_length()
        return self.STEP_STAGES + (1 if config.broadcast_groups > 1 else 0)

    def finalize_latency(self, config: CoreConfig) -> int:
        """Cycles from a finalize's acceptance by the LUT core to its first output beat."""
        if config.is_fp:
            return self.step_latency(config) - 1 + self.FP_FINALIZE_STAGES
        return self.step_latency(config) - 1 + self.FINALIZE_STAGES

    def store_latency(self, config: CoreConfig) -> int:
        """Cycles of a STORE beyond its ``m * out_beats`` output beats."""
        return self.STORE_OFFER + self.finalize_latency(config)


#: The timing the RTL top implements and the ISS counts.
TIMING = Timing()


def instruction_cycles(instr: Instruction | Illegal | int, config: CoreConfig,
                       timing: Timing = TIMING) -> int:
    """Cycles ``instr`` occupies the execute stage on ``config``. A faulting instruction
    costs ``ISSUE`` (it stops the controller there); add ``START`` once per start
    (:func:`phase_cycles`)."""
    if isinstance(instr, int) and not isinstance(instr, bool):
        instr = decode(instr)
    if validate(instr, config) is not None:
        return timing.ISSUE
    return _executed_cycles(instr, config, timing)


def _executed_cycles(instr: Instruction, config: CoreConfig, timing: Timing) -> int:
    """Cycles of an instruction that does not fault."""
    if isinstance(instr, Precomp):
        return instr.count + timing.precomp_latency(config)
    if isinstance(instr, Lmma):
        return instr.planes * instr.count + timing.LMMA_LATENCY
    if isinstance(instr, Store):
        return config.m * config.out_beats + timing.store_latency(config)
    return timing.ISSUE                # NOP, HALT


def phase_cycles(words: Iterable[int], config: CoreConfig, timing: Timing = TIMING) -> int:
    """Cycles of one start with instruction memory ``words`` from pc 0: ``START`` plus every
    instruction up to and including the first HALT or faulting one. Running past the end of
    an instruction memory without HALT costs ``ISSUE`` more (PC_RANGE); ``words`` shorter
    than ``instr_depth`` without HALT raise :class:`IsaError` (the rest is unknown)."""
    total = timing.START
    count = 0
    for word in words:
        if count >= config.instr_depth:
            break
        instr = decode(int(word))
        fault = validate(instr, config)
        total += timing.ISSUE if fault is not None else _executed_cycles(instr, config, timing)
        count += 1
        if isinstance(instr, Halt) or fault is not None:
            return total
    if count >= config.instr_depth:
        return total + timing.ISSUE
    raise IsaError(f"phase_cycles: no HALT or fault in {count} word(s) and the instruction "
                   f"memory holds {config.instr_depth}: the rest of the run is unknown")
