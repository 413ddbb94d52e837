"""Reads of the archive: its proof of integrity (`archive_verify`), and what it holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date

from django.core.files.storage import default_storage
from django.db.models import Min, OuterRef, Q, Subquery

from accounts.models import BalanceSnapshot, CashAccount, DailyBalance
from archive.chain import CHAINED_FIELDS, chain_verify
from archive.models import (
    ChainHead,
    Document,
    Entry,
    RetentionPolicy,
    StatementProof,
    StoredFile,
    Version,
)
from archive.months import month_last_day, months_between

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """Something `verify_archive` found: the path(s) it concerns and what is wrong."""

    path: str
    reason: str


def _file_sha256(name: str) -> str | None:
    """The SHA-256 of a stored file, or None if storage does not have it."""
    if not default_storage.exists(name):
        return None
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_verify() -> list[Problem]:
    """Every stored file read back and hashed, every version tied to a chain entry of
    its content, and the chain recomputed: what does not hold, by document path."""
    problems: list[Problem] = []
    paths: dict[int, list[str]] = {}
    for file_id, path in Version.objects.values_list("file_id", "document__path"):
        paths.setdefault(file_id, []).append(path)
    for stored in StoredFile.objects.order_by("pk"):
        actual = _file_sha256(stored.storage_name)
        if actual == stored.sha256:
            continue
        reason = (
            f"file missing from storage ({stored.storage_name})"
            if actual is None
            else f"file changed: SHA-256 {actual} where {stored.sha256} was filed"
        )
        for path in paths.get(stored.pk, [stored.storage_name]):
            problems.append(Problem(path, reason))
    entries = Entry.objects.order_by("seq").values(*CHAINED_FIELDS, "prev_digest", "digest")
    filed = {
        (row["version_id"], row["sha256"])
        for row in entries.filter(action=Entry.Action.FILED).values("version_id", "sha256")
    }
    for version_id, sha256, path in Version.objects.values_list(
        "pk", "file__sha256", "document__path"
    ):
        if (version_id, sha256) not in filed:
            problems.append(Problem(path, f"version {version_id} has no chain entry of its file"))
    head = ChainHead.objects.filter(pk=1).first()
    link = chain_verify(entries.iterator(), head.head if head else "", head.length if head else 0)
    if link is not None:
        problems.append(Problem(link.path or f"entry {link.seq}", f"chain: {link.reason}"))
    return problems


# --- the completeness matrix ---------------------------------------------------------------

HOLE = "HOLE"  # a month due without its statement
FILED = "FILED"  # the statement is filed, not proved (no machine-readable twin)
NOT_DUE = "NOT_DUE"  # before the account's first month


@dataclass(frozen=True)
class Cell:
    month: date
    state: str  # HOLE, NOT_DUE, FILED or a StatementProof status (AGREES, DIFFERS, ...)
    document: str = ""  # the statement's path, if filed
    detail: str = ""
    document_id: int | None = None

    @property
    def is_hole(self) -> bool:
        return self.state == HOLE


@dataclass(frozen=True)
class Row:
    account: CashAccount
    cells: list[Cell]


@dataclass(frozen=True)
class Matrix:
    months: list[date]
    rows: list[Row]

    def count(self, state: str) -> int:
        return sum(1 for row in self.rows for cell in row.cells if cell.state == state)

    @property
    def holes(self) -> int:
        return self.count(HOLE)

    @property
    def differences(self) -> int:
        return self.count(StatementProof.Status.DIFFERS)


def _accounts_with_first_day() -> list[CashAccount]:
    """Active accounts whose statements the archive expects (Wise balances, and any
    account with a statement filed), each with `first_day`: the day its record starts (opened, its
    first line day or its first reported balance), or None (one query)."""
    daily = DailyBalance.objects.filter(account=OuterRef("pk")).order_by().values("account")
    reports = BalanceSnapshot.objects.filter(account=OuterRef("pk")).order_by().values("account")
    expected = Q(wise_balance_id__isnull=False) | Q(
        pk__in=Document.objects.filter(kind="statement").values("account_id")
    )
    accounts = list(
        CashAccount.objects.filter(expected, is_active=True)
        .select_related("institution")
        .annotate(
            _first_daily=Subquery(daily.annotate(v=Min("date")).values("v")[:1]),
            _first_report=Subquery(reports.annotate(v=Min("taken_at")).values("v")[:1]),
        )
        .order_by("institution__name", "currency", "name")
    )
    for account in accounts:
        report = account._first_report  # type: ignore[attr-defined]
        days = [account.opened_on, account._first_daily,  # type: ignore[attr-defined]
                report.astimezone(UTC).date() if report else None]  # fmt: skip
        account.first_day = min((d for d in days if d is not None), default=None)  # type: ignore[attr-defined]
    return accounts


def completeness_matrix(*, first_month: date, last_month: date) -> Matrix:
    """Every active cash account by every month from `first_month` to `last_month`: the
    month's statement and its proof, or a hole (two queries, whatever the size)."""
    months = months_between(first_month, last_month)
    accounts = _accounts_with_first_day()
    proofs = StatementProof.objects.filter(
        account=OuterRef("account"), month=OuterRef("period_start")
    )
    statements: dict[tuple[int, date], tuple[str, str | None, str, int]] = {}
    for account_id, start, path, status, detail, pk in (
        Document.objects.filter(
            status=Document.Status.FILED, kind="statement", account__isnull=False,
            period_start__gte=months[0], period_start__lte=months[-1],
        )
        .annotate(
            proof_status=Subquery(proofs.values("status")[:1]),
            proof_detail=Subquery(proofs.values("detail")[:1]),
        )
        .order_by("-extension")
        .values_list("account_id", "period_start", "path", "proof_status", "proof_detail", "pk")
    ):  # fmt: skip
        statements[(account_id, start)] = (path, status, detail or "", pk)  # the PDF wins
    rows = []
    for account in accounts:
        first = account.first_day  # type: ignore[attr-defined]
        cells = []
        for month in months:
            found = statements.get((account.pk, month))
            if found is not None:
                path, status, detail, pk = found
                cells.append(Cell(month, status or FILED, path, detail, pk))
            elif first is None or month_last_day(month) < first:
                cells.append(Cell(month, NOT_DUE))
            else:
                cells.append(Cell(month, HOLE))
        rows.append(Row(account, cells))
    return Matrix(months, rows)


# --- retention -----------------------------------------------------------------------------

# Years to keep after the end of the year a document is about, unless the owner says
# otherwise: FBAR records 5 years (31 CFR 1010.430), tax and business records 7 (the
# longest ordinary IRS period of assessment, for a bad-debt or worthless-security claim).
DEFAULT_RETENTION = {
    "Banking": 7, "Books": 7, "Other": 7, "Purchases": 7, "Sales": 7, "Tax": 7, "Tax/FBAR": 5,
}  # fmt: skip


def retention_policies() -> dict[str, int]:
    """Every scope's years: the defaults, overridden by what the owner set."""
    return DEFAULT_RETENTION | dict(RetentionPolicy.objects.values_list("scope", "years"))


def keep_until(document: Document, policies: dict[str, int]) -> date | None:
    """The last day the document must be kept (None: it has no date)."""
    if document.about_on is None:
        return None
    scopes = [s for s in policies if document.path == s or document.path.startswith(f"{s}/")]
    if not scopes:
        return None
    years = policies[max(scopes, key=len)]
    return date(document.about_on.year + years, 12, 31)


@dataclass(frozen=True)
class Discardable:
    document: Document
    kept_until: date


def discardable(*, today: date) -> list[Discardable]:
    """Filed documents past their retention: what may be discarded (nothing is)."""
    policies = retention_policies()
    oldest = today.year - min(policies.values())
    found = []
    for document in Document.objects.filter(
        status=Document.Status.FILED, about_on__lt=date(oldest, 1, 1)
    ).order_by("about_on", "path"):
        until = keep_until(document, policies)
        if until is not None and until < today:
            found.append(Discardable(document, until))
    return found
