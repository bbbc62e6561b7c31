"""Train the tiny BitNet b1.58 language model from scratch, export it in the Hugging Face
packed format, and measure its held-out perplexity on every backend.

The network is exactly the decoder of :mod:`lutcore.models.bitnet` written in PyTorch
(RMSNorm, rotate-half RoPE, causal grouped-query attention, ``attn_sub_norm`` before
``o_proj``, ``relu(gate)^2 * up``, ``ffn_sub_norm`` before ``down_proj``, tied embeddings),
every projection a BitLinear trained quantization-aware (BitNet b1.58): per-tensor absmean
ternary weights and per-token absmax int8 activations in the forward pass, the straight-
through estimator in the backward pass. The export holds the ternary codes packed four rows
per byte with ``weight_scale = 1 / absmean`` to divide by (the ``BitLinear`` of Hugging Face
``transformers``), so the integer path computes ``y_int / (s * weight_scale)``, the float
QAT forward's ``(xq / s) @ (codes / weight_scale).T`` up to float rounding.

The corpus is the licence texts in ``/usr/share/common-licenses`` (Debian's ``base-files``,
an essential package present on every Debian system): :data:`TRAIN_FILES` for training,
:data:`HELDOUT_FILES` held out (no near-duplicate of it is in the training files). The
tokenizer is one token per character (:func:`build_tokenizer`, built with ``tokenizers``).

PyTorch (CPU) is needed for training only (the ``train`` extra); the exported model runs on
NumPy through :func:`lutcore.models.load_model`. Command line::

    python -m lutcore.models.train_lm --out DIR             # train and export (make train-lm)
    python -m lutcore.models.train_lm --eval DIR [--backends numpy,iss,rtl] [--tokens N]
    python -m lutcore.models.train_lm --smoke --out DIR     # a few steps, a tiny network
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import LutcoreError, ModelError
from .checkpoint import PROJECTIONS, ModelConfig, layer_name
from .hf import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, pack_hf_ternary

__all__ = ["TrainConfig", "CORPUS_DIR", "TRAIN_FILES", "HELDOUT_FILES", "read_corpus",
           "build_tokenizer", "train", "export", "perplexities", "main"]

CORPUS_DIR = Path("/usr/share/common-licenses")
#: Training texts (every regular file of ``base-files`` 12 except the held-out one).
TRAIN_FILES = ("Artistic", "BSD", "CC0-1.0", "GFDL-1.2", "GFDL-1.3", "GPL-1", "GPL-2",
               "GPL-3", "LGPL-2", "LGPL-2.1", "LGPL-3", "MPL-1.1", "MPL-2.0")
#: The held-out text, never seen in training.
HELDOUT_FILES = ("Apache-2.0",)
SPECIALS = ("<unk>", "<s>", "</s>")
#: The characters of the tokenizer after :data:`SPECIALS`: newline and printable ASCII.
CHARS = "\n" + "".join(chr(c) for c in range(32, 127))
_say = partial(print, flush=True)
EPS = 1e-5          # the absmean / absmax floor of lutcore.sw.kernels.bitnet
QMAX = 127          # int8 activations, symmetric


def architecture(**sizes) -> ModelConfig:
    """The decoder trained here: ``sizes`` (hidden_size, intermediate_size, num_hidden_layers,
    num_attention_heads, num_key_value_heads, max_position_embeddings) over the character
    vocabulary, tied embeddings, the specials as bos/eos."""
    return ModelConfig(vocab_size=len(SPECIALS) + len(CHARS), rms_norm_eps=1e-5,
                       rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=1,
                       eos_token_id=2, **sizes)


@dataclass(frozen=True)
class TrainConfig:
    """Architecture (``model``; its context is ``max_position_embeddings``) and schedule of a
    training run (the defaults are the committed model)."""

    model: ModelConfig = architecture(
        hidden_size=128, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128)
    batch: int = 16
    steps: int = 800
    lr: float = 4e-3
    min_lr: float = 4e-4
    warmup: int = 50
    weight_decay: float = 0.05
    seed: int = 0
    threads: int = 2
    eval_every: int = 200

    @property
    def context(self) -> int:
        return self.model.max_position_embeddings

    def model_config(self) -> ModelConfig:
        return self.model


#: A few steps of a small network, for the smoke test.
SMOKE = TrainConfig(architecture(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1,
                                 max_position_embeddings=32),
                    batch=4, steps=15, lr=1e-2, warmup=5, eval_every=0)


# -- corpus and tokenizer ----------------------------------------------------------------

def normalize(text: str) -> str:
    """Tabs expanded to spaces, form feeds dropped (every other character is in
    :data:`CHARS`)."""
    return text.expandtabs(8).replace("\f", "")


def read_corpus(names, root=CORPUS_DIR) -> tuple[str, list[dict]]:
    """The files ``names`` of ``root`` joined by blank lines, and per file its name, size and
    sha256 (what the model card records)."""
    root = Path(root)
    parts, sources = [], []
    for name in names:
        path = root / name
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ModelError(f"{path}: cannot read the corpus file ({e.strerror}): the corpus "
                             f"is Debian's base-files licence texts") from None
        parts.append(normalize(data.decode("utf-8")))
        sources.append({"file": name, "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
    return "\n\n".join(parts), sources


def build_tokenizer():
    """One token per character (a BPE model without merges, the ``tokenizers`` library):
    ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, then :data:`CHARS`; decoding joins the pieces."""
    from tokenizers import Tokenizer, decoders, models
    vocab = {tok: i for i, tok in enumerate(list(SPECIALS) + list(CHARS))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    return tok


def encode(tok, text: str) -> np.ndarray:
    return np.asarray(tok.encode(text).ids, np.int64)


# -- the network (PyTorch) -----------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError as e:
        raise LutcoreError(f"training needs PyTorch (the 'train' extra): {e}") from None
    return torch


def _build_network(cfg: ModelConfig):
    """The PyTorch decoder of ``cfg`` (classes defined here so that importing this module
    needs no PyTorch)."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    def ste(x, q):
        """``q`` forward, identity backward (the straight-through estimator)."""
        return x + (q - x).detach()

    class BitLinear(nn.Module):
        """Ternary weights by absmean, int8 activations per token by absmax, no bias."""

        def __init__(self, k: int, n: int):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(n, k) * 0.02)
            self.frozen = None                     # (codes, weight_scale) of a loaded model

        def ternary(self):
            """(codes float {-1, 0, 1}, weight_scale = 1 / absmean) of the weight."""
            if self.frozen is not None:
                return self.frozen
            ws = 1.0 / self.weight.detach().abs().mean().clamp(min=EPS)
            return (self.weight * ws).round().clamp(-1, 1).detach(), ws

        def forward(self, x):
            s = QMAX / x.detach().abs().amax(dim=-1, keepdim=True).clamp(min=EPS)
            xq = ste(x, (x * s).round().clamp(-QMAX, QMAX) / s)
            codes, ws = self.ternary()
            w = codes / ws if self.frozen is not None else ste(self.weight, codes / ws)
            return F.linear(xq, w)

    class RMSNorm(nn.Module):
        def __init__(self, size: int):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(size))

        def forward(self, x):
            var = x.pow(2).mean(-1, keepdim=True)
            return self.weight * (x * torch.rsqrt(var + cfg.rms_norm_eps))

    d, h, kvh = cfg.head_dim, cfg.num_attention_heads, cfg.num_key_value_heads
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))

    def rope(x, cos, sin):                        # x [B, heads, T, d]
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            hs, kv, inter = cfg.hidden_size, cfg.kv_dim, cfg.intermediate_size
            self.input_layernorm = RMSNorm(hs)
            self.post_attention_layernorm = RMSNorm(hs)
            self.self_attn = nn.Module()
            for name, (n, k) in {"q_proj": (hs, hs), "k_proj": (kv, hs), "v_proj": (kv, hs),
                                 "o_proj": (hs, hs)}.items():
                setattr(self.self_attn, name, BitLinear(k, n))
            self.self_attn.attn_sub_norm = RMSNorm(hs)
            self.mlp = nn.Module()
            for name, (n, k) in {"gate_proj": (inter, hs), "up_proj": (inter, hs),
                                 "down_proj": (hs, inter)}.items():
                setattr(self.mlp, name, BitLinear(k, n))
            self.mlp.ffn_sub_norm = RMSNorm(inter)

        def attention(self, x, cos, sin):
            a = self.self_attn
            b, t, _ = x.shape
            q = a.q_proj(x).view(b, t, h, d).transpose(1, 2)
            k = a.k_proj(x).view(b, t, kvh, d).transpose(1, 2)
            v = a.v_proj(x).view(b, t, kvh, d).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k = k.repeat_interleave(h // kvh, dim=1)    # query head j reads KV head j // rep
            v = v.repeat_interleave(h // kvh, dim=1)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            out = out.transpose(1, 2).reshape(b, t, h * d)
            return a.o_proj(a.attn_sub_norm(out))

        def forward(self, x, cos, sin):
            x = x + self.attention(self.input_layernorm(x), cos, sin)
            m = self.mlp
            y = self.post_attention_layernorm(x)
            hidden = F.relu(m.gate_proj(y)).square() * m.up_proj(y)
            return x + m.down_proj(m.ffn_sub_norm(hidden))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Module()
            self.model.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
            nn.init.normal_(self.model.embed_tokens.weight, std=0.02)
            self.model.layers = nn.ModuleList(Layer() for _ in range(cfg.num_hidden_layers))
            self.model.norm = RMSNorm(cfg.hidden_size)

        def forward(self, ids):                   # ids [B, T] -> logits [B, T, vocab]
            t = ids.shape[1]
            freqs = torch.arange(t, dtype=torch.float32)[:, None] * inv_freq[None, :]
            emb = torch.cat([freqs, freqs], dim=-1)
            cos, sin = emb.cos(), emb.sin()
            x = self.model.embed_tokens(ids)
            for layer in self.model.layers:
                x = layer(x, cos, sin)
            return F.linear(self.model.norm(x), self.model.embed_tokens.weight)

        def bitlinears(self):
            """``(HF name, BitLinear)`` of every projection."""
            for i, layer in enumerate(self.model.layers):
                for p in PROJECTIONS:
                    yield layer_name(i, p), layer.get_submodule(p)

    return Decoder()


# -- training -----------------------------------------------------------------------------

def _lr(tc: TrainConfig, step: int) -> float:
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    frac = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
    return tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * frac))


def windows(ids: np.ndarray, context: int) -> list[np.ndarray]:
    """``ids`` cut into consecutive windows of ``context + 1`` tokens overlapping by one (each
    predicts its last ``context`` tokens from position 0); the last window may be shorter."""
    return [ids[s:s + context + 1] for s in range(0, ids.size - 1, context)]


def torch_nll(net, ids: np.ndarray, context: int, batch: int = 32) -> tuple[float, int]:
    """Summed next-token negative log-likelihood of ``ids`` over :func:`windows` (float64
    from the float32 logits), and the number of tokens predicted."""
    torch = _torch()
    ws = windows(ids, context)
    full = [w for w in ws if w.size == context + 1]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)]
    groups += [[w] for w in ws if w.size != context + 1]
    total, count = 0.0, 0
    with torch.no_grad():
        for group in groups:
            w = torch.from_numpy(np.stack(group))
            logits = net(w[:, :-1]).double()
            total += float(torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum"))
            count += w[:, 1:].numel()
    return total, count


def train(tc: TrainConfig, train_ids: np.ndarray, heldout_ids: np.ndarray | None = None,
          log=_say):
    """Train the decoder of ``tc`` on ``train_ids`` (random windows of ``tc.context + 1``
    tokens, a fixed seed). Returns the network and the history of ``(step, train loss,
    held-out loss or None)``."""
    torch = _torch()
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    cfg = tc.model_config()
    net = _build_network(cfg)
    decay = [p for n, p in net.named_parameters() if p.ndim == 2 and "embed" not in n]
    rest = [p for n, p in net.named_parameters() if not (p.ndim == 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=tc.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(tc.seed)
    data = torch.from_numpy(train_ids)
    offsets = torch.arange(tc.context + 1)
    history, started, running = [], time.perf_counter(), None
    for step in range(tc.steps):
        for group in opt.param_groups:
            group["lr"] = _lr(tc, step)
        starts = torch.randint(0, data.numel() - tc.context - 1, (tc.batch,), generator=gen)
        batch = data[starts[:, None] + offsets]
        logits = net(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size),
                                                 batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        value = loss.item()
        running = value if running is None else 0.9 * running + 0.1 * value
        last = step == tc.steps - 1
        if heldout_ids is not None and tc.eval_every and ((step + 1) % tc.eval_every == 0
                                                          or last):
            nll, n = torch_nll(net, heldout_ids, tc.context)
            history.append((step + 1, value, nll / n))
            log(f"step {step + 1}/{tc.steps}: train loss {running:.3f}, held-out loss "
                f"{nll / n:.3f} (perplexity {math.exp(nll / n):.2f}), "
                f"{time.perf_counter() - started:.0f} s")
        else:
            history.append((step + 1, value, None))
    return net, history


# -- export -------------------------------------------------------------------------------

def export(net, cfg: ModelConfig, tokenizer, out) -> Path:
    """Write ``net`` as a Hugging Face BitNet directory: ``config.json``,
    ``model.safetensors`` (float32 embedding and norms, packed uint8 projections with a
    float32 ``weight_scale`` to divide by) and ``tokenizer.json``."""
    from safetensors.numpy import save_file
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, p in net.named_parameters():
        if not name.endswith("proj.weight"):
            tensors[name] = p.detach().numpy().astype(np.float32)
    for name, lin in net.bitlinears():
        codes, ws = lin.ternary()
        tensors[name + ".weight"] = pack_hf_ternary(codes.numpy().astype(np.int8))
        tensors[name + ".weight_scale"] = np.array([float(ws)], np.float32)
    save_file(tensors, str(root / WEIGHTS_FILE), metadata={"format": "pt"})
    config = {"model_type": "bitnet", "architectures": ["BitNetForCausalLM"],
              **cfg.to_dict(), "torch_dtype": "float32",
              "quantization_config": {"quant_method": "bitnet", "linear_class": "bitlinear"}}
    (root / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    tokenizer.save(str(root / TOKENIZER_FILE))
    return root


def load_network(path):
    """The PyTorch QAT network of an exported directory, its projections frozen at the stored
    codes and scales (so its forward is the float QAT forward of the trained model)."""
    torch = _torch()
    from .hf import open_hf
    ck = open_hf(path)
    net = _build_network(ck.config)
    params = dict(net.named_parameters())
    lins = dict(net.bitlinears())
    with torch.no_grad():
        for name, value in ck.tensors():
            if name in lins:
                lins[name].frozen = (torch.from_numpy(value.codes.astype(np.float32)),
                                     torch.tensor(np.float32(value.scale)))
            else:
                params[name].copy_(torch.from_numpy(value))
    return net, ck


# -- perplexity -------------------------------------------------------------------------

def heldout_ids(tokenizer=None) -> np.ndarray:
    text, _ = read_corpus(HELDOUT_FILES)
    return encode(tokenizer or build_tokenizer(), text)


def model_nll(model, ids: np.ndarray, context: int) -> tuple[float, int]:
    """:func:`torch_nll` through a :class:`~lutcore.models.bitnet.BitNetModel` (its integer
    path on its backend), in float64 from its float32 logits."""
    total, count = 0.0, 0
    for w in windows(ids, context):
        logits = model.forward(w[:-1]).astype(np.float64)
        m = logits.max(axis=1, keepdims=True)
        logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
        total -= float(logp[np.arange(w.size - 1), w[1:]].sum())
        count += w.size - 1
    return total, count


def perplexities(path, backends=("numpy", "iss", "rtl"), tokens: dict | None = None,
                 configs: dict | None = None, log=_say) -> list[dict]:
    """Held-out perplexity of the exported model at ``path``: the float QAT forward
    (PyTorch) and the integer path of :func:`~lutcore.models.load_model` per backend, each
    over the first ``tokens[backend]`` held-out tokens (all when absent; ``numpy`` also over
    all), the float model over each of those slices. Returns rows ``{"path", "tokens",
    "perplexity", "seconds"}``."""
    from . import load_model
    tokens, configs = tokens or {}, configs or {}
    net, ck = load_network(path)
    ids = heldout_ids(ck.tokenizer)
    context = ck.config.max_position_embeddings
    rows = []
    slices = sorted({min(tokens.get(b, ids.size), ids.size) for b in backends} | {ids.size})
    for n in slices:
        started = time.perf_counter()
        nll, count = torch_nll(net, ids[:n], context)
        rows.append({"path": "float QAT (torch)", "tokens": count,
                     "perplexity": math.exp(nll / count),
                     "seconds": time.perf_counter() - started})
        log(_row(rows[-1]))
    for backend in backends:
        sizes = {min(tokens.get(backend, ids.size), ids.size)}
        sizes |= {ids.size} if backend == "numpy" else set()   # numpy: all of it, too
        config = configs.get(backend, "default")
        with load_model(path, backend=backend, config=config) as m:
            for n in sorted(sizes):
                started = time.perf_counter()
                nll, count = model_nll(m, ids[:n], context)
                rows.append({"path": f"integer, {backend} ({config})", "tokens": count,
                             "perplexity": math.exp(nll / count),
                             "seconds": time.perf_counter() - started, "nll": nll})
                log(_row(rows[-1]))
    return rows


def _row(r: dict) -> str:
    return (f"| {r['path']} | {r['tokens']} | {r['perplexity']:.6f} | "
            f"{r['seconds']:.1f} |")


# -- command line ---------------------------------------------------------------------------

def run_training(tc: TrainConfig, out, log=_say) -> dict:
    """Train on :data:`TRAIN_FILES`, export to ``out``, write nothing else; returns a summary
    (corpus, configuration, losses, held-out perplexity of the float model)."""
    tok = build_tokenizer()
    train_text, train_src = read_corpus(TRAIN_FILES)
    held_text, held_src = read_corpus(HELDOUT_FILES)
    train_ids, held_ids = encode(tok, train_text), encode(tok, held_text)
    log(f"corpus: {train_ids.size} training characters ({len(TRAIN_FILES)} files), "
        f"{held_ids.size} held out ({', '.join(HELDOUT_FILES)})")
    started = time.perf_counter()
    net, history = train(tc, train_ids, held_ids, log=log)
    seconds = time.perf_counter() - started
    cfg = tc.model_config()
    export(net, cfg, tok, out)
    losses = [h[1] for h in history]
    log(f"trained {tc.steps} steps in {seconds:.0f} s; exported to {out}")
    return {"train": train_src, "heldout": held_src, "config": asdict(tc),
            "first_loss": losses[0], "last_loss": losses[-1], "seconds": seconds,
            "history": history}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lutcore.models.train_lm",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, help="directory to export the trained model to")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the "
                                                           "committed model's)")
    p.add_argument("--smoke", action="store_true", help="a few steps of a small network")
    p.add_argument("--eval", type=Path, metavar="DIR", help="print the held-out perplexity "
                                                            "table of an exported model")
    p.add_argument("--backends", default="numpy,iss,rtl", help="backends of --eval")
    p.add_argument("--tokens", type=int, default=64, metavar="N",
                   help="held-out tokens on every backend (numpy and the float model also: all)")
    p.add_argument("--rtl-config", default="default", metavar="PRESET",
                   help="core configuration of the rtl backend (default: default)")
    args = p.parse_args(argv)
    if args.tokens < 2:
        p.error(f"--tokens {args.tokens}: must be >= 2")
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps {args.steps}: must be >= 1")
    try:
        if args.eval is not None:
            backends = tuple(b for b in args.backends.split(",") if b)
            slow = {b: args.tokens for b in backends}
            header = ["| path | held-out tokens | perplexity | seconds |\n|---|---|---|---|"]

            def log(line: str) -> None:
                _say("\n".join(header + [line]))
                header.clear()

            perplexities(args.eval, backends, slow, {"rtl": args.rtl_config}, log=log)
            return 0
        if args.out is None:
            p.error("give --out DIR (train) or --eval DIR")
        tc = SMOKE if args.smoke else TrainConfig()
        if args.steps is not None:
            tc = replace(tc, steps=args.steps)
        summary = run_training(tc, args.out)
        print(json.dumps({k: summary[k] for k in ("first_loss", "last_loss", "seconds")}))
        return 0
    except LutcoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
