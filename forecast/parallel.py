"""Running independent tasks serially or through Dask, with results that do not depend on scheduling.

Each task is a pure function call whose randomness comes from a seed derived from the task's keys
(:func:`forecast.forecasters.derive_seed`), so the serial run, a local Dask cluster and a remote
scheduler give identical results (``tests/forecast/test_backtest.py`` checks serial == Dask).

``scheduler``:

* ``"serial"`` (or ``None``): a plain loop in this process;
* ``"local"``: a ``dask.distributed.LocalCluster`` started for the run (``n_workers`` processes,
  one thread each) and closed afterwards;
* any other string: the address of an existing scheduler (``tcp://host:8786``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pakcast.forecast.forecasters import derive_seed

__all__ = ["run_tasks", "derive_seed", "default_workers"]


def default_workers() -> int:
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, n)


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[dict],
    scheduler: str | None = "serial",
    n_workers: int | None = None,
    shared: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """Run ``fn(**shared, **task)`` for each task; results in task order.

    ``shared`` holds large arguments common to every task (scattered once to Dask workers).
    ``progress(done, total)`` is called as tasks finish.
    """
    shared = shared or {}
    total = len(tasks)
    if scheduler in (None, "serial"):
        out = []
        for i, t in enumerate(tasks):
            out.append(fn(**shared, **t))
            if progress:
                progress(i + 1, total)
        return out

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler == "local":
        # worker logs are silenced: task errors still propagate through fut.result(), and a loaded
        # machine otherwise prints heartbeat noise while the cluster shuts down
        cluster = LocalCluster(n_workers=n_workers or default_workers(), threads_per_worker=1,
                               processes=True, dashboard_address=None, silence_logs=logging.CRITICAL)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        scattered = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
        futures = [client.submit(fn, **scattered, **t, pure=False) for t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * total
        done = 0
        for fut in as_completed(futures):
            results[index[fut.key]] = fut.result()
            done += 1
            if progress:
                progress(done, total)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
