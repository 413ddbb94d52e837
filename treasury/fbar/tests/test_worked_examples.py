"""Worked FBAR examples, each computed by hand in its comments.

Rates are the Treasury's way round, foreign units per 1 USD, so USD = amount ÷ rate; every
account's maximum is rounded UP to the next whole dollar before the aggregate is summed.
Year 2025 is computed as on 2026-02-03 (final: Treasury's December 31 report).
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from accounts.models import BalanceSnapshot
from treasury.fbar.models import MANUAL_SOURCE
from treasury.fbar.selectors import CARRIED_IN, fbar_year, whole_dollars
from treasury.fbar.services import ForeignAccountData, foreign_account_add, manual_balance_set
from treasury.fbar.tests.factories import bank_account, daily, lines, wise_account
from treasury.fx.tests.factories import ecb, treasury

pytestmark = pytest.mark.django_db

DEC31 = date(2025, 12, 31)
TODAY = date(2026, 2, 3)


def year_2025():
    return fbar_year(year=2025, today=TODAY)


def row_of(result, account):
    return next(row for row in result.accounts if row.account.pk == account.pk)


def test_rounding_is_up_to_the_next_whole_dollar():
    assert whole_dollars(Decimal("15265.25")) == 15266  # FinCEN's own example
    assert whole_dollars(Decimal("15265.00")) == 15265
    assert whole_dollars(Decimal("0.01")) == 1
    assert whole_dollars(Decimal("0")) == 0


def test_peaks_on_different_days_add_up():
    # EUR: +7,000 on Mar 10, -6,000 on Mar 20 → peak 7,000.00 EUR on 2025-03-10.
    # GBP: +500 on Feb 1, +2,500 on Sep 1, -2,800 on Sep 15 → peak 3,000.00 GBP on 09-01.
    # Dec 31 rates: EUR 0.85, GBP 0.74 per USD.
    #   EUR 7,000 ÷ 0.85 = 8,235.294… → $8,236
    #   GBP 3,000 ÷ 0.74 = 4,054.054… → $4,055
    #   aggregate $12,291 > $10,000 → FBAR required, though no single day held that much
    #   (Mar 10: 8,236 + 676; Sep 1: 1,177 + 4,055).
    # Running aggregate of maxima: Feb 1: GBP 500 ÷ 0.74 = 675.67 → $676; Mar 10: $8,912
    # ≥ $8,000 (80%) → warned Mar 10; Sep 1: $12,291 > $10,000 → crossed Sep 1.
    treasury(DEC31, "EUR", "0.85")
    treasury(DEC31, "GBP", "0.74")
    eur, gbp = wise_account("EUR"), wise_account("GBP")
    lines(eur, (date(2025, 3, 10), "7000.00"), (date(2025, 3, 20), "-6000.00"))
    lines(
        gbp, (date(2025, 2, 1), "500.00"), (date(2025, 9, 1), "2500.00"),
        (date(2025, 9, 15), "-2800.00"),
    )  # fmt: skip

    result = year_2025()

    eur_row, gbp_row = row_of(result, eur), row_of(result, gbp)
    assert (eur_row.max_amount, eur_row.max_on, eur_row.max_usd) == (
        Decimal("7000.00"), date(2025, 3, 10), 8236,
    )  # fmt: skip
    assert (gbp_row.max_amount, gbp_row.max_on, gbp_row.max_usd) == (
        Decimal("3000.00"), date(2025, 9, 1), 4055,
    )  # fmt: skip
    assert result.aggregate_usd == 12291
    assert result.filing_required
    assert result.warned_on == date(2025, 3, 10)
    assert result.crossed_on == date(2025, 9, 1)
    assert not result.is_estimate
    assert eur_row.rate.source == "TREASURY"
    assert eur_row.rate.record_date == DEC31


def test_a_negative_balance_counts_as_zero():
    # Overdrawn all year: carried in at -100.00, then -500.00 (Feb 1), -300.00 (Mar 1).
    # The highest is -100.00, a negative value, reported as 0 → $0.
    # A second account dips to -200.00 and then holds 300.00: its maximum is 300.00 USD.
    overdrawn = bank_account("USD", name="Overdraft", opening_balance_minor=-10000)
    lines(overdrawn, (date(2025, 2, 1), "-400.00"), (date(2025, 3, 1), "200.00"))
    dips = wise_account("USD")
    lines(dips, (date(2025, 4, 1), "-200.00"), (date(2025, 4, 2), "500.00"))

    result = year_2025()

    row = row_of(result, overdrawn)
    assert (row.max_minor, row.max_usd, row.max_on, row.went_negative) == (0, 0, None, True)
    assert row.year_end_minor == 0  # -300.00 at year end, reported as 0 too
    assert row_of(result, dips).max_usd == 300
    assert result.aggregate_usd == 300


def test_a_jpy_account_has_no_minor_unit():
    # 1,234,567 JPY at 156.2 JPY per USD: 1,234,567 ÷ 156.2 = 7,903.758… → $7,904.
    treasury(DEC31, "JPY", "156.2")
    yen = wise_account("JPY")
    lines(yen, (date(2025, 5, 5), "1234567"), (date(2025, 6, 1), "-1000000"))

    row = row_of(year_2025(), yen)

    assert row.max_minor == 1234567  # yen are whole: minor unit = 1 yen
    assert row.max_amount == Decimal("1234567")
    assert row.max_usd == 7904
    assert row.year_end_minor == 234567  # 1,234,567 - 1,000,000
    assert row.year_end_usd == 1502  # 234,567 ÷ 156.2 = 1,501.70… → $1,502


def test_a_closed_account_counts_its_maximum_and_ends_the_year_at_zero():
    # Closed 2025-06-30 after peaking at 4,000.00 USD on Apr 1 → $4,000 for FBAR; its
    # year-end value (Form 8938) is 0. An account closed in 2024 is not in 2025 at all.
    closed = bank_account("USD", name="Closed in June", closed_on=date(2025, 6, 30))
    lines(closed, (date(2025, 4, 1), "4000.00"), (date(2025, 6, 30), "-3990.00"))
    gone = bank_account("USD", name="Closed in 2024", closed_on=date(2024, 11, 30))
    lines(gone, (date(2024, 3, 1), "9000.00"))

    result = year_2025()

    row = row_of(result, closed)
    assert (row.max_usd, row.year_end_minor, row.year_end_usd) == (4000, 0, 0)
    assert row.is_closed
    assert gone.pk not in {r.account.pk for r in result.accounts}
    assert result.aggregate_usd == 4000
    assert result.form_8938.year_end_usd == 0
    assert result.form_8938.any_time_usd == 4000


def test_a_currency_without_a_treasury_rate_uses_the_ecb_and_says_so():
    # The Treasury has EUR but no ISK for Dec 31. ECB on 2025-12-31: 1 EUR = 1.04 USD and
    # 1 EUR = 145 ISK, so 1 ISK = 1.04 ÷ 145 USD. 1,000,000 ISK x 1.04 ÷ 145 =
    # 7,172.413… → $7,173 (ISK has no minor unit).
    treasury(DEC31, "EUR", "0.85")
    ecb(DEC31, USD="1.04", ISK="145")
    krona = bank_account("ISK", name="Landsbankinn")
    lines(krona, (date(2025, 7, 1), "1000000"))

    row = row_of(year_2025(), krona)

    assert row.rate.source == "ECB"
    assert row.rate.is_fallback
    assert row.rate.rate_date == DEC31
    assert "ECB reference rate" in row.rate.note
    assert row.max_usd == 7173


def test_the_ecb_fallback_takes_the_last_rate_before_a_december_31_holiday():
    # No ECB fix on 2028-12-31 (a Sunday); Friday the 29th's is used: 1 EUR = 1.10 USD,
    # 150 ISK → 300,000 ISK x 1.10 ÷ 150 = 2,200.00 → $2,200 exactly (no rounding up).
    ecb(date(2028, 12, 29), USD="1.10", ISK="150")
    krona = bank_account("ISK")
    lines(krona, (date(2028, 3, 1), "300000"))

    row = row_of(fbar_year(year=2028, today=date(2029, 3, 1)), krona)

    assert (row.rate.source, row.rate.rate_date, row.max_usd) == ("ECB", date(2028, 12, 29), 2200)


def test_a_currency_no_source_prices_is_missing_never_one():
    # XAF: no Treasury, no ECB, no override → no dollar figure, named as missing; the
    # year is incomplete and the aggregate holds only what could be priced.
    usd = wise_account("USD")
    lines(usd, (date(2025, 1, 10), "2000.00"))
    francs = bank_account("XAF")
    lines(francs, (date(2025, 1, 10), "5000000"))

    result = year_2025()

    assert row_of(result, francs).max_usd is None
    assert "XAF" in result.missing_rates
    assert not result.is_complete
    assert result.aggregate_usd == 2000


def test_exactly_ten_thousand_dollars_does_not_require_filing():
    # 10,000.00 USD → $10,000, not MORE than $10,000: no FBAR.
    account = wise_account("USD")
    lines(account, (date(2025, 8, 1), "10000.00"))

    result = year_2025()

    assert result.aggregate_usd == 10000
    assert not result.filing_required
    assert result.crossed_on is None
    assert result.headroom_usd == 0


def test_ten_thousand_and_one_dollars_requires_filing():
    # 10,000.01 USD rounds UP to $10,001 > $10,000: FBAR required from that day.
    account = wise_account("USD")
    lines(account, (date(2025, 8, 1), "10000.00"), (date(2025, 8, 2), "0.01"))

    result = year_2025()

    assert result.aggregate_usd == 10001
    assert result.filing_required
    assert result.crossed_on == date(2025, 8, 2)


def test_ten_thousand_and_one_dollars_across_two_currencies():
    # EUR 5,100.00 ÷ 0.85 = $6,000 exactly; GBP 2,960.37 ÷ 0.74 = 4,000.5 → $4,001.
    # Aggregate $10,001 → required; the same GBP at 2,960.00 → $4,000 → $10,000, not.
    treasury(DEC31, "EUR", "0.85")
    treasury(DEC31, "GBP", "0.74")
    eur, gbp = wise_account("EUR"), wise_account("GBP")
    lines(eur, (date(2025, 2, 1), "5100.00"))
    lines(gbp, (date(2025, 2, 1), "2960.00"))
    assert (year_2025().aggregate_usd, year_2025().filing_required) == (10000, False)

    lines(gbp, (date(2025, 2, 2), "0.37"))

    assert (year_2025().aggregate_usd, year_2025().filing_required) == (10001, True)


def test_only_an_account_added_by_hand_tips_the_year_over():
    # Wise EUR peaks at 7,650.00 EUR: ÷ 0.85 = $9,000 exactly — under the line alone.
    # The owner adds a Sparkasse account with month-end balances entered by hand:
    # Oct 31: 800.00 EUR (÷ 0.85 = 941.18 → $942: $9,942, still under), Nov 30:
    # 1,700.00 EUR (÷ 0.85 = $2,000). Aggregate $9,000 + $2,000 = $11,000 > $10,000 →
    # required, crossed on Nov 30.
    treasury(DEC31, "EUR", "0.85")
    wise = wise_account("EUR")
    lines(wise, (date(2025, 6, 1), "7650.00"), (date(2025, 6, 20), "-7000.00"))
    before = year_2025()
    assert (before.aggregate_usd, before.filing_required) == (9000, False)

    account = foreign_account_add(
        data=ForeignAccountData(
            name="Sparkasse Giro", institution_name="Berliner Sparkasse",
            institution_address="Alexanderplatz 2, 10178 Berlin", country="DE",
            account_number="DE89 3704 0044 0532 0130 00", account_type="BANK", currency="EUR",
            opened_on=date(2025, 10, 1), closed_on=None,
        ),
        user=None,
    )  # fmt: skip
    manual_balance_set(account=account, year=2025, month=10, balance=Decimal("800.00"), today=TODAY)
    manual_balance_set(
        account=account, year=2025, month=11, balance=Decimal("1700.00"), today=TODAY
    )

    result = year_2025()

    row = row_of(result, account)
    assert (row.max_amount, row.max_on, row.max_usd) == (
        Decimal("1700.00"),
        date(2025, 11, 30),
        2000,
    )
    assert row.max_origin == "entered by hand"
    assert row.added_here
    assert result.aggregate_usd == 11000
    assert result.filing_required
    assert result.crossed_on == date(2025, 11, 30)
    snapshot = BalanceSnapshot.objects.get(account=account, balance_minor=170000)
    assert snapshot.source == MANUAL_SOURCE
    assert snapshot.taken_at.isoformat() == "2025-11-30T23:59:59+00:00"


def test_the_balance_carried_into_january_first_counts():
    # 9,000.00 USD held since 2024 (the latest 2024 closing), all spent on Jan 15, 2025:
    # the 2025 maximum is the 9,000.00 carried into Jan 1.
    account = wise_account("USD")
    daily(account, date(2024, 12, 20), 900000)
    daily(account, date(2025, 1, 15), 0)

    row = row_of(year_2025(), account)

    assert (row.max_usd, row.max_on, row.max_origin) == (9000, date(2025, 1, 1), CARRIED_IN)


def test_not_foreign_accounts_are_listed_but_not_counted():
    # A U.S. bank account of 50,000.00 USD, flagged not foreign by the owner.
    home = wise_account("USD", foreign=False)
    lines(home, (date(2025, 3, 1), "50000.00"))

    result = year_2025()

    assert row_of(result, home).max_usd == 50000
    assert result.aggregate_usd == 0
    assert result.not_foreign
    assert not result.foreign


def test_a_year_whose_december_report_is_not_out_yet_is_an_estimate():
    # On 2026-01-03 the Treasury has not published its 2025-12-31 report: the latest
    # report (2025-09-30, EUR 0.86) prices the year, marked as an estimate.
    # 8,600.00 EUR ÷ 0.86 = $10,000 → not over.
    treasury(date(2025, 9, 30), "EUR", "0.86")
    eur = wise_account("EUR")
    lines(eur, (date(2025, 10, 1), "8600.00"))

    result = fbar_year(year=2025, today=date(2026, 1, 3))

    assert not result.is_current
    assert result.is_estimate
    assert row_of(result, eur).rate.record_date == date(2025, 9, 30)
    assert row_of(result, eur).max_usd == 10000


def test_the_current_year_runs_to_today_at_the_latest_treasury_rate():
    # On 2025-07-15 the latest report is 2025-06-30 (EUR 0.877): 7,016.00 EUR ÷ 0.877 =
    # $8,000 exactly → 80% reached; headroom $2,000. A line dated after today is ignored.
    treasury(date(2025, 3, 31), "EUR", "0.92")
    treasury(date(2025, 6, 30), "EUR", "0.877")
    eur = wise_account("EUR")
    lines(eur, (date(2025, 7, 1), "7016.00"), (date(2025, 8, 1), "5000.00"))

    result = fbar_year(year=2025, today=date(2025, 7, 15))

    assert result.is_current
    assert result.is_estimate
    assert result.as_of == date(2025, 7, 15)
    assert result.aggregate_usd == 8000
    assert result.headroom_usd == 2000
    assert result.warned_on == date(2025, 7, 1)
    assert result.crossed_on is None
    assert row_of(result, eur).rate.is_estimate


def test_snapshots_reported_by_the_institution_count_too():
    # Daily closings top out at 3,000.00; Wise reported 3,500.00 at a sync on Jun 2
    # (a line not imported yet): the higher, reported figure is the maximum.
    account = wise_account("USD")
    lines(account, (date(2025, 6, 1), "3000.00"))
    BalanceSnapshot.objects.create(
        account=account, taken_at=date_at(date(2025, 6, 2)), balance_minor=350000, source="WISE"
    )

    row = row_of(year_2025(), account)

    assert (row.max_usd, row.max_origin) == (3500, "reported by Wise")


def date_at(day: date):
    from datetime import UTC, datetime, time

    return datetime.combine(day, time(9, 30), tzinfo=UTC)


def test_queries_do_not_grow_with_accounts_or_days(django_assert_max_num_queries):
    # accounts (with carried-in balances), daily rows, snapshots, settings, Treasury
    # rates, the report check: six, for 1 account or 12, a day or a year.
    treasury(DEC31, "EUR", "0.85")
    for n in range(12):
        account = wise_account("EUR" if n % 2 else "USD")
        for month in range(1, 13):
            daily(account, date(2025, month, 10), 1000 * n * month)
    with django_assert_max_num_queries(6):
        result = year_2025()
    assert len(result.accounts) == 12


def test_two_reported_balances_on_one_day_both_count():
    # Wise reported the EUR balance twice on 2025-06-30: 4,000.00 at 09:00 and 9,000.00 at
    # 17:00 (no lines that year). Dec 31 rate 0.9 per USD: 9,000 ÷ 0.9 = $10,000 exactly →
    # not over the line; the maximum is the later, higher report.
    treasury(DEC31, "EUR", "0.9")
    eur = wise_account("EUR")
    for hour, amount in ((17, 900000), (9, 400000)):
        BalanceSnapshot.objects.create(
            account=eur, balance_minor=amount,
            taken_at=datetime(2025, 6, 30, hour, tzinfo=UTC),
        )  # fmt: skip

    result = year_2025()

    row = row_of(result, eur)
    assert (row.max_amount, row.max_on, row.max_usd) == (
        Decimal("9000.00"),
        date(2025, 6, 30),
        10000,
    )
    assert not result.filing_required
