"""``lutcore gemm``: run one GEMM ``O = A @ W.T`` on a chosen backend.

Inputs are ``.npy`` files: activations A [M, K] (any integer dtype whose values fit int8, or
the configuration's act_bits if narrower), weights W [N, K], ternary (-1, 0, +1) or, with
``--weight-bits B --zero-point Z``, B-bit codes ``w = q - Z`` (bit-serial mode). The output O
is written as int32 [M, N] (int64 if acc_bits exceeds 32), wrapped to acc_bits. Every input
problem is reported in one line with exit status 2, before any backend runs and before the
output file is touched.

Floating-point activations: a ``float16`` activation file runs as FP16, a ``uint16`` file
with ``--act-format bf16`` as BF16 bit patterns (NumPy has no bfloat16), by the FP contract
(docs/architecture.md, "Floating-point activations"; ``--table-format``, ``--acc-format``)
on the FP variant of the chosen preset or config (``CoreConfig.with_act_format``), on every
backend (the accelerator's FP core takes rows of at most 512 bits: tiny, not default, on
rtl and uart); O is written as float32. NaN and infinity in the activations are allowed and
propagate as IEEE arithmetic says.
"""

from __future__ import annotations


import numpy as np

from ..host import OPTIONS, backend_names, run_gemm
from ..spec import fp
from ..spec import numerics as nx
from ..sw.kernels.validate import check_overflow
from ._config import load_config
from .inputs import CliError, describe, load_npy, output_file, write_npy
from .operands import add_operand_arguments, load_operands, weight_options

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "run_backend", "backend_options", "add_backend_arguments"]

# Command-line options only some backends take; which ones is the host's option table's.
_BACKEND_OPTIONS = ("port", "waves")


HELP = "run a GEMM O = A @ W.T from .npy files"
DESCRIPTION = ("Run O = A @ W.T for int8 activations A [M, K] and ternary (or B-bit) weights "
               "W [N, K] on a backend; write O [M, N] (int32, wrapped to acc_bits).")


def add_arguments(p) -> None:
    """The ``gemm`` options."""
    add_operand_arguments(p, "O.npy", "output, int32 [M, N] (float32 for FP activations)")
    p.add_argument("--act-format", choices=fp.ACT_FORMATS, default=None,
                   help="activation format (default: fp16 for a float16 file, else int8); "
                        "bf16 reads the file's uint16 values as bfloat16 bit patterns. FP "
                        "activations run on the preset's FP variant; NaN and infinity "
                        "propagate as IEEE arithmetic says")
    p.add_argument("--table-format", choices=fp.TABLE_FORMATS, default=None,
                   help="FP activations: table entry format (default fp32)")
    p.add_argument("--acc-format", choices=fp.ACC_FORMATS, default=None,
                   help="FP activations: accumulator format (default fp32)")
    add_backend_arguments(p)


def add_backend_arguments(p) -> None:
    """``--backend``, ``--port`` and ``--waves`` (see :func:`backend_options`)."""
    p.add_argument("--backend", choices=backend_names(), default="numpy",
                   help="where to run it (default: numpy, the host kernels)")
    p.add_argument("--port", metavar="PORT", help="serial port (uart backend)")
    p.add_argument("--waves", action="store_true", help="dump waveforms (rtl backend)")


def run_backend(a, w, *, backend: str, mode: str, config, **options):
    """The command line's one call into the GEMM backends (``run_gemm``'s signature)."""
    return run_gemm(a, w, backend=backend, mode=mode, config=config, **options)


def _options(args) -> dict:
    """The GEMM options of ``args`` and its backend options."""
    return {"allow_wrap": args.allow_wrap, **weight_options(args), **backend_options(args)}


def backend_options(args) -> dict:
    """``--port`` and ``--waves`` of ``args`` where given, refusing one given to a backend
    that does not use it (the host's option table says which do)."""
    options = {}
    for option in _BACKEND_OPTIONS:
        value = getattr(args, option)
        if value not in (None, False):
            owners = OPTIONS[option].backends
            if args.backend not in owners:
                raise CliError(f"--{option} is only used by --backend {', '.join(owners)}, "
                               f"not {args.backend!r}")
            options[option] = value
    return options


def run(args) -> int:
    """Execute ``lutcore gemm`` for parsed ``args``; return the exit status.

    Raises:
        LutcoreError: any bad input (the CLI prints one line, exit 2).
    """
    config = load_config(args)
    options = _options(args)
    act_format = _act_format(args, config)
    if act_format != "int8":
        return _run_fp(args, config, act_format, options)
    if args.table_format or args.acc_format:
        raise CliError("--table-format and --acc-format apply to FP activations (--act-format "
                       "fp16 or bf16)")
    out_path = output_file("--out", args.out, {"--acts": args.acts, "--weights": args.weights,
                                               "--config": args.config})
    # Backends take int8 activations, whatever wider act_bits a core has.
    act_bits = min(config.act_bits, np.iinfo(np.int8).bits)
    ops = load_operands(args, config, act_bits=act_bits)
    # DESIGN §2.3: refuse a GEMM that could overflow acc_bits unless wrapping is allowed.
    check_overflow(ops.k, act_bits, ops.max_weight, config.acc_bits, args.allow_wrap)

    result = run_backend(ops.a.astype(np.int8), ops.w.astype(np.int8), backend=args.backend,
                         mode=args.mode, config=config, **options)

    m, n = ops.a.shape[0], ops.w.shape[0]
    out = np.asarray(result.output)
    # Never write a wrong answer: a backend's output must have the GEMM's shape and width.
    if out.shape != (m, n) or out.dtype.kind not in "iu":
        raise CliError(f"--backend {args.backend!r} returned {out.dtype} shape {out.shape}: "
                       f"expected integers [M, N] = ({m}, {n})")
    if not (nx.fits_signed(int(out.min()), config.acc_bits)
            and nx.fits_signed(int(out.max()), config.acc_bits)):
        raise CliError(f"--backend {args.backend!r} returned values outside the signed "
                       f"acc_bits = {config.acc_bits} range")
    out_dtype = np.int32 if config.acc_bits <= np.iinfo(np.int32).bits else np.int64
    write_npy("--out", out_path, out.astype(out_dtype))

    print(f"lutcore gemm: wrote {args.out} ({np.dtype(out_dtype).name} [{m}, {n}]; "
          f"K = {ops.k}, mode {args.mode}, backend {args.backend}, preset {config.name})")
    if result.cycles is not None:
        print(f"cycles: {result.cycles}{utilization_text(result)}")
    return 0


def _act_format(args, config) -> str:
    """``--act-format``, or the FP configuration's, or fp16 when ``--acts`` holds float16
    (read from the header)."""
    if args.act_format is not None:
        return args.act_format
    if config.is_fp:
        return config.act_format
    a = load_npy("--acts", args.acts)
    if a.dtype.kind == "f" and a.dtype != np.float16:
        raise CliError(f"{describe('--acts', args.acts)} has dtype {a.dtype}: activations are "
                       f"integers (int8), float16 (fp16), or bfloat16 bit patterns as uint16 "
                       f"with --act-format bf16")
    return "fp16" if a.dtype == np.float16 else "int8"


def _run_fp(args, config, act_format: str, options: dict) -> int:
    """``lutcore gemm`` with FP activations: the FP variant of the chosen configuration (its
    act_format from the file or ``--act-format``, its formats from the flags), checked
    operands, float32 O."""
    from ..sw.kernels.fp import fp_activations
    from ..sw.kernels.validate import check_int_matrix, check_k_match, check_ternary
    if args.backend == "numpy" and (args.weight_bits is not None or args.zero_point is not None):
        raise CliError("--weight-bits/--zero-point with FP activations need a compiled "
                       "backend (iss, rtl, uart): --backend numpy takes ternary weights")
    out_path = output_file("--out", args.out, {"--acts": args.acts, "--weights": args.weights,
                                               "--config": args.config})
    if config.is_fp and config.act_format != act_format:
        raise CliError(f"--config holds act_format {config.act_format} but the activations "
                       f"are {act_format}")
    config = config.with_act_format(
        act_format, table_format=args.table_format or (config.table_format if config.is_fp
                                                       else "fp32"),
        acc_format=args.acc_format or (config.acc_format if config.is_fp else "fp32"))
    config.group(args.mode)
    acts, weights = describe("--acts", args.acts), describe("--weights", args.weights)
    a = fp_activations(load_npy("--acts", args.acts), act_format, acts)
    w = load_npy("--weights", args.weights)
    w = (check_ternary(w, weights) if args.backend == "numpy"
         else check_int_matrix(w, weights, "[N, K]"))
    k = check_k_match(a.shape, w.shape, acts, weights)
    if args.backend != "numpy" and (w.min() < -128 or w.max() > 127):
        raise CliError(f"{weights} holds values {w.min()}..{w.max()}: allowed int8 weights")
    result = run_backend(a, w.astype(np.int8), backend=args.backend, mode=args.mode,
                         config=config, **options)
    out = np.asarray(result.output)
    m, n = a.shape[0], w.shape[0]
    if out.shape != (m, n) or out.dtype.kind != "f":
        raise CliError(f"--backend {args.backend!r} returned {out.dtype} shape {out.shape}: "
                       f"expected floats [M, N] = ({m}, {n})")
    write_npy("--out", out_path, out.astype(np.float32))
    print(f"lutcore gemm: wrote {args.out} (float32 [{m}, {n}]; K = {k}, mode {args.mode}, "
          f"activations {act_format}, tables {config.table_format}, accumulators "
          f"{config.acc_format}, backend {args.backend}, preset {config.name})")
    if result.cycles is not None:
        print(f"cycles: {result.cycles}{utilization_text(result)}")
    return 0


def utilization_text(result) -> str:
    """Both utilizations where the backend reports them: array steps per cycle, and useful
    lookups per peak lookup."""
    parts = []
    if result.utilization is not None:
        parts.append(f"utilization: {100 * result.utilization:.1f}% (array steps / cycles)")
    if result.useful_utilization is not None:
        parts.append(f"useful: {100 * result.useful_utilization:.1f}% (needed lookups / "
                     f"peak lookups)")
    return "".join(f"  {p}" for p in parts)
