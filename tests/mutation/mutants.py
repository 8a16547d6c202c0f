"""Mutants of one module's source, made on its syntax tree.

Each ``Mutant`` names one node (by its index in an ``ast.walk`` of the module)
and one change to it, so it can be applied to a fresh parse and printed.
"""

import ast
import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINARY: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
}
_STRINGS = {"left": "right", "right": "left"}
"""String constants worth swapping (``searchsorted``'s side); other strings are
messages and names."""
_TYPE_NAMES = {name for name in dir(builtins) if isinstance(getattr(builtins, name), type)}

SYMBOLS: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Pow: "**",
    ast.Mod: "%",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    node: int
    """The node's index in ``ast.walk`` of the parsed module."""
    slot: int
    """Which operator of a chained comparison (0 otherwise)."""
    line: int
    description: str
    apply: Callable[[ast.AST], ast.AST | None]
    """Changes the node in place, or returns a node to put in its place."""


def _is_type_expression(node: ast.expr) -> bool:
    """``int | float``, ``str | None``, ``dict[K, V]``: a union of types, not arithmetic."""
    if isinstance(node, ast.BinOp):
        return _is_type_expression(node.left) and _is_type_expression(node.right)
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Name):
        return node.id in _TYPE_NAMES or node.id[:1].isupper()
    if isinstance(node, ast.Attribute):
        return node.attr[:1].isupper()
    if isinstance(node, ast.Subscript):
        return _is_type_expression(node.value)
    return False


def _annotations_and_docstrings(tree: ast.Module) -> set[int]:
    """ids of the nodes not to mutate: annotations and docstrings, with their subtrees."""
    skipped: set[int] = set()
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            roots.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            roots.append(node.value)
    for root in roots:
        skipped.update(id(n) for n in ast.walk(root))
    return skipped


def _set_op(new: type[ast.AST]) -> Callable[[ast.AST], None]:
    def apply(node: ast.AST) -> None:
        node.op = new()  # type: ignore[attr-defined]

    return apply


def _set_compare(slot: int, new: type[ast.cmpop]) -> Callable[[ast.AST], None]:
    def apply(node: ast.AST) -> None:
        node.ops[slot] = new()  # type: ignore[attr-defined]

    return apply


def _set_value(value: object) -> Callable[[ast.AST], None]:
    def apply(node: ast.AST) -> None:
        node.value = value  # type: ignore[attr-defined]

    return apply


def _operand(node: ast.AST) -> ast.AST:
    return node.operand  # type: ignore[attr-defined,no-any-return]


def _negate_return(node: ast.AST) -> None:
    value = node.value  # type: ignore[attr-defined]
    node.value = ast.UnaryOp(op=ast.Not(), operand=value)  # type: ignore[attr-defined]


def _tweaked(value: int | float) -> int | float:
    if value == 0:
        return type(value)(1)
    if value == 1:
        return type(value)(0)
    return value + 1


def _returns_truth(node: ast.Return) -> bool:
    value = node.value
    if isinstance(value, ast.Compare | ast.BoolOp):
        return True
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
        return True
    if isinstance(value, ast.Constant) and isinstance(value.value, bool):
        return True
    return (
        isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "bool"
    )


def _of_node(index: int, node: ast.AST) -> Iterator[Mutant]:
    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Compare):
        for slot, op in enumerate(node.ops):
            new = _COMPARE.get(type(op))
            if new is not None:
                text = f"{SYMBOLS[type(op)]} -> {SYMBOLS[new]}"
                yield Mutant(index, slot, line, text, _set_compare(slot, new))
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        new_op = _BINARY.get(type(node.op))
        is_type = isinstance(node, ast.BinOp) and _is_type_expression(node)
        if new_op is not None and not is_type:
            text = f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[new_op]}"
            yield Mutant(index, 0, line, text, _set_op(new_op))
    elif isinstance(node, ast.BoolOp):
        new_bool = ast.Or if isinstance(node.op, ast.And) else ast.And
        text = f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[new_bool]}"
        yield Mutant(index, 0, line, text, _set_op(new_bool))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert | ast.USub):
        symbol = {ast.Not: "not ", ast.Invert: "~", ast.USub: "-"}[type(node.op)]
        yield Mutant(index, 0, line, f"drop `{symbol.strip()}`", _operand)
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield Mutant(index, 0, line, f"{value} -> {not value}", _set_value(not value))
        elif isinstance(value, int | float):
            new_value = _tweaked(value)
            yield Mutant(index, 0, line, f"{value!r} -> {new_value!r}", _set_value(new_value))
        elif isinstance(value, str) and value in _STRINGS:
            swapped = _STRINGS[value]
            yield Mutant(index, 0, line, f"{value!r} -> {swapped!r}", _set_value(swapped))
    elif isinstance(node, ast.Return) and _returns_truth(node):
        yield Mutant(index, 0, line, "return not ...", _negate_return)


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source``, in the order of its nodes."""
    tree = ast.parse(source)
    skipped = _annotations_and_docstrings(tree)
    found: list[Mutant] = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in skipped:
            found.extend(_of_node(index, node))
    return found


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target = target
        self.replacement = replacement

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return self.replacement
        return super().visit(node)  # type: ignore[no-any-return]


def mutated_source(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant`` applied (reformatted by ``ast.unparse``)."""
    tree = ast.parse(source)
    target = next(node for i, node in enumerate(ast.walk(tree)) if i == mutant.node)
    replacement = mutant.apply(target)
    if replacement is not None:
        tree = _Replace(target, replacement).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))
