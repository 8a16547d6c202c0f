"""``tradewinds apply`` and ``tradewinds get scenario`` on the local store: the diff
(fields, rules added / removed / changed with their Bayes factors) at 80 columns,
the dry run that stores nothing, apply, the idempotent second apply, invalid
files named with their fields, and the get -> apply round trip."""

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from service.bootstrap import bootstrap
from service.cli.main import main
from service.settings import Settings
from tests.support.stores import Store

Json = dict[str, Any]
LONG_QUESTION = (
    "Will the United States add at least one more Chinese chipmaker to the Entity List "
    "before the deadline, as announced in the Federal Register?"
)


def rule(name: str, bayes_factor: float, label: str = "test", **more: Any) -> Json:
    match = {"kind": "signal", "where": {"label": label}}
    return {"name": name, "match": match, "bayes_factor": bayes_factor, **more}


def scenario(slug: str = "us-chips", **changes: Any) -> Json:
    body: Json = {
        "id": slug,
        "title": "More chipmakers listed",
        "question": "Will another chipmaker be listed?",
        "opens_at": "2025-01-01T00:00:00Z",
        "deadline": "2027-01-01T00:00:00Z",
        "prior": 0.2,
        "rules": [rule("listing", 2), rule("denial", 0.5, "deny"), rule("rumour", 3, "rumour")],
    }
    return {**body, **changes}


def write(path: Path, body: Json) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(body))
    else:
        path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


class Cli:
    """``tradewinds`` in this process, on one local store, at 80 columns."""

    def __init__(self, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
        self.settings = settings
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main([*args, "--data-dir", str(self.settings.data_dir)])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def head(self) -> int:
        with bootstrap(self.settings, background=False) as tradewinds:
            return tradewinds.eventlog.head()


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TRADEWINDS_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return Cli(Settings(data_dir=tmp_path / "data"), capsys)


def test_a_dry_run_shows_a_new_scenario_with_its_rules_and_stores_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    path = write(Path("scenarios") / "us-chips.yaml", scenario())
    code, out, _ = cli("apply", str(path))
    assert code == 1, "changes pending: exit 1, as kubectl diff"
    lines = out.splitlines()
    assert lines[0] == f"us-chips ({path}): new, 3 rules"
    assert "    + listing: bayes_factor 2" in lines
    assert "    + denial: bayes_factor 0.5" in lines
    assert "1 of 1 scenarios would change: apply them with --yes" in lines
    assert cli.head() == 0
    assert cli("get", "scenario", "us-chips")[0] == 2


def test_apply_stores_version_1_and_applying_again_stores_nothing(
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    if store.url is not None:
        monkeypatch.setenv("TRADEWINDS_DATABASE_URL", store.url)
    cli = Cli(store.settings(tmp_path / "data"), capsys)
    folder = Path("scenarios")
    write(folder / "a-first.yaml", scenario("a-first"))
    write(folder / "b-second.json", scenario("b-second", prior=0.4))
    (folder / "notes.txt").write_text("not a scenario")

    code, out, _ = cli("apply", str(folder), "--yes")
    assert code == 0
    assert "a-first: created, version 1 stored" in out
    assert "b-second: created, version 1 stored" in out
    head = cli.head()
    assert head == 2

    code, out, _ = cli("apply", str(folder), "--yes")
    assert code == 0
    assert f"a-first ({folder / 'a-first.yaml'}): unchanged (version 1)" in out
    assert f"b-second ({folder / 'b-second.json'}): unchanged (version 1)" in out
    assert "applied: 0 stored, 2 unchanged" in out
    assert cli.head() == head, "a second apply must store nothing"
    code, out, _ = cli("apply", str(folder))
    assert (code, out.splitlines()[-1]) == (0, "nothing to change (2 unchanged)")


def test_the_diff_shows_fields_and_rules_added_removed_changed_with_their_bayes_factors(
    cli: Cli, tmp_path: Path
) -> None:
    path = write(Path("us-chips.yaml"), scenario())
    assert cli("apply", str(path), "--yes")[0] == 0
    revised = scenario(
        prior=0.3,
        question=LONG_QUESTION,
        tags=["chips"],
        rules=[
            rule("rumour", 3, "rumour-of-a-listing"),
            rule("listing", 4, uncertainty=0.5),
            rule("federal-register", 5, "fr"),
        ],
    )
    write(path, revised)
    code, out, _ = cli("apply", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"us-chips ({path}): changed (version 1 -> 2)"
    assert "  prior: 0.2 -> 0.3" in lines
    assert '  tags: [] -> ["chips"]' in lines
    question = lines.index("  question:")
    assert lines[question + 1] == '    - "Will another chipmaker be listed?"'
    assert lines[question + 2].startswith('    + "Will the United States add')
    rules = lines[lines.index("  rules:") + 1 :]
    assert rules[:8] == [
        "    ~ rumour: bayes_factor 3 (unchanged)",
        "        match:",
        '          - {"kind": "signal", "where": {"label": "rumour"}}',
        '          + {"kind": "signal", "where": {"label": "rumour-of-a-listing"}}',
        "    ~ listing: bayes_factor 2 -> 4",
        "        uncertainty: 0.35 -> 0.5",
        "    + federal-register: bayes_factor 5",
        "    - denial: bayes_factor 0.5",
    ]
    assert rules[8] == "    order: listing, rumour -> rumour, listing"
    assert max(len(line) for line in lines) <= 80
    assert len([line for line in lines if "Will the United States" in line]) == 1
    assert cli.head() == 1, "a dry run stores nothing"

    code, out, _ = cli("apply", str(path), "--yes")
    assert code == 0
    assert "us-chips: revised, version 2 stored" in out
    code, out, _ = cli("get", "scenario", "us-chips", "-o", "json")
    stored = json.loads(out)
    assert [r["name"] for r in stored["rules"]] == ["rumour", "listing", "federal-register"]
    assert stored["rules"][1]["bayes_factor"] == 4
    assert cli("apply", str(path), "--yes")[1].splitlines()[0].endswith("unchanged (version 2)")


def test_a_long_value_is_wrapped_at_the_terminal_width(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(Path("us-chips.json"), scenario())
    cli("apply", str(path), "--yes")
    reasoning = "A listing is announced in the Federal Register; " * 6
    write(path, scenario(rules=[rule("listing", 2, reasoning=reasoning), *scenario()["rules"][1:]]))
    for columns in (80, 60):
        monkeypatch.setenv("COLUMNS", str(columns))
        lines = cli("apply", str(path))[1].splitlines()
        assert max(len(line) for line in lines) <= columns
        start = lines.index("        reasoning:")
        assert lines[start + 1] == "          - (none)"
        shown = " ".join(line.strip() for line in lines[start + 2 : -1])
        assert shown == "+ " + json.dumps(reasoning)


def test_invalid_files_are_named_with_their_fields_and_nothing_is_applied(
    cli: Cli, tmp_path: Path
) -> None:
    folder = Path("scenarios")
    write(folder / "a-good.yaml", scenario("a-good"))
    write(folder / "b-prior.yaml", scenario("b-prior", prior=1.5))
    bad_field = scenario("c-field", rules=[rule("r", 2)])
    bad_field["rules"][0]["match"]["where"] = {"lable": "test"}
    write(folder / "c-field.json", bad_field)
    write(folder / "d-deadline.yaml", scenario("d-deadline", deadline="2024-01-01T00:00:00Z"))
    write(folder / "e-id.yaml", scenario("E id"))
    (folder / "f-broken.yaml").write_text("id: f-broken\ntitle: [unclosed\n")

    code, out, err = cli("apply", str(folder), "--yes")
    assert code == 2
    assert out == ""
    assert f"invalid: {folder / 'b-prior.yaml'}\n  prior: must be a number at most" in err
    assert f"invalid: {folder / 'c-field.json'}\n  rules[0].match.where.lable:" in err
    assert "kind `signal` has no field `lable`; did you mean `label`?" in " ".join(err.split())
    assert f"invalid: {folder / 'd-deadline.yaml'}\n  deadline: must be after opens_at" in err
    assert f"invalid: {folder / 'e-id.yaml'}\n  id: must be 3 to 80 characters" in err
    assert f"invalid: {folder / 'f-broken.yaml'}\n  (file): is not valid YAML" in err
    assert "nothing applied" in err
    assert f"invalid: {folder / 'a-good.yaml'}" not in err
    assert cli.head() == 0, "one invalid file: nothing is applied"


def test_a_missing_id_and_an_id_in_two_files_are_invalid(cli: Cli, tmp_path: Path) -> None:
    folder = Path("scenarios")
    without = scenario()
    del without["id"]
    write(folder / "a.yaml", without)
    write(folder / "b.yaml", scenario("twice"))
    write(folder / "c.json", scenario("twice"))
    code, _, err = cli("apply", str(folder))
    assert code == 2
    assert f"invalid: {folder / 'a.yaml'}\n  id: the file requires the field `id`" in err
    assert (
        f"invalid: {folder / 'c.json'}\n  id: `twice` is also the id in {folder / 'b.yaml'}" in err
    )
    assert cli.head() == 0


def test_yaml_reads_exponents_as_numbers_and_refuses_a_repeated_key(
    cli: Cli, tmp_path: Path
) -> None:
    text = yaml.safe_dump(scenario(), sort_keys=False).replace(
        "bayes_factor: 2\n", "bayes_factor: 1e-3\n", 1
    )
    path = Path("us-chips.yaml")
    path.write_text(text)
    code, out, _ = cli("apply", str(path), "--yes")
    assert code == 0, out
    assert "    + listing: bayes_factor 0.001" in out
    path.write_text(text + "prior: 0.9\n")
    code, _, err = cli("apply", str(path))
    assert code == 2
    assert "the key `prior` is repeated in one mapping" in err


def test_get_writes_a_file_that_apply_finds_unchanged(cli: Cli, tmp_path: Path) -> None:
    full = scenario(
        timing="uniform",
        timing_shape=2.5,
        prior_strength=20,
        tags=["chips", "entity-list"],
        rules=[
            rule("listing", 2e-3, half_life_days=1 / 24, repeat_discount=0.5, group="g"),
            {
                "name": "any",
                "match": {"kind": ["signal"], "where": {"tags": {"in": ["a"]}}},
                "bayes_factor": 1e6,
                "reasoning": "ünïcode",
            },
        ],
    )
    write(Path("first.json"), full)
    assert cli("apply", str(Path("first.json")), "--yes")[0] == 0
    for form in ("yaml", "json"):
        code, text, _ = cli("get", "scenario", "us-chips", "-o", form)
        assert code == 0
        out = Path("out") / f"us-chips.{form}"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        read = yaml.safe_load(text) if form == "yaml" else json.loads(text)
        assert next(iter(read)) == "id"
        code, shown, _ = cli("apply", str(out))
        assert (code, shown.splitlines()[0]) == (0, f"us-chips ({out}): unchanged (version 1)")
    assert cli.head() == 1


def test_apply_help_documents_the_exit_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["apply", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0 nothing to change" in text
    assert "1 changes pending (without --yes)" in text
    assert "2 a file is invalid" in text


def test_the_stored_definition_decodes_as_the_file_sent(cli: Cli, tmp_path: Path) -> None:
    path = write(Path("us-chips.yaml"), scenario(deadline="2027-01-01T08:00:00+08:00"))
    cli("apply", str(path), "--yes")
    out = cli("get", "scenario", "us-chips", "-o", "json")[1]
    assert msgspec.json.decode(out)["deadline"] == "2027-01-01T00:00:00Z"
    assert cli("apply", str(path))[0] == 0, "the same instant in another offset is unchanged"
