"""``lutcore compile``: compile a GEMM ``O = A @ W.T`` from ``.npy`` files into a program.

The program (``.npz``, see :class:`lutcore.sw.compiler.Program`) holds the phases' buffer
images, instruction words and output reads; ``lutcore disasm`` lists it. A summary is printed:
phases, instructions, buffer words the host moves, predicted cycles and utilization.
"""

from __future__ import annotations


from ..errors import LutcoreError
from ..sw.compiler import KSPLITS, Program, compile_gemm
from ._config import load_config
from .inputs import CliError, output_file, writing
from .operands import add_operand_arguments, load_operands, weight_options

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "format_summary"]


HELP = "compile a GEMM O = A @ W.T into a LUT core program (.npz)"
DESCRIPTION = ("Lower O = A @ W.T (A int8 [M, K], W [N, K] ternary, or B-bit with a zero "
               "point in bit-serial mode; B and Z are inferred from W when not given) "
               "to LUT instructions and buffer images.")


def add_arguments(p) -> None:
    """The ``compile`` options."""
    add_operand_arguments(p, "PROG.npz", "program file to write")
    p.add_argument("--ksplit", choices=KSPLITS, default="auto",
                   help="K split when tables do not fit: device accumulate, host sum of "
                        "partial outputs, or auto (fewer cycles; default)")


def format_summary(program: Program, path: str | None = None) -> str:
    """Human-readable summary lines of a program."""
    s = program.summary()
    m, n, k = program.shape
    cfg = program.config
    meta = program.meta
    words = s["words"]
    lines = []
    if path:
        lines.append(f"program      {path}")
    lines += [
        f"config       {cfg.name} (m={cfg.m} n={cfg.n} g={cfg.g} elut_g={cfg.elut_g} "
        f"weight_bits={cfg.weight_bits} acc_bits={cfg.acc_bits}"
        + (f" lookups={cfg.lookups})" if cfg.lookups > 1 else ")"),
        f"gemm         M={m} N={n} K={k}, mode {program.mode}"
        + (f", weight_bits={meta['weight_bits']} zero_point={meta['zero_point']} "
           f"c={meta['correction']}" if program.mode == "bitserial" else ""),
        f"tiling       {meta.get('row_blocks')} row block(s) x {meta.get('col_tiles')} column "
        f"tile(s), {meta.get('groups')} K group(s) of {meta.get('group')}"
        + (f" in {meta.get('steps')} step(s) of {cfg.lookups}" if cfg.lookups > 1 else "")
        + ", K split "
        f"{meta.get('ksplit')} ({meta.get('k_chunks')} chunk(s))",
        f"phases       {s['phases']}",
        f"instructions {s['instructions']}",
        f"words moved  act {words['act']}, weight {words['weight']}, instr {words['instr']} "
        f"written; output {words['output']} read",
        f"cycles       {s['cycles']} predicted, {s['lookups']} LMMA steps, "
        f"utilization {100 * s['utilization']:.2f}% (array steps / cycles), useful "
        f"{100 * s['useful_utilization']:.2f}% ({s['useful_lookups']} needed lookups / "
        f"cycles x m x n{' x lookups' if cfg.lookups > 1 else ''})",
    ]
    return "\n".join(lines)


def run(args) -> int:
    """Execute ``lutcore compile``; bad input raises a one-line error (exit status 2)."""
    config = load_config(args)
    out_path = output_file("--out", args.out, {"--acts": args.acts, "--weights": args.weights,
                                               "--config": args.config})
    ops = load_operands(args, config, infer_weights=True)
    try:
        program = compile_gemm(ops.a, ops.w, config=config, mode=args.mode,
                               allow_wrap=args.allow_wrap, ksplit=args.ksplit,
                               **weight_options(args))
    except LutcoreError as e:
        text = str(e).replace("allow_wrap=True (--allow-wrap)", "--allow-wrap")
        raise CliError(text) from None
    with writing("--out", out_path):
        program.save(out_path)
    print(format_summary(program, args.out))
    return 0
