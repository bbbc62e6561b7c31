"""``lutcore gemm``: run one ternary GEMM ``O = A @ W.T`` on a chosen backend.

Inputs are ``.npy`` files: activations A int8 [M, K] (any integer dtype whose values fit the
preset's act_bits is accepted), weights W ternary [N, K] (-1, 0, +1, any integer dtype).
The output O is written as int32 [M, N] (int64 if the preset's acc_bits exceeds 32), wrapped
to acc_bits. Every input problem is reported in one line with exit status 2, before any
backend runs and before the output file is touched.
"""

from __future__ import annotations

import argparse
import inspect

import numpy as np

from ..host import backend_names, get_backend
from ..errors import LutcoreError
from ..spec import numerics as nx
from ..spec.config import preset, preset_names
from ..sw.kernels.validate import (check_activations, check_k_match, check_overflow,
                                   check_ternary)
from . import CliError

__all__ = ["register", "run"]

MODES = ("bitserial", "elut")
# Options only one backend uses: (option, backend that uses it).
_BACKEND_OPTIONS = {"port": "uart", "waves": "rtl"}


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``gemm`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "gemm", help="run a ternary GEMM O = A @ W.T from .npy files",
        description="Run O = A @ W.T for int8 activations A [M, K] and ternary weights "
                    "W [N, K] on a backend; write O [M, N] (int32, wrapped to acc_bits).")
    p.add_argument("--acts", required=True, metavar="A.npy", help="activations, int8 [M, K]")
    p.add_argument("--weights", required=True, metavar="W.npy",
                   help="weights, ternary int8 [N, K]")
    p.add_argument("--out", required=True, metavar="O.npy", help="output, int32 [M, N]")
    p.add_argument("--mode", choices=MODES, default="bitserial",
                   help="LUT mode (default: bitserial)")
    p.add_argument("--backend", choices=backend_names(), default="numpy",
                   help="where to run it (default: numpy, the host kernels)")
    p.add_argument("--preset", default="default", metavar="P",
                   help=f"core configuration: {', '.join(preset_names())} (default: default)")
    p.add_argument("--allow-wrap", action="store_true",
                   help="accept a K whose worst case overflows acc_bits; O wraps modulo "
                        "2^acc_bits")
    p.add_argument("--port", metavar="PORT", help="serial port (uart backend)")
    p.add_argument("--waves", action="store_true", help="dump waveforms (rtl backend)")
    p.set_defaults(func=run)
    return p


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _load(flag: str, path: str) -> np.ndarray:
    """Load one array from a .npy file; every failure becomes a one-line LutcoreError."""
    what = f"{flag} {path!r}"
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_NPY_MAGIC))
            if magic.startswith(_ZIP_MAGIC):
                raise LutcoreError(f"{what} is an .npz archive: expected a single .npy array")
            if magic != _NPY_MAGIC:
                raise LutcoreError(f"{what} is not a .npy file (no NumPy header)")
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
    except FileNotFoundError:
        raise LutcoreError(f"{what} cannot be read: no such file") from None
    except IsADirectoryError:
        raise LutcoreError(f"{what} cannot be read: it is a directory") from None
    except PermissionError:
        raise LutcoreError(f"{what} cannot be read: permission denied") from None
    except (OSError, ValueError, EOFError) as e:
        if isinstance(e, LutcoreError):
            raise
        raise LutcoreError(f"{what} is not a readable .npy array: {_one_line(e)}") from None


def _backend_call(name: str, module, args) -> tuple:
    """The backend's run_gemm and the keyword options to pass it."""
    for option, owner in _BACKEND_OPTIONS.items():
        value = getattr(args, option)
        if value not in (None, False) and name != owner:
            raise CliError(f"--{option} is only used by --backend {owner}, not {name!r}")
    fn = getattr(module, "run_gemm", None)
    if not callable(fn):
        raise CliError(f"--backend {name!r} is not available in this build (no run_gemm)")
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    options = {}
    # The CLI has refused a GEMM that could overflow unless --allow-wrap; a backend that
    # takes allow_wrap (its compiler checks too, DESIGN §2.3) gets the same choice.
    if takes_any or "allow_wrap" in params:
        options["allow_wrap"] = args.allow_wrap
    for option, owner in _BACKEND_OPTIONS.items():
        if owner == name and getattr(args, option) not in (None, False):
            options[option] = getattr(args, option)
    return fn, options


def run(args) -> int:
    """Execute ``lutcore gemm`` for parsed ``args``; return the exit status.

    Raises:
        LutcoreError, ConfigError, CliError: any bad input (the CLI prints one line, exit 2).
    """
    config = preset(args.preset)
    config.group(args.mode)                    # the mode must be built into the preset
    a = _load("--acts", args.acts)
    w = _load("--weights", args.weights)
    # Backends take int8 activations (lutcore.backends), whatever wider act_bits a core has.
    act_bits = min(config.act_bits, np.iinfo(np.int8).bits)
    a = check_activations(a, act_bits, f"--acts {args.acts!r}")
    w = check_ternary(w, f"--weights {args.weights!r}")
    k = check_k_match(a.shape, w.shape, f"--acts {args.acts!r}", f"--weights {args.weights!r}")
    # DESIGN §2.3: refuse a GEMM that could overflow acc_bits unless wrapping is allowed.
    check_overflow(k, act_bits, 1, config.acc_bits, args.allow_wrap)
    try:
        module = get_backend(args.backend)
    except ImportError as e:                   # a backend module that fails to import
        raise CliError(f"--backend {args.backend!r} is not available in this build "
                       f"({_one_line(e)})") from None
    fn, options = _backend_call(args.backend, module, args)

    result = fn(a.astype(np.int8, copy=False), w.astype(np.int8, copy=False),
                mode=args.mode, config=config, **options)

    m, n = a.shape[0], w.shape[0]
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
    try:
        with open(args.out, "wb") as f:
            np.save(f, out.astype(out_dtype))
    except OSError as e:
        raise LutcoreError(f"--out {args.out!r} cannot be written: "
                           f"{e.strerror or _one_line(e)}") from None

    print(f"lutcore gemm: wrote {args.out} ({np.dtype(out_dtype).name} [{m}, {n}]; "
          f"K = {k}, mode {args.mode}, backend {args.backend}, preset {config.name})")
    if result.cycles is not None:
        line = f"cycles: {result.cycles}"
        if result.utilization is not None:
            line += f"  utilization: {100 * result.utilization:.1f}%"
        print(line)
    elif result.utilization is not None:
        print(f"utilization: {100 * result.utilization:.1f}%")
    return 0
