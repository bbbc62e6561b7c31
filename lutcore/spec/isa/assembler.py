"""Assembler and disassembler: one instruction per line::

    precomp bitserial act=0 table=0 count=640
    lmma bitserial table=0 weight=128 count=640 planes=2 clear   # comment
    store out=0 c=1
    halt
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable

from ...errors import IsaError
from .encoding import _BY_MNEMONIC, Illegal, Instruction, Mode, decode

__all__ = [
    "assemble", "disassemble", "parse_line", "format_instruction",
]


def format_instruction(instr: Instruction) -> str:
    parts = [instr.mnemonic]
    values = instr.fields()
    if "mode" in values:
        parts.append(values["mode"].mnemonic)
    for key, name in instr.ASM_KEYS.items():
        parts.append(f"{key}={values[name]}")
    if "clear" in values and values["clear"]:
        parts.append("clear")
    if values.get("reserved"):
        parts.append(f"reserved={values['reserved']:#x}")
    return " ".join(parts)


_TOKEN = re.compile(r"^([a-z_]+)=([-+]?(?:0x[0-9a-f_]+|0b[01_]+|[0-9_]+))$")


def _parse_int(text: str) -> int:
    return int(text, 0)


def parse_line(line: str) -> Instruction | Illegal | None:
    """Assemble one line (comment after ``#``); returns None for a blank line."""
    text = line.split("#", 1)[0].strip().lower()
    if not text:
        return None
    tokens = text.split()
    head, rest = tokens[0], tokens[1:]
    if head == ".word":
        if len(rest) != 1:
            raise IsaError(f"'.word' takes one value, got {len(rest)}: {text!r}")
        try:
            word = _parse_int(rest[0])
        except ValueError:
            raise IsaError(f"'.word' value {rest[0]!r} is not an integer") from None
        return decode(word)
    cls = _BY_MNEMONIC.get(head)
    if cls is None:
        raise IsaError(f"mnemonic {head!r} is unknown: allowed "
                       f"{', '.join(sorted(_BY_MNEMONIC))}, .word")
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict = {}
    if "mode" in names:
        if not rest:
            raise IsaError(f"{head}: missing mode: allowed 'bitserial', 'elut'")
        values["mode"] = Mode.parse(rest[0])
        rest = rest[1:]
    keys = dict(cls.ASM_KEYS, reserved="reserved")
    for token in rest:
        if token == "clear" and "clear" in names:
            if "clear" in values:
                raise IsaError(f"{head}: 'clear' given twice")
            values["clear"] = 1
            continue
        match = _TOKEN.match(token)
        if not match or match.group(1) not in keys:
            allowed = [f"{k}=N" for k in cls.ASM_KEYS] + (["clear"] if "clear" in names else [])
            raise IsaError(f"{head}: operand {token!r} is not understood: allowed "
                           f"{' '.join(allowed) or 'none'}")
        name = keys[match.group(1)]
        if name in values:
            raise IsaError(f"{head}: operand '{match.group(1)}' given twice")
        values[name] = _parse_int(match.group(2))
    missing = [k for k, name in cls.ASM_KEYS.items() if name not in values]
    if missing:
        raise IsaError(f"{head}: missing operand(s) {', '.join(k + '=' for k in missing)}")
    if "clear" in names:
        values.setdefault("clear", 0)
    instr = cls(**values)
    instr.encode()                     # range-check every field now, with the field's name
    return instr


def assemble(text: str) -> list[int]:
    """Assemble a program text into instruction words. Errors name the line number."""
    words = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            instr = parse_line(line)
        except IsaError as e:
            raise IsaError(f"line {number}: {e}") from None
        if instr is not None:
            words.append(instr.encode())
    return words


def disassemble(words: Iterable[int], *, pcs: bool = False) -> str:
    """One line per word; ``assemble(disassemble(words)) == list(words)``. With ``pcs``
    each line ends with a ``# pc`` comment."""
    lines = []
    for pc, word in enumerate(words):
        text = str(decode(int(word)))
        lines.append(f"{text:<60} # {pc}" if pcs else text)
    return "\n".join(lines) + ("\n" if lines else "")
