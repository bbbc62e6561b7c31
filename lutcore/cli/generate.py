"""``lutcore generate``: run a BitNet b1.58 checkpoint and generate text, every ternary
projection on the chosen backend; tokens stream as they are produced, then the speed (and on
``iss``/``rtl`` the cycles per token and the compute- and memory-bound rates)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..models.generate import Sampler
from ..models.report import DEFAULT_BANDWIDTH_GBS, bounds, default_clock_mhz
from ..models.tokenizer import parse_ids
from ._config import add_config_arguments, load_config
from .gemm import add_backend_arguments, backend_options
from .inspect import size
from .inputs import CliError, int_in, output_file, positive_float, write_npy

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "add_model_arguments", "open_model"]


def add_model_arguments(p) -> None:
    """The options that load a model: ``--model``, ``--mode``, the configuration, the
    backend, ``--weight-scale``, ``--cache``."""
    p.add_argument("--model", metavar="PATH", type=Path, required=True,
                   help="a Hugging Face BitNet directory (config.json, model.safetensors) or "
                        "a .gguf file")
    p.add_argument("--mode", choices=("elut", "bitserial"), default="elut",
                   help="LUT mode of the ternary projections (default: elut)")
    add_config_arguments(p)
    add_backend_arguments(p)
    p.add_argument("--weight-scale", choices=("divide", "multiply"), default=None,
                   help="how a stored weight_scale applies: y = y_int / (s * scale) or "
                        "y_int / s * scale (default: what the checkpoint's format says)")
    p.add_argument("--cache", metavar="FILE.npz", type=Path, default=None,
                   help="load cache: read when it matches, else written after loading")


def open_model(args, progress=None):
    """The model named by ``args`` (:func:`add_model_arguments`)."""
    from ..models import load_model
    config = load_config(args)
    if args.cache is not None:
        output_file("--cache", args.cache, {"--model": args.model})
    return load_model(args.model, backend=args.backend, mode=args.mode, config=config,
                      weight_scale=args.weight_scale, cache=args.cache, progress=progress,
                      **backend_options(args))


HELP = "generate text with a BitNet b1.58 checkpoint on a backend"
DESCRIPTION = ("Load a BitNet b1.58 checkpoint (Hugging Face safetensors, packed or "
               "bf16, or GGUF TQ1_0/TQ2_0/I2_S), prefill the prompt and decode new "
               "tokens, each ternary projection on --backend.")


def add_arguments(p) -> None:
    """The ``generate`` options."""
    add_model_arguments(p)
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", metavar="TEXT", help="prompt text (needs a tokenizer)")
    prompt.add_argument("--prompt-ids", metavar="1,2,3", help="prompt as token ids")
    p.add_argument("--max-new-tokens", type=int_in(0), default=32, metavar="N",
                   help="tokens to generate (default: 32)")
    p.add_argument("--temperature", type=float, default=0.0, metavar="T",
                   help="sampling temperature; 0 (default) is greedy")
    p.add_argument("--top-k", type=int_in(0), default=0, metavar="K",
                   help="sample among the K most likely tokens (0: all)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed")
    p.add_argument("--no-eos", action="store_true",
                   help="do not stop at the end-of-sequence token")
    p.add_argument("--logits-out", metavar="F.npy", type=Path, default=None,
                   help="write the logits of every generated step, float32 [steps, vocab]")
    p.add_argument("--clock-mhz", type=positive_float, default=None, metavar="F",
                   help="clock of the compute-bound figure (default: the board clock of "
                        "the preset, else 1000 MHz)")
    p.add_argument("--bandwidth-gbs", type=positive_float, default=DEFAULT_BANDWIDTH_GBS,
                   metavar="B", help="weight bandwidth of the memory-bound figure (default: "
                                     f"{DEFAULT_BANDWIDTH_GBS:g} GB/s)")


class _Stream:
    """Print new tokens as they come: decoded text when there is a tokenizer (the suffix of
    the decoded continuation, so multi-token characters print whole), else ids."""

    def __init__(self, tokenizer):
        self.tokenizer, self.ids, self.shown = tokenizer, [], ""

    def __call__(self, token: int) -> None:
        self.ids.append(token)
        if self.tokenizer is None:
            piece = f"{token} "
        else:
            text = self.tokenizer.decode(self.ids)
            piece, self.shown = text[len(self.shown):], text
        sys.stdout.write(piece)
        sys.stdout.flush()


def run(args) -> int:
    Sampler(args.temperature, args.top_k, args.seed)            # one line if bad, before loading
    logits_path = None
    if args.logits_out is not None:
        logits_path = output_file("--logits-out", args.logits_out, {"--model": args.model})
    model = open_model(args)
    with model:
        if args.prompt is not None:
            if model.tokenizer is None:
                raise CliError(f"--prompt needs a tokenizer and {args.model} has none: give "
                               f"--prompt-ids")
            ids = model.tokenizer.encode(args.prompt).ids
        else:
            ids = parse_ids(args.prompt_ids)
        print(f"lutcore generate: {model.format} model, {model.config.num_hidden_layers} "
              f"layers, {size(model.weight_bytes)} packed ({model.mode}), backend "
              f"{model.backend}, loaded in {model.load_seconds:.2f} s; prompt "
              f"{len(ids)} tokens")
        if model.backend != "numpy":
            note = " (the Verilator model is built on first use)" if model.backend == "rtl" \
                else ""
            print(f"opening the {model.backend} device{note}", flush=True)
            model.engine.device                         # opens the session now, not mid-stream
        rows: list = []
        stream = _Stream(model.tokenizer)
        started = time.perf_counter()
        new = model.generate(ids, args.max_new_tokens, temperature=args.temperature,
                             top_k=args.top_k, seed=args.seed, stop_at_eos=not args.no_eos,
                             on_token=stream, logits_out=rows)
        seconds = time.perf_counter() - started
        sys.stdout.write("\n")
        if logits_path is not None:
            write_npy("--logits-out", logits_path,
                      np.stack(rows).astype(np.float32) if rows else
                      np.zeros((0, model.config.vocab_size), np.float32))
        _report(args, model, ids, new, seconds)
    return 0


def _report(args, model, ids, new, seconds) -> None:
    stats = model.stats
    steps = len(stats.per_token_cycles)       # prefill, then one per decoded token
    print(f"{len(new)} new tokens, prompt {len(ids)} tokens: {seconds:.2f} s, "
          f"{(len(ids) + len(new)) / seconds:.2f} tokens/s processed "
          f"({stats.gemms} GEMMs, {stats.gemm_seconds:.2f} s in them)")
    if model.backend in ("iss", "rtl") and steps > 1:
        decode = stats.per_token_cycles[1:]
        clock, source = (args.clock_mhz, "--clock-mhz") if args.clock_mhz else \
            default_clock_mhz(model.engine.config)
        print(f"cycles: prefill {stats.per_token_cycles[0]:,}/token, decode "
              f"{int(np.mean(decode)):,}/token")
        for line in bounds(float(np.mean(decode)), model.weight_bytes, clock,
                           args.bandwidth_gbs).lines(source):
            print(line)
