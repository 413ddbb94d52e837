"""TARGET days and quarter ends; the rate-date policy and the note pages show."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from treasury.fx.calendar import (
    ecb_latest_publication,
    is_target_day,
    previous_target_day,
    quarter_end,
    quarter_ends,
    target_days,
)
from treasury.fx.convert import Conversion
from treasury.fx.policy import RateDatePolicy, policy_note, rate_date_for
from treasury.fx.templatetags.fx import fx_amount, fx_change, fx_rate


def test_target_holidays_2024():
    closed = [date(2024, 1, 1), date(2024, 3, 29), date(2024, 4, 1), date(2024, 5, 1)]
    closed += [date(2024, 12, 25), date(2024, 12, 26)]
    assert not any(is_target_day(d) for d in closed)
    assert is_target_day(date(2024, 3, 28))
    assert is_target_day(date(2024, 12, 24))
    assert len(list(target_days(date(2024, 1, 1), date(2024, 12, 31)))) == 256
    assert previous_target_day(date(2024, 4, 2)) == date(2024, 3, 28)


def test_latest_publication_follows_frankfurt_time():
    assert ecb_latest_publication(datetime(2024, 7, 1, 14, 29, tzinfo=UTC)) == date(2024, 6, 28)
    assert ecb_latest_publication(datetime(2024, 7, 1, 14, 31, tzinfo=UTC)) == date(2024, 7, 1)
    assert ecb_latest_publication(datetime(2024, 1, 8, 15, 31, tzinfo=UTC)) == date(2024, 1, 8)
    assert ecb_latest_publication(datetime(2024, 1, 8, 15, 29, tzinfo=UTC)) == date(2024, 1, 5)


def test_quarter_ends():
    assert quarter_end(date(2024, 2, 29)) == date(2024, 3, 31)
    assert quarter_end(date(2024, 12, 1)) == date(2024, 12, 31)
    assert list(quarter_ends(date(2024, 3, 31), date(2024, 12, 30))) == [
        date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30),
    ]  # fmt: skip


def test_rate_date_policies_are_hledgers_then_end_now():
    then, end, today = date(2025, 3, 4), date(2025, 3, 31), date(2025, 6, 30)
    kwargs = {"transaction_date": then, "period_end": end, "today": today}
    assert rate_date_for(RateDatePolicy.TRANSACTION_DATE, **kwargs) == then
    assert rate_date_for(RateDatePolicy.PERIOD_END, **kwargs) == end
    assert rate_date_for(RateDatePolicy.TODAY, **kwargs) == today
    assert [p.value for p in RateDatePolicy] == ["then", "end", "now"]
    assert RateDatePolicy.parse("end", RateDatePolicy.TODAY) == RateDatePolicy.PERIOD_END
    assert RateDatePolicy.parse("bogus", RateDatePolicy.TODAY) == RateDatePolicy.TODAY
    with pytest.raises(ValueError, match="period's last day"):
        rate_date_for(RateDatePolicy.PERIOD_END, transaction_date=then)


def test_policy_note_names_policy_source_direction_and_window():
    note = policy_note(RateDatePolicy.PERIOD_END, source="TREASURY", rate_date=date(2024, 12, 31))
    html = render_to_string("fx/_policy_note.html", {"note": note})
    assert 'data-policy="end" data-source="TREASURY"' in html
    assert "U.S. Treasury reporting rates · Period end" in html
    assert "foreign units per 1 USD" in html
    assert "(2024-12-31)" in html
    assert "at most 100 days older" in html


def test_template_helpers_show_provenance():
    conversion = Conversion(
        amount=Decimal("15266.4004"), currency="USD", rate=Decimal("1.04058272632674"),
        rate_date=date(2024, 12, 31), source="TREASURY", via=None, original=Decimal("14671"),
        original_currency="EUR", on=date(2024, 12, 31),
    )  # fmt: skip
    html = fx_amount(conversion)
    assert ">15,266.40 USD<" in html
    assert 'title="1 EUR = 1.040583 USD · TREASURY 2024-12-31"' in html
    assert "no rate" in fx_amount(None)
    assert fx_rate(Decimal("171.940000000000")) == "171.94"
    assert fx_change(Decimal("0.1234")) == "+0.12%"
    assert fx_change(Decimal("-2.5")) == "-2.50%"
