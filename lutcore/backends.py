"""Registry of GEMM execution backends shared by the Python API and the CLI.

Every backend module exposes ``run_gemm(a, w, *, mode, config, **options) -> GemmResult``
where ``a`` is int8 [M, K] and ``w`` ternary int8 [N, K]. Backends are imported lazily so that
the NumPy path needs neither Verilator nor a serial port.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import LutcoreError

__all__ = ["GemmResult", "BACKENDS", "get_backend", "backend_names"]


@dataclass
class GemmResult:
    """Output of a backend run: ``output`` int64 [M, N]; ``cycles`` and ``utilization`` when
    the backend models or measures hardware time; anything else in ``info``."""

    output: np.ndarray
    cycles: int | None = None
    utilization: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


BACKENDS: dict[str, str] = {
    "numpy": "lutcore.sw.kernels.backend",   # host CPU path (golden kernels)
    "iss": "lutcore.sw.iss",                  # compiled program on the instruction-set simulator
    "rtl": "lutcore.sim.backend",             # compiled program on the Verilator model
    "uart": "lutcore.link.client",              # compiled program on a board over UART
}


def backend_names() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str):
    if name not in BACKENDS:
        raise LutcoreError(f"--backend {name!r} is unknown: allowed {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(BACKENDS[name])
    except ImportError as e:
        # A backend whose optional dependency (Verilator, pyserial, ...) is missing.
        raise LutcoreError(f"--backend {name!r} is not available in this build: {e}") from None
