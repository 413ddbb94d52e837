"""Steps shared by the books tests: connect, choose mode, map, over Bulwark's own pages."""

import threading
from collections.abc import Callable

from django.db import connection as db_connection

from ledger.models import Organisation
from simulators.xero.fixtures import xero_connect_first_org


def connected(client, sim, *, posts: bool = True) -> Organisation:
    response = xero_connect_first_org(client, sim)
    assert response.status_code == 302
    organisation = Organisation.objects.get(tenant_id=sim.tenant_ids[0])
    if posts:
        response = client.post(
            "/books/xero/mode/", {"mode": "POSTS", "confirm_no_native_feed": "on"}
        )
        assert response.status_code == 302
    organisation.refresh_from_db()
    return organisation


def mapped(client, organisation, books, **choices) -> Organisation:
    """Map every demo account ("new": create it in Xero) and the three special accounts."""
    data = {
        f"cash_{account.pk}": choices.get(account.currency, "new") for account in books.accounts
    }
    data.update({"fee": "404", "fx_clearing": "new", "suspense": "new"})
    data.update(choices.get("special", {}))
    response = client.post("/books/xero/mapping/", data)
    assert response.status_code == 302
    organisation.refresh_from_db()
    return organisation


def in_threads(work: Callable[[], object], count: int) -> tuple[list[object], list[Exception]]:
    """Run `work` in `count` threads at once; their results and exceptions."""
    results: list[object] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            results.append(work())
        except Exception as exc:
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
