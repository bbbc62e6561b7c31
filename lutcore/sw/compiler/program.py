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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import LutcoreError
from ...spec import isa
from ...spec import numerics as nx
from ...spec.config import ConfigError, CoreConfig
from ...spec.words import host_words, unpack, word_format

__all__ = ["FORMAT", "Load", "Phase", "Program"]

#: Format tag stored in a program file.
FORMAT = "lutcore-program/1"

_LOADABLE = (isa.Region.ACT, isa.Region.WEIGHT)


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

    def summary(self) -> dict[str, Any]:
        """Counts for reports: phases, instructions, words moved, predicted cycles."""
        cycles = sum(self.predicted_cycles())
        lookups = self.lookups()
        return {
            "config": self.config.name, "mode": self.mode, "shape": self.shape,
            "phases": len(self.phases), "instructions": self.num_instructions,
            "words": self.load_words(), "cycles": cycles, "lookups": lookups,
            "utilization": lookups / cycles if cycles else 0.0,
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
        """The output matrix ``int64 [M, N]`` from the words read after each phase.

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
            np.add.at(out, (rows[keep], c[keep]), values.astype(np.int64)[keep])
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
        """Read a program written by :meth:`save`; a bad file raises a one-line
        :class:`LutcoreError`."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                if f.read(4) != b"PK\x03\x04":
                    raise LutcoreError(f"program file '{path}' is not an .npz archive written "
                                       f"by `lutcore compile`")
            z = np.load(path, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise LutcoreError(f"program file '{path}' is a single .npy array: expected "
                                   f"an .npz program written by `lutcore compile`")
            with z:
                arrays = {k: z[k] for k in z.files}
        except LutcoreError:
            raise
        except FileNotFoundError:
            raise LutcoreError(f"program file '{path}' does not exist") from None
        except (OSError, ValueError) as e:
            raise LutcoreError(f"program file '{path}' is not a readable .npz: {e}") from None
        try:
            header = json.loads(str(arrays["header"]))
            if header.get("format") != FORMAT:
                raise LutcoreError(f"program file '{path}' has format {header.get('format')!r}: "
                                   f"expected {FORMAT!r}")
            config = CoreConfig.from_dict(header["config"])
            n_images = sum(1 for k in arrays if k.startswith("image_"))
            images = [arrays[f"image_{i}"].astype(np.uint64) for i in range(n_images)]
            io, ro, lo = (arrays["instruction_offsets"], arrays["read_offsets"],
                          arrays["load_offsets"])
            phases = []
            for i in range(len(io) - 1):
                loads = [Load(isa.Region(int(r)), int(a), int(im))
                         for r, a, im in arrays["loads"][lo[i]:lo[i + 1]]]
                for ld in loads:
                    if not 0 <= ld.image < n_images:
                        raise LutcoreError(f"program file '{path}': phase {i} loads missing "
                                           f"image {ld.image}")
                words = arrays["instructions"][io[i]:io[i + 1]].astype(np.uint64)
                phases.append(Phase(loads, words, arrays["reads"][ro[i]:ro[i + 1]].astype(np.int64)))
            return cls(config, header["mode"], tuple(header["shape"]), phases, images,
                       header.get("meta", {}))
        except LutcoreError:
            raise
        except ConfigError as e:
            raise LutcoreError(f"program file '{path}' has a bad config: {e}") from None
        except (KeyError, ValueError, TypeError, IndexError) as e:
            raise LutcoreError(f"program file '{path}' is malformed: {type(e).__name__}: {e}") \
                from None


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
