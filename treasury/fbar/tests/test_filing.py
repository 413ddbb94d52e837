"""What an owner and an accountant meet on the FBAR pages at filing time, through HTTP:
Form 8938 without a rate, the deadline passing, the filing recorded, years with nothing
to report, a zero balance in an unpriced currency, who holds a Wise balance, and the
file names of the two copies."""

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from treasury.fbar.models import FbarFiling
from treasury.fbar.services import fbar_monitor_run
from treasury.fbar.tests.factories import bank_account, lines, wise_account
from treasury.fx.tests.factories import treasury

pytestmark = pytest.mark.django_db
DEC31 = date(2025, 12, 31)


def on(day: date):
    return time_machine.travel(datetime.combine(day, datetime.min.time(), UTC), tick=False)


def csv_rows(response) -> dict[str, str]:
    rows = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    return {row[0]: row[1] for row in rows if len(row) == 2}


def test_form_8938_is_undetermined_when_a_counted_account_has_no_rate(owner_client):
    treasury(DEC31, "EUR", "0.85")
    lines(wise_account("EUR"), (date(2025, 3, 10), "7000.00"))
    lines(bank_account("ISK"), (date(2025, 6, 1), "900000"))  # no Treasury, ECB or override
    with on(date(2026, 2, 3)):
        page = owner_client.get("/fbar/2025/").content.decode()
        sheet = csv_rows(owner_client.get(reverse("fbar:export", args=[2025, "csv"])))
        out = io.StringIO()
        call_command("fbar_report", "2025", stdout=out)
    assert 'id="form-8938-result" data-status="undetermined"' in page
    assert "Form 8938: undetermined." in page
    assert "Form 8938 is not required" not in page
    assert sheet["Form 8938 required"] == "not yet determined: some accounts have no rate"
    figures = json.loads(out.getvalue().splitlines()[-1])
    assert (figures["form_8938_status"], figures["form_8938_required"]) == ("undetermined", None)


def test_the_deadline_passes_then_the_owner_records_the_filing(owner_client, accountant_client):
    treasury(DEC31, "EUR", "0.85")
    lines(wise_account("EUR"), (date(2025, 3, 10), "12000.00"))  # $14,118: required
    with on(date(2026, 5, 1)):
        page = owner_client.get("/fbar/2025/").content.decode()
        assert 'data-state="extended">Due 2026-10-15<' in page
    with on(date(2026, 10, 20)):
        fbar_monitor_run()
        page = owner_client.get("/fbar/2025/").content.decode()
        assert 'data-state="overdue">Overdue since 2026-10-16<' in page
        home = owner_client.get("/").content.decode()
        assert 'data-key="fbar.previous" data-level="error"' in home
        assert "FinCEN 114 overdue since 2026-10-16" in home
        refused = accountant_client.post(
            "/fbar/filing/", {"year": "2025", "filed_on": "2026-10-19"}
        )
        assert refused.status_code == 403
        future = owner_client.post("/fbar/filing/", {"year": "2025", "filed_on": "2026-10-21"})
        assert future.status_code == 302
        assert not FbarFiling.objects.exists()
        owner_client.post(
            "/fbar/filing/", {"year": "2025", "filed_on": "2026-10-19", "reference": "BSA-123"}
        )
        page = owner_client.get("/fbar/2025/").content.decode()
        assert 'data-state="filed">Filed on 2026-10-19<' in page
        assert "Confirmation BSA-123." in page
        assert 'data-key="fbar.previous"' not in owner_client.get("/").content.decode()


def test_years_before_any_data_are_not_offered_and_a_zero_balance_needs_no_rate(owner_client):
    # An ISK account that held nothing in 2025 and was paid in 2026: no rate anywhere.
    account = bank_account("ISK", opened_on=date(2025, 1, 1))
    lines(account, (date(2026, 1, 10), "1000"))
    with on(date(2026, 2, 3)):
        page = owner_client.get("/fbar/2025/").content.decode()
        assert owner_client.get("/fbar/2024/").status_code == 404
        assert owner_client.get("/fbar/0/").status_code == 404
    assert 'href="/fbar/2024/"' not in page
    assert 'href="/fbar/2026/"' in page
    assert "Undetermined" not in page
    assert "No rate for ISK" not in page
    assert 'id="filing">Not required' in page


def test_each_wise_account_says_who_holds_it_and_that_the_choice_is_the_owners(owner_client):
    lines(wise_account("EUR"), (date(2025, 3, 10), "10.00"))
    with on(date(2026, 2, 3)):
        page = owner_client.get("/fbar/2025/").content.decode()
    assert "Held by Wise Europe SA (BE): your decision" in page
    assert "outside the United States" in page
    assert "the choice is yours" in page.lower()


def test_the_masked_copy_has_its_own_file_name(owner_client, accountant_client):
    lines(bank_account("EUR"), (date(2025, 9, 1), "3000.00"))
    url = reverse("fbar:export", args=[2025, "csv"])
    with on(date(2026, 2, 3)):
        whole = owner_client.get(url)["Content-Disposition"]
        for_accountant = owner_client.get(url, {"copy": "accountant"})["Content-Disposition"]
        accountants = accountant_client.get(url)["Content-Disposition"]
    assert whole == 'attachment; filename="2026-02-03_fbar_2025.csv"'
    assert for_accountant == accountants == 'attachment; filename="2026-02-03_fbar_2025_masked.csv"'
