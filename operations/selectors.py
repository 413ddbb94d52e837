"""Reads of the work side: the invoices list and the receivables panel.

Receivables: the open invoices (balance above zero, credit memos apart, none deleted)
per currency and age band by due date (an invoice without one ages from its date):
current (not yet due), 1-30, 31-60, 61-90 and over 90 days past due. Days sales
outstanding per currency is receivables divided by the invoiced total of the last 90 days, times 90.
Each currency's figures convert to the base currency through `treasury.fx` at the
as-of date's rate, with its rate, date and source; a currency without a rate is shown
as missing and left out of the base totals, which then say they are incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import SyncRun
from operations.models import ConnectWiseConnection, Invoice
from operations.sync import RUN_KIND
from treasury.fx.convert import PRECISION, Conversion, RateBook, RateMissing
from treasury.fx.models import Source
from treasury.money import from_minor, quantize

BANDS = ("current", "1-30", "31-60", "61-90", "over 90")
BAND_LABELS = {
    "current": "Current",
    "1-30": "1-30 days",
    "31-60": "31-60 days",
    "61-90": "61-90 days",
    "over 90": "Over 90 days",
}
DSO_DAYS = 90
ZERO = Decimal(0)
STATUS_FILTERS = ("open", "overdue", "paid", "all")


def band_of(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "over 90"


def connections() -> list[ConnectWiseConnection]:
    return list(ConnectWiseConnection.objects.order_by("pk"))


def _open() -> Q:
    return Q(balance_minor__gt=0, deleted_at__isnull=True) & ~Q(type=Invoice.CREDIT_MEMO)


# --- the invoices list ------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    status: str = "all"
    currency: str = ""
    company: str = ""
    number: str = ""
    as_of: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.status != "all" or self.currency or self.company or self.number)


def invoices_filtered(filters: InvoiceFilters, *, today: date) -> QuerySet[Invoice]:
    rows = Invoice.objects.filter(deleted_at__isnull=True)
    if filters.status == "open":
        rows = rows.filter(_open())
    elif filters.status == "overdue":
        rows = rows.filter(_open(), due_date__lt=today)
    elif filters.status == "paid":
        rows = rows.filter(balance_minor=0).exclude(type=Invoice.CREDIT_MEMO)
    if filters.currency:
        rows = rows.filter(currency=filters.currency)
    if filters.company:
        rows = rows.filter(company_name__icontains=filters.company)
    if filters.number:
        rows = rows.filter(number__startswith=filters.number)
    return rows.order_by("-date", "-cw_id")


@dataclass(frozen=True)
class InvoicePage:
    rows: list[Invoice]
    total: int
    number: int
    pages: int


def invoices_page(filters: InvoiceFilters, *, today: date, page: int, size: int = 50
                  ) -> InvoicePage:  # fmt: skip
    """One page of the filtered invoices, with their line counts (two queries)."""
    rows = invoices_filtered(filters, today=today)
    total = rows.count()
    pages = max((total + size - 1) // size, 1)
    number = min(max(page, 1), pages)
    chunk = rows.annotate(line_count=Count("lines")).defer("raw")
    return InvoicePage(
        rows=list(chunk[(number - 1) * size : number * size]), total=total, number=number,
        pages=pages,
    )  # fmt: skip


def invoice_currencies() -> list[str]:
    return sorted(set(Invoice.objects.values_list("currency", flat=True).distinct()))


def sync_run_latest() -> SyncRun | None:
    """The newest ConnectWise sync that started (queued ones wait for a worker)."""
    return SyncRun.objects.filter(kind=RUN_KIND).order_by("-started_at", "-pk").first()


# --- receivables -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyReceivables:
    currency: str
    bands: dict[str, Decimal]
    total: Decimal
    count: int
    unapplied_credits: Decimal  # open credit memos, negative
    invoiced_90: Decimal
    base: str
    conversion: Conversion | None  # 1 unit of the currency in the base
    missing: str = ""

    @property
    def dso(self) -> Decimal | None:
        """Days sales outstanding, one decimal; None without sales in the last 90 days."""
        if not self.invoiced_90:
            return None
        days = self.total / self.invoiced_90 * DSO_DAYS
        return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    def converted(self, amount: Decimal) -> Decimal | None:
        """`amount` in the base, rounded half-even at its minor unit; None without a rate."""
        if self.conversion is None:
            return None
        rate = self.conversion.rate
        return quantize(PRECISION.multiply(amount, rate), self.base, ROUND_HALF_EVEN)

    @property
    def converted_bands(self) -> list[tuple[str, Decimal | None]]:
        return [(band, self.converted(self.bands[band])) for band in BANDS]

    @property
    def converted_total(self) -> Decimal | None:
        """The sum of the converted bands, so a row of the base table adds up."""
        if self.conversion is None:
            return None
        return sum((amount or ZERO for _, amount in self.converted_bands), ZERO)


@dataclass(frozen=True)
class Receivables:
    as_of: date
    base: str
    source: str
    rows: list[CurrencyReceivables]
    base_bands: dict[str, Decimal] = field(default_factory=dict)
    base_total: Decimal = ZERO
    base_invoiced_90: Decimal = ZERO

    @property
    def missing(self) -> list[CurrencyReceivables]:
        return [row for row in self.rows if row.conversion is None]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def base_dso(self) -> Decimal | None:
        if not self.base_invoiced_90:
            return None
        days = self.base_total / self.base_invoiced_90 * DSO_DAYS
        return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    def base_band_rows(self) -> list[tuple[str, Decimal]]:
        return [(band, self.base_bands.get(band, ZERO)) for band in BANDS]


def receivables(*, as_of: date, base: str, source: str = Source.ECB) -> Receivables:
    """The receivables panel as of a day (three queries and one rate book)."""
    open_rows = (
        Invoice.objects.filter(_open(), date__lte=as_of)
        .values_list("currency", "due_date", "date", "balance_minor")
        .order_by()
    )
    per: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, int] = {}
    for currency, due, day, balance in open_rows:
        bands = per.setdefault(currency, dict.fromkeys(BANDS, ZERO))
        bands[band_of((as_of - (due or day)).days)] += from_minor(balance, currency)
        counts[currency] = counts.get(currency, 0) + 1
    credits = {
        currency: from_minor(minor, currency)
        for currency, minor in Invoice.objects.filter(
            type=Invoice.CREDIT_MEMO,
            balance_minor__lt=0,
            deleted_at__isnull=True,
            date__lte=as_of,
        )
        .values_list("currency")
        .annotate(total=Sum("balance_minor"))
        .order_by()
    }
    invoiced = {
        currency: from_minor(minor, currency)
        for currency, minor in Invoice.objects.filter(
            deleted_at__isnull=True, date__gt=as_of - timedelta(days=DSO_DAYS), date__lte=as_of
        )
        .exclude(type=Invoice.CREDIT_MEMO)
        .values_list("currency")
        .annotate(total=Sum("total_minor"))
        .order_by()
    }
    currencies = sorted(set(per) | set(credits))
    book = RateBook.load(source=source, currencies={*currencies, base}, on=as_of)
    rows = []
    for currency in currencies:
        bands = per.get(currency, dict.fromkeys(BANDS, ZERO))
        try:
            conversion, missing = book.rate(currency, base, on=as_of), ""
        except RateMissing as exc:
            conversion, missing = None, str(exc)
        rows.append(CurrencyReceivables(
            currency=currency, bands=bands, total=sum(bands.values(), ZERO),
            count=counts.get(currency, 0), unapplied_credits=credits.get(currency, ZERO),
            invoiced_90=invoiced.get(currency, ZERO), base=base, conversion=conversion,
            missing=missing,
        ))  # fmt: skip
    return _with_base_totals(Receivables(as_of=as_of, base=base, source=source, rows=rows))


def _with_base_totals(panel: Receivables) -> Receivables:
    """Base totals as the sum of each currency's rounded converted figure (so the table
    adds up), over the currencies that have a rate."""
    bands = dict.fromkeys(BANDS, ZERO)
    total = invoiced = ZERO
    for row in panel.rows:
        if row.conversion is None:
            continue
        for band, amount in row.converted_bands:
            bands[band] += amount or ZERO
        invoiced += row.converted(row.invoiced_90) or ZERO
    total = sum(bands.values(), ZERO)
    return Receivables(
        as_of=panel.as_of, base=panel.base, source=panel.source, rows=panel.rows,
        base_bands=bands, base_total=total, base_invoiced_90=invoiced,
    )  # fmt: skip
