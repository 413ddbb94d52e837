"""Which adapter speaks to an organisation's books: chosen from its `provider`, the way
Django picks a storage or cache backend from a dotted path (so this module, like every
caller, imports no provider)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from ledger.books.protocol import BooksAdapter
    from ledger.models import Organisation

ADAPTERS = {
    "xero": "ledger.xero.adapter.XeroBooks",
}


class UnknownProvider(LookupError):
    pass


@cache
def adapter_class(provider: str) -> type[BooksAdapter]:
    try:
        return import_string(ADAPTERS[provider])
    except KeyError:
        raise UnknownProvider(f"No books adapter for provider {provider!r}") from None


def adapter_for(organisation: Organisation) -> BooksAdapter:
    return adapter_class(organisation.provider)(organisation)
