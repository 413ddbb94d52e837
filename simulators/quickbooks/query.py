"""The QuickBooks query language, the subset the service documents:

    SELECT * | count(*) FROM Entity
      [WHERE prop op value [AND prop op value]...]
      [ORDERBY prop [ASC|DESC][, ...]]  [STARTPOSITION n]  [MAXRESULTS n]

`op` is one of = < > <= >= LIKE (only `%` wildcards) and IN (a list); values are quoted
strings ('O\\'Brien' escapes a quote), numbers or true/false. One entity, no OR, no
joins, no GROUP BY, no projections: anything else is refused as the service's JavaCC
parser refuses it (4000, `QueryParserError: Encountered …`). A property the entity does
not have is a 4001 `QueryValidationError`. Keywords, entity and property names are
case-insensitive; string comparisons too (as the service compares names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.quickbooks import schema
from simulators.quickbooks.shapes import Refusal, parse_moment

MAX_RESULTS = 1000  # the service returns at most 1,000 entities a page
DEFAULT_RESULTS = 100

KEYWORDS = {
    "select", "from", "where", "and", "or", "in", "like", "orderby", "order", "by", "asc",
    "desc", "startposition", "maxresults", "count", "join", "group", "having",
}  # fmt: skip
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op><=|>=|!=|<>|=|<|>)|(?P<punct>[(),*])|(?P<word>[A-Za-z_][\w.]*)|(?P<bad>\S))"
)
AFTER_CONDITION = ('"and" ...', '"maxresults" ...', '"order" ...', '"orderby" ...',
                   '"startposition" ...')  # fmt: skip


@dataclass(frozen=True)
class Token:
    kind: str  # STRING, NUMBER, OP, PUNCT, ID, a keyword in capitals, EOF
    text: str
    column: int


@dataclass(frozen=True)
class Condition:
    path: str
    op: str  # = < > <= >= LIKE IN
    values: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    entity: str
    count: bool
    where: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]  # (path, descending)
    start: int
    max_results: int


def tokens(text: str) -> list[Token]:
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        kind = match.lastgroup or "bad"
        value = match.group(kind)
        column = match.start(kind) + 1
        if kind == "word":
            upper = value.upper()
            found.append(Token(upper if value.lower() in KEYWORDS else "ID", value, column))
        else:
            found.append(Token({"string": "STRING", "number": "NUMBER", "op": "OP",
                                "punct": "PUNCT", "bad": "BAD"}[kind], value, column))  # fmt: skip
    found.append(Token("EOF", "", len(text) + 1))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = tokens(text)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.items[self.at]

    def take(self) -> Token:
        token = self.items[self.at]
        self.at += 1
        return token

    def fail(self, expected: tuple[str, ...]) -> Refusal:
        token = self.token
        if token.kind == "EOF":
            seen = '"<EOF>"'
        else:
            label = token.kind if token.kind not in ("OP", "PUNCT", "BAD") else token.text
            seen = f'" <{label}> "{token.text} ""'
        lines = "".join(f"    {item}\n" for item in expected)
        detail = (
            f"QueryParserError: Encountered {seen} at line 1, column {token.column}.\n"
            f"Was expecting one of:\n{lines}    "
        )
        return Refusal("4000", detail)

    def expect(self, kind: str, text: str | None = None, label: str | None = None) -> Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            raise self.fail((label or f'"{(text or kind).lower()}" ...',))
        return self.take()

    def parse(self) -> Query:
        self.expect("SELECT")
        if self.token.kind == "PUNCT" and self.token.text == "*":
            self.take()
            count = False
        elif self.token.kind == "COUNT":
            self.take()
            self.expect("PUNCT", "(", '"("')
            self.expect("PUNCT", "*", '"*"')
            self.expect("PUNCT", ")", '")"')
            count = True
        else:
            raise self.fail(('"*"', '"count" ...'))
        self.expect("FROM")
        entity = self.expect("ID", label="<ID>").text
        where: list[Condition] = []
        if self.token.kind == "WHERE":
            self.take()
            where.append(self.condition())
            while self.token.kind == "AND":
                self.take()
                where.append(self.condition())
        order: list[tuple[str, bool]] = []
        if self.token.kind in ("ORDERBY", "ORDER"):
            if self.take().kind == "ORDER":
                self.expect("BY")
            order.append(self.order_item())
            while self.token.kind == "PUNCT" and self.token.text == ",":
                self.take()
                order.append(self.order_item())
        start, max_results = 1, DEFAULT_RESULTS
        seen: set[str] = set()
        while self.token.kind in ("STARTPOSITION", "MAXRESULTS") and self.token.kind not in seen:
            clause = self.take().kind
            seen.add(clause)
            number = self.expect("NUMBER", label="<INTEGER>").text
            if "." in number or number.startswith("-"):
                raise Refusal("4000", f"QueryParserError: {clause} takes a whole number")
            if clause == "STARTPOSITION":
                start = max(int(number), 1)
            else:
                max_results = min(max(int(number), 1), MAX_RESULTS)
        if self.token.kind != "EOF":
            expected = ["<EOF> "]
            if not order and not seen:
                expected += AFTER_CONDITION if where else ['"orderby" ...', '"where" ...']
            expected += [f'"{c.lower()}" ...' for c in ("MAXRESULTS", "STARTPOSITION")
                         if c not in seen]  # fmt: skip
            raise self.fail(tuple(dict.fromkeys(expected)))
        return Query(entity, count, tuple(where), tuple(order), start, max_results)

    def condition(self) -> Condition:
        path = self.expect("ID", label="<ID>").text
        token = self.token
        if token.kind == "IN":
            self.take()
            self.expect("PUNCT", "(", '"("')
            values = [self.value()]
            while self.token.kind == "PUNCT" and self.token.text == ",":
                self.take()
                values.append(self.value())
            self.expect("PUNCT", ")", '")"')
            return Condition(path, "IN", tuple(values))
        if token.kind == "LIKE":
            self.take()
            return Condition(path, "LIKE", (self.value(),))
        if token.kind == "OP" and token.text in ("=", "<", ">", "<=", ">="):
            self.take()
            return Condition(path, token.text, (self.value(),))
        raise self.fail(('"<" ...', '"<=" ...', '"=" ...', '">" ...', '">=" ...',
                         '"in" ...', '"like" ...'))  # fmt: skip

    def value(self) -> str:
        token = self.token
        if token.kind == "STRING":
            self.take()
            body = token.text[1:-1]
            return re.sub(r"\\(.)", r"\1", body).replace("''", "'")
        if token.kind == "NUMBER":
            return self.take().text
        if token.kind == "ID" and token.text.lower() in ("true", "false"):
            return self.take().text.lower()
        raise self.fail(("<STRING> ...", "<NUMBER> ..."))

    def order_item(self) -> tuple[str, bool]:
        path = self.expect("ID", label="<ID>").text
        if self.token.kind in ("ASC", "DESC"):
            return path, self.take().kind == "DESC"
        return path, False


def parse(text: str) -> Query:
    """The query, or a `Refusal` with the parser's message."""
    return _Parser(text).parse()


def resolve(query: Query, entities: dict[str, str]) -> Query:
    """`query` with its entity and property names spelt as the schema spells them
    (`entities`: lower-case name -> name); 4001 for what the entity does not have."""
    entity = entities.get(query.entity.lower())
    if entity is None:
        raise Refusal("4001", f"QueryValidationError: Invalid context declaration : {query.entity}")

    def canonical(path: str) -> str:
        spelt = schema.canonical_path(entity, path)
        if spelt is None:
            raise Refusal(
                "4001", f"QueryValidationError: property '{path}' is not queryable for {entity}"
            )
        return spelt

    where = tuple(Condition(canonical(c.path), c.op, c.values) for c in query.where)
    order = tuple((canonical(path), desc) for path, desc in query.order)
    return Query(entity, query.count, where, order, query.start, query.max_results)


def matches(query: Query, row: dict[str, Any], tz: str) -> bool:
    return all(_holds(query.entity, condition, row, tz) for condition in query.where)


def ordered(query: Query, rows: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    result = sorted(rows, key=lambda r: _id_key(r.get("Id")))
    for path, descending in reversed(query.order):
        kind = schema.property_type(query.entity, path) or "string"
        present = [r for r in result if leaves(r, path)]
        absent = [r for r in result if not leaves(r, path)]
        present.sort(key=lambda r: _coerce(leaves(r, path)[0], kind, tz), reverse=descending)
        result = present + absent
    return result


def leaves(row: Any, path: str) -> list[Any]:
    """The values at `path`, across arrays (`AttachableRef.EntityRef.type`); a reference
    stands for its value."""
    values = [row]
    for part in path.split("."):
        nxt = []
        for value in values:
            item = value.get(part) if isinstance(value, dict) else None
            nxt.extend(item if isinstance(item, list) else [item] if item is not None else [])
        values = nxt
    return [v.get("value") if isinstance(v, dict) else v for v in values]


def _holds(entity: str, condition: Condition, row: dict[str, Any], tz: str) -> bool:
    kind = schema.property_type(entity, condition.path) or "string"
    candidates = [_coerce(v, kind, tz) for v in leaves(row, condition.path)]
    wanted = [_coerce(v, kind, tz) for v in condition.values]
    if None in wanted:
        raise Refusal(
            "4001",
            f"QueryValidationError: value {condition.values!r} does not suit {condition.path}",
        )
    for candidate in candidates:
        if candidate is None:
            continue
        if condition.op == "IN" and candidate in wanted:
            return True
        if condition.op == "LIKE":
            pattern = "^" + ".*".join(re.escape(part) for part in str(wanted[0]).split("%")) + "$"
            if re.match(pattern, str(candidate), re.DOTALL):
                return True
        if condition.op in ("=", "<", ">", "<=", ">=") and _compare(candidate, condition.op,
                                                                    wanted[0]):  # fmt: skip
            return True
    return False


def _compare(left: Any, op: str, right: Any) -> bool:
    try:
        return {
            "=": left == right, "<": left < right, ">": left > right,
            "<=": left <= right, ">=": left >= right,
        }[op]  # fmt: skip
    except TypeError:
        return False


def _coerce(value: Any, kind: str, tz: str) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
        else str(value)  # fmt: skip
    try:
        if kind in ("decimal", "int", "integer", "long", "double", "positiveInteger"):
            return Decimal(text)
        if kind == "boolean":
            return {"true": True, "false": False}.get(text.lower())
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind == "dateTime":
            moment: datetime | None = parse_moment(text, tz)
            return moment
    except (InvalidOperation, ValueError):
        return None
    return text.casefold()


def _id_key(value: Any) -> tuple[int, str]:
    text = str(value or "")
    return (int(text), "") if text.isdigit() else (0, text)
