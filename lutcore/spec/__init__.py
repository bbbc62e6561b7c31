"""The contract: configuration, derived widths, ISA. Imports nothing else of the project."""

from .config import ConfigError, CoreConfig, PRESETS, preset, preset_names

__all__ = ["ConfigError", "CoreConfig", "PRESETS", "preset", "preset_names"]
