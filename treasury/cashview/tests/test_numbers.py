"""The figures on the dashboard against sums computed here from the raw lines and the raw
rates, for several as-of dates, base currencies and rate-date policies; a missing rate
shows as missing, never as a number."""

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal

import pytest
from django.utils import timezone

from accounts.models import CashAccount, Transaction
from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, InstitutionFactory, line
from treasury.cashview.selectors import DayRates
from treasury.cashview.tests.pages import page_read
from treasury.fx.convert import RateBook, RateLeg
from treasury.fx.models import Rate, Source
from treasury.money import money_format, quantize

pytestmark = pytest.mark.django_db
EXACT = Context(prec=34)
LEVELS = {"USD": Decimal("1.0832"), "GBP": Decimal("0.84215"), "JPY": Decimal("161.37")}
RATES_FROM, RATES_TO = date(2024, 12, 1), date(2025, 12, 31)


def rates_store(start: date, end: date, codes: dict[str, Decimal] = LEVELS) -> None:
    """ECB-style rows on weekdays, each currency moving a little every day."""
    rows, day, n = [], start, 0
    while day <= end:
        if day.weekday() < 5:
            for k, (code, level) in enumerate(codes.items()):
                step = Decimal((n * (7 + k)) % 41 - 20) / 1000
                value = (level * (1 + step)).quantize(Decimal("0.0001") if level < 10 else 1)
                rows.append(Rate(source=Source.ECB, base="EUR", quote=code, date=day, rate=value))
            n += 1
        day += timedelta(days=1)
    Rate.objects.bulk_create(rows)


@pytest.fixture
def business():
    """Five balances in four currencies over 2025, with an opening balance and rates
    for 2025 and for the last fortnight (the "today" policy)."""
    wise = InstitutionFactory()
    bank = InstitutionFactory(name="Sparkasse", country="DE")
    accounts = [
        CashAccountFactory(institution=wise, currency="EUR", name="EUR balance"),
        CashAccountFactory(institution=bank, currency="EUR", name="Girokonto"),
        CashAccountFactory(institution=wise, currency="USD"),
        CashAccountFactory(institution=wise, currency="GBP"),
        CashAccountFactory(institution=wise, currency="JPY"),
    ]
    rng = random.Random(11)
    for index, account in enumerate(accounts):
        lines = []
        for k in range(60):
            day = rng.randint(0, 355)  # days after 2025-01-06
            if account.currency == "JPY":
                amount = str(rng.randint(-20_000, 60_000))
            else:
                amount = f"{rng.randint(-900_00, 2_500_00) / 100:.2f}"
            lines.append(line(amount, currency=account.currency, day=day, ref=f"R{index}-{k}"))
        if index == 1:  # the bank states its running balance: an opening balance of 5,000
            lines.append(line("100.00", day=0, ref="first", balance="5100.00"))
        transactions_ingest(account=account, lines=lines, source="API")
    rates_store(RATES_FROM, RATES_TO)
    today = timezone.localdate()
    rates_store(today - timedelta(days=14), today, {c: v * 2 for c, v in LEVELS.items()})
    return accounts


def native_balances(as_of: date) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for account in CashAccount.objects.all():
        sums[account.currency] += account.opening_balance
        for row in Transaction.objects.filter(account=account, booked_on__lte=as_of):
            sums[account.currency] += row.amount
    return dict(sums)


def per_eur(code: str, day: date) -> Decimal | None:
    """Units of `code` per EUR on `day`: the latest ECB row at most 7 days older."""
    if code == "EUR":
        return Decimal(1)
    row = (
        Rate.objects.filter(
            source=Source.ECB, quote=code, date__lte=day, date__gte=day - timedelta(days=7)
        )
        .order_by("-date")
        .first()
    )
    return row.rate if row else None


def converted(amount: Decimal, code: str, base: str, day: date) -> Decimal | None:
    if not amount:
        return quantize(Decimal(0), base, ROUND_HALF_EVEN)
    quote, unit = per_eur(base, day), per_eur(code, day)
    if quote is None or unit is None:
        return None
    return quantize(EXACT.divide(EXACT.multiply(amount, quote), unit), base, ROUND_HALF_EVEN)


def rate_day(policy: str, as_of: date) -> date:
    return timezone.localdate() if policy == "now" else as_of


CASES = [
    *[(day, base, "then") for day in (date(2025, 3, 31), date(2025, 8, 15), date(2025, 12, 29))
      for base in ("USD", "EUR", "JPY")],
    (date(2025, 8, 15), "USD", "end"),
    (date(2025, 6, 1), "GBP", "end"),  # a Sunday: Friday's rate
    (date(2025, 8, 15), "USD", "now"),
    (date(2025, 12, 29), "JPY", "now"),
]  # fmt: skip


@pytest.mark.parametrize(("as_of", "base", "policy"), CASES)
def test_figures_match_sums_of_the_raw_lines_and_rates(owner_client, business, as_of, base, policy):
    response = owner_client.get("/", {"as_of": as_of, "base": base, "policy": policy})
    page = page_read(response.content)
    natives = native_balances(as_of)
    day = rate_day(policy, as_of)
    expected = {code: converted(amount, code, base, day) for code, amount in natives.items()}
    assert set(page.rows) == set(natives)
    for code, row in page.rows.items():
        assert row.native == natives[code], code
        assert row.converted == expected[code], (code, day)
        assert money_format(natives[code], code) in row.text
        assert money_format(expected[code], base) in row.text
    assert page.complete
    assert page.total == sum(expected.values())
    assert money_format(page.total, base) in page.total_text
    shares = [Decimal(r.text.split("%")[0].split()[-1]) for r in page.rows.values() if r.converted]
    assert abs(sum(shares) - 100) <= Decimal("0.1") * len(shares)


def test_changes_over_30_90_365_days(owner_client, business):
    as_of = date(2025, 12, 29)
    page = page_read(owner_client.get("/", {"as_of": as_of, "base": "USD"}).content)
    now = native_balances(as_of)
    for days in (30, 90, 365):
        before = native_balances(as_of - timedelta(days=days))
        for code in page.rows:
            change = now[code] - before.get(code, Decimal(0))
            cell = page.tree.xpath(f'//tr[@data-currency="{code}"]/td[@data-days="{days}"]')[
                0
            ].text_content()
            assert money_format(abs(change), code) in cell, (code, days)
        then = as_of - timedelta(days=days)
        total_then = sum(
            converted(amount, code, "USD", then) for code, amount in before.items()
        )  # "as of the date": each end at its own day's rate
        shown = page.tree.xpath(f'//*[@id="total"]//div[@data-days="{days}"]')[0]
        assert Decimal(shown.get("data-amount")) == page.total - total_then


def test_a_missing_rate_shows_as_missing_and_the_total_says_it_leaves_it_out(
    owner_client, business
):
    Rate.objects.filter(quote="GBP").delete()
    as_of = date(2025, 8, 15)
    response = owner_client.get("/", {"as_of": as_of, "base": "USD"})
    page = page_read(response.content)
    gbp = page.rows["GBP"]
    assert gbp.converted is None
    assert "no rate" in gbp.text
    assert "Fetch rates" in gbp.text
    natives = native_balances(as_of)
    others = sum(converted(natives[c], c, "USD", as_of) for c in ("EUR", "USD", "JPY"))
    assert page.total == others
    assert not page.complete
    assert "incomplete" in page.total_text
    excludes = page.tree.get_element_by_id("total-excludes").text_content()
    assert money_format(natives["GBP"], "GBP") in excludes
    assert 'href="/rates/"' in response.content.decode()
    # The share and the total's changes never pretend: no percentage for GBP.
    assert "—" in gbp.text


def test_no_rates_at_all_says_so(owner_client, business):
    Rate.objects.all().delete()
    page = page_read(owner_client.get("/", {"base": "EUR"}).content)
    assert "No exchange rates yet" in page.text('//*[@id="no-rates"]')
    assert page.rows["EUR"].converted is not None  # the base currency needs no rate
    assert {c for c, r in page.rows.items() if r.converted is None} == {"USD", "GBP", "JPY"}
    assert not page.complete


def test_a_zero_balance_needs_no_rate(owner_client):
    CashAccountFactory(currency="ISK")  # no line, no rate: 0 ISK
    CashAccountFactory(currency="USD")
    page = page_read(owner_client.get("/").content)
    assert page.rows["ISK"].converted == 0
    assert page.complete


@pytest.mark.parametrize("seed", range(6))
def test_rates_filled_day_by_day_equal_a_lookup_on_each_day(seed):
    """The dashboard computes a rate only on publication days and when the oldest rate
    used ages out of the window; every other day must get exactly what a lookup gives,
    owner overrides and gaps longer than the window included."""
    rng = random.Random(seed)
    start, end = date(2025, 1, 1), date(2025, 6, 30)
    legs, day = [], start - timedelta(days=10)
    while day <= end:
        published = rng.random() < 0.7 and not date(2025, 3, 1) <= day <= date(2025, 3, 20)
        for code in ("USD", "GBP", "JPY"):
            if published and rng.random() < 0.9:
                value = Decimal(rng.randint(5_000, 15_000)) / 10_000
                legs.append(RateLeg(Source.ECB, "EUR", code, value, day))
        if rng.random() < 0.04:
            value = Decimal(rng.randint(10_000, 14_000)) / 10_000
            legs.append(RateLeg(Source.MANUAL, "GBP", "USD", value, day))
        day += timedelta(days=1)
    book = RateBook(
        source=Source.ECB, currencies={"EUR", "USD", "GBP", "JPY"},
        start=start - timedelta(days=10), end=end, window_days=7, legs=legs,
    )  # fmt: skip
    filled, looked_up = DayRates([book], "USD"), DayRates([book], "USD", shared=False)
    filled.fill(["EUR", "GBP", "JPY", "USD"], start, end)
    day, seen = start, set()
    while day <= end:
        for code in ("EUR", "GBP", "JPY", "USD"):
            mine, truth = filled.get(code, day), looked_up.get(code, day)
            if truth is None:
                assert mine is None, (code, day)
                continue
            assert (mine.rate, mine.rate_date, mine.source) == (
                truth.rate, truth.rate_date, truth.source,
            ), (code, day)  # fmt: skip
            seen.add(truth.source)
        day += timedelta(days=1)
    assert {Source.ECB, "IDENTITY"} <= seen


def test_another_source_and_an_owner_override(owner_client, business, owner):
    as_of = date(2025, 8, 15)
    eur = native_balances(as_of)["EUR"]
    Rate.objects.create(
        source=Source.MANUAL, base="EUR", quote="USD", date=date(2025, 8, 15),
        rate=Decimal("1.5"), entered_by=owner, reason="bank's rate",
    )  # fmt: skip
    page = page_read(owner_client.get("/", {"as_of": as_of, "base": "USD"}).content)
    assert page.rows["EUR"].converted == quantize(eur * Decimal("1.5"), "USD", ROUND_HALF_EVEN)
    assert "MANUAL 2025-08-15" in page.rows["EUR"].text  # as recent as the ECB's: it wins
    Rate.objects.filter(source=Source.MANUAL).delete()  # overrides win for every source
    Rate.objects.create(
        source=Source.TREASURY, base="USD", quote="EUR", date=date(2025, 6, 30),
        record_date=date(2025, 6, 30), rate=Decimal("0.8"), source_key="Euro Zone-Euro",
    )  # fmt: skip
    query = {"as_of": as_of, "base": "USD", "source": "TREASURY"}
    page = page_read(owner_client.get("/", query).content)
    row = page.rows["EUR"]
    assert row.converted == quantize(eur / Decimal("0.8"), "USD", ROUND_HALF_EVEN)
    assert "TREASURY 2025-06-30" in row.text
    assert page.rows["GBP"].converted is None  # the Treasury has no GBP row here
