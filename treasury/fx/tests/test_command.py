"""`manage.py fetch_rates` against the simulators."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from treasury.fx.models import Rate

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("fetch_rates", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_fetch_rates_backfills_then_reports_up_to_date(ecb_simulator, treasury_simulator):
    first = run("--source", "ECB", "--source", "TREASURY")
    assert "ECB: ECB (full history):" in first
    assert "TREASURY: TREASURY (since 2001-03-31):" in first
    assert Rate.objects.filter(source="ECB").count() == sum(len(r) for _, r in ecb_simulator.days())
    again = run("--source", "TREASURY")
    assert "nothing new" in again


def test_fetch_rates_since_and_its_errors(ecb_simulator):
    output = run("--source", "ECB", "--since", "2025-06-01")
    assert "2025-06-02 to 2025-06-30" in output  # 1 June 2025 was a Sunday
    assert str(Rate.objects.order_by("date").first().date) == "2025-06-02"
    with pytest.raises(CommandError, match="not a date"):
        run("--since", "yesterday")
    ecb_simulator.set_faults(error_rate=1.0)
    with pytest.raises(CommandError, match="Failed: ECB"):
        run("--source", "ECB")


def test_fetch_rates_without_wise_says_so(ecb_simulator, treasury_simulator):
    assert "Wise is not connected. (skipped)" in run("--source", "WISE")
