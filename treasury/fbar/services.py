"""Writes of the FBAR monitor: the owner's settings, foreign accounts added by hand and
their month-end balances, the foreign-account flag, and the daily monitor with its
once-per-year alerts."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import BalanceSnapshot, CashAccount, Institution
from treasury.fbar import thresholds
from treasury.fbar.models import (
    MANUAL_SOURCE,
    FbarAccount,
    FbarFiling,
    FbarSettings,
    MonitorState,
    ThresholdAlert,
)
from treasury.fbar.selectors import FbarYear, date_text, dollars, fbar_year, monitored_years
from treasury.money import InexactAmountError, currency_validate, to_minor

logger = logging.getLogger(__name__)

# A claim left SENDING this long was cut short (a crash): a later run may take it over.
STALE_AFTER = timedelta(minutes=15)


class FbarInputError(ValueError):
    """Input the FBAR pages refuse, with a message naming what is wrong."""


# --- settings and accounts -----------------------------------------------------------------


def fbar_settings_save(
    *, is_us_person: bool, filing_status: str, residence: str, user: object | None
) -> FbarSettings:
    row, _ = FbarSettings.objects.update_or_create(
        pk=1,
        defaults={
            "is_us_person": is_us_person, "filing_status": filing_status,
            "residence": residence, "updated_at": timezone.now(), "updated_by": user,
        },
    )  # fmt: skip
    monitor_enqueue()
    return row


@dataclass(frozen=True)
class ForeignAccountData:
    """What the owner states about an account at another institution."""

    name: str
    institution_name: str
    institution_address: str
    country: str
    account_number: str
    account_type: str
    currency: str
    opened_on: date | None
    closed_on: date | None
    is_foreign: bool = True


def _institution(data: ForeignAccountData) -> Institution:
    """The bank with this name and address, reused across its accounts."""
    found = Institution.objects.filter(
        name=data.institution_name, address=data.institution_address, kind=Institution.Kind.BANK
    ).first()
    if found is not None:
        if found.country != data.country:
            found.country = data.country
            found.save(update_fields=["country"])
        return found
    return Institution.objects.create(
        name=data.institution_name, address=data.institution_address, country=data.country,
        kind=Institution.Kind.BANK,
    )  # fmt: skip


def _dates_check(opened_on: date | None, closed_on: date | None) -> None:
    if opened_on and closed_on and closed_on < opened_on:
        raise FbarInputError(
            f"The account cannot close ({closed_on:%Y-%m-%d}) before it opened "
            f"({opened_on:%Y-%m-%d})."
        )


def foreign_account_add(*, data: ForeignAccountData, user: object | None) -> CashAccount:
    """Create a foreign account at another institution, with its FBAR details."""
    currency = currency_validate(data.currency)
    _dates_check(data.opened_on, data.closed_on)
    with transaction.atomic():
        account = CashAccount.objects.create(
            institution=_institution(data), name=data.name, currency=currency,
            kind=CashAccount.Kind.OTHER, account_number=data.account_number.strip(),
            opened_on=data.opened_on, closed_on=data.closed_on,
            is_active=data.closed_on is None, is_foreign_for_fbar=data.is_foreign,
        )  # fmt: skip
        FbarAccount.objects.create(
            account=account, account_type=data.account_type, added_here=True,
            flag_decided_at=timezone.now(), flag_decided_by=user,
        )  # fmt: skip
    monitor_enqueue()
    return account


def foreign_account_update(
    *, account: CashAccount, data: ForeignAccountData, user: object | None
) -> CashAccount:
    """Change an account's FBAR details. The currency of an account never changes; the
    name and bank only for accounts added here (Wise's come from Wise); an empty account
    number keeps the one stored."""
    _dates_check(data.opened_on, data.closed_on)
    with transaction.atomic():
        locked = CashAccount.objects.select_for_update().get(pk=account.pk)
        details, _ = FbarAccount.objects.get_or_create(account=locked)
        fields = ["account_number", "is_foreign_for_fbar", "opened_on", "closed_on"]
        if details.added_here:
            locked.name = data.name
            locked.institution = _institution(data)
            locked.is_active = data.closed_on is None
            fields += ["name", "institution", "is_active"]
        else:
            institution = locked.institution
            institution.address, institution.country = data.institution_address, data.country
            institution.save(update_fields=["address", "country"])
        if data.account_number.strip():  # empty: keep the number (the form never shows it)
            locked.account_number = data.account_number.strip()
        locked.opened_on, locked.closed_on = data.opened_on, data.closed_on
        if locked.is_foreign_for_fbar != data.is_foreign or details.flag_decided_at is None:
            details.flag_decided_at, details.flag_decided_by = timezone.now(), user
        locked.is_foreign_for_fbar = data.is_foreign
        locked.save(update_fields=fields)
        details.account_type = data.account_type
        details.save()
    monitor_enqueue()
    return locked


def fbar_flag_set(*, account: CashAccount, is_foreign: bool, user: object | None) -> None:
    """The owner's decision whether the account is a foreign financial account."""
    with transaction.atomic():
        CashAccount.objects.filter(pk=account.pk).update(is_foreign_for_fbar=is_foreign)
        FbarAccount.objects.update_or_create(
            account=account,
            defaults={"flag_decided_at": timezone.now(), "flag_decided_by": user},
        )
    account.is_foreign_for_fbar = is_foreign
    monitor_enqueue()


def month_end_at(year: int, month: int) -> datetime:
    """The last second of the month, UTC: when a month-end balance is taken."""
    last = calendar.monthrange(year, month)[1]
    return datetime.combine(date(year, month, last), time(23, 59, 59), tzinfo=UTC)


def manual_balance_set(
    *, account: CashAccount, year: int, month: int, balance: Decimal, today: date | None = None
) -> BalanceSnapshot:
    """Store (or replace) the account's balance at the end of a month, entered by hand."""
    today = today or timezone.localdate()
    if account.institution.kind == Institution.Kind.WISE:
        raise FbarInputError("Wise balances come from Wise; enter balances for other banks.")
    taken_at = month_end_at(year, month)
    if taken_at.date() > today:
        raise FbarInputError(
            f"{taken_at:%Y-%m} has not ended: enter its balance from {taken_at:%Y-%m-%d} on."
        )
    try:
        minor = to_minor(balance, account.currency)
    except InexactAmountError as exc:
        raise FbarInputError(str(exc)) from exc
    snapshot, _ = BalanceSnapshot.objects.update_or_create(
        account=account, taken_at=taken_at,
        defaults={"balance_minor": minor, "source": MANUAL_SOURCE, "raw": {"entered": "fbar"}},
    )  # fmt: skip
    monitor_enqueue()
    return snapshot


def manual_balance_delete(*, account: CashAccount, snapshot_id: int) -> None:
    deleted, _ = BalanceSnapshot.objects.filter(
        account=account, pk=snapshot_id, source=MANUAL_SOURCE
    ).delete()
    if not deleted:
        raise FbarInputError("That balance was not entered by hand here, or is already gone.")
    monitor_enqueue()


# --- filing --------------------------------------------------------------------------------


def fbar_filing_record(
    *, year: int, filed_on: date, reference: str, user: object | None, today: date | None = None
) -> FbarFiling:
    """Record the day the year's FinCEN 114 was filed (a second record corrects the first).
    A day before the year ended, or after today, is refused."""
    today = today or timezone.localdate()
    if filed_on > today:
        raise FbarInputError(f"{filed_on:%Y-%m-%d} is in the future: record the day it was filed.")
    if filed_on.year <= year:
        raise FbarInputError(
            f"The FBAR for {year} can be filed from January 1, {year + 1}; "
            f"{filed_on:%Y-%m-%d} is before that."
        )
    filing, _ = FbarFiling.objects.update_or_create(
        year=year,
        defaults={
            "filed_on": filed_on, "reference": reference.strip(), "recorded_by": user,
            "recorded_at": timezone.now(),
        },
    )  # fmt: skip
    return filing


def fbar_filing_clear(*, year: int) -> None:
    FbarFiling.objects.filter(year=year).delete()


# --- the monitor ---------------------------------------------------------------------------


MONITOR_QUEUED_KEY = "fbar:monitor-queued"


def monitor_enqueue() -> None:
    """Re-run the monitor in the worker once the current transaction commits. A run
    already queued covers this change too (a sync of many pages enqueues one run, not
    one per page). `robust`: an unreachable broker fails nothing; the daily run catches
    up, and the marker expires."""
    from treasury.fbar.tasks import monitor_run

    def enqueue() -> None:
        if cache.add(MONITOR_QUEUED_KEY, True, timeout=120):
            monitor_run.delay()

    transaction.on_commit(enqueue, robust=True)


@dataclass(frozen=True)
class MonitorResult:
    years: list[FbarYear]
    alerts_sent: list[ThresholdAlert]


def _state_save(result: FbarYear) -> MonitorState:
    state, _ = MonitorState.objects.update_or_create(
        year=result.year,
        defaults={
            "computed_at": timezone.now(), "as_of": result.as_of,
            "is_estimate": result.is_estimate, "is_complete": result.is_complete,
            "is_us_person": result.settings.is_us_person,
            "aggregate_usd": result.aggregate_usd, "percent_reached": result.percent_reached,
            "warned_on": result.warned_on, "crossed_on": result.crossed_on,
            "filing_required": result.filing_required,
            "form_8938_required": result.form_8938.required,
            "form_8938_status": result.form_8938.status, "accounts": len(result.foreign),
            "missing_rates": ", ".join(result.missing_rates)[:200],
        },
    )  # fmt: skip
    return state


def fbar_monitor_run(*, today: date | None = None) -> MonitorResult:
    """Compute the monitored years, store each result for the dashboard, and send each
    threshold's alert once per year. Safe to run often and concurrently."""
    today = today or timezone.localdate()
    years, sent = [], []
    for year in monitored_years(today):
        result = fbar_year(year=year, today=today)
        _state_save(result)
        years.append(result)
        if result.settings.is_us_person:
            sent.extend(_alerts_send(result))
    return MonitorResult(years=years, alerts_sent=sent)


def _claim(result: FbarYear, percent: int, reached_on: date) -> ThresholdAlert | None:
    """This run's claim on the (year, percent) alert, or None when another run has it or
    it was sent. The unique key decides between concurrent runs."""
    try:
        with transaction.atomic():
            return ThresholdAlert.objects.create(
                year=result.year, percent=percent, aggregate_usd=result.aggregate_usd,
                reached_on=reached_on,
            )  # fmt: skip
    except IntegrityError:
        pass
    retry = Q(status=ThresholdAlert.Status.FAILED) | Q(
        status=ThresholdAlert.Status.SENDING, claimed_at__lt=timezone.now() - STALE_AFTER
    )
    taken = ThresholdAlert.objects.filter(retry, year=result.year, percent=percent).update(
        status=ThresholdAlert.Status.SENDING, claimed_at=timezone.now(), error=""
    )
    return ThresholdAlert.objects.get(year=result.year, percent=percent) if taken else None


def _alerts_send(result: FbarYear) -> list[ThresholdAlert]:
    reached = [
        (percent, day)
        for percent, day in (
            (thresholds.WARN_PERCENT, result.warned_on),
            (thresholds.FILE_PERCENT, result.crossed_on),
        )
        if day is not None
    ]
    claimed = [a for a in (_claim(result, p, day) for p, day in reached) if a is not None]
    if not claimed:
        return []
    # One message for what this run claimed: a first run past both lines sends one email.
    top = max(claimed, key=lambda alert: alert.percent)
    recipients = alert_recipients()
    subject, body = alert_message(result, top.percent)
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except Exception as exc:  # any mail failure: keep the claim retryable, log it
        logger.exception("FBAR %s alert for %s not sent", top.percent, result.year)
        ThresholdAlert.objects.filter(pk__in=[a.pk for a in claimed]).update(
            status=ThresholdAlert.Status.FAILED, error=str(exc)[:500]
        )
        return []
    ThresholdAlert.objects.filter(pk__in=[a.pk for a in claimed]).update(
        status=ThresholdAlert.Status.SENT, sent_at=timezone.now(),
        recipients=", ".join(recipients),
    )  # fmt: skip
    return claimed


def alert_recipients() -> list[str]:
    """`ALERT_EMAILS`, else the owners' addresses."""
    if settings.ALERT_EMAILS:
        return list(settings.ALERT_EMAILS)
    owners = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
    return sorted(owners.values_list("email", flat=True))


def alert_message(result: FbarYear, percent: int) -> tuple[str, str]:
    aggregate = dollars(result.aggregate_usd)
    kind = "an estimate at the latest Treasury rates" if result.is_estimate else "final"
    url = reverse("fbar:report-year", args=[result.year])
    if percent == thresholds.FILE_PERCENT:
        assert result.crossed_on is not None
        subject = f"FBAR {result.year}: over $10,000, FinCEN 114 is required"
        lead = (
            f"On {result.crossed_on:%Y-%m-%d} the aggregate of your foreign accounts' "
            f"maximum values went over $10,000: FinCEN 114 (FBAR) for {result.year} is due "
            f"{date_text(result.due)}, extended automatically to "
            f"{date_text(result.extended_due)}."
        )
    else:
        assert result.warned_on is not None
        subject = f"FBAR {result.year}: {percent}% of the $10,000 line"
        lead = (
            f"On {result.warned_on:%Y-%m-%d} the aggregate of your foreign accounts' maximum "
            f"values reached {percent}% of $10,000. Headroom left: "
            f"{dollars(result.headroom_usd)}."
        )
    body = (
        f"{lead}\n\nAggregate so far: {aggregate} over {len(result.foreign)} foreign "
        f"account(s), as of {result.as_of:%Y-%m-%d} ({kind}).\n"
        f"Peaks on different days add up; the worksheet is in Bulwark at {url}\n\n"
        "Bulwark sends this once per year and threshold."
    )
    return subject, body
