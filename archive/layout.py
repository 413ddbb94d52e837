"""Where a document goes and what it is called: one template for the whole archive.

The default, `{function}/{subject}/{year}/{date}_{name}.{ext}`, gives
`Banking/Wise/EUR/2026/2026-11-30_statement_wise-eur_2026-11.pdf` and
`Tax/FBAR/2025/2026-02-01_fbar-worksheet_2025.pdf`:

- `function`: the first folder (Banking, Tax, Books, Sales, Purchases, Other);
- `subject`: folders after it (`Wise/EUR`, `FBAR`, `Receipts`);
- `year`: the year of the period the document covers (else of its date);
- `date`: the date the document is about, `YYYY-MM-DD` (a statement's last day, an
  invoice's date), never the day it arrived;
- `name`: the kind, the label and the period, joined by `_` (`statement_wise-eur_2026-11`);
- `ext`: the file's extension.

Folders are ASCII without spaces (case kept); file names are lowercase ASCII without
spaces. The owner may change the template (`layout_change` in services); every document
moves with it and keeps its history.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import date

DEFAULT_TEMPLATE = "{function}/{subject}/{year}/{date}_{name}.{ext}"
FIELDS = frozenset(
    {"function", "subject", "year", "date", "name", "ext", "kind", "label", "period"}
)
REQUIRED = ("date", "name", "ext")
_NAME_UNSAFE = re.compile(r"[^a-z0-9.-]+")
_FOLDER_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


class LayoutError(ValueError):
    """A template that cannot name documents safely."""


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def name_part(text: str) -> str:
    """`Wise EUR` -> `wise-eur`: lowercase ASCII, no spaces, no separators of its own."""
    return _NAME_UNSAFE.sub("-", _ascii(text).lower()).strip("-.")


def folder_part(text: str) -> str:
    """One folder: ASCII, no spaces, case kept (`Wise`, `EUR`, `FBAR`)."""
    return _FOLDER_UNSAFE.sub("-", _ascii(text)).strip("-.")


@dataclass(frozen=True)
class Naming:
    """What a path is made of."""

    function: str
    subject: str
    kind: str
    about_on: date
    extension: str
    label: str = ""
    period: str = ""  # `2026-11`, `2025` or empty


def template_check(template: str) -> str:
    """The template, or a LayoutError saying what is wrong with it."""
    try:
        names = {
            field for _, field, _, _ in string.Formatter().parse(template) if field is not None
        }
    except ValueError as exc:
        raise LayoutError(f"The template is malformed: {exc}") from exc
    unknown = names - FIELDS
    if unknown:
        raise LayoutError(f"Unknown placeholders: {', '.join(sorted(unknown))}.")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise LayoutError(f"The template needs {', '.join('{' + m + '}' for m in missing)}.")
    if template.startswith("/") or ".." in template or " " in template:
        raise LayoutError("The template may not start with /, contain .. or spaces.")
    return template


def path_for(naming: Naming, template: str = DEFAULT_TEMPLATE) -> str:
    """The document's path under the template."""
    name = "_".join(name_part(part) for part in (naming.kind, naming.label, naming.period) if part)
    year = naming.period[:4] if naming.period[:4].isdigit() else f"{naming.about_on.year}"
    subject = "/".join(folder_part(p) for p in naming.subject.split("/") if folder_part(p))
    values = {
        "function": folder_part(naming.function), "subject": subject, "year": year,
        "date": naming.about_on.isoformat(), "name": name, "ext": name_part(naming.extension),
        "kind": name_part(naming.kind), "label": name_part(naming.label),
        "period": name_part(naming.period),
    }  # fmt: skip
    path = template.format(**values)
    folders, _, filename = path.rpartition("/")
    parts = [part for part in folders.split("/") if part]
    return "/".join([*parts, filename.lower()])
