"""The worker process that computes backtests' numbers, so a long backtest never
holds the service's interpreter."""

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
WORKER_NICENESS = 10
"""The worker process's nice value: on a busy machine the API's process gets the CPU first."""


def _lower_priority() -> None:
    os.nice(WORKER_NICENESS)


class WorkerProcess:
    """One worker process for the numbers, started when first needed. ``terminate``
    ends it at once (its running task too): what Python 3.14 names
    ``ProcessPoolExecutor.terminate_workers``, done here through the pool's processes."""

    def __init__(self, start_method: str = "spawn") -> None:
        self._context = multiprocessing.get_context(start_method)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        with self._lock:
            if self._closed:
                msg = "the worker process is stopped"
                raise RuntimeError(msg)
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=1, mp_context=self._context, initializer=_lower_priority
                )
            return self._executor.submit(fn, *args)

    def discard(self) -> None:
        """Forget a broken pool: the next task starts a new process."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def terminate(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)
