"""The BitNet-b1.58-2B-4T linear layers as a workload of a tile: device cycles per token.

A layer's GEMMs are those the model runs (:data:`lutcore.models.bitnet.STACKS`: q+k+v
stacked, o, gate+up stacked, down) on the shapes of :data:`lutcore.models.synthetic.BITNET_2B`;
a token costs one layer's cycles times the layers. Two workloads:

* **decode**: one token at a time, every GEMM a GEMV (M = 1);
* **prefill**: a prompt of ``PREFILL_TOKENS`` tokens in one GEMM per projection (M = 64),
  its cycles shared by its tokens.

Cycles come from the compiler's prediction by the timing contract (the ISS and the RTL
CYCLES register equal it: tests/sw, tests/sim) or, with ``run=True``, from running each
program on the ISS and checking its output against the int64 product. Each figure carries
both utilizations: array steps / cycles, and useful lookups / (cycles x m x n x L), which
counts the padding rows of an M = 1 GEMV on an m > 1 tile as the idle work they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import fp
from ..spec.config import CoreConfig

__all__ = ["WORKLOADS", "PREFILL_TOKENS", "TokenCycles", "layer_gemms", "token_cycles",
           "run_checked"]

PREFILL_TOKENS = 64
#: workload name -> tokens per GEMM (activation rows M).
WORKLOADS = {"decode": 1, "prefill": PREFILL_TOKENS}


def layer_gemms(model=None) -> list[tuple[str, int, int]]:
    """``(name, K, N)`` of every GEMM of one layer as the model runs it (stacked
    projections), for ``model`` (a :class:`~lutcore.models.checkpoint.ModelConfig`; default
    the BitNet-b1.58-2B-4T shapes)."""
    from ..models.bitnet import STACKS
    from ..models.checkpoint import expected_shapes
    from ..models.synthetic import BITNET_2B
    shapes = expected_shapes(model or BITNET_2B)
    return [("+".join(p.split(".")[-1].removesuffix("_proj") for p in group),
             shapes[group[0]][1], sum(shapes[p][0] for p in group)) for group in STACKS]


@dataclass(frozen=True)
class TokenCycles:
    """Device cycles per token of a workload on one configuration and mode."""

    config: str
    mode: str
    tokens: int                 # M of every GEMM
    cycles_per_token: float
    steps_utilization: float    # LMMA array steps / cycles
    useful_utilization: float   # useful lookups / (cycles x m x n x L)
    write_words_per_token: float = 0.0   # host-port words written (Program.host_port_words)
    read_words_per_token: float = 0.0    # host-port words read

    def tokens_per_s(self, clock_mhz: float) -> float:
        return clock_mhz * 1e6 / self.cycles_per_token


def run_checked(program, a, w, cycles: int):
    """Run ``program`` on the ISS; raise AssertionError unless its output is the reference
    (the int64 ``a @ w.T``, or with FP activations the FP golden model) and its cycles are
    ``cycles`` (the prediction)."""
    from ..host import run_program
    from ..host.scoreboard import first_difference, reference
    result = run_program(program)
    k, n = program.shape[2], program.shape[1]
    want, what = reference(a, w, program.config, program.mode, program.meta)
    if first_difference(result.output, want, what) is not None:
        raise AssertionError(f"ISS output differs from the reference, K={k} N={n}")
    if result.cycles != cycles:
        raise AssertionError(f"ISS cycles {result.cycles} differ from the prediction {cycles}")
    return result


def token_cycles(config: CoreConfig, mode: str, tokens: int, *, model=None, run: bool = False,
                 seed: int = 0) -> TokenCycles:
    """Cycles per token of ``model``'s (default BitNet-2B) linear layers on ``config``, each
    GEMM with ``tokens`` activation rows; predicted, or run on the ISS and checked."""
    from ..models.synthetic import BITNET_2B
    from ..sw.compiler import compile_gemm
    from ..sw.compiler.program import useful_share
    model = model or BITNET_2B
    rng = np.random.default_rng(seed)
    cycles = steps = useful = writes = reads = 0
    for _, k, n in layer_gemms(model):
        a = (fp.as_format(rng.standard_normal((tokens, k)), config.act_format)
             if config.is_fp else rng.integers(-128, 128, (tokens, k), dtype=np.int8))
        w = rng.integers(-1, 2, (n, k), dtype=np.int8)
        program = compile_gemm(a, w, config=config, mode=mode)
        c = sum(program.predicted_cycles())
        if run:
            run_checked(program, a, w, c)
        cycles += c
        steps += program.lookups()
        useful += program.useful_lookups()
        port = program.host_port_words()
        writes += port["writes"]
        reads += port["reads"]
    per_token = model.num_hidden_layers / tokens
    return TokenCycles(config.name, mode, tokens, cycles * per_token, steps / cycles,
                       useful_share(useful, cycles, config), writes * per_token,
                       reads * per_token)
