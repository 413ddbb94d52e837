"""`statement.pdf` as Wise serves it: a branded, paginated statement of the balance and
period (docs.wise.com "Balance statement": "PDF format (includes Wise branding)").

Rendered from the same JSON statement as the other files, with the opening and closing
Wise states, so a reader can prove the PDF against its machine-readable twin. ReportLab's
invariant mode makes the bytes depend on the statement alone (no creation time, no random
document id): the same statement is the same file, as a re-download from Wise is.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from simulators.wise.exports import _amount_text, _moment, _Period, _signed

MARGIN = 50
ROW = 14


def statement_pdf(statement: dict[str, Any]) -> bytes:
    period = _Period.of(statement)
    currency = period.currency
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setTitle(f"Wise statement {currency} {period.first:%Y-%m-%d} to {period.last:%Y-%m-%d}")
    pdf.setAuthor((statement.get("issuer") or {}).get("name") or "Wise")
    width, height = A4
    holder = statement.get("accountHolder") or {}
    owner = holder.get("businessName") or " ".join(
        filter(None, (holder.get("firstName"), holder.get("lastName")))
    )
    y = height - MARGIN

    def head() -> float:
        pdf.setFont("Helvetica-Bold", 18)
        pdf.drawString(MARGIN, height - MARGIN, "wise")
        pdf.setFont("Helvetica", 9)
        pdf.drawRightString(
            width - MARGIN, height - MARGIN, (statement.get("issuer") or {}).get("name", "")
        )
        return height - MARGIN - 2 * ROW

    y = head()
    pdf.setFont("Helvetica", 10)
    for text in (
        f"{currency} statement",
        f"{period.first:%Y-%m-%d} to {period.last:%Y-%m-%d}",
        f"Account holder: {owner}",
        f"Opening balance: {_amount_text(period.opening, currency)} {currency}",
        f"Closing balance: {_amount_text(period.closing, currency)} {currency}",
    ):
        pdf.drawString(MARGIN, y, text)
        y -= ROW
    y -= ROW
    for line in period.lines:
        if y < MARGIN + ROW:
            pdf.showPage()
            y = head()
            pdf.setFont("Helvetica", 10)
        description = ((line.get("details") or {}).get("description") or "")[:70]
        pdf.drawString(MARGIN, y, f"{_moment(line['date']):%Y-%m-%d}")
        pdf.drawString(MARGIN + 70, y, description)
        pdf.drawRightString(width - MARGIN, y, _amount_text(_signed(line), currency))
        y -= ROW
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
