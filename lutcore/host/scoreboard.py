"""Scoreboard: a program's run on a device against the ISS and the int64 reference.

Every phase must have stopped done without error, with the CYCLES CSR equal to the timing
contract (:meth:`lutcore.sw.compiler.Program.predicted_cycles`) and to the ISS's count; the
gathered output must equal the ISS's output (the golden kernels) and, when the operands are
given, the reference (:func:`reference`): ``A @ W.T`` in int64 wrapped to ``acc_bits``, or on
a core with FP activations the FP contract's golden model, bit for bit (any NaN matching any
NaN: the hardware's is the canonical one). The ``rtl`` device checks every GEMM so (option
``check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import LutcoreError
from ..spec import numerics as nx
from ..spec.config import CoreConfig
from .runtime import ProgramRun

__all__ = ["SimulationError", "Score", "score", "first_difference", "reference"]


class SimulationError(LutcoreError):
    """The device disagrees with the ISS, the reference or the timing contract."""


@dataclass
class Score:
    """How one program's run compares: the CYCLES per phase, the prediction, the ISS's
    cycles, and the mismatches found (none: ``ok``)."""

    run: ProgramRun
    predicted: list[int]
    iss_cycles: list[int]
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def output(self) -> np.ndarray | None:
        return self.run.output

    @property
    def phase_cycles(self) -> list[int]:
        return self.run.phase_cycles

    @property
    def cycles(self) -> int:
        return self.run.cycles

    def raise_on_mismatch(self, what: str = "RTL") -> None:
        """One-line :class:`SimulationError` with the first three mismatches."""
        if self.mismatches:
            more = f" (+{len(self.mismatches) - 3} more)" if len(self.mismatches) > 3 else ""
            raise SimulationError(f"{what}: " + "; ".join(self.mismatches[:3]) + more)


def reference(a, w, config: CoreConfig, mode: str, meta: dict) -> tuple[np.ndarray, str]:
    """The output ``A @ W.T`` must have on ``config`` and its name: int64 wrapped to
    ``acc_bits``, or with FP activations the FP golden model with the program's bit-serial
    ``weight_bits`` and ``zero_point`` (``meta``; they set the planes, so the order of the
    sums)."""
    if not config.is_fp:
        return (nx.wrap(np.asarray(a, np.int64) @ np.asarray(w, np.int64).T, config.acc_bits),
                "the int64 reference")
    from ..sw.kernels.fp import fp_lut_gemm
    from ..sw.kernels.packing import pack_bitserial, pack_elut
    packed = (pack_bitserial(w, g=config.g, weight_bits=meta["weight_bits"],
                             zero_point=meta["zero_point"]) if mode == "bitserial"
              else pack_elut(w, g=config.elut_g))
    out = fp_lut_gemm(a, packed, act_format=config.act_format,
                      table_format=config.table_format, acc_format=config.acc_format,
                      symmetrize=config.symmetrize, lookups=config.lookups)
    return out.astype(np.float32), "the FP golden model"


def first_difference(got: np.ndarray, want: np.ndarray, what: str) -> str | None:
    """None if equal, else one line: how many elements differ and the first of them. Floats
    are equal when their bits are (+0 is not -0) or both are NaN."""
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype.kind == "f" or want.dtype.kind == "f":
        got, want = got.astype(np.float32), want.astype(np.float32)
        nan = np.isnan(got) & np.isnan(want)
        differ = (got.view(np.uint32) != want.view(np.uint32)) & ~nan
    else:
        differ = got != want
    if not differ.any():
        return None
    diff = np.argwhere(differ)
    r, c = diff[0]
    return (f"output differs from {what} at {len(diff)} element(s), first [{r}, {c}]: "
            f"device {got[r, c]}, {what.split()[-1]} {want[r, c]}")


def score(run: ProgramRun, *, a=None, w=None, iss: ProgramRun | None = None) -> Score:
    """Compare ``run`` (a :class:`ProgramRun` of a device) with the ISS (run here unless
    ``iss`` is given) and, with the operands, the int64 reference."""
    from .devices import run_program

    program = run.program
    predicted = program.predicted_cycles()
    result = Score(run, predicted, [])
    bad = result.mismatches
    if len(run.phases) != len(program.phases):
        bad.append(f"{len(run.phases)} of {len(program.phases)} phases ran")
    for i, r in enumerate(run.phases):
        if r.error or not r.done:
            bad.append(f"phase {i}: the core stopped with error {r.code.name} at pc {r.pc} "
                       f"(done={int(r.done)})")
        elif r.cycles != predicted[i]:
            bad.append(f"phase {i}: CYCLES {r.cycles} != predicted {predicted[i]}")
    if bad:
        return result
    iss = iss or run_program(program)
    result.iss_cycles = iss.phase_cycles
    if result.iss_cycles != run.phase_cycles:
        bad.append(f"cycles per phase {run.phase_cycles} != ISS {result.iss_cycles}")
    checks = [(iss.output, "the ISS")]
    if a is not None and w is not None:
        checks.append(reference(a, w, program.config, program.mode, program.meta))
    bad += filter(None, (first_difference(run.output, want, what) for want, what in checks))
    return result
