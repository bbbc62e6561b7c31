"""Instruction encoding: field widths, the opcode, mode and error-code enums, the instruction
formats as Amaranth layouts, instruction objects and :func:`encode` / :func:`decode`.

Every instruction is one :data:`INSTR_BITS`-bit word. Its format is a
:class:`~amaranth.lib.data.StructLayout` (:data:`PRECOMP_LAYOUT`, :data:`LMMA_LAYOUT`, ...), all
:data:`INSTR_BITS` wide with the opcode in the low bits; :data:`INSTRUCTION_LAYOUT` is their
union, so the decoder views a word as ``View(INSTRUCTION_LAYOUT, word)``. Every 64-bit word
decodes (unknown opcodes to :class:`Illegal`) and re-encodes to itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, NamedTuple

from amaranth.hdl import Shape, signed
from amaranth.lib import data, enum

from ...errors import IsaError
from .. import numerics as nx

__all__ = [
    "INSTR_BITS", "OPCODE_BITS", "ADDR_BITS", "COUNT_BITS", "PLANES_BITS", "CORRECTION_BITS",
    "MAX_DEPTH", "MAX_WEIGHT_BITS", "Opcode", "Mode", "ErrorCode", "PRECOMP_LAYOUT",
    "LMMA_LAYOUT", "STORE_LAYOUT", "NOP_LAYOUT", "HALT_LAYOUT", "INSTRUCTION_LAYOUT", "IsaError",
    "Instruction", "Nop", "Precomp", "Lmma", "Store", "Halt",
    "Illegal", "INSTRUCTION_CLASSES", "encode", "decode", "error_text", "field_range",
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

def error_text(code: ErrorCode) -> str:
    """What raises ``code`` (docs/isa.md, "Error codes")."""
    return _ERROR_TEXT[ErrorCode(code)]


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

def field_range(shape) -> tuple[int, int]:
    s = Shape.cast(shape)
    if s.signed:
        return -(1 << (s.width - 1)), (1 << (s.width - 1)) - 1
    return 0, (1 << s.width) - 1


class _Field(NamedTuple):
    """One field of an instruction layout, as encode and decode use it."""
    name: str
    enum: type | None          # the field's enum type, if it is one
    signed: bool
    lo: int
    hi: int
    width: int
    offset: int


@lru_cache(maxsize=None)
def _fields(layout: data.StructLayout) -> tuple[_Field, ...]:
    """The fields of ``layout`` but the opcode, read once per layout (a compiled program
    encodes and decodes hundreds of thousands of words)."""
    out = []
    for name, field in layout:
        if name == "opcode":
            continue
        shape = field.shape
        is_enum = isinstance(shape, type) and issubclass(shape, enum.Enum)
        lo, hi = field_range(shape)
        out.append(_Field(name, shape if is_enum else None, Shape.cast(shape).signed, lo, hi,
                          field.width, field.offset))
    return tuple(out)


class Instruction:
    """Base of the instruction classes. Subclasses are frozen dataclasses whose fields are
    the fields of their ``LAYOUT`` (without ``opcode``); :meth:`encode` packs them."""

    OPCODE: ClassVar[Opcode]
    LAYOUT: ClassVar[data.StructLayout]
    #: assembler key -> field name, in the order the disassembler writes them
    ASM_KEYS: ClassVar[dict[str, str]] = {}
    #: one-line summary for the reference
    SUMMARY: ClassVar[str] = ""

    def __init_subclass__(cls, *, opcode: Opcode | None = None,
                          layout: data.StructLayout | None = None, summary: str = "",
                          asm_keys: dict[str, str] | None = None, **kwargs):
        """An instruction class names its opcode, layout, summary and assembler keys in its
        class statement; an abstract base (no ``opcode``) names none."""
        super().__init_subclass__(**kwargs)
        if opcode is not None:
            cls.OPCODE, cls.LAYOUT, cls.SUMMARY = opcode, layout, summary
            cls.ASM_KEYS = asm_keys or {}

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
        for field in _fields(self.LAYOUT):
            name = field.name
            value = getattr(self, name)
            if field.enum is not None:
                if not isinstance(value, field.enum):
                    value = field.enum(value)
                value = value.value
            elif isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int):
                raise IsaError(f"{self.mnemonic}: field '{name}' = {value!r} is not an integer")
            if not field.lo <= value <= field.hi:
                raise IsaError(f"{self.mnemonic}: field '{name}' = {value} does not fit its "
                               f"{field.width}-bit field: allowed {field.lo}..{field.hi}")
            word |= (value & ((1 << field.width) - 1)) << field.offset
        return word

    def __str__(self) -> str:
        from .assembler import format_instruction
        return format_instruction(self)


def _mode_post_init(self):
    object.__setattr__(self, "mode", Mode.parse(self.mode))


@dataclass(frozen=True)
class _NoOperands(Instruction):
    """An instruction with no fields but its reserved bits."""
    reserved: int = 0


@dataclass(frozen=True)
class Nop(_NoOperands, opcode=Opcode.NOP, layout=NOP_LAYOUT, summary="no operation"):
    """Does nothing; costs its fetch."""


@dataclass(frozen=True)
class Precomp(Instruction, opcode=Opcode.PRECOMP, layout=PRECOMP_LAYOUT,
              summary="precompute tables from activation words",
              asm_keys={"act": "act_addr", "table": "table_addr", "count": "count"}):
    """For i in 0..count-1: build the ``m * lookups`` tables of activation word ``act_addr+i``
    from the first g (bit-serial) or elut_g (ELUT) activation slots of each table row, and
    write them to table word ``table_addr+i``. Bit-serial tables are symmetrized (2^(g-1) entries; 2^g in a build
    with ``symmetrize`` off), ELUT tables have (3^elut_g+1)/2 entries; the table word's
    entries past them are written 0."""
    mode: Mode
    act_addr: int
    table_addr: int
    count: int
    reserved: int = 0

    __post_init__ = _mode_post_init


@dataclass(frozen=True)
class Lmma(Instruction, opcode=Opcode.LMMA, layout=LMMA_LAYOUT,
           summary="table lookups of one output tile, accumulate",
           asm_keys={"table": "table_addr", "weight": "weight_addr", "count": "count",
                     "planes": "planes"}):
    """If ``clear``, zero the m x n accumulators and the m row sums first. Then for plane b
    in 0..planes-1, for step j in 0..count-1: read table word ``table_addr+j`` and weight
    word ``weight_addr + b*count + j``; for each of its L = ``lookups`` lookups l, unit
    (r, c) adds ``(sign ? -H[idx] : H[idx]) << shift`` with H table row ``r*L + l`` and
    code ``c*L + l`` (shift = b in bit-serial mode, 1 in ELUT mode), and in plane 0 of
    bit-serial mode row sum r adds ``-H[0]`` of its L tables. All sums wrap modulo
    2^sum_bits. On a core with FP activations the order is the FP contract's, every plane of
    a step before the next step (step j outer, plane b inner, same words), and each unit's
    L terms are summed as a tree and added to its partial sums (docs/architecture.md,
    "Floating-point activations")."""
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
class Store(Instruction, opcode=Opcode.STORE, layout=STORE_LAYOUT,
            summary="finalize the accumulators into output words",
            asm_keys={"out": "out_addr", "c": "c"}):
    """For r in 0..m-1: write output word ``out_addr+r`` with, per column,
    ``(acc[r][col] + c * rowsum[r]) >> 1`` (sum taken modulo 2^sum_bits, arithmetic shift;
    the result is acc_bits wide). Accumulators are left unchanged."""
    out_addr: int
    c: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class Halt(_NoOperands, opcode=Opcode.HALT, layout=HALT_LAYOUT, summary="stop, status done"):
    """Stop; status becomes done (busy drops)."""


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
    for field in _fields(cls.LAYOUT):
        raw = (word >> field.offset) & ((1 << field.width) - 1)
        if field.enum is not None:
            values[field.name] = field.enum(raw)
        elif field.signed and raw >> (field.width - 1):
            values[field.name] = raw - (1 << field.width)
        else:
            values[field.name] = raw
    return cls(**values)
