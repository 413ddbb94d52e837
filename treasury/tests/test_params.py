"""Query parameters are typed and bounded (`treasury.params`): a wrong value gets a 400
page naming it, or the documented default, never a 500. Each finding of the hardening
review has its request here; the fuzz suite (`test_fuzz_views.py`) generates the rest."""

import io
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from django.http import QueryDict
from django.urls import reverse

from accounts.services import transactions_ingest
from accounts.tests.factories import CashAccountFactory, line
from ledger.rules import forms as rules_forms
from ledger.rules.forms import MAX_ROWS
from ledger.rules.tests.test_views import form_data
from treasury.fx.tests.factories import ecb
from treasury.params import (
    DB_INT_MAX,
    BadParameter,
    param_choice,
    param_date,
    param_flag,
    param_ids,
    param_int,
    param_text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def books():
    eur = CashAccountFactory(currency="EUR", name="EUR balance")
    transactions_ingest(
        account=eur,
        lines=[
            line("1000.00", day=0, ref="e1"),
            replace(line("-3.00", day=2, ref="e2"), description="Figma"),
        ],
        source="API",
    )
    ecb(date(2025, 1, 6), USD="1.0300", GBP="0.83000")
    return eur


def q(text: str) -> QueryDict:
    return QueryDict(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=7", 7),
        ("n=%207%20", 7),
        ("", None),
        ("n=", None),
        (f"n={DB_INT_MAX}", DB_INT_MAX),
    ],
)
def test_param_int_reads_plain_bounded_integers(text, expected):
    assert param_int(q(text), "n") == expected


@pytest.mark.parametrize(
    "value",
    ["9223372036854775808", "0", "-1", "1e3", "0x10", "%C2%B2", "%EF%BC%91", "1_000", "7.0"],
)
def test_param_int_refuses_what_is_not_a_database_id(value):
    with pytest.raises(BadParameter, match="n: expected a whole number"):
        param_int(q(f"n={value}"), "n")
    assert param_int(q(f"n={value}"), "n", default=3, lenient=True) == 3


def test_param_ids_bounded_in_number_and_value():
    assert param_ids(q("run=3&run=1&run=3"), "run") == [3, 1]
    with pytest.raises(BadParameter, match="at most 2"):
        param_ids(q("run=1&run=2&run=3"), "run", limit=2)
    with pytest.raises(BadParameter):
        param_ids(q("run=9223372036854775808"), "run")
    assert param_ids(q("run=x&run=4"), "run", lenient=True) == [4]


def test_param_date_bounds():
    assert param_date(q("d=2025-01-31"), "d") == date(2025, 1, 31)
    for wrong in ("0001-01-01", "9999-12-31", "2025-02-30", "20250101", "2025-1-1"):
        with pytest.raises(BadParameter):
            param_date(q(f"d={wrong}"), "d")
    assert param_date(q("d=0001-01-01"), "d", default=date(2025, 1, 1), lenient=True) == date(
        2025, 1, 1
    )


def test_param_choice_text_and_flag():
    assert param_choice(q("f=XLSX"), "f", ["csv", "xlsx"], fold_case=True) == "xlsx"
    with pytest.raises(BadParameter, match="expected one of csv, xlsx"):
        param_choice(q("f=pdf"), "f", ["csv", "xlsx"])
    assert param_text(q("t=" + "a" * 5000), "t") == "a" * 200
    assert param_flag(q("p=1"), "p")
    assert not param_flag(q("p=2"), "p")


# --- the findings: each request answered 500 before ---------------------------------------


def test_dashboard_as_of_year_one_is_named_and_replaced(owner_client, books):
    page = owner_client.get("/", {"as_of": "0001-01-01"})
    assert page.status_code == 200
    assert b"0001-01-01 is before 1970-01-01" in page.content


def test_accountant_dashboard_as_of_year_one(accountant_client, books):
    assert accountant_client.get("/", {"as_of": "0001-01-01", "range": "all"}).status_code == 200


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_over_a_year_one_range_is_refused(accountant_client, books, fmt):
    response = accountant_client.get(
        reverse("cashview:export_transactions"),
        {"start": "0001-01-01", "end": "0001-12-31", "format": fmt},
    )
    assert response.status_code == 400
    assert b"before 1970-01-01" in response.content


def test_export_from_the_earliest_day_still_works(owner_client, books):
    response = owner_client.get(
        reverse("cashview:export_transactions"),
        {"start": "1970-01-01", "end": "2025-12-31", "format": "xlsx"},
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).worksheets[0]
    assert sheet.max_row == 3  # the header and the two lines


def test_sync_progress_with_an_id_too_big_for_the_database(accountant_client):
    response = accountant_client.get(
        reverse("accounts:sync_progress"), {"run": "9223372036854775808"}
    )
    assert response.status_code == 400
    assert b"run: expected database ids" in response.content


def test_transactions_filtered_to_the_end_of_time(accountant_client, books):
    page = accountant_client.get(reverse("accounts:transactions"), {"date_to": "9999-12-31"})
    assert page.status_code == 200
    older = accountant_client.get(
        reverse("accounts:transactions"), {"after": "20250101T000000000000.99999999999999999999"}
    )
    assert older.status_code == 200


@pytest.mark.parametrize("value", ["\u00b2", "\uff11", "99999999999999999999"])
def test_rule_from_a_line_with_unicode_or_huge_ids(owner_client, books, value):
    assert owner_client.get(reverse("rules:create"), {"from_line": value}).status_code == 200
    assert owner_client.get(reverse("rules:preview"), {"rule_id": value}).status_code == 200


def test_fbar_year_out_of_range_gets_a_400_page(accountant_client):
    page = accountant_client.get(reverse("fbar:report"), {"year": "99999"})
    assert page.status_code == 400
    assert b"year: expected a whole number from 0 to 9999" in page.content
    assert b"This page with its defaults" in page.content


def test_a_preview_claiming_100000_rows_builds_at_most_the_bound(
    accountant_client, books, monkeypatch
):
    built = []
    original = rules_forms.ConditionForm.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(rules_forms.ConditionForm, "__init__", counting)
    data = form_data(
        conditions=[{"field": "DESCRIPTION", "operator": "CONTAINS", "value": "figma"}],
        actions=[{"kind": "ACCOUNT_CODE", "value": "485"}],
    )
    data["conditions-TOTAL_FORMS"] = data["actions-TOTAL_FORMS"] = "100000"
    preview = accountant_client.get(reverse("rules:preview"), data, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200
    assert len(built) <= MAX_ROWS + 1  # the rows, and the empty form of the "add" template
    assert f"Please submit at most {MAX_ROWS} forms.".encode() in preview.content
