"""The load cache: a model's tensors after loading and packing, in one uncompressed ``.npz``
file, so that a second load reads packed weights instead of unpacking and re-packing the
checkpoint. A cache records the source files (path, size, modification time), the mode and
group size; one that does not match is rebuilt, never used."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..sw.kernels.packing import BitSerialWeights, ElutWeights
from .checkpoint import ModelConfig

__all__ = ["source_stamp", "read_cache", "write_cache", "CACHE_VERSION"]

CACHE_VERSION = 1


def source_stamp(path) -> list:
    """(name, size, mtime_ns) of every file of a checkpoint (a directory's files or one
    file)."""
    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    return [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def _meta(source, fmt: str, mode: str, group: int) -> dict:
    return {"version": CACHE_VERSION, "source": source_stamp(source), "format": fmt,
            "mode": mode, "group": group}


def write_cache(path, source, fmt: str, mode: str, group: int, config: ModelConfig,
                floats: dict, projections: dict) -> None:
    """Write the cache (atomically: a temporary file renamed into place)."""
    meta = _meta(source, fmt, mode, group)
    meta["config"] = config.to_dict()
    meta["projections"] = {n: {"k": p.packed.k, "scale": p.scales[0],
                               "scale_mode": p.scale_mode} for n, p in projections.items()}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    arrays.update({f"f/{n}": v for n, v in floats.items()})
    arrays.update({f"p/{n}": (p.packed.data if mode == "elut" else p.packed.planes)
                   for n, p in projections.items()})
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{path}: cannot write the cache ({e.strerror or e})") from None


def read_cache(path, source, mode: str, group: int):
    """``(config, floats, packed, format)`` from a cache that matches ``source``, ``mode``
    and ``group`` (``packed``: name -> (packed weights, scale, scale mode)); None if there is no cache or it does not match (it is then rebuilt)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            want = _meta(source, meta.get("format", ""), mode, group)
            if any(meta.get(k) != v for k, v in want.items()):
                return None
            floats = {k[2:]: z[k] for k in z.files if k.startswith("f/")}
            packed = {}
            for name, p in meta["projections"].items():
                arr = z[f"p/{name}"]
                packed[name] = ((ElutWeights(arr, p["k"], group) if mode == "elut"
                                 else BitSerialWeights(arr, p["k"], group)),
                                p["scale"], p["scale_mode"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not a readable lutcore model cache ({e}); delete it to "
                         f"rebuild") from None
    return ModelConfig.from_dict(meta["config"], str(path)), floats, packed, meta["format"]
