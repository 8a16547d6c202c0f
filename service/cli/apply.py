"""``tradewinds apply FILE|DIR`` and ``tradewinds get scenario ID``: scenarios kept as
files (in git, reviewed like code), applied to a running service or the local
store the way ``kubectl apply`` applies manifests.

``apply`` reads every file first, checks each definition as a PUT would check it
(against the stored version, for the opening time), and stops before anything is
stored if one is wrong. Without ``--yes`` it only shows, per scenario, whether it
is new, unchanged or what changes; with ``--yes`` it stores a new version of each
scenario that changed (the PUT's command), so applying the same files again
stores nothing.
"""

import argparse
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

from domain.errors import FieldError, InvalidInput
from domain.scenarios import SLUG_PATTERN, check_definition
from service.bootstrap import bootstrap
from service.cli.scenariodiff import INDENT, diff, render
from service.cli.scenariofiles import (
    InvalidFile,
    ScenarioFile,
    read_scenario_file,
    scenario_paths,
    scenario_text,
)
from service.cli.scenariostores import (
    HttpScenarios,
    LocalScenarios,
    Refused,
    Scenarios,
    Stored,
)
from service.settings import settings_from_env

KEY_VARIABLE = "TRADEWINDS_API_KEY"
PENDING = 1
FAILED = 2
APPLY_EPILOG = f"""\
Each file holds one scenario: the body of PUT /v1/scenarios/ID plus its "id"
(.yaml, .yml or .json; tradewinds get scenario ID -o yaml writes one).
A DIR means every such file directly in it, in name order.

Exit status, as kubectl diff: 0 nothing to change (with --yes: all applied);
{PENDING} changes pending (without --yes); {FAILED} a file is invalid, or the service or
store refused: nothing from an invalid set of files is applied."""
SOURCE_HELP = f"""\
Without --url: the local store (--data-dir, else $TRADEWINDS_DATA_DIR, else
./data; or $TRADEWINDS_DATABASE_URL). With --url: the service there, with the
key of --key or ${KEY_VARIABLE} (apply --yes needs an admin key; a dry run
and get, a read key)."""
APPLY_DESCRIPTION = """\
Apply scenario files to a running service or the local store, as kubectl apply
does manifests. Every file is read and checked as a PUT checks its body before
anything is stored; one invalid file and nothing is applied. Without --yes,
only show per scenario: new, unchanged, or the diff (fields old -> new; rules
added, removed, changed, with their Bayes factors). With --yes, store a new
version of each changed scenario; applying the same files again stores
nothing."""


def add_commands(commands: Any) -> None:
    """Register ``apply`` and ``get`` with the ``tradewinds`` subcommands."""
    apply = commands.add_parser(
        "apply",
        help="apply scenario files (YAML/JSON): a diff, then --yes stores them",
        description=APPLY_DESCRIPTION,
        epilog=APPLY_EPILOG + "\n\n" + SOURCE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.add_argument(
        "target", metavar="FILE|DIR", type=Path, help="a scenario file or a directory"
    )
    apply.add_argument(
        "--yes", action="store_true", help="store the changes (default: only show them)"
    )
    _source_arguments(apply)
    apply.set_defaults(handler=cmd_apply)

    get = commands.add_parser(
        "get",
        help="write a scenario's current version as a file apply reads",
        epilog=SOURCE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get.add_argument("what", choices=["scenario"], help="what to get")
    get.add_argument("id", metavar="ID", help="the scenario's id")
    get.add_argument(
        "-o", "--output", choices=["yaml", "json"], default="yaml", help="format (default yaml)"
    )
    _source_arguments(get)
    get.set_defaults(handler=cmd_get)


def _source_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8000")
    command.add_argument("--key", help=f"its API key (default: ${KEY_VARIABLE})")
    command.add_argument("--data-dir", type=Path, help="the local store's directory")


@contextmanager
def scenarios_at(args: argparse.Namespace) -> Iterator[Scenarios]:
    """The scenarios of the service at ``--url``, else of the local store."""
    if args.url:
        key = args.key or os.environ.get(KEY_VARIABLE)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        with httpx.Client(base_url=args.url, headers=headers, timeout=30) as client:
            yield HttpScenarios(client)
        return
    settings = settings_from_env()
    if args.data_dir is not None:
        settings = msgspec.structs.replace(settings, data_dir=args.data_dir)
    with bootstrap(settings, background=False) as tradewinds:
        yield LocalScenarios(tradewinds)


@dataclass(frozen=True)
class Plan:
    file: ScenarioFile
    stored: Stored | None

    @property
    def unchanged(self) -> bool:
        return self.stored is not None and self.stored.definition == self.file.definition


def cmd_apply(args: argparse.Namespace) -> int:
    if args.key and not args.url:
        return _fail("--key goes with --url (the local store needs no key)")
    if not args.target.exists():
        return _fail(f"{args.target}: no such file or directory")
    paths = scenario_paths(args.target)
    if not paths:
        return _fail(f"{args.target}: no .yaml, .yml or .json files in it")
    width = terminal_width()
    files, invalid = read_files(paths)
    try:
        with scenarios_at(args) as scenarios:
            plans = [Plan(f, scenarios.current(f.id)) for f in files]
            invalid.extend(checked(plans))
            if invalid:
                _print_invalid(invalid, width)
                return FAILED
            for plan in plans:
                print("\n".join(plan_lines(plan, width)))
            pending = [plan for plan in plans if not plan.unchanged]
            if not args.yes:
                print(_dry_summary(len(pending), len(plans)))
                return PENDING if pending else 0
            return _apply(scenarios, pending, len(plans))
    except Refused as e:
        _print_refusal(e, width)
        return FAILED


def read_files(paths: list[Path]) -> tuple[list[ScenarioFile], list[InvalidFile]]:
    """Every readable file, and the problems of the others (an id in two files too)."""
    files: list[ScenarioFile] = []
    invalid: list[InvalidFile] = []
    first: dict[str, Path] = {}
    for path in paths:
        try:
            found = read_scenario_file(path)
        except InvalidFile as e:
            invalid.append(e)
            continue
        if found.id in first:
            msg = f"`{found.id}` is also the id in {first[found.id]}: one file per scenario"
            invalid.append(InvalidFile(path, [FieldError("id", msg)]))
            continue
        first[found.id] = path
        files.append(found)
    return files, invalid


def checked(plans: list[Plan]) -> list[InvalidFile]:
    """The checks of a PUT beyond the body's types (the deadline after the opening
    time, the rules' fields for their kinds), for each definition that would be stored."""
    invalid = []
    for plan in plans:
        if plan.unchanged:
            continue
        opened = None if plan.stored is None else plan.stored.first_recorded_at
        try:
            check_definition(plan.file.definition, opened)
        except InvalidInput as e:
            invalid.append(InvalidFile(plan.file.path, e.errors))
    return invalid


def plan_lines(plan: Plan, width: int) -> list[str]:
    """The scenario's heading and, when something changes, what."""
    name = f"{plan.file.id} ({plan.file.path})"
    if plan.stored is None:
        count = len(plan.file.definition.rules)
        state = f"new, {count} rule{'' if count == 1 else 's'}"
    elif plan.unchanged:
        state = f"unchanged (version {plan.stored.version})"
    else:
        state = f"changed (version {plan.stored.version} -> {plan.stored.version + 1})"
    heading = textwrap.wrap(
        f"{name}: {state}",
        width,
        subsequent_indent=INDENT * 2,
        break_long_words=False,
        break_on_hyphens=False,
    )
    if plan.unchanged:
        return heading
    found = diff(None if plan.stored is None else plan.stored.definition, plan.file.definition)
    return heading + render(found, width)


def _apply(scenarios: Scenarios, pending: list[Plan], total: int) -> int:
    done = 0
    for plan in pending:
        try:
            applied = scenarios.define(plan.file.id, plan.file.definition)
        except Refused as e:
            e.detail = f"{plan.file.id} ({plan.file.path}): {e.detail}"
            if done:
                e.detail += f" ({done} scenarios applied before it, the others not)"
            raise
        what = "created" if applied.created else "revised"
        print(f"{plan.file.id}: {what}, version {applied.version} stored")
        done += 1
    print(f"applied: {done} stored, {total - done} unchanged")
    return 0


def _dry_summary(pending: int, total: int) -> str:
    if not pending:
        return f"nothing to change ({total} unchanged)"
    return f"{pending} of {total} scenarios would change: apply them with --yes"


def cmd_get(args: argparse.Namespace) -> int:
    if args.key and not args.url:
        return _fail("--key goes with --url (the local store needs no key)")
    if not re.match(SLUG_PATTERN, args.id):
        return _fail(f"{args.id!r} is not a scenario id (lowercase letters, digits, hyphens)")
    try:
        with scenarios_at(args) as scenarios:
            stored = scenarios.current(args.id)
    except Refused as e:
        _print_refusal(e, terminal_width())
        return FAILED
    if stored is None:
        return _fail(f"no scenario {args.id}")
    sys.stdout.write(scenario_text(args.id, stored.definition, args.output))
    return 0


def terminal_width() -> int:
    """The terminal's columns ($COLUMNS, else 80 when not a terminal), 40 at least."""
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def _print_invalid(invalid: list[InvalidFile], width: int) -> None:
    for problem in invalid:
        print(f"invalid: {problem.path}", file=sys.stderr)
        for error in problem.errors:
            _print_wrapped(f"{error.field}: {error.message}", width)
    print("nothing applied: correct these files and apply again", file=sys.stderr)


def _print_refusal(refused: Refused, width: int) -> None:
    _print_wrapped(f"refused: {refused.detail}", width, indent="")
    for error in refused.errors:
        _print_wrapped(f"{error.field}: {error.message}", width)


def _print_wrapped(text: str, width: int, indent: str = INDENT) -> None:
    lines = textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=indent * 2 or INDENT
    )
    print("\n".join(lines), file=sys.stderr)


def _fail(message: str) -> int:
    print(f"tradewinds: {message}", file=sys.stderr)
    return FAILED
