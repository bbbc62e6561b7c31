"""The ISA reference (``docs/isa.md``), generated from the definitions of this package."""

from __future__ import annotations

import dataclasses

from amaranth.hdl import Shape
from amaranth.lib import data, enum

from ..config import BROADCAST_COLS, OUT_BEAT_MAX_BITS, PRESETS
from .encoding import (ADDR_BITS, COUNT_BITS, INSTR_BITS, INSTRUCTION_CLASSES, MAX_DEPTH,
                       OPCODE_BITS, ErrorCode, Halt, Lmma, Mode, Nop, Opcode, Precomp, Store,
                       _ERROR_TEXT)
from .memory_map import (HOST_ADDR_BITS, REGION_SHIFT, STATUS_LAYOUT, Csr, Region, _CSR_TEXT,
                         _REGION_TEXT)
from .timing import TIMING, Timing

_FIELD_TEXT = {
    "opcode": "operation, see Opcodes",
    "mode": "0 bit-serial, 1 ELUT",
    "count": "K steps (activation / table words; L = lookups K groups each) to process, "
             "1..65536",
    "table_addr": "first table word",
    "act_addr": "first activation word",
    "weight_addr": "first weight word (plane b of step j at weight_addr + b*count + j)",
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
    w("Generated from `lutcore/spec/isa/` by `lutcore docs --out docs/isa.md`; "
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
    w("\nUtilization = (sum over LMMA of planes*count) / cycles: the share of cycles that step "
      "the array. Useful utilization = (M * N * ceil(K / g) * planes) / (cycles * m * n * "
      "lookups): the share of the array's lookups that the GEMM needs (an M = 1 GEMV on an "
      "m = 2 tile steps the array every cycle, but half of its lookups are padding rows).\n")
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


def write_doc(path) -> None:
    """Write the reference to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_doc())
