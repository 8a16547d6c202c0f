"""CPU time per stage of the write path, measured inside a real ``tradewinds serve``.

``install()`` runs in the server's interpreter before the service starts (the
breakdown puts a ``sitecustomize`` on the server's ``PYTHONPATH`` that calls it):
it wraps the write path's functions, without changing what they do, so that each
call adds the CPU time of its own thread (``time.thread_time``) to its stage.
Nested stages are inclusive (a stage's time includes the stages it calls).
``SIGUSR1`` zeroes the counters (after the warm-up), ``SIGUSR2`` writes them as
JSON to ``$TRADEWINDS_STAGE_LOG``: ``{stage: [calls, cpu seconds]}``.

Coroutines are timed from their first step to their end on the event loop's
thread: with one client and one request at a time, the loop's CPU meanwhile is
that request's (for ``commit``: the loop's side of the hand-off to the writer and
back). The wrappers cost about 1 us per call, counted in the caller's stage.
"""

import functools
import importlib
import inspect
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

# (stage, module, attribute path): in the order they are shown.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("loop: litestar, middleware, handler, response", "service.web.observe", "Observe.handle"),
    ("loop: body checks (strict decode, repeated keys)", "service.web.bodies", "strict_json_body"),
    ("loop:   of which repeated-key scan", "service.web.bodies", "_check_unique_keys"),
    ("loop: handler, append_events", "service.commands.events", "append_events"),
    ("loop:   future check", "service.commands.events", "check_not_future"),
    ("loop:   ids (idempotency)", "service.commands.events", "assign_ids"),
    ("loop:   canonical bodies", "service.commands.events", "event_body"),
    ("loop:   canonical bodies, together", "service.commands.events", "event_bodies"),
    ("loop:   submit, await the commit", "service.commands.events", "commit"),
    ("loop:   thread hand-offs (anyio to_thread)", "anyio.to_thread", "run_sync"),
    (
        "loop: litestar: kwargs, lax decode",
        "litestar._kwargs.kwargs_model",
        "KwargsModel.to_kwargs",
    ),
    (
        "loop: litestar: API-key middleware and inner",
        "service.web.authorize",
        "Authorize.handle",
    ),
    (
        "loop: litestar: route, all of it",
        "litestar.routes.http",
        "HTTPRoute.handle",
    ),
    (
        "loop: litestar: signature model (lax decode of the body)",
        "litestar._signature.model",
        "SignatureModel.parse_values_from_connection_kwargs",
    ),
    (
        "loop: litestar: dependencies",
        "litestar._kwargs.kwargs_model",
        "KwargsModel.resolve_dependencies",
    ),
    (
        "loop: litestar: handler result to response",
        "litestar.handlers.http_handlers.base",
        "HTTPRouteHandler.to_response",
    ),
    ("loop: metrics", "service.web.metrics", "Metrics.observe_request"),
    ("loop: response (litestar Response)", "litestar.response.base", "Response.to_asgi_response"),
    (
        "writer: one commit, all of it",
        "service.persistence.committer",
        "GroupCommitter._commit_group",
    ),
    (
        "writer:   commit lock: head read",
        "service.persistence.sqlitestore",
        "NotifyingSQLiteRecorder.max_notification_id",
    ),
    ("writer:   commit lock: flock", "fcntl", "flock"),
    (
        "writer:   under the commit lock",
        "service.persistence.committer",
        "GroupCommitter._commit_locked",
    ),
    (
        "writer:     recorded_at (commit clock)",
        "service.persistence.commitclock",
        "CommitClock.stamp",
    ),
    ("writer:     build aggregates", "domain.records", "EventRecord.record"),
    ("writer:     transcode", "eventsourcing.persistence", "Mapper.to_stored_event"),
    ("writer:     transcode (in one pass)", "service.persistence.committer", "stored_events"),
    (
        "writer:     store put (transcode, insert, commit, recordings)",
        "service.persistence.committer",
        "GroupCommitter._put",
    ),
    (
        "writer:     insert_events (transaction, inserts, commit, wake)",
        "service.persistence.sqlitestore",
        "NotifyingSQLiteRecorder.insert_events",
    ),
    (
        "writer:     SQL inserts (one executemany under the lock)",
        "service.persistence.sqlitestore",
        "NotifyingSQLiteRecorder._insert_events",
    ),
    (
        "writer:       per row (one execute each)",
        "eventsourcing.sqlite",
        "SQLiteApplicationRecorder._insert_events",
    ),
    (
        "writer:       positions by key (the check failed)",
        "service.persistence.sqlitestore",
        "NotifyingSQLiteRecorder._positions_by_key",
    ),
    ("writer:     SQLite commit (WAL, fsync)", "eventsourcing.sqlite", "SQLiteConnection.commit"),
    ("writer:     wake the projection", "service.persistence.sqlitestore", "_Subscribers.wake"),
    ("writer:     recordings (answers)", "service.persistence.committer", "recordings"),
    ("writer:   answer the request (future)", "concurrent.futures", "Future.set_result"),
    (
        "writer:   hand-over (apply own commits)",
        "service.persistence.eventlog",
        "EventLog._hand_over",
    ),
    ("projection: catch up (read + apply)", "service.persistence.eventlog", "catch_up"),
    (
        "projection: runner, one record",
        "service.projection.logprojection",
        "LogProjection.process_event",
    ),
    ("projection:   index update", "service.projection.index", "LogIndex.add_events"),
    (
        "projection:   index update (columns: the hand-over's)",
        "service.projection.index",
        "LogIndex.add_columns",
    ),
    ("projection:   duplicates index", "service.projection.duplicates", "DuplicateIndex.extend"),
    (
        "projection:   duplicates index (one event)",
        "service.projection.duplicates",
        "DuplicateIndex.add_planned",
    ),
    ("worker: possible duplicates, all of it", "service.commands.events", "_name_duplicates"),
    ("worker:   wait for own position", "service.commands.events", "_await_applied"),
    ("worker:   look-alikes", "service.projection.duplicates", "DuplicateIndex.look_alikes"),
    (
        "worker:   look-alikes, found together",
        "service.projection.duplicates",
        "DuplicateIndex.all_look_alikes",
    ),
)

_lock = threading.Lock()
_counts: dict[str, list[float]] = {}


def _add(stage: str, seconds: float) -> None:
    with _lock:
        entry = _counts.setdefault(stage, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds


def _timed(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.thread_time
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return await fn(*args, **kwargs)
            finally:
                _add(stage, clock() - start)

        return timed_async

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(stage, clock() - start)

    return timed


def _wrap(stage: str, module_name: str, path: str) -> None:
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
        if owner is None:
            return
    raw = owner.__dict__.get(name) if isinstance(owner, type) else None
    if raw is None:
        raw = getattr(owner, name, None)
    if raw is None:
        return
    if isinstance(raw, classmethod):
        setattr(owner, name, classmethod(_timed(stage, raw.__func__)))
    elif isinstance(raw, staticmethod):
        setattr(owner, name, staticmethod(_timed(stage, raw.__func__)))
    else:
        setattr(owner, name, _timed(stage, raw))


def _reset(*_: object) -> None:
    with _lock:
        _counts.clear()


def _dump(*_: object) -> None:
    with _lock:
        found = dict(_counts)
    with open(os.environ["TRADEWINDS_STAGE_LOG"], "w") as out:
        json.dump(found, out)


def install() -> None:
    """Wrap every stage (before the service imports the functions by name)."""
    for stage, module_name, path in STAGES:
        _wrap(stage, module_name, path)
    signal.signal(signal.SIGUSR1, _reset)
    signal.signal(signal.SIGUSR2, _dump)
