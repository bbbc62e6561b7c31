"""``lutcore compile``: compile a GEMM ``O = A @ W.T`` from ``.npy`` files into a program.

The program (``.npz``, see :class:`lutcore.sw.compiler.Program`) holds the phases' buffer
images, instruction words and output reads; ``lutcore disasm`` lists it. A summary is printed:
phases, instructions, buffer words the host moves, predicted cycles and utilization.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import LutcoreError
from ..spec.config import preset, preset_names
from ..sw.compiler import KSPLITS, Program, compile_gemm
from . import CliError

__all__ = ["register", "run", "load_npy", "format_summary"]

MODES = ("bitserial", "elut")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``compile`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "compile", help="compile a GEMM O = A @ W.T into a LUT core program (.npz)",
        description="Lower O = A @ W.T (A int8 [M, K], W [N, K] ternary, or B-bit with a zero "
                    "point in bit-serial mode) to LUT instructions and buffer images.")
    p.add_argument("--acts", required=True, metavar="A.npy", help="activations, int8 [M, K]")
    p.add_argument("--weights", required=True, metavar="W.npy", help="weights, integer [N, K]")
    p.add_argument("--out", required=True, metavar="PROG.npz", help="program file to write")
    p.add_argument("--preset", default="default", metavar="P",
                   help=f"core configuration: {', '.join(preset_names())} (default: default)")
    p.add_argument("--mode", choices=MODES, default="bitserial",
                   help="LUT mode (default: bitserial)")
    p.add_argument("--allow-wrap", action="store_true",
                   help="accept a GEMM whose worst case overflows acc_bits (outputs wrap)")
    p.add_argument("--weight-bits", type=int, metavar="B",
                   help="bit-serial weight code bits (default: inferred; ternary 2)")
    p.add_argument("--zero-point", type=int, metavar="Z",
                   help="bit-serial weight zero point, w = q - Z (default: inferred; ternary 1)")
    p.add_argument("--ksplit", choices=KSPLITS, default="auto",
                   help="K split when tables do not fit: device accumulate, host sum of "
                        "partial outputs, or auto (fewer cycles; default)")
    p.set_defaults(func=run)
    return p


def load_npy(flag: str, path: str) -> np.ndarray:
    """One array from a ``.npy`` file; failures are one-line :class:`LutcoreError`\\ s."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise LutcoreError(f"{flag} '{path}' cannot be read: no such file") from None
    except IsADirectoryError:
        raise LutcoreError(f"{flag} '{path}' cannot be read: it is a directory") from None
    except (OSError, ValueError, EOFError) as e:
        text = " ".join(str(e).split()) or type(e).__name__
        raise LutcoreError(f"{flag} '{path}' is not a readable .npy array: {text}") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise LutcoreError(f"{flag} '{path}' is an .npz archive: expected a single .npy array")
    return arr


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
        f"weight_bits={cfg.weight_bits} acc_bits={cfg.acc_bits})",
        f"gemm         M={m} N={n} K={k}, mode {program.mode}"
        + (f", weight_bits={meta['weight_bits']} zero_point={meta['zero_point']} "
           f"c={meta['correction']}" if program.mode == "bitserial" else ""),
        f"tiling       {meta.get('row_blocks')} row block(s) x {meta.get('col_tiles')} column "
        f"tile(s), {meta.get('groups')} K group(s) of {meta.get('group')}, K split "
        f"{meta.get('ksplit')} ({meta.get('k_chunks')} chunk(s))",
        f"phases       {s['phases']}",
        f"instructions {s['instructions']}",
        f"words moved  act {words['act']}, weight {words['weight']}, instr {words['instr']} "
        f"written; output {words['output']} read",
        f"cycles       {s['cycles']} predicted, {s['lookups']} LMMA steps, "
        f"utilization {100 * s['utilization']:.2f}%",
    ]
    return "\n".join(lines)


def run(args) -> int:
    """Execute ``lutcore compile``; bad input raises a one-line error (exit status 2)."""
    config = preset(args.preset)
    a = load_npy("--acts", args.acts)
    w = load_npy("--weights", args.weights)
    try:
        program = compile_gemm(a, w, config=config, mode=args.mode,
                               weight_bits=args.weight_bits, zero_point=args.zero_point,
                               allow_wrap=args.allow_wrap, ksplit=args.ksplit)
    except LutcoreError as e:
        text = str(e).replace("allow_wrap=True (--allow-wrap)", "--allow-wrap")
        raise CliError(text) from None
    try:
        program.save(args.out)
    except OSError as e:
        raise CliError(f"--out '{args.out}' cannot be written: {e.strerror or e}") from None
    print(format_summary(program, args.out))
    return 0
