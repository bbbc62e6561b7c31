"""Lowering of ``O = A @ W.T`` to LUT instructions and buffer images.

Notation: group size ``gs`` (g bit-serial, elut_g ELUT), ``L`` lookups per unit per step
(``config.lookups``), ``J = ceil(K / (gs * L))`` K steps (a step covers L consecutive K
groups; one activation, table or weight word holds a step's groups), ``P`` bit planes per
LMMA (B bit-serial, 1 ELUT), ``RB = ceil(M / m)`` row blocks, ``NT = ceil(N / n)`` column
tiles. One LMMA computes the m x n output tile of row block r and column tile t over a run
of K steps; one STORE writes its m output words. K is zero-padded to whole steps: padding
activations are 0, so their tables and row sums are 0 whatever their codes.

Tiling (``docs/compiler.md`` has the worked figures):

* **No K split** (``J <= J_max = min(table_depth, act_depth, weight_depth // P)``): row
  blocks are taken in groups that fit the table and activation buffers; each group's tables
  are precomputed once (one PRECOMP per row block, count J) and then reused by every column
  tile and bit plane (the paper's table reuse). Column tiles are taken in groups that fit the
  weight buffer, one weight-buffer load per phase, in snake order so that the last weight
  load of a row group serves the next one as well.
* **K split** (``J > J_max``), two strategies, ``ksplit=``:

  - ``'host'``: K is cut into passes of at most J_max steps; each pass is tiled as above
    and stores partial outputs; :meth:`Program.gather` adds the passes (exact: every partial
    is exact modulo 2^acc_bits). Tables are still precomputed once per row block and step.
  - ``'device'``: every output tile accumulates all K chunks on the core (``LMMA clear=0``)
    before its one STORE. The table buffer then cannot hold a row block's tables for all of
    K, so chunks are recomputed per tile; resident chunks are kept in LRU table slots and the
    chunk order alternates per tile so that the last chunks of one tile are the first of the
    next.
  - ``'auto'`` (default) builds both and keeps the one with fewer predicted cycles.

Phases are cut whenever a buffer that the current phase already used must be reloaded, or
the instruction memory or output buffer is full; device state carries over (see
:mod:`lutcore.sw.compiler.program`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ...errors import LutcoreError
from ...spec import isa
from ...spec import numerics as nx
from ...spec.config import ConfigError, CoreConfig, preset
from ..kernels import tables
from ..kernels.fp import fp_activations
from ..kernels.validate import (check_activations, check_int_matrix, check_k_match,
                                check_ternary, check_weights)
from .program import Load, Phase, Program
from ...spec.words import make_codes, pack, word_format

__all__ = ["KSPLITS", "compile_gemm", "compile_gemm_parts", "resolve_config", "weight_params",
           "check_overflow", "MAX_IMAGE_BYTES"]

#: Values of the ``ksplit`` option.
KSPLITS = ("auto", "device", "host")

_ACT, _WEIGHT = isa.Region.ACT, isa.Region.WEIGHT
# Weights encoded per slice (bounds the encoder's temporary arrays).
_ENCODE_WEIGHTS = 1 << 18
#: Default bound of :func:`compile_gemm_parts` on one program's buffer images, in bytes.
MAX_IMAGE_BYTES = 64 << 20


def resolve_config(config) -> CoreConfig:
    """A :class:`CoreConfig` from a config or a preset name."""
    if isinstance(config, CoreConfig):
        return config
    if isinstance(config, str):
        try:
            return preset(config)
        except ConfigError as e:
            raise LutcoreError(str(e)) from None
    raise LutcoreError(f"config {config!r} is neither a CoreConfig nor a preset name")


def weight_params(w: np.ndarray, mode: isa.Mode, config: CoreConfig,
                  weight_bits: int | None, zero_point: int | None) -> tuple[int, int]:
    """``(B, z)`` of the weights: bit-serial codes ``q = w + z`` in ``[0, 2^B)``.

    Unspecified values are inferred: ``z = max(0, -min(w))``, ``B`` the fewest bits holding
    ``max(w) + z`` (ternary weights: B = 2, z = 1). ELUT takes ternary weights (B = 2, z = 1).
    """
    lo, hi = int(w.min()), int(w.max())
    if mode is isa.Mode.ELUT:
        if weight_bits is not None or zero_point is not None:
            raise LutcoreError("weight_bits and zero_point apply to mode 'bitserial' only: "
                               "mode 'elut' takes ternary weights")
        if lo < -1 or hi > 1:
            raise LutcoreError(f"weights values {lo}..{hi} are not ternary: mode 'elut' "
                               f"allows -1, 0, 1")
        return 2, 1
    z = max(0, -lo) if zero_point is None else zero_point
    if isinstance(z, bool) or not isinstance(z, (int, np.integer)):
        raise LutcoreError(f"zero_point {z!r} is not an integer")
    z = int(z)
    if weight_bits is None:
        b = nx.unsigned_bits(max(hi + z, 0))
    else:
        if isinstance(weight_bits, bool) or not isinstance(weight_bits, (int, np.integer)):
            raise LutcoreError(f"weight_bits {weight_bits!r} is not an integer")
        b = int(weight_bits)
    if not 1 <= b <= config.weight_bits:
        why = "" if weight_bits is not None else \
            f" (inferred from weights values {lo}..{hi} with zero_point {z})"
        raise LutcoreError(f"weight_bits {b}{why} is not supported by config "
                           f"'{config.name}': allowed 1..{config.weight_bits}")
    if not 0 <= z < (1 << b):
        raise LutcoreError(f"zero_point {z} is out of range for weight_bits {b}: "
                           f"allowed 0..{(1 << b) - 1}")
    if lo < -z or hi > (1 << b) - 1 - z:
        raise LutcoreError(f"weights values {lo}..{hi} do not fit weight_bits {b} with "
                           f"zero_point {z}: allowed {-z}..{(1 << b) - 1 - z}")
    return b, z


def check_overflow(k: int, config: CoreConfig, max_weight: int, allow_wrap: bool) -> int:
    """DESIGN §2.3: refuse a GEMM whose worst case ``K * max|a| * max|w|`` (max|a| =
    2^(act_bits-1), max|w| = ``max_weight``) does not fit ``acc_bits`` unless ``allow_wrap``.
    Returns the worst case."""
    max_a = nx.max_abs_activation(config.act_bits)
    worst = nx.worst_case_output(k, config.act_bits, max_weight)
    if not nx.fits_signed(worst, config.acc_bits) and not allow_wrap:
        raise LutcoreError(
            f"GEMM could overflow acc_bits={config.acc_bits}: worst case K*max|a|*max|w| = "
            f"{k}*{max_a}*{max_weight} = {worst} > {(1 << (config.acc_bits - 1)) - 1}; "
            f"pass allow_wrap=True (--allow-wrap) to accept two's-complement wrap")
    return worst


@dataclass
class _Operands:
    """The GEMM as the schedules and the image builder see it."""

    config: CoreConfig
    mode: isa.Mode
    m_rows: int
    n_cols: int
    gs: int
    planes: int
    correction: int
    steps: int             # J, K steps of L groups each
    row_blocks: int        # RB
    col_tiles: int         # NT
    acts: np.ndarray       # int16 [RB*m, J, L, gs]
    codes: np.ndarray      # uint8 [P, NT*n, J, L]

    @property
    def max_chunk(self) -> int:
        c = self.config
        return min(c.table_depth, c.act_depth, c.weight_depth // self.planes)


class _Builder:
    """Accumulates phases: loads (by image key), instructions, output reads."""

    def __init__(self, op: _Operands):
        self.op = op
        self.cfg = op.config
        self.phases: list[tuple[list, list, list]] = []
        self.resident: dict[isa.Region, tuple[int, Any]] = {}
        self._open()

    def _open(self):
        self.loads: list = []
        self.instrs: list = []
        self.reads: list = []
        self.used: set = set()
        self.out_next = 0

    def close(self):
        if self.loads or self.instrs:
            self.instrs.append(isa.Halt())
            self.phases.append((self.loads, self.instrs, self.reads))
        self._open()

    def load(self, region: isa.Region, addr: int, key) -> None:
        """Make image ``key`` resident at ``addr`` of ``region`` (one image per region)."""
        if self.resident.get(region) == (addr, key):
            return
        if region in self.used:
            self.close()
        self.loads.append((region, addr, key))
        self.resident[region] = (addr, key)

    def _room(self, out_words: int = 0) -> None:
        # +1: every phase ends with HALT.
        if (len(self.instrs) + 2 > self.cfg.instr_depth
                or self.out_next + out_words > self.cfg.out_depth):
            self.close()

    def emit(self, instr: isa.Instruction, uses: isa.Region) -> None:
        self._room()
        self.instrs.append(instr)
        self.used.add(uses)

    def store(self, r: int, t: int) -> None:
        cfg = self.cfg
        self._room(cfg.m)
        addr = self.out_next
        self.out_next += cfg.m
        self.instrs.append(isa.Store(out_addr=addr, c=self.op.correction))
        for i in range(cfg.m):
            row = r * cfg.m + i
            if row < self.op.m_rows:
                self.reads.append((addr + i, row, t * cfg.n))

    def finish(self) -> list:
        self.close()
        return self.phases


def _chunks(seq, size):
    seq = list(seq)
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def _balanced(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``0..total`` with sizes differing by at most 1."""
    bounds = [(total * i) // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def _schedule_passes(op: _Operands, passes: list[tuple[int, int]]) -> list:
    """Each pass (a range of K steps that fits the buffers) tiled with tables precomputed
    once per row block and reused by every column tile and plane."""
    cfg, p = op.config, op.planes
    b = _Builder(op)
    for j0, j1 in passes:
        jc = j1 - j0
        rows_per_load = max(1, min(cfg.table_depth // jc, cfg.act_depth // jc))
        tiles_per_load = cfg.weight_depth // (p * jc)
        tile_groups = _chunks(range(op.col_tiles), tiles_per_load)
        for gi, rows in enumerate(_chunks(range(op.row_blocks), rows_per_load)):
            b.load(_ACT, 0, ("act", tuple((i * jc, r, j0, j1) for i, r in enumerate(rows))))
            for i, r in enumerate(rows):
                b.emit(isa.Precomp(op.mode, act_addr=i * jc, table_addr=i * jc, count=jc), _ACT)
            for tiles in (tile_groups if gi % 2 == 0 else tile_groups[::-1]):
                b.load(_WEIGHT, 0, ("weight", tuple((k * p * jc, t, j0, j1)
                                                    for k, t in enumerate(tiles))))
                for k, t in enumerate(tiles):
                    for i, r in enumerate(rows):
                        b.emit(isa.Lmma(op.mode, table_addr=i * jc, weight_addr=k * p * jc,
                                        count=jc, planes=p, clear=1), _WEIGHT)
                        b.store(r, t)
    return b.finish()


def _schedule_device(op: _Operands, parts: int) -> list:
    """K in ``parts`` chunks accumulated on the core (LMMA clear=0) per output tile; the
    chunk order alternates per tile, but an FP core takes them in K order (its sums depend
    on the order: docs/architecture.md, "Floating-point activations")."""
    cfg, p = op.config, op.planes
    chunks = _balanced(op.steps, parts)
    jc = max(j1 - j0 for j0, j1 in chunks)
    slots = cfg.table_depth // jc
    act_window = cfg.act_depth // jc
    weight_window = cfg.weight_depth // (p * jc)
    b = _Builder(op)
    slot_of: dict[tuple[int, int], int] = {}
    owner: list = [None] * slots
    last_use = [-1] * slots
    clock = 0
    tile_number = 0
    for r in range(op.row_blocks):
        for t in (range(op.col_tiles) if r % 2 == 0 else range(op.col_tiles - 1, -1, -1)):
            order = (range(parts) if tile_number % 2 == 0 or cfg.is_fp
                     else range(parts - 1, -1, -1))
            tile_number += 1
            for step, c in enumerate(order):
                j0, j1 = chunks[c]
                clock += 1
                slot = slot_of.get((r, c))
                if slot is None:
                    w0 = (c // act_window) * act_window
                    window = range(w0, min(parts, w0 + act_window))
                    b.load(_ACT, 0, ("act", tuple(((cc - w0) * jc, r, *chunks[cc])
                                                  for cc in window)))
                    slot = min(range(slots), key=lambda s: last_use[s])
                    if owner[slot] is not None:
                        del slot_of[owner[slot]]
                    owner[slot] = (r, c)
                    slot_of[(r, c)] = slot
                    b.emit(isa.Precomp(op.mode, act_addr=(c - w0) * jc, table_addr=slot * jc,
                                       count=j1 - j0), _ACT)
                last_use[slot] = clock
                w0 = (c // weight_window) * weight_window
                window = range(w0, min(parts, w0 + weight_window))
                b.load(_WEIGHT, 0, ("weight", tuple(((cc - w0) * p * jc, t, *chunks[cc])
                                                    for cc in window)))
                b.emit(isa.Lmma(op.mode, table_addr=slot * jc, weight_addr=(c - w0) * p * jc,
                                count=j1 - j0, planes=p, clear=int(step == 0)), _WEIGHT)
            b.store(r, t)
    return b.finish()


def _cycles(phases: list, config: CoreConfig) -> int:
    return sum(isa.phase_cycles([isa.encode(i) for i in instrs], config)
               for _, instrs, _ in phases)


def _image(op: _Operands, key) -> tuple[isa.Region, np.ndarray]:
    kind, pieces = key
    cfg = op.config
    if kind == "act":
        size = max(off + j1 - j0 for off, _, j0, j1 in pieces)
        values = np.zeros((size, cfg.m, cfg.lookups, cfg.act_slots), np.int64)
        for off, r, j0, j1 in pieces:
            # acts[rows of block r, steps j0..j1, lookup, slot] -> words [step, row, lookup, slot]
            block = op.acts[r * cfg.m:(r + 1) * cfg.m, j0:j1]
            values[off:off + j1 - j0, :, :, :op.gs] = block.transpose(1, 0, 2, 3)
        return _ACT, pack(values.reshape(size, -1), word_format(_ACT, cfg))
    size = max(off + op.planes * (j1 - j0) for off, _, j0, j1 in pieces)
    values = np.zeros((size, cfg.step_codes), np.int64)
    for off, t, j0, j1 in pieces:
        # codes[plane, columns of tile t, steps j0..j1, lookup] -> words [plane, step] x
        # (column, lookup)
        block = op.codes[:, t * cfg.n:(t + 1) * cfg.n, j0:j1].transpose(0, 2, 1, 3)
        values[off:off + op.planes * (j1 - j0)] = block.reshape(-1, cfg.step_codes)
    return _WEIGHT, pack(values, word_format(_WEIGHT, cfg))


def _materialize(op: _Operands, phases: list, meta: dict, shape) -> Program:
    keys: dict = {}
    images: list[np.ndarray] = []
    out_phases = []
    for loads, instrs, reads in phases:
        out_loads = []
        for region, addr, key in loads:
            if key not in keys:
                image_region, image = _image(op, key)
                assert image_region is region
                keys[key] = len(images)
                images.append(image)
            out_loads.append(Load(region, addr, keys[key]))
        words = np.array([isa.encode(i) for i in instrs], np.uint64)
        out_phases.append(Phase(out_loads, words,
                                np.array(reads, np.int64).reshape(-1, 3)))
    return Program(op.config, op.mode.mnemonic, shape, out_phases, images, meta)


@dataclass(frozen=True)
class _Checked:
    """A validated GEMM request: the inputs as given (no conversion yet) and what is
    derived from all of K."""

    config: CoreConfig
    mode: isa.Mode
    a: np.ndarray
    w: np.ndarray
    weight_bits: int
    zero_point: int
    max_weight: int
    allow_wrap: bool
    ksplit: str


def _check(a, w, config, mode, weight_bits, zero_point, allow_wrap, ksplit) -> _Checked:
    """Every check of :func:`compile_gemm`, on the inputs as given: integers of any dtype are
    range-checked before anything converts them (an unsigned 64-bit value above 2^63 must be
    refused, not read as a negative int64)."""
    cfg = resolve_config(config)
    try:
        isa_mode = isa.Mode.parse(mode)
    except isa.IsaError as e:
        raise LutcoreError(str(e)) from None
    if isa_mode is isa.Mode.ELUT and not cfg.has_elut:
        raise LutcoreError(f"mode 'elut' is not built into config '{cfg.name}' (elut_g = 0): "
                           f"allowed modes {', '.join(cfg.modes)}")
    if ksplit not in KSPLITS:
        raise LutcoreError(f"ksplit {ksplit!r} is unknown: allowed {', '.join(KSPLITS)}")
    if cfg.out_depth < cfg.m:
        raise LutcoreError(f"config '{cfg.name}' out_depth={cfg.out_depth} is below m={cfg.m}: "
                           f"a STORE writes m output words")
    if cfg.is_fp:
        if ksplit == "host":
            raise LutcoreError(f"ksplit 'host' is not available on config '{cfg.name}' "
                               f"(act_format {cfg.act_format}): FP sums depend on their order, "
                               f"so K is accumulated on the core: allowed auto, device")
        a = fp_activations(a, cfg.act_format, "acts")
    else:
        a = check_activations(a, cfg.act_bits, "acts")
    w = check_int_matrix(w, "weights", "[N, K]")
    k = check_k_match(a.shape, w.shape, "acts", "weights")
    b_bits, z = weight_params(w, isa_mode, cfg, weight_bits, zero_point)
    if isa_mode is isa.Mode.ELUT:
        check_ternary(w, "weights")
    else:
        check_weights(w, b_bits, z, "weights")
    # The weights are compiled into the program: their own max|w| bounds the output (1 for
    # ternary in either mode); activations are bounded by act_bits.
    max_weight = max(-int(w.min()), int(w.max()))
    if not cfg.is_fp:                 # FP overflows to infinity, as IEEE says
        check_overflow(k, cfg, max_weight, allow_wrap)
    return _Checked(cfg, isa_mode, a, w, b_bits, z, max_weight, bool(allow_wrap), ksplit)


def _compile(req: _Checked, k0: int, k1: int) -> Program:
    """The program of K columns ``k0..k1`` of a checked request."""
    cfg, isa_mode, b_bits, z = req.config, req.mode, req.weight_bits, req.zero_point
    a, w = req.a[:, k0:k1], req.w[:, k0:k1]
    m_rows, k = a.shape
    n_cols = w.shape[0]
    if isa_mode is isa.Mode.ELUT:
        planes, correction = 1, 0
    else:
        planes, correction = b_bits, nx.correction_constant(b_bits, z)
    worst = None if cfg.is_fp else check_overflow(k, cfg, req.max_weight, req.allow_wrap)

    gs, lk = cfg.group(isa_mode.mnemonic), cfg.lookups
    k_groups = tables.num_groups(k, gs)
    steps = -(-k_groups // lk)                     # K steps of lk groups each
    row_blocks = -(-m_rows // cfg.m)
    col_tiles = -(-n_cols // cfg.n)
    # int16 holds every act_bits (<= 16) activation, uint16 the raw bits of an FP one (+0 is
    # 0); zero padding to whole rows and steps.
    acts = np.zeros((row_blocks * cfg.m, steps * lk * gs), np.uint16 if cfg.is_fp else np.int16)
    acts[:m_rows, :k] = a.view(np.uint16) if cfg.is_fp else a
    acts = acts.reshape(row_blocks * cfg.m, steps, lk, gs)
    codes = np.zeros((planes, col_tiles * cfg.n, steps * lk), np.uint8)   # code_bits <= 8
    # Encode in slices of columns: the golden encoder's temporaries grow with N*K*B*g.
    step = max(1, _ENCODE_WEIGHTS // k)
    for n0 in range(0, n_cols, step):
        part = w[n0:n0 + step]
        if isa_mode is isa.Mode.ELUT:
            u, s = tables.encode_elut(part, gs)
            u, s = u[None], s[None]
        else:
            u, s = tables.encode_bitserial(part, gs, b_bits, z, cfg.symmetrize)
        codes[:, n0:n0 + len(part), :k_groups] = make_codes(u, s, cfg)
    codes = codes.reshape(planes, col_tiles * cfg.n, steps, lk)
    op = _Operands(cfg, isa_mode, m_rows, n_cols, gs, planes, correction, steps,
                   row_blocks, col_tiles, acts, codes)

    if steps <= op.max_chunk:
        strategy, parts, phases = "none", 1, _schedule_passes(op, [(0, steps)])
    else:
        least = -(-steps // op.max_chunk)
        candidates = []
        if req.ksplit in ("auto", "host") and not cfg.is_fp:
            candidates.append(("host", least, _schedule_passes(op, _balanced(steps, least))))
        if req.ksplit in ("auto", "device"):
            for parts in sorted({least, least + 1, 2 * least, 3 * least, 4 * least}):
                if parts <= steps:
                    candidates.append(("device", parts, _schedule_device(op, parts)))
        strategy, parts, phases = min(
            candidates, key=lambda c: (_cycles(c[2], cfg), len(c[2]), c[0] != "device"))

    meta = {
        "weight_bits": b_bits, "zero_point": z, "correction": correction, "group": gs,
        "planes": planes, "groups": k_groups, "steps": steps, "lookups": lk,
        "row_blocks": row_blocks, "col_tiles": col_tiles,
        "ksplit": strategy, "k_chunks": parts, "allow_wrap": req.allow_wrap,
        "worst_case": worst,
    }
    return _materialize(op, phases, meta, (m_rows, n_cols, k))


def compile_gemm(a, w, *, config="default", mode: str = "bitserial", weight_bits: int | None = None,
                 zero_point: int | None = None, allow_wrap: bool = False,
                 ksplit: str = "auto") -> Program:
    """Compile ``O = A @ W.T`` for ``config``.

    Args:
        a: activations, integer ``[M, K]`` within ``act_bits`` (int8 by default).
        w: weights, integer ``[N, K]``: ternary, or in bit-serial mode any values that fit
            ``weight_bits`` codes with ``zero_point`` (``w = q - z``).
        config: a :class:`CoreConfig` or a preset name (default: the "default" preset).
        mode: 'bitserial' or 'elut'.
        weight_bits, zero_point: bit-serial weight code width B and zero point z (inferred
            from the weights when None; see :func:`weight_params`).
        allow_wrap: accept a GEMM whose worst case may overflow ``acc_bits`` (outputs then
            wrap modulo 2^acc_bits, DESIGN §2.3).
        ksplit: 'auto', 'device' or 'host': how K is split when a row block's tables do not
            fit the buffers (see the module docstring).

    Returns:
        The :class:`Program`. Its buffer images hold every weight code (``P * J * ceil(N/n)``
        words), so they grow with K; :func:`compile_gemm_parts` bounds them.

    Raises:
        LutcoreError: a one-line message naming the bad argument, its value and what is
            allowed (shapes, dtypes, ranges, overflow, config limits).
    """
    req = _check(a, w, config, mode, weight_bits, zero_point, allow_wrap, ksplit)
    return _compile(req, 0, req.a.shape[1])


def _image_bytes_per_step(req: _Checked) -> int:
    """Bytes of buffer images and compile-time arrays per K step of a request."""
    cfg = req.config
    m_rows, n_cols = req.a.shape[0], req.w.shape[0]
    planes = 1 if req.mode is isa.Mode.ELUT else req.weight_bits
    rows = -(-m_rows // cfg.m) * cfg.m
    cols = -(-n_cols // cfg.n) * cfg.n
    weight_words = planes * cols // cfg.n
    act_words = rows // cfg.m
    host = 8 * (weight_words * word_format(_WEIGHT, cfg).limbs
                + act_words * word_format(_ACT, cfg).limbs)
    span = cfg.group(req.mode.mnemonic) * cfg.lookups
    # + the int16 acts (span per row) and the uint8 codes (L per plane and column)
    return host + 2 * rows * span + planes * cols * cfg.lookups


def compile_gemm_parts(a, w, *, config="default", mode: str = "bitserial",
                       max_image_bytes: int = MAX_IMAGE_BYTES, **options) -> Iterator[Program]:
    """Compile ``O = A @ W.T`` as programs over consecutive ranges of K whose buffer images
    stay within about ``max_image_bytes`` each.

    A long-K GEMM has weight images of ``P * ceil(K/(gs*L))`` words per column tile however
    it is scheduled, so a bound on memory needs several programs. When the whole GEMM fits,
    the one program yielded is the :func:`compile_gemm` program. Otherwise each range is a
    whole number of K steps (whole passes of the buffers when a pass fits) and its program is
    compiled like :func:`compile_gemm` on those columns, with the bit-serial ``weight_bits``
    and ``zero_point`` of all of K.

    The outputs, added and wrapped to ``acc_bits``, equal ``a @ w.T`` wrapped (DESIGN §2.3),
    because every step is exact modulo ``2^acc_bits``: a part's output is its partial product
    ``O_i = A[:, K_i] @ W[:, K_i].T`` reduced modulo ``2^acc_bits`` (each output word is the
    wrapped partial), ``O = sum_i O_i`` exactly since the ranges ``K_i`` cover K once, and a
    sum of residues is a residue of the sum. Wrap after each addition to keep the running sum
    in int64 (:meth:`Program.gather` adds the passes of one program the same way).

    Args:
        a, w, config, mode: as for :func:`compile_gemm`.
        max_image_bytes: bound on one program's buffer images and compile-time arrays, at
            least 1; a single K group that does not fit is still compiled (one group per part).
        options: ``weight_bits``, ``zero_point``, ``allow_wrap``, ``ksplit`` of
            :func:`compile_gemm`; ``allow_wrap`` and the overflow check apply to all of K.

    Returns:
        An iterator of :class:`Program`, in K order. Every argument is checked when this
        function is called, before the first program is compiled.

    Raises:
        LutcoreError: as :func:`compile_gemm`; an unknown option or a bad ``max_image_bytes``.
    """
    unknown = sorted(set(options) - {"weight_bits", "zero_point", "allow_wrap", "ksplit"})
    if unknown:
        raise LutcoreError(f"compile_gemm_parts option(s) {unknown} are unknown: allowed "
                           f"weight_bits, zero_point, allow_wrap, ksplit")
    if (isinstance(max_image_bytes, bool) or not isinstance(max_image_bytes, (int, np.integer))
            or max_image_bytes < 1):
        raise LutcoreError(f"max_image_bytes = {max_image_bytes!r} is invalid: allowed an "
                           f"integer >= 1")
    req = _check(a, w, config, mode, options.get("weight_bits"), options.get("zero_point"),
                 options.get("allow_wrap", False), options.get("ksplit", "auto"))
    k = req.a.shape[1]
    if req.config.is_fp:
        # Parts would be added on the host, out of the FP contract's order: one program.
        return iter([_compile(req, 0, k)])
    span = req.config.group(req.mode.mnemonic) * req.config.lookups    # K columns per step
    groups = tables.num_groups(k, span)
    per_part = max(1, int(max_image_bytes) // _image_bytes_per_step(req))
    if per_part < groups:
        planes = 1 if req.mode is isa.Mode.ELUT else req.weight_bits
        cfg = req.config
        pass_groups = min(cfg.table_depth, cfg.act_depth, cfg.weight_depth // planes)
        if per_part >= pass_groups:
            per_part -= per_part % pass_groups
    return (_compile(req, j * span, min(k, (j + per_part) * span))
            for j in range(0, groups, per_part))        # loop over ranges of K steps
