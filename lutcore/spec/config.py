"""The one configuration object that drives hardware, compiler, golden model and tests.

A :class:`CoreConfig` is frozen and validated on construction: a bad value raises
:class:`ConfigError` with a one-line message naming the field, the value and what is allowed.
Derived widths come from :mod:`lutcore.spec.numerics`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from . import fp
from . import numerics as nx
from .geometry import TableGeometry
from .params import PARAMS


def _geometry_property(name: str, doc: str | None = None) -> property:
    return property(lambda self: getattr(self.geometry, name), doc=doc)

__all__ = ["BROADCAST_COLS", "ConfigError", "CoreConfig", "OUT_BEAT_MAX_BITS", "PRESETS",
           "preset", "preset_names"]

#: LUT-core columns fed by one copy of the step's tables and controls (the broadcast stage);
#: a core with more columns registers one copy per group of this many columns, so no table
#: bit drives more than ``m x BROADCAST_COLS`` lookups.
BROADCAST_COLS = 8
#: Widest output beat: a STORE writes each row as ``out_beats`` beats of at most this many
#: bits (when the row splits into host-word aligned beats), so the output buffer is built
#: from narrow block RAMs and the core drives ``out_beat_bits`` wires, not a whole row.
OUT_BEAT_MAX_BITS = 512


def _json_type(value) -> str:
    """The JSON name of a decoded value's type: object, array, string, number, ..."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _param(default: int, key: str | None = None):
    """A field whose range is ``PARAMS[key]`` (``key`` defaults to the field's name)."""
    return field(default=default, metadata={"param": key})


def _is_pow2(x: int) -> bool:
    return x > 0 and (x & (x - 1)) == 0


@dataclass(frozen=True)
class CoreConfig:
    """Parameters of one LUT tensor core build.

    Tile: each cycle the core does ``m x n x lookups`` table lookups, each covering ``g``
    activations (bit-serial mode, one weight bit plane) or ``elut_g`` activations (ELUT
    ternary mode); a unit sums its ``lookups`` entries before its one accumulator, so it
    covers K = g x lookups activations a step (the paper's K = g x L).

    Fields
    ------
    name : preset name or a free label.
    m, n : tile rows (activation rows sharing a weight) and columns (LUT units per row).
    g : bit-serial group size (activations per lookup), 2..6.
    weight_bits : most weight bit planes B one LMMA runs (1..4).
    act_bits : signed activation width (2..16).
    acc_bits : signed output width; outputs wrap modulo 2^acc_bits (DESIGN §2.3).
    elut_g : ELUT group size (2..5), or 0 to build without the element-wise ternary mode.
    symmetrize : store half tables and reinterpret weights (paper Eq. 6); False builds the
        full 2^g-entry tables, the unsymmetrized baseline.
    lookups : L, table lookups per LUT unit per step (1..8): a step reads the tables and
        codes of L consecutive K groups, and each unit adds its L entries in a small adder
        tree before its accumulator, so accumulators and readout are shared by L times more
        products. Activation, table and weight words hold L groups per tile row / column.
    act_depth, table_depth, weight_depth, out_depth, instr_depth : on-chip buffer depths in
        words (powers of two, at most 65536).
    host_bits : data width of the host port (32).
    act_format : 'int8' (integer activations of ``act_bits``, the default) or 'fp16' / 'bf16'
        (docs/architecture.md, "Floating-point activations"). An FP core builds its tables
        in ``table_format`` ('fp16', 'bf16' or 'fp32', at least as wide as the activations)
        and accumulates in ``acc_format`` ('fp16' or 'fp32', at least as wide as the
        tables); its ``act_bits`` is the activation format's width (16) and its
        ``acc_bits`` the accumulator format's, the raw widths of its buffer fields
        (:meth:`with_act_format` sets all of them). An integer core keeps the defaults.
    """

    name: str = "custom"
    m: int = _param(2)
    n: int = _param(64)
    g: int = _param(4)
    weight_bits: int = _param(4)
    act_bits: int = _param(8)
    acc_bits: int = 32                 # its range depends on table_bits: __post_init__
    elut_g: int = _param(3)
    symmetrize: bool = True
    lookups: int = _param(1)
    act_depth: int = _param(1024, "depth")
    table_depth: int = _param(1024, "depth")
    weight_depth: int = _param(4096, "depth")
    out_depth: int = _param(256, "depth")
    instr_depth: int = _param(1024, "depth")
    host_bits: int = _param(32)
    act_format: str = "int8"
    table_format: str = "fp32"
    acc_format: str = "fp32"

    def __post_init__(self):
        def check(name, ok, allowed):
            if not ok:
                raise ConfigError(
                    f"config field '{name}' = {getattr(self, name)!r} is invalid: {allowed}")

        check("name", isinstance(self.name, str) and self.name != "", "must be a non-empty string")
        check("symmetrize", isinstance(self.symmetrize, bool), "must be true or false")
        for f in dataclasses.fields(self):
            if "param" not in f.metadata:
                continue
            spec, v = PARAMS[f.metadata["param"] or f.name], getattr(self, f.name)
            check(f.name, v in spec, f"allowed {spec.allowed}"
                  if isinstance(v, int) and not isinstance(v, bool) else "must be an integer")
        check("act_format", self.act_format in fp.ACT_FORMATS,
              f"allowed {', '.join(fp.ACT_FORMATS)}")
        check("table_format", self.table_format in fp.TABLE_FORMATS,
              f"allowed {', '.join(fp.TABLE_FORMATS)}")
        check("acc_format", self.acc_format in fp.ACC_FORMATS,
              f"allowed {', '.join(fp.ACC_FORMATS)}")
        if self.is_fp:
            act, table, acc = (fp.fp_format(f) for f in (self.act_format, self.table_format,
                                                          self.acc_format))
            check("table_format", table.holds(act),
                  f"must hold act_format {act.name} exactly: allowed "
                  f"{', '.join(f for f in fp.TABLE_FORMATS if fp.fp_format(f).holds(act))}")
            check("acc_format", acc.holds(table),
                  f"must hold table_format {table.name} exactly: allowed "
                  f"{', '.join(f for f in fp.ACC_FORMATS if fp.fp_format(f).holds(table))}")
            check("act_bits", self.act_bits == act.width,
                  f"act_format {act.name} has {act.width}-bit activations: allowed "
                  f"{act.width} (CoreConfig.with_act_format sets it)")
            check("acc_bits", self.acc_bits == acc.width,
                  f"acc_format {acc.name} has {acc.width}-bit outputs: allowed {acc.width} "
                  f"(CoreConfig.with_act_format sets it)")
            return
        for name in ("table_format", "acc_format"):
            check(name, getattr(self, name) == "fp32",
                  "allowed fp32 (the default) with act_format int8: it applies to FP "
                  "activations only")
        low = self.table_bits + self.weight_bits
        hi = PARAMS["acc_bits"].hi
        check("acc_bits", isinstance(self.acc_bits, int) and not isinstance(self.acc_bits, bool)
              and low <= self.acc_bits <= hi,
              f"allowed {low}..{hi} (at least table_bits + weight_bits = {low})")

    # -- modes ---------------------------------------------------------------------------
    @property
    def is_fp(self) -> bool:
        """Floating-point activations (``act_format`` fp16 or bf16)."""
        return self.act_format != "int8"

    def with_act_format(self, act_format: str, *, table_format: str = "fp32",
                        acc_format: str = "fp32") -> "CoreConfig":
        """This core with ``act_format`` activations: for 'fp16' or 'bf16' the FP variant
        (``act_bits`` and ``acc_bits`` the formats' widths, the name suffixed with the
        format), for 'int8' this core itself when it is integer already."""
        for what, value, allowed in (("act_format", act_format, fp.ACT_FORMATS),
                                     ("table_format", table_format, fp.TABLE_FORMATS),
                                     ("acc_format", acc_format, fp.ACC_FORMATS)):
            if not isinstance(value, str) or value not in allowed:
                raise ConfigError(f"{what} {value!r} is unknown: allowed {', '.join(allowed)}")
        if act_format == "int8":
            if self.is_fp or (table_format, acc_format) != ("fp32", "fp32"):
                raise ConfigError(f"act_format int8 takes no table_format or acc_format, and "
                                  f"config '{self.name}' (act_format {self.act_format}) has "
                                  f"no integer variant here: use the preset it came from")
            return self
        if (act_format, table_format, acc_format) == (self.act_format, self.table_format,
                                                      self.acc_format):
            return self
        acc = fp.fp_format(acc_format)
        base = self.name.removesuffix(f"_{self.act_format}") if self.is_fp else self.name
        return self.replace(
            name=f"{base}_{act_format}", act_format=act_format,
            table_format=table_format, acc_format=acc_format,
            act_bits=fp.fp_format(act_format).width, acc_bits=acc.width)

    @property
    def has_elut(self) -> bool:
        return self.elut_g != 0

    @property
    def modes(self) -> tuple[str, ...]:
        return ("bitserial", "elut") if self.has_elut else ("bitserial",)

    # -- derived widths (DESIGN §2), one definition in spec.geometry ------------------------
    @property
    def geometry(self) -> TableGeometry:
        return TableGeometry(self.g, self.elut_g, self.act_bits, self.symmetrize)

    bitserial_entries = _geometry_property("bitserial_entries", "Entries of a bit-serial table (2^(g-1) symmetrized, 2^g otherwise).")
    bitserial_index_bits = _geometry_property("bitserial_index_bits")
    bitserial_code_bits = _geometry_property("bitserial_code_bits", "Bits of one bit-serial weight code: index plus sign (symmetrized only).")
    elut_entries = _geometry_property("elut_entries")
    elut_index_bits = _geometry_property("elut_index_bits")
    elut_code_bits = _geometry_property("elut_code_bits")
    table_entries = _geometry_property("entries", "Entries per stored table: the larger of the two modes.")
    @property
    def table_bits(self) -> int:
        """Width of a table entry: signed, the larger of the two modes (integer); the raw
        width of ``table_format`` (FP)."""
        if self.is_fp:
            return fp.fp_format(self.table_format).width
        return self.geometry.entry_bits

    index_bits = _geometry_property("index_bits")
    code_bits = _geometry_property("code_bits", "Bits of one weight code in a weight-buffer word: the larger of the two modes.")
    act_slots = _geometry_property("act_slots", "Activations per row in one activation-buffer word: max(g, elut_g).")

    @property
    def sum_bits(self) -> int:
        """Internal accumulator width: acc_bits + 1, so that (S + c*sumA) >> 1 is exact mod
        2^acc_bits (DESIGN §2.1, §2.3)."""
        return self.acc_bits + 1

    @property
    def table_rows(self) -> int:
        """Tables per step, m x lookups: row r's l-th table is table row ``r * lookups + l``
        (activation and table words hold one group per table row)."""
        return self.m * self.lookups

    @property
    def step_codes(self) -> int:
        """Weight codes per step, n x lookups: column c's l-th code is code
        ``c * lookups + l`` of a weight word."""
        return self.n * self.lookups

    @property
    def act_word_bits(self) -> int:
        return self.table_rows * self.act_slots * self.act_bits

    @property
    def table_word_bits(self) -> int:
        return self.table_rows * self.table_entries * self.table_bits

    @property
    def weight_word_bits(self) -> int:
        return self.step_codes * self.code_bits

    @property
    def out_word_bits(self) -> int:
        """Bits of one output-buffer word as the host sees it: one row of n outputs."""
        return self.n * self.acc_bits

    @property
    def broadcast_groups(self) -> int:
        """Copies of the step broadcast in the LUT core: one per BROADCAST_COLS columns, or 1
        (no broadcast stage) when n <= BROADCAST_COLS."""
        return -(-self.n // BROADCAST_COLS)

    @property
    def out_beats(self) -> int:
        """Beats per output row: the fewest k dividing n whose beat of n/k outputs is at most
        OUT_BEAT_MAX_BITS and a power-of-two number of host words (so host sub-word
        addresses split into beat and sub-word by bit fields); 1 when the row itself fits or
        no such k exists."""
        if self.out_word_bits <= OUT_BEAT_MAX_BITS:
            return 1
        for k in range(2, self.n + 1):
            bits = self.n // k * self.acc_bits
            if self.n % k == 0 and bits <= OUT_BEAT_MAX_BITS and bits % self.host_bits == 0 \
                    and _is_pow2(bits // self.host_bits):
                return k
        return 1

    @property
    def out_beat_cols(self) -> int:
        """Outputs per beat: n / out_beats."""
        return self.n // self.out_beats

    @property
    def out_beat_bits(self) -> int:
        """Bits of one output beat, the width of the output buffer's block RAM words."""
        return self.out_beat_cols * self.acc_bits

    def group(self, mode: str) -> int:
        """Activations per lookup in ``mode`` ('bitserial' or 'elut')."""
        if mode == "bitserial":
            return self.g
        if mode == "elut":
            if not self.has_elut:
                raise ConfigError(f"mode 'elut' is not built into config '{self.name}' (elut_g = 0)")
            return self.elut_g
        raise ConfigError(f"mode {mode!r} is unknown: allowed 'bitserial', 'elut'")

    def products_per_cycle(self, mode: str = "bitserial") -> int:
        """Weight-activation products per cycle (one bit plane per cycle in bit-serial)."""
        return self.m * self.n * self.lookups * self.group(mode)

    @property
    def lookups_per_cycle(self) -> int:
        """Table lookups the array does per step: m x n x lookups."""
        return self.m * self.n * self.lookups

    # -- serialization -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), indent=kw.pop("indent", 2), **kw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> "CoreConfig":
        """A configuration from its fields (the :meth:`to_dict` form); missing fields take
        their defaults.

        Args:
            data: field name -> value.
            source: how messages name where ``data`` came from (``--config 'c.json'``).

        Raises:
            ConfigError: ``data`` is not a mapping, names an unknown field, or a value is
                invalid; the one-line message starts with ``source``.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source} must be a JSON object of CoreConfig fields, got "
                              f"{_json_type(data)}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in set(data) - known)
        if unknown:
            raise ConfigError(f"{source} has unknown field(s) {unknown}: allowed "
                              f"{sorted(known)}")
        try:
            return cls(**data)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}" if source != "config" else str(e)) from None

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "config") -> "CoreConfig":
        """A configuration from JSON text (or UTF-8 bytes) holding one object of fields.

        Raises:
            ConfigError: not UTF-8, not JSON, not an object, or a bad field (see
                :meth:`from_dict`); one line starting with ``source``.
        """
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as e:
                raise ConfigError(f"{source} is not UTF-8 text: byte 0x{text[e.start]:02x} at "
                                  f"offset {e.start}") from None
        if not isinstance(text, str):
            raise ConfigError(f"{source} must be JSON text, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{source} is not valid JSON: {e}") from None
        except (ValueError, RecursionError) as e:     # huge integers, deep nesting
            raise ConfigError(f"{source} is not usable JSON: "
                              f"{' '.join(str(e).split()) or type(e).__name__}") from None
        return cls.from_dict(data, source=source)

    def replace(self, **changes) -> "CoreConfig":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, CoreConfig] = {
    # Fits an iCE40 UP5K (iCEBreaker): one row, four LUT units. (n = 8 needs 124% of the
    # logic cells and 35 of the 30 block RAMs: buffer words, not depths, set the BRAM count.)
    "tiny": CoreConfig(name="tiny", m=1, n=4, g=4, weight_bits=2, acc_bits=24, elut_g=3,
                       act_depth=256, table_depth=256, weight_depth=512, out_depth=32,
                       instr_depth=128),
    # The paper's elongated M2 N64 K4 tile.
    "default": CoreConfig(name="default", m=2, n=64, g=4, weight_bits=4, acc_bits=32, elut_g=3),
    # A larger tile for an ECP5-85F.
    "large": CoreConfig(name="large", m=4, n=64, g=4, weight_bits=4, acc_bits=32, elut_g=3,
                        act_depth=2048, table_depth=2048, weight_depth=4096, out_depth=512),
    # Decode first: the default's 128 lookups a step in one row, so that token-by-token
    # decoding (M = 1) uses all of them, where the m = 2 tile leaves one row idle; prefill
    # (M >= 2) runs at the default's rate (lutcore bench iss, lutcore dse). As 64 units of
    # L = 2 lookups (K = 8 a unit): the ECP5-85F routes it (docs/fpga.md), where 32 units of
    # L = 4, 15 % smaller in standard cells (docs/area.md, "K = g x L"), did not route: L = 2
    # broadcasts the default's two tables a step, L = 4 four. Weight words hold the codes of
    # 128 lookups, twice the default's, so half as many hold the default's weight codes (and
    # fit the 85F's block RAMs: 4096 words of 640 bits would take 160 of its 208).
    "decode": CoreConfig(name="decode", m=1, n=64, g=4, weight_bits=4, acc_bits=32, elut_g=3,
                         lookups=2, weight_depth=2048),
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset(name: str) -> CoreConfig:
    """Look up a named preset; unknown names raise a one-line :class:`ConfigError`."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"preset {name!r} is unknown: allowed {', '.join(PRESETS)}") from None
