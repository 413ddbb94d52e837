"""Month-end filing of Wise statements, and their proof against Bulwark's record.

For each Wise balance and month: the statement as Wise issues it, as PDF (what a person
reads) and as CAMT.053 (its machine-readable twin, from the same statement endpoint),
fetched over HTTP and filed under the layout. The twin's opening (`OPBD`) and closing
(`CLBD`) balances are compared with Bulwark's balance of the account at the end of the
day before the month and of its last day (`accounts.balances`, the one balance
selector). A difference opens a `STATEMENT_DIFFERS` mismatch in the queue; a later proof
that agrees resolves it.

Reruns are harmless: the same bytes at the same place file nothing, and the proof and
its mismatch are keyed by account and month.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from lxml import etree

from accounts.balances import Balance, balances_on
from accounts.models import CashAccount, WiseConnection
from accounts.wise.client import WiseClient, WiseError, WiseStatementsRefused
from accounts.wise.sync import wise_client_for
from archive.layout import Naming
from archive.models import Function, StatementProof, Version
from archive.months import month_last_day, month_next, month_previous, month_start
from archive.services import document_file
from treasury.money import from_minor, money_format, to_minor

logger = logging.getLogger(__name__)

# What Wise issues for each month, as (statement.<fmt>, content type, extension).
FORMATS = (("pdf", "application/pdf", "pdf"), ("xml", "application/xml", "xml"))
TWIN = "xml"


def statement_naming(account: CashAccount, month: date, extension: str) -> Naming:
    """`Banking/Wise/EUR/2026/2026-11-30_statement_wise-eur_2026-11.pdf`; a jar gets a
    folder and a label of its own (`Wise/EUR/Tax-reserve`, `wise-eur-tax-reserve`)."""
    subject, label = f"Wise/{account.currency}", f"wise-{account.currency}"
    if account.kind == CashAccount.Kind.SAVINGS:
        subject, label = f"{subject}/{account.name}", f"{label}-{account.name}"
    return Naming(
        function=Function.BANKING, subject=subject, kind="statement", label=label,
        about_on=month_last_day(month), period=f"{month:%Y-%m}", extension=extension,
    )  # fmt: skip


@dataclass
class FilingResult:
    months: int = 0
    filed: int = 0  # documents (or versions) newly filed
    unchanged: int = 0
    agrees: int = 0
    differs: int = 0
    unreadable: int = 0
    refused: list[str] = field(default_factory=list)

    @property
    def documents(self) -> int:
        return self.filed + self.unchanged


def _bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime.combine(month, time.min, tzinfo=UTC)
    return start, datetime.combine(month_next(month), time.min, tzinfo=UTC)


_CAMT_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def _camt_balance(statement: etree._Element, code: str, currency: str) -> int | None:
    for balance in statement.iterfind("{*}Bal"):
        if balance.findtext("{*}Tp/{*}CdOrPrtry/{*}Cd") != code:
            continue
        amount = balance.find("{*}Amt")
        if amount is None or amount.get("Ccy") != currency:
            raise ValueError(f"the {code} balance is not in {currency}")
        value = Decimal((amount.text or "").strip())
        if balance.findtext("{*}CdtDbtInd") == "DBIT":
            value = -value
        return to_minor(value, currency)
    return None


def _stated(data: bytes, currency: str) -> tuple[int | None, int | None, str]:
    """(opening, closing, problem) from a CAMT.053 statement's `OPBD` and `CLBD`
    balances, in minor units. Only the balances are read (the lines are the record's
    business, and the import checks them when a file is imported); parsed safely: no
    DTD, no entities, no network."""
    if b"<!DOCTYPE" in data[:4096]:
        return None, None, "The CAMT.053 twin carries a DOCTYPE: refused"
    try:
        root = etree.fromstring(data, _CAMT_PARSER)
        statements = list(root.iter("{*}Stmt"))
        if len(statements) != 1:
            return None, None, f"The CAMT.053 twin holds {len(statements)} statements, not 1"
        stated = statements[0].findtext("{*}Acct/{*}Ccy")
        if stated != currency:
            return None, None, f"The CAMT.053 twin is in {stated}, not {currency}"
        opening = _camt_balance(statements[0], "OPBD", currency)
        closing = _camt_balance(statements[0], "CLBD", currency)
    except (etree.XMLSyntaxError, InvalidOperation, ValueError) as exc:
        return None, None, f"The CAMT.053 twin cannot be read: {exc}"
    if opening is None or closing is None:
        return None, None, "The CAMT.053 twin has no opening (OPBD) or closing (CLBD) balance"
    return opening, closing, ""


def account_month_file(
    *,
    account: CashAccount,
    month: date,
    client: WiseClient,
    record: tuple[Balance, Balance],
    result: FilingResult,
) -> StatementProof:
    """File one account's statement of one month and prove it; `record` is Bulwark's
    (opening, closing) for the month."""
    assert account.wise_profile_id is not None
    assert account.wise_balance_id is not None
    start, end = _bounds(month)
    fetched = [
        (client.statement_file(
            account.wise_profile_id, account.wise_balance_id, account.currency, start, end,
            fmt=fmt,
        ), fmt, content_type, extension)
        for fmt, content_type, extension in FORMATS
    ]  # fmt: skip
    with transaction.atomic():  # one commit for the month's files and proof
        return _month_store(account, month, fetched, record, result)


def _month_store(
    account: CashAccount,
    month: date,
    fetched: list[tuple[bytes, str, str, str]],
    record: tuple[Balance, Balance],
    result: FilingResult,
) -> StatementProof:
    versions: dict[str, Version] = {}
    twin = b""
    for data, fmt, content_type, extension in fetched:
        filed = document_file(
            naming=statement_naming(account, month, extension), data=data,
            content_type=content_type, source=Version.Source.WISE, account=account,
            period_start=month, period_end=month_last_day(month),
        )  # fmt: skip
        versions[fmt] = filed.version
        if filed.created:
            result.filed += 1
        else:
            result.unchanged += 1
        if fmt == TWIN:
            twin = data
    opening, closing, problem = _stated(twin, account.currency)
    return proof_record(
        account=account, month=month, version=versions[TWIN], stated=(opening, closing),
        record=record, problem=problem, result=result,
    )  # fmt: skip


def proof_record(
    *,
    account: CashAccount,
    month: date,
    version: Version,
    stated: tuple[int | None, int | None],
    record: tuple[Balance, Balance],
    problem: str,
    result: FilingResult,
) -> StatementProof:
    """Store the proof of an account's month; open, update or resolve its mismatch."""
    from archive.mismatches import statement_mismatch_sync

    opening, closing = stated
    if problem:
        status = StatementProof.Status.UNREADABLE
        result.unreadable += 1
    elif (opening, closing) == (record[0].minor, record[1].minor):
        status = StatementProof.Status.AGREES
        result.agrees += 1
    else:
        status = StatementProof.Status.DIFFERS
        result.differs += 1
        problem = _difference_text(account, stated, record)
    with transaction.atomic():
        proof, _ = StatementProof.objects.update_or_create(
            account=account, month=month,
            defaults={
                "document": version.document, "version": version, "status": status,
                "currency": account.currency, "stated_opening_minor": opening,
                "stated_closing_minor": closing, "record_opening_minor": record[0].minor,
                "record_closing_minor": record[1].minor, "detail": problem[:300],
                "proved_at": timezone.now(),
            },
        )  # fmt: skip
        statement_mismatch_sync(proof=proof)
    return proof


def _difference_text(
    account: CashAccount, stated: tuple[int | None, int | None], record: tuple[Balance, Balance]
) -> str:
    currency = account.currency
    parts = []
    for what, said, held in (("opens", stated[0], record[0]), ("closes", stated[1], record[1])):
        if said != held.minor:
            parts.append(
                f"{what} at {money_format(from_minor(said or 0, currency), currency)}"
                f" where Bulwark has {money_format(held.amount, currency)}"
            )
    return "The statement " + " and ".join(parts)


def wise_accounts(connection: WiseConnection) -> list[CashAccount]:
    return list(
        CashAccount.objects.filter(
            wise_profile_id=connection.profile_id, wise_balance_id__isnull=False, is_active=True
        ).order_by("currency", "name", "pk")
    )


def statements_file(
    *,
    months: Iterable[date],
    connections: Iterable[WiseConnection] | None = None,
    account_ids: Iterable[int] | None = None,
) -> FilingResult:
    """File and prove the statements of every Wise balance (or of `account_ids`) for
    each of `months` (each the first day of a complete month)."""
    result = FilingResult()
    months = sorted(set(months))
    wanted = None if account_ids is None else set(account_ids)
    for connection in connections if connections is not None else WiseConnection.objects.all():
        accounts = [a for a in wise_accounts(connection) if wanted is None or a.pk in wanted]
        if not accounts:
            continue
        with wise_client_for(connection) as client:
            try:
                _connection_file(client, accounts, months, result)
            except WiseStatementsRefused as exc:  # the profile's every balance alike
                result.refused.append(f"{connection}: {exc}")
    return result


def _connection_file(
    client: WiseClient, accounts: list[CashAccount], months: list[date], result: FilingResult
) -> None:
    ids = [a.pk for a in accounts]
    for month in months:
        last = month_last_day(month)
        opening = balances_on(on=month - timedelta(days=1), account_ids=ids)
        closing = balances_on(on=last, account_ids=ids)
        for account in accounts:
            if account.opened_on and account.opened_on > last:
                continue
            result.months += 1
            try:
                account_month_file(
                    account=account, month=month, client=client,
                    record=(opening[account.pk], closing[account.pk]), result=result,
                )  # fmt: skip
            except WiseStatementsRefused:
                raise
            except WiseError as exc:  # transient, after the client's retries: next run
                logger.warning("Statement of %s for %s not filed: %s", account, month, exc)
                result.refused.append(f"{account} {month:%Y-%m}: {exc}")


def months_due(today: date, count: int = 2) -> list[date]:
    """The last `count` complete months before `today`: the month just ended, and the
    one before in case a month end was missed (a rerun of a filed month files nothing)."""
    month, due = month_start(today), []
    for _ in range(count):
        month = month_previous(month)
        due.append(month)
    return sorted(due)
