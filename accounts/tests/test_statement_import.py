"""Importing a file end to end: the service's run record, the command, the upload page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.lines import StatementLineError
from accounts.models import SyncRun, Transaction
from accounts.statements.formats import format_detect
from accounts.statements.services import statement_import
from accounts.tests.factories import CashAccountFactory
from accounts.tests.statement_files import DATA, sample, sample_text, stored_state

pytestmark = pytest.mark.django_db
URL = "/accounts/import/"


def test_an_import_is_recorded_as_a_file_import_run():
    account = CashAccountFactory(currency="EUR")
    first = statement_import(account=account, data=sample("wise_eur_2025-03.csv"),
                             filename="wise_eur_2025-03.csv")  # fmt: skip
    second = statement_import(account=account, data=sample("wise_eur_2025-03.csv"),
                              filename="wise_eur_2025-03.csv")  # fmt: skip

    assert (second.created, second.skipped) == (0, 6)
    run = SyncRun.objects.get(pk=first.run.pk)
    assert (run.kind, run.status, run.label, run.account) == (
        "FILE_IMPORT", "SUCCEEDED", "wise_eur_2025-03.csv", account,
    )  # fmt: skip
    assert (run.created_count, run.skipped_count, run.percent) == (6, 0, 100)
    assert run.detail["format"] == "csv"
    assert run.detail["first_day"] == "2025-03-03"
    assert run.finished_at is not None


def test_a_refused_file_leaves_a_failed_run_and_no_line():
    account = CashAccountFactory(currency="GBP")
    before = stored_state(account)
    with pytest.raises(StatementLineError):
        statement_import(account=account, data=sample("camt053_eur_2025-03.xml"),
                         filename="march.xml")  # fmt: skip
    run = SyncRun.objects.get()
    assert (run.status, run.label) == ("FAILED", "march.xml")
    assert run.error == "Line 71, column 13: currency EUR does not match the account's currency GBP"
    assert stored_state(account) == before
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"", None, "the file is empty"),
        (b" \r\n\t", None, "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "the format cannot be recognised"),
        (None, "mt940", "this file looks like Wise CSV, not MT940"),
        (b":20:X\n:25:1\n:28C:1\n:60F:C250101EUR1,00\n", "camt053",
         "this file looks like MT940, not CAMT.053 XML"),
    ],
    ids=["empty", "blank", "binary", "csv-as-mt940", "mt940-as-camt"],
)  # fmt: skip
def test_empty_unknown_and_wrong_format_files_are_refused(data, fmt, message):
    account = CashAccountFactory(currency="EUR")
    data = sample("wise_eur_2025-03.csv") if data is None else data
    with pytest.raises(StatementLineError, match=message):
        statement_import(account=account, data=data, filename="upload.bin", format=fmt)
    assert not account.transactions.exists()


def test_a_file_over_the_limit_is_refused(settings):
    settings.STATEMENT_FILE_MAX_BYTES = 1000
    account = CashAccountFactory(currency="EUR")
    with pytest.raises(StatementLineError, match="the limit is 1,000 bytes"):
        statement_import(account=account, data=sample("wise_eur_2025-03.csv"), filename="big.csv")
    assert not account.transactions.exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [(path.name, path.name.split("_")[0].replace("wise", "csv")) for path in sorted(DATA.iterdir())
     if path.suffix in (".csv", ".xml", ".sta")],
)  # fmt: skip
def test_each_sample_is_detected_from_its_content(name, expected):
    assert format_detect(sample(name), "no-extension") == expected


# --- the command -------------------------------------------------------------------------


def test_the_command_imports_and_prints_counts(capsys):
    account = CashAccountFactory(currency="JPY")
    path = DATA / "camt053_jpy_2025-03.xml"
    call_command("import_statement", str(path), "--account", str(account.pk))
    call_command("import_statement", str(path), "--account", str(account.pk), "--format",
                 "camt053")  # fmt: skip

    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"camt053_jpy_2025-03.xml (CAMT.053 XML) into {account}: 3 lines, 3 new, "
        "0 already present.",
        f"camt053_jpy_2025-03.xml (CAMT.053 XML) into {account}: 3 lines, 0 new, "
        "3 already present.",
    ]
    assert account.transactions.count() == 3


def test_the_command_fails_with_the_line_and_stores_nothing(tmp_path):
    account = CashAccountFactory(currency="EUR")
    broken = tmp_path / "broken.sta"
    broken.write_text(sample_text("mt940_eur_2025-03.sta").replace(":86:Cashback", ":6X:x"))

    with pytest.raises(CommandError, match=r"broken.sta refused, nothing was stored. Line 23: "):
        call_command("import_statement", str(broken), "--account", str(account.pk))
    with pytest.raises(CommandError, match="no cash account with id 999999"):
        call_command("import_statement", str(broken), "--account", "999999")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_statement", str(tmp_path / "nope.csv"), "--account", str(account.pk))
    assert not account.transactions.exists()


# --- the upload page ---------------------------------------------------------------------


def _upload(client, account, name: str, **extra):
    data = {"account": account.pk, "file": SimpleUploadedFile(name, sample(name)), "format": ""}
    return client.post(URL, data, **extra)


def test_the_url_is_named():
    assert reverse("statements:upload") == URL


def test_owner_uploads_and_sees_the_result(owner_client):
    account = CashAccountFactory(currency="EUR")
    response = _upload(owner_client, account, "mt940_eur_2025-03.sta")

    assert response.status_code == 200
    assert account.transactions.count() == 6
    page = response.content.decode()
    assert "6 new lines" in page
    assert "0 already present" in page
    assert "(checked against the lines)" in page
    assert 'id="import-form"' in page

    again = _upload(owner_client, account, "wise_eur_2025-03.csv").content.decode()
    assert "0 new lines" in again
    assert "6 already present" in again


def test_htmx_upload_returns_the_result_and_the_recent_list_out_of_band(owner_client):
    account = CashAccountFactory(currency="JPY")
    response = _upload(owner_client, account, "wise_jpy_2025-03.csv", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert 'id="import-result"' in page
    assert 'id="recent-imports" hx-swap-oob="true"' in page
    assert "wise_jpy_2025-03.csv" in page
    assert "3 new lines" in page


def test_a_refused_upload_shows_the_line_and_stores_nothing(owner_client):
    account = CashAccountFactory(currency="GBP")
    response = _upload(owner_client, account, "wise_eur_2025-03.csv", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert "Refused, nothing was stored." in page
    assert "Line 2: currency EUR does not match the account&#x27;s currency GBP" in page
    assert not account.transactions.exists()
    assert SyncRun.objects.get().status == "FAILED"


def test_a_post_without_a_file_shows_the_form_error(owner_client):
    account = CashAccountFactory()
    response = owner_client.post(URL, {"account": account.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not SyncRun.objects.exists()


def test_accountant_sees_imports_but_no_form_and_cannot_post(accountant_client):
    account = CashAccountFactory(currency="EUR")
    statement_import(account=account, data=sample("wise_eur_2025-03.csv"), filename="march.csv")

    page = accountant_client.get(URL).content.decode()
    assert 'id="import-form"' not in page
    assert "Only the owner imports statement files" in page
    assert "march.csv" in page
    refused = _upload(accountant_client, account, "mt940_eur_2025-03.sta")
    assert refused.status_code == 403
    assert SyncRun.objects.count() == 1


def test_the_page_lists_recent_imports_in_a_fixed_number_of_queries(
    owner_client, django_assert_num_queries
):
    for index in range(12):
        account = CashAccountFactory(currency="EUR")
        statement_import(account=account, data=sample("wise_eur_2025-03.csv"),
                         filename=f"file-{index}.csv")  # fmt: skip
    owner_client.get(URL)  # warm the session and user caches
    # session, user, the account choices, the recent imports with their accounts
    with django_assert_num_queries(4):
        page = owner_client.get(URL).content.decode()
    assert "file-11.csv" in page
    assert "file-1.csv" not in page  # ten most recent only


def test_an_empty_page_explains_where_files_come_from(owner_client):
    page = owner_client.get(URL).content.decode()
    assert "No statement file imported yet" in page
