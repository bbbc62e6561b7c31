"""The one option table of :func:`lutcore.host.run_gemm` and :func:`lutcore.host.open_device`:
which backend takes which option, its type and its range, checked before any work starts.

``scope`` says where an option acts: ``"device"`` options open the device (a session keeps
them for every GEMM), ``"gemm"`` options apply to one GEMM. Every refusal is one
:class:`~lutcore.errors.LutcoreError` line naming the option, the backend and what is
allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import LutcoreError
from ..spec import fp
from ..spec.params import PARAMS

__all__ = ["BACKEND_NAMES", "MODES", "Option", "OPTIONS", "check_options", "options_of",
           "check_mode", "option_table"]

#: The backends, in the order the CLI lists them.
BACKEND_NAMES = ("numpy", "iss", "rtl", "uart")
COMPILED = ("iss", "rtl", "uart")
#: The LUT modes (DESIGN §2.1, §2.2), spelled exactly so on every backend.
MODES = ("bitserial", "elut")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and math.isfinite(float(v))


def _bool(v):
    return isinstance(v, (bool, np.bool_)), bool(v)


def _choice(*allowed):
    return lambda v: (isinstance(v, str) and v in allowed, v)


def _int_range(lo, hi=None, *, none=False):
    def check(v):
        if v is None:
            return none, None
        ok = _is_int(v) and lo <= v and (hi is None or v <= hi)
        return ok, int(v) if ok else v
    return check


def _real_range(lo, hi=math.inf, *, lo_open=False):
    def check(v):
        if not _is_real(v):
            return False, None
        v = float(v)
        return (lo < v if lo_open else lo <= v) and v < hi, v
    return check


def _text(v):
    return isinstance(v, str) and bool(v), v


def _byte_transport(v):
    return all(callable(getattr(v, m, None)) for m in ("write", "read", "close")), v


@dataclass(frozen=True)
class Option:
    """One option: the backends that take it, where it acts, its default, what is allowed
    (for the message) and its check: ``check(value) -> (accepted, converted value)``."""

    backends: tuple[str, ...]
    scope: str
    default: Any
    allowed: str
    check: Callable[[Any], Any]
    doc: str


_W = PARAMS["weight_bits"]

#: The option table (docs/host.md lists it).
OPTIONS: dict[str, Option] = {
    "allow_wrap": Option(BACKEND_NAMES, "gemm", False, "True or False", _bool,
                         "accept a K whose worst case overflows acc_bits (the output wraps)"),
    "path": Option(("numpy",), "gemm", "fast", "'fast' or 'core'", _choice("fast", "core"),
                   "host fast path or the configured table geometry"),
    # FP activations on an integer configuration's host kernels (an FP configuration,
    # CoreConfig.with_act_format, carries its formats to every backend instead).
    "act_format": Option(("numpy",), "gemm", "int8", ", ".join(map(repr, fp.ACT_FORMATS)),
                         _choice(*fp.ACT_FORMATS), "activation format: int8, FP16 or BF16"),
    "table_format": Option(("numpy",), "gemm", "fp32", ", ".join(map(repr, fp.TABLE_FORMATS)),
                           _choice(*fp.TABLE_FORMATS), "FP activations: table entry format"),
    "acc_format": Option(("numpy",), "gemm", "fp32", ", ".join(map(repr, fp.ACC_FORMATS)),
                         _choice(*fp.ACC_FORMATS),
                         "FP activations: accumulator and output format"),
    "weight_bits": Option(COMPILED, "gemm", None, f"None or an integer {_W.lo}..{_W.hi}",
                          _int_range(_W.lo, _W.hi, none=True), "bit-serial weight code width B"),
    "zero_point": Option(COMPILED, "gemm", None,
                         f"None or an integer 0..{(1 << _W.hi) - 1}",
                         _int_range(0, (1 << _W.hi) - 1, none=True), "bit-serial zero point z"),
    "ksplit": Option(COMPILED, "gemm", "auto", "'auto', 'device' or 'host'",
                     _choice("auto", "device", "host"), "how K is split when it does not fit"),
    "check": Option(("rtl",), "gemm", True, "True or False", _bool,
                    "compare output and CYCLES with the ISS and the reference (int64, or the FP "
                    "golden model)"),
    "seed": Option(("rtl",), "device", 1, "an integer 0..2**32-1",
                   _int_range(0, (1 << 32) - 1),
                   "seed of the host-port randomness"),
    "idle": Option(("rtl",), "device", 0.0, "a number 0 <= idle < 1", _real_range(0, 1),
                   "probability of an idle request cycle"),
    "stall": Option(("rtl",), "device", 0.0, "a number 0 <= stall < 1", _real_range(0, 1),
                    "probability of response backpressure in a cycle"),
    "monitor": Option(("rtl",), "device", False, "True or False", _bool,
                      "check the request stream with a passive monitor"),
    "waves": Option(("rtl",), "device", False, "True or False", _bool,
                    "dump waveforms; the path is printed and returned in info['waves']"),
    "port": Option(("uart",), "device", None, "a serial port name or pyserial URL", _text,
                   "serial port of the board"),
    "baud": Option(("uart",), "device", 115_200, "a positive integer",
                   _int_range(1), "serial baud rate"),
    "transport": Option(("uart",), "device", None,
                        "an object with write, read, discard_input and close",
                        _byte_transport, "a byte transport instead of the port"),
    "timeout": Option(("uart",), "device", 1.0, "a number > 0",
                      _real_range(0, lo_open=True), "seconds to wait for a reply"),
    "run_timeout": Option(("uart",), "device", 10.0, "a number > 0",
                          _real_range(0, lo_open=True),
                          "seconds one phase may run"),
}


def _checked(name: str, option: Option, value):
    ok, converted = option.check(value)
    if not ok:
        raise LutcoreError(f"option {name} = {value!r} is invalid: allowed {option.allowed}")
    return converted


def check_mode(mode) -> str:
    """``mode`` if it is one of :data:`MODES`, else one line."""
    if not (isinstance(mode, str) and mode in MODES):
        raise LutcoreError(f"mode = {mode!r} is invalid: allowed {', '.join(map(repr, MODES))}")
    return mode


def check_options(backend: str, options: dict[str, Any], scope: str | None = None
                  ) -> dict[str, Any]:
    """``options`` checked against the table for ``backend`` (and ``scope`` if given):
    every option known, taken by the backend, of the right type and range; returns them
    converted (bool, int, float), in the table's order."""
    if backend not in BACKEND_NAMES:
        raise LutcoreError(f"backend = {backend!r} is unknown: allowed "
                           f"{', '.join(BACKEND_NAMES)}")
    for name in options:
        option = OPTIONS.get(name)
        if option is None or backend not in option.backends or \
                (scope is not None and option.scope != scope):
            taken = ", ".join(options_of(backend, scope)) or "none"
            raise LutcoreError(f"option {name!r} is not taken by backend {backend!r}"
                               f"{f' ({scope} options)' if scope else ''}: allowed {taken}")
    return {name: _checked(name, OPTIONS[name], options[name])
            for name in OPTIONS if name in options}


def options_of(backend: str, scope: str | None = None) -> list[str]:
    """The options ``backend`` takes (in ``scope`` if given)."""
    return [n for n, o in OPTIONS.items()
            if backend in o.backends and (scope is None or o.scope == scope)]


def option_table() -> str:
    """The option table as markdown (docs/host.md)."""
    lines = ["| option | " + " | ".join(BACKEND_NAMES) + " | scope | default | allowed |",
             "|---" * (len(BACKEND_NAMES) + 4) + "|"]
    for name, o in OPTIONS.items():
        marks = " | ".join("x" if b in o.backends else "" for b in BACKEND_NAMES)
        lines.append(f"| `{name}` | {marks} | {o.scope} | `{o.default!r}` | {o.allowed} |")
    return "\n".join(lines)
