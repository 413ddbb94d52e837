"""Posting stored Wise lines to Xero as bank transactions, idempotently and in batches.

**What a line becomes.** Every stored line of a mapped cash account becomes one Xero
BankTransaction (RECEIVE for money in, SPEND for money out) on the mapped bank account,
dated the day Wise booked it, with `Reference` = Bulwark's durable key `bulwark:t<id>`.
Wise's amount has the fee inside, so a SPEND of -1,004.37 with a 4.37 fee posts 1,000.00
on the ledger account and 4.37 on the fee account (a RECEIVE of 995.63 with a 4.37 fee:
1,000.00 income and -4.37 fee). The ledger account is the categorization's, else the
suspense account; a FEE line goes wholly to the fee account; EXCLUDE is never posted.

**Conversions and moves between own balances** go through the FX clearing account (a
base-currency current-asset account): the debit on the source balance is a SPEND to the
clearing account, the credit on the target balance a RECEIVE from it — the "two transfers
through a clearing account" Wise's own Xero integration books. They are not Xero
BankTransfers: a BankTransfer has a single Amount and no settable rate, and the API does
not take cross-currency transfers. Each leg carries `CurrencyRate` (units of its currency
per one base unit, Xero's direction), so the clearing account nets out: a leg in the base
currency needs none; when the other side is the base currency, the rate is this leg's
clearing amount over the other's; when neither side is, the source leg takes Xero's day
rate and the target leg waits for it, then posts at the rate that books the source leg's
base amount. Rates go at Xero's six decimals, chosen so that the base amount Xero books
(the clearing line over the rate, to the cent) is the other leg's exactly (`leg_rate`).
Jar moves (same currency) need no rate: both legs take the same day rate.

**Crash safety.** Before each call the batch's posting records are written PENDING with
the batch's idempotency key (deterministic from its keys and revisions, so a retry is a
replay); after it, POSTED with the Xero id or ERROR with Xero's per-element validation
errors (`summarizeErrors=false`, so one bad line never holds back the others). A record
still PENDING has an unknown outcome: before sending it again its Reference is looked up
in Xero, because Xero only remembers idempotency keys for minutes.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Transaction
from ledger.books import LeaseLost, PushResult
from ledger.books.keys import posting_key, revision_of
from ledger.models import BankAccountMapping, Organisation, Posting
from ledger.selectors import lines_unposted, postings_to_resend
from ledger.xero.client import ElementResult, OutcomeUnknown, XeroClient
from ledger.xero.limits import DayBudgetLow
from treasury.money import to_minor

BATCH_SIZE = 50
XERO_RATE_PLACES = Decimal("0.000001")  # Xero keeps currency rates to six decimals
CENT = Decimal("0.01")
MAX_UNKNOWN_PER_RUN = 3


@dataclass
class _Item:
    txn: Transaction
    posting: Posting | None
    operation: str
    element: dict[str, Any] | None = None
    rate: Decimal | None = None
    total_minor: int = 0
    prior: tuple[str, bool, bool] = ("", False, False)
    was_new: bool = False


def _operation(posting: Posting) -> str:
    """A line already in Xero is updated; anything else is created."""
    return Posting.Operation.UPDATE if posting.remote_id else Posting.Operation.CREATE


class _Stopped(Exception):
    """Stop this run cleanly; the next one carries on (its reason is kept)."""


class _Wait(Exception):
    """The line cannot be built yet (its conversion's other leg is not posted)."""


class _Skip(Exception):
    """The line needs no posting (nothing moved)."""


class Pusher:
    """One push run for one organisation (see the module docstring)."""

    def __init__(
        self,
        organisation: Organisation,
        client: XeroClient,
        batch_size: int = BATCH_SIZE,
        on_progress: Callable[[PushResult], None] | None = None,
    ) -> None:
        self.on_progress = on_progress
        self.org = organisation
        self.client = client
        self.batch_size = batch_size
        self.result = PushResult()
        self.mapping = {
            m.cash_account_id: m.chart_account
            for m in BankAccountMapping.objects.filter(organisation=organisation).select_related(
                "chart_account"
            )
        }
        self.unknown = 0

    # --- the run -------------------------------------------------------------------------

    def run(self, *, limit: int | None = None) -> PushResult:
        """Resolve unknown outcomes, send confirmed updates, then retries and new lines."""
        related = ("transaction__categorization", "transaction__account")
        try:
            pending = Posting.objects.filter(organisation=self.org, state=Posting.State.PENDING)
            unresolved = self._pending_resolve(pending.select_related(*related))
            self._auto_retry_mark()
            again = [*postings_to_resend(self.org).select_related(*related), *unresolved]
            updates = [p for p in again if _operation(p) == Posting.Operation.UPDATE]
            self._send_all([_Item(p.transaction, p, Posting.Operation.UPDATE) for p in updates])
            creates = [
                _Item(p.transaction, p, Posting.Operation.CREATE)
                for p in again
                if _operation(p) == Posting.Operation.CREATE
            ]
            lines = lines_unposted(self.org).select_related("categorization", "account")
            if limit is not None:
                lines = lines[:limit]
            creates += [_Item(txn, None, Posting.Operation.CREATE) for txn in lines]
            self._send_all(creates)
        except DayBudgetLow as exc:
            self.result.stopped = str(exc)
            self._pause(exc.retry_after)
        except (_Stopped, LeaseLost) as exc:  # LeaseLost: raised by the run's progress hook
            self.result.stopped = str(exc)
        return self.result

    def _pause(self, retry_after: int | None) -> None:
        seconds = retry_after if retry_after else 3600
        self.org.paused_until = timezone.now() + timedelta(seconds=seconds)
        self.org.pause_reason = "Xero's daily call budget is low; posting resumes later"
        self.org.save(update_fields=["paused_until", "pause_reason"])

    def _auto_retry_mark(self) -> None:
        """A refused line whose categorization changed since is worth another try."""
        refused = Posting.objects.filter(
            organisation=self.org, state=Posting.State.ERROR, retry_requested=False
        ).select_related("transaction__categorization")
        changed = [p.pk for p in refused if revision_of(p.transaction) > p.attempted_revision]
        if changed:
            Posting.objects.filter(pk__in=changed).update(retry_requested=True)

    # --- unknown outcomes ----------------------------------------------------------------

    def _pending_resolve(self, pending: Iterable[Posting]) -> list[Posting]:
        """Look PENDING creates up by Reference; mark found ones POSTED. Returns the
        records still to send (not found, or updates, which are safe to repeat)."""
        pending = list(pending)
        creates = [p for p in pending if p.operation == Posting.Operation.CREATE]
        found = (
            self.client.bank_transactions_by_reference(p.key for p in creates) if creates else {}
        )
        still = []
        now = timezone.now()
        for posting in pending:
            hit = found.get(posting.key)
            if posting.operation == Posting.Operation.CREATE and hit is not None:
                _posted(posting, hit, None, now)
                posting.save(update_fields=RESULT_FIELDS)
                self.result.found += 1
            else:
                still.append(posting)  # not in Xero (or an update): send it again
        return still

    # --- batching --------------------------------------------------------------------------

    def _send_all(self, items: list[_Item]) -> None:
        queue: deque[_Item] = deque(items)
        while queue:
            batch, deferred = [], []
            while queue and len(batch) < self.batch_size:
                item = queue.popleft()
                try:
                    self._build(item)
                except _Wait:
                    deferred.append(item)
                    continue
                except _Skip:
                    self.result.skipped += 1
                    continue
                batch.append(item)
            if not batch:
                self.result.waiting += len(deferred)
                return
            queue.extendleft(reversed(deferred))  # may be ready once this batch is posted
            self._send(batch)

    def _send(self, batch: list[_Item]) -> None:
        operation = batch[0].operation
        records = self._records_write(batch, operation)
        self.result.batches += 1
        try:
            results = self.client.bank_transactions_write(
                [item.element or {} for item in batch],
                idempotency_key=records[0].batch_key,
                update=operation == Posting.Operation.UPDATE,
            )
        except OutcomeUnknown as exc:
            self.unknown += 1
            self.result.errors.append(str(exc))
            if self.unknown > MAX_UNKNOWN_PER_RUN:
                raise _Stopped(
                    "Xero's replies keep getting lost; the next run resolves them"
                ) from exc
            resend = self._pending_resolve(records)
            self._send_all([_Item(p.transaction, p, p.operation) for p in resend])
            return
        except DayBudgetLow:
            # Raised before the call, or by a 429 (Xero did nothing): undo the records.
            # Any other failure leaves them PENDING, to be looked up before a resend.
            self._records_revert(batch)
            raise
        mismatched = len(results) != len(batch) or any(
            result.ok and result.reference != posting.key
            for result, posting in zip(results, records, strict=False)
        )
        if mismatched:
            # Replies are matched to lines by position; if that cannot be trusted, the
            # References in Xero decide (what is not found waits for the next run).
            self._pending_resolve(records)
            return
        self._results_store(batch, records, results)
        if self.on_progress is not None:
            self.on_progress(self.result)

    def _records_write(self, batch: list[_Item], operation: str) -> list[Posting]:
        """The PENDING records of the batch, committed before the call."""
        keys = "\n".join(f"{posting_key(i.txn.pk)}@{revision_of(i.txn)}" for i in batch)
        batch_key = "bulwark-" + hashlib.sha256(f"{operation}\n{keys}".encode()).hexdigest()[:48]
        now = timezone.now()
        records = []
        with transaction.atomic():
            for item in batch:
                posting = item.posting or Posting(
                    organisation=self.org, transaction=item.txn, key=posting_key(item.txn.pk)
                )
                item.prior = (posting.state, posting.retry_requested, posting.repost_requested)
                item.was_new = posting.pk is None
                posting.state, posting.operation = Posting.State.PENDING, operation
                posting.batch_key, posting.sent_at = batch_key, now
                posting.attempted_revision = revision_of(item.txn)
                posting.payload, posting.currency = item.element or {}, item.txn.currency
                posting.total_minor = item.total_minor
                posting.attempts += 1
                posting.save()
                item.posting = posting
                records.append(posting)
        return records

    def _records_revert(self, batch: list[_Item]) -> None:
        """The call never happened: forget new records, restore the others."""
        with transaction.atomic():
            for item in batch:
                posting = item.posting
                assert posting is not None
                if item.was_new:
                    posting.delete()
                    item.posting = None
                    continue
                posting.state, posting.retry_requested, posting.repost_requested = item.prior
                posting.attempts -= 1
                posting.save(
                    update_fields=["state", "retry_requested", "repost_requested", "attempts"]
                )

    def _results_store(
        self, batch: list[_Item], records: list[Posting], results: list[ElementResult]
    ) -> None:
        now = timezone.now()
        with transaction.atomic():
            for item, posting, result in zip(batch, records, results, strict=True):
                if result.ok:
                    if posting.operation == Posting.Operation.UPDATE:
                        self.result.updated += 1
                    else:
                        self.result.posted += 1
                    _posted(posting, result, item.rate, now)
                else:
                    self.result.refused += 1
                    posting.state, posting.errors = Posting.State.ERROR, list(result.errors)
                posting.retry_requested = posting.repost_requested = False
                posting.save(update_fields=RESULT_FIELDS)

    # --- building one element ------------------------------------------------------------

    def _build(self, item: _Item) -> None:
        txn = item.txn
        account = self.mapping.get(txn.account_id)
        if account is None or txn.amount_minor == 0:
            raise _Skip
        categorization = getattr(txn, "categorization", None)
        treatment = getattr(categorization, "treatment", "NORMAL")
        code = getattr(categorization, "account_code", "") or ""
        through_clearing = treatment == "TRANSFER" or (txn.wise_type == "CONVERSION" and not code)
        rate = self._rate(txn) if through_clearing else None
        amount, fee = abs(txn.amount), txn.fee
        receive = txn.amount_minor > 0
        if treatment == "FEE":
            lines = [(self.org.fee_account_code, amount, "Wise fee")]
        else:
            main_code = (
                self.org.fx_clearing_account_code
                if through_clearing
                else code or self.org.suspense_account_code
            )
            main = amount + fee if receive else amount - fee
            lines = [(main_code, main, txn.description or txn.wise_type.title())]
            if fee:
                lines.append((self.org.fee_account_code, -fee if receive else fee, "Wise fee"))
        tax_type = getattr(categorization, "tax_type", "") or ""
        tracking = [
            {"Name": t.get("name"), "Option": t.get("option")}
            for t in (getattr(categorization, "tracking", None) or [])
            if isinstance(t, dict)
        ]
        line_items = []
        for index, (line_code, line_amount, description) in enumerate(lines):
            if not line_amount:
                continue
            line: dict[str, Any] = {
                "Description": description[:4000] or "Wise",
                "Quantity": Decimal(1),
                "UnitAmount": line_amount,
                "AccountCode": line_code,
            }
            if index == 0 and tax_type:
                line["TaxType"] = tax_type
            if index == 0 and tracking:
                line["Tracking"] = tracking
            line_items.append(line)
        contact = (getattr(categorization, "contact_name", "") or txn.counterparty or "Wise")[:255]
        element: dict[str, Any] = {
            "Type": "RECEIVE" if receive else "SPEND",
            "Contact": {"Name": contact},
            "BankAccount": {"AccountID": account.account_id},
            "Date": txn.booked_on.isoformat(),
            "Reference": posting_key(txn.pk),
            "LineAmountTypes": "Inclusive" if tax_type else "NoTax",
            "LineItems": line_items,
        }
        if rate is not None:
            element["CurrencyRate"] = rate
        if item.operation == Posting.Operation.UPDATE and item.posting is not None:
            element["BankTransactionID"] = item.posting.remote_id
        item.element, item.rate = element, rate
        item.total_minor = to_minor(amount, txn.currency) * (1 if receive else -1)

    def _rate(self, txn: Transaction) -> Decimal | None:
        """Xero CurrencyRate of a clearing leg (see the module docstring): chosen from the
        two legs' own amounts, at Xero's six decimals, so that the base amount Xero books
        for this leg (its clearing line divided by the rate sent, to the cent) is the
        other leg's, and the clearing account nets out."""
        base, own, other = self.org.base_currency, txn.currency, txn.counter_currency
        if own == base or not other or other == own or not txn.fx_rate:
            return None
        source_leg = txn.direction == Transaction.Direction.DEBIT
        partner = (
            Transaction.objects.filter(
                account__in=list(self.mapping),
                reference_number=txn.reference_number,
                currency=other,
                direction=(
                    Transaction.Direction.CREDIT if source_leg else Transaction.Direction.DEBIT
                ),
                wise_type=txn.wise_type,
            ).first()
            if txn.reference_number
            else None
        )
        if partner is None:
            return None  # the legs cannot be paired: Xero's day rate
        if other == base:
            return leg_rate(_clearing_amount(txn), _clearing_amount(partner), own)
        if source_leg:
            return None  # Xero's day rate; the target leg follows it
        partner_rate = (
            Posting.objects.filter(
                organisation=self.org, state=Posting.State.POSTED, transaction=partner
            )
            .values_list("currency_rate", flat=True)
            .first()
        )
        if partner_rate is None:
            raise _Wait
        partner_base = (_clearing_amount(partner) / partner_rate).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        return leg_rate(_clearing_amount(txn), partner_base, own)


def _clearing_amount(txn: Transaction) -> Decimal:
    """What a conversion leg moves through the clearing account: its amount less the fee
    Wise took inside it (a credit's fee was taken before it arrived)."""
    amount = abs(txn.amount)
    return amount + txn.fee if txn.amount_minor > 0 else amount - txn.fee


def leg_rate(amount: Decimal, base_amount: Decimal, currency: str) -> Decimal | None:
    """The CurrencyRate (units of `currency` per base unit) at Xero's precision, six
    decimals, under which `amount` is booked as exactly `base_amount` in base currency.

    Xero keeps a currency rate to six decimals (the spec's `[18].[6]` of CurrencyRate,
    and Xero's help centre: rates are rounded to six digits) and books the base amount
    of a line as its amount divided by that rate, to the cent. A rate sent with more
    decimals is rounded by Xero, so the base amounts of the two legs would no longer be
    the same. Of the six-decimal rates in the interval that books `base_amount`, the one
    nearest `amount / base_amount` is sent; a conversion too large for any (over about
    10,000 base units per unit of rate) gets the nearest rate, and the clearing account
    keeps the cents that no six-decimal rate can express.
    """
    if base_amount <= 0 or amount <= 0:
        return None
    ideal = amount / base_amount
    nearest = ideal.quantize(XERO_RATE_PLACES, rounding=ROUND_HALF_EVEN)
    half_cent = CENT / 2
    low, high = amount / (base_amount + half_cent), amount / (base_amount - half_cent)
    candidates = sorted(
        (nearest + step * XERO_RATE_PLACES for step in range(-3, 4)),
        key=lambda rate: abs(rate - ideal),
    )
    for rate in candidates:
        if rate > 0 and low < rate < high and _booked(amount, rate) == base_amount:
            return rate
    return nearest if nearest > 0 else None


def _booked(amount: Decimal, rate: Decimal) -> Decimal:
    """The base amount Xero books for `amount` at `rate`."""
    return (amount / rate).quantize(CENT, rounding=ROUND_HALF_UP)


RESULT_FIELDS = ["state", "remote_id", "posted_revision", "posted_at", "currency_rate", "errors",
                 "retry_requested", "repost_requested"]  # fmt: skip


def _posted(posting: Posting, result: ElementResult, rate: Decimal | None, now: Any) -> None:
    """Record Xero's acceptance: its id, the revision it holds, the rate it applied."""
    posting.state, posting.remote_id = Posting.State.POSTED, result.remote_id
    posting.posted_revision, posting.posted_at = posting.attempted_revision, now
    posting.currency_rate = result.currency_rate or rate
    posting.errors = []
    posting.retry_requested = posting.repost_requested = False
