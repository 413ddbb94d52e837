"""QuickBooks Online's wire shapes the simulator speaks: the `Fault` envelope and its
error codes, the gateway's own 401/403 bodies, timestamps with the company's offset, and
ISO 4217 minor units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from simulators.base import SimResponse

# The error codes Intuit documents, with the Message the service sends for each.
MESSAGES = {
    "500": "Unsupported Operation",
    "610": "Object Not Found",
    "2010": "Request has invalid or unsupported property",
    "2020": "Required param missing, need to supply the required value for the API",
    "2030": "Invalid ID",
    "2050": "String length is either shorter or longer than supported by specification",
    "2500": "Invalid Reference Id",
    "4000": "Error parsing query",
    "4001": "Invalid query",
    "5010": "Stale Object Error",
    "6000": "A business validation error has occurred while processing your request",
    "6240": "Duplicate Name Exists Error",
    "10000": "An application error has occurred while processing your request",
}
NOT_FOUND_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. Check the "
    "fields with accounts, customers, items, vendors or employees."
)
THROTTLED = "message=ThrottleExceeded; errorCode=003001; statusCode=429"

MINOR_UNITS = {"JPY": 0, "KRW": 0, "HUF": 2, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}
CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
    "SGD": "Singapore Dollar",
}


class Refusal(Exception):
    """A request the service refuses: becomes a `Fault` (400 ValidationFault unless told)."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        element: str = "",
        *,
        status: int = 400,
        fault_type: str = "ValidationFault",
        message: str | None = None,
    ) -> None:
        self.code, self.detail, self.element = code, detail, element
        self.status, self.fault_type = status, fault_type
        self.message = message or MESSAGES.get(code, "")
        super().__init__(f"{code}: {self.message}: {detail}")

    def fault(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def business(detail: str, element: str = "") -> Refusal:
    """Intuit's catch-all business rule refusal (6000), with its "Business Validation
    Error: …" detail."""
    return Refusal("6000", f"Business Validation Error: {detail}", element)


def not_found(element: str = "") -> Refusal:
    return Refusal("610", NOT_FOUND_DETAIL, element)


@dataclass(frozen=True)
class Clock:
    """The simulator's clock, shown in the company's time zone as QuickBooks does."""

    tz: str

    def stamp(self, moment: float) -> str:
        """`2015-06-23T09:38:18-07:00` (MetaData: whole seconds, local offset)."""
        local = datetime.fromtimestamp(int(moment), tz=ZoneInfo(self.tz))
        return local.isoformat(timespec="seconds")

    def response_time(self, moment: float) -> str:
        """`2016-04-15T09:01:18.141-07:00` (a response's `time`: milliseconds)."""
        local = datetime.fromtimestamp(moment, tz=ZoneInfo(self.tz))
        return local.isoformat(timespec="milliseconds")

    def today(self, moment: float) -> date:
        return datetime.fromtimestamp(moment, tz=ZoneInfo(self.tz)).date()


def parse_moment(value: str, tz: str) -> datetime | None:
    """A dateTime or date from a request (a date is midnight in the company's zone)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


def stamp_to_epoch(value: str) -> float:
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC).timestamp()


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimals than `currency` has minor units."""
    exponent = amount.normalize().as_tuple().exponent
    return not isinstance(exponent, int) or -exponent <= minor_units(currency)


def fault_body(refusal: Refusal, time_text: str) -> dict[str, Any]:
    return {"Fault": refusal.fault(), "time": time_text}


def gateway_unauthorized(detail: str, moment: float) -> SimResponse:
    """The 401 of Intuit's API gateway: not the v3 `IntuitResponse` but a Java bean with
    lower-case keys and `time` in epoch milliseconds, as clients record it verbatim."""
    body = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(moment * 1000),
        "status": None,
        "cdcresponse": [],
    }
    return SimResponse.json(body, status=401, headers={"WWW-Authenticate": 'Bearer realm="Intuit"'})


def gateway_forbidden() -> SimResponse:
    """The gateway's 403 for a token not authorised for the company in the URL."""
    body = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=ApplicationAuthorizationFailed; errorCode=003100; "
                    "statusCode=403",
                    "detail": "",
                    "code": "3100",
                    "element": None,
                }
            ],
            "type": "SERVICE",
        },
    }
    return SimResponse.json(body, status=403)
