"""A seeded, deterministic Wise business: a U.S. freelancer's balances and statements.

The business ("Quinn Studio LLC", owned by Avery Quinn) holds USD, EUR, GBP and JPY
STANDARD balances and a USD savings jar. From the start date to `until` it receives client
payments in several currencies, pays by card (at home and abroad), pays contractors,
converts foreign income to USD (the fee inside the debited amount, as Wise does: both
lines carry the same reference number, the rate and the source/target amounts), moves
money to and from the tax jar (a CONVERSION at rate 1), earns interest on the jar, gets
refunds (which reuse the refunded line's reference number) and adds money from a U.S.
bank. Two habits are optional (off by default): `auto_convert` turns each foreign client
payment's surplus over a working float into USD the moment it lands (Wise's
auto-conversion), and `draw_above` pays the owner, at each month's end, what the USD
balance holds over that float (an owner's draw to a U.S. bank), so balances stay at a
freelancer's scale. Every line carries the running balance after it, and running
balances hold exactly: no balance ever goes below zero and JPY is whole yen.

Everything is drawn from one `random.Random(seed)` in date order, so a seed, a start, an
end and a size always give the same data. `size` is the approximate number of lines.
Amounts and rates are `Decimal` drawn from integers; nothing goes through a float.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any

from simulators.ecb.data import usd_rates

DECIMALS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CAD": 2, "CHF": 2, "MXN": 2}
# USD per unit where the ECB simulator has no rate yet; rates otherwise follow it.
USD_PER_UNIT = {
    "USD": "1",
    "EUR": "1.09",
    "GBP": "1.27",
    "JPY": "0.0068",
    "CAD": "0.74",
    "CHF": "1.13",
    "MXN": "0.058",
}
VOLATILITY = 6000  # the bound of each day's draw; one step of it moves a rate by:
NUDGE_PER_STEP = Decimal("0.002") / VOLATILITY
CONVERSION_FEE = Decimal("0.0043")  # Wise-like variable fee on a conversion
FIXED_FEE = {
    "USD": Decimal("0.33"),
    "EUR": Decimal("0.26"),
    "GBP": Decimal("0.22"),
    "JPY": Decimal("40"),
}

CLIENTS = {
    "USD": ["Brightline Media Inc", "Harbor & Finch LLC", "Northbeam Analytics", "Kestrel Labs"],
    "EUR": ["Atelier Vogel GmbH", "Studio Lumen BV", "Maison Carreau SARL"],
    "GBP": ["Northwind Traders Ltd", "Pebble & Pine Ltd"],
    "JPY": ["Kumo Design KK"],
}
SENDER_ACCOUNTS = {
    "USD": "026009593 0123456789",
    "EUR": "DE89 3704 0044 0532 0130 00",
    "GBP": "GB29 NWBK 6016 1331 9268 19",
    "JPY": "0005 001 1234567",
}
MERCHANTS = {
    "USD": [
        ("Adobe Inc", "Software", "San Jose", "US"),
        ("Figma", "Software", "San Francisco", "US"),
        ("Delta Air Lines", "Airlines", "Atlanta", "US"),
        ("Blue Bottle Coffee", "Restaurants", "Oakland", "US"),
        ("WeWork", "Real Estate", "New York", "US"),
        ("Amazon Web Services", "Computer Services", "Seattle", "US"),
    ],
    "EUR": [
        ("Deutsche Bahn", "Railroads", "Berlin", "DE"),
        ("Hotel Adlon", "Lodging", "Berlin", "DE"),
        ("Cafe de Flore", "Restaurants", "Paris", "FR"),
    ],
    "GBP": [
        ("Tfl.gov.uk/cp", "Transportation", "London", "GB"),
        ("Pret A Manger", "Restaurants", "London", "GB"),
    ],
    "JPY": [("JR East", "Railroads", "Tokyo", "JP"), ("Lawson", "Grocery Stores", "Osaka", "JP")],
    "CAD": [("Tim Hortons", "Restaurants", "Toronto", "CA")],
    "CHF": [("SBB CFF FFS", "Railroads", "Zurich", "CH")],
    "MXN": [("OXXO", "Convenience Stores", "Mexico City", "MX")],
}
CONTRACTORS = {
    "EUR": ["Lena Fischer", "Marco Bianchi"],
    "GBP": ["Oliver Hughes"],
    "USD": ["Sam Rivera", "US Treasury (IRS)"],
}
JAR_NAME = "Tax reserve"
# The working float kept in each foreign balance when its surplus is converted to USD.
FOREIGN_FLOAT = {"EUR": 1500, "GBP": 800, "JPY": 150_000}

US_ADDRESS = {"addressFirstLine": "418 Alder Street", "city": "Portland",
              "countryIso2Code": "US", "countryIso3Code": "usa", "postCode": "97205",
              "stateCode": "OR"}  # fmt: skip
UK_ADDRESS = {"addressFirstLine": "12 Hoxton Square", "city": "London",
              "countryIso2Code": "GB", "countryIso3Code": "gbr", "postCode": "N1 6NU",
              "stateCode": None}  # fmt: skip

PROFILE_BUSINESS = 40111
PROFILE_PERSONAL = 40112
USER_ID = 9001


def money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"value": value, "currency": currency}


def quantize(value: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-DECIMALS[currency]), rounding=rounding)


def wise_time(moment: datetime) -> str:
    """Wise's timestamp: UTC, milliseconds, `Z`."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class Balance:
    id: int
    profile_id: int
    currency: str
    type: str  # STANDARD | SAVINGS
    name: str | None
    created: datetime
    amount: Decimal = Decimal(0)
    lines: list[dict[str, Any]] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)  # sorted, parallel to `lines`
    encoded: list[bytes | None] = field(default_factory=list)  # each line's JSON, cached

    def add(self, moment: datetime, line: dict[str, Any]) -> None:
        """Append a line at `moment` (never earlier than the last) and move the balance."""
        self.amount += line["amount"]["value"]
        line["runningBalance"] = money(self.amount, self.currency)
        self.lines.append(line)
        self.times.append(moment)
        self.encoded.append(None)

    def window(self, start: datetime, end: datetime) -> range:
        """Indexes of the lines with start <= date <= end."""
        return range(bisect.bisect_left(self.times, start), bisect.bisect_right(self.times, end))

    def amount_at(self, moment: datetime) -> Decimal:
        index = bisect.bisect_right(self.times, moment)
        return self.lines[index - 1]["runningBalance"]["value"] if index else Decimal(0)

    def as_wise(self) -> dict[str, Any]:
        value = money(self.amount, self.currency)
        return {
            "id": self.id,
            "currency": self.currency,
            "type": self.type,
            "name": self.name,
            "icon": None,
            "investmentState": "NOT_INVESTED",
            "amount": value,
            "reservedAmount": money(Decimal(0), self.currency),
            "cashAmount": value,
            "totalWorth": value,
            "creationTime": wise_time(self.created),
            "modificationTime": wise_time(self.times[-1] if self.times else self.created),
            "visible": True,
        }


@dataclass
class Profile:
    id: int
    type: str
    full_name: str
    business_name: str | None = None
    country: str = "US"

    def as_wise(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "userId": USER_ID,
            "fullName": self.full_name,
            "currentState": "VISIBLE",
            "address": UK_ADDRESS if self.country == "GB" else US_ADDRESS,
        }
        return {**profile, **self.names()}

    def names(self) -> dict[str, str]:
        """`businessName`, or `firstName` and `lastName`, as Wise names the holder."""
        if self.business_name:
            return {"businessName": self.business_name}
        first, last = self.full_name.split(" ", 1)
        return {"firstName": first, "lastName": last}


class RateBook:
    """Daily mid-market rates for any pair: the ECB simulator's reference rates of the
    same seed (crossed through USD, the last TARGET day's on other days), each currency
    nudged by at most 0.2% a day, as a market rate strays from the 14:15 CET fix. So
    Wise's rates agree with the ECB's within 0.4% for any pair. The nudges are drawn
    from the business's RNG, one per currency and day, as the walk before them was."""

    def __init__(self, rng: random.Random, start: date, days: int, seed: int) -> None:
        self.start = start
        span = days + 400  # live lines and rate queries run past `until`
        ecb = usd_rates(seed, start - timedelta(days=10), start + timedelta(days=span))
        ecb_days = sorted(ecb)
        self.usd: dict[str, list[Decimal]] = {"USD": [Decimal(1)] * (span + 1)}
        for code in USD_PER_UNIT:
            if code == "USD":
                continue
            quoted = [d for d in ecb_days if code in ecb[d]]
            series = []
            for offset in range(span + 1):
                day = start + timedelta(days=offset)
                index = bisect.bisect_right(quoted, day) - 1
                fix = (
                    ecb[quoted[index]][code]
                    if index >= 0
                    else Decimal(1) / Decimal(USD_PER_UNIT[code])
                )
                # (The first day has no draw: the walk these replace started at a level.)
                nudge = rng.randint(-VOLATILITY, VOLATILITY) * NUDGE_PER_STEP if offset else 0
                series.append((1 / fix * (1 + nudge)).quantize(Decimal("1e-10")))
            self.usd[code] = series

    def rate(self, source: str, target: str, on: date) -> Decimal:
        index = max(0, min((on - self.start).days, len(self.usd["USD"]) - 1))
        value = self.usd[source][index] / self.usd[target][index]
        places = 6 if value < Decimal("0.1") or value > 50 else 4
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


@dataclass
class Business:
    profiles: list[Profile]
    balances: list[Balance]
    rates: RateBook
    start: datetime
    until: datetime
    next_ref: int = 1

    def balance(self, balance_id: int) -> Balance | None:
        return next((b for b in self.balances if b.id == balance_id), None)

    def reference(self, prefix: str) -> str:
        self.next_ref += 1
        return f"{prefix}-{1_000_000 + self.next_ref}"

    @property
    def line_count(self) -> int:
        return sum(len(b.lines) for b in self.balances)

    def trim(self, lines: int, profile_id: int) -> None:
        """Drop the profile's latest lines until it has `lines` (a benchmark's exact N);
        each balance then ends at its last remaining line, so running balances hold."""
        balances = [b for b in self.balances if b.profile_id == profile_id]
        excess = sum(len(b.lines) for b in balances) - lines
        while excess > 0:
            latest = max((b for b in balances if b.times), key=lambda b: b.times[-1])
            for column in (latest.lines, latest.times, latest.encoded):
                column.pop()
            latest.amount = latest.lines[-1]["runningBalance"]["value"] if latest.lines else 0
            excess -= 1


class _Writer:
    """Turns business events into Wise statement lines on the right balances."""

    def __init__(self, business: Business, rng: random.Random) -> None:
        self.b = business
        self.rng = rng
        self.std = {
            bal.currency: bal
            for bal in business.balances
            if bal.type == "STANDARD" and bal.profile_id == PROFILE_BUSINESS
        }
        self.jar = next(bal for bal in business.balances if bal.type == "SAVINGS")
        # Recent refundable lines (bounded, so a big dataset stays linear).
        self.card_history: deque[tuple[Balance, dict[str, Any], datetime]] = deque(maxlen=40)
        self.transfer_history: deque[tuple[Balance, dict[str, Any], datetime]] = deque(maxlen=20)
        self.invoice = 0

    def amount(self, low: int, high: int, currency: str) -> Decimal:
        """A uniform amount between `low` and `high` whole units, in minor units."""
        scale = 10 ** DECIMALS[currency]
        return Decimal(self.rng.randrange(low * scale, high * scale)).scaleb(-DECIMALS[currency])

    def line(
        self,
        kind: str,
        value: Decimal,
        currency: str,
        details: dict[str, Any],
        ref: str,
        *,
        fee: Decimal = Decimal(0),
        moment: datetime,
        exchange: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "type": "CREDIT" if value >= 0 else "DEBIT",
            "date": wise_time(moment),
            "amount": money(value, currency),
            "totalFees": money(quantize(fee, currency), currency),
            "details": {"type": kind, **details},
            "exchangeDetails": exchange,
            "runningBalance": None,  # set by Balance.add
            "referenceNumber": ref,
        }

    # --- events ------------------------------------------------------------------------

    def client_payment(self, moment: datetime) -> str:
        """A client pays an invoice; returns the currency it arrived in."""
        currency = self.rng.choices(["USD", "EUR", "GBP", "JPY"], [40, 30, 20, 10])[0]
        low, high = {
            "USD": (800, 9000),
            "EUR": (500, 7000),
            "GBP": (400, 6000),
            "JPY": (80_000, 900_000),
        }[currency]
        value = self.amount(low, high, currency)
        self.invoice += 1
        reference = f"INV-{moment.year}-{self.invoice:04d}"
        client = self.rng.choice(CLIENTS[currency])
        details = {
            "description": f"Received money from {client} with reference {reference}",
            "senderName": client,
            "senderAccount": SENDER_ACCOUNTS[currency],
            "paymentReference": reference,
        }
        self.std[currency].add(
            moment,
            self.line(
                "DEPOSIT", value, currency, details, self.b.reference("DEPOSIT"), moment=moment
            ),
        )
        return currency

    def card(self, moment: datetime) -> None:
        home = self.rng.choices(
            ["USD", "EUR", "GBP", "JPY", "CAD", "CHF", "MXN"], [70, 10, 6, 4, 4, 3, 3]
        )[0]
        balance = self.std.get(home, self.std["USD"])
        merchant, category, city, country = self.rng.choice(MERCHANTS[home])
        low, high = (300, 30_000) if home == "JPY" else (4, 380)
        if home == "MXN":
            low, high = 60, 2_400
        spent = self.amount(low, high, home)
        fee = Decimal(0)
        exchange = None
        if balance.currency == home:
            debit = spent
        else:  # abroad in a currency without a balance: paid from USD at Wise's rate
            rate = self.b.rates.rate("USD", home, moment.date())
            debit = quantize(spent / rate, "USD", ROUND_HALF_EVEN)
            fee = quantize(debit * CONVERSION_FEE + Decimal("0.10"), "USD")
            debit += fee
            exchange = {"forAmount": money(spent, home), "rate": rate}
        if balance.amount < debit:
            return
        details = {
            "description": f"Card transaction of {spent} {home} issued by {merchant} "
            f"{city.upper()}",
            "amount": money(spent, home),
            "category": category,
            "merchant": {
                "name": merchant,
                "firstLine": None,
                "postCode": "",
                "city": city,
                "state": "",
                "country": country,
                "category": category,
            },
        }
        line = self.line(
            "CARD",
            -debit,
            balance.currency,
            details,
            self.b.reference("CARD"),
            fee=fee,
            moment=moment,
            exchange=exchange,
        )
        balance.add(moment, line)
        self.card_history.append((balance, line, moment))

    def card_refund(self, moment: datetime) -> None:
        """A merchant refunds an earlier card payment: same reference, opposite direction."""
        candidates = [i for i, c in enumerate(self.card_history) if c[2].date() < moment.date()]
        if not candidates:
            return
        index = self.rng.choice(candidates)
        balance, original, _ = self.card_history[index]
        del self.card_history[index]
        value = -original["amount"]["value"] - original["totalFees"]["value"]
        details = {
            **original["details"],
            "description": "Card transaction refund: "
            + original["details"]["description"].split(" issued by ")[-1],
        }
        balance.add(
            moment,
            self.line(
                "CARD", value, balance.currency, details, original["referenceNumber"], moment=moment
            ),
        )

    def contractor(self, moment: datetime) -> None:
        currency = self.rng.choices(["EUR", "GBP", "USD"], [50, 30, 20])[0]
        balance = self.std[currency]
        name = self.rng.choice([n for n in CONTRACTORS[currency] if "IRS" not in n])
        sent = self.amount(150, 2500, currency)
        fee = FIXED_FEE[currency] + quantize(sent * Decimal("0.0041"), currency)
        if balance.amount < sent + fee:
            return
        self.invoice += 1
        details = {
            "description": f"Sent money to {name}",
            "recipient": {
                "name": name,
                "bankAccount": "•••• " + f"{self.rng.randint(0, 9999):04d}",
            },
            "paymentReference": f"Design work {self.invoice}",
        }
        line = self.line(
            "TRANSFER",
            -(sent + fee),
            currency,
            details,
            self.b.reference("TRANSFER"),
            fee=fee,
            moment=moment,
        )
        balance.add(moment, line)
        self.transfer_history.append((balance, line, moment))

    def transfer_bounce(self, moment: datetime) -> None:
        """A transfer bounced back: the sent amount returns under the same reference."""
        candidates = [i for i, t in enumerate(self.transfer_history) if t[2].date() < moment.date()]
        if not candidates:
            return
        index = self.rng.choice(candidates)
        balance, original, _ = self.transfer_history[index]
        del self.transfer_history[index]
        value = -original["amount"]["value"] - original["totalFees"]["value"]
        name = original["details"]["recipient"]["name"]
        details = {
            "description": f"Refund of money sent to {name}",
            "paymentReference": original["details"]["paymentReference"],
        }
        balance.add(
            moment,
            self.line(
                "TRANSFER",
                value,
                balance.currency,
                details,
                original["referenceNumber"],
                moment=moment,
            ),
        )

    def conversion(self, moment: datetime, source: str, target: str, amount: Decimal) -> None:
        """Convert `amount` of `source` (fee inside it) into `target`: two lines."""
        rate = self.b.rates.rate(source, target, moment.date())
        fee = FIXED_FEE[source] + quantize(amount * CONVERSION_FEE, source)
        received = quantize((amount - fee) * rate, target, ROUND_DOWN)
        if received <= 0 or self.std[source].amount < amount:
            return
        ref = self.b.reference("BALANCE")
        details = {
            "description": f"Converted {amount} {source} to {received} {target}",
            "sourceAmount": money(amount, source),
            "targetAmount": money(received, target),
            "fee": money(fee, source),
            "rate": rate,
        }
        self.std[source].add(
            moment, self.line("CONVERSION", -amount, source, details, ref, fee=fee, moment=moment)
        )
        self.std[target].add(
            moment, self.line("CONVERSION", received, target, dict(details), ref, moment=moment)
        )

    def convert_surplus(self, moment: datetime) -> None:
        currency = self.rng.choice(["EUR", "GBP", "JPY"])
        balance = self.std[currency]
        surplus = balance.amount - FOREIGN_FLOAT[currency]
        if surplus <= 0:
            return
        amount = quantize(
            surplus * Decimal(self.rng.choice(["0.5", "0.8", "1"])), currency, ROUND_DOWN
        )
        self.conversion(moment, currency, "USD", amount)

    def auto_convert(self, moment: datetime, currency: str) -> None:
        """Convert all of a foreign balance over its float to USD, a millisecond after
        the payment (lines at the same instant would leave their order to chance)."""
        surplus = self.std[currency].amount - FOREIGN_FLOAT[currency]
        if surplus > 0:
            self.conversion(moment + timedelta(milliseconds=1), currency, "USD", surplus)

    def owner_draw(self, moment: datetime, float_usd: Decimal) -> None:
        """Pay the owner what the USD balance holds over `float_usd`."""
        amount = quantize(self.std["USD"].amount - float_usd, "USD", ROUND_DOWN)
        self.usd_send(moment, amount, "Avery Quinn", "6712", f"Owner draw {moment:%Y-%m}")

    def usd_send(
        self, moment: datetime, amount: Decimal, name: str, account_end: str, reference: str
    ) -> None:
        """A fee-free transfer out of the USD balance (nothing when it cannot pay)."""
        usd = self.std["USD"]
        if usd.amount < amount or amount <= 0:
            return
        details = {
            "description": f"Sent money to {name}",
            "recipient": {"name": name, "bankAccount": f"•••• {account_end}"},
            "paymentReference": reference,
        }
        usd.add(
            moment,
            self.line(
                "TRANSFER", -amount, "USD", details, self.b.reference("TRANSFER"), moment=moment
            ),
        )

    def jar_move(self, moment: datetime, *, to_jar: bool, amount: Decimal) -> None:
        source, target = (self.std["USD"], self.jar) if to_jar else (self.jar, self.std["USD"])
        if amount <= 0 or source.amount < amount:
            return
        ref = self.b.reference("BALANCE")
        verb = f"to {JAR_NAME}" if to_jar else f"from {JAR_NAME}"
        details = {
            "description": f"Moved {amount} USD {verb}",
            "sourceAmount": money(amount, "USD"),
            "targetAmount": money(amount, "USD"),
            "fee": money(Decimal("0.00"), "USD"),
            "rate": Decimal("1"),
        }
        source.add(moment, self.line("CONVERSION", -amount, "USD", details, ref, moment=moment))
        target.add(
            moment, self.line("CONVERSION", amount, "USD", dict(details), ref, moment=moment)
        )

    def money_added(self, moment: datetime) -> None:
        value = self.amount(500, 5000, "USD")
        details = {
            "description": "Topped up balance from Chase ••6712",
            "senderName": "Avery Quinn",
            "paymentReference": "Top up",
        }
        self.std["USD"].add(
            moment,
            self.line(
                "MONEY_ADDED", value, "USD", details, self.b.reference("TRANSFER"), moment=moment
            ),
        )

    def interest(self, moment: datetime) -> None:
        value = quantize(self.jar.amount * Decimal("0.0035"), "USD", ROUND_DOWN)
        if value <= 0:
            return
        details = {"description": f"Interest earned on {JAR_NAME}"}
        self.jar.add(
            moment,
            self.line(
                "BALANCE_INTEREST",
                value,
                "USD",
                details,
                self.b.reference("BALANCE_INTEREST"),
                moment=moment,
            ),
        )

    def quarterly_tax(self, moment: datetime) -> None:
        amount = quantize(self.jar.amount * Decimal("0.9"), "USD", ROUND_DOWN)
        self.jar_move(moment, to_jar=False, amount=amount)
        self.usd_send(
            moment + timedelta(minutes=5), amount, "US Treasury (IRS)", "0001",
            f"1040-ES {moment.year} Q{(moment.month - 1) // 3 + 1}",
        )  # fmt: skip


def business_generate(
    *,
    seed: int,
    start: datetime,
    until: datetime,
    size: int = 2500,
    auto_convert: bool = False,
    draw_above: Decimal | None = None,
) -> Business:
    """The whole business from `start` to `until` with about `size` statement lines.
    `auto_convert` and `draw_above` switch on the optional habits (module docstring)."""
    rng = random.Random(seed)
    days = max((until - start).days + 1, 1)
    profiles = [
        Profile(PROFILE_BUSINESS, "BUSINESS", "Quinn Studio LLC", "Quinn Studio LLC"),
        Profile(PROFILE_PERSONAL, "PERSONAL", "Avery Quinn"),
    ]
    balances = [
        Balance(70001, PROFILE_BUSINESS, "USD", "STANDARD", None, start),
        Balance(70002, PROFILE_BUSINESS, "EUR", "STANDARD", None, start),
        Balance(70003, PROFILE_BUSINESS, "GBP", "STANDARD", None, start),
        Balance(70004, PROFILE_BUSINESS, "JPY", "STANDARD", None, start),
        Balance(70005, PROFILE_BUSINESS, "USD", "SAVINGS", JAR_NAME, start),
        Balance(70101, PROFILE_PERSONAL, "USD", "STANDARD", None, start),
    ]
    rates = RateBook(rng, start.date(), days, seed)
    business = Business(profiles, balances, rates, start, until)
    writer = _Writer(business, rng)
    # Average lines per day, less the fixed monthly events (interest, jar moves, tax).
    per_day = max(size - days // 7, 1) / days
    weights = {
        "card": 58,
        "payment": 13,
        "contractor": 8,
        "convert": 9,
        "money_added": 3,
        "card_refund": 4,
        "bounce": 1,
    }
    kinds, kind_weights = list(weights), list(weights.values())
    personal = business.balance(70101)
    assert personal is not None
    opening = start + timedelta(minutes=30)  # the business starts with a top-up
    writer.money_added(opening)
    personal.add(
        opening,
        writer.line(
            "MONEY_ADDED",
            Decimal("2500.00"),
            "USD",
            {"description": "Topped up balance"},
            business.reference("TRANSFER"),
            moment=opening,
        ),
    )
    for offset in range(days):
        day_start = datetime.combine(
            start.date() + timedelta(days=offset), datetime.min.time(), tzinfo=UTC
        )
        events: list[tuple[datetime, str]] = []
        count = _poisson(rng, per_day)
        for _ in range(count):
            second = rng.randrange(7 * 3600, 23 * 3600)
            events.append(
                (
                    day_start + timedelta(seconds=second, milliseconds=rng.randrange(1000)),
                    rng.choices(kinds, kind_weights)[0],
                )
            )
        if day_start.day == 1:
            events.append((day_start + timedelta(hours=6), "jar_in"))
            events.append((day_start + timedelta(hours=2), "interest"))
        if day_start.day == 15 and day_start.month in (1, 4, 6, 9):
            events.append((day_start + timedelta(hours=6, minutes=30), "tax"))
        if draw_above is not None and (day_start + timedelta(days=1)).day == 1:
            events.append((day_start + timedelta(hours=23, minutes=30), "draw"))
        for moment, kind in sorted(events):
            if moment > until or moment <= opening:
                continue
            if kind == "draw":
                assert draw_above is not None
                writer.owner_draw(moment, draw_above)
            elif kind == "payment" and auto_convert:
                currency = writer.client_payment(moment)
                if currency != "USD":
                    writer.auto_convert(moment, currency)
            else:
                _event(writer, kind, moment)
    return business


def _event(writer: _Writer, kind: str, moment: datetime) -> None:
    if kind == "card":
        writer.card(moment)
    elif kind == "payment":
        writer.client_payment(moment)
    elif kind == "contractor":
        writer.contractor(moment)
    elif kind == "convert":
        writer.convert_surplus(moment)
    elif kind == "money_added":
        writer.money_added(moment)
    elif kind == "card_refund":
        writer.card_refund(moment)
    elif kind == "bounce":
        writer.transfer_bounce(moment)
    elif kind == "jar_in":
        amount = quantize(writer.std["USD"].amount * Decimal("0.2"), "USD", ROUND_DOWN)
        writer.jar_move(moment, to_jar=True, amount=amount)
    elif kind == "interest":
        writer.interest(moment)
    elif kind == "tax":
        writer.quarterly_tax(moment)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation for large ones)."""
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
