"""The host fast path's lookup-and-sum loop compiled from C (``lookup.c``), for speed.

Everything else of the fast path stays NumPy (tables, chunks, finalize): this module only
replaces the gather-and-reduce of :func:`lutcore.sw.kernels.gemm._lookup_sum` on the same
tables and the same packed bytes, so it computes the same integers. NumPy's gather makes an
index array and a gathered copy of every looked-up entry; the C loop adds each entry as it
reads it, which is what takes BitNet-2B decoding past one token per second on one core.

The library is compiled once per machine with the system C compiler (``$CC``, else the first
of the one Python was built with, ``cc`` and ``gcc`` on the PATH) into the build cache
(:func:`lutcore.cachedir.build_root` ``/native``), keyed by the source, the compiler and the
flags; parallel processes each write their own file and rename it into place. Where no
compiler works, or ``LUTCORE_NATIVE=0`` is set, :func:`status` says why and the NumPy loop
runs instead: the same results, slower. :func:`disabled` switches it off for a block (tests
and the side-by-side benchmark).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["ENV", "status", "enabled", "disabled", "lookup_sum", "SOURCE", "FLAGS"]

#: Environment variable: ``0`` runs the NumPy loop instead of the C one.
ENV = "LUTCORE_NATIVE"
SOURCE = Path(__file__).with_name("lookup.c")
FLAGS = ("-O3", "-shared", "-fPIC", "-std=c99")

_TYPES = {np.dtype(np.int16): "i16", np.dtype(np.int32): "i32", np.dtype(np.int64): "i64"}
_I64 = ctypes.c_int64
_PTR = ctypes.c_void_p
_ROWS_ARGS = [_PTR, _I64, _I64, _PTR, _I64, _I64, _I64, _I64, _PTR, _I64, ctypes.c_int]
_COLS_ARGS = [_PTR, _I64, _PTR, _I64, _I64, _I64, _I64, _PTR, _I64, ctypes.c_int]
# cols layout: table bytes per block of positions, sized to stay in a core's L2 cache.
_COLS_BLOCK_BYTES = 1 << 17
_off = 0        # > 0 inside disabled()


def _compiler() -> list[str]:
    """``$CC`` if set; else the first of the compiler Python was built with, ``cc`` and
    ``gcc`` that is on the PATH."""
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])[:1] or ["cc"]
    candidates = shlex.split(sysconfig.get_config_var("CC") or "")[:1] + ["cc", "gcc"]
    return [next((c for c in candidates if shutil.which(c)), candidates[0])]


@lru_cache(maxsize=None)
def _load() -> tuple[ctypes.CDLL | None, str]:
    """(library, description) or (None, why not)."""
    cc = _compiler()
    try:
        version = subprocess.run(cc + ["--version"], capture_output=True, text=True,
                                 timeout=60).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"no C compiler ({cc[0]}: {e.strerror if isinstance(e, OSError) else e})"
    source = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([source, " ".join(cc + list(FLAGS)).encode(),
                                      "".join(version).encode(),
                                      platform.machine().encode()])).hexdigest()[:16]
    from ...cachedir import build_root
    try:
        folder = build_root() / "native"
        folder.mkdir(exist_ok=True)
    except (OSError, ValueError) as e:
        return None, f"no build cache: {e}"
    lib = folder / f"lookup-{key}.so"
    if not lib.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lookup-", suffix=".so")
        os.close(fd)
        try:
            done = subprocess.run(cc + list(FLAGS) + ["-o", tmp, str(SOURCE)],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode:
                last = (done.stderr.strip().splitlines() or ["no message"])[-1]
                return None, f"{cc[0]} failed on {SOURCE.name}: {last}"
            os.replace(tmp, lib)
        except (OSError, subprocess.SubprocessError) as e:
            return None, f"{cc[0]} failed on {SOURCE.name}: {e}"
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    try:
        dll = ctypes.CDLL(str(lib))
    except OSError as e:
        return None, f"cannot load {lib.name}: {e}"
    for t in ("i16", "i32"):
        for a in ("i32", "i64"):
            getattr(dll, f"lookup_rows_{t}_{a}").argtypes = _ROWS_ARGS
            getattr(dll, f"lookup_cols_{t}_{a}").argtypes = _COLS_ARGS
    return dll, f"C ({cc[0]} {' '.join(FLAGS[:1])})"


def enabled() -> bool:
    """Whether :func:`lookup_sum` runs the C loop (compiling it on first use)."""
    return not _off and os.environ.get(ENV, "1") != "0" and _load()[0] is not None


def status() -> str:
    """One phrase for reports: which loop the fast path runs, and why when it is NumPy."""
    if _off or os.environ.get(ENV, "1") == "0":
        return "NumPy (native loop switched off)"
    dll, text = _load()
    return text if dll is not None else f"NumPy ({text})"


@contextlib.contextmanager
def disabled():
    """Run the NumPy loop inside the block."""
    global _off
    _off += 1
    try:
        yield
    finally:
        _off -= 1


def lookup_sum(tab: np.ndarray, m: int, parts: list[np.ndarray], acc_dtype,
               rowwise: bool) -> np.ndarray | None:
    """``out[r, n] = sum_p tab[r, p, code[n, p]]`` as :func:`gemm._lookup_sum` defines it, or
    None when the C loop is off or does not cover the dtypes (int16/int32 tables, int32/int64
    sums)."""
    acc = np.dtype(acc_dtype)
    t, a = _TYPES.get(tab.dtype), _TYPES.get(acc)
    if t not in ("i16", "i32") or a not in ("i32", "i64") or not enabled():
        return None
    dll = _load()[0]
    tab = np.ascontiguousarray(tab)
    n = parts[0].shape[0]
    pos = 0
    if rowwise:
        fn = getattr(dll, f"lookup_rows_{t}_{a}")
        stride = tab.shape[1] * tab.shape[2]
        out = np.empty((m, n), acc)
    else:
        fn = getattr(dll, f"lookup_cols_{t}_{a}")
        block = max(1, _COLS_BLOCK_BYTES // (tab.shape[1] * m * tab.itemsize))
        out_t = np.empty((n, m), acc)
    for i, part in enumerate(parts):    # loop over bit planes (one part for ELUT)
        if part.strides[1] != 1:
            part = np.ascontiguousarray(part)
        p = part.shape[1]
        if rowwise:
            fn(tab.ctypes.data, m, stride, part.ctypes.data, n, p, part.strides[0], pos,
               out.ctypes.data, n, int(i > 0))
        else:
            fn(tab.ctypes.data, m, part.ctypes.data, n, p, part.strides[0], pos,
               out_t.ctypes.data, block, int(i > 0))
        pos += p
    return out if rowwise else out_t.T
