"""The FBAR pages through HTTP: what the owner and the accountant see, the forms and
their refusals, the downloads, and a pinned query count."""

import base64
import csv
import io
import re
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts.models import BalanceSnapshot, CashAccount, Institution
from treasury.fbar.models import FbarAccount, FbarSettings
from treasury.fbar.tests.factories import bank_account, lines, wise_account
from treasury.fx.tests.factories import ecb, treasury

pytestmark = pytest.mark.django_db

DEC31 = date(2025, 12, 31)
NUMBER = "DE89370400440532013000"


@pytest.fixture(autouse=True)
def _today():
    """Pages run on 2026-02-03: 2025 is final and the default year (due April 15)."""
    with time_machine.travel(datetime(2026, 2, 3, 10, 0, tzinfo=UTC), tick=False):
        yield


def seed() -> tuple[CashAccount, CashAccount]:
    # Wise EUR 7,000.00 ÷ 0.85 = 8,235.29 → $8,236; Sparkasse EUR 3,000.00 ÷ 0.85 =
    # 3,529.41 → $3,530. Aggregate $11,766: required.
    treasury(DEC31, "EUR", "0.85")
    wise = wise_account("EUR", account_number="BE12 9670 1234 5678")
    lines(wise, (date(2025, 3, 10), "7000.00"))
    bank = bank_account("EUR")
    lines(bank, (date(2025, 9, 1), "3000.00"))
    return wise, bank


def test_the_report_url_names():
    assert reverse("fbar:report") == "/fbar/"
    assert reverse("fbar:report-year", args=[2025]) == "/fbar/2025/"
    assert reverse("fbar:export", args=[2025, "csv"]) == "/fbar/2025/export.csv"


def test_empty_state_explains_where_accounts_come_from(owner_client, accountant_client):
    # Nothing stored yet: only this year is offered, and it is empty.
    page = owner_client.get("/fbar/").content.decode()
    assert "No accounts in 2026" in page
    assert "Add a foreign account" in page
    assert "$0" in page
    readonly = accountant_client.get("/fbar/").content.decode()
    assert "No accounts in 2026" in readonly
    assert "the owner adds them" in readonly


def test_owner_sees_the_worksheet_with_masked_numbers_and_the_forms(owner_client):
    seed()
    page = owner_client.get("/fbar/").content.decode()  # default: 2025 until Oct 15, 2026
    assert "FBAR and Form 8938 · 2025" in page
    assert 'id="aggregate">$11,766<' in page
    assert "Required" in page
    assert "$8,236" in page
    assert "$3,530" in page
    assert "•••• 3000" in page
    assert "•••• 5678" in page
    assert NUMBER not in page  # masked on screen, owner included
    assert "2026-04-15" in page
    assert "2026-10-15" in page
    assert "Mark not foreign" in page
    assert 'action="/fbar/settings/"' in page
    assert "U.S. Treasury Reporting Rate (rate for December 31" in page


def test_accountant_sees_the_same_figures_and_no_forms(accountant_client):
    seed()
    page = accountant_client.get("/fbar/2025/").content.decode()
    assert 'id="aggregate">$11,766<' in page
    assert "•••• 3000" in page
    assert NUMBER not in page
    assert page.count("<form") == 1  # only the sign-out form of the page frame
    assert "Mark not foreign" not in page
    assert "Add a foreign account" not in page
    assert "for your accountant" not in page


def test_report_page_query_count_is_pinned_and_flat(owner_client, django_assert_num_queries):
    seed()
    # session, user, then: the first year with data, accounts, daily rows, reported
    # balances, settings, Treasury rates, the year's filing, this year's monitor result,
    # the year's alerts.
    with django_assert_num_queries(11):
        owner_client.get("/fbar/2025/")
    for n in range(6):
        lines(wise_account("USD" if n % 2 else "EUR"), (date(2025, 4, n + 1), "100.00"))
    with django_assert_num_queries(11):
        response = owner_client.get("/fbar/2025/")
    assert response.status_code == 200


def test_a_year_outside_the_range_is_not_found(owner_client):
    lines(wise_account("USD"), (date(2024, 3, 1), "10.00"))  # data from 2024 on
    assert owner_client.get("/fbar/0/").status_code == 404
    assert owner_client.get("/fbar/?year=0").status_code == 404
    assert owner_client.get("/fbar/2023/").status_code == 404  # before any data
    assert owner_client.get("/fbar/1999/").status_code == 404
    assert owner_client.get("/fbar/2027/").status_code == 404
    assert owner_client.get("/fbar/?year=abc").status_code == 400  # a wrong query: named
    assert owner_client.get("/fbar/?year=2024").status_code == 200


def test_the_current_year_is_labelled_an_estimate(owner_client):
    treasury(date(2025, 12, 31), "EUR", "0.85")
    lines(wise_account("EUR"), (date(2026, 1, 20), "850.00"))
    page = owner_client.get("/fbar/2026/").content.decode()
    assert "<strong>Estimate.</strong> 2026 is not over" in page
    assert 'id="aggregate">$1,000<' in page


def test_the_page_shows_a_fallback_rate_and_its_source(owner_client):
    ecb(DEC31, USD="1.04", ISK="145")
    lines(bank_account("ISK"), (date(2025, 7, 1), "1000000"))
    page = owner_client.get("/fbar/2025/").content.decode()
    assert "fallback" in page
    assert "ECB reference rate crossed through EUR" in page
    assert "$7,173" in page


def test_the_flag_toggle_returns_the_recomputed_worksheet(owner_client):
    wise, _ = seed()
    response = owner_client.post(
        reverse("fbar:account-flag", args=[wise.pk]), {"is_foreign": "0", "year": "2025"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="worksheet",
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="worksheet">')
    assert 'id="aggregate">$3,530<' in html  # only the Sparkasse account is counted now
    # Form 8938 lives in the same region: its values follow (any time = $3,530).
    assert re.search(r"Any time in the year</td><td class=\"num\">\$3,530<", html)
    wise.refresh_from_db()
    assert not wise.is_foreign_for_fbar
    assert FbarAccount.objects.get(account=wise).flag_decided_at is not None


def test_undecided_accounts_are_flagged_for_a_decision(owner_client):
    wise = CashAccount.objects.create(
        institution=Institution.objects.create(name="Wise", kind="WISE"), name="GBP",
        currency="GBP", opened_on=date(2025, 1, 1),
    )  # fmt: skip
    page = owner_client.get("/fbar/2025/").content.decode()
    assert "1 account to decide." in page
    assert "depends on the Wise entity holding it" in page
    owner_client.post(
        reverse("fbar:account-flag", args=[wise.pk]), {"is_foreign": "1", "year": "2025"}
    )
    assert "to decide." not in owner_client.get("/fbar/2025/").content.decode()


def test_settings_change_the_form_8938_thresholds(owner_client):
    seed()
    response = owner_client.post(
        reverse("fbar:settings"),
        {"is_us_person": "on", "filing_status": "MFJ", "residence": "ABROAD", "year": "2025"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="worksheet",
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert "more than $400,000" in html
    assert "more than $600,000" in html
    saved = FbarSettings.objects.get()
    assert (saved.filing_status, saved.residence) == ("MFJ", "ABROAD")


def test_bad_settings_are_refused_and_nothing_changes(owner_client):
    response = owner_client.post(reverse("fbar:settings"), {"filing_status": "WIDOW"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not FbarSettings.objects.exists()


def test_the_accountant_cannot_change_settings(accountant_client):
    response = accountant_client.post(reverse("fbar:settings"), {"filing_status": "MFJ"})
    assert response.status_code == 403
    assert not FbarSettings.objects.exists()


ADD = {
    "name": "Sparkasse Giro", "institution_name": "Berliner Sparkasse",
    "institution_address": "Alexanderplatz 2\n10178 Berlin\nGermany", "country": "de",
    "account_number": NUMBER, "account_type": "BANK", "currency": "eur",
    "opened_on": "2024-05-01", "closed_on": "", "is_foreign": "on",
}  # fmt: skip


def test_owner_adds_a_foreign_account_then_its_month_end_balances(owner_client):
    response = owner_client.post(reverse("fbar:account-add"), ADD)
    account = CashAccount.objects.get(name="Sparkasse Giro")
    assert response.status_code == 302
    assert response["Location"] == reverse("fbar:account", args=[account.pk])
    assert (account.currency, account.institution.kind, account.institution.country) == (
        "EUR", "BANK", "DE",
    )  # fmt: skip
    assert account.account_number == NUMBER
    assert account.is_foreign_for_fbar
    assert account.fbar_details.added_here

    url = reverse("fbar:balance-add", args=[account.pk])
    assert (
        owner_client.post(url, {"year": 2025, "month": 11, "balance": "1700.00"}).status_code == 302
    )
    assert (
        owner_client.post(url, {"year": 2025, "month": 11, "balance": "1750.00"}).status_code == 302
    )
    (snapshot,) = BalanceSnapshot.objects.filter(account=account)  # replaced, not added
    assert snapshot.balance == Decimal("1750.00")
    assert snapshot.source == "MANUAL"
    page = owner_client.get(reverse("fbar:account", args=[account.pk])).content.decode()
    assert "1,750.00 EUR" in page
    assert "2025-11-30" in page


def test_bad_account_input_is_named_and_nothing_is_stored(owner_client):
    bad = {**ADD, "currency": "EUX", "closed_on": "2024-01-01"}
    response = owner_client.post(reverse("fbar:account-add"), bad)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Unknown currency code" in html
    assert "cannot close before it opened" in html
    assert not CashAccount.objects.exists()
    assert not Institution.objects.exists()


def test_month_end_balances_refuse_an_unended_month_and_an_inexact_amount(owner_client):
    yen = bank_account("JPY")
    url = reverse("fbar:balance-add", args=[yen.pk])
    future = owner_client.post(url, {"year": 2026, "month": 2, "balance": "100"})
    assert future.status_code == 400
    assert "2026-02 has not ended" in future.content.decode()
    inexact = owner_client.post(url, {"year": 2026, "month": 1, "balance": "100.5"})
    assert inexact.status_code == 400
    assert "100.5 JPY has more than 0 decimals" in inexact.content.decode()
    assert not BalanceSnapshot.objects.exists()


def test_wise_balances_take_no_hand_entered_balance(owner_client):
    wise = wise_account("EUR")
    response = owner_client.post(
        reverse("fbar:balance-add", args=[wise.pk]), {"year": 2025, "month": 1, "balance": "1"}
    )
    assert response.status_code == 400
    assert "Wise balances come from Wise" in response.content.decode()


def test_a_wise_account_edit_keeps_its_name_and_sets_the_fbar_details(owner_client):
    wise = wise_account("EUR")
    data = {
        **ADD, "name": "Renamed", "institution_name": "Other", "account_type": "OTHER",
        "institution_address": "Avenue Louise 54, 1050 Brussels", "country": "BE",
        "account_number": "BE12 9670 1234 5678", "is_foreign": "",
    }  # fmt: skip
    response = owner_client.post(reverse("fbar:account", args=[wise.pk]), data)
    assert response.status_code == 302
    wise.refresh_from_db()
    assert wise.name == "EUR balance"
    assert wise.currency == "EUR"
    assert wise.institution.address == "Avenue Louise 54, 1050 Brussels"
    assert wise.account_number == "BE12 9670 1234 5678"
    assert not wise.is_foreign_for_fbar
    assert wise.fbar_details.account_type == "OTHER"


def test_the_edit_form_never_shows_the_whole_number_and_empty_keeps_it(owner_client):
    _, bank = seed()
    url = reverse("fbar:account", args=[bank.pk])
    page = owner_client.get(url).content.decode()
    assert "New account number (now •••• 3000)" in page
    assert NUMBER not in page
    data = {**ADD, "account_number": "", "account_type": "SECURITIES"}
    assert owner_client.post(url, data).status_code == 302
    bank.refresh_from_db()
    assert bank.account_number == NUMBER
    assert bank.fbar_details.account_type == "SECURITIES"


def test_accountant_sees_an_account_without_its_whole_number(accountant_client):
    _, bank = seed()
    page = accountant_client.get(reverse("fbar:account", args=[bank.pk])).content.decode()
    assert "•••• 3000" in page
    assert NUMBER not in page
    assert page.count("<form") == 1


# --- downloads -----------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_download_for_the_owner_has_whole_numbers(owner_client):
    seed()
    response = owner_client.get(reverse("fbar:export", args=[2025, "csv"]))
    assert response["Content-Disposition"] == 'attachment; filename="2026-02-03_fbar_2025.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    summary = dict(row for row in rows if len(row) == 2)
    assert summary["Aggregate of maximum values (USD)"] == "11766"
    assert summary["FinCEN 114 required"] == "yes"
    assert summary["Due"] == "2026-04-15; extended automatically to 2026-10-15"
    assert summary["Form 8938 required"] == "no"
    header = rows.index(next(c for c in rows if c and c[0] == "Account"))
    table = [dict(zip(rows[header], row, strict=True)) for row in rows[header + 1 :]]
    sparkasse = next(row for row in table if row["Financial institution"] == "Berliner Sparkasse")
    assert sparkasse["Account number"] == NUMBER
    assert sparkasse["Institution address"] == "Alexanderplatz 2, 10178 Berlin, Germany"
    assert sparkasse["Maximum value (currency)"] == "3000.00"
    assert sparkasse["Maximum value (USD, rounded up)"] == "3530"
    assert (sparkasse["Rate (currency per USD)"], sparkasse["Rate date"]) == ("0.85", "2025-12-31")
    assert sparkasse["Rate source"] == "U.S. Treasury reporting rates"
    assert sparkasse["Type"] == "Bank"


def test_csv_for_the_accountant_is_masked_both_ways(owner_client, accountant_client):
    seed()
    for response in (
        accountant_client.get(reverse("fbar:export", args=[2025, "csv"])),
        owner_client.get(reverse("fbar:export", args=[2025, "csv"]) + "?copy=accountant"),
    ):
        body = response.content.decode("utf-8-sig")
        assert NUMBER not in body
        assert "•••• 3000" in body
        assert "masked" in body


def test_csv_cells_never_run_as_spreadsheet_formulas(owner_client):
    lines(wise_account("USD", name='=HYPERLINK("http://evil.example","x")'), (DEC31, "5.00"))
    rows = csv_rows(owner_client.get(reverse("fbar:export", args=[2025, "csv"])))
    assert [r[0] for r in rows if r and "evil" in r[0]] == [
        '\'=HYPERLINK("http://evil.example","x")'
    ]


def pdf_text(content: bytes) -> str:
    """The text a reportlab PDF draws: its content streams are ASCII85 over Flate."""
    text = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", content, re.DOTALL):
        stream = stream.strip()
        if stream.endswith(b"~>"):
            text.append(zlib.decompress(base64.a85decode(stream, adobe=True)).decode("latin-1"))
    return " ".join(re.findall(r"\((.*?)\) Tj", "".join(text)))


def test_pdf_download_name_and_contents(owner_client, accountant_client):
    seed()
    response = owner_client.get(reverse("fbar:export", args=[2025, "pdf"]))
    assert response["Content-Disposition"] == 'attachment; filename="2026-02-03_fbar_2025.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert "FinCEN 114 \\(FBAR\\) worksheet, 2025" in text
    assert "Berliner Sparkasse" in text
    assert NUMBER in text
    assert "$11,766" in text
    assert "3,000.00 EUR" in text
    assert "$3,530" in text
    masked = pdf_text(accountant_client.get(reverse("fbar:export", args=[2025, "pdf"])).content)
    assert NUMBER not in masked
    assert "3000" in masked


def test_a_year_with_25_accounts_gives_only_their_number(owner_client):
    for _ in range(25):
        wise_account("USD", opened_on=date(2025, 1, 1))
    page = owner_client.get("/fbar/2025/").content.decode()
    assert "25 foreign accounts." in page
    assert "takes only their number" in page
    rows = csv_rows(owner_client.get(reverse("fbar:export", args=[2025, "csv"])))
    assert any(row[0] == "25 or more accounts" for row in rows if row)


def test_run_the_monitor_now(owner_client, settings):
    settings.ALERT_EMAILS = ["owner@example.com"]
    lines(wise_account("USD"), (date(2026, 1, 5), "9000.00"))
    response = owner_client.post(reverse("fbar:monitor-run"), follow=True)
    assert "Monitor run: $9,000 so far this year; 1 alert sent." in response.content.decode()
