"""Reading the dashboard's figures back from its HTML, as a person reads the page."""

from dataclasses import dataclass
from decimal import Decimal

from lxml import html


@dataclass(frozen=True)
class CurrencyLine:
    currency: str
    native: Decimal
    converted: Decimal | None  # None: the page says "no rate"
    text: str  # the row as displayed


@dataclass(frozen=True)
class Page:
    total: Decimal
    complete: bool
    total_text: str
    rows: dict[str, CurrencyLine]
    tree: html.HtmlElement

    def text(self, xpath: str) -> str:
        return " ".join(_text(e) for e in self.tree.xpath(xpath))


def _text(element: html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def by_class(name: str, tag: str = "*") -> str:
    """An XPath for elements of `tag` with the CSS class `name`."""
    return f'//{tag}[contains(concat(" ", normalize-space(@class), " "), " {name} ")]'


def page_read(content: bytes) -> Page:
    tree = html.fromstring(content)
    total = tree.get_element_by_id("total-value")
    rows = {}
    for row in tree.xpath(by_class("currency-row", "tr")):
        converted = row.get("data-converted")
        rows[row.get("data-currency")] = CurrencyLine(
            currency=row.get("data-currency"),
            native=Decimal(row.get("data-native")),
            converted=Decimal(converted) if converted else None,
            text=_text(row),
        )
    return Page(
        total=Decimal(total.get("data-amount")),
        complete=total.get("data-complete") == "true",
        total_text=_text(total),
        rows=rows,
        tree=tree,
    )
