"""Model benchmark: a BitNet b1.58 model with the BitNet-b1.58-2B-4T shapes (hidden 2560,
intermediate 6912, 30 layers, 20 heads, 5 KV heads, vocabulary 128256), random weights.

``lutcore bench model`` writes the model once in the Hugging Face packed format (under
``build/models/``, not committed) unless ``--model`` names one, then measures, each phase in
a fresh process so that its peak resident memory is its own:

* the load from the HF format (unpack, re-pack for the LUT mode), and from the load cache;
* prefill of a ``--prompt-tokens`` prompt and decode of ``--decode-tokens`` tokens on the
  host path (``numpy`` backend, one thread, one BLAS thread);
* the same forward pass in float32 BLAS (weights held dequantized in float32), layer by
  layer, since the whole float32 model (about 11 GB) does not fit: one layer's seven
  projections timed, times the layers, plus the LM head, the same in both;
* the ISS's cycles per decoded token on each of ``--presets`` (each GEMM of a layer run
  once as a GEMV, q+k+v and gate+up stacked as the model runs them, times the layers), with the compute-bound tokens/s at the preset's clock
  and the memory-bound tokens/s at the weight bandwidth.

Targets (issue text): decode >= 1 token/s on one core, peak memory <= 3 GB, load <= 30 s
from the HF format and <= 5 s from the cache.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("build/models/bitnet-b1.58-2b-random")


def add_arguments(p) -> None:
    from ..cli.inputs import int_in
    p.add_argument("--model", metavar="PATH", type=Path, default=None,
                   help=f"an HF BitNet directory (default: {DEFAULT_DIR}, written if missing)")
    p.add_argument("--mode", choices=("elut", "bitserial"), default="elut",
                   help="LUT mode of the host path (default: elut)")
    p.add_argument("--prompt-tokens", type=int_in(1, 4096), default=64, metavar="T")
    p.add_argument("--decode-tokens", type=int_in(1, 256), default=8, metavar="N")
    p.add_argument("--presets", default="default,large", metavar="P,Q",
                   help="presets whose ISS cycles/token are reported (default: default,large)")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_thread():
    import threadpoolctl
    return threadpoolctl.threadpool_limits(1)


def _run_load(path: str, mode: str, cache: str, prompt: int, decode: int) -> dict:
    """Child: load from HF, write the cache, prefill, decode."""
    from ..models import load_model
    from ..models.cache import write_cache
    with _one_thread():
        t0 = time.perf_counter()
        m = load_model(path, mode=mode)
        out = {"load_s": time.perf_counter() - t0, "load_peak_mb": _peak_mb(),
               "weight_bytes": m.weight_bytes}
        t0 = time.perf_counter()
        write_cache(cache, path, m.format, mode, m.engine.group, m.config, *m.tensors())
        out["cache_write_s"] = time.perf_counter() - t0
        ids = np.random.default_rng(1).integers(0, m.config.vocab_size, prompt)
        t0 = time.perf_counter()
        logits = m.step(ids, all_logits=False)
        out["prefill_s"] = time.perf_counter() - t0
        token = int(logits[-1].argmax())
        t0 = time.perf_counter()
        for _ in range(decode):
            token = int(m.step([token], all_logits=False)[-1].argmax())
        out["decode_s"] = (time.perf_counter() - t0) / decode
        out["peak_mb"] = _peak_mb()
    return out


def _run_cache(path: str, mode: str, cache: str) -> dict:
    """Child: load from the cache."""
    from ..models import load_model
    t0 = time.perf_counter()
    m = load_model(path, mode=mode, cache=cache)
    assert m.format != "", "cache not used"
    return {"cache_load_s": time.perf_counter() - t0, "cache_peak_mb": _peak_mb()}


def _run_blas(cfg_dict: dict, prompt: int, repeats: int = 3) -> dict:
    """Child: one layer's projections and the LM head in float32 BLAS."""
    from ..models.checkpoint import ModelConfig, expected_shapes
    cfg = ModelConfig.from_dict(cfg_dict)
    rng = np.random.default_rng(2)
    weights = [rng.integers(-1, 2, s).astype(np.float32) for s in expected_shapes(cfg).values()]
    head = rng.standard_normal((cfg.vocab_size, cfg.hidden_size), np.float32)
    out = {}
    with _one_thread():
        for rows, key in ((1, "decode"), (prompt, "prefill")):
            xs = [rng.standard_normal((rows, w.shape[1]), np.float32) for w in weights]
            best = np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                for x, w in zip(xs, weights):
                    x @ w.T
                best = min(best, time.perf_counter() - t0)
            out[f"blas_{key}_layer_s"] = best
        x = rng.standard_normal((1, cfg.hidden_size), np.float32)
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            x @ head.T
            best = min(best, time.perf_counter() - t0)
        out["head_s"] = best
    return out


def _child(fn, *args) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main(args, config) -> int:
    from ..models.checkpoint import ModelConfig, expected_shapes
    from ..models.hf import CONFIG_FILE
    from ..models.report import bounds, default_clock_mhz
    from ..models.synthetic import BITNET_2B, write_random_hf
    from .workload import token_cycles
    from ..cli.inspect import size
    from ..sw.compiler import resolve_config

    path = args.model or DEFAULT_DIR
    presets = [resolve_config(p) for p in args.presets.split(",") if p]
    if args.model is None and not (path / CONFIG_FILE).exists():
        print(f"writing a random model with the BitNet-b1.58-2B-4T shapes to {path} ...",
              flush=True)
        t0 = time.perf_counter()
        write_random_hf(path, BITNET_2B, progress=lambda s: print("  " + s, flush=True))
        print(f"  written in {time.perf_counter() - t0:.1f} s", flush=True)
    cfg = ModelConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()), str(path))
    cache = path.parent / f"{path.name}.{args.mode}.npz"
    print(f"model {path}: {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, "
          f"intermediate {cfg.intermediate_size}, vocab {cfg.vocab_size}; mode {args.mode}; "
          f"one thread, one BLAS thread", flush=True)
    load = _child(_run_load, str(path), args.mode, str(cache), args.prompt_tokens,
                  args.decode_tokens)
    cached = _child(_run_cache, str(path), args.mode, str(cache))
    blas = _child(_run_blas, cfg.to_dict(), args.prompt_tokens)
    layers = cfg.num_hidden_layers
    ternary = layers * sum(n * k for n, k in expected_shapes(cfg).values())
    blas_decode = blas["blas_decode_layer_s"] * layers + blas["head_s"]
    blas_prefill = blas["blas_prefill_layer_s"] * layers + blas["head_s"]
    rows = [
        ("load from HF packed", f"{load['load_s']:.1f} s", f"peak {load['load_peak_mb']:,.0f} MB",
         "target <= 30 s"),
        ("load from cache", f"{cached['cache_load_s']:.1f} s",
         f"peak {cached['cache_peak_mb']:,.0f} MB", "target <= 5 s"),
        ("resident packed weights", size(load["weight_bytes"]),
         f"{8 * load['weight_bytes'] / ternary:.2f} bits/weight", ""),
        (f"prefill {args.prompt_tokens} tokens", f"{args.prompt_tokens / load['prefill_s']:.2f} tokens/s",
         f"float32 BLAS {args.prompt_tokens / blas_prefill:.2f} tokens/s",
         f"ratio {blas_prefill / load['prefill_s']:.2f}x"),
        ("decode", f"{1 / load['decode_s']:.2f} tokens/s",
         f"float32 BLAS {1 / blas_decode:.2f} tokens/s",
         f"ratio {blas_decode / load['decode_s']:.2f}x; target >= 1 token/s"),
        ("peak memory (load + run)", f"{load['peak_mb']:,.0f} MB", "", "target <= 3 GB"),
    ]
    for name, a, b, c in rows:
        print(f"  {name:<26} {a:>16}   {b:<30} {c}")
    print(f"  (float32 BLAS: one layer's 7 projections {1e3 * blas['blas_decode_layer_s']:.1f} ms "
          f"at M = 1, x {layers} layers, + LM head {1e3 * blas['head_s']:.1f} ms)")
    print("ISS cycles per decoded token (projections; the LM head stays on the host):")
    for p in presets:
        cycles = token_cycles(p, args.mode, 1, model=cfg, run=True).cycles_per_token
        clock, source = default_clock_mhz(p)
        b = bounds(cycles, load["weight_bytes"], clock)
        print(f"  {p.name}: {cycles:,.0f} cycles/token; {b.compute_tokens_per_s:.2f} tokens/s at "
              f"{clock:g} MHz ({source}); memory-bound {b.memory_tokens_per_s:.2f} tokens/s at "
              f"{b.bandwidth_gbs:g} GB/s; {b.bound}-bound")
    return 0


DESCRIPTION = __doc__
