"""The figures of a model run: the compute-bound decode rate at a clock (cycles per token on
the ISS or RTL) beside the memory-bound rate at a weight bandwidth (packed weight bytes a
token streams), so a user sees which bound holds."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.config import CoreConfig

__all__ = ["default_clock_mhz", "Bounds", "bounds", "NOMINAL_CLOCK_MHZ",
           "DEFAULT_BANDWIDTH_GBS"]

#: The clock of a configuration no board builds (the paper's standard-cell design point).
NOMINAL_CLOCK_MHZ = 1000.0
#: The weight bandwidth of the memory-bound figure unless told: one 64-bit DDR4-1600
#: channel (12.8 GB/s).
DEFAULT_BANDWIDTH_GBS = 12.8


def default_clock_mhz(config: CoreConfig) -> tuple[float, str]:
    """The clock the figures assume for ``config`` and where it comes from: the core clock
    of the board that builds its preset, else :data:`NOMINAL_CLOCK_MHZ`."""
    from ..fpga.flow import BOARDS
    for b in BOARDS.values():
        if config.name in b.presets:
            return b.core_mhz_of(config.name), f"{b.name} build clock"
    return NOMINAL_CLOCK_MHZ, "nominal standard-cell clock"


@dataclass(frozen=True)
class Bounds:
    cycles_per_token: float
    clock_mhz: float
    weight_bytes_per_token: int
    bandwidth_gbs: float

    @property
    def compute_tokens_per_s(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles_per_token if self.cycles_per_token else 0.0

    @property
    def memory_tokens_per_s(self) -> float:
        return self.bandwidth_gbs * 1e9 / self.weight_bytes_per_token

    @property
    def bound(self) -> str:
        return "compute" if self.compute_tokens_per_s < self.memory_tokens_per_s else "memory"

    def lines(self, clock_source: str = "") -> list[str]:
        src = f", {clock_source}" if clock_source else ""
        return [
            f"compute-bound: {self.cycles_per_token:,.0f} cycles/token -> "
            f"{self.compute_tokens_per_s:,.2f} tokens/s at {self.clock_mhz:g} MHz{src}",
            f"memory-bound:  {self.weight_bytes_per_token:,} bytes of packed weights per "
            f"token -> {self.memory_tokens_per_s:,.2f} tokens/s at "
            f"{self.bandwidth_gbs:g} GB/s",
            f"the {self.bound} bound holds",
        ]


def bounds(cycles_per_token: float, weight_bytes: int, clock_mhz: float,
           bandwidth_gbs: float = DEFAULT_BANDWIDTH_GBS) -> Bounds:
    return Bounds(cycles_per_token, clock_mhz, weight_bytes, bandwidth_gbs)
