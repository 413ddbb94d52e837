"""Files holding several accounts: each statement goes to the account holding its number;
unknown accounts are offered to the owner, and nothing is stored until all have a home."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError

from accounts.models import CashAccount, Institution, SyncRun, Transaction
from accounts.selectors import balance_minor_on
from accounts.tests.factories import CashAccountFactory, InstitutionFactory
from accounts.tests.statement_files import DATA, account_numbered, command, page_text, upload

pytestmark = pytest.mark.django_db
ING = str(DATA / "mt940_ing_multi.sta")
END = date(2025, 3, 31)


def _ing_accounts() -> tuple[CashAccount, CashAccount, CashAccount]:
    bank = InstitutionFactory(name="ING", kind=Institution.Kind.BANK, country="NL")
    eur = CashAccountFactory(
        institution=bank,
        currency="EUR",
        name="ING zakelijk",
        account_number="NL20 INGB 0001 2345 67",
        wise_balance_id=None,
    )
    usd = CashAccountFactory(
        institution=bank,
        currency="USD",
        name="ING USD",
        account_number="NL20INGB0001234567",
        wise_balance_id=None,
    )
    savings = CashAccountFactory(
        institution=bank,
        currency="EUR",
        name="ING sparen",
        account_number="NL69INGB0123456789",
        wise_balance_id=None,
    )
    return eur, usd, savings  # fmt: skip


def _ends(*expected: tuple[CashAccount, int, int]) -> None:
    for account, lines, closing_minor in expected:
        assert (account.transactions.count(), balance_minor_on(account, END)) == (
            lines, closing_minor,
        ), account  # fmt: skip


def test_a_multi_account_mt940_lands_on_each_account_and_again_adds_nothing():
    eur, usd, savings = _ing_accounts()
    first = command(ING)
    again = command(ING)

    assert first.splitlines() == [
        f"mt940_ing_multi.sta (MT940) into {eur}: 3 lines, 3 new, 0 already present.",
        f"mt940_ing_multi.sta (MT940) into {usd}: 1 lines, 1 new, 0 already present.",
        f"mt940_ing_multi.sta (MT940) into {savings}: 1 lines, 1 new, 0 already present.",
    ]
    assert "0 new, 3 already present" in again
    _ends((eur, 3, 261751), (usd, 1, 27500), (savings, 1, 1001234))
    eur.refresh_from_db()
    assert eur.opening_balance == Decimal("1250.00")  # the first day's :60F:
    assert usd.transactions.get().description == "GITHUB INC SAN FRANCISCO USD 25,00"


def test_a_multi_statement_camt053_lands_on_each_account_from_the_page(owner_client):
    eur = CashAccountFactory(currency="EUR", account_number="DE89370400440532013000")
    chf = CashAccountFactory(currency="CHF", account_number="CH13 0483 5000 0012 3456 Z")
    page = page_text(upload(owner_client, "camt053_multi_v02.xml"))

    assert "imported into 2 accounts" in page
    assert 'id="import-accounts-result"' in page
    _ends((eur, 3, 619920), (chf, 1, 188005))
    assert not Transaction.objects.filter(description="GUTSCHRIFT VORGEMERKT").exists()
    swisscom = chf.transactions.get()
    assert (swisscom.counterparty, swisscom.payment_reference) == (
        "Swisscom (Schweiz) AG", "210000000003139471430009017",
    )  # fmt: skip
    again = page_text(upload(owner_client, "camt053_multi_v02.xml"))
    assert "0 new lines, 4 already present" in again
    _ends((eur, 3, 619920), (chf, 1, 188005))


def test_the_command_refuses_a_multi_account_file_without_a_home_for_each():
    with pytest.raises(CommandError) as refused:
        command(ING)
    message = str(refused.value)
    assert "names 3 accounts Bulwark does not know" in message
    assert "NL20 INGB 0001 2345 67 EUR (3 lines)" in message
    assert "NL20 INGB 0001 2345 67 USD (1 lines)" in message
    assert "NL69 INGB 0123 4567 89 EUR (1 lines)" in message
    assert "--map NL20INGB0001234567:EUR=ID" in message
    one = CashAccountFactory(currency="EUR")
    with pytest.raises(CommandError, match="this file holds 3 accounts"):
        command(ING, "--account", str(one.pk))
    assert not Transaction.objects.exists()
    assert list(SyncRun.objects.values_list("status", flat=True)) == ["FAILED", "FAILED"]


def test_accounts_are_mapped_or_created_and_remembered():
    from accounts.models import AccountIdentifier

    eur = CashAccountFactory(currency="EUR", name="Main EUR", account_number="")
    usd = CashAccountFactory(currency="USD", name="Main USD", account_number="DE00OTHER")
    out = command(ING, "--map", f"NL20INGB0001234567:EUR={eur.pk}",
                  "--map", f"NL20 INGB 0001 2345 67:usd={usd.pk}", "--create-accounts")  # fmt: skip

    savings = account_numbered("NL69INGB0123456789")
    assert (savings.name, savings.institution.name, savings.currency) == (
        "ING EUR ••6789", "ING", "EUR",
    )  # fmt: skip
    assert f"into {savings} (new account)" in out
    eur.refresh_from_db()
    assert eur.account_number == "NL20INGB0001234567"  # it had none
    assert [i.identifier for i in AccountIdentifier.objects.filter(account=usd)] == [
        "NL20INGB0001234567"
    ]
    assert "0 new" in command(ING)  # found by number now, no mapping needed
    _ends((eur, 3, 261751), (usd, 1, 27500), (savings, 1, 1001234))


def test_an_account_choice_for_a_file_of_another_account_is_refused():
    holder = CashAccountFactory(currency="EUR", name="ABN", account_number="NL91ABNA0417164300")
    other = CashAccountFactory(currency="EUR", name="Other")
    with pytest.raises(CommandError, match=re.escape(f"is the statement of {holder} (NL91 ABNA")):
        command(str(DATA / "mt940_abnamro.sta"), "--account", str(other.pk))
    assert not Transaction.objects.exists()


def test_a_chosen_account_is_remembered_for_the_next_file(owner_client):
    account = CashAccountFactory(currency="EUR", account_number="")
    upload(owner_client, "mt940_abnamro.sta", account=account.pk)
    account.refresh_from_db()
    assert account.account_number == "NL91ABNA0417164300"
    page = page_text(upload(owner_client, "mt940_abnamro.sta"))
    assert "0 new lines, 4 already present" in page


def test_the_page_offers_unknown_accounts_and_stores_nothing_until_each_has_a_home(owner_client):
    usd = CashAccountFactory(currency="USD", name="Dollars", account_number="")
    offered = upload(owner_client, "mt940_ing_multi.sta").content.decode()

    assert "Nothing stored yet." in offered
    assert "names 3 accounts Bulwark does not know" in offered
    assert 'id="import-accounts" hx-swap-oob="true"' in offered
    assert offered.count('<fieldset class="form" id="import-account-') == 3
    assert 'value="ING EUR ••4567"' in offered
    assert f'<option value="{usd.pk}">Dollars · USD' in offered
    assert not Transaction.objects.exists()
    assert CashAccount.objects.count() == 1

    choices = {
        "map-0-key": "NL20INGB0001234567:EUR", "map-0-target": "new",
        "map-0-name": "ING zakelijk", "map-0-institution": "ING",
        "map-1-key": "NL20INGB0001234567:USD", "map-1-target": str(usd.pk),
    }  # fmt: skip
    partly = upload(owner_client, "mt940_ing_multi.sta", **choices).content.decode()
    assert "names an account Bulwark does not know (NL69 INGB 0123 4567 89 EUR" in partly
    assert partly.count('id="import-account-') == 1
    assert not Transaction.objects.exists()
    assert CashAccount.objects.count() == 1  # the new account was not kept either

    choices.update({"map-2-key": "NL69INGB0123456789:EUR", "map-2-target": "new",
                    "map-2-name": "", "map-2-institution": "ING"})  # fmt: skip
    unnamed = upload(owner_client, "mt940_ing_multi.sta", **choices).content.decode()
    assert "Name the new account." in unnamed
    assert not Transaction.objects.exists()

    choices["map-2-name"] = "ING sparen"
    done = upload(owner_client, "mt940_ing_multi.sta", **choices).content.decode()
    assert "imported into 3 accounts" in done
    zakelijk = CashAccount.objects.get(name="ING zakelijk")
    assert (zakelijk.institution.name, zakelijk.account_number) == ("ING", "NL20INGB0001234567")
    _ends((zakelijk, 3, 261751), (usd, 1, 27500),
          (CashAccount.objects.get(name="ING sparen"), 1, 1001234))  # fmt: skip
    assert 'id="import-accounts" hx-swap-oob="true">' in done  # the choices are cleared


def test_a_wise_csv_names_no_account_so_the_page_asks_for_it(owner_client):
    page = upload(owner_client, "wise_eur_2025-03.csv").content.decode()
    assert "the file&#x27;s account EUR (6 lines)" in page
    assert 'name="map-0-key" value=":EUR"' in page
    assert not Transaction.objects.exists()
