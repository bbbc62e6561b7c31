"""Scoreboard: RTL results of a compiled program against the ISS and the int64 reference.

For every phase the core must have stopped done without error, with the CYCLES CSR equal to
the timing contract (:meth:`lutcore.sw.compiler.Program.predicted_cycles`) and to the ISS's
count; the gathered output must equal the ISS's output (the golden kernels) and, when the
operands are given, ``A @ W.T`` in int64 wrapped to ``acc_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..spec import isa
from ..spec import numerics as nx
from ..sw.compiler import Program
from ..spec.words import limbs_from_host_words, word_format

__all__ = ["SimulationError", "Score", "gather_output", "score"]


class SimulationError(RuntimeError):
    """The RTL disagrees with the ISS, the reference or the timing contract."""


@dataclass
class Score:
    """What one program did on the RTL and how it compares."""

    output: np.ndarray | None
    phase_cycles: list[int]
    predicted: list[int]
    iss_cycles: list[int]
    lookups: int
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def cycles(self) -> int:
        return sum(self.phase_cycles)

    @property
    def utilization(self) -> float:
        return self.lookups / self.cycles if self.cycles else 0.0

    def raise_on_mismatch(self, what: str = "RTL") -> None:
        if self.mismatches:
            more = f" (+{len(self.mismatches) - 3} more)" if len(self.mismatches) > 3 else ""
            raise SimulationError(f"{what}: " + "; ".join(self.mismatches[:3]) + more)


def gather_output(program: Program, records: Sequence[dict[str, Any]]) -> np.ndarray:
    """The output matrix from the output words each phase read (host sub-words)."""
    cfg = program.config
    fmt = word_format(isa.Region.OUTPUT, cfg)
    outputs = []
    for phase, record in zip(program.phases, records):
        subs = isa.sub_words(fmt.word_bits, cfg.host_bits)
        words = np.asarray(record["words"], np.uint64).reshape(len(phase.reads), subs)
        outputs.append(limbs_from_host_words(words, cfg.host_bits, fmt.limbs))
    return program.gather(outputs, limbs=True)


def score(program: Program, records: Sequence[dict[str, Any]], *, a=None, w=None,
          iss=None) -> Score:
    """Compare one program's RTL records (``run_job`` results) with the ISS and reference.

    ``iss`` is an :class:`lutcore.sw.iss.IssResult` of the same program (run here if None).
    """
    from ..sw.iss import run_program

    predicted = program.predicted_cycles()
    got = [int(r["cycles"]) for r in records]
    result = Score(None, got, predicted, [], program.lookups())
    bad = result.mismatches
    if len(records) != len(program.phases):
        bad.append(f"{len(records)} of {len(program.phases)} phases ran")
    for i, r in enumerate(records):
        if r["error"] or not r["done"]:
            bad.append(f"phase {i}: the core stopped with error "
                       f"{isa.ErrorCode(r['code']).name} at pc {r['pc']} (done={r['done']})")
        elif r["cycles"] != predicted[i]:
            bad.append(f"phase {i}: CYCLES {r['cycles']} != predicted {predicted[i]}")
    if bad:
        return result
    if iss is None:
        iss = run_program(program)
    result.iss_cycles = [p.cycles for p in iss.phases]
    if result.iss_cycles != got:
        bad.append(f"cycles per phase {got} != ISS {result.iss_cycles}")
    result.output = gather_output(program, records)
    if not np.array_equal(result.output, iss.output):
        diff = np.argwhere(result.output != iss.output)
        r, c = diff[0]
        bad.append(f"output differs from the ISS at {len(diff)} element(s), first "
                   f"[{r}, {c}]: RTL {result.output[r, c]}, ISS {iss.output[r, c]}")
    if a is not None and w is not None:
        reference = nx.wrap(np.asarray(a, np.int64) @ np.asarray(w, np.int64).T,
                            program.config.acc_bits)
        if not np.array_equal(result.output, reference):
            diff = np.argwhere(result.output != reference)
            r, c = diff[0]
            bad.append(f"output differs from the int64 reference at {len(diff)} element(s), "
                       f"first [{r}, {c}]: RTL {result.output[r, c]}, reference "
                       f"{reference[r, c]}")
    return result
