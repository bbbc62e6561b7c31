"""The per-user build cache shared by every working directory: compiled Verilator models
(``sim/``) and the host path's native lookup kernel (``native/``).

``$LUTCORE_BUILD`` if set, else the platform's cache directory (``$XDG_CACHE_HOME/lutcore`` or
``~/.cache/lutcore``; ``~/Library/Caches/lutcore`` on macOS).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .errors import LutcoreError

__all__ = ["BUILD_ENV", "build_root"]

#: Environment variable overriding the cache directory.
BUILD_ENV = "LUTCORE_BUILD"


def build_root() -> Path:
    """The cache directory (see the module docstring), created if missing; one
    :class:`~lutcore.errors.LutcoreError` line when it cannot be."""
    root = os.environ.get(BUILD_ENV)
    if root:
        path = Path(root).expanduser()
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Caches" / "lutcore"
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lutcore"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe-")
        probe.close()
    except OSError as e:
        raise LutcoreError(f"the build cache '{path}' cannot be used: {e.strerror or e}; "
                           f"set {BUILD_ENV} to a writable directory") from None
    return path.resolve()
