"""The connected organisation's chart, as Bulwark last read it: the account codes, tax
types and tracking options a line may be booked with, and the check every form uses.

`chart_current()` reads it (three queries); `booking_problems(chart, ...)` is a plain
function of the chart and the values, so rules, hand edits and the mapping refuse the
same things with the same words, and the books provider behind the chart can change
without touching them. With no chart (no books connected, or their settings never read)
nothing is refused: there is nothing to check against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ledger.models import (
    BooksConnection,
    ChartAccount,
    Organisation,
    TaxRate,
    TrackingOption,
)

SHOWN_CHOICES = 12  # valid choices named in a refusal; the form's lookup has them all


@dataclass(frozen=True)
class BookableAccount:
    code: str
    name: str
    type: str

    @property
    def label(self) -> str:
        return f"{self.code} · {self.name}"


@dataclass(frozen=True)
class Chart:
    """What a line may be booked with in one organisation (active entries only)."""

    organisation: str
    accounts: dict[str, BookableAccount]  # by code: accounts a line item may use (not BANK)
    tax_types: dict[str, str]  # tax type → name; empty: tax rates not read yet
    tracking: dict[str, tuple[str, ...]] = field(default_factory=dict)  # category → options
    gone: dict[str, str] = field(default_factory=dict)  # code → name, deleted or archived

    def account_choices(self) -> list[tuple[str, str]]:
        return [(code, a.label) for code, a in sorted(self.accounts.items())]

    def tax_choices(self) -> list[tuple[str, str]]:
        return [(code, f"{code} · {name}") for code, name in sorted(self.tax_types.items())]

    def tracking_choices(self) -> list[tuple[str, str]]:
        """`Category: option` pairs, as the hand edit takes them."""
        return [
            (f"{category}: {option}", f"{category}: {option}")
            for category, options in sorted(self.tracking.items())
            for option in options
        ]

    def category(self, name: str) -> str | None:
        """The category of that name, whatever its case, as Xero spells it."""
        wanted = name.strip().casefold()
        return next((c for c in self.tracking if c.casefold() == wanted), None)


def chart_of(organisation: Organisation) -> Chart | None:
    """The organisation's chart as last read, or None when it was never read (3 queries)."""
    if organisation.settings_read_at is None:
        return None
    accounts, gone = {}, {}
    for code, name, type_, status in ChartAccount.objects.filter(
        organisation=organisation
    ).values_list("code", "name", "type", "status"):
        if not code or type_ == "BANK":
            continue
        if status == "ACTIVE":
            accounts[code] = BookableAccount(code, name, type_)
        else:
            gone[code] = name
    taxes = dict(
        TaxRate.objects.filter(organisation=organisation, status="ACTIVE").values_list(
            "tax_type", "name"
        )
    )
    tracking: dict[str, list[str]] = {}
    for category, option in TrackingOption.objects.filter(
        organisation=organisation, status="ACTIVE"
    ).values_list("category", "option"):
        tracking.setdefault(category, []).append(option)
    return Chart(
        organisation=organisation.name, accounts=accounts, tax_types=taxes,
        tracking={c: tuple(sorted(o)) for c, o in tracking.items()}, gone=gone,
    )  # fmt: skip


def chart_current() -> Chart | None:
    """The chart of the organisation Bulwark is connected to, or None."""
    connection = (
        BooksConnection.objects.filter(status=BooksConnection.Status.CONNECTED)
        .select_related("organisation")
        .first()
    )
    if connection is None or connection.organisation is None:
        return None
    return chart_of(connection.organisation)


def chart_names(codes: set[str]) -> dict[str, str]:
    """Names of account codes in the connected organisation's chart (one or two queries);
    what the transactions page calls a line's category."""
    connection = BooksConnection.objects.filter(status=BooksConnection.Status.CONNECTED).first()
    if connection is None or connection.organisation_id is None:
        return {}
    return dict(
        ChartAccount.objects.filter(organisation_id=connection.organisation_id, code__in=codes)
        .exclude(type="BANK")
        .values_list("code", "name")
    )


def _choices(labels: Iterable[str]) -> str:
    items = list(labels)
    shown = ", ".join(items[:SHOWN_CHOICES])
    more = len(items) - SHOWN_CHOICES
    return f"{shown} and {more} more" if more > 0 else shown


def account_code_problem(chart: Chart | None, code: str) -> str:
    if chart is None or not code or code in chart.accounts:
        return ""
    where = f"{chart.organisation}'s chart of accounts"
    if code in chart.gone:
        said = f"Account {code} ({chart.gone[code]}) is no longer active in {where}."
    else:
        said = f"{where.capitalize()} has no account {code}."
    labels = (a.label for _, a in sorted(chart.accounts.items()))
    return f"{said} Choose one of: {_choices(labels)}."


def tax_type_problem(chart: Chart | None, tax_type: str) -> str:
    if chart is None or not chart.tax_types or not tax_type or tax_type in chart.tax_types:
        return ""
    return (
        f"{chart.organisation} has no tax type {tax_type}. Choose one of: "
        f"{_choices(f'{code} ({name})' for code, name in sorted(chart.tax_types.items()))}."
    )


def tracking_problem(chart: Chart | None, category: str, option: str) -> str:
    if chart is None or not category:
        return ""
    found = chart.category(category)
    if found is None:
        names = ", ".join(sorted(chart.tracking)) or "none"
        return f"{chart.organisation} has no tracking category “{category}” (it has: {names})."
    if option.strip().casefold() not in {o.casefold() for o in chart.tracking[found]}:
        return (
            f"The tracking category “{found}” has no option “{option}”. Choose one of: "
            f"{_choices(chart.tracking[found])}."
        )
    return ""


def booking_problems(
    chart: Chart | None,
    *,
    account_code: str = "",
    tax_type: str = "",
    tracking: Iterable[Mapping[str, str]] = (),
) -> dict[str, str]:
    """What in a booking the organisation's chart does not have, by field; empty when it
    all exists (or there is no chart to check against)."""
    problems = {
        "account_code": account_code_problem(chart, account_code),
        "tax_type": tax_type_problem(chart, tax_type),
        "tracking": " ".join(
            text
            for item in tracking
            if (text := tracking_problem(chart, item.get("name", ""), item.get("option", "")))
        ),
    }
    return {name: text for name, text in problems.items() if text}
