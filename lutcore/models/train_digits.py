"""Train the ternary digit classifier of ``examples/digits`` (``make train-digits``).

A BitNet b1.58 MLP (:mod:`lutcore.models.classifier`) trained with quantization-aware
training in PyTorch on the CPU: every BitLinear quantizes its weights to ternary by absmean
and its inputs to int8 per row by absmax in the forward pass, with straight-through
gradients to the float master weights. The data are scikit-learn's 8x8 digits
(``load_digits``, in its wheel, no download); the held-out split of
:func:`~lutcore.models.classifier.digits_split` is never trained on. The seed is fixed.

The trained weights are written in the Hugging Face packed layout (:func:`pack_hf_ternary`,
``weight_scale`` as ``1 / mean|W|`` so ``y = y_int / (s * weight_scale)``), then loaded back
through :func:`~lutcore.models.classifier.load_classifier` to report the accuracy of the
integer path.

    python -m lutcore.models.train_digits [--out examples/digits] [--epochs N]
    python -m lutcore.models.train_digits --steps 20 --out /tmp/d      # a smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..sw.kernels.bitnet import EPS
from .classifier import (ClassifierConfig, digits_split, linear_name, load_classifier,
                         norm_name)
from .hf import CONFIG_FILE, WEIGHTS_FILE, pack_hf_ternary

__all__ = ["main", "train", "export", "HIDDEN", "SEED"]

HIDDEN = (128, 128)
SEED = 0
QMAX = 127


def _torch():
    try:
        import torch
    except ImportError as e:                  # the training extra is not installed
        raise SystemExit(f"train_digits needs PyTorch (CPU): {e}") from None
    return torch


def _modules(torch):
    nn = torch.nn

    def ste(x, q):
        return x + (q - x).detach()

    class BitLinear(nn.Module):
        """RMSNorm, then ternary weights (absmean) times int8 activations (absmax per row),
        straight-through; the same arithmetic as the integer path, in float."""

        def __init__(self, k, n, eps):
            super().__init__()
            self.norm = nn.RMSNorm(k, eps=eps)
            self.weight = nn.Parameter(torch.empty(n, k))
            nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)

        def forward(self, x):
            x = self.norm(x)
            s = QMAX / x.abs().amax(dim=1, keepdim=True).clamp(min=EPS)
            x = ste(x, (x * s).round().clamp(-QMAX, QMAX) / s)
            scale = self.weight.abs().mean().clamp(min=EPS)
            w = ste(self.weight, (self.weight / scale).round().clamp(-1, 1) * scale)
            return x @ w.t()

    class MLP(nn.Module):
        def __init__(self, sizes, eps):
            super().__init__()
            self.layers = nn.ModuleList(BitLinear(k, n, eps)
                                        for k, n in zip(sizes[:-1], sizes[1:]))

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i < len(self.layers) - 1:
                    x = torch.relu(x)
            return x

    return MLP


def _shift(torch, x, gen):
    """Each 8x8 image moved by -1, 0 or +1 pixels in each direction (zeros shifted in)."""
    img = x.view(-1, 8, 8)
    out = torch.zeros_like(img)
    dy, dx = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
    ys, yd = slice(max(0, -dy), 8 - max(0, dy)), slice(max(0, dy), 8 - max(0, -dy))
    xs, xd = slice(max(0, -dx), 8 - max(0, dx)), slice(max(0, dx), 8 - max(0, -dx))
    out[:, yd, xd] = img[:, ys, xs]
    return out.view(-1, 64)


def train(*, epochs: int = 60, steps: int | None = None, hidden=HIDDEN, seed: int = SEED,
          batch: int = 32, lr: float = 3e-3, eps: float = 1e-5, log=None):
    """Train the MLP; returns ``(model, config, losses)``, the loss of every step. ``steps``
    stops early (a smoke run)."""
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x_train, y_train, _, _ = digits_split()
    cfg = ClassifierConfig((x_train.shape[1], *hidden, 10), eps)
    model = _modules(torch)(cfg.sizes, eps)
    x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(seed)
    per_epoch = -(-len(x) // batch)
    total = steps if steps is not None else epochs * per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    losses: list[float] = []
    while len(losses) < total:
        order = torch.randperm(len(x), generator=gen)
        for b in range(per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            xb = _shift(torch, x[idx], gen) if steps is None else x[idx]
            loss = torch.nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if len(losses) == total:
                break
        if log and steps is None:
            log(f"epoch {len(losses) // per_epoch:3d}: loss {np.mean(losses[-per_epoch:]):.4f}")
    return model, cfg, losses


def export(model, cfg: ClassifierConfig, out: Path) -> None:
    """Write ``config.json`` and ``model.safetensors`` (packed projections, f32 norms)."""
    from safetensors.numpy import save_file
    tensors = {}
    for i, layer in enumerate(model.layers):
        w = layer.weight.detach().double().numpy()
        scale = max(float(np.abs(w).mean()), EPS)
        codes = np.clip(np.rint(w / scale), -1, 1).astype(np.int8)
        tensors[norm_name(i)] = layer.norm.weight.detach().numpy().astype(np.float32)
        tensors[linear_name(i) + ".weight"] = pack_hf_ternary(codes)
        tensors[linear_name(i) + ".weight_scale"] = np.array([1.0 / scale], np.float32)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    (out / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lutcore.models.train_digits",
                                description="Train the ternary digit classifier (QAT).")
    p.add_argument("--out", type=Path, default=Path("examples/digits"),
                   help="output directory (default: examples/digits)")
    p.add_argument("--epochs", type=int, default=60, help="epochs (default: 60)")
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many steps, no augmentation (a smoke run)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    model, cfg, losses = train(epochs=args.epochs, steps=args.steps, log=print)
    print(f"trained {len(losses)} steps in {time.perf_counter() - started:.1f} s: loss "
          f"{losses[0]:.4f} -> {losses[-1]:.4f}")
    export(model, cfg, args.out)
    _, _, x_test, y_test = digits_split()
    with load_classifier(args.out, backend="numpy") as m:
        acc = float(np.mean(m.predict(x_test) == y_test))
    print(f"wrote {args.out}: sizes {list(cfg.sizes)}; held-out accuracy (integer path, "
          f"{len(y_test)} images): {acc:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
