"""A Wise business synced into Bulwark, ready for its statements to be filed."""

from datetime import UTC, date, datetime

from accounts.models import CashAccount
from accounts.tests.wise_helpers import connection_to
from accounts.wise.sync import wise_connection_sync

# A fixed "now" for the simulator, so the months tested are complete and always the same.
UNTIL = datetime(2026, 11, 20, 12, tzinfo=UTC)
MONTH = date(2026, 9, 1)


def synced(sim, settings):
    settings.WISE_RETRY_BACKOFF_MS = 5
    settings.HTTP_TIMEOUT_SECONDS = 5
    connection = connection_to(sim, settings)
    wise_connection_sync(connection=connection)
    return connection, list(
        CashAccount.objects.filter(wise_balance_id__isnull=False).order_by("currency", "name")
    )
