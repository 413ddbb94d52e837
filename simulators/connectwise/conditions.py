"""ConnectWise's `conditions` and `orderBy` query parameters, as the simulator reads them.

The subset (ConnectWise developer guide, "Query String Parameters"): comparisons `=`,
`!=`, `<`, `<=`, `>`, `>=`, `contains`, `like`, `in`, each negatable with `not`, joined
by `and` / `or` with parentheses; nested fields with `/` (`company/id`); strings in double
quotes, numbers bare, `True` / `False`, `null`, date-times in brackets
(`[2025-01-31T00:00:00Z]`). Keywords and field names are case-insensitive, and so are
string comparisons (ConnectWise runs on SQL Server's default collation). In a string `*`
is a wildcard for `=` and `like`, as the guide says. The guide documents no escape inside
a quoted string; the simulator takes `\\"` and `\\\\`, the JSON escapes the guide lists
for bodies, which is what Bulwark's client sends.

`lastUpdated` on its own means `_info/lastUpdated`, as in the guide's examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


class ConditionError(ValueError):
    """The conditions text cannot be read; the message says where."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
    | (?P<op><=|>=|!=|=|<|>)
    | "(?P<string>(?:[^"\\]|\\.)*)"
    | \[(?P<moment>[^\]]*)\]
    | (?P<number>-?\d+(?:\.\d+)?)(?![\w/])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "contains", "like", "in", "null", "true", "false"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise ConditionError(f"Invalid condition near {text[position : position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value)
        elif kind == "moment":
            value = _moment(value)
        elif kind == "number":
            value = Decimal(value)
        elif kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append((kind, value))
    return tokens


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConditionError(f"Invalid date and time [{text}]") from exc
    if moment.tzinfo is None:
        raise ConditionError(f"The date and time [{text}] has no zone; end it with Z")
    return moment


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], known: Callable[[str], bool]) -> None:
        self.tokens, self.index, self.known = tokens, 0, known

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", None)

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.peek() == ("keyword", word):
            self.index += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek()[0] != "end":
            raise ConditionError(f"Unexpected {self.peek()[1]!r} in the condition")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda row: not inner(row)
        if self.peek()[0] == "lparen":
            self.take()
            inner = self.disjunction()
            if self.take()[0] != "rparen":
                raise ConditionError("A parenthesis is not closed")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, path = self.take()
        if kind != "word":
            raise ConditionError(f"A field name was expected, not {path!r}")
        if not self.known(path):
            raise ConditionError(f"Unknown field {path!r} in the condition")
        negate = self.keyword("not")
        kind, op = self.take()
        if kind == "keyword" and op in ("contains", "like", "in"):
            value = self.values() if op == "in" else self.value()
        elif kind == "op" and not negate:
            value = self.value()
        else:
            raise ConditionError(f"An operator was expected after {path!r}")
        test = _comparison(op, value)

        def predicate(row: dict[str, Any]) -> bool:
            return test(field_value(row, path)) != negate

        return predicate

    def value(self) -> Any:
        kind, value = self.take()
        if kind in ("string", "moment", "number"):
            return value
        if kind == "keyword" and value in ("true", "false"):
            return value == "true"
        if kind == "keyword" and value == "null":
            return None
        raise ConditionError(f"A value was expected, not {value!r}")

    def values(self) -> list[Any]:
        if self.take()[0] != "lparen":
            raise ConditionError("`in` takes a list in parentheses")
        values = [self.value()]
        while self.peek()[0] == "comma":
            self.take()
            values.append(self.value())
        if self.take()[0] != "rparen":
            raise ConditionError("The list after `in` is not closed")
        return values


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$",
        re.IGNORECASE | re.DOTALL,
    )


def _comparable(actual: Any, wanted: Any) -> tuple[Any, Any] | None:
    """Both sides as one comparable type, or None when they cannot be compared."""
    if isinstance(wanted, datetime):
        if not isinstance(actual, str):
            return None
        try:
            return datetime.fromisoformat(actual.replace("Z", "+00:00")), wanted
        except ValueError:
            return None
    if isinstance(wanted, bool):
        return (actual, wanted) if isinstance(actual, bool) else None
    if isinstance(wanted, Decimal):
        if isinstance(actual, bool) or not isinstance(actual, (int, Decimal, str)):
            return None
        try:
            return Decimal(str(actual)), wanted
        except InvalidOperation:
            return None
    if isinstance(wanted, str):
        return (str(actual).casefold(), wanted.casefold()) if actual is not None else None
    return None


def _comparison(op: str, wanted: Any) -> Callable[[Any], bool]:
    if op == "in":
        tests = [_comparison("=", value) for value in wanted]
        return lambda actual: any(test(actual) for test in tests)
    if wanted is None:
        if op not in ("=", "!="):
            raise ConditionError("null compares only with = and !=")
        return (lambda a: a is None) if op == "=" else (lambda a: a is not None)
    if op in ("contains", "like") and not isinstance(wanted, str):
        raise ConditionError(f"`{op}` takes a string")
    if op == "contains":
        return lambda actual: actual is not None and wanted.casefold() in str(actual).casefold()
    if isinstance(wanted, str) and op in ("=", "!=", "like") and "*" in wanted:
        pattern = _wildcard(wanted)
        matches = lambda actual: actual is not None and bool(pattern.match(str(actual)))  # noqa: E731
        return (lambda a: not matches(a)) if op == "!=" else matches

    def test(actual: Any) -> bool:
        pair = _comparable(actual, wanted)
        if pair is None:
            return op == "!=" and actual is not None
        left, right = pair
        return {
            "=": left == right,
            "like": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]

    return test


def field_value(row: dict[str, Any], path: str) -> Any:
    """The value at `company/id` in a record; names compare case-insensitively."""
    value: Any = row
    parts = path.split("/")
    if len(parts) == 1 and parts[0].lower() == "lastupdated" and "lastUpdated" not in row:
        parts = ["_info", "lastUpdated"]
    for part in parts:
        if not isinstance(value, dict):
            return None
        key = part if part in value else next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            return None
        value = value[key]
    return value


def compile_conditions(text: str | None, known: Callable[[str], bool]) -> Predicate:
    """A predicate over records; `known(path)` says whether a field path exists."""
    if not text or not text.strip():
        return lambda row: True
    return _Parser(_tokens(text), known).parse()


def order_key(order_by: str | None, known: Callable[[str], bool]) -> list[tuple[str, bool]]:
    """`company/name asc, id desc` → [(path, descending)]."""
    if not order_by or not order_by.strip():
        return []
    keys = []
    for part in order_by.split(","):
        words = part.split()
        if not words or len(words) > 2 or not known(words[0]):
            raise ConditionError(f"Invalid orderBy {part.strip()!r}")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ConditionError(f"Invalid orderBy direction {words[1]!r}")
        keys.append((words[0], direction == "desc"))
    return keys


def sort_rows(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable sorts from the last key to the first; nulls first, as SQL Server sorts."""
    for path, descending in reversed(keys):

        def key(row: dict[str, Any], path: str = path) -> tuple[int, Any]:
            value = field_value(row, path)
            if value is None:
                return (0, "")
            if isinstance(value, str):
                return (1, value.casefold())
            return (1, value)

        rows = sorted(rows, key=key, reverse=descending)
    return rows
