"""Which events a rule counts: the match grammar of the API contract.

``match = {"kind": k or [k...], "where": {field: condition}}``. A condition is a
scalar (equality; on a list field, membership) or an object with exactly one
operator: ``eq ne in nin lt le gt ge contains``.

Semantics chosen where the contract is silent (documented in the README):
- ``contains`` on a text field is a case-insensitive substring test; on a list
  field it is membership.
- ``lt le gt ge`` apply to numbers and times only.
- A field an event lacks (an optional field left out, or a signal attribute it
  does not carry) satisfies only ``ne`` and ``nin``.
- ``attributes.NAME`` reaches a signal's attributes; their types are not known
  in advance, so values of another type simply do not match.

The field catalogue is read from the msgspec event structs, so a field added to
a kind is matchable without touching this package.

- ``grammar``: the ``Match`` struct, the field catalogue and ``validate_match``;
- ``predicates``: ``compile_match``, a validated match as a fast predicate;
- ``rule_index``: ``RuleIndex``, which rules an event matches without testing all.
"""

from domain.matching.grammar import (
    FIELDS,
    Condition,
    FieldSpec,
    Match,
    Operator,
    Scalar,
    ValueType,
    field_spec,
    field_value,
    validate_match,
)
from domain.matching.predicates import Predicate, compile_match
from domain.matching.rule_index import RuleIndex

__all__ = [
    "FIELDS",
    "Condition",
    "FieldSpec",
    "Match",
    "Operator",
    "Predicate",
    "RuleIndex",
    "Scalar",
    "ValueType",
    "compile_match",
    "field_spec",
    "field_value",
    "validate_match",
]
