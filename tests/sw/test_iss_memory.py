"""The ISS's per-instruction temporaries are bounded: a PRECOMP and an LMMA of count 65536
(the largest a buffer depth allows; ELUT, one plane) run in slices, exactly."""

import numpy as np

from longk import MIB, chunked_reference, long_k_operands, traced_peak
from lutcore.spec import isa
from lutcore.spec.config import preset
from lutcore.sw.compiler import compile_gemm
from lutcore.sw.iss import Machine

DEPTH = 1 << 16


def test_count_65536_runs_in_bounded_memory():
    cfg = preset("default").replace(name="deep", table_depth=DEPTH, act_depth=DEPTH,
                                    weight_depth=DEPTH)
    a, w = long_k_operands(DEPTH * cfg.elut_g)
    program = compile_gemm(a, w, config=cfg, mode="elut", allow_wrap=True)
    (phase,) = program.phases
    assert [i.count for i in program.instructions(0) if isinstance(i, isa.Lmma)] == [DEPTH]
    machine = Machine(cfg)
    for load in phase.loads:
        machine.write(load.region, load.addr, program.images[load.image])
    machine.write(isa.Region.INSTR, 0, phase.instructions)
    # One plane of [count, m, n] int64 lookups alone would be 64 MiB.
    _, peak = traced_peak(machine.run)
    assert peak <= 4 * MIB, f"peak {peak / MIB:.1f} MiB"
    out = program.gather([machine.out[phase.reads[:, 0]]])
    np.testing.assert_array_equal(out, chunked_reference(a, w, cfg.acc_bits))
