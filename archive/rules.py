"""Filing rules for dropped documents: the first active rule (by `order`) whose every
set pattern matches gives the document its function, subject, kind, label and date.

Patterns are RE2 regular expressions (linear time, whatever the owner types), matched
case-insensitively:

- `text_pattern` against the document's text (a PDF's text layer, a text file's
  content) and its file name;
- `sender_pattern` against the sender the owner gave (or the mail's From);
- `amount_pattern` against each amount the text states, written plainly (`1234.50`);
- `date_pattern` finds the date the document is about: its first group, as ISO
  (`2026-11-03`) or `03.11.2026`; without one, the first such date in the text.

A document that no rule files, or whose date cannot be found, waits in the inbox.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import re2

from archive.layout import Naming, name_part
from archive.models import FilingRule

TEXT_MAX_CHARS = 200_000
PDF_MAX_PAGES = 20
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DOTTED = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b")
_AMOUNT = re.compile(
    r"(?<![\d.,])\d{1,3}(?:[,.' ]\d{3})*[.,]\d{2}(?![\d])|(?<![\d.,])\d+[.,]\d{2}(?!\d)"
)


class RuleError(ValueError):
    """A pattern RE2 cannot compile; the message is RE2's, for the owner."""


def pattern_compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    options.max_mem = 8 << 20
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise RuleError(f"Not a valid regular expression (RE2 syntax): {reason}") from exc


def document_text(data: bytes, content_type: str) -> str:
    """The text a rule reads: a PDF's text layer, or a text file's content; else ''."""
    if content_type == "application/pdf" or data.startswith(b"%PDF-"):
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(io.BytesIO(data))
            pages = reader.pages[:PDF_MAX_PAGES]
            return "\n".join(page.extract_text() or "" for page in pages)[:TEXT_MAX_CHARS]
        except (PdfReadError, ValueError, KeyError, TypeError):
            return ""
    if content_type.startswith("text/") or content_type in ("application/xml", "application/json"):
        return data[:TEXT_MAX_CHARS].decode("utf-8", errors="replace")
    return ""


def _date_of(text: str) -> date | None:
    for pattern, order in ((_ISO, (0, 1, 2)), (_DOTTED, (2, 1, 0))):
        for found in pattern.finditer(text):
            parts = found.groups()
            try:
                return date(int(parts[order[0]]), int(parts[order[1]]), int(parts[order[2]]))
            except ValueError:
                continue
    return None


def amounts_in(text: str) -> list[str]:
    """Every amount the text states, plainly: `1.234,50` and `1,234.50` -> `1234.50`."""
    found = []
    for raw in _AMOUNT.findall(text):
        digits = re.sub(r"[^\d]", "", raw)
        found.append(f"{int(digits[:-2]) if digits[:-2] else 0}.{digits[-2:]}")
    return found


@dataclass(frozen=True)
class RuleInput:
    name: str
    text: str
    sender: str = ""


@dataclass(frozen=True)
class Verdict:
    rule: FilingRule
    about_on: date | None  # None: the rule matched but no date was found

    def naming(self, extension: str) -> Naming:
        assert self.about_on is not None
        return Naming(
            function=self.rule.function, subject=self.rule.subject, kind=self.rule.kind,
            label=self.rule.label, about_on=self.about_on, extension=extension,
        )  # fmt: skip


def rule_verdict(rule: FilingRule, dropped: RuleInput) -> Verdict | None:
    """The rule's verdict on a document, or None if a pattern it sets does not match."""
    haystack = f"{dropped.name}\n{dropped.text}"
    if rule.text_pattern and not pattern_compile(rule.text_pattern).search(haystack):
        return None
    if rule.sender_pattern and not pattern_compile(rule.sender_pattern).search(dropped.sender):
        return None
    if rule.amount_pattern:
        amount = pattern_compile(rule.amount_pattern)
        if not any(amount.search(value) for value in amounts_in(dropped.text)):
            return None
    if rule.date_pattern:
        found = pattern_compile(rule.date_pattern).search(haystack)
        if found is None:
            return None
        about_on = _date_of(found.group(1) if found.groups() else found.group(0))
    else:
        about_on = _date_of(dropped.text) or _date_of(dropped.name)
    return Verdict(rule, about_on)


def rules_first(rules: Iterable[FilingRule], dropped: RuleInput) -> Verdict | None:
    for rule in rules:
        verdict = rule_verdict(rule, dropped)
        if verdict is not None:
            return verdict
    return None


def extension_of(name: str) -> str:
    _, dot, extension = name.rpartition(".")
    return name_part(extension)[:10] if dot and extension else "bin"
