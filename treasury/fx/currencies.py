"""Which currencies each rate source quotes, and how the Treasury names them.

The ECB quotes foreign units per 1 EUR; the U.S. Treasury quotes foreign units per 1 USD
and keys its rows on a `country_currency_desc` text ("Euro Zone-Euro"), not ISO 4217.
"""

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
    "BGN": "Bulgaria-Lev",
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
    "ZMW": "Zambia-Kwacha",
}

# Other spellings the Treasury has used for the same currency over the years.
TREASURY_ALIASES: dict[str, str] = {
    "Romania-Leu": "RON",
    "Turkey-Lira": "TRY",
    "Israel-New Shekel": "ILS",
    "Czechia-Koruna": "CZK",
    "China-Yuan": "CNY",
}


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


_BY_DESCRIPTION = {
    _key(text): code
    for code, text in [
        *TREASURY_DESCRIPTIONS.items(),
        *((v, k) for k, v in TREASURY_ALIASES.items()),
    ]
}


def treasury_currency(description: str) -> str | None:
    """The ISO code of a Treasury `country_currency_desc`, or None when Bulwark does not
    map it (a euro member's own row, a multi-country currency, or an unknown text)."""
    return _BY_DESCRIPTION.get(_key(description))


def treasury_descriptions(codes: list[str] | None = None) -> list[str]:
    """The preferred and alias texts for the given codes (all mapped codes by default),
    as the Treasury `in:(...)` filter wants them."""
    wanted = set(codes) if codes is not None else set(TREASURY_DESCRIPTIONS)
    texts = [text for code, text in TREASURY_DESCRIPTIONS.items() if code in wanted]
    texts += [text for text, code in TREASURY_ALIASES.items() if code in wanted]
    return sorted(texts)
