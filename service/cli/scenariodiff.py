"""What a new scenario definition changes against the stored one, as lines of text
that fit a terminal's width: the fields changed (old -> new), and the rules added,
removed and changed, matched by name, each with its Bayes factor."""

import json
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from domain.scenarios import Rule, ScenarioDefinition

INDENT = "  "


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: object
    new: object


@dataclass(frozen=True)
class RuleChange:
    """``sign``: ``+`` added, ``-`` removed, ``~`` changed (``fields`` besides the
    Bayes factor, which ``old`` and ``new`` carry: None when absent)."""

    sign: str
    name: str
    old: float | None
    new: float | None
    fields: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class Diff:
    fields: list[FieldChange]
    rules: list[RuleChange]
    order: tuple[list[str], list[str]] | None
    """The order of the rules kept, before and after, when it changed."""

    @property
    def empty(self) -> bool:
        return not (self.fields or self.rules or self.order)


def diff(old: ScenarioDefinition | None, new: ScenarioDefinition) -> Diff:
    """The changes from ``old`` (None: a new scenario, every rule added) to ``new``."""
    if old is None:
        return Diff([], [RuleChange("+", r.name, None, r.bayes_factor) for r in new.rules], None)
    names = [n for n in msgspec.structs.fields(ScenarioDefinition) if n.name != "rules"]
    fields = [
        FieldChange(f.name, getattr(old, f.name), getattr(new, f.name))
        for f in names
        if getattr(old, f.name) != getattr(new, f.name)
    ]
    return Diff(fields, _rule_changes(old.rules, new.rules), _order(old.rules, new.rules))


def _rule_changes(old: list[Rule], new: list[Rule]) -> list[RuleChange]:
    before = {r.name: r for r in old}
    after = {r.name: r for r in new}
    changes = []
    for rule in new:
        was = before.get(rule.name)
        if was is None:
            changes.append(RuleChange("+", rule.name, None, rule.bayes_factor))
        elif was != rule:
            changes.append(
                RuleChange(
                    "~", rule.name, was.bayes_factor, rule.bayes_factor, _rule_fields(was, rule)
                )
            )
    changes.extend(
        RuleChange("-", r.name, r.bayes_factor, None) for r in old if r.name not in after
    )
    return changes


def _rule_fields(old: Rule, new: Rule) -> list[FieldChange]:
    return [
        FieldChange(f.name, getattr(old, f.name), getattr(new, f.name))
        for f in msgspec.structs.fields(Rule)
        if f.name != "bayes_factor" and getattr(old, f.name) != getattr(new, f.name)
    ]


def _order(old: list[Rule], new: list[Rule]) -> tuple[list[str], list[str]] | None:
    kept = {r.name for r in old} & {r.name for r in new}
    before = [r.name for r in old if r.name in kept]
    after = [r.name for r in new if r.name in kept]
    return None if before == after else (before, after)


def render(found: Diff, width: int) -> list[str]:
    """The diff as lines of at most ``width`` characters, indented under a heading."""
    lines: list[str] = []
    for change in found.fields:
        lines.extend(_change_lines(change, INDENT, width))
    if found.rules or found.order:
        lines.append(f"{INDENT}rules:")
    deeper = INDENT * 2
    for rule in found.rules:
        lines.extend(_wrap(f"{rule.sign} {rule.name}: {_factor(rule)}", deeper, width))
        for change in rule.fields:
            lines.extend(_change_lines(change, deeper + INDENT * 2, width))
    if found.order:
        before, after = found.order
        lines.extend(_wrap(f"order: {', '.join(before)} -> {', '.join(after)}", deeper, width))
    return lines


def _factor(rule: RuleChange) -> str:
    if rule.old is None or rule.new is None:
        return f"bayes_factor {shown(rule.new if rule.old is None else rule.old)}"
    if rule.old == rule.new:
        return f"bayes_factor {shown(rule.new)} (unchanged)"
    return f"bayes_factor {shown(rule.old)} -> {shown(rule.new)}"


def _change_lines(change: FieldChange, indent: str, width: int) -> list[str]:
    """``name: old -> new`` on one line if it fits, else the old and the new value
    each on lines of their own (``-`` and ``+``)."""
    old, new = shown(change.old), shown(change.new)
    line = f"{indent}{change.name}: {old} -> {new}"
    if len(line) <= width:
        return [line]
    return [
        f"{indent}{change.name}:",
        *_wrap(f"- {old}", indent + INDENT, width),
        *_wrap(f"+ {new}", indent + INDENT, width),
    ]


def _wrap(text: str, indent: str, width: int) -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent + INDENT,
        break_on_hyphens=False,
    ) or [indent]


def shown(value: object) -> str:
    """A value as the file would hold it: numbers short, times in UTC, text quoted."""
    if value is None:
        return "(none)"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(msgspec.to_builtins(value), ensure_ascii=False)
