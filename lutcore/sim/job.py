"""Files between the Python side and the ``run_job`` bench of :mod:`lutcore.sim.tb_top`.

A :class:`Job` (JSON, path in the environment variable :data:`JOB_ENV`) names the
configuration, the compiled program files to run in order on one model instance, the
host-port randomness and where the bench writes its results. The results file (``.npz``,
no pickles) holds, per program and phase, the CYCLES, PC and STATUS the core reported, the
output words read back (host sub-words) and wall-clock times; :func:`load_results` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LutcoreError
from ..spec.config import CoreConfig

__all__ = ["JOB_ENV", "Job", "save_results", "load_results"]

#: Environment variable naming the job file.
JOB_ENV = "LUTCORE_SIM_JOB"


@dataclass
class Job:
    """What ``run_job`` runs: ``programs`` (``.npz`` paths) on ``config``; results to
    ``results``; host-port randomness ``seed``, ``idle``, ``stall``; ``monitor`` adds the
    passive request-stream checker."""

    config: CoreConfig
    programs: list[str]
    results: str
    seed: int = 1
    idle: float = 0.0
    stall: float = 0.0
    monitor: bool = False

    def save(self, path) -> None:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path) -> "Job":
        data = json.loads(Path(path).read_text())
        data["config"] = CoreConfig.from_dict(data["config"])
        return cls(**data)


def save_results(path, results: list[list[dict[str, Any]]], stats) -> None:
    """Write the bench's records: ``results[program][phase]`` dicts whose ``words`` entry is
    an array (stored as its own member) and everything else a number."""
    arrays = {}
    header = []
    for p, phases in enumerate(results):
        rows = []
        for i, record in enumerate(phases):
            record = dict(record)
            arrays[f"p{p}_{i}"] = np.asarray(record.pop("words"), np.uint64)
            rows.append(record)
        header.append(rows)
    stats = asdict(stats) if hasattr(stats, "__dataclass_fields__") else dict(stats)
    arrays["header"] = np.array(json.dumps({"results": header, "stats": stats}))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_results(path) -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
    """``(results, port stats)`` as written by :func:`save_results`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            results = header["results"]
            for p, phases in enumerate(results):
                for i, record in enumerate(phases):
                    record["words"] = z[f"p{p}_{i}"]
    except (OSError, KeyError, ValueError) as e:
        raise LutcoreError(f"simulation results '{path}' cannot be read: {e}") from None
    return results, header["stats"]

