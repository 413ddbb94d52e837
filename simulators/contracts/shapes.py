"""Checks of bodies JSON Schema cannot describe, named by `x-bulwark-check` in a
description: the ECB's gesmes XML and history zip, and Xero's XML `ApiException`.
Each returns the problems found (none: the body has the documented shape)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree

GESMES = "{http://www.gesmes.org/xml/2002-08-01}"
EUROFXREF = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
_CODE = re.compile(r"^[A-Z]{3}$")


def _xml(body: bytes) -> tuple[Element | None, list[str]]:
    try:
        return ElementTree.fromstring(body), []
    except (ParseError, ValueError) as exc:
        return None, [f"not well-formed XML ({exc})"]


def _is_date(text: str | None) -> bool:
    try:
        date.fromisoformat(text or "")
    except ValueError:
        return False
    return len(text or "") == 10


def _is_rate(text: str | None) -> bool:
    try:
        return Decimal(text or "") > 0
    except InvalidOperation:
        return False


def ecb_gesmes(body: bytes) -> list[str]:
    """`gesmes:Envelope` > `gesmes:subject`, `gesmes:Sender/gesmes:name`, then `Cube` >
    `Cube time=` (ISO dates, newest first) > `Cube currency= rate=` (ECB's files)."""
    root, problems = _xml(body)
    if root is None:
        return problems
    if root.tag != f"{GESMES}Envelope":
        return [f"the root is {root.tag}, not gesmes:Envelope"]
    if root.find(f"{GESMES}subject") is None or root.find(f"{GESMES}Sender/{GESMES}name") is None:
        problems.append("gesmes:subject or gesmes:Sender/gesmes:name is missing")
    outer = root.find(f"{EUROFXREF}Cube")
    if outer is None:
        return [*problems, "the outer Cube is missing"]
    days = []
    for day in outer:
        if day.tag != f"{EUROFXREF}Cube" or not _is_date(day.get("time")):
            problems.append(f"a day Cube without an ISO time: {day.attrib}")
            continue
        days.append(day.get("time"))
        for rate in day:
            if not (_CODE.match(rate.get("currency") or "") and _is_rate(rate.get("rate"))):
                problems.append(f"{day.get('time')}: a rate Cube is malformed: {rate.attrib}")
    if days != sorted(days, reverse=True):
        problems.append("the days are not newest first")
    return problems[:20]


def ecb_history_zip(body: bytes) -> list[str]:
    """One member `eurofxref-hist.csv`: `Date`, a column per currency, a trailing empty
    column, newest day first, `N/A` where a currency had no rate."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile as exc:
        return [f"not a zip archive ({exc})"]
    if archive.namelist() != ["eurofxref-hist.csv"]:
        return [f"the archive holds {archive.namelist()}, not eurofxref-hist.csv"]
    rows = list(csv.reader(io.StringIO(archive.read("eurofxref-hist.csv").decode("utf-8"))))
    if not rows or rows[0][0] != "Date" or rows[0][-1] != "":
        return ["the header is not Date, the currencies and a trailing empty column"]
    codes = rows[0][1:-1]
    problems = [f"{code!r} is not a currency code" for code in codes if not _CODE.match(code)]
    days = []
    for row in rows[1:]:
        if len(row) != len(rows[0]) or not _is_date(row[0]) or row[-1] != "":
            problems.append(f"a malformed line: {row[:3]}...")
            continue
        days.append(row[0])
        bad = [cell for cell in row[1:-1] if cell != "N/A" and not _is_rate(cell)]
        problems += [f"{row[0]}: {cell!r} is not a rate" for cell in bad]
    if days != sorted(days, reverse=True):
        problems.append("the days are not newest first")
    return problems[:20]


def xero_api_exception(body: bytes) -> list[str]:
    """Xero's XML error: `ApiException` > `ErrorNumber`, `Type`, `Message`."""
    root, problems = _xml(body)
    if root is None:
        return problems
    if root.tag != "ApiException":
        return [f"the root is {root.tag}, not ApiException"]
    missing = [name for name in ("ErrorNumber", "Type", "Message") if root.find(name) is None]
    if missing:
        return [f"ApiException lacks {', '.join(missing)}"]
    if not (root.findtext("ErrorNumber") or "").isdigit():
        return ["ErrorNumber is not a number"]
    return []


def pdf_document(body: bytes) -> list[str]:
    """A PDF file: the `%PDF-1.x` header, a cross-reference and the `%%EOF` trailer."""
    problems = []
    if not body.startswith(b"%PDF-1."):
        problems.append("the body does not start with a PDF header (%PDF-1.x)")
    if not body.rstrip().endswith(b"%%EOF"):
        problems.append("the body does not end with the PDF trailer (%%EOF)")
    if b"startxref" not in body[-1024:]:
        problems.append("the body has no startxref before its trailer")
    return problems


CHECKS: dict[str, Callable[[bytes], list[str]]] = {
    "pdf-document": pdf_document,
    "ecb-gesmes": ecb_gesmes,
    "ecb-history-zip": ecb_history_zip,
    "xero-api-exception": xero_api_exception,
}
