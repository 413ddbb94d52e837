"""Wise mid-market rates, read through the Wise client (`accounts.wise.client`).

Any object with `rates(*, source, target, at=None, start=None, end=None, group=None)`
returning items with `rate` (Decimal), `source`, `target` and `time` (aware datetime)
will do, so this module needs neither the client's import nor its credentials.
Rates are stored as `source` → `target` on the UTC day of `time`; of several quotes in
one day (hourly fetches) the latest wins.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from treasury.fx.precision import RateInvalid, rate_validate
from treasury.fx.sources import Fetched, ParsedRate
from treasury.fx.sources.http import RatesMalformed, SourceRefused, SourceUnavailable
from treasury.money import UnknownCurrencyError, currency_validate

SOURCE = "WISE"


class WiseRatesClient(Protocol):
    def rates(
        self, *, source: str, target: str, at: datetime | None = None,
        start: datetime | None = None, end: datetime | None = None, group: str | None = None,
    ) -> list[Any]: ...  # fmt: skip


def wise_fetch(
    client: WiseRatesClient, *, base: str, currencies: list[str],
    start: datetime | None = None, end: datetime | None = None,
) -> Fetched:  # fmt: skip
    """The current rate (or daily rates from `start` to `end`) of `base` to each currency."""
    from accounts.wise.client import WiseAuthError, WiseError, WiseScaRefused

    latest: dict[tuple[str, object], ParsedRate] = {}
    for target in sorted(set(currencies) - {base}):
        try:
            if start is not None:
                quotes = client.rates(source=base, target=target, start=start, end=end, group="day")
            else:
                quotes = client.rates(source=base, target=target)
        except (WiseAuthError, WiseScaRefused) as exc:
            raise SourceRefused(f"Wise refused the rates of {base}→{target}: {exc}") from exc
        except WiseError as exc:
            raise SourceUnavailable(f"Wise rates {base}→{target}: {exc}") from exc
        for quote in quotes:
            rate = _parsed(quote, base=base, target=target)
            key = (rate.quote, rate.date)
            if key not in latest or rate.observed_at > latest[key].observed_at:  # type: ignore[operator]
                latest[key] = rate
    rates = sorted(latest.values(), key=lambda r: (r.date, r.quote))
    return Fetched(rates=rates, url="wise:/v1/rates")


def _parsed(quote: Any, *, base: str, target: str) -> ParsedRate:
    try:
        source, quoted = currency_validate(quote.source), currency_validate(quote.target)
        value = rate_validate(quote.rate)
        when = quote.time
    except (AttributeError, UnknownCurrencyError, RateInvalid) as exc:
        raise RatesMalformed(f"Wise rate {base}→{target}: {exc}") from exc
    if (source, quoted) != (base, target):
        raise RatesMalformed(f"Wise answered {source}→{quoted} when asked for {base}→{target}")
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise RatesMalformed(f"Wise rate {base}→{target}: time {when!r} is not an aware datetime")
    when = when.astimezone(UTC)
    return ParsedRate(
        source=SOURCE, base=base, quote=target, date=when.date(), rate=value, observed_at=when
    )
