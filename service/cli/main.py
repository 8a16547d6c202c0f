"""The ``tradewinds`` command: serve, import, export, replay, backtest, apply, get."""

import argparse
import gc
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx
import msgspec
from rich.console import Console
from rich.progress import Progress

from domain.backtests import KNOWLEDGE, BacktestRequest, check_request
from domain.errors import InvalidInput
from service.access import InvalidKeys
from service.bootstrap import bootstrap
from service.cli import apply, calibrate
from service.cli.serving import is_loopback, serve
from service.cli.tables import reading, scores_table
from service.commands.exchange import (
    ImportFailed,
    ImportReport,
    export_entries,
    import_entries,
    read_jsonl,
    write_jsonl,
)
from service.demo import HistoryReport, import_history, timeline_lines
from service.jsonlog import configure_json_logs
from service.persistence.eventlog import utc_now
from service.queries import replay
from service.settings import InvalidSetting, Settings, settings_from_env
from service.web.app import create_app
from service.workers.backtestinputs import evaluate

logger = logging.getLogger("tradewinds")
DATA_DIR_HELP = "where the SQLite store lives (default: $TRADEWINDS_DATA_DIR, else ./data)"


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_env()
    overrides = {
        name: getattr(args, name)
        for name in ("data_dir", "host", "port")
        if getattr(args, name, None) is not None
    }
    return msgspec.structs.replace(settings, **overrides)


def import_lines(settings: Settings, lines: Iterable[bytes]) -> ImportReport:
    with bootstrap(settings, background=False) as tradewinds:
        return import_entries(tradewinds.eventlog, read_jsonl(lines), utc_now)


def demo_lines() -> list[bytes]:
    """The demo's current timeline (without the history)."""
    return timeline_lines()


def load_history(settings: Settings) -> HistoryReport:
    with bootstrap(settings, background=False) as tradewinds:
        return import_history(tradewinds.eventlog, utc_now)


def load_demo(settings: Settings) -> tuple[HistoryReport, ImportReport]:
    """The real history first (its reconstructed ``recorded_at`` are the earliest),
    then the current timeline, recorded now: a fresh store's log stays in time order."""
    with bootstrap(settings, background=False) as tradewinds:
        history = import_history(tradewinds.eventlog, utc_now)
        timeline = import_entries(tradewinds.eventlog, read_jsonl(timeline_lines()), utc_now)
    return history, timeline


def history_note(history: HistoryReport) -> str | None:
    """What to know about the times of the history just added (None if nothing was)."""
    if not history.report.added:
        return None
    if history.reconstructed:
        return (
            "the history keeps its reconstructed recorded_at (each question recorded at "
            "opens_at, each event when it became public, each outcome at resolved_at)"
        )
    return (
        "the store already held later records, so the history is recorded now: "
        "backtests and calibration use it, but its track record (as served) is empty; "
        "import it into an empty store first to keep its reconstructed times"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = msgspec.structs.replace(_settings(args), freeze_after_catch_up=True)
    configure_json_logs()
    if not settings.api_keys:
        if not is_loopback(settings.host):
            logger.error(
                "refusing to listen on %s without API keys: set TRADEWINDS_API_KEYS or "
                "TRADEWINDS_API_KEYS_FILE, or listen on loopback (127.0.0.1)",
                settings.host,
            )
            return 2
        logger.warning(
            "no API keys configured: every route is open, so the service listens on "
            "loopback (%s) only",
            settings.host,
        )
    else:
        logger.info("%d API keys configured", len(settings.api_keys))
    # The index holds every event; default thresholds made full collections walk it
    # every few batches (a third of a batch's time, and most of the p99).
    gc.set_threshold(50_000, 20, 20)
    if args.demo:
        history, timeline = load_demo(settings)
        logger.info(
            "real history: %d records added, %d already there",
            history.report.added,
            history.report.skipped,
        )
        note = history_note(history)
        if note:
            logger.info("real history: %s", note)
        logger.info(
            "demo timeline: %d records added, %d already there", timeline.added, timeline.skipped
        )
    serve(create_app(settings), settings)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if (args.file is None) == (not args.history):
        print("tradewinds import: give a FILE or --history (not both)", file=sys.stderr)
        return 2
    settings = _settings(args)
    if args.history:
        history = load_history(settings)
        print(f"real history: {history.report.added} records added, "
              f"{history.report.skipped} already there")  # fmt: skip
        note = history_note(history)
        if note:
            print(note)
        return 0
    try:
        with Path(args.file).open("rb") as f:
            report = import_lines(settings, f)
    except ImportFailed as e:
        print(f"import failed at {e}; nothing from that chunk was stored", file=sys.stderr)
        return 1
    print(f"{report.added} records added, {report.skipped} already there")
    if report.alerts_without_secret:
        print(
            f"WARNING: {len(report.alerts_without_secret)} alerts NOT imported, exported "
            f"without their webhook secret: {', '.join(report.alerts_without_secret)}. "
            "Define them again with a secret (PUT /v1/alerts/ID), or import an export "
            "made with --with-secrets.",
            file=sys.stderr,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with bootstrap(settings, background=False) as tradewinds:
        entries = export_entries(tradewinds.eventlog, with_secrets=args.with_secrets)
        if args.output in (None, "-"):
            count = write_jsonl(entries, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            with Path(args.output).open("wb") as out:
                count = write_jsonl(entries, out)
    print(f"{count} records exported", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not args.check:
        tradewinds, seconds = replay.rebuild(settings)
        tradewinds.stop()
        print(f"rebuilt in {seconds:.2f} s")
        return 0
    url = args.url or f"http://{settings.host}:{settings.port}"
    try:
        report = replay.check(settings, url)
    except httpx.HTTPError as e:
        print(f"cannot compare with the live service at {url}: {e}", file=sys.stderr)
        return 2
    print(
        f"replayed {report.records} records in {report.seconds:.2f} s "
        f"({report.rate:,.0f}/s); compared at position {report.position}"
    )
    for difference in report.differences:
        print(f"DIFFERENT: {difference}")
    if report.differences:
        return 1
    print("identical: every forecast rebuilt from scratch equals the live one")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    console = Console()
    try:
        request = backtest_request(args)
        check_request(request)
    except (msgspec.ValidationError, InvalidInput, OSError) as e:
        console.print(f"[red]invalid backtest:[/red] {e}")
        return 2
    with bootstrap(settings, background=False) as tradewinds:
        eventlog = tradewinds.eventlog
        while not eventlog.catch_up(60):
            pass
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("backtest", total=1.0)
            scores = evaluate(
                eventlog.index,
                request,
                eventlog.head_time(),
                lambda fraction: bar.update(task, completed=fraction),
                calibration=(settings.calibration_lambda, settings.calibration_min_scenarios),
            )
    console.print(scores_table(scores))
    words = reading(scores, console.width)
    if words:
        console.print(words, markup=False, highlight=False, soft_wrap=True)
    if args.json:
        Path(args.json).write_bytes(msgspec.json.format(msgspec.json.encode(scores)))
        console.print(f"scores written to {args.json}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    console = Console()
    if not args.evaluate:
        console.print("nothing to do: use --evaluate")
        return 2
    lam, least = settings.calibration_lambda, settings.calibration_min_scenarios
    with bootstrap(settings, background=False) as tradewinds:
        eventlog = tradewinds.eventlog
        while not eventlog.catch_up(60):
            pass
        known = eventlog.head_time()
        training = calibrate.closed_training(eventlog.index, known)
        found = calibrate.evaluation(
            training, lam, least, calibrate.seed_for(eventlog.index, known)
        )
    for table in calibrate.tables(found):
        console.print(table)
    console.print(calibrate.summary(found), markup=False, highlight=False)
    words = calibrate.recalibration_words(found.recalibration, least)
    console.print(words, markup=False, highlight=False)
    return 0


def backtest_request(args: argparse.Namespace) -> BacktestRequest:
    rules = None
    if args.rules:
        rules = msgspec.json.decode(Path(args.rules).read_bytes())
    body = {"from": args.start, "to": args.stop, "step": args.step, "scenario_ids": args.scenario}
    if rules is not None:
        body["rules"] = rules
    if args.knowledge is not None:
        body["knowledge"] = args.knowledge
    if args.calibrated:
        body["calibrated"] = True
    return msgspec.convert({k: v for k, v in body.items() if v is not None}, BacktestRequest)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tradewinds", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the real history (2018-25) and the example timeline first",
    )
    serve.set_defaults(handler=cmd_serve)

    load = commands.add_parser(
        "import",
        help="append a JSON Lines log to the store",
        description="Append a JSON Lines log (an export) to the store; entries already "
        "there are skipped. --history adds the shipped real history instead: 37 "
        "resolved US-China questions of 2018-25 with their events.",
    )
    load.add_argument("file", nargs="?", help="the JSON Lines file")
    load.add_argument(
        "--history",
        action="store_true",
        help="add the shipped real history (2018-25) instead of a file",
    )
    load.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    load.set_defaults(handler=cmd_import)

    dump = commands.add_parser(
        "export",
        help="write the whole log as JSON Lines",
        description="Write the whole log as JSON Lines: events, retractions, scenario "
        "versions, resolutions, Idempotency-Keys and alert definitions (not webhook "
        "deliveries). Alerts are written without their webhook secret unless "
        "--with-secrets is given; an alert without its secret is not imported.",
    )
    dump.add_argument("-o", "--output", help="file to write (default: standard output)")
    dump.add_argument(
        "--with-secrets",
        action="store_true",
        help="include each alert's webhook secret (keep such a file as secret as the store)",
    )
    dump.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    dump.set_defaults(handler=cmd_export)
    score = commands.add_parser("backtest", help="score the forecasts over history (local store)")
    score.add_argument("--from", dest="start", required=True, help="first sample time (RFC 3339)")
    score.add_argument("--to", dest="stop", required=True, help="last sample time (RFC 3339)")
    score.add_argument("--step", default="P1D", help="ISO 8601 duration (default P1D)")
    score.add_argument("--scenario", action="append", help="score only this scenario (repeat)")
    score.add_argument("--rules", help="JSON file {scenario_id: [rule, ...]}: what-if rules")
    score.add_argument(
        "--knowledge",
        choices=KNOWLEDGE,
        help="hindsight (default): the log as it stands; as_served: what was served at "
        "each sample time (the track record)",
    )
    score.add_argument("--json", help="also write the scores to this JSON file")
    score.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    score.add_argument(
        "--calibrated",
        action="store_true",
        help="score the prequentially calibrated forecasts",
    )
    score.set_defaults(handler=cmd_backtest)
    learn = commands.add_parser(
        "calibrate", help="the calibration learnt from closed scenarios (local store)"
    )
    learn.add_argument(
        "--evaluate",
        action="store_true",
        help="leave-one-scenario-out evaluation of the suggested Bayes factors",
    )
    learn.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    learn.set_defaults(handler=cmd_calibrate)

    again = commands.add_parser(
        "replay", help="rebuild every forecast from an empty projection (--check: compare)"
    )
    again.add_argument("--check", action="store_true", help="compare with the live service")
    again.add_argument("--url", help="the live service (default: http://HOST:PORT)")
    again.add_argument("--host", help="host of the live service (default 127.0.0.1)")
    again.add_argument("--port", type=int, help="port of the live service (default 8000)")
    again.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    again.set_defaults(handler=cmd_replay)
    apply.add_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except InvalidKeys as e:
        print(f"invalid TRADEWINDS_API_KEYS: {e}", file=sys.stderr)
        return 2
    except InvalidSetting as e:
        print(f"invalid setting: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
