"""The accelerator top's defined behaviour under faults and host-port misuse, on Verilator
(benches of ``lutcore.sim.tb_top``; docs/rtl.md, "Faults"):

- decoder: random instruction words give the error code, PC and cycles of
  ``isa.validate`` / ``isa.phase_cycles`` and the ISS (every rule hit);
- CSRs and host faults: ID, STATUS, HOST_ADDR for every bad access, first error kept, clear;
- buffers: sub-word commit on the last sub-word, read-back, PRECOMP tables equal to the ISS;
- PC_RANGE without HALT; BUSY_WRITE and an ignored start while busy, buffer reads waiting
  for the stop; reset in the middle of a run; a fault in the middle of a program; each
  followed by a program that must run correctly.
"""

from __future__ import annotations

import pytest

from lutcore.sim.runner import run_bench
from lutcore.spec.config import preset

pytestmark = pytest.mark.rtl

CASES = ["decoder_matches_validate", "csr_and_host_faults", "buffers_read_back", "pc_range",
         "busy_write_and_read", "reset_mid_run", "fault_then_recover"]


def run_case(config, case, seed, model_of, **env):
    model = model_of(config)
    run_bench(model, "lutcore.sim.tb_top", testcase=case, seed=seed,
              env={"LUTCORE_SIM_CONFIG": config.to_json(), "LUTCORE_SIM_SEED": str(seed),
                   **{k: str(v) for k, v in env.items()}})


# Every bench on tiny in the fast suite; on default (a model of about a minute to build, and
# the decoder bench sweeps every instruction rule over the wide configuration) in the slow
# matrix, with the larger presets.
FAST = [pytest.param(name, case, marks=[pytest.mark.slow] if name == "default" else [])
        for name in ("tiny", "default") for case in CASES]


@pytest.mark.parametrize("name, case", FAST)
def test_fault_bench(name, case, model_of):
    run_case(preset(name), case, 1, model_of)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["tiny", "default", "large", "decode"])
def test_fault_bench_matrix(name, case, seed, model_of):
    run_case(preset(name), case, seed, model_of, LUTCORE_SIM_COUNT=400)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["decoder_matches_validate", "fault_then_recover"])
def test_fault_bench_without_elut(case, model_of):
    """A build without ELUT: ELUT instructions raise BAD_MODE (the decoder bench requires
    every rule, BAD_MODE included, to be hit)."""
    config = preset("tiny").replace(name="tiny-noelut", elut_g=0)
    run_case(config, case, 4, model_of, LUTCORE_SIM_COUNT=400)
