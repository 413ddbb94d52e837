"""The one HTTP layer of the rate fetchers: explicit timeouts, one retry loop.

Connection errors, timeouts, 429 and 5xx are retried with capped exponential backoff
and full jitter, honouring `Retry-After`; any other status is refused at once. A body
that does not parse is the caller's `RatesMalformed`, never retried: the service
answered, and answered wrongly.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger("bulwark.fx")

USER_AGENT = "Bulwark-treasury/0.1 (exchange rates)"


class FetchError(Exception):
    """A rate source could not be read. Subclasses say why."""


class SourceUnavailable(FetchError):
    """The service did not answer usefully after every retry (network, 429, 5xx)."""


class SourceRefused(FetchError):
    """The service refused the request (4xx other than 429): retrying will not help."""


class RatesMalformed(FetchError):
    """The service answered with something that is not the published format."""


class RatesHttp:
    """GETs with retries. `sleep` and `rng` are injectable so tests run instantly."""

    def __init__(
        self, *, attempts: int = 4, backoff_base: float = 0.5, backoff_cap: float = 8.0,
        retry_after_cap: float = 60.0, timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.attempts, self.backoff_base, self.backoff_cap = attempts, backoff_base, backoff_cap
        self.retry_after_cap = retry_after_cap
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.client = httpx.Client(
            timeout=timeout if timeout is not None else settings.HTTP_TIMEOUT_SECONDS,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RatesHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, params: dict[str, Any] | None = None) -> httpx.Response:
        """The first 2xx response; SourceRefused on a 4xx, SourceUnavailable after the
        last retry."""
        last_problem = ""
        for attempt in range(1, self.attempts + 1):
            retry_after: float | None = None
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as exc:  # connect, read, timeouts, cut connections
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return response
                if response.status_code != 429 and response.status_code < 500:
                    raise SourceRefused(
                        f"GET {response.url} answered {response.status_code}: {response.text[:300]}"
                    )
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if attempt == self.attempts:
                break
            delay = self._delay(attempt, retry_after)
            logger.warning(
                "GET %s failed (%s), retry %d/%d in %.2fs",
                url, last_problem, attempt, self.attempts - 1, delay,
            )  # fmt: skip
            self.sleep(delay)
        raise SourceUnavailable(f"GET {url} failed {self.attempts} times; last: {last_problem}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


def _retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0)
