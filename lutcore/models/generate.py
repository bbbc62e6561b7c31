"""Choosing the next token from logits: greedy, or temperature / top-k sampling from a
seeded generator (the same seed gives the same tokens on every backend, whose logits are
bit-identical)."""

from __future__ import annotations

import numpy as np

from ..errors import ModelError

__all__ = ["Sampler"]


class Sampler:
    """``Sampler(temperature, top_k, seed)(logits) -> id``: the argmax when ``temperature``
    is 0 (ties to the lowest id), else a draw from ``softmax(logits / temperature)`` over the
    ``top_k`` largest logits (all when 0)."""

    def __init__(self, temperature: float = 0.0, top_k: int = 0, seed: int | None = None):
        if not (isinstance(temperature, (int, float)) and np.isfinite(temperature)
                and temperature >= 0):
            raise ModelError(f"temperature {temperature!r}: must be a finite number >= 0")
        if not isinstance(top_k, int) or top_k < 0:
            raise ModelError(f"top_k {top_k!r}: must be an integer >= 0 (0: all tokens)")
        self.temperature, self.top_k = float(temperature), top_k
        self.rng = np.random.default_rng(seed)

    def __call__(self, logits: np.ndarray) -> int:
        logits = np.asarray(logits, np.float64)
        if self.temperature == 0:
            return int(np.argmax(logits))
        candidates = np.arange(logits.size)
        if 0 < self.top_k < logits.size:
            candidates = np.sort(np.argpartition(-logits, self.top_k - 1)[:self.top_k])
        z = logits[candidates] / self.temperature
        p = np.exp(z - z.max())
        return int(candidates[self.rng.choice(candidates.size, p=p / p.sum())])
