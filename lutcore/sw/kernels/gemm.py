"""LUT-based GEMM ``O = A @ W.T`` for both modes, bit-exact against the int64 reference
wrapped to ``acc_bits`` (DESIGN §2.3).

Two paths compute the same integers:

``path="core"``
    the tensor core's own table geometry, step by step as DESIGN §2 writes it: bit-serial
    symmetrized tables of ``2^(g-1)`` entries for the packed weights' ``g``, sign/index codes
    (paper Eq. 6), ``O = (S + c * sum(A)) >> 1``; ELUT half tables of ``(3^g+1)/2`` entries
    with a sign per group. This is the golden model the ISS and the RTL are compared with.

``path="fast"`` (default)
    the host CPU path. A packed storage byte indexes a full, sign-free table directly, so a
    lookup is one gather with no sign, no index arithmetic and no unpacking:

    * bit-serial: one byte of bit plane b is the pattern of 8 consecutive weights; it indexes
      a 256-entry unsymmetrized table ``T[v] = sum_i (2*v_i - 1) * a_i`` over those 8
      activations (DESIGN §2.1 with g = 8, symmetrize off), scaled by ``2^b``;
    * ELUT: one byte is 5 ternary weights in base 3; it indexes a 243-entry table
      ``T[c] = sum_i (d_i(c) - 1) * a_i`` over 5 activations (DESIGN §2.2 with g = 5, the sign
      folded into the index).

    The group size is therefore 8 (bit-serial) or 5 (ELUT) whatever the packed ``g``. Tables are
    held in the narrowest integer type their entries need (int16 for int8 activations), the
    sums in int32 whenever the worst case fits, and the gather runs over cache blocks of output
    columns (see :func:`_lookup_sum`). The lookup-and-sum loop runs compiled from C where a C
    compiler is available (:mod:`.native`), else in NumPy: the same integers either way.

Memory is bounded for any shape: both paths run over consecutive chunks of K (a multiple of
every byte and group size, so a chunk is whole storage bytes and whole groups) and over
blocks of activation rows, and add the chunks' exact int64 partial products; the tables and
temporaries of one chunk are a fixed budget (:data:`_CHUNK_ELEMENTS`, :data:`_CORE_ELEMENTS`),
so the peak is the inputs, the output and that budget. A K that fits one chunk (every BitNet
shape) runs as one piece.
"""

from __future__ import annotations

import sys

import numpy as np

from ...errors import LutcoreError
from ...spec import numerics as nx
from ...spec.fp import ACT_FORMATS
from . import native, tables
from .fp import fp_lut_gemm
from .packing import (ELUT_BYTE_CODES, ELUT_BYTE_GROUP, PLANE_GROUP, BitSerialWeights,
                      ElutWeights, pack_weights)
from .validate import (ACC_BITS_RANGE, ACT_BITS_RANGE, check_activations, check_choice,
                       check_int_matrix, check_k_match, check_range)

__all__ = ["reference_gemm", "lut_gemm", "ternary_gemm", "PATHS", "FAST_GROUP"]

PATHS = ("fast", "core")
# Activations per lookup of the fast path, per mode (see the module docstring).
FAST_GROUP = {"bitserial": PLANE_GROUP, "elut": ELUT_BYTE_GROUP}

# A byte indexes a table: every fast-path table is padded to 256 entries per position, so
# the flat gather offset of position p is p * 256 and the code only fills its low byte.
_BYTE_ENTRIES = 1 << 8
assert ELUT_BYTE_CODES <= _BYTE_ENTRIES and 1 << PLANE_GROUP == _BYTE_ENTRIES
# Where the least significant byte of an intp sits, for writing codes into offsets in place.
_LOW_BYTE = 0 if sys.byteorder == "little" else np.dtype(np.intp).itemsize - 1
# Gathered elements per cache block (int16: 128 KiB), measured with lutcore.studies.bench_host.
_BLOCK_ELEMENTS = 1 << 16
# Table entries built at a time (int16: 32 MiB): activation rows are taken in blocks so that
# the tables of a large M never exceed this.
_TABLE_ELEMENTS = 1 << 24
# K per chunk is a multiple of this: 8 weights per plane byte, 5 per ELUT byte and every core
# group size g (2..6) divide it, so a chunk boundary falls on whole bytes and whole groups.
_K_ALIGN = 120
# Fast path: table entries of one activation row over one K chunk (int16: 8 MiB). Every
# BitNet K (<= 6912, about 0.4 M entries) is one chunk.
_CHUNK_ELEMENTS = 1 << 22
# Core path: table entries and weight codes of one K chunk (int64: about 30 MiB).
_CORE_ELEMENTS = 1 << 19
# Up to this many activation rows, each row's tables are gathered element by element;
# beyond it, a lookup fetches one table entry for all rows at once (a row of M values).
_ROWWISE_MAX_M = 32
# The same bound for the C loop (lutcore.studies.bench_host measures both).
_NATIVE_ROWWISE_MAX_M = 4


def reference_gemm(a, w) -> np.ndarray:
    """Exact ``A @ W.T`` in int64, with no wrapping: the oracle the LUT kernels are tested
    against.

    Args:
        a: integer array [M, K].
        w: integer array [N, K].

    Returns:
        int64 array [M, N].

    Raises:
        LutcoreError: an argument is not a non-empty 2-D integer array, or K differs.
    """
    a = check_int_matrix(a, "a", "[M, K]")
    w = check_int_matrix(w, "w", "[N, K]")
    check_k_match(a.shape, w.shape)
    return a.astype(np.int64) @ w.astype(np.int64).T


def _int_dtype(bound: int):
    """Narrowest of int16/int32/int64 holding every integer in ``[-bound, bound]``."""
    bits = nx.signed_bits(-bound, bound)
    for dt in (np.int16, np.int32, np.int64):
        if bits <= np.iinfo(dt).bits:
            return dt
    raise LutcoreError(f"a sum bound of {bound} does not fit int64: K is too large")


# -- fast path ------------------------------------------------------------------------------

def _rowwise(m: int) -> bool:
    return m <= (_NATIVE_ROWWISE_MAX_M if native.enabled() else _ROWWISE_MAX_M)


def _digit_table(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Tables over all digit strings: ``x`` [..., d] -> [..., r^d] with entry
    ``sum_i values[digit_i] * x[..., i]``, digit 0 most significant (r = len(values))."""
    lead = x.shape[:-1]
    t = np.zeros(lead + (1,), x.dtype)
    for i in range(x.shape[-1]):        # loop over digit positions (at most 4 here)
        t = (t[..., :, None] + values * x[..., i, None, None]).reshape(lead + (-1,))
    return t


def _byte_tables(x: np.ndarray, values, dtype) -> np.ndarray:
    """Full tables over ``d`` digits of radix ``len(values)`` for every row and position,
    padded to 256 entries: ``x`` [M, P, d] -> [M, P, 256] when :func:`_rowwise`, else
    [P, 256, M] (one entry for all rows contiguous), of ``dtype``.

    Built as the outer sum of a table over the leading digits and one over the trailing
    digits, written in place into the final layout: each of the r^d entries costs one add.
    """
    m, p, d = x.shape
    values = np.asarray(values, dtype)
    x = x.astype(dtype)
    hi = _digit_table(x[..., : d // 2], values)               # [M, P, Eh]
    lo = _digit_table(x[..., d // 2:], values)                # [M, P, El]
    eh, el = hi.shape[-1], lo.shape[-1]
    if _rowwise(m):
        out = np.zeros((m, p, _BYTE_ENTRIES), dtype)
        view = out[..., : eh * el].reshape(m, p, eh, el)      # a view: add writes in place
        np.add(hi[..., :, None], lo[..., None, :], out=view)
    else:
        out = np.zeros((p, _BYTE_ENTRIES, m), dtype)
        view = out[:, : eh * el].reshape(p, eh, el, m)
        hi, lo = hi.transpose(1, 2, 0), lo.transpose(1, 2, 0)
        np.add(hi[:, :, None, :], lo[:, None, :, :], out=view)
    return out


def _lookup_sum(tab: np.ndarray, m: int, parts: list[np.ndarray], acc_dtype) -> np.ndarray:
    """``out[r, n] = sum_p tab[r, p, code[n, p]]`` for the ``m`` activation rows r, where the
    byte codes ``code`` [N, P] are the column-wise concatenation of ``parts`` (one uint8
    [N, P_i] array per bit plane), and ``tab`` is laid out as :func:`_byte_tables` returns it.

    The flat gather index ``p * 256 + code`` is never stored: an intp buffer per cache block
    holds ``p * 256`` once, and each block only overwrites its low byte with the codes (a
    strided byte copy), then one ``np.take`` gathers and one reduction sums over p. A block
    holds about _BLOCK_ELEMENTS gathered values (at least one output column).

    The same loop compiled from C (:mod:`.native`) runs instead wherever it is available: it
    adds each entry as it reads it, with no index array and no gathered copy.
    """
    rowwise = _rowwise(m)
    out = native.lookup_sum(tab, m, parts, acc_dtype, rowwise)
    if out is not None:
        return out
    n = parts[0].shape[0]
    if rowwise:
        # [M, P*256]: each row's tables contiguous; take along axis 1, row after row. A block
        # of ~_BLOCK_ELEMENTS lookups reuses every row's tables before the next block.
        _, p_total, entries = tab.shape
        flat = tab.reshape(m, p_total * entries)
        nb = max(1, min(n, _BLOCK_ELEMENTS // p_total))
        got = np.empty((m, nb, p_total), tab.dtype)
    else:
        # [P*256, M]: one lookup fetches an entry for all M rows (a contiguous row of M).
        p_total, entries, _ = tab.shape
        flat = tab.reshape(p_total * entries, m)
        nb = max(1, min(n, _BLOCK_ELEMENTS // (p_total * m)))
        got = np.empty((nb, p_total, m), tab.dtype)
    out = np.empty((m, n), acc_dtype)
    idx = np.empty((nb, p_total), np.intp)
    idx[:] = np.arange(p_total, dtype=np.intp) * entries
    low = idx.view(np.uint8).reshape(nb, p_total, idx.itemsize)[..., _LOW_BYTE]
    for s in range(0, n, nb):           # loop over cache blocks of output columns
        e = min(s + nb, n)
        r = e - s
        col = 0
        for part in parts:              # loop over bit planes
            low[:r, col:col + part.shape[1]] = part[s:e]
            col += part.shape[1]
        # mode="wrap" skips the bounds check (every index is in range by construction)
        # and lets take write straight into `got` rather than a buffered copy.
        if rowwise:
            g = got if r == nb else np.empty((m, r, p_total), tab.dtype)
            np.take(flat, idx[:r], axis=1, out=g, mode="wrap")
            np.add.reduce(g, axis=2, dtype=acc_dtype, out=out[:, s:e])
        else:
            np.take(flat, idx[:r], axis=0, out=got[:r], mode="wrap")
            out[:, s:e] = np.add.reduce(got[:r], axis=1, dtype=acc_dtype).T
    return out


def _fast_bitserial(a: np.ndarray, packed: BitSerialWeights, act_bits: int) -> np.ndarray:
    m, k = a.shape
    bits = packed.weight_bits
    # Plane b's tables are the 8-activation tables scaled by 2^b (DESIGN §2.1, S = sum_b 2^b..).
    tdt = _int_dtype(nx.table_bound(PLANE_GROUP, act_bits) << (bits - 1))
    acc = _int_dtype(nx.worst_case_output(k, act_bits, (1 << bits) - 1))
    # Bit i of a plane byte is weight i: reverse so weight 7 is the most significant digit.
    x = tables.group_activations(a, PLANE_GROUP)[..., ::-1]
    t8 = _byte_tables(x, (-1, 1), tdt)
    # Positions b*J8 + j: plane b's codes follow plane b-1's (the parts of _lookup_sum).
    tab = np.concatenate([t8 << b for b in range(bits)], axis=1 if _rowwise(m) else 0)
    s = _lookup_sum(tab, m, list(packed.planes), acc)
    # S + c * sum(A) = 2 * O exactly (DESIGN §2.1): the shift is exact.
    sum_a = a.sum(axis=1, dtype=np.int64)[:, None]
    return (s.astype(np.int64) + packed.correction * sum_a) >> 1


def _fast_elut(a: np.ndarray, packed: ElutWeights, act_bits: int) -> np.ndarray:
    m, k = a.shape
    tdt = _int_dtype(nx.table_bound(ELUT_BYTE_GROUP, act_bits))
    acc = _int_dtype(nx.worst_case_output(k, act_bits, 1))
    x = tables.group_activations(a, ELUT_BYTE_GROUP)
    # Digit d in {0, 1, 2} is weight d - 1; the 243 used entries of 256 cover every byte.
    tab = _byte_tables(x, (-1, 0, 1), tdt)
    return _lookup_sum(tab, m, [packed.data], acc).astype(np.int64)


# -- core path (the tensor core's table geometry) --------------------------------------------

def _core_lookup(h: np.ndarray, u: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``sum_b 2^b sum_j (s ? -H : H)[m, j, u[b, n, j]]`` in int64: h [M, J, E], u and s
    [B, N, J] (one plane for ELUT)."""
    m, j, e = h.shape
    planes, n, _ = u.shape
    flat = h.reshape(m, j * e)
    offsets = np.arange(j, dtype=np.intp) * e
    sign = np.where(s, -1, 1).astype(np.int64)
    out = np.zeros((m, n), np.int64)
    # Columns per block: about a million gathered int64 values (8 MiB) at a time.
    nb = max(1, min(n, (1 << 20) // (m * planes * j)))
    for start in range(0, n, nb):       # loop over cache blocks of output columns
        sl = slice(start, start + nb)
        vals = np.take(flat, u[:, sl].astype(np.intp) + offsets, axis=1)   # [M, B, nb, J]
        per_plane = (vals * sign[None, :, sl]).sum(axis=3)                  # [M, B, nb]
        out[:, sl] = (per_plane << np.arange(planes)[None, :, None]).sum(axis=1)
    return out


def _core_bitserial(a: np.ndarray, packed: BitSerialWeights, symmetrize: bool) -> np.ndarray:
    if symmetrize:
        h = tables.bitserial_tables(a, packed.g)              # H[u] = T[u], u < 2^(g-1)
    else:
        h = tables.bitserial_full_tables(a, packed.g)         # the unsymmetrized baseline
    u, s = packed.codes(symmetrize)
    total = _core_lookup(h, u, s)
    # Entry 0 (all signs -1) of a group's table is -sum(A) over the group (DESIGN §2.1), so
    # the correction comes from the tables, as in the core's row-sum accumulators.
    sum_a = -h[:, :, 0].sum(axis=1)[:, None]
    return (total + packed.correction * sum_a) >> 1


def _core_elut(a: np.ndarray, packed: ElutWeights) -> np.ndarray:
    h = tables.elut_tables(a, packed.g)
    u, s = packed.codes()
    return _core_lookup(h, u[None], s[None])


# -- chunks of K and blocks of rows ----------------------------------------------------------

def _chunk_k(packed, m: int, path: str) -> int:
    """K per chunk: the fast path's tables of one activation row, or the core path's tables
    of M rows and codes of N columns, stay within their element budget."""
    if path == "fast":
        per_k = _BYTE_ENTRIES * packed.weight_bits / PLANE_GROUP \
            if isinstance(packed, BitSerialWeights) else _BYTE_ENTRIES / ELUT_BYTE_GROUP
        step = int(_CHUNK_ELEMENTS // per_k)
    else:
        step = _CORE_ELEMENTS // max(m, packed.n)
    return max(_K_ALIGN, step - step % _K_ALIGN)


def _k_slice(packed, k0: int, k1: int):
    """The packed weights of K columns ``k0..k1`` (``k0`` a multiple of :data:`_K_ALIGN`):
    a view of the storage bytes, or ``packed`` itself when that is all of K."""
    if k0 == 0 and k1 == packed.k:
        return packed
    if isinstance(packed, BitSerialWeights):
        per = PLANE_GROUP
        return BitSerialWeights(packed.planes[:, :, k0 // per:-(-k1 // per)], k1 - k0,
                                packed.g, packed.weight_bits, packed.zero_point)
    per = ELUT_BYTE_GROUP
    return ElutWeights(packed.data[:, k0 // per:-(-k1 // per)], k1 - k0, packed.g)


def _gemm_chunk(a: np.ndarray, packed, act_bits: int, path: str, symmetrize: bool) -> np.ndarray:
    """Exact int64 ``a @ W.T`` (no wrap) of one K chunk, by blocks of activation rows."""
    bitserial = isinstance(packed, BitSerialWeights)
    if path == "core":
        return _core_bitserial(a, packed, symmetrize) if bitserial else _core_elut(a, packed)
    kernel = _fast_bitserial if bitserial else _fast_elut
    positions = packed.planes.shape[0] * packed.planes.shape[2] if bitserial \
        else packed.data.shape[1]
    rows = max(1, _TABLE_ELEMENTS // (positions * _BYTE_ENTRIES))
    if rows >= a.shape[0]:
        return kernel(a, packed, act_bits)
    # loop over cache blocks of activation rows (one block unless M is large)
    return np.concatenate([kernel(a[r:r + rows], packed, act_bits)
                           for r in range(0, a.shape[0], rows)])


# -- public entry points ---------------------------------------------------------------------

def lut_gemm(a, packed, acc_bits: int = 32, *, act_bits: int = 8, path: str = "fast",
             symmetrize: bool = True, act_format: str = "int8", table_format: str = "fp32",
             acc_format: str = "fp32", lookups: int = 1) -> np.ndarray:
    """LUT-based ``O = A @ W.T`` wrapped to ``acc_bits`` (two's complement, DESIGN §2.3).

    With ``act_format`` 'fp16' or 'bf16' the activations are floating point and the result
    is that of the FP contract (docs/architecture.md, "Floating-point activations"), bit for
    bit: :func:`lutcore.sw.kernels.fp.fp_lut_gemm` with ``table_format``, ``acc_format``
    and ``lookups`` (the core's L, which sets the order of the additions), an array of
    ``acc_format``; ``acc_bits``, ``act_bits`` and ``path`` then do not apply.

    Args:
        a: integer activations [M, K], each within the signed ``act_bits`` range (or FP16 /
            BF16 activations with ``act_format``).
        packed: weights from :func:`pack_bitserial` (any B, z) or :func:`pack_elut`.
        acc_bits: output width, 2..62; results wrap modulo 2^acc_bits.
        act_bits: activation width, 2..16 (int8: 8).
        path: ``"fast"`` (host path: byte-indexed full tables, g = 8 bit-serial, g = 5 ELUT)
            or ``"core"`` (the core's table geometry for ``packed.g``). Both are bit-exact.
        symmetrize: ``path="core"`` bit-serial only: half tables and sign codes (paper Eq. 6)
            or the full 2^g-entry baseline tables.

    Returns:
        int64 array [M, N] with values in the signed ``acc_bits`` range.

    Raises:
        LutcoreError: ``packed`` is not a packed-weight object, a parameter is out of range,
            ``a`` is not a non-empty 2-D integer array within range, or K differs.
    """
    if not isinstance(packed, (BitSerialWeights, ElutWeights)):
        raise LutcoreError(
            f"packed must be BitSerialWeights or ElutWeights (from pack_bitserial / pack_elut), "
            f"got {type(packed).__name__}; for raw ternary weights use ternary_gemm")
    check_choice("act_format", act_format, ACT_FORMATS)
    if act_format != "int8":
        return fp_lut_gemm(a, packed, act_format=act_format, table_format=table_format,
                           acc_format=acc_format, symmetrize=symmetrize, lookups=lookups)
    check_range("acc_bits", acc_bits, *ACC_BITS_RANGE)
    check_range("act_bits", act_bits, *ACT_BITS_RANGE)
    check_choice("path", path, PATHS)
    a = check_activations(a, act_bits, "a")
    check_k_match(a.shape, packed.shape, "a", "packed")
    m, k = a.shape
    step = _chunk_k(packed, m, path)
    out = None
    for k0 in range(0, k, step):        # loop over chunks of K (one unless K is long)
        part = _gemm_chunk(a[:, k0:k0 + step], _k_slice(packed, k0, min(k, k0 + step)),
                           act_bits, path, bool(symmetrize))
        # Each part is the exact int64 product over its K range; a sum past int64 wraps
        # modulo 2^64, which 2^acc_bits divides, so the wrapped total is still exact.
        out = part if out is None else np.add(out, part, out=out)
    return nx.wrap(out, acc_bits)


def ternary_gemm(a, w, *, mode: str = "elut", acc_bits: int = 32, act_bits: int = 8,
                 g: int | None = None, path: str = "fast") -> np.ndarray:
    """Convenience: pack raw ternary weights for ``mode`` and run :func:`lut_gemm`.

    Args:
        a: integer activations [M, K].
        w: ternary weights [N, K] (-1, 0, +1).
        mode: ``"bitserial"`` or ``"elut"``.
        acc_bits, act_bits, path: as for :func:`lut_gemm`.
        g: the core's group size for ``path="core"`` (default: the default configuration's).

    Returns:
        int64 array [M, N], ``A @ W.T`` wrapped to ``acc_bits``.

    Raises:
        LutcoreError: as :func:`pack_weights` and :func:`lut_gemm`.
    """
    return lut_gemm(a, pack_weights(w, mode, g=g), acc_bits, act_bits=act_bits, path=path)
