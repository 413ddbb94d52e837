"""Which currencies each rate source quotes, and how the Treasury names them.

The ECB quotes foreign units per 1 EUR; the U.S. Treasury quotes foreign units per 1 USD
and keys its rows on a `country_currency_desc` text ("Euro Zone-Euro"), not ISO 4217.
"""

from dataclasses import dataclass
from datetime import date

# The ECB's euro foreign exchange reference rates (June 2024 file), in its column order.
ECB_CURRENCIES: tuple[str, ...] = (
    "USD", "JPY", "BGN", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK",
    "NOK", "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN",
    "MYR", "NZD", "PHP", "SGD", "THB", "ZAR",
)  # fmt: skip

# Once quoted by the ECB, now gone (euro adoption, redenomination, or suspension).
ECB_FORMER_CURRENCIES: tuple[str, ...] = (
    "CYP", "EEK", "HRK", "LTL", "LVL", "MTL", "ROL", "RUB", "SIT", "SKK", "TRL",
)  # fmt: skip

# Balances a Wise multi-currency account can hold (Wise help centre list, 2025).
WISE_CURRENCIES: tuple[str, ...] = (
    "AED", "ARS", "AUD", "BDT", "BGN", "BRL", "BWP", "CAD", "CHF", "CLP", "CNY", "COP",
    "CRC", "CZK", "DKK", "EGP", "EUR", "FJD", "GBP", "GEL", "GHS", "HKD", "HUF", "IDR",
    "ILS", "INR", "JPY", "KES", "KRW", "LKR", "MAD", "MXN", "MYR", "NGN", "NOK", "NPR",
    "NZD", "PHP", "PKR", "PLN", "RON", "SEK", "SGD", "THB", "TRY", "TZS", "UAH", "UGX",
    "USD", "UYU", "VND", "ZAR", "ZMW",
)  # fmt: skip

# Treasury `country_currency_desc` → ISO 4217, one preferred text per code. Rows of
# other texts are not stored: the euro countries' own rows ("Austria-Euro") repeat the
# Euro Zone rate, and multi-country currencies (CFA francs) have no single row to pick.
TREASURY_DESCRIPTIONS: dict[str, str] = {
    "AED": "United Arab Emirates-Dirham",
    "ARS": "Argentina-Peso",
    "AUD": "Australia-Dollar",
    "BDT": "Bangladesh-Taka",
    "BGN": "Bulgaria-Lev New",
    "BHD": "Bahrain-Dinar",
    "BRL": "Brazil-Real",
    "BWP": "Botswana-Pula",
    "CAD": "Canada-Dollar",
    "CHF": "Switzerland-Franc",
    "CLP": "Chile-Peso",
    "CNY": "China-Renminbi",
    "COP": "Colombia-Peso",
    "CRC": "Costa Rica-Colon",
    "CZK": "Czech Republic-Koruna",
    "DKK": "Denmark-Krone",
    "EGP": "Egypt-Pound",
    "EUR": "Euro Zone-Euro",
    "FJD": "Fiji-Dollar",
    "GBP": "United Kingdom-Pound",
    "GEL": "Georgia-Lari",
    "GHS": "Ghana-Cedi",
    "HKD": "Hong Kong-Dollar",
    "HRK": "Croatia-Kuna",
    "HUF": "Hungary-Forint",
    "IDR": "Indonesia-Rupiah",
    "ILS": "Israel-Shekel",
    "INR": "India-Rupee",
    "ISK": "Iceland-Krona",
    "JOD": "Jordan-Dinar",
    "JPY": "Japan-Yen",
    "KES": "Kenya-Shilling",
    "KRW": "Korea-Won",
    "KWD": "Kuwait-Dinar",
    "LKR": "Sri Lanka-Rupee",
    "MAD": "Morocco-Dirham",
    "MXN": "Mexico-Peso",
    "MYR": "Malaysia-Ringgit",
    "NGN": "Nigeria-Naira",
    "NOK": "Norway-Krone",
    "NPR": "Nepal-Rupee",
    "NZD": "New Zealand-Dollar",
    "OMR": "Oman-Rial",
    "PEN": "Peru-Sol",
    "PHP": "Philippines-Peso",
    "PKR": "Pakistan-Rupee",
    "PLN": "Poland-Zloty",
    "QAR": "Qatar-Riyal",
    "RON": "Romania-New Leu",
    "RUB": "Russia-Ruble",
    "SAR": "Saudi Arabia-Riyal",
    "SEK": "Sweden-Krona",
    "SGD": "Singapore-Dollar",
    "THB": "Thailand-Baht",
    "TRY": "Turkey-New Lira",
    "TWD": "Taiwan-Dollar",
    "TZS": "Tanzania-Shilling",
    "UAH": "Ukraine-Hryvnia",
    "UGX": "Uganda-Shilling",
    "UYU": "Uruguay-Peso",
    "VND": "Vietnam-Dong",
    "ZAR": "South Africa-Rand",
    "ZMW": "Zambia-New Kwacha",
}

# Other texts the Treasury has used for the same currency in the same units (the
# September 2001 report, for one, has "Bulgaria-Lev" at 2.146 new leva to the dollar).
TREASURY_ALIASES: dict[str, str] = {
    "Bulgaria-Lev": "BGN",
    "Peru-Nuevo Sol": "PEN",
    "Israel-New Shekel": "ILS",
    "Czechia-Koruna": "CZK",
    "China-Yuan": "CNY",
}


@dataclass(frozen=True)
class Redenomination:
    """A currency that replaced an older unit: rows in the old unit are never stored as
    the new currency (a 2004 "Turkey-Lira" rate is some 1.4 million to the dollar)."""

    code: str  # ISO 4217 of today's unit
    old_code: str
    since: date  # the first day of the new unit
    old_per_new: int
    old_texts: tuple[str, ...]  # Treasury texts that only ever carried the old unit


# The redenominations of currencies Bulwark maps since the Treasury's data begins (2001),
# with the texts of their old units: TRL ("Turkey-Lira", to the December 2004 report),
# ROL ("Romania-Leu"; "Romania-Third Leu" in some copies), ZMK ("Zambia-Kwacha", to
# December 2012). The cedi kept its text ("Ghana-Cedi") across its redenomination, so
# there the date alone tells the units; "Ghana-Second Cedi" is the old unit's other text.
# Any row of these currencies effective before `since` is in the old unit.
REDENOMINATIONS: tuple[Redenomination, ...] = (
    Redenomination("TRY", "TRL", date(2005, 1, 1), 1_000_000, ("Turkey-Lira",)),
    Redenomination("RON", "ROL", date(2005, 7, 1), 10_000, ("Romania-Leu", "Romania-Third Leu")),
    Redenomination("GHS", "GHC", date(2007, 7, 1), 10_000, ("Ghana-Second Cedi",)),
    Redenomination("ZMW", "ZMK", date(2013, 1, 1), 1_000, ("Zambia-Kwacha",)),
)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


_BY_DESCRIPTION = {
    _key(text): code
    for code, text in [
        *TREASURY_DESCRIPTIONS.items(),
        *((v, k) for k, v in TREASURY_ALIASES.items()),
    ]
}


_OLD_TEXTS = {_key(text): r for r in REDENOMINATIONS for text in r.old_texts}
_BY_CODE = {r.code: r for r in REDENOMINATIONS}


def treasury_currency(description: str) -> str | None:
    """The ISO code of a Treasury `country_currency_desc`, or None when Bulwark does not
    map it (a euro member's own row, a multi-country currency, an old unit's text, or an
    unknown text)."""
    return _BY_DESCRIPTION.get(_key(description))


def treasury_old_unit(description: str, effective: date) -> Redenomination | None:
    """The redenomination whose old unit a row is in: an old unit's text, or a row of a
    redenominated currency effective before the new unit began."""
    old = _OLD_TEXTS.get(_key(description))
    if old is not None:
        return old
    replaced = _BY_CODE.get(treasury_currency(description) or "")
    return replaced if replaced is not None and effective < replaced.since else None


def treasury_descriptions(codes: list[str] | None = None) -> list[str]:
    """The preferred and alias texts for the given codes (all mapped codes by default),
    as the Treasury `in:(...)` filter wants them."""
    wanted = set(codes) if codes is not None else set(TREASURY_DESCRIPTIONS)
    texts = [text for code, text in TREASURY_DESCRIPTIONS.items() if code in wanted]
    texts += [text for text, code in TREASURY_ALIASES.items() if code in wanted]
    return sorted(texts)
