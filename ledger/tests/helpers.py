"""Steps shared by the books tests: connect, choose mode, map, over Bulwark's own pages."""

from ledger.models import XeroOrganisation
from simulators.xero.fixtures import xero_connect_first_org


def connected(client, sim, *, posts: bool = True) -> XeroOrganisation:
    response = xero_connect_first_org(client, sim)
    assert response.status_code == 302
    organisation = XeroOrganisation.objects.get(tenant_id=sim.tenant_ids[0])
    if posts:
        response = client.post(
            "/books/xero/mode/", {"mode": "POSTS", "confirm_no_native_feed": "on"}
        )
        assert response.status_code == 302
    organisation.refresh_from_db()
    return organisation


def mapped(client, organisation, books, **choices) -> XeroOrganisation:
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
