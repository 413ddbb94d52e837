"""The FinCEN 114 worksheet of a year as CSV and PDF (reportlab).

One row per foreign account, with what FinCEN 114 asks (institution, address, account
number, type, maximum value) and how the dollar figure was reached (the amount in the
account's currency, the rate, its date and its source). Account numbers are whole only in
the owner's own export; the accountant's copy masks them like the screen.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from treasury.cells import row_defuse
from treasury.fbar import thresholds
from treasury.fbar.selectors import AccountYear, FbarYear, Form8938, date_text, dollars
from treasury.fx.convert import rate_display
from treasury.money import money_format

COLUMNS = (
    "Account",
    "Financial institution",
    "Institution address",
    "Country",
    "Account number",
    "Type",
    "Currency",
    "Maximum value (currency)",
    "Maximum on",
    "Maximum value (USD, rounded up)",
    "Rate (currency per USD)",
    "Rate date",
    "Rate source",
    "Rate note",
    "Closed on",
)


def export_filename(year: int, extension: str, *, today: date, masked: bool = False) -> str:
    """`2026-02-03_fbar_2025.pdf`: the day it was made, then the year it covers; the copy
    with masked account numbers ends `_masked`, so the two never share a name."""
    suffix = "_masked" if masked else ""
    return f"{today:%Y-%m-%d}_fbar_{year}{suffix}.{extension}"


@dataclass(frozen=True)
class Worksheet:
    result: FbarYear
    whole_numbers: bool  # the owner's own copy

    def number(self, row: AccountYear) -> str:
        return row.account.account_number if self.whole_numbers else row.number_masked

    def rows(self) -> list[list[str]]:
        return [self.row(row) for row in self.result.foreign]

    def row(self, row: AccountYear) -> list[str]:
        rate = row.rate
        return [
            row.account.name,
            row.institution.name,
            " ".join(row.institution.address.split()),
            row.institution.country,
            self.number(row),
            row.account_type,
            row.currency,
            f"{row.max_amount}",
            f"{row.max_on:%Y-%m-%d}" if row.max_on else "",
            "" if row.max_usd is None else str(row.max_usd),
            "" if rate is None else rate_display(rate.per_usd),
            "" if rate is None else f"{rate.rate_date:%Y-%m-%d}",
            "NO RATE" if rate is None else rate.source_label,
            self.result.missing_rates.get(row.currency, "") if rate is None else rate.note,
            f"{row.account.closed_on:%Y-%m-%d}" if row.account.closed_on else "",
        ]

    def summary(self) -> list[tuple[str, str]]:
        result, form = self.result, self.result.form_8938
        status = "estimate, year not over" if result.is_current else "final"
        if not result.is_current and result.is_estimate:
            status = "estimate: the Treasury's December 31 rates are not published yet"
        crossed = f"{result.crossed_on:%Y-%m-%d}" if result.crossed_on else "-"
        due = f"{date_text(result.due)}; extended automatically to {date_text(result.extended_due)}"
        limits = form.thresholds
        lines = [
            ("FinCEN 114 worksheet", str(result.year)),
            ("Balances up to", f"{result.as_of:%Y-%m-%d} ({status})"),
            ("Foreign accounts", str(len(result.foreign))),
            ("Aggregate of maximum values (USD)", str(result.aggregate_usd)),
            ("Filing threshold", f"more than {dollars(thresholds.FBAR_THRESHOLD_USD)}"),
            ("FinCEN 114 required", _yes_no(result.filing_required, result)),
            ("Over the threshold since", crossed),
            ("Due", due),
            (
                "Form 8938 thresholds (year end / any time)",
                f"more than {dollars(limits.year_end_usd)} / "
                f"more than {dollars(limits.any_time_usd)}",
            ),
            (
                "Form 8938 values (year end / any time, USD)",
                f"{form.year_end_usd} / {form.any_time_usd}",
            ),
            ("Form 8938 required", _form_8938_answer(form)),
        ]
        if result.many_accounts:
            lines.append((
                "25 or more accounts",
                f"{len(result.foreign)} accounts: FinCEN 114 takes only their number (item 14a); "
                "keep these details in your records.",
            ))  # fmt: skip
        for code, text in result.missing_rates.items():
            lines.append((f"Missing rate {code}", text))
        lines.append(("Numbers", "whole (owner's copy)" if self.whole_numbers else "masked"))
        return lines


def _form_8938_answer(form: Form8938) -> str:
    return {
        "required": "yes",
        "not required": "no",
        "undetermined": "not yet determined: some accounts have no rate",
        "not applicable": "no (not a U.S. person, per the FBAR settings)",
    }[form.status]


def _yes_no(required: bool, result: FbarYear) -> str:
    if not result.settings.is_us_person:
        return "no (not a U.S. person, per the FBAR settings)"
    if required:
        return "yes"
    return "no" if result.is_complete else "not yet determined: some accounts have no rate"


def worksheet_csv(sheet: Worksheet) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for key, value in sheet.summary():
        writer.writerow(row_defuse([key, value]))
    writer.writerow([])
    writer.writerow(COLUMNS)
    # Names and addresses come from outside (a bank's or Wise's text): made inert.
    writer.writerows([row_defuse(row) for row in sheet.rows()])
    # A BOM so spreadsheet programs read the masking dots and accents as UTF-8.
    return ("\ufeff" + out.getvalue()).encode()


# What fits across a landscape page: the CSV's columns, amounts with their units.
PDF_COLUMNS = (
    "Account", "Financial institution", "Institution address", "Account number", "Type",
    "Maximum value", "Maximum (USD)", "Rate (per USD)", "Rate date", "Rate source",
)  # fmt: skip


def _pdf_row(sheet: Worksheet, row: AccountYear) -> list[str]:
    cells = sheet.row(row)
    maximum = money_format(row.max_amount, row.currency)
    usd = "no rate" if row.max_usd is None else dollars(row.max_usd)
    return [*cells[0:3], cells[4], cells[5], maximum, usd, *cells[10:13]]


def worksheet_pdf(sheet: Worksheet) -> bytes:
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    buffer = io.BytesIO()
    result = sheet.result
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(letter), leftMargin=0.5 * inch, rightMargin=0.5 * inch,
        topMargin=0.5 * inch, bottomMargin=0.5 * inch,
        title=f"FBAR worksheet {result.year}", author="Bulwark", invariant=True,
    )  # fmt: skip
    story: list = [Paragraph(f"FinCEN 114 (FBAR) worksheet, {result.year}", styles["Title"])]
    summary = Table(
        [[Paragraph(escape(k), small), Paragraph(escape(v), small)] for k, v in sheet.summary()],
        colWidths=[2.6 * inch, 7.4 * inch],
    )
    summary.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [summary, Spacer(1, 0.2 * inch)]
    header = [Paragraph(f"<b>{escape(name)}</b>", small) for name in PDF_COLUMNS]
    body = [
        [Paragraph(escape(cell), small) for cell in _pdf_row(sheet, row)] for row in result.foreign
    ]
    if not body:
        story.append(Paragraph("No foreign accounts in this year.", styles["BodyText"]))
    else:
        table = Table([header, *body], repeatRows=1)
        grid = [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        table.setStyle(TableStyle(grid))
        story.append(table)
    story += [Spacer(1, 0.2 * inch), Paragraph(escape(_pdf_note(result)), small)]
    doc.build(story)
    return buffer.getvalue()


def _pdf_note(result: FbarYear) -> str:
    return (
        f"Aggregate {dollars(result.aggregate_usd)}. Each maximum is the highest daily "
        "balance of the year in the account's currency (negative counts as zero), "
        "converted at the U.S. Treasury Reporting Rate for December 31 (another verifiable "
        "rate, named, where the Treasury has none) and rounded up to the next whole dollar. "
        "Not tax advice."
    )
