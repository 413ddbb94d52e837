"""The matcher: which Wise lines and Xero entries are the same money, and what differs.

Pure Python over plain records (no database), so it is fast and testable alone. Every
phase is a hash join or a sorted sweep, never a scan of one side per item of the other:
the whole run is O(n log n) in the number of lines and entries.

Signs: both sides are signed from the account's point of view (money in positive), and
a Wise line's amount has its fee inside (a SPEND of 1,004.37 with a 4.37 fee is -1,004.37;
Bulwark posts it as one Xero bank transaction of total 1,004.37). Dates are ordinals.

Phases, in order; each looks only at what earlier ones left free:
1. **Key**: an entry whose Reference is Bulwark's posting key `bulwark:t<id>` is that
   line's. Further entries with the same key are duplicates.
2. **Reference**: the line's Wise reference number appears in the entry's Reference
   (Wise's own feed writes it). Several entries (or lines) sharing one reference whose
   totals agree are a split (or a batch); an entry that names a line already matched,
   with its amount, is a duplicate.
3. **Amount and date**: same book, currency and amount, dated within the window: a sorted
   sweep per amount, earliest first (which pairs the most). Then, if a tolerance is set,
   amounts that differ by at most that much.
4. **Groups**: a line whose fee Xero holds as its own SPEND (main part + fee entry), one
   line paid as two entries, two lines booked as one entry, and a day's lines (or
   entries) booked as one.
5. **Near misses**: the same amount a little beyond the window, paired so the owner sees
   one "date beyond the window" instead of a missing line and a missing entry.
Then what is left: an entry repeating a matched line (same amount within the window, or
its main part and fee) is a **duplicate**; other entries are **missing in Wise**; lines
expected in Xero are **missing in Xero**.

A pairing the owner undid (its signature is in `forbidden`) is never proposed again.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import Any

from treasury.money import from_minor, money_format

POSTING_PREFIX = "bulwark:"
KEY = "KEY"
REFERENCE = "REFERENCE"
AMOUNT_DATE = "AMOUNT_DATE"
ONE_TO_MANY = "ONE_TO_MANY"
MANY_TO_ONE = "MANY_TO_ONE"
MANUAL = "MANUAL"

# Points of the explainable score (out of 100). A posting key is proof on its own.
AMOUNT_POINTS, DATE_POINTS, REFERENCE_POINTS, COUNTERPARTY_POINTS = 40, 20, 25, 15
KEY_POINTS = 100
MAX_GROUP = 8  # members of one split or batch, at most
# Leftovers one split or batch search looks through around one line or entry, at most:
# bounds the work when the two sides have little in common (a wrong mapping, say).
MAX_WINDOW_SCAN = 400

MISSING_IN_XERO = "MISSING_IN_XERO"
MISSING_IN_WISE = "MISSING_IN_WISE"
AMOUNT_DIFFERS = "AMOUNT_DIFFERS"
DATE_BEYOND_WINDOW = "DATE_BEYOND_WINDOW"
DUPLICATE_IN_XERO = "DUPLICATE_IN_XERO"
CURRENCY_DIFFERS = "CURRENCY_DIFFERS"
BALANCE_DIFFERS = "BALANCE_DIFFERS"

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(slots=True)
class Line:
    """A Wise line. `book` is the Xero bank account it belongs in; `required`: it should
    be in Xero (not excluded, not before the first day posted, old enough)."""

    id: int
    book: str
    account_id: int
    day: int
    amount: int
    currency: str
    fee: int = 0
    reference: str = ""
    counterparty: str = ""
    required: bool = True


@dataclass(slots=True)
class Entry:
    """A Xero entry on a mapped bank account. `key_line`: the line its posting key names;
    `canonical`: the entry Bulwark's posting record holds; `required`: report it when no
    line is found (within Wise's record and old enough)."""

    id: int
    book: str
    day: int
    amount: int
    currency: str
    reference: str = ""
    key_line: int | None = None
    contact: str = ""
    canonical: bool = False
    required: bool = True


@dataclass(slots=True)
class Proposal:
    method: str
    lines: tuple[int, ...]
    entries: tuple[int, ...]
    score: int
    factors: dict[str, Any]
    signature: str


@dataclass
class Outcome:
    matches: list[Proposal] = field(default_factory=list)
    duplicates: dict[int, str] = field(default_factory=dict)  # entry id → match signature
    missing_in_xero: list[int] = field(default_factory=list)
    missing_in_wise: list[int] = field(default_factory=list)


def signature_of(lines: Iterable[int], entries: Iterable[int]) -> str:
    if isinstance(lines, tuple) and isinstance(entries, tuple) and len(lines) == len(entries) == 1:
        return f"t{lines[0]}|e{entries[0]}"  # the common case, fast
    return (
        "t"
        + ",".join(str(i) for i in sorted(lines))
        + "|e"
        + ",".join(str(i) for i in sorted(entries))
    )


def signature_parse(signature: str) -> tuple[list[int], list[int]]:
    lines, _, entries = signature.partition("|")
    return (
        [int(i) for i in lines[1:].split(",") if i],
        [int(i) for i in entries[1:].split(",") if i],
    )


def reference_tokens(reference: str) -> list[str]:
    """What in a Xero Reference may be a Wise reference number: the whole text and each
    token with a digit in it (`wise:TRANSFER-123456` → `TRANSFER-123456`)."""
    text = reference.strip()
    if not text or text.startswith(POSTING_PREFIX):
        return []
    tokens = [text.upper()]
    for token in _TOKEN.findall(text):
        upper = token.upper()
        if len(token) >= 4 and upper != tokens[0] and any(c.isdigit() for c in token):
            tokens.append(upper)
    return tokens


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) > 1)


def counterparty_points(line_name: str, entry_name: str) -> int:
    ours, theirs = _words(line_name), _words(entry_name)
    if not ours or not theirs:
        return 0
    return COUNTERPARTY_POINTS * len(ours & theirs) // len(ours | theirs)


class Matcher:
    def __init__(
        self,
        lines: Iterable[Line],
        entries: Iterable[Entry],
        *,
        window: int,
        near_miss: int,
        amount_tolerance: int = 0,
        fixed: Iterable[tuple[Iterable[int], Iterable[int]]] = (),
        forbidden: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        by_day = attrgetter("day", "id")
        self.lines = {line.id: line for line in sorted(lines, key=by_day)}
        self.entries = {e.id: e for e in sorted(entries, key=by_day)}
        self.window, self.near_miss, self.tolerance = window, near_miss, amount_tolerance
        self.forbidden = forbidden
        self.free_lines = dict.fromkeys(self.lines)  # ordered sets
        self.free_entries = dict.fromkeys(self.entries)
        self.outcome = Outcome()
        self.holder: dict[int, str] = {}  # line id → signature of the match holding it
        for line_ids, entry_ids in fixed:
            line_ids, entry_ids = list(line_ids), list(entry_ids)
            signature = signature_of(line_ids, entry_ids)
            for i in line_ids:
                self.free_lines.pop(i, None)
                self.holder[i] = signature
            for i in entry_ids:
                self.free_entries.pop(i, None)
        self.index: dict[tuple[str, str, int], list[Entry]] = defaultdict(list)
        for entry in self.entries.values():
            self.index[(entry.book, entry.currency, entry.amount)].append(entry)
        # Each index list is in date order: its days let `_find` bisect to the window
        # (a fee amount such as -4.37 is shared by thousands of entries).
        self.index_days = {key: [e.day for e in group] for key, group in self.index.items()}
        self.line_index: dict[tuple[str, str, int], list[Line]] = defaultdict(list)
        self.main_index: dict[tuple[str, str, int], list[Line]] = defaultdict(list)
        for line in self.lines.values():
            self.line_index[(line.book, line.currency, line.amount)].append(line)
            if line.fee:  # its main part, were the fee held apart
                self.main_index[(line.book, line.currency, line.amount + line.fee)].append(line)

    # --- the run -----------------------------------------------------------------------

    def run(self) -> Outcome:
        self._by_key()
        self._by_reference()
        self._by_amount(self.window)
        if self.tolerance:
            self._by_amount_tolerance()
        self._fee_splits()
        self._pairs(one_line=True)
        self._pairs(one_line=False)
        self._day_groups()
        self._by_amount(self.near_miss)
        self._duplicates()
        out = self.outcome
        out.missing_in_xero = [i for i in self.free_lines if self.lines[i].required]
        out.missing_in_wise = [
            i for i in self.free_entries if i not in out.duplicates and self.entries[i].required
        ]
        return out

    def _claim(
        self,
        method: str,
        line_ids: tuple[int, ...],
        entry_ids: tuple[int, ...],
        *,
        reference: str = "",
        fee: int = 0,
    ) -> bool:
        signature = signature_of(line_ids, entry_ids)
        if signature in self.forbidden:
            return False
        lines = [self.lines[i] for i in line_ids]
        entries = [self.entries[i] for i in entry_ids]
        score, factors = score_of(method, lines, entries, self.window, reference, fee)
        self.outcome.matches.append(
            Proposal(method, line_ids, entry_ids, score, factors, signature)
        )
        for i in line_ids:
            del self.free_lines[i]
            self.holder[i] = signature
        for i in entry_ids:
            del self.free_entries[i]
        return True

    def _find(
        self, book: str, currency: str, amount: int, day: int, window: int, exclude: int = 0
    ) -> Entry | None:
        """The free entry of that amount nearest to `day` within the window."""
        key = (book, currency, amount)
        group = self.index.get(key)
        if not group:
            return None
        days = self.index_days[key]
        low, high = bisect_left(days, day - window), bisect_right(days, day + window)
        best, free = None, self.free_entries
        for entry in group[low:high]:
            if entry.id == exclude or entry.id not in free:
                continue
            distance = abs(entry.day - day)
            if distance <= window and (best is None or distance < abs(best.day - day)):
                best = entry
        return best

    # --- 1. posting key ----------------------------------------------------------------

    def _by_key(self) -> None:
        keyed: dict[int, list[Entry]] = defaultdict(list)
        for entry_id in self.free_entries:
            entry = self.entries[entry_id]
            if entry.key_line is not None and entry.key_line in self.lines:
                keyed[entry.key_line].append(entry)
        for line_id, entries in keyed.items():
            if line_id not in self.free_lines:
                continue
            if len(entries) > 1:
                entries.sort(key=lambda e: (not e.canonical, e.day, e.id))
            if self._claim(KEY, (line_id,), (entries[0].id,)):
                for other in entries[1:]:
                    self._duplicate(other.id, self.holder[line_id])

    def _duplicate(self, entry_id: int, signature: str) -> None:
        self.outcome.duplicates[entry_id] = signature
        self.free_entries.pop(entry_id, None)

    # --- 2. reference --------------------------------------------------------------------

    def _by_reference(self) -> None:
        free: dict[tuple[str, str], list[Line]] = defaultdict(list)
        held: dict[tuple[str, str], list[Line]] = defaultdict(list)
        for line in self.lines.values():
            if line.reference:
                target = free if line.id in self.free_lines else held
                target[(line.book, line.reference.upper())].append(line)
        groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry_id in list(self.free_entries):
            entry = self.entries[entry_id]
            for token in reference_tokens(entry.reference):
                key = (entry.book, token)
                if key in free:
                    groups[key].append(entry)
                    break
                same = [line for line in held.get(key, ()) if line.amount == entry.amount]
                if same:
                    self._duplicate(entry.id, self.holder[same[0].id])
                    break
        for key, entries in groups.items():
            lines = [line for line in free[key] if line.id in self.free_lines]
            if lines:
                self._reference_group(lines, entries, key[1])

    def _reference_group(self, lines: list[Line], entries: list[Entry], reference: str) -> None:
        if len(lines) == 1 and len(entries) == 1:
            line, entry = lines[0], entries[0]
            if line.fee and line.amount - entry.amount == -line.fee:
                fee = self._find(
                    line.book, line.currency, -line.fee, line.day, self.window, entry.id
                )
                if fee is not None and self._claim(
                    ONE_TO_MANY, (line.id,), (entry.id, fee.id), reference=reference, fee=line.fee
                ):
                    return
            self._claim(REFERENCE, (line.id,), (entry.id,), reference=reference)
            return
        by_amount: dict[int, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_amount[entry.amount].append(entry)
        for line in lines:
            candidates = [e for e in by_amount.get(line.amount, ()) if e.id in self.free_entries]
            if candidates:
                entry = min(candidates, key=lambda e: abs(e.day - line.day))
                self._claim(REFERENCE, (line.id,), (entry.id,), reference=reference)
        rest_l = [line for line in lines if line.id in self.free_lines]
        rest_e = [e for e in entries if e.id in self.free_entries]
        if not rest_l or not rest_e or len(rest_l) + len(rest_e) > MAX_GROUP:
            return
        line_ids, entry_ids = tuple(x.id for x in rest_l), tuple(x.id for x in rest_e)
        if len(rest_l) == 1 and len(rest_e) == 1:
            self._claim(REFERENCE, line_ids, entry_ids, reference=reference)
        elif sum(x.amount for x in rest_l) == sum(x.amount for x in rest_e):
            if len(rest_l) == 1:
                self._claim(ONE_TO_MANY, line_ids, entry_ids, reference=reference)
            elif len(rest_e) == 1:
                self._claim(MANY_TO_ONE, line_ids, entry_ids, reference=reference)

    # --- 3. amount and date ------------------------------------------------------------

    def _by_amount(self, window: int) -> None:
        """Per (book, currency, amount): lines and entries in date order, each line takes
        the earliest free entry within the window (a greedy sweep that pairs the most)."""
        groups: dict[tuple[str, str, int], list[Line]] = defaultdict(list)
        for line_id in self.free_lines:
            line = self.lines[line_id]
            groups[(line.book, line.currency, line.amount)].append(line)
        for key, lines in groups.items():
            entries = [e for e in self.index.get(key, ()) if e.id in self.free_entries]
            if not entries:
                continue
            start = 0
            for line in lines:
                while start < len(entries) and entries[start].day < line.day - window:
                    start += 1
                at = start
                while at < len(entries) and entries[at].day <= line.day + window:
                    entry = entries[at]
                    if entry.id in self.free_entries and self._claim(
                        AMOUNT_DATE, (line.id,), (entry.id,)
                    ):
                        break
                    at += 1

    def _by_amount_tolerance(self) -> None:
        """Amounts within the tolerance: per (book, currency), entries sorted by amount,
        a binary search per line, the nearest amount then date within the window."""
        pool: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry_id in self.free_entries:
            entry = self.entries[entry_id]
            pool[(entry.book, entry.currency)].append(entry)
        for entries in pool.values():
            entries.sort(key=lambda e: (e.amount, e.day, e.id))
        amounts = {key: [e.amount for e in entries] for key, entries in pool.items()}
        for line_id in list(self.free_lines):
            line = self.lines[line_id]
            key = (line.book, line.currency)
            if key not in pool:
                continue
            low = bisect_left(amounts[key], line.amount - self.tolerance)
            high = bisect_right(amounts[key], line.amount + self.tolerance)
            near = [
                e
                for e in pool[key][low:high]
                if e.id in self.free_entries and abs(e.day - line.day) <= self.window
            ]
            if near:
                best = min(near, key=lambda e: (abs(e.amount - line.amount), abs(e.day - line.day)))
                self._claim(AMOUNT_DATE, (line.id,), (best.id,))

    # --- 4. groups -----------------------------------------------------------------------

    def _fee_splits(self) -> None:
        """A line whose fee Xero holds as its own SPEND: its main part (amount + fee) and
        an entry of minus the fee, both within the window."""
        for line_id in list(self.free_lines):
            line = self.lines[line_id]
            if not line.fee:
                continue
            main = self._find(
                line.book, line.currency, line.amount + line.fee, line.day, self.window
            )
            if main is None:
                continue
            fee = self._find(line.book, line.currency, -line.fee, line.day, self.window, main.id)
            if fee is not None:
                self._claim(ONE_TO_MANY, (line.id,), (main.id, fee.id), fee=line.fee)

    def _pairs(self, *, one_line: bool) -> None:
        """One free line paid as two free entries (`one_line`), or two lines booked as one
        entry: same book, currency and sign, within the window, totals equal. For each
        single, the others of its window go through a dict of amounts (a hash join)."""
        singles = self.free_lines if one_line else self.free_entries
        parts_of = self.free_entries if one_line else self.free_lines
        single_rows = self.lines if one_line else self.entries
        part_rows: dict[int, Any] = self.entries if one_line else self.lines
        pool: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for part_id in parts_of:
            part = part_rows[part_id]
            pool[(part.book, part.currency)].append(part)
        days = {key: [p.day for p in parts] for key, parts in pool.items()}
        for single_id in list(singles):
            single = single_rows[single_id]
            key = (single.book, single.currency)
            if key not in pool:
                continue
            low = bisect_left(days[key], single.day - self.window)
            high = bisect_right(days[key], single.day + self.window)
            if high - low > MAX_WINDOW_SCAN:
                continue
            seen: dict[int, Any] = {}
            for part in pool[key][low:high]:
                if part.id not in parts_of or (part.amount > 0) != (single.amount > 0):
                    continue
                other = seen.get(single.amount - part.amount)
                if other is not None:
                    pair = (other.id, part.id)
                    if one_line:
                        claimed = self._claim(ONE_TO_MANY, (single.id,), pair)
                    else:
                        claimed = self._claim(MANY_TO_ONE, pair, (single.id,))
                    if claimed:
                        break
                seen.setdefault(part.amount, part)

    def _day_groups(self) -> None:
        """A day's free lines of one sign booked as one entry (a batch), and a day's free
        entries of one sign for one line."""
        for one_line in (False, True):
            rows = self.entries if one_line else self.lines
            free = self.free_entries if one_line else self.free_lines
            groups: dict[tuple[str, str, int, bool], list[Any]] = defaultdict(list)
            for row_id in free:
                row = rows[row_id]
                groups[(row.book, row.currency, row.day, row.amount > 0)].append(row)
            for (book, currency, day, _), members in groups.items():
                members = [m for m in members if m.id in free]
                if not 2 <= len(members) <= MAX_GROUP - 1:
                    continue
                total = sum(m.amount for m in members)
                ids = tuple(m.id for m in members)
                if one_line:
                    line = self._line_find(book, currency, total, day)
                    if line is not None:
                        self._claim(ONE_TO_MANY, (line.id,), ids)
                else:
                    entry = self._find(book, currency, total, day, self.window)
                    if entry is not None:
                        self._claim(MANY_TO_ONE, ids, (entry.id,))

    def _line_find(self, book: str, currency: str, amount: int, day: int) -> Line | None:
        free = [
            x for x in self.line_index.get((book, currency, amount), ()) if x.id in self.free_lines
        ]
        return _nearest(free, day, self.window)

    # --- what is left ----------------------------------------------------------------------

    def _duplicates(self) -> None:
        """A free entry that repeats a matched line: the same amount within the window, or
        the line's main part with a separate fee entry (Wise's own feed posting it too)."""
        held = self.holder
        for entry_id in list(self.free_entries):
            if entry_id not in self.free_entries:
                continue  # taken as the fee part of a duplicate just now
            entry = self.entries[entry_id]
            key = (entry.book, entry.currency, entry.amount)
            same = [x for x in self.line_index.get(key, ()) if x.id in held]
            line = _nearest(same, entry.day, self.window)
            if line is not None:
                self._duplicate(entry.id, held[line.id])
                continue
            mains = [x for x in self.main_index.get(key, ()) if x.id in held]
            line = _nearest(mains, entry.day, self.window)
            if line is None:
                continue
            fee = self._find(entry.book, entry.currency, -line.fee, line.day, self.window, entry.id)
            if fee is not None:
                self._duplicate(entry.id, held[line.id])
                self._duplicate(fee.id, held[line.id])


def _nearest(lines: Iterable[Line], day: int, window: int) -> Line | None:
    best = None
    for line in lines:
        distance = abs(line.day - day)
        if distance <= window and (best is None or distance < abs(best.day - day)):
            best = line
    return best


def score_of(
    method: str,
    lines: list[Line],
    entries: list[Entry],
    window: int,
    reference: str = "",
    fee: int = 0,
) -> tuple[int, dict[str, Any]]:
    """The score (0 to 100) and the factors behind it: amount, date distance, reference,
    counterparty (and the posting key, which is proof on its own)."""
    if len(lines) == len(entries) == 1:  # the common case, without generators
        line, entry = lines[0], entries[0]
        delta = entry.amount - line.amount
        days = abs(line.day - entry.day)
        same_currency = line.currency == entry.currency
        counterparty = counterparty_points(line.counterparty, entry.contact)
    else:
        delta = sum(e.amount for e in entries) - sum(x.amount for x in lines)
        days = max(abs(x.day - e.day) for x in lines for e in entries)
        same_currency = {x.currency for x in lines} == {e.currency for e in entries}
        counterparty = max(
            counterparty_points(x.counterparty, e.contact) for x in lines for e in entries
        )
    amount_points = AMOUNT_POINTS if same_currency and delta == 0 else 0
    date_points = DATE_POINTS * max(0, window + 1 - days) // (window + 1)
    factors: dict[str, Any] = {
        "amount": {"delta_minor": delta, "points": amount_points},
        "date": {"days": days, "window": window, "points": date_points},
        "reference": {"value": reference, "points": REFERENCE_POINTS if reference else 0},
        "counterparty": {
            "wise": lines[0].counterparty,
            "xero": entries[0].contact,
            "points": counterparty,
        },
    }
    total = amount_points + date_points + factors["reference"]["points"] + counterparty
    if method == KEY:
        factors["key"] = {"value": f"{POSTING_PREFIX}t{lines[0].id}", "points": KEY_POINTS}
        total = KEY_POINTS
    if fee:
        factors["fee_apart"] = {"fee_minor": fee}
    return min(100, total), factors


# --- differences -------------------------------------------------------------------------


@dataclass(slots=True)
class Difference:
    """One difference the run found: `key` is its type and subject (the mismatch's natural
    key), `fingerprint` the difference itself."""

    type: str
    key: str
    fingerprint: str
    day: date
    account_id: int | None
    amount: int | None
    currency: str
    summary: str
    line_id: int | None = None
    entry_id: int | None = None
    signature: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _money(amount: int, currency: str) -> str:
    return money_format(from_minor(amount, currency), currency)


def _label(amount: int, currency: str, text: str) -> str:
    return f"{_money(amount, currency)} {text}".strip()


def match_differences(
    lines: list[Line], entries: list[Entry], signature: str, window: int
) -> list[Difference]:
    """What differs inside one match: currency, total amount, dates beyond the window."""
    out: list[Difference] = []
    day = date.fromordinal(min(x.day for x in [*lines, *entries]))
    first = lines[0]
    detail = {"lines": [x.id for x in lines], "entries": [x.id for x in entries]}
    line_currencies = sorted({x.currency for x in lines})
    entry_currencies = sorted({x.currency for x in entries})
    if line_currencies != entry_currencies:
        wise, xero = ",".join(line_currencies), ",".join(entry_currencies)
        out.append(
            Difference(
                type=CURRENCY_DIFFERS,
                key=f"{CURRENCY_DIFFERS}:{signature}",
                fingerprint=f"{wise}>{xero}",
                day=day,
                account_id=first.account_id,
                amount=None,
                currency="",
                summary=f"Wise in {wise}, Xero in {xero}",
                line_id=first.id,
                entry_id=entries[0].id,
                signature=signature,
                detail={**detail, "wise": wise, "xero": xero},
            )
        )
    else:
        currency = first.currency
        wise_total = sum(x.amount for x in lines)
        xero_total = sum(x.amount for x in entries)
        delta = xero_total - wise_total
        if delta:
            fee_note = " (the fee)" if abs(delta) == sum(x.fee for x in lines) else ""
            out.append(
                Difference(
                    type=AMOUNT_DIFFERS,
                    key=f"{AMOUNT_DIFFERS}:{signature}",
                    fingerprint=str(delta),
                    day=day,
                    account_id=first.account_id,
                    amount=delta,
                    currency=currency,
                    summary=f"Wise {_money(wise_total, currency)}, Xero "
                    f"{_money(xero_total, currency)}: {_money(delta, currency)}{fee_note}",
                    line_id=first.id,
                    entry_id=entries[0].id,
                    signature=signature,
                    detail={**detail, "wise_minor": wise_total, "xero_minor": xero_total},
                )
            )
    days = max(abs(x.day - e.day) for x in lines for e in entries)
    if days > window:
        out.append(
            Difference(
                type=DATE_BEYOND_WINDOW,
                key=f"{DATE_BEYOND_WINDOW}:{signature}",
                fingerprint=str(days),
                day=day,
                account_id=first.account_id,
                amount=None,
                currency="",
                summary=f"Dated {days} days apart (the window is {window})",
                line_id=first.id,
                entry_id=entries[0].id,
                signature=signature,
                detail={**detail, "days": days, "window": window},
            )
        )
    return out


def line_differences(
    lines: dict[int, Line],
    entries: dict[int, Entry],
    matches: Iterable[tuple[str, Sequence[int], Sequence[int]]],
    outcome: Outcome,
    *,
    book_account: dict[str, int],
    window: int,
) -> list[Difference]:
    """Every line-level difference: inside each match, and what no match took."""
    out: list[Difference] = []
    for signature, line_ids, entry_ids in matches:
        if len(line_ids) == len(entry_ids) == 1:  # the common case: nothing differs
            line, entry = lines[line_ids[0]], entries[entry_ids[0]]
            if (
                line.amount == entry.amount
                and line.currency == entry.currency
                and abs(line.day - entry.day) <= window
            ):
                continue
        out.extend(
            match_differences(
                [lines[i] for i in line_ids], [entries[i] for i in entry_ids], signature, window
            )
        )
    for line_id in outcome.missing_in_xero:
        line = lines[line_id]
        out.append(
            Difference(
                type=MISSING_IN_XERO,
                key=f"{MISSING_IN_XERO}:t{line.id}",
                fingerprint="",
                day=date.fromordinal(line.day),
                account_id=line.account_id,
                amount=line.amount,
                currency=line.currency,
                summary=_label(line.amount, line.currency, line.counterparty or line.reference),
                line_id=line.id,
                detail={"lines": [line.id], "entries": []},
            )
        )
    for entry_id in outcome.missing_in_wise:
        entry = entries[entry_id]
        out.append(
            Difference(
                type=MISSING_IN_WISE,
                key=f"{MISSING_IN_WISE}:e{entry.id}",
                fingerprint="",
                day=date.fromordinal(entry.day),
                account_id=book_account.get(entry.book),
                amount=entry.amount,
                currency=entry.currency,
                summary=_label(entry.amount, entry.currency, entry.contact or entry.reference),
                entry_id=entry.id,
                detail={"lines": [], "entries": [entry.id]},
            )
        )
    for entry_id, signature in outcome.duplicates.items():
        entry = entries[entry_id]
        repeated_lines, repeated_entries = signature_parse(signature)
        out.append(
            Difference(
                type=DUPLICATE_IN_XERO,
                key=f"{DUPLICATE_IN_XERO}:e{entry.id}",
                fingerprint=signature,
                day=date.fromordinal(entry.day),
                account_id=book_account.get(entry.book),
                amount=entry.amount,
                currency=entry.currency,
                summary=_label(entry.amount, entry.currency, "again in Xero")
                + f" ({entry.contact or entry.reference or 'no reference'})",
                line_id=repeated_lines[0] if repeated_lines else None,
                entry_id=entry.id,
                signature=signature,
                detail={"lines": repeated_lines, "entries": [entry.id, *repeated_entries]},
            )
        )
    return out


@dataclass(slots=True)
class DayBalance:
    day: date
    xero: int
    wise: int


def balance_differences(
    *, subject: str, account_id: int, currency: str, days: list[DayBalance]
) -> list[tuple[Difference, list[date]]]:
    """Balance differences of one bank account, with the days each covers.

    Balances are cumulative, so a day that agrees settles every earlier difference (a
    line read back late, say). After the last agreeing day, consecutive days with the
    same difference are one mismatch, named after its first day: it stays one while the
    difference stays the same, and a new one starts when the difference changes.
    """
    ordered = sorted(days, key=lambda d: d.day)
    last_agree = max((i for i, d in enumerate(ordered) if d.xero == d.wise), default=-1)
    out: list[tuple[Difference, list[date]]] = []
    run: list[DayBalance] = []
    for day in [*ordered[last_agree + 1 :], None]:
        if run and (day is None or day.xero - day.wise != run[0].xero - run[0].wise):
            first, last = run[0], run[-1]
            delta = first.xero - first.wise
            out.append(
                (
                    Difference(
                        BALANCE_DIFFERS, f"{BALANCE_DIFFERS}:{subject}:{first.day}", str(delta),
                        first.day, account_id, delta, currency,
                        f"Xero {_money(last.xero, currency)}, Wise {_money(last.wise, currency)}"
                        f" on {last.day}: {_money(delta, currency)}",
                        detail={"first_day": first.day, "last_day": last.day, "xero_minor":
                                last.xero, "wise_minor": last.wise, "days": len(run)},
                    ),
                    [d.day for d in run],
                )
            )  # fmt: skip
            run = []
        if day is not None:
            run.append(day)
    return out
