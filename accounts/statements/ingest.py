"""Storing one account's statements from a file, and the proofs that make an import in
any order end at the bank's balance.

A file states, per account, the balance at the start of its period (O) and at its end
(C), and its lines; the parser proved C = O + lines. Here the file meets what Bulwark
already holds, after its new lines are stored (inside the import's transaction, so a
refusal stores nothing):

1. **Opening.** If nothing stored comes before the file (no line, no earlier period),
   the file sets the account's opening balance to O. Otherwise the balance Bulwark holds
   at the file's start must be O. When it is not, and the stored history reaches the
   file's start (a stored period ends there or the day before, or the Wise sync covers
   it), the file is refused with both figures. When there is a stretch between them
   that nothing covers, lines are missing there: the file is stored and the stretch is
   recorded as a `BalanceGap`, resolved as soon as a file (or the Wise sync) fills it.
2. **Its own period.** The stored lines of the file's period must add up to C - O: lines
   stored from another source that the file does not have are refused.
3. **Periods already stored** that the file overlaps must still add up, and the one that
   follows it must still open at its balance (refused if it adjoins the file, a gap
   otherwise), and so must the first line stored after the file when the file moved the
   opening balance.
4. **A record.** The period is stored (`StatementPeriod`), and when the file's balance
   runs past its last line (a statement without entries, or days without activity at
   the end) a `BalanceSnapshot` records the bank's balance at its end, so pages that read
   reported balances show it.

Moments: a file whose lines carry times (Wise CSV, Wise's CAMT) starts at its period's
start or first line and ends at its period's end or last line; a file of dates (MT940,
most banks' CAMT) starts at midnight of its first line's day and ends at the end of its
last day (its last line's or its closing balance's, whichever is later).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate, product

from django.db.models import Sum
from django.utils import timezone

from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    StatementCursor,
    StatementPeriod,
    SyncRun,
    Transaction,
)
from accounts.services import daily_balances_refresh, transactions_ingest
from accounts.statements.common import StatedBalance, StatementFileError
from accounts.statements.formats import ParsedAccount
from treasury.money import InexactAmountError, from_minor, money_format, to_minor

ONE_DAY = timedelta(days=1)
# Lines stamped with one instant whose every order is tried (3**6 sums at most).
SUBSET_LIMIT = 6


@dataclass(frozen=True)
class AccountImport:
    """What one account of a file added."""

    account: CashAccount
    lines: int
    created: int
    skipped: int
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    first_day: date | None
    last_day: date | None
    account_created: bool = False
    opening_set: bool = False
    snapshot: bool = False
    gaps_opened: int = 0
    gaps_resolved: int = 0


@dataclass(frozen=True)
class _Span:
    """The file's period for one account: its balances and the moments they hold at."""

    opening_minor: int
    closing_minor: int
    opening_at: datetime  # the balance of the lines booked before this moment
    closing_at: datetime  # … and of those booked up to this one
    starts_on: date
    ends_on: date
    opening_line: int | None
    closing_line: int | None
    last_line_day: date | None


def _span(parsed: ParsedAccount, currency: str) -> _Span | None:
    opening, closing = parsed.opening, parsed.closing
    if opening is None or closing is None:
        return None
    lines = parsed.lines
    closing_day = max(closing.on, parsed.last_day or closing.on)
    if lines and parsed.timed:
        first_at = min(line.booked_at for line in lines)
        last_at = max(line.booked_at for line in lines)
        opening_at = min(opening.at or first_at, first_at)
        closing_at = max(closing.at or last_at, last_at)
    elif lines:
        opening_at = datetime.combine(min(line.booked_on for line in lines), time(), tzinfo=UTC)
        closing_at = datetime.combine(closing_day, time.max, tzinfo=UTC)
    else:  # balances only: the balance at the end of the statement's day
        closing_at = closing.at or datetime.combine(closing.on, time.max, tzinfo=UTC)
        opening_at = closing_at
    return _Span(
        opening_minor=_minor(opening, currency),
        closing_minor=_minor(closing, currency),
        opening_at=opening_at,
        closing_at=closing_at,
        # Banks date an opening balance on the statement's first day or the day before.
        starts_on=min(
            opening_at.astimezone(UTC).date(), opening.on, parsed.first_day or closing_day
        ),
        ends_on=closing_at.astimezone(UTC).date(),
        opening_line=opening.line_no,
        closing_line=closing.line_no,
        last_line_day=max((line.booked_on for line in lines), default=None),
    )


def _minor(balance: StatedBalance, currency: str) -> int:
    try:
        return to_minor(balance.amount, currency)
    except InexactAmountError as exc:
        raise StatementFileError(balance.line_no, str(exc), column=balance.column) from exc


def _money(minor: int, currency: str) -> str:
    return money_format(from_minor(minor, currency), currency)


class _Held:
    """Balances of the stored lines at moments around one file's period.

    Lines of other sources stamped with the file's first instant (a statement of dates
    starts at midnight, and so does every other line of that day) are the "tied" ones:
    another page of the same day, before the file or after it. `ties_before` says which.
    """

    def __init__(self, account: CashAccount, span: _Span, keys: frozenset[str]) -> None:
        self.account, self.span, self.keys = account, span, keys
        self.lines = Transaction.objects.filter(account=account)
        window_start = min(span.starts_on, span.opening_at.astimezone(UTC).date())
        earlier = self.lines.filter(booked_on__lt=window_start)
        self.base = self._sum(earlier)
        self.any_earlier = self.base != 0 or earlier.exists()
        self.window = list(
            self.lines.filter(booked_on__gte=window_start, booked_on__lte=span.ends_on)
            .values_list("natural_key", "booked_at", "amount_minor")
        )  # fmt: skip
        at = span.opening_at
        others = [(b, a) for k, b, a in self.window if k not in keys]
        self.tied = [a for b, a in others if b == at]
        self.before = sum(a for b, a in others if b < at)
        self.ties_before = True
        # … and those stamped with its last instant: the rest of that instant, after it.
        end = span.closing_at
        self.tied_end = [a for b, a in others if b == end] if end != at else []

    @staticmethod
    def _sum(lines) -> int:
        return lines.aggregate(total=Sum("amount_minor"))["total"] or 0

    def opening(self) -> int:
        """At the file's start: the lines before it that are not the file's."""
        tied = sum(self.tied) if self.ties_before else 0
        return self.account.opening_balance_minor + self.base + self.before + tied

    def closing(self) -> int:
        at = self.span.closing_at
        inside = sum(a for k, b, a in self.window if b <= at or k in self.keys)
        tied = (0 if self.ties_before else sum(self.tied)) + sum(self.tied_end)
        return self.account.opening_balance_minor + self.base + inside - tied

    def own_at(self, moment: datetime) -> int:
        """The file's lines stored at that instant (tied lines of a later page follow)."""
        return sum(a for k, b, a in self.window if k in self.keys and b == moment)

    def covered(self) -> tuple[datetime, datetime]:
        """The file's moments, widened to its lines as stored: a line stored before from
        a source of dates sits at midnight, one from a timed source at its time."""
        times = [b for k, b, _ in self.window if k in self.keys]
        return (min([self.span.opening_at, *times]), max([self.span.closing_at, *times]))

    def others_before(self) -> bool:
        """Whether a stored line that is not the file's comes before the file's start."""
        tied = bool(self.tied) and self.ties_before
        return (
            self.any_earlier
            or tied
            or any(k not in self.keys and b < self.span.opening_at for k, b, _ in self.window)
        )

    def place_ties(self, *, earlier_periods: bool) -> None:
        """Tied lines go before the file, unless only after it does the file agree: its
        opening is the balance without them, or (a file of that one instant) nothing else
        precedes it and it sets the opening: a day's first page imported after its second."""
        if not self.tied or self.opening() == self.span.opening_minor:
            return
        self.ties_before = False
        if self.opening() == self.span.opening_minor:
            return
        at = self.span.opening_at
        single = all(b == at for k, b, _ in self.window if k in self.keys)
        if not (single and not earlier_periods and not self.others_before()):
            self.ties_before = True


def held_at(account: CashAccount, moment: datetime, *, inclusive: bool) -> int:
    """The balance of the stored lines before `moment` (or up to it)."""
    lines = Transaction.objects.filter(account=account)
    lines = lines.filter(booked_at__lte=moment) if inclusive else lines.filter(booked_at__lt=moment)
    total = lines.aggregate(total=Sum("amount_minor"))["total"] or 0
    return account.opening_balance_minor + total


def statement_account_store(
    *, account: CashAccount, parsed: ParsedAccount, source: str, run: SyncRun
) -> AccountImport:
    """Store one account's statements from a file and prove them (see the module).

    Runs inside the import's transaction; raises StatementFileError, naming the line, to
    refuse the whole file.
    """
    locked = CashAccount.objects.select_for_update().get(pk=account.pk)
    stated = parsed.opening is not None and parsed.closing is not None
    old_opening, old_length = locked.opening_balance_minor, locked.chain_length
    old_first = (
        Transaction.objects.filter(account=locked).order_by("booked_at")
        .values_list("booked_at", flat=True).first()
    )  # fmt: skip
    stored = transactions_ingest(
        account=locked, lines=parsed.lines, source=source, balances=not stated
    )
    span = _span(parsed, locked.currency)
    result = {
        "account": locked, "lines": len(parsed.lines), "created": stored.created,
        "skipped": stored.skipped, "first_day": parsed.first_day, "last_day": parsed.last_day,
        "opening_balance": parsed.opening.amount if parsed.opening else None,
        "closing_balance": parsed.closing.amount if parsed.closing else None,
    }  # fmt: skip
    if span is None:  # no balances stated (a CSV without running balances): nothing to prove
        return AccountImport(**result)
    locked.refresh_from_db(fields=["chain_head", "chain_length", "opening_balance_minor"])
    held = _Held(locked, span, stored.keys)
    earlier = StatementPeriod.objects.filter(account=locked, opening_at__lt=span.opening_at)
    held.place_ties(earlier_periods=earlier.exists())
    opening_set = not held.others_before() and not earlier.exists()
    if opening_set:  # nothing stored before the file: its opening is the account's
        # (unless a line of it is stored inside a bigger one whose other part came first)
        keep = old_first is not None and old_opening == span.opening_minor - stored.joined_minor
        if not keep:
            locked.opening_balance_minor = span.opening_minor
            locked.save(update_fields=["opening_balance_minor"])
    gaps = _opening_prove(locked, span, held.opening(), earlier, joined=stored.joined_minor)
    _period_prove(locked, span, held, joined=stored.joined_minor)
    _overlaps_prove(locked, span, held)
    old_start = (old_first, old_opening, old_length) if opening_set and old_first else None
    gaps += _following_prove(locked, span, held, old_start=old_start, joined=stored.joined_minor)
    opening_at, closing_at = held.covered()
    StatementPeriod.objects.get_or_create(
        account=locked, opening_at=opening_at, closing_at=closing_at,
        defaults={"run": run, "source": source, "starts_on": span.starts_on,
                  "ends_on": span.ends_on, "opening_minor": span.opening_minor,
                  "closing_minor": span.closing_minor, "line_count": len(parsed.lines)},
    )  # fmt: skip
    snapshot = span.last_line_day is None or span.ends_on > span.last_line_day
    if snapshot:
        _snapshot_record(locked, span, source, run)
    opening_changed = locked.opening_balance_minor != old_opening
    since = None if opening_changed or stored.first_new_day is None else stored.first_new_day
    if opening_changed or stored.created:
        daily_balances_refresh(account=locked, since=since)
    resolved = _gaps_resolve(locked)
    return AccountImport(
        **result, opening_set=opening_changed, snapshot=snapshot, gaps_opened=gaps,
        gaps_resolved=resolved,
    )  # fmt: skip


def _opening_prove(account: CashAccount, span: _Span, held: int, earlier, *, joined: int) -> int:
    """The balance held at the file's start is its opening balance; 1 when a gap opens.
    (`joined`: a line of the file stored inside a bigger one may have its other part
    before the file's start.)"""
    if held in (span.opening_minor, span.opening_minor - joined):
        return 0
    currency = account.currency
    previous = earlier.order_by("-closing_at").first()
    adjoins = previous is not None and previous.ends_on >= span.starts_on - ONE_DAY
    if adjoins or _wise_covers(account, span.opening_at):
        raise StatementFileError(
            span.opening_line,
            f"the opening balance {_money(span.opening_minor, currency)} on "
            f"{span.opening_at:%Y-%m-%d} does not agree with the {_money(held, currency)} "
            "Bulwark holds for that moment from the lines already stored; is this the right "
            "account, or was a line stored twice?",
        )
    start = previous.closing_at if previous is not None else span.opening_at - ONE_DAY
    _gap_open(account, start=start, end=span.opening_at, bank=span.opening_minor, held=held)
    return 1


def _wise_covers(account: CashAccount, moment: datetime) -> bool:
    cursor = StatementCursor.objects.filter(account=account).first()
    return bool(
        cursor is not None
        and cursor.synced_until is not None
        and cursor.synced_until >= moment
        and account.transactions.filter(source="API", booked_at__lt=moment).exists()
    )


def _period_prove(account: CashAccount, span: _Span, held: _Held, *, joined: int) -> None:
    """The stored lines of the file's period add up to its closing less its opening (and
    what the stored lines standing for its lines hold besides)."""
    stored = held.closing() - held.opening()
    stated = span.closing_minor - span.opening_minor + joined
    if stored != stated:
        currency = account.currency
        raise StatementFileError(
            span.closing_line,
            f"the lines from {span.starts_on} to {span.ends_on} move the balance by "
            f"{_money(stated, currency)} in the file, but the lines Bulwark holds for those "
            f"days by {_money(stored, currency)}: lines from another source differ from the "
            "file's",
        )


def _overlaps_prove(account: CashAccount, span: _Span, held: _Held) -> None:
    """A stored period the file overlaps still adds up with the file's lines added."""
    overlapping = StatementPeriod.objects.filter(
        account=account, opening_at__lt=span.closing_at, closing_at__gt=span.opening_at
    ).exclude(opening_at=span.opening_at, closing_at=span.closing_at)
    if not held.ties_before:  # a later page of the same instant follows the file
        overlapping = overlapping.exclude(opening_at=span.opening_at)
    currency = account.currency
    for period in overlapping:
        moved = held_at(account, period.closing_at, inclusive=True) - held_at(
            account, period.opening_at, inclusive=False
        )
        stated = period.closing_minor - period.opening_minor
        if moved != stated:
            raise StatementFileError(
                span.closing_line,
                f"the file adds lines to {period.starts_on} to {period.ends_on} that the "
                f"statement already imported for those days does not have (it moved the "
                f"balance by {_money(stated, currency)}, the lines now by "
                f"{_money(moved, currency)})",
            )


def _following_prove(account: CashAccount, span: _Span, held: _Held, *,
                     old_start: tuple[datetime, int, int] | None, joined: int) -> int:  # fmt: skip
    """What follows the file still opens where it did: the next stored period's opening
    balance, or (when the file moved the opening balance) the history stored before,
    from its first line (`old_start`: its time, the opening then, the lines then)."""
    currency = account.currency
    periods = StatementPeriod.objects.filter(account=account).exclude(
        opening_at=span.opening_at, closing_at=span.closing_at
    )
    if held.ties_before:
        following = periods.filter(opening_at__gte=span.closing_at).order_by("opening_at").first()
        if following is not None and following.opening_at == span.closing_at == span.opening_at:
            following = None  # a page of the same instant: placed before the file
    else:
        following = periods.filter(opening_at=span.opening_at).first()
    if following is not None:
        bank, at, day = following.opening_minor, following.opening_at, following.starts_on
        new_only = None
    elif old_start is not None:
        at, bank, old_length = old_start
        day, new_only = at.astimezone(UTC).date(), old_length
    else:
        return 0
    agreeing = _balances_at(account, at, held, new_only=new_only,
                            shared=at in (span.closing_at, span.opening_at))  # fmt: skip
    agreeing.append(agreeing[0] - joined)  # a line of the file inside a bigger stored one
    if bank in agreeing:
        return 0
    balance = agreeing[0]
    if day <= span.ends_on + ONE_DAY:
        raise StatementFileError(
            span.closing_line,
            f"the file closes at {_money(span.closing_minor, currency)} on {span.ends_on}, "
            f"but what is stored from {day} opens at {_money(bank, currency)}; with the "
            f"file Bulwark would hold {_money(balance, currency)} there",
        )
    _gap_open(account, start=span.closing_at, end=at, bank=bank, held=balance)
    return 1


def _balances_at(account: CashAccount, at: datetime, held: _Held, *, new_only: int | None,
                 shared: bool) -> list[int]:  # fmt: skip
    """The balances the stored lines allow just before what starts at `at`, most likely
    first. An instant the file shares with what follows has lines of both: before all
    of them, after the file's (or the new ones), or after any one of them, whose running
    balance says where it stood."""
    before = held_at(account, at, inclusive=False)
    if not shared:
        return [before]
    at_instant = list(
        Transaction.objects.filter(account=account, booked_at=at)
        .order_by("seq").values_list("seq", "natural_key", "amount_minor", "fee_minor")
    )  # fmt: skip
    shared_keys = held.keys & {k for k, b, _ in held.window if b == at}
    own = sum(a for seq, k, a, _ in at_instant
              if (seq > new_only if new_only is not None else k in shared_keys))  # fmt: skip
    if len(at_instant) <= SUBSET_LIMIT:
        # Which came first the clock cannot say, nor whether a payment's fee (inside it)
        # was booked before what follows: every part of every line, before or after.
        choices = [(0, a, a + f) if f else (0, a) for _, _, a, f in at_instant]
        sums = {sum(parts) for parts in product(*choices)}
    else:
        sums = set(accumulate((a for _, _, a, _ in at_instant), initial=0))
    return [before + own, *sorted(before + total for total in sums)]


def _gap_open(
    account: CashAccount, *, start: datetime, end: datetime, bank: int, held: int
) -> None:
    currency = account.currency
    BalanceGap.objects.create(
        account=account, start=start, end=end, wise_minor=bank, stored_minor=held,
        reason=(
            f"Statement files leave lines missing between {start:%Y-%m-%d} and {end:%Y-%m-%d}: "
            f"the bank's balance at {end:%Y-%m-%d} is {_money(bank, currency)}, the stored "
            f"lines give {_money(held, currency)} (difference {_money(bank - held, currency)}). "
            "Import the statement of those days to close it."
        ),
    )  # fmt: skip


def _gaps_resolve(account: CashAccount) -> int:
    """Open gaps whose end balance the stored lines now reach are resolved."""
    resolved = 0
    for gap in BalanceGap.objects.filter(account=account, resolved_at__isnull=True):
        if held_at(account, gap.end, inclusive=False) == gap.wise_minor:
            gap.resolved_at = timezone.now()
            gap.save(update_fields=["resolved_at"])
            resolved += 1
    return resolved


def _snapshot_record(account: CashAccount, span: _Span, source: str, run: SyncRun) -> None:
    """The bank's balance at the end of the file's period, for pages that read reported
    balances; the same moment reported differently is a contradiction."""
    snapshot, created = BalanceSnapshot.objects.get_or_create(
        account=account, taken_at=span.closing_at,
        defaults={"balance_minor": span.closing_minor, "source": source,
                  "raw": {"file": run.label, "run": run.pk, "closing": str(
                      from_minor(span.closing_minor, account.currency))}},
    )  # fmt: skip
    if not created and snapshot.balance_minor != span.closing_minor:
        raise StatementFileError(
            span.closing_line,
            f"the closing balance {_money(span.closing_minor, account.currency)} differs from "
            f"the {_money(snapshot.balance_minor, account.currency)} recorded for "
            f"{span.closing_at:%Y-%m-%d} ({snapshot.source})",
        )
