"""The scoreboard catches what it must: a wrong CYCLES, a wrong output word, a fault (runs
taken from the ISS device, then altered)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lutcore.host import run_program
from lutcore.host.scoreboard import SimulationError, score
from lutcore.spec import isa
from lutcore.sw.compiler import compile_gemm


def test_scoreboard_catches_wrong_cycles_outputs_and_faults():
    rng = np.random.default_rng(7)
    a, w = rng.integers(-128, 128, (2, 13)), rng.integers(-1, 2, (9, 13))
    program = compile_gemm(a, w, config="tiny", mode="bitserial")
    run = run_program(program)
    assert score(run, a=a, w=w).ok
    slow = dataclasses.replace(run, phases=[dataclasses.replace(p, cycles=p.cycles + 1)
                                            for p in run.phases])
    result = score(slow, a=a, w=w)
    assert not result.ok and "CYCLES" in result.mismatches[0]
    wrong = dataclasses.replace(run, output=run.output.copy())
    wrong.output[1, 2] += 1
    result = score(wrong, a=a, w=w)
    assert any("differs from the ISS at 1 element(s), first [1, 2]" in m
               for m in result.mismatches)
    assert any("int64 reference" in m for m in result.mismatches)
    with pytest.raises(SimulationError, match="differs from the ISS"):
        result.raise_on_mismatch()
    faulted = dataclasses.replace(run, phases=[dataclasses.replace(
        run.phases[0], code=isa.ErrorCode.ADDR_RANGE)])
    assert any("error ADDR_RANGE" in m for m in score(faulted).mismatches)
