"""Floating-point activations: the golden model of the FP contract (docs/architecture.md,
"Floating-point activations"), and the host path for FP16/BF16 activations.

Activations ``A`` [M, K] are FP16 or BF16, weights the same packed codes as the integer path
(:func:`~.packing.pack_bitserial`, :func:`~.packing.pack_elut`). Unlike integer sums, every
floating-point result depends on the order of its operations, so this module does exactly
the operations of the contract, in its order, each one IEEE operation in its format rounded
to nearest even (NumPy ``float16``/``float32`` and ``ml_dtypes.bfloat16``; see
:attr:`lutcore.spec.fp.FpFormat.dtype` for why those are correctly rounded):

1. **Tables** (``table_format``): activations converted to ``table_format`` (exact when
   it is at least as wide; a narrower format, which the hardware unit refuses, is one
   rounding to nearest even here), then every
   entry of every group's table built by the table plan of :mod:`lutcore.spec.table_plan`
   (the graph the table precompute unit instantiates), node by node, each node one rounded
   addition or subtraction; ``2^k * a`` operands are exact doublings (infinite on overflow).
2. **Terms**: entry ``H[idx]`` converted to ``acc_format``, negated when the code's sign is
   set (exact), scaled by ``2^shift`` (``shift`` = the plane b bit-serial, 1 ELUT; exact
   unless it overflows, then infinite).
3. **Accumulation** (``acc_format``): the addends, in order: for each step (L =
   ``lookups`` consecutive K groups, in K order), for each plane b = 0..P-1 (one ELUT), the
   step's L terms summed as a balanced tree (``(t0 + t1) + (t2 + t3)``, an odd last term
   carried up). Groups past K (K not a multiple of g x L) have all-zero tables and give
   +0 terms. They go into :data:`~lutcore.spec.fp.ACC_LANES` (5) partial sums, all +0 at
   first: addend i is added to partial ``i mod 5``, one rounded addition each (so that a
   5-stage pipelined adder can accumulate one addend per cycle).
4. **Row sums** (bit-serial): per step, ``tree(-H_j[0])`` over its L groups (``-H_j[0]``
   is the sum of group j's activations as the table built it), the i-th step's into row
   partial ``i mod 5`` the same way.
5. **Finalize**: ``S`` and ``R`` each the tree ``((p0 + p1) + (p2 + p3)) + p4`` of their
   partials, then ``O = (S + c * R) * 0.5``: one rounded multiplication ``c * R`` (c the
   small integer ``2^B - 1 - 2z``; 0 in ELUT mode, where R stays +0), one rounded addition,
   and a halving (exact, except that a subnormal result is rounded).

NaN and infinity in activations propagate as IEEE arithmetic says; any NaN is a NaN (the
hardware returns the canonical quiet NaN). Every term of a chunk of steps is gathered,
signed, scaled and tree-summed at once over all rows and columns; the additions into S and R
then run step by step in order, each one vectorised over all rows and columns (no loop runs
over rows, columns or elements).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np

from ...errors import LutcoreError
from ...spec import fp
from ...spec.table_plan import bitserial_plan, elut_plan
from .packing import BitSerialWeights, ElutWeights

__all__ = ["accumulate", "finalize", "fp_activations", "fp_error", "fp_lut_gemm", "fp_tables",
           "tree_axis", "tree_sum"]

# Decoded weight codes of the last few packed weight objects (decoding the packed bytes costs
# more than a GEMV): id -> (weak reference, symmetrize, codes).
_CODES: OrderedDict = OrderedDict()
_CODES_KEPT = 8

# Terms built at a time (float32: 16 MiB): the steps are taken in chunks of about this many
# terms, so memory stays bounded for any K.
_CHUNK_ELEMENTS = 1 << 22


def fp_activations(a, act_format: str, name: str = "a") -> np.ndarray:
    """Activations ``a`` [M, K] as an array of ``act_format`` ('fp16' or 'bf16').

    FP16 takes a ``float16`` array; BF16 an ``ml_dtypes.bfloat16`` array or its raw bit
    patterns as ``uint16`` (NumPy has no bfloat16). Any other dtype, shape or format is
    refused in one line: converting silently would round the user's values."""
    fmt = fp.fp_format(fp.check_format("act_format", act_format, fp.ACT_FORMATS[1:]))
    a = np.asarray(a)
    if a.ndim != 2 or 0 in a.shape:
        raise LutcoreError(f"{name} must be a non-empty 2-D [M, K] array, got shape {a.shape}")
    if a.dtype == fmt.dtype:
        return a
    if fmt.name == "bf16" and a.dtype == np.uint16:
        return a.view(fmt.dtype)
    allowed = "float16" if fmt.name == "fp16" else "bfloat16 (ml_dtypes) or its bits as uint16"
    raise LutcoreError(f"{name} has dtype {a.dtype}: act_format {fmt.name} takes {allowed}")


def fp_tables(a: np.ndarray, g: int, mode: str, *, symmetrize: bool = True,
              table_format: str = "fp32") -> np.ndarray:
    """Tables ``H`` [M, J, E] in ``table_format`` of FP activations ``a`` [M, K]: the table
    plan evaluated node by node (K zero-padded to J = ceil(K / g) groups with +0)."""
    t = fp.fp_format(table_format).dtype
    x = fp.as_format(a, table_format)
    m, k = x.shape
    j = -(-k // g)
    groups = np.zeros((m, j * g), t)
    groups[:, :k] = x
    groups = groups.reshape(m, j, g)
    plan = bitserial_plan(g, symmetrize) if mode == "bitserial" else elut_plan(g)
    zero = np.zeros((m, j), t)
    values: list[np.ndarray] = []

    def get(ref):
        if ref[0] == "zero":
            return zero
        if ref[0] == "act":
            v = groups[:, :, ref[1]]
            return v * t.type(1 << ref[2]) if ref[2] else v
        return values[ref[1]]

    with np.errstate(over="ignore", invalid="ignore"):
        for n in plan.nodes:                  # loop over the plan's adders, in order
            lhs, rhs = get(n.lhs), get(n.rhs)
            values.append(lhs + rhs if n.op == "+" else lhs - rhs)
        return np.stack([get(e) for e in plan.entries], axis=2)


def _codes(packed, symmetrize: bool):
    """``packed.codes(...)``, decoded once for the last :data:`_CODES_KEPT` weight objects."""
    key = (id(packed), symmetrize)
    hit = _CODES.get(key)
    if hit is not None and hit[0]() is packed:
        _CODES.move_to_end(key)
        return hit[1]
    codes = packed.codes(symmetrize) if isinstance(packed, BitSerialWeights) \
        else packed.codes()
    _CODES[key] = (weakref.ref(packed), codes)
    while len(_CODES) > _CODES_KEPT:
        _CODES.popitem(last=False)
    return codes


def tree_sum(terms: list[np.ndarray]) -> np.ndarray:
    """``(t0 + t1) + (t2 + t3) + ...`` as a balanced tree, pairs in order, an odd last term
    carried to the next level (the LUT core's adder tree over L lookups)."""
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[len(terms) & ~1:]
    return terms[0]


def fp_lut_gemm(a, packed, *, act_format: str, table_format: str = "fp32",
                acc_format: str = "fp32", symmetrize: bool = True,
                lookups: int = 1) -> np.ndarray:
    """``O = A @ W.T`` for FP activations by the FP contract (module docstring), bit for bit.

    Args:
        a: activations [M, K] in ``act_format`` (see :func:`fp_activations`).
        packed: weights from :func:`~.packing.pack_bitserial` (any B, z) or
            :func:`~.packing.pack_elut`; their ``g`` is the group of the tables.
        act_format: 'fp16' or 'bf16'.
        table_format: 'fp16', 'bf16' or 'fp32'.
        acc_format: 'fp16' or 'fp32': the accumulators' and the output's format.
        symmetrize: bit-serial only: half tables with signed codes, or full tables.
        lookups: L, K groups per step (the step's terms are summed as a tree first).

    Returns:
        [M, N] array of ``acc_format`` (``float16`` or ``float32``).
    """
    if not isinstance(packed, (BitSerialWeights, ElutWeights)):
        raise LutcoreError(f"packed must be BitSerialWeights or ElutWeights, got "
                           f"{type(packed).__name__}")
    fp.check_format("table_format", table_format, fp.TABLE_FORMATS)
    fp.check_format("acc_format", acc_format, fp.ACC_FORMATS)
    if isinstance(lookups, bool) or not isinstance(lookups, int) or not 1 <= lookups <= 8:
        raise LutcoreError(f"lookups = {lookups!r} is invalid: allowed 1..8")
    a = fp_activations(a, act_format)
    if a.shape[1] != packed.k:
        raise LutcoreError(f"a has K = {a.shape[1]} columns but packed has K = {packed.k}")
    acc = fp.fp_format(acc_format).dtype
    bitserial = isinstance(packed, BitSerialWeights)
    if bitserial:
        u, s = _codes(packed, symmetrize)
        shifts, c = range(packed.weight_bits), packed.correction
    else:
        u, s = _codes(packed, True)
        u, s, shifts, c = u[None], s[None], [1], 0
        symmetrize = True
    mode = "bitserial" if bitserial else "elut"
    with np.errstate(over="ignore", invalid="ignore"):
        h = fp_tables(a, packed.g, mode, symmetrize=symmetrize,
                      table_format=table_format).astype(acc)
    m, groups, _ = h.shape
    n, planes = u.shape[1], len(shifts)
    steps = -(-groups // lookups)
    scale = np.array([1 << b for b in shifts], acc)[:, None, None]
    # Sign and scale as one factor: x * (-2^b) is -(x * 2^b) exactly (RNE is symmetric).
    factor = np.where(s, -scale, scale).astype(acc)                      # [P, N, J]
    # ACC_LANES partial sums each: addend i (counted from the start) goes to partial
    # i mod ACC_LANES.
    total = np.zeros((fp.ACC_LANES, m, n), acc)
    rowsum = np.zeros((fp.ACC_LANES, m), acc)
    t_count = r_count = 0
    chunk = max(1, _CHUNK_ELEMENTS // (planes * lookups * m * n))
    entries = h.shape[2]
    with np.errstate(over="ignore", invalid="ignore"):
        for s0 in range(0, steps, chunk):             # loop over chunks of steps, K order
            s1 = min(steps, s0 + chunk)
            g0, g1 = s0 * lookups, min(groups, s1 * lookups)
            pad = (s1 - s0) * lookups - (g1 - g0)     # groups past K: +0 terms
            flat = h[:, g0:g1].reshape(m, -1)
            index = u[:, :, g0:g1] + (np.arange(g1 - g0) * entries)[None, None, :]
            # Every term of the chunk, [M, P, N, G]: entry times (sign x 2^shift).
            t = np.take(flat, index, axis=1) * factor[None, :, :, g0:g1]
            if pad:
                t = np.concatenate([t, np.zeros((m, planes, n, pad), acc)], axis=3)
            # Each step's L terms as a tree, then the addends in contract order: step, plane.
            t = tree_axis(t.reshape(m, planes, n, s1 - s0, lookups), 4)   # [M, P, N, S]
            t_count = accumulate(total, t_count, t.transpose(3, 1, 0, 2).reshape(-1, m, n))
            if bitserial:
                r = -h[:, g0:g1, 0]
                if pad:
                    r = np.concatenate([r, np.zeros((m, pad), acc)], axis=1)
                r_count = accumulate(rowsum, r_count,
                                     tree_axis(r.reshape(m, s1 - s0, lookups), 2).T)  # [S, M]
    return finalize(total, rowsum, c)


def accumulate(lanes: np.ndarray, count: int, addends: np.ndarray) -> int:
    """Add ``addends`` [A, ...] in order into the :data:`~lutcore.spec.fp.ACC_LANES` partial
    sums ``lanes`` [ACC_LANES, ...] (in place): addend i goes to partial ``(count + i) mod
    ACC_LANES``, one rounded addition each. Returns the new count."""
    with np.errstate(over="ignore", invalid="ignore"):
        for addend in addends:                    # in order: one rounded addition each
            lane = lanes[count % fp.ACC_LANES]
            np.add(lane, addend, out=lane)
            count += 1
    return count


def finalize(lanes: np.ndarray, row_lanes: np.ndarray, c: int) -> np.ndarray:
    """``O = (S + c * R) * 0.5`` with S and R the partials' trees (module docstring, 5):
    ``lanes`` [ACC_LANES, M, N], ``row_lanes`` [ACC_LANES, M]."""
    acc = lanes.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        total, rowsum = tree_sum(list(lanes)), tree_sum(list(row_lanes))
        return (total + acc.type(c) * rowsum[:, None]) * acc.type(0.5)


def tree_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """:func:`tree_sum` over ``axis`` of ``x`` (that axis removed), vectorised."""
    return tree_sum([np.take(x, i, axis=axis) for i in range(x.shape[axis])])


def fp_error(out: np.ndarray, a, w) -> dict[str, float]:
    """Error of an FP GEMM result against the float64 ``A @ W.T`` of the same activations:
    ``max_rel`` and ``mean_rel``, ``|O - ref| / |ref|`` over the outputs with ``ref != 0``,
    and ``max_norm``, ``|O - ref| / (|A| @ |W|.T)`` (the error relative to the dot
    product's magnitude, defined for every output)."""
    a64 = np.asarray(a).astype(np.float64)
    w64 = np.asarray(w, np.float64)
    ref = a64 @ w64.T
    diff = np.abs(np.asarray(out).astype(np.float64) - ref)
    nz = ref != 0
    rel = diff[nz] / np.abs(ref[nz])
    scale = np.abs(a64) @ np.abs(w64).T
    norm = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
    return {"max_rel": float(rel.max()) if rel.size else 0.0,
            "mean_rel": float(rel.mean()) if rel.size else 0.0,
            "max_norm": float(norm.max()) if norm.size else 0.0}
