"""What the rest of Bulwark needs from the books, whichever provider keeps them.

An adapter is made for one connected `Organisation` (`adapter_for(organisation)`) and
opens its own API client per call, recording the provider's budget after it. Writes are
refused before they reach the wire unless the owner chose "Bulwark posts". Every failure
to reach the books, or the books refusing a whole call, is a `BooksError` whose message
is fit to show; a line the books refuse is a per-line outcome, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from accounts.models import CashAccount
    from ledger.models import BooksConnection, ChartAccount, Organisation


class BooksError(Exception):
    """The books could not be reached, or refused the call as a whole."""


class ConnectError(BooksError, ValueError):
    """Connecting failed; the message is fit to show the owner."""


class BudgetLow(BooksError):
    """The provider's call budget is nearly spent: stop now, carry on in a later run."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LeaseLost(Exception):
    """Another run took the organisation's push lease (ours had expired): the adapter stops
    its push cleanly, keeping what it did; the next run carries on."""


class PushFailed(BooksError):
    """A push stopped on an error; `result` says what it did before."""

    def __init__(self, message: str, *, result: PushResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class PushResult:
    posted: int = 0
    updated: int = 0
    refused: int = 0
    found: int = 0  # outcome-unknown lines found already posted in the books
    waiting: int = 0
    skipped: int = 0
    batches: int = 0
    stopped: str = ""
    errors: list[str] = field(default_factory=list)
    calls: int = 0
    retries_429: int = 0


@dataclass
class ReadBackResult:
    stored: int = 0
    pages: int = 0
    balances: int = 0
    calls: int = 0


class BooksAdapter(Protocol):
    """One provider's books, for one connected organisation."""

    provider: ClassVar[str]
    organisation: Organisation

    @classmethod
    def connect_start(cls, *, redirect_uri: str) -> Any:
        """Start signing in at the provider: the URL to send the owner to, and the state
        (and PKCE verifier) the callback must match."""

    @classmethod
    def connect_finish(cls, **reply: Any) -> BooksConnection:
        """The provider's reply to the sign-in: exchange the code, keep the tokens."""

    @classmethod
    def disconnect(cls, *, connection: BooksConnection) -> None:
        """Revoke at the provider (when it can), then forget the tokens."""

    def chart_refresh(self) -> None:
        """Read the books' settings (home currency, multicurrency) and chart of accounts,
        tax rates and tracking, and store them (`ChartAccount`, `TaxRate`, ...)."""

    def bank_account_ensure(self, cash: CashAccount, *, name: str) -> ChartAccount:
        """A bank account for the cash account (its currency), made in the books."""

    def special_account_ensure(self, purpose: str) -> ChartAccount:
        """The fee, FX clearing or suspense account (`purpose`), made in the books."""

    def lines_post(
        self, *, limit: int | None = None, on_progress: Callable[[PushResult], None] | None = None
    ) -> PushResult:
        """Post every unposted line (and the re-posts and retries asked for), in the
        provider's batches, each posting record written before its call."""

    def postings_lookup(self, keys: Iterable[str]) -> dict[str, str]:
        """The books' id of each posting key found there (a key not there is absent)."""

    def read_back(self, *, today: date | None = None) -> ReadBackResult:
        """Read the mapped bank accounts' documents since each stream's cursor (stored
        with the cursor advanced in the page's transaction), then their balances."""

    def bank_balances(self, *, today: date | None = None) -> int:
        """Read and store the mapped bank accounts' balances as of today; how many."""

    def document_attach(
        self, *, chart_account: ChartAccount, file_name: str, data: bytes, key: str
    ) -> str:
        """Attach a file (a filed statement) to a bank account of the books, once: a file
        of that name and size there already is not sent again, and `key` (made from the
        file's SHA-256) makes a retried call harmless. The books' id of the attachment;
        refused (`BooksError`) in audit-only mode before the wire."""
