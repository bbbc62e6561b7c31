"""Golden table precompute and weight encoding for both LUT modes (DESIGN §2.1, §2.2).

Written from the maths, vectorised over rows, groups and weights; never from the RTL.
Shapes: activations ``A`` [M, K] (signed ints), weights ``W`` [N, K] (signed ints). K is
zero-padded to J = ceil(K / g) groups; a padded activation is 0 and adds nothing.

Bit-serial (paper Eq. 6): weight codes ``q = w + z`` in [0, 2^B). Bit b of q read as a sign
``2*q_b - 1``. Full table ``T[v] = sum_i (2*v_i - 1) * a_i``; ``T[v] = -T[~v]``, so only
``H[u] = T[u]``, u < 2^(g-1), is stored. A pattern v with its top bit set is looked up as
``-H[~v & (2^(g-1) - 1)]``.

ELUT: ``v = sum_i 3^(g-1-i) * w_i``, stored as sign ``s = v < 0`` and index ``u = |v|``;
``H[u] = sum_i d_i(u) * a_i`` with d(u) the balanced-ternary digits of u (d_0 most significant).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...spec import numerics as nx

__all__ = [
    "num_groups", "group_activations",
    "bitserial_sign_matrix", "bitserial_tables", "bitserial_full_tables", "encode_bitserial",
    "balanced_ternary_digits", "elut_tables", "encode_elut",
]


def num_groups(k: int, g: int) -> int:
    return -(-k // g)


def group_activations(a: np.ndarray, g: int) -> np.ndarray:
    """[M, K] -> [M, J, g] int64, zero-padding K up to a multiple of g."""
    a = np.asarray(a, dtype=np.int64)
    m, k = a.shape
    j = num_groups(k, g)
    if j * g != k:
        a = np.concatenate([a, np.zeros((m, j * g - k), np.int64)], axis=1)
    return a.reshape(m, j, g)


@lru_cache(maxsize=None)
def bitserial_sign_matrix(g: int, symmetrize: bool = True) -> np.ndarray:
    """[E, g] matrix of signs: row v, column i is 2 * bit_i(v) - 1 (E = 2^(g-1) or 2^g)."""
    e = nx.bitserial_entries(g) if symmetrize else nx.bitserial_full_entries(g)
    v = np.arange(e)[:, None]
    s = 2 * ((v >> np.arange(g)[None, :]) & 1) - 1
    s.setflags(write=False)
    return s.astype(np.int64)


def bitserial_tables(a: np.ndarray, g: int) -> np.ndarray:
    """Symmetrized tables H [M, J, 2^(g-1)] int64: ``H[m, j, u] = T_{m,j}[u]``."""
    return group_activations(a, g) @ bitserial_sign_matrix(g, True).T


def bitserial_full_tables(a: np.ndarray, g: int) -> np.ndarray:
    """Unsymmetrized tables T [M, J, 2^g] int64 (the baseline without symmetrization)."""
    return group_activations(a, g) @ bitserial_sign_matrix(g, False).T


def _weight_groups(w: np.ndarray, g: int, pad: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.int64)
    n, k = w.shape
    j = num_groups(k, g)
    if j * g != k:
        w = np.concatenate([w, np.full((n, j * g - k), pad, np.int64)], axis=1)
    return w.reshape(n, j, g)


def encode_bitserial(w: np.ndarray, g: int, weight_bits: int, zero_point: int,
                     symmetrize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Encode weights ``w = q - z`` into per-plane lookup codes.

    Returns ``(u, s)``, each [B, N, J]: u the table index (uint8), s the sign (bool; always
    False when ``symmetrize`` is False, and u is then the full g-bit pattern v).
    Padded weights get code z (w = 0); their activations are zero anyway.
    """
    q = _weight_groups(w, g, 0) + zero_point                     # [N, J, g] codes
    planes = (q[None] >> np.arange(weight_bits)[:, None, None, None]) & 1  # [B, N, J, g]
    v = (planes << np.arange(g)).sum(axis=-1)                    # [B, N, J] patterns
    if not symmetrize:
        return v.astype(np.uint8), np.zeros(v.shape, bool)
    half = nx.bitserial_entries(g)
    s = v >= half                                                # top bit of v
    u = np.where(s, ~v, v) & (half - 1)
    return u.astype(np.uint8), s


@lru_cache(maxsize=None)
def balanced_ternary_digits(g: int) -> np.ndarray:
    """[E, g] digits d_i(u) in {-1, 0, 1} of u = 0..(3^g-1)/2, d_0 most significant."""
    u = np.arange(nx.elut_entries(g), dtype=np.int64)
    digits = np.zeros((u.size, g), np.int64)
    rest = u.copy()
    for i in range(g - 1, -1, -1):        # g <= 5 digit positions, vectorised over all u
        r = rest % 3
        d = np.where(r == 2, -1, r)
        digits[:, i] = d
        rest = (rest - d) // 3
    assert not rest.any()
    digits.setflags(write=False)
    return digits


def elut_tables(a: np.ndarray, g: int) -> np.ndarray:
    """ELUT tables H [M, J, (3^g+1)/2] int64."""
    return group_activations(a, g) @ balanced_ternary_digits(g).T


def encode_elut(w: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
    """Ternary weights [N, K] -> ``(u, s)`` each [N, J]: u = |v| (uint8), s = v < 0."""
    wg = _weight_groups(w, g, 0)
    v = wg @ (3 ** np.arange(g - 1, -1, -1, dtype=np.int64))
    return np.abs(v).astype(np.uint8), v < 0
