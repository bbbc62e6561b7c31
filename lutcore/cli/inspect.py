"""``lutcore inspect``: what a checkpoint holds (architecture, parameters, which tensors are
ternary) and what it takes in each format, from the header and config alone."""

from __future__ import annotations

from pathlib import Path

from ..models.checkpoint import NORMS, PROJECTIONS, expected_shapes

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "model_sizes", "size"]


HELP = "describe a BitNet b1.58 checkpoint"
DESCRIPTION = ("Print a checkpoint's architecture, parameter count, which tensors are "
               "ternary and the bytes of its weights in each format.")


def add_arguments(p) -> None:
    """The ``inspect`` options."""
    p.add_argument("--model", metavar="PATH", type=Path, required=True,
                   help="a Hugging Face BitNet directory or a .gguf file")


def model_sizes(cfg) -> dict[str, int]:
    """Parameter counts: ``ternary`` (the projections), ``float`` (embedding, LM head when
    untied, norms)."""
    shapes = expected_shapes(cfg)
    ternary = cfg.num_hidden_layers * sum(n * k for n, k in shapes.values())
    norms = cfg.num_hidden_layers * (3 * cfg.hidden_size + cfg.intermediate_size)
    emb = cfg.vocab_size * cfg.hidden_size
    return {"ternary": ternary,
            "float": emb * (1 if cfg.tie_word_embeddings else 2) + norms + cfg.hidden_size}


def size(n: float) -> str:
    """``n`` bytes in B, kB, MB or GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.2f} {unit}"
    return f"{n:,.0f} B"


def _files_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) if path.is_dir() \
        else path.stat().st_size


def run(args) -> int:
    from ..models import open_checkpoint
    ck = open_checkpoint(args.model)
    cfg = ck.config
    sizes = model_sizes(cfg)
    t, f = sizes["ternary"], sizes["float"]
    print(f"{args.model}: {ck.format}, BitNet b1.58 decoder")
    print(f"  layers {cfg.num_hidden_layers}, hidden {cfg.hidden_size}, intermediate "
          f"{cfg.intermediate_size}, heads {cfg.num_attention_heads} (KV "
          f"{cfg.num_key_value_heads}, head_dim {cfg.head_dim}), vocab {cfg.vocab_size}, "
          f"context {cfg.max_position_embeddings}, rope_theta {cfg.rope_theta:g}, "
          f"rms_norm_eps {cfg.rms_norm_eps:g}, tied embeddings {cfg.tie_word_embeddings}")
    print(f"  parameters {t + f:,}: ternary {t:,} ({100 * t / (t + f):.1f}%), float {f:,}")
    print("  ternary tensors (per layer, [N, K]): " + ", ".join(
        f"{p.split('.')[-1]} {n}x{k}" for p, (n, k) in expected_shapes(cfg).items()))
    print(f"  float tensors: embedding {cfg.vocab_size}x{cfg.hidden_size}"
          f"{', LM head' if not cfg.tie_word_embeddings else ' (tied LM head)'}, "
          f"{len(NORMS)} RMSNorm weights per layer, final norm")
    print(f"  files on disk: {size(_files_bytes(Path(args.model)))}")
    print(f"  ternary weights: ELUT 1.6 bits {size(t * 1.6 / 8)}, bit-serial 2 bits "
          f"{size(t * 2 / 8)}, int8 {size(t)}, bf16 {size(2 * t)}, float32 {size(4 * t)}")
    print(f"  float weights: bf16 {size(2 * f)}, float32 {size(4 * f)} (held as float32)")
    print(f"  tokenizer: {'yes' if ck.tokenizer is not None else 'none (use --prompt-ids)'}; "
          f"{len(PROJECTIONS)} ternary projections x {cfg.num_hidden_layers} layers")
    return 0
