"""Independent long jobs (syntheses, FPGA builds) as tasks on a Dask cluster.

:func:`run_tasks` runs ``fn(*args)`` for each task on a local cluster of ``jobs`` worker
processes, or on the cluster of an existing scheduler (``--scheduler tcp://host:8786``; its
workers need this package installed and the output directories on a shared file system), and
yields each task's result, or the exception that ended it (a lost worker included), as the
tasks finish. With ``jobs = 1`` and no scheduler the tasks run in this process, in order.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Iterator

from .errors import LutcoreError

__all__ = ["run_tasks", "CONNECT_TIMEOUT"]

#: How long to try to reach a scheduler (a Dask duration).
CONNECT_TIMEOUT = "20s"


def run_tasks(tasks: Iterable[tuple[Any, Callable, tuple]], jobs: int = 1,
              scheduler: str | None = None) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Run each ``(key, fn, args)``; yield ``(key, result, None)`` or ``(key, None, error)``
    in the order the tasks finish."""
    tasks = list(tasks)
    if jobs <= 1 and scheduler is None:
        for key, fn, args in tasks:
            yield key, fn(*args), None
        return
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise LutcoreError("parallel jobs need Dask: pip install dask distributed (or run "
                           "with --jobs 1)") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        else:
            # Not daemonic: a task may start processes of its own (the FPGA flow does). The
            # scheduler's HTTP server on a free loopback port, not on 8787 of every interface.
            with dask.config.set({"distributed.worker.daemon": False}):
                cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError, ValueError) as e:
        where = f"--scheduler {scheduler}" if scheduler else "a local Dask cluster"
        raise LutcoreError(f"{where}: cannot connect: {' '.join(str(e).split())}") from None
    try:
        futures = {client.submit(fn, *args, pure=False): key for key, fn, args in tasks}
        for fut in as_completed(futures):
            try:
                yield futures[fut], fut.result(), None
            except Exception as e:      # noqa: BLE001 - the task's own failure, reported
                yield futures[fut], None, e
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
