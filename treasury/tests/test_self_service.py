"""The accountant manages their own sign-in (password, two-factor) and signs out from any
page, the admin included, though the role changes nothing of the business; and the admin
masks account numbers for them as every page does."""

import re
from dataclasses import replace

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import CashAccount, Institution, Transaction
from accounts.services import transactions_ingest
from accounts.tests.factories import line
from conftest import PASSWORD

pytestmark = pytest.mark.django_db
NUMBER = "DE02 1203 0000 0000 2020 51"


def test_the_accountant_changes_their_own_password(accountant_client, accountant):
    page = accountant_client.get("/account/security/").content.decode()
    assert 'id="password-change"' in page
    response = accountant_client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "an-owl-at-dusk-912",
         "new_password2": "an-owl-at-dusk-912"},
    )  # fmt: skip
    assert response.status_code == 302
    accountant.refresh_from_db()
    assert accountant.check_password("an-owl-at-dusk-912")
    signed_in = Client().post(
        "/login/", {"username": accountant.username, "password": "an-owl-at-dusk-912"}
    )
    assert signed_in.status_code == 302
    # The admin's link leads to the same page.
    assert accountant_client.get("/admin/password_change/")["Location"] == "/account/password/"


def test_the_accountant_turns_on_two_factor_login(accountant_client, accountant):
    page = accountant_client.post("/account/security/", {"action": "start"})
    assert page.status_code == 200
    assert "Scan this code" in page.content.decode()
    device = TOTPDevice.objects.get(user=accountant, confirmed=False)
    token = f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"
    done = accountant_client.post("/account/security/", {"action": "confirm", "token": token})
    assert done.status_code == 302
    assert TOTPDevice.objects.get(user=accountant).confirmed


def test_the_accountant_signs_out_from_the_admin(accountant_client):
    page = accountant_client.get("/admin/").content.decode()
    assert 'action="/logout/"' in page
    assert "Two-factor login" in page
    assert accountant_client.post("/admin/logout/").status_code == 302
    assert accountant_client.get("/admin/").status_code == 302  # signed out: to the login


def test_the_admin_masks_account_numbers_for_the_accountant(accountant_client, owner_client):
    bank = Institution.objects.create(name="DKB", kind=Institution.Kind.BANK)
    account = CashAccount.objects.create(
        institution=bank, name="DKB Girokonto", currency="EUR", account_number=NUMBER
    )
    transactions_ingest(
        account=account, source="API",
        lines=[replace(line("10.00"), raw={"senderAccount": "GB29 NWBK 6016 1331 9268 19"})],
    )  # fmt: skip
    url = f"/admin/accounts/cashaccount/{account.pk}/change/"
    seen = accountant_client.get(url).content.decode()
    assert NUMBER not in seen
    assert "•••• 2051" in seen
    assert NUMBER in owner_client.get(url).content.decode()  # the owner edits it
    lines_url = f"/admin/accounts/transaction/{Transaction.objects.get().pk}/change/"
    raw = accountant_client.get(lines_url).content.decode()
    assert "9268 19" not in raw
    assert re.search(r"•••• 6819", raw)
