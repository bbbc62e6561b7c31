"""Validation: the :class:`~.encoding.ErrorCode` the hardware raises for an instruction on a
configuration (docs/isa.md, "Error codes")."""

from __future__ import annotations

from typing import NamedTuple

from ...errors import IsaError
from ..config import CoreConfig
from .encoding import MAX_DEPTH, ErrorCode, Illegal, Instruction, Lmma, Mode, Precomp, Store, decode

__all__ = [
    "Fault", "validate",
]


class Fault(NamedTuple):
    """An instruction the hardware refuses: the error code it raises and why."""
    code: ErrorCode
    message: str


def validate(instr: Instruction | Illegal | int, config: CoreConfig) -> Fault | None:
    """The fault the hardware raises for ``instr`` on ``config``, or None if it executes.

    Checked in priority order (the first failing rule is reported): ILLEGAL_OPCODE; BAD_MODE
    (ELUT without ``elut_g``); BAD_FIELD (reserved bits, count 0, planes 0 or above
    ``weight_bits`` in bit-serial mode or not 1 in ELUT mode, |c| above 2^weight_bits - 1);
    ADDR_RANGE (act/table ``addr + count``, weight ``addr + planes*count``, out ``addr + m``
    above the buffer depth).
    """
    if isinstance(instr, int) and not isinstance(instr, bool):
        instr = decode(instr)
    if isinstance(instr, Illegal):
        return Fault(ErrorCode.ILLEGAL_OPCODE, f"opcode {instr.opcode:#x} is illegal")
    if not isinstance(instr, Instruction):
        raise IsaError(f"cannot validate {instr!r}: not an instruction")
    instr.encode()                     # unencodable objects are a programming error
    name = instr.mnemonic
    mode = getattr(instr, "mode", None)
    if mode is Mode.ELUT and not config.has_elut:
        return Fault(ErrorCode.BAD_MODE,
                     f"{name}: mode elut is not built into config '{config.name}' (elut_g = 0)")
    if instr.reserved:
        return Fault(ErrorCode.BAD_FIELD, f"{name}: reserved bits = {instr.reserved:#x}: must be 0")
    count = getattr(instr, "count", None)
    if count == 0:
        return Fault(ErrorCode.BAD_FIELD, f"{name}: count = 0: allowed 1..{MAX_DEPTH}")
    if isinstance(instr, Lmma):
        limit = config.weight_bits if mode is Mode.BITSERIAL else 1
        if not 1 <= instr.planes <= limit:
            return Fault(ErrorCode.BAD_FIELD, f"{name}: planes = {instr.planes} in mode "
                         f"{mode.mnemonic}: allowed 1..{limit}")
    if isinstance(instr, Store):
        cmax = (1 << config.weight_bits) - 1
        if not -cmax <= instr.c <= cmax:
            return Fault(ErrorCode.BAD_FIELD, f"{name}: c = {instr.c}: allowed {-cmax}..{cmax} "
                         f"(weight_bits = {config.weight_bits})")

    def past(buffer, addr, words, depth):
        return Fault(ErrorCode.ADDR_RANGE, f"{name}: {buffer} words {addr}..{addr + words - 1} "
                     f"run past the {buffer} buffer (depth {depth})")

    if isinstance(instr, Precomp):
        if instr.act_addr + count > config.act_depth:
            return past("act", instr.act_addr, count, config.act_depth)
        if instr.table_addr + count > config.table_depth:
            return past("table", instr.table_addr, count, config.table_depth)
    elif isinstance(instr, Lmma):
        if instr.table_addr + count > config.table_depth:
            return past("table", instr.table_addr, count, config.table_depth)
        if instr.weight_addr + instr.planes * count > config.weight_depth:
            return past("weight", instr.weight_addr, instr.planes * count, config.weight_depth)
    elif isinstance(instr, Store):
        if instr.out_addr + config.m > config.out_depth:
            return past("out", instr.out_addr, config.m, config.out_depth)
    return None
