"""A compiled GEMM: phases of buffer loads, instructions and output reads.

A :class:`Program` runs on one accelerator as a sequence of :class:`Phase`\\ s. For each phase
the host

1. writes the buffer images the phase lists (:attr:`Phase.loads`) and the phase's instruction
   words at instruction address 0,
2. starts the core at pc 0 and waits for done (the last instruction is HALT),
3. reads the output words listed in :attr:`Phase.reads`.

Device state persists from one phase to the next: buffers keep every word a phase does not
load, and the accumulators and row sums keep their values (only ``LMMA clear`` zeroes them).
The compiler relies on this to precompute tables once and reuse them across phases, and to
carry one output tile's accumulation across a phase boundary.

:meth:`Program.gather` assembles the output matrix from the words read: each read word is one
row segment of an output tile; segments of the same element (K split over several passes) are
added, and the sum is wrapped to ``acc_bits`` (DESIGN §2.3).
"""

from __future__ import annotations

import json
import math
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import LutcoreError
from ...spec import fp, isa
from ...spec import numerics as nx
from ...spec.config import CoreConfig
from ...spec.words import host_words, unpack, word_format
from ..kernels.validate import freeze

__all__ = ["FORMAT", "Load", "Phase", "Program", "useful_share"]

#: Format tag stored in a program file.
FORMAT = "lutcore-program/1"

_LOADABLE = (isa.Region.ACT, isa.Region.WEIGHT)
# CSR accesses of the runtime per phase (lutcore.host.runtime): CTRL clear and start; STATUS
# after the loads, then STATUS, CYCLES_LO, CYCLES_HI and PC after the stop.
_START_WRITES = 2
_STOP_READS = 5
# Marks an output an FP program has not read yet (raw bit patterns are >= 0).
_FP_UNREAD = -1


@dataclass(frozen=True)
class Load:
    """Write image ``image`` (an index into :attr:`Program.images`) to ``region`` starting at
    word ``addr``."""

    region: isa.Region
    addr: int
    image: int


@dataclass
class Phase:
    """One start of the core.

    Attributes:
        loads: buffer images to write before the start.
        instructions: ``uint64 [count]`` instruction words, written at address 0; the last
            is HALT.
        reads: ``int64 [R, 3]`` rows ``(out_word, row, col0)``: after the phase, output word
            ``out_word`` holds row ``row`` of the output, columns ``col0 .. col0+n-1`` (columns
            at or past N are padding).
    """

    loads: list[Load]
    instructions: np.ndarray
    reads: np.ndarray


def useful_share(useful_lookups: int, cycles: int, config: CoreConfig) -> float:
    """Useful utilization: ``useful_lookups`` (:meth:`Program.useful_lookups`, summed over
    programs) over ``cycles`` x the array's ``m * n * lookups`` lookups per cycle (0 for no
    cycles)."""
    peak = cycles * config.lookups_per_cycle
    return useful_lookups / peak if peak else 0.0


@dataclass
class Program:
    """A GEMM ``O[M, N] = A[M, K] @ W[N, K].T`` compiled for one configuration and mode.

    Attributes:
        config: the configuration the program is for.
        mode: 'bitserial' or 'elut'.
        shape: ``(M, N, K)``.
        phases: the phases, run in order.
        images: buffer images, ``uint64 [words, limbs]`` each (see
            :mod:`lutcore.spec.words`); loads refer to them by index, and one image may
            be loaded by several phases.
        meta: how the GEMM was lowered (weight bits, zero point, correction, tiling, ...).
    """

    config: CoreConfig
    mode: str
    shape: tuple[int, int, int]
    phases: list[Phase]
    images: list[np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    # -- views -------------------------------------------------------------------------------
    @property
    def isa_mode(self) -> isa.Mode:
        return isa.Mode.parse(self.mode)

    @property
    def num_instructions(self) -> int:
        return sum(len(p.instructions) for p in self.phases)

    def instructions(self, phase: int) -> list[isa.Instruction | isa.Illegal]:
        """The decoded instructions of one phase."""
        return [isa.decode(int(w)) for w in self.phases[phase].instructions]

    def load_words(self) -> dict[str, int]:
        """Buffer words the host writes over the whole program, per region name (instruction
        words included) and the output words it reads (``'output'``)."""
        words = {r.name.lower(): 0 for r in (isa.Region.INSTR, *_LOADABLE)}
        for p in self.phases:
            words["instr"] += len(p.instructions)
            for load in p.loads:
                words[load.region.name.lower()] += len(self.images[load.image])
        words["output"] = sum(len(p.reads) for p in self.phases)
        return words

    def host_port_words(self) -> dict[str, int]:
        """Host-port words the runtime moves over the whole program: ``'writes'``, every
        sub-word of the buffer images and instructions (:meth:`host_writes`) and the CTRL
        writes that clear and start each phase; ``'reads'``, every sub-word of the output
        words (:meth:`host_reads`) and the CSR reads of each phase (STATUS after the loads,
        then STATUS, CYCLES low and high and PC when it stops), the fewest a transport needs
        (waiting for done may poll STATUS more)."""
        cfg = self.config
        subs = {r.name.lower(): isa.sub_words(isa.region_word_bits(r, cfg), cfg.host_bits)
                for r in (isa.Region.INSTR, *_LOADABLE, isa.Region.OUTPUT)}
        words = self.load_words()
        phases = len(self.phases)
        return {"writes": sum(n * subs[r] for r, n in words.items() if r != "output")
                + _START_WRITES * phases,
                "reads": words["output"] * subs["output"] + _STOP_READS * phases}

    def predicted_cycles(self) -> list[int]:
        """Cycles of each phase by the timing contract (:func:`lutcore.spec.isa.phase_cycles`):
        the start, then every instruction up to and including the first HALT or faulting
        one."""
        return [isa.phase_cycles(p.instructions, self.config) for p in self.phases]

    def lookups(self) -> int:
        """LUT array steps: the sum of planes*count over all LMMAs."""
        total = 0
        for p in self.phases:
            for word in p.instructions:
                instr = isa.decode(int(word))
                if isinstance(instr, isa.Lmma):
                    total += instr.planes * instr.count
        return total

    def useful_lookups(self) -> int:
        """Lookups the GEMM itself needs, ``M * N * ceil(K / g) * planes``: an array step does
        ``m * n * lookups`` lookups, and those of padding rows (M not a multiple of m, M = 1 on
        an m = 2 tile), padding columns and padding K groups (K not a multiple of g x lookups)
        do no useful work."""
        m, n, _ = self.shape
        return m * n * self.meta["groups"] * self.meta["planes"]

    def useful_utilization(self, cycles: int) -> float:
        """Useful lookups / (``cycles`` x the array's ``m * n * lookups`` lookups per cycle)."""
        return useful_share(self.useful_lookups(), cycles, self.config)

    def summary(self) -> dict[str, Any]:
        """Counts for reports: phases, instructions, words moved, predicted cycles, and the
        two utilizations: LMMA steps / cycles, and useful lookups / (cycles x m x n x lookups)."""
        cycles = sum(self.predicted_cycles())
        lookups = self.lookups()
        return {
            "config": self.config.name, "mode": self.mode, "shape": self.shape,
            "phases": len(self.phases), "instructions": self.num_instructions,
            "words": self.load_words(), "cycles": cycles, "lookups": lookups,
            "utilization": lookups / cycles if cycles else 0.0,
            "useful_lookups": self.useful_lookups(),
            "useful_utilization": self.useful_utilization(cycles),
            **{k: self.meta[k] for k in ("weight_bits", "zero_point", "correction", "ksplit",
                                         "k_chunks") if k in self.meta},
        }

    def disassemble(self, phase: int | None = None) -> str:
        """Assembler text of every phase (or one), with the phase's loads and reads as
        comments; each phase's instruction lines assemble back to its words."""
        m, n, k = self.shape
        lines = [f"# lutcore program: config {self.config.name}, mode {self.mode}, "
                 f"M={m} N={n} K={k}, {len(self.phases)} phase(s)"]
        chosen = range(len(self.phases)) if phase is None else [self._phase_index(phase)]
        for i in chosen:
            p = self.phases[i]
            lines.append(f"# phase {i}")
            for load in p.loads:
                size = len(self.images[load.image])
                lines.append(f"#   load {load.region.name.lower()}[{load.addr}:"
                             f"{load.addr + size}] <- image {load.image}")
            if len(p.reads):
                lines.append(f"#   read output words {_ranges(p.reads[:, 0])}")
            lines.append(isa.disassemble(p.instructions, pcs=True).rstrip("\n"))
        return "\n".join(lines) + "\n"

    def _phase_index(self, phase: int) -> int:
        if not 0 <= phase < len(self.phases):
            raise LutcoreError(f"phase {phase} is out of range: allowed 0..{len(self.phases) - 1}")
        return phase

    # -- output ------------------------------------------------------------------------------
    def gather(self, phase_outputs: Sequence[np.ndarray], *, limbs: bool = False) -> np.ndarray:
        """The output matrix ``int64 [M, N]`` from the words read after each phase
        (``float32 [M, N]`` on a core with FP activations: its ``acc_format`` outputs,
        exactly).

        ``phase_outputs[i]`` holds the words of ``phases[i].reads`` in order: field values
        ``[R, n]`` (signed), or with ``limbs`` output-word limbs ``uint64 [R, limbs]``.
        """
        if len(phase_outputs) != len(self.phases):
            raise LutcoreError(f"gather: got outputs of {len(phase_outputs)} phases, "
                               f"program has {len(self.phases)}")
        m, n_cols, _ = self.shape
        cfg = self.config
        fmt = word_format(isa.Region.OUTPUT, cfg)
        out = np.zeros((m, n_cols), np.int64)
        if cfg.is_fp:            # raw acc_format bits: each output is read once, not added
            np.copyto(out, _FP_UNREAD)
        cols = np.arange(cfg.n)
        for i, (p, values) in enumerate(zip(self.phases, phase_outputs)):
            values = np.asarray(values)
            if limbs:
                values = unpack(values.reshape(len(p.reads), fmt.limbs), fmt)
            if values.shape != (len(p.reads), cfg.n):
                raise LutcoreError(f"gather: phase {i} outputs have shape {values.shape}, "
                                   f"expected {(len(p.reads), cfg.n)}")
            if not len(p.reads):
                continue
            rows = np.broadcast_to(p.reads[:, 1][:, None], (len(p.reads), cfg.n))
            c = p.reads[:, 2][:, None] + cols
            keep = c < n_cols
            if cfg.is_fp:
                out[rows[keep], c[keep]] = values.astype(np.int64)[keep]
                continue
            np.add.at(out, (rows[keep], c[keep]), values.astype(np.int64)[keep])
        if cfg.is_fp:
            if (out == _FP_UNREAD).any():
                raise LutcoreError("gather: the program reads no output word for some outputs")
            return fp.from_bits(out, cfg.acc_format).astype(np.float32)
        return nx.wrap(out, cfg.acc_bits)

    # -- host port ---------------------------------------------------------------------------
    def host_writes(self, phase: int) -> tuple[np.ndarray, np.ndarray]:
        """``(addresses, data)`` of every host-port write of one phase (buffer images, then
        instruction words), sub-words in order so each word commits on its last sub-word.
        Both ``uint64`` arrays; CTRL start is not included."""
        p = self.phases[self._phase_index(phase)]
        addrs, data = [], []
        for region, base, image in [(ld.region, ld.addr, self.images[ld.image]) for ld in p.loads] \
                + [(isa.Region.INSTR, 0, p.instructions[:, None])]:
            a, d = self._host_words(region, base, image)
            addrs.append(a)
            data.append(d)
        return np.concatenate(addrs), np.concatenate(data)

    def host_reads(self, phase: int) -> np.ndarray:
        """Host addresses ``uint64 [R, sub_words]`` of the output words of one phase, in the
        order of :attr:`Phase.reads`."""
        p = self.phases[self._phase_index(phase)]
        return self._addresses(isa.Region.OUTPUT, p.reads[:, 0])

    def _addresses(self, region: isa.Region, words: np.ndarray) -> np.ndarray:
        bits = isa.region_word_bits(region, self.config)
        subs = isa.sub_words(bits, self.config.host_bits)
        shift = isa.sub_bits(bits, self.config.host_bits)
        # Same arithmetic as isa.host_address, vectorised; check the last word through it.
        if len(words):
            isa.host_address(region, int(np.max(words)), subs - 1, config=self.config)
        base = np.uint64(region.value << isa.REGION_SHIFT)
        return (base | (np.asarray(words, np.uint64)[:, None] << np.uint64(shift))
                | np.arange(subs, dtype=np.uint64)[None, :])

    def _host_words(self, region, base, image):
        bits = isa.region_word_bits(region, self.config)
        data = host_words(image, bits, self.config.host_bits)
        addrs = self._addresses(region, base + np.arange(len(image)))
        return addrs.reshape(-1), data.reshape(-1)

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the program to an ``.npz`` file (no pickles)."""
        phases = self.phases
        arrays = {
            "header": np.array(json.dumps({
                "format": FORMAT, "config": self.config.to_dict(), "mode": self.mode,
                "shape": list(self.shape), "meta": self.meta})),
            "instructions": np.concatenate([p.instructions for p in phases]).astype(np.uint64)
            if phases else np.zeros(0, np.uint64),
            "instruction_offsets": _offsets([len(p.instructions) for p in phases]),
            "reads": (np.concatenate([p.reads for p in phases]) if phases
                      else np.zeros((0, 3), np.int64)).astype(np.int64).reshape(-1, 3),
            "read_offsets": _offsets([len(p.reads) for p in phases]),
            "loads": np.array([[ld.region.value, ld.addr, ld.image] for p in phases
                               for ld in p.loads], np.int64).reshape(-1, 3),
            "load_offsets": _offsets([len(p.loads) for p in phases]),
        }
        for i, image in enumerate(self.images):
            arrays[f"image_{i}"] = image
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path) -> "Program":
        """Read a program written by :meth:`save`, check it against every invariant of a
        program (:meth:`validate`) and return it with read-only arrays.

        Raises:
            LutcoreError: one line naming the file and what is wrong: unreadable, not an
                ``.npz`` (bad zip, bad compression, truncated), unknown or missing arrays,
                arrays of the wrong dtype or rank, a header that is not the JSON object
                :meth:`save` writes, or a program that breaks an invariant.
        """
        where = f"program file {str(path)!r}"
        arrays, images = _read_npz(Path(path), where)
        header = _header(arrays["header"], where)
        config = CoreConfig.from_dict(header["config"], source=f"{where} header 'config'")
        regions = {r.value: r for r in _LOADABLE}
        phases = []
        bounds = {}
        for key in ("instruction", "read", "load"):
            bounds[key] = _offsets_checked(arrays[f"{key}_offsets"],
                                           len(arrays[_PLURAL[key]]), f"{where}: {key}_offsets")
        if len({len(b) for b in bounds.values()}) != 1:
            raise LutcoreError(f"{where}: instruction_offsets, read_offsets and load_offsets "
                               f"have {', '.join(str(len(b)) for b in bounds.values())} "
                               f"entries: allowed one more than the phase count, alike")
        for i in range(len(bounds["instruction"]) - 1):
            rows = arrays["loads"][bounds["load"][i]:bounds["load"][i + 1]]
            bad = [int(r) for r in rows[:, 0] if int(r) not in regions]
            if bad:
                raise LutcoreError(f"{where}: phase {i} loads region {bad[0]}: allowed "
                                   f"{', '.join(f'{r.value} ({r.name.lower()})' for r in _LOADABLE)}")
            loads = [Load(regions[int(r)], int(a), int(im)) for r, a, im in rows]
            span = slice(bounds["instruction"][i], bounds["instruction"][i + 1])
            reads = slice(bounds["read"][i], bounds["read"][i + 1])
            phases.append(Phase(loads, arrays["instructions"][span], arrays["reads"][reads]))
        program = cls(config, header["mode"], tuple(header["shape"]), phases, images,
                      header["meta"])
        program.validate(where)
        return program._frozen()

    def validate(self, where: str = "program") -> None:
        """Check the program against its invariants: the mode is built into the config; the
        shape is three positive integers; every phase has instructions that the hardware
        executes without a fault (:func:`lutcore.spec.isa.validate`), ending in HALT and
        fitting the instruction buffer; every load writes an act or weight image of that
        region's word format inside the buffer; every read names an output word inside the
        buffer, a row below M and a first column below N; and the reads cover every element
        of the ``[M, N]`` output.

        Raises:
            LutcoreError: the first broken invariant, in one line starting with ``where``.
        """
        cfg = self.config
        if self.mode not in cfg.modes:
            raise LutcoreError(f"{where}: mode {self.mode!r} is not built into config "
                               f"'{cfg.name}': allowed {', '.join(cfg.modes)}")
        shape = self.shape
        if (len(shape) != 3 or any(isinstance(x, bool) or not isinstance(x, int) or x < 1
                                   for x in shape)):
            raise LutcoreError(f"{where}: shape {list(shape)} is invalid: allowed [M, N, K] "
                               f"of positive integers")
        if not self.phases:
            raise LutcoreError(f"{where}: has no phases: allowed 1 or more")
        for i, image in enumerate(self.images):
            if image.dtype != np.uint64 or image.ndim != 2 or not len(image):
                raise LutcoreError(f"{where}: image {i} is {image.dtype} shape {image.shape}: "
                                   f"allowed uint64 [words >= 1, limbs]")
        for i, p in enumerate(self.phases):
            _check_phase(self, i, p, f"{where}: phase {i}")
        m, n, _ = shape
        covered = np.zeros((m, n), bool)
        cols = np.arange(cfg.n)
        for p in self.phases:
            c = p.reads[:, 2][:, None] + cols
            rows = np.broadcast_to(p.reads[:, 1][:, None], c.shape)
            keep = c < n
            covered[rows[keep], c[keep]] = True
        if not covered.all():
            row, col = (int(x) for x in np.argwhere(~covered)[0])
            raise LutcoreError(f"{where}: no read gives output element [{row}, {col}] of the "
                               f"header's shape M={m} N={n}: the header and the reads disagree")

    def _frozen(self) -> "Program":
        """This program with every array read-only for good (see :func:`freeze`)."""
        self.images = [freeze(image) for image in self.images]
        for p in self.phases:
            p.instructions, p.reads = freeze(p.instructions), freeze(p.reads)
        return self


#: The arrays of a program file besides ``image_<i>``: name -> (dtype, rank, columns).
_ARRAYS = {
    "header": ("U", 0, None),
    "instructions": (np.uint64, 1, None),
    "instruction_offsets": (np.int64, 1, None),
    "reads": (np.int64, 2, 3),
    "read_offsets": (np.int64, 1, None),
    "loads": (np.int64, 2, 3),
    "load_offsets": (np.int64, 1, None),
}
_IMAGE = (np.uint64, 2, None)
_PLURAL = {"instruction": "instructions", "read": "reads", "load": "loads"}
#: What reading a damaged archive raises: zip structure, compression, CRC, truncation.
_ARCHIVE_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error,
                   NotImplementedError, RuntimeError, SyntaxError, TypeError, RecursionError,
                   OverflowError, MemoryError, tokenize.TokenError)


def _expected(name: str, where: str):
    if name in _ARRAYS:
        return _ARRAYS[name]
    if name.startswith("image_") and name[6:].isdigit() and str(int(name[6:])) == name[6:]:
        return _IMAGE
    raise LutcoreError(f"{where} holds an unknown array {name!r}: allowed "
                       f"{', '.join(_ARRAYS)} and image_0, image_1, ...")


def _check_kind(name: str, dtype: np.dtype, shape: tuple, where: str) -> None:
    want, rank, cols = _expected(name, where)
    ok = (dtype.kind == want) if isinstance(want, str) else dtype == np.dtype(want)
    if not ok or len(shape) != rank or (cols is not None and shape[-1] != cols):
        what = "a string" if isinstance(want, str) else np.dtype(want).name
        dims = {0: "a scalar", 1: "1-D", 2: f"2-D [rows, {cols or 'limbs'}]"}[rank]
        raise LutcoreError(f"{where}: array {name!r} is {dtype} shape {shape}: allowed "
                           f"{what}, {dims}")


def _read_npz(path: Path, where: str) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The named arrays and the images of a program archive, each array checked for its
    dtype, rank and size before its data is read."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise LutcoreError(f"{where} is not an .npz archive written by "
                                   f"`lutcore compile`")
            f.seek(0)
            arrays = {}
            with zipfile.ZipFile(f) as zf:
                for info in zf.infolist():
                    if not info.filename.endswith(".npy"):
                        raise LutcoreError(f"{where} holds {info.filename!r}: allowed .npy "
                                           f"arrays only")
                    name = info.filename[:-4]
                    with zf.open(info) as member:
                        version = np.lib.format.read_magic(member)
                        shape, _, dtype = (np.lib.format.read_array_header_1_0(member)
                                           if version == (1, 0) else
                                           np.lib.format.read_array_header_2_0(member))
                        _check_kind(name, dtype, shape, where)
                        if math.prod(shape) * dtype.itemsize > info.file_size:
                            raise LutcoreError(f"{where}: array {name!r} declares {dtype} "
                                               f"shape {shape}, more data than it holds")
                    with zf.open(info) as member:
                        arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
    except LutcoreError:
        raise
    except FileNotFoundError:
        raise LutcoreError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise LutcoreError(f"{where} is a directory: expected an .npz program") from None
    except _ARCHIVE_ERRORS as e:
        kind = "bad compression" if isinstance(e, zlib.error) else type(e).__name__
        raise LutcoreError(f"{where} is not a readable .npz program: {kind}: "
                           f"{' '.join(str(e).split())}") from None
    missing = [k for k in _ARRAYS if k not in arrays]
    if missing:
        raise LutcoreError(f"{where} lacks array(s) {', '.join(missing)}: not a program "
                           f"written by `lutcore compile`")
    n_images = len(arrays) - len(_ARRAYS)
    if any(f"image_{i}" not in arrays for i in range(n_images)):
        raise LutcoreError(f"{where}: images are not numbered 0..{n_images - 1}")
    return arrays, [arrays[f"image_{i}"] for i in range(n_images)]


def _header(array: np.ndarray, where: str) -> dict:
    """The header object, checked for the fields :meth:`Program.save` writes."""
    try:
        header = json.loads(str(array))
    except (ValueError, RecursionError) as e:
        raise LutcoreError(f"{where}: header is not JSON: {' '.join(str(e).split())}") \
            from None
    if not isinstance(header, dict):
        raise LutcoreError(f"{where}: header is a JSON {type(header).__name__}: allowed an "
                           f"object")
    if header.get("format") != FORMAT:
        raise LutcoreError(f"{where} has format {header.get('format')!r}: expected {FORMAT!r}")
    fields = {"config": dict, "mode": str, "shape": list, "meta": dict}
    for key, kind in fields.items():
        if not isinstance(header.get(key), kind):
            raise LutcoreError(f"{where}: header field {key!r} is "
                               f"{type(header.get(key)).__name__}: allowed a JSON "
                               f"{ {dict: 'object', str: 'string', list: 'array'}[kind]}")
    return header


def _offsets_checked(offsets: np.ndarray, total: int, what: str) -> np.ndarray:
    """Check phase offsets: at least two entries, from 0 up to ``total``, never decreasing."""
    if (len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != total
            or np.any(np.diff(offsets) < 0)):
        raise LutcoreError(f"{what} = {_short(offsets)} are inconsistent: allowed a "
                           f"non-decreasing run from 0 to {total} with one entry per phase "
                           f"plus one")
    return offsets


def _short(x: np.ndarray) -> str:
    values = [int(v) for v in x[:8]]
    return str(values)[:-1] + (", ...]" if len(x) > 8 else "]")


def _check_phase(program: "Program", i: int, p: Phase, where: str) -> None:
    """One phase's invariants (see :meth:`Program.validate`)."""
    cfg = program.config
    m, n, _ = program.shape
    words = p.instructions
    if not 1 <= len(words) <= cfg.instr_depth:
        raise LutcoreError(f"{where} has {len(words)} instructions: allowed "
                           f"1..{cfg.instr_depth} (instr_depth)")
    for pc, word in enumerate(words):
        fault = isa.validate(int(word), cfg)
        if fault is not None:
            raise LutcoreError(f"{where}: instruction {pc} ({int(word):#x}) faults: "
                               f"{fault.message}")
    if not isinstance(isa.decode(int(words[-1])), isa.Halt):
        raise LutcoreError(f"{where}: the last instruction is not HALT")
    for load in p.loads:
        if not 0 <= load.image < len(program.images):
            raise LutcoreError(f"{where} loads image {load.image}: allowed "
                               f"0..{len(program.images) - 1}")
        image = program.images[load.image]
        fmt = word_format(load.region, cfg)
        depth = isa.region_depth(load.region, cfg)
        name = load.region.name.lower()
        if image.shape[1] != fmt.limbs:
            raise LutcoreError(f"{where} loads image {load.image} of {image.shape[1]} limbs "
                               f"into the {name} buffer: allowed {fmt.limbs}")
        if not 0 <= load.addr <= depth - len(image):
            raise LutcoreError(f"{where} loads {len(image)} words at {name} address "
                               f"{load.addr}: allowed addresses 0..{depth - len(image)} "
                               f"(depth {depth})")
    reads = p.reads
    for col, name, limit in ((0, "output word", cfg.out_depth), (1, "row", m), (2, "column", n)):
        values = reads[:, col]
        if len(values) and (values.min() < 0 or values.max() >= limit):
            bad = int(values[(values < 0) | (values >= limit)][0])
            raise LutcoreError(f"{where} reads {name} {bad}: allowed 0..{limit - 1}")


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def _ranges(values: np.ndarray) -> str:
    """'0..3, 8, 10..11' for sorted-ish integer values."""
    values = [int(v) for v in values]
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = prev = v
            continue
        if v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}..{prev}" if prev != start else f"{start}")
        start = prev = v
    if start is not None:
        parts.append(f"{start}..{prev}" if prev != start else f"{start}")
    return ", ".join(parts)
