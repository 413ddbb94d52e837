import pytest

from accounts.tests.factories import CashAccountFactory
from ledger.rules.models import Rule


@pytest.fixture
def no_rules(db):
    """Start without the default rules the first migration creates."""
    Rule.objects.all().delete()


@pytest.fixture
def eur(db):
    return CashAccountFactory(currency="EUR")


@pytest.fixture
def usd(db):
    return CashAccountFactory(currency="USD")
