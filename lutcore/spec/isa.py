"""The instruction set of the LUT tensor core, defined once.

Everything that knows about instructions takes it from here: the assembler and disassembler
below, the compiler (:mod:`lutcore.sw.compiler`), the instruction-set simulator
(:mod:`lutcore.sw.iss`), the RTL decoder and the generated reference (``docs/isa.md``).

* Opcodes, modes and error codes are Amaranth :class:`~amaranth.lib.enum.Enum`\\ s with a shape.
* Every instruction is one :data:`INSTR_BITS`-bit word. Its format is a
  :class:`~amaranth.lib.data.StructLayout` (:data:`PRECOMP_LAYOUT`, :data:`LMMA_LAYOUT`, ...),
  all of them :data:`INSTR_BITS` wide with the opcode in the low bits;
  :data:`INSTRUCTION_LAYOUT` is their union, so the decoder views an instruction word as
  ``View(INSTRUCTION_LAYOUT, word)`` and reads ``word.opcode``, ``word.lmma.count``, ...
* :func:`encode` / :func:`decode` are pure Python (no simulator); every 64-bit word decodes
  (unknown opcodes to :class:`Illegal`) and re-encodes to itself.
* :func:`assemble` / :func:`disassemble` use a one-instruction-per-line text syntax::

      precomp bitserial act=0 table=0 count=640
      lmma bitserial table=0 weight=128 count=640 planes=2 clear   # comment
      store out=0 c=1
      halt

* :func:`validate` reports the :class:`ErrorCode` the hardware raises for an instruction.
* :data:`TIMING`, :func:`instruction_cycles` and :func:`phase_cycles` are the cycle model
  (the timing contract of ``docs/architecture.md``); the RTL top matches them exactly.
* The host port memory map: :class:`Region`, :class:`Csr`, :data:`CTRL_LAYOUT`,
  :data:`STATUS_LAYOUT` and the sub-word addressing helpers :func:`sub_words`,
  :func:`sub_bits`, :func:`host_address`.

``python -m lutcore.spec.isa --doc docs/isa.md`` writes the ISA reference from these
definitions.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from dataclasses import dataclass
from typing import ClassVar, Iterable, NamedTuple

from amaranth.hdl import Shape, signed
from amaranth.lib import data, enum

from . import numerics as nx
from .config import BROADCAST_COLS, OUT_BEAT_MAX_BITS, PRESETS, CoreConfig

__all__ = [
    "INSTR_BITS", "OPCODE_BITS", "ADDR_BITS", "COUNT_BITS", "PLANES_BITS", "CORRECTION_BITS",
    "MAX_DEPTH", "MAX_WEIGHT_BITS",
    "Opcode", "Mode", "ErrorCode",
    "PRECOMP_LAYOUT", "LMMA_LAYOUT", "STORE_LAYOUT", "NOP_LAYOUT", "HALT_LAYOUT",
    "INSTRUCTION_LAYOUT",
    "IsaError", "Instruction", "Nop", "Precomp", "Lmma", "Store", "Halt", "Illegal",
    "INSTRUCTION_CLASSES",
    "encode", "decode", "assemble", "disassemble", "parse_line",
    "Fault", "validate",
    "Timing", "TIMING", "instruction_cycles", "phase_cycles", "table_unit_depth",
    "Region", "Csr", "CTRL_LAYOUT", "STATUS_LAYOUT", "HOST_ADDR_BITS", "REGION_SHIFT", "ID_VALUE",
    "region_depth", "region_word_bits", "sub_words", "sub_bits", "host_address",
    "split_host_words", "join_host_words",
    "render_doc", "main",
]

# -- widths ---------------------------------------------------------------------------------

#: Width of one instruction word (the instruction memory's word).
INSTR_BITS = 64
#: Width of the opcode field, bits ``[OPCODE_BITS-1:0]`` of every instruction.
OPCODE_BITS = 4
#: Largest buffer depth a configuration may have (``CoreConfig`` allows 2..2^16 words).
MAX_DEPTH = 1 << 16
#: Width of a buffer address field: addresses 0..MAX_DEPTH-1.
ADDR_BITS = nx.unsigned_bits(MAX_DEPTH - 1)
#: Width of a count field: a count may cover a whole buffer, 1..MAX_DEPTH.
COUNT_BITS = nx.unsigned_bits(MAX_DEPTH)
#: Most weight bit planes a configuration may have (``CoreConfig.weight_bits`` allows 1..4).
MAX_WEIGHT_BITS = 4
#: Width of the LMMA ``planes`` field: 0..MAX_WEIGHT_BITS fits.
PLANES_BITS = nx.unsigned_bits(MAX_WEIGHT_BITS)
#: Width of the signed STORE correction ``c = 2^B - 1 - 2z``, |c| <= 2^MAX_WEIGHT_BITS - 1.
CORRECTION_BITS = nx.signed_bits(-((1 << MAX_WEIGHT_BITS) - 1), (1 << MAX_WEIGHT_BITS) - 1)


class IsaError(ValueError):
    """An instruction cannot be encoded, a word cannot be decoded or a line cannot be
    assembled. The message is one line naming the field or line, the value and what is
    allowed."""


# -- enumerations ---------------------------------------------------------------------------

class Opcode(enum.Enum, shape=OPCODE_BITS):
    """Instruction opcodes, bits ``[3:0]`` of every instruction. Any other value is illegal."""
    NOP = 0x0
    PRECOMP = 0x1
    LMMA = 0x2
    STORE = 0x3
    HALT = 0xF


class Mode(enum.Enum, shape=1):
    """Lookup mode of PRECOMP and LMMA (DESIGN §2.1, §2.2)."""
    BITSERIAL = 0
    ELUT = 1

    @property
    def mnemonic(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value) -> "Mode":
        """A :class:`Mode` from a member, its value or its name ('bitserial', 'elut')."""
        if isinstance(value, Mode):
            return value
        if isinstance(value, str):
            for mode in cls:
                if mode.mnemonic == value.lower():
                    return mode
            raise IsaError(f"mode {value!r} is unknown: allowed 'bitserial', 'elut'")
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        raise IsaError(f"mode {value!r} is unknown: allowed 'bitserial', 'elut'")


class ErrorCode(enum.Enum, shape=8):
    """Error codes, reported in STATUS bits [15:8] with the error flag (0 = no error).

    When an instruction breaks several rules, the first in this order is reported:
    ILLEGAL_OPCODE, BAD_MODE, BAD_FIELD, ADDR_RANGE.
    """
    NONE = 0
    ILLEGAL_OPCODE = 1
    BAD_MODE = 2
    BAD_FIELD = 3
    ADDR_RANGE = 4
    PC_RANGE = 5
    BUSY_WRITE = 6
    HOST_ADDR = 7
    INTERNAL = 8


_ERROR_TEXT = {
    ErrorCode.NONE: "no error",
    ErrorCode.ILLEGAL_OPCODE: "the opcode is none of the defined opcodes",
    ErrorCode.BAD_MODE: "mode ELUT on a configuration built without it (elut_g = 0)",
    ErrorCode.BAD_FIELD: "a field value is not allowed: reserved bits not 0, count 0, planes 0 "
                         "or above weight_bits (bit-serial) or not 1 (ELUT), "
                         "|c| above 2^weight_bits - 1",
    ErrorCode.ADDR_RANGE: "an access runs past a buffer: act/table addr + count, "
                          "weight addr + planes*count, out addr + m above the depth",
    ErrorCode.PC_RANGE: "the program counter ran past the instruction memory without HALT",
    ErrorCode.BUSY_WRITE: "the host wrote instruction memory or a buffer while busy; "
                          "the write is dropped",
    ErrorCode.HOST_ADDR: "the host accessed an unmapped address, wrote a read-only or read a "
                         "write-only location; writes are dropped, reads return 0",
    ErrorCode.INTERNAL: "a block of the accelerator refused a word of the controller's read "
                        "pipeline (never expected: a design error; the run's results are "
                        "not valid)",
}

# -- instruction formats --------------------------------------------------------------------

# PRECOMP and LMMA share the positions of opcode, mode, count and table address so that one
# decoder path serves both.
_MODE_COUNT_TABLE = {"mode": Mode, "count": COUNT_BITS, "table_addr": ADDR_BITS}


def _layout(fields: dict) -> data.StructLayout:
    members = {"opcode": Opcode, **fields}
    used = sum(Shape.cast(shape).width for shape in members.values())
    assert used <= INSTR_BITS, (fields, used)
    members["reserved"] = INSTR_BITS - used
    return data.StructLayout(members)


#: PRECOMP: build tables of ``count`` activation words.
PRECOMP_LAYOUT = _layout({**_MODE_COUNT_TABLE, "act_addr": ADDR_BITS})
#: LMMA: look up and accumulate one output tile.
LMMA_LAYOUT = _layout({**_MODE_COUNT_TABLE, "weight_addr": ADDR_BITS,
                       "planes": PLANES_BITS, "clear": 1})
#: STORE: finalize the accumulators into ``m`` output words.
STORE_LAYOUT = _layout({"c": signed(CORRECTION_BITS), "out_addr": ADDR_BITS})
#: NOP: nothing.
NOP_LAYOUT = _layout({})
#: HALT: stop, status done.
HALT_LAYOUT = _layout({})
#: The instruction word as the decoder sees it: a union of every format plus the opcode.
INSTRUCTION_LAYOUT = data.UnionLayout({
    "opcode": Opcode,
    "nop": NOP_LAYOUT,
    "precomp": PRECOMP_LAYOUT,
    "lmma": LMMA_LAYOUT,
    "store": STORE_LAYOUT,
    "halt": HALT_LAYOUT,
})


# -- instructions as Python objects ---------------------------------------------------------

def _field_range(shape) -> tuple[int, int]:
    s = Shape.cast(shape)
    if s.signed:
        return -(1 << (s.width - 1)), (1 << (s.width - 1)) - 1
    return 0, (1 << s.width) - 1


class Instruction:
    """Base of the instruction classes. Subclasses are frozen dataclasses whose fields are
    the fields of their ``LAYOUT`` (without ``opcode``); :meth:`encode` packs them."""

    OPCODE: ClassVar[Opcode]
    LAYOUT: ClassVar[data.StructLayout]
    #: assembler key -> field name, in the order the disassembler writes them
    ASM_KEYS: ClassVar[dict[str, str]] = {}
    #: one-line summary for the reference
    SUMMARY: ClassVar[str] = ""

    @property
    def opcode(self) -> Opcode:
        return self.OPCODE

    @property
    def mnemonic(self) -> str:
        return self.OPCODE.name.lower()

    def fields(self) -> dict:
        """Field name -> value (enums as members, flags as ints), without the opcode."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def encode(self) -> int:
        """The instruction word; raises :class:`IsaError` if a value does not fit its field."""
        word = self.OPCODE.value
        for name, value in self.fields().items():
            field = self.LAYOUT[name]
            if isinstance(field.shape, type) and issubclass(field.shape, enum.Enum):
                if not isinstance(value, field.shape):
                    value = field.shape(value)
                value = value.value
            elif isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int):
                raise IsaError(f"{self.mnemonic}: field '{name}' = {value!r} is not an integer")
            lo, hi = _field_range(field.shape)
            if not lo <= value <= hi:
                raise IsaError(f"{self.mnemonic}: field '{name}' = {value} does not fit its "
                               f"{field.width}-bit field: allowed {lo}..{hi}")
            word |= (value & ((1 << field.width) - 1)) << field.offset
        return word

    def __str__(self) -> str:
        return _format_instruction(self)


def _mode_post_init(self):
    object.__setattr__(self, "mode", Mode.parse(self.mode))


@dataclass(frozen=True)
class Nop(Instruction):
    """Does nothing; costs its fetch."""
    OPCODE: ClassVar[Opcode] = Opcode.NOP
    LAYOUT: ClassVar[data.StructLayout] = NOP_LAYOUT
    ASM_KEYS: ClassVar[dict[str, str]] = {}
    SUMMARY: ClassVar[str] = "no operation"
    reserved: int = 0


@dataclass(frozen=True)
class Precomp(Instruction):
    """For i in 0..count-1: build the m tables of activation word ``act_addr+i`` from the
    first g (bit-serial) or elut_g (ELUT) activation slots of each row, and write them to table
    word ``table_addr+i``. Bit-serial tables are symmetrized (2^(g-1) entries; 2^g in a build
    with ``symmetrize`` off), ELUT tables have (3^elut_g+1)/2 entries; the table word's
    entries past them are written 0."""
    OPCODE: ClassVar[Opcode] = Opcode.PRECOMP
    LAYOUT: ClassVar[data.StructLayout] = PRECOMP_LAYOUT
    ASM_KEYS: ClassVar[dict[str, str]] = {"act": "act_addr", "table": "table_addr",
                                          "count": "count"}
    SUMMARY: ClassVar[str] = "precompute tables from activation words"
    mode: Mode
    act_addr: int
    table_addr: int
    count: int
    reserved: int = 0

    __post_init__ = _mode_post_init


@dataclass(frozen=True)
class Lmma(Instruction):
    """If ``clear``, zero the m x n accumulators and the m row sums first. Then for plane b
    in 0..planes-1, for group j in 0..count-1: read table word ``table_addr+j`` and weight
    word ``weight_addr + b*count + j``; unit (r, c) adds ``(sign ? -H_r[idx] : H_r[idx]) <<
    shift`` to its accumulator (shift = b in bit-serial mode, 1 in ELUT mode), and in plane 0
    of bit-serial mode row sum r adds ``-H_r[0]``. All sums wrap modulo 2^sum_bits."""
    OPCODE: ClassVar[Opcode] = Opcode.LMMA
    LAYOUT: ClassVar[data.StructLayout] = LMMA_LAYOUT
    ASM_KEYS: ClassVar[dict[str, str]] = {"table": "table_addr", "weight": "weight_addr",
                                          "count": "count", "planes": "planes"}
    SUMMARY: ClassVar[str] = "table lookups of one output tile, accumulate"
    mode: Mode
    table_addr: int
    weight_addr: int
    count: int
    planes: int = 1
    clear: int = 0
    reserved: int = 0

    def __post_init__(self):
        _mode_post_init(self)
        object.__setattr__(self, "clear", int(self.clear) if isinstance(self.clear, bool)
                           else self.clear)


@dataclass(frozen=True)
class Store(Instruction):
    """For r in 0..m-1: write output word ``out_addr+r`` with, per column,
    ``(acc[r][col] + c * rowsum[r]) >> 1`` (sum taken modulo 2^sum_bits, arithmetic shift;
    the result is acc_bits wide). Accumulators are left unchanged."""
    OPCODE: ClassVar[Opcode] = Opcode.STORE
    LAYOUT: ClassVar[data.StructLayout] = STORE_LAYOUT
    ASM_KEYS: ClassVar[dict[str, str]] = {"out": "out_addr", "c": "c"}
    SUMMARY: ClassVar[str] = "finalize the accumulators into output words"
    out_addr: int
    c: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class Halt(Instruction):
    """Stop; status becomes done (busy drops)."""
    OPCODE: ClassVar[Opcode] = Opcode.HALT
    LAYOUT: ClassVar[data.StructLayout] = HALT_LAYOUT
    ASM_KEYS: ClassVar[dict[str, str]] = {}
    SUMMARY: ClassVar[str] = "stop, status done"
    reserved: int = 0


@dataclass(frozen=True)
class Illegal:
    """A word whose opcode is none of :class:`Opcode`; executing it raises ILLEGAL_OPCODE.
    Assembles and disassembles as ``.word 0x...``."""
    word: int

    @property
    def opcode(self) -> int:
        return self.word & ((1 << OPCODE_BITS) - 1)

    @property
    def mnemonic(self) -> str:
        return ".word"

    def encode(self) -> int:
        return self.word

    def __str__(self) -> str:
        return f".word 0x{self.word:0{INSTR_BITS // 4}x}"


INSTRUCTION_CLASSES: dict[Opcode, type[Instruction]] = {
    cls.OPCODE: cls for cls in (Nop, Precomp, Lmma, Store, Halt)}
_BY_MNEMONIC = {cls.OPCODE.name.lower(): cls for cls in INSTRUCTION_CLASSES.values()}


def encode(instr: Instruction | Illegal) -> int:
    """The :data:`INSTR_BITS`-bit word of ``instr``."""
    if not isinstance(instr, (Instruction, Illegal)):
        raise IsaError(f"cannot encode {instr!r}: not an instruction")
    return instr.encode()


def decode(word: int) -> Instruction | Illegal:
    """Decode one instruction word. Unknown opcodes give :class:`Illegal`; fields, including
    nonzero reserved bits, are kept so that ``encode(decode(w)) == w`` for every word."""
    if isinstance(word, bool) or not isinstance(word, int):
        try:
            word = int(word)           # NumPy integers
        except (TypeError, ValueError):
            raise IsaError(f"instruction word {word!r} is not an integer") from None
    if not 0 <= word < (1 << INSTR_BITS):
        raise IsaError(f"instruction word {word:#x} is out of range: allowed 0..2^{INSTR_BITS}-1")
    try:
        opcode = Opcode(word & ((1 << OPCODE_BITS) - 1))
    except ValueError:
        return Illegal(word)
    cls = INSTRUCTION_CLASSES[opcode]
    values = {}
    for name, field in cls.LAYOUT:
        if name == "opcode":
            continue
        raw = (word >> field.offset) & ((1 << field.width) - 1)
        shape = field.shape
        if isinstance(shape, type) and issubclass(shape, enum.Enum):
            values[name] = shape(raw)
        elif Shape.cast(shape).signed and raw >> (field.width - 1):
            values[name] = raw - (1 << field.width)
        else:
            values[name] = raw
    return cls(**values)


# -- assembler / disassembler ---------------------------------------------------------------

def _format_instruction(instr: Instruction) -> str:
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


# -- validation -----------------------------------------------------------------------------

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


# -- timing contract ------------------------------------------------------------------------

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
    """
    START: int = 4
    ISSUE: int = 1
    PRECOMP_READ: int = 2
    LMMA_LATENCY: int = 2
    STORE_OFFER: int = 1
    STEP_STAGES: int = 3
    FINALIZE_STAGES: int = 3
    TABLE_STAGE_LEVELS: int = 2

    def table_latency(self, config: CoreConfig) -> int:
        """Pipeline stages of the table precompute unit of ``config``."""
        depth = table_unit_depth(config.g, config.elut_g, config.symmetrize)
        return max(1, -(-depth // self.TABLE_STAGE_LEVELS))

    def precomp_latency(self, config: CoreConfig) -> int:
        """Cycles of a PRECOMP beyond its ``count``: the read and the table unit pipeline."""
        return self.PRECOMP_READ + self.table_latency(config)

    def step_latency(self, config: CoreConfig) -> int:
        """Cycles from a step's acceptance by the LUT core to its effect in the
        accumulators: STEP_STAGES, plus the broadcast stage when there is one."""
        return self.STEP_STAGES + (1 if config.broadcast_groups > 1 else 0)

    def finalize_latency(self, config: CoreConfig) -> int:
        """Cycles from a finalize's acceptance by the LUT core to its first output beat."""
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
        total += instruction_cycles(instr, config, timing)
        count += 1
        if isinstance(instr, Halt) or validate(instr, config) is not None:
            return total
    if count >= config.instr_depth:
        return total + timing.ISSUE
    raise IsaError(f"phase_cycles: no HALT or fault in {count} word(s) and the instruction "
                   f"memory holds {config.instr_depth}: the rest of the run is unknown")


# -- host port memory map -------------------------------------------------------------------

#: Width of a host port address.
HOST_ADDR_BITS = 32
#: The region is ``addr[31:REGION_SHIFT]``; the offset in it ``addr[REGION_SHIFT-1:0]``.
REGION_SHIFT = 28
#: The value of the ID CSR ("LUTC" in ASCII), truncated to ``host_bits``.
ID_VALUE = 0x4C555443


class Region(enum.Enum, shape=HOST_ADDR_BITS - REGION_SHIFT):
    """Host port regions, ``addr[31:28]``."""
    CSR = 0
    INSTR = 1
    ACT = 2
    TABLE = 3
    WEIGHT = 4
    OUTPUT = 5


class Csr(enum.IntEnum):
    """CSR offsets in region CSR (one host word each)."""
    ID = 0
    CTRL = 1
    STATUS = 2
    CYCLES_LO = 3
    CYCLES_HI = 4
    PC = 5


#: CTRL (write): bit 0 starts at pc 0 (ignored while busy); bit 1 clears done and error.
CTRL_LAYOUT = data.StructLayout({"start": 1, "clear": 1})
#: STATUS (read): busy, done, error flags; the error code in bits 15:8.
STATUS_LAYOUT = data.StructLayout({"busy": 1, "done": 1, "error": 1, "reserved": 5,
                                   "error_code": ErrorCode})

_CSR_TEXT = {
    Csr.ID: ("read", f"constant {ID_VALUE:#010x} ('LUTC'), low host_bits bits"),
    Csr.CTRL: ("write", "bit 0 start at pc 0 (ignored while busy), bit 1 clear done and error"),
    Csr.STATUS: ("read", "bit 0 busy, bit 1 done, bit 2 error, bits 15:8 error code"),
    Csr.CYCLES_LO: ("read", "cycles of the last (or running) start, low host word"),
    Csr.CYCLES_HI: ("read", "cycles, next host word"),
    Csr.PC: ("read", "program counter (of the faulting instruction after an error)"),
}

_REGION_TEXT = {
    Region.CSR: ("see CSRs", "-"),
    Region.INSTR: ("write", "write only while idle; a write while busy sets BUSY_WRITE and is "
                            "dropped"),
    Region.ACT: ("read/write", "writes while busy set BUSY_WRITE and are dropped"),
    Region.TABLE: ("read", "debug"),
    Region.WEIGHT: ("read/write", "writes while busy set BUSY_WRITE and are dropped"),
    Region.OUTPUT: ("read", ""),
}


def _region(region) -> Region:
    try:
        return region if isinstance(region, Region) else Region(region)
    except ValueError:
        raise IsaError(f"region {region!r} is unknown: allowed "
                       f"{', '.join(f'{r.name}={r.value}' for r in Region)}") from None


def region_depth(region, config: CoreConfig) -> int:
    """Words in ``region`` on ``config`` (CSR: the number of CSRs)."""
    region = _region(region)
    return {
        Region.CSR: len(Csr),
        Region.INSTR: config.instr_depth,
        Region.ACT: config.act_depth,
        Region.TABLE: config.table_depth,
        Region.WEIGHT: config.weight_depth,
        Region.OUTPUT: config.out_depth,
    }[region]


def region_word_bits(region, config: CoreConfig) -> int:
    """Width of one word of ``region`` on ``config`` (docs/architecture.md, "Buffers")."""
    region = _region(region)
    return {
        Region.CSR: config.host_bits,
        Region.INSTR: INSTR_BITS,
        Region.ACT: config.act_word_bits,
        Region.TABLE: config.table_word_bits,
        Region.WEIGHT: config.weight_word_bits,
        Region.OUTPUT: config.out_word_bits,
    }[region]


def sub_words(word_bits: int, host_bits: int) -> int:
    """Host words one buffer word of ``word_bits`` spans: ceil(word_bits / host_bits)."""
    if word_bits < 1 or host_bits < 1:
        raise IsaError(f"sub_words: word_bits={word_bits}, host_bits={host_bits}: must be >= 1")
    return -(-word_bits // host_bits)


def sub_bits(word_bits: int, host_bits: int) -> int:
    """Address bits of the sub-word index: ceil(log2(sub_words)) (0 for one sub-word)."""
    return (sub_words(word_bits, host_bits) - 1).bit_length()


def host_address(region, word: int = 0, sub: int = 0, *, config: CoreConfig) -> int:
    """Host address of sub-word ``sub`` of word ``word`` of ``region``:
    ``region << 28 | word << sub_bits | sub`` (for CSRs ``word`` is the :class:`Csr`)."""
    region = _region(region)
    depth = region_depth(region, config)
    if not 0 <= word < depth:
        raise IsaError(f"host_address: word {word} is out of range for region {region.name}: "
                       f"allowed 0..{depth - 1}")
    bits = region_word_bits(region, config)
    n_sub = sub_words(bits, config.host_bits)
    if not 0 <= sub < n_sub:
        raise IsaError(f"host_address: sub-word {sub} is out of range for region {region.name}: "
                       f"allowed 0..{n_sub - 1}")
    offset = (word << sub_bits(bits, config.host_bits)) | sub
    if offset >> REGION_SHIFT:
        raise IsaError(f"host_address: offset {offset:#x} of region {region.name} needs more "
                       f"than {REGION_SHIFT} bits on config '{config.name}'")
    return (region.value << REGION_SHIFT) | offset


def split_host_words(value: int, word_bits: int, host_bits: int) -> list[int]:
    """A buffer word as its host words, sub-word 0 holding the least significant bits."""
    if not 0 <= value < (1 << word_bits):
        raise IsaError(f"word {value:#x} does not fit {word_bits} bits")
    mask = (1 << host_bits) - 1
    return [(value >> (i * host_bits)) & mask for i in range(sub_words(word_bits, host_bits))]


def join_host_words(parts: Iterable[int], word_bits: int, host_bits: int) -> int:
    """Inverse of :func:`split_host_words` (bits above ``word_bits`` are dropped)."""
    value = 0
    for i, part in enumerate(parts):
        value |= (int(part) & ((1 << host_bits) - 1)) << (i * host_bits)
    return value & ((1 << word_bits) - 1)


# -- reference document ---------------------------------------------------------------------

_FIELD_TEXT = {
    "opcode": "operation, see Opcodes",
    "mode": "0 bit-serial, 1 ELUT",
    "count": "K groups (activation / table words) to process, 1..65536",
    "table_addr": "first table word",
    "act_addr": "first activation word",
    "weight_addr": "first weight word (plane b of group j at weight_addr + b*count + j)",
    "planes": "weight bit planes B (bit-serial 1..weight_bits; ELUT 1)",
    "clear": "1: zero accumulators and row sums first; 0: accumulate",
    "c": "correction c = 2^B - 1 - 2z (bit-serial), 0 (ELUT)",
    "out_addr": "first of the m output words",
    "reserved": "must be 0 (else BAD_FIELD)",
}

_CYCLE_TEXT = {
    Opcode.NOP: "ISSUE",
    Opcode.PRECOMP: "count + PRECOMP_READ + table unit latency (`Timing.precomp_latency`)",
    Opcode.LMMA: "planes*count + LMMA_LATENCY",
    Opcode.STORE: "m * out_beats + store latency (`Timing.store_latency`)",
    Opcode.HALT: "ISSUE",
}


_EXAMPLES = {
    Opcode.NOP: Nop(),
    Opcode.PRECOMP: Precomp(Mode.BITSERIAL, act_addr=0, table_addr=0, count=640),
    Opcode.LMMA: Lmma(Mode.BITSERIAL, table_addr=0, weight_addr=128, count=640, planes=2, clear=1),
    Opcode.STORE: Store(out_addr=0, c=1),
    Opcode.HALT: Halt(),
}


def _bits(field: data.Field) -> str:
    hi, lo = field.offset + field.width - 1, field.offset
    return f"{hi}:{lo}" if hi != lo else f"{lo}"


def _shape_text(shape) -> str:
    if isinstance(shape, type) and issubclass(shape, enum.Enum):
        return shape.__name__
    s = Shape.cast(shape)
    return f"{'s' if s.signed else 'u'}{s.width}"


def render_doc() -> str:
    """The ISA reference (markdown), generated from the definitions in this module."""
    out = []
    w = out.append
    w("# lutcore instruction set\n")
    w("Generated from `lutcore/spec/isa.py` by `python -m lutcore.spec.isa --doc docs/isa.md`; "
      "do not edit by hand. The micro-architecture (buffers, word layouts, scaling) is "
      "`docs/architecture.md`.\n")
    w("## Instruction word\n")
    w(f"Every instruction is one {INSTR_BITS}-bit word; the opcode is bits "
      f"{OPCODE_BITS - 1}:0. Bits are numbered from the least significant. Fields are "
      f"unsigned unless the shape says `s` (two's complement). Address fields are "
      f"{ADDR_BITS} bits (buffer depths are at most {MAX_DEPTH} words), counts "
      f"{COUNT_BITS} bits. The RTL views a word as `View(INSTRUCTION_LAYOUT, word)` "
      f"(`.opcode`, `.precomp.count`, `.lmma.planes`, ...). The controller executes one "
      f"instruction at a time, in order, starting at pc 0.\n")
    w("## Opcodes\n")
    w("| value | opcode | assembler | summary |")
    w("|---|---|---|---|")
    for op in Opcode:
        cls = INSTRUCTION_CLASSES[op]
        w(f"| {op.value:#x} | {op.name} | `{op.name.lower()}` | {cls.SUMMARY} |")
    w(f"\nEvery other opcode value is illegal (ILLEGAL_OPCODE).\n")
    w("## Modes\n")
    w("| value | mode | group | table |")
    w("|---|---|---|---|")
    w(f"| {Mode.BITSERIAL.value} | BITSERIAL (`bitserial`) | g | symmetrized bit-serial table, "
      f"2^(g-1) entries (DESIGN §2.1) |")
    w(f"| {Mode.ELUT.value} | ELUT (`elut`) | elut_g | element-wise ternary table, "
      f"(3^elut_g+1)/2 entries (DESIGN §2.2) |\n")
    w("## Formats\n")
    for op in Opcode:
        cls = INSTRUCTION_CLASSES[op]
        w(f"### {op.name} ({op.value:#x})\n")
        doc = " ".join(cls.__doc__.split())
        w(f"{doc}\n")
        w("| bits | field | shape | meaning |")
        w("|---|---|---|---|")
        for name, field in cls.LAYOUT:
            w(f"| {_bits(field)} | `{name}` | {_shape_text(field.shape)} | {_FIELD_TEXT[name]} |")
        example = _EXAMPLES[op]
        w(f"\nAssembler: `{example}` = `{example.encode():#018x}`. "
          f"Cycles: {_CYCLE_TEXT[op]}.\n")
    w("## Timing\n")
    w("Cycles count from the `start` command until status becomes done or error "
      "(docs/architecture.md, \"Timing contract\"). The controller fetches and decodes the "
      "next instruction while the current one executes, so a start costs `START` once and "
      "each instruction the cycles it occupies the execute stage (the per-opcode costs "
      "above).\n")
    w("| constant | cycles |")
    w("|---|---|")
    for f in dataclasses.fields(Timing):
        w(f"| `{f.name}` | {getattr(TIMING, f.name)} |")
    w("\nThe table unit latency is `max(1, ceil(depth / TABLE_STAGE_LEVELS))`, `depth` the "
      "adder depth of the table precompute unit (`table_unit_depth`: `ceil(log2 g) + g - 1` "
      "symmetrized, `ceil(log2 g) + ceil(g/2)` full tables, at least `elut_g - 1` with ELUT).\n")
    w("The LUT core's step latency is `STEP_STAGES`, plus one broadcast stage when n > "
      f"{BROADCAST_COLS} (one copy of the step per {BROADCAST_COLS} columns); a STORE writes "
      "each of the m rows as `out_beats` beats (output words of at most "
      f"{OUT_BEAT_MAX_BITS} bits in the block RAM; the host still sees one word per row).\n")
    w("| preset | table unit latency | PRECOMP | LMMA | step latency | out_beats | STORE |")
    w("|---|---|---|---|---|---|---|")
    for name, cfg in PRESETS.items():
        w(f"| {name} | {TIMING.table_latency(cfg)} | count + {TIMING.precomp_latency(cfg)} | "
          f"planes*count + {TIMING.LMMA_LATENCY} | {TIMING.step_latency(cfg)} | "
          f"{cfg.out_beats} | {cfg.m * cfg.out_beats + TIMING.store_latency(cfg)} |")
    w("\nUtilization = (sum over LMMA of planes*count) / cycles.\n")
    w("## Error codes\n")
    w("A faulting instruction does nothing (costs ISSUE); the controller stops with the error "
      "flag and the code in STATUS[15:8]. When an instruction breaks several rules the first "
      "of ILLEGAL_OPCODE, BAD_MODE, BAD_FIELD, ADDR_RANGE is reported.\n")
    w("| code | name | raised when |")
    w("|---|---|---|")
    for code in ErrorCode:
        w(f"| {code.value} | {code.name} | {_ERROR_TEXT[code]} |")
    w("\n## Host port memory map\n")
    w(f"Addresses are {HOST_ADDR_BITS} bits and count host words (`host_bits` wide). "
      f"`addr[{HOST_ADDR_BITS - 1}:{REGION_SHIFT}]` selects the region, "
      f"`addr[{REGION_SHIFT - 1}:0]` is the offset in it.\n")
    w("| region | value | access | notes |")
    w("|---|---|---|---|")
    for region in Region:
        access, notes = _REGION_TEXT[region]
        w(f"| {region.name} | {region.value} | {access} | {notes} |")
    w("\nA buffer word of W bits spans `sub_words = ceil(W / host_bits)` host words at offset "
      "`word << sub_bits | sub`, `sub_bits = ceil(log2(sub_words))`; sub-word 0 holds the least "
      "significant bits. A write is committed when its last sub-word (`sub_words - 1`) is "
      "written; reading any sub-word returns that part of the stored word.\n")
    w("| CSR | offset | access | contents |")
    w("|---|---|---|---|")
    for csr in Csr:
        access, text = _CSR_TEXT[csr]
        w(f"| {csr.name} | {csr.value} | {access} | {text} |")
    w("\n| STATUS bits | field |")
    w("|---|---|")
    for name, field in STATUS_LAYOUT:
        w(f"| {_bits(field)} | `{name}` |")
    w("\n## Assembler syntax\n")
    w("One instruction per line; `#` starts a comment; mnemonics, modes and keys are case "
      "insensitive; numbers are decimal, `0x` hex or `0b` binary; operands are `key=value` in "
      "any order; `clear` is a flag (absent = accumulate); `reserved=N` sets reserved bits; "
      "`.word 0x...` emits a raw word (the disassembler writes illegal words this way).\n")
    w("```")
    for op in Opcode:
        w(str(_EXAMPLES[op]))
    w("```")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lutcore.spec.isa",
                                     description="Write the ISA reference (markdown).")
    parser.add_argument("--doc", metavar="PATH", help="write the reference here (default: stdout)")
    args = parser.parse_args(argv)
    text = render_doc()
    if args.doc:
        with open(args.doc, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
