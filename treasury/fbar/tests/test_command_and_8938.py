"""`manage.py fbar_report`, and the Form 8938 thresholds by filing status and residence."""

import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from treasury.fbar.selectors import fbar_year
from treasury.fbar.services import fbar_settings_save
from treasury.fbar.tests.factories import bank_account, lines, wise_account
from treasury.fx.tests.factories import treasury

pytestmark = pytest.mark.django_db

DEC31 = date(2025, 12, 31)


def report(*args: str) -> tuple[list[str], dict]:
    out = io.StringIO()
    call_command("fbar_report", *args, stdout=out)
    printed = out.getvalue().splitlines()
    return printed, json.loads(printed[-1])


def test_fbar_report_prints_the_table_and_a_final_json_line():
    # EUR 7,000.00 ÷ 0.85 → $8,236; Sparkasse EUR 3,000.00 ÷ 0.85 → $3,530: $11,766.
    treasury(DEC31, "EUR", "0.85")
    lines(wise_account("EUR"), (date(2025, 3, 10), "7000.00"))
    lines(bank_account("EUR"), (date(2025, 9, 1), "3000.00"))

    printed, figures = report("2025", "--today", "2026-02-03")

    text = "\n".join(printed)
    assert "FBAR 2025: balances up to 2025-12-31 (final)" in text
    assert "Berliner Sparkasse" in text
    assert "•••• 3000" in text
    assert "DE89370400440532013000" not in text
    assert "$8,236" in text
    assert "0.85 2025-12-31 TREASURY" in text  # rate per USD, its date and source
    assert figures["aggregate_usd"] == 11766
    assert figures["filing_required"] is True
    assert figures["crossed_on"] == "2025-09-01"
    assert (figures["due"], figures["extended_due"]) == ("2026-04-15", "2026-10-15")
    assert figures["is_estimate"] is False


def test_fbar_report_whole_numbers_on_request_and_bad_years():
    lines(bank_account("USD"), (date(2025, 3, 10), "10000.00"))
    printed, figures = report("2025", "--today", "2026-02-03", "--show-numbers")
    assert "DE89370400440532013000" in "\n".join(printed)
    assert (figures["aggregate_usd"], figures["filing_required"]) == (10000, False)
    with pytest.raises(CommandError, match="Year 2027 is not between 2000 and 2026"):
        report("2027", "--today", "2026-02-03")


@pytest.mark.parametrize(
    ("status", "residence", "year_end", "any_time"),
    [
        ("SINGLE", "US", 50_000, 75_000),
        ("MFS", "US", 50_000, 75_000),
        ("MFJ", "US", 100_000, 150_000),
        ("SINGLE", "ABROAD", 200_000, 300_000),
        ("MFJ", "ABROAD", 400_000, 600_000),
    ],
)
def test_form_8938_thresholds_follow_the_owners_settings(status, residence, year_end, any_time):
    fbar_settings_save(is_us_person=True, filing_status=status, residence=residence, user=None)
    limits = fbar_year(year=2025, today=date(2026, 2, 3)).form_8938.thresholds
    assert (limits.year_end_usd, limits.any_time_usd) == (year_end, any_time)


def test_form_8938_either_value_triggers_it():
    # Single, in the U.S.: year end > $50,000 or any time > $75,000.
    # Account A peaks at 80,000.00 USD in March, ends the year at 20,000.00: any time
    # $80,000 > $75,000 → required though the year end ($20,000) is under $50,000.
    account = wise_account("USD")
    lines(account, (date(2025, 3, 1), "80000.00"), (date(2025, 4, 1), "-60000.00"))
    form = fbar_year(year=2025, today=date(2026, 2, 3)).form_8938
    assert (form.year_end_usd, form.any_time_usd) == (20000, 80000)
    assert not form.year_end_over
    assert form.any_time_over
    assert form.required

    # Married filing jointly in the U.S. ($100,000 / $150,000): neither → not required.
    fbar_settings_save(is_us_person=True, filing_status="MFJ", residence="US", user=None)
    assert not fbar_year(year=2025, today=date(2026, 2, 3)).form_8938.required


def test_form_8938_year_end_values_on_the_same_december_rates():
    # 51,000.00 EUR held at year end, 0.85 per USD → $60,000: over $50,000 at year end.
    treasury(DEC31, "EUR", "0.85")
    lines(wise_account("EUR"), (date(2025, 12, 1), "51000.00"))
    form = fbar_year(year=2025, today=date(2026, 2, 3)).form_8938
    assert (form.year_end_usd, form.any_time_usd) == (60000, 60000)
    assert form.year_end_over
    assert form.required
