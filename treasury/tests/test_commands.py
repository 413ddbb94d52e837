from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from treasury.access import ACCOUNTANT, OWNER, role_of


@pytest.mark.django_db
def test_create_owner_with_flags():
    call_command(
        "create_owner", "--username", "boss", "--password", "a-long-pass-phrase-9", "--no-input",
        stdout=StringIO(),
    )  # fmt: skip
    user = User.objects.get(username="boss")
    assert role_of(user) == OWNER
    assert user.check_password("a-long-pass-phrase-9")


@pytest.mark.django_db
def test_create_accountant_interactive(monkeypatch):
    answers = iter(["books", "books@example.com"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr("getpass.getpass", lambda prompt: "a-long-pass-phrase-9")
    call_command("create_accountant", stdout=StringIO())
    user = User.objects.get(username="books")
    assert role_of(user) == ACCOUNTANT
    assert user.is_staff
    assert not user.is_superuser
    assert user.email == "books@example.com"


@pytest.mark.django_db
def test_weak_password_is_refused_and_nothing_is_created():
    with pytest.raises(CommandError, match=r"too common|too short"):
        call_command("create_owner", "--username", "x", "--password", "password", "--no-input")
    assert not User.objects.filter(username="x").exists()


@pytest.mark.django_db
def test_missing_values_fail_clearly_without_input():
    with pytest.raises(CommandError, match="username is required"):
        call_command("create_owner", "--no-input")
