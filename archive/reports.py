"""Reports the archive files on its own: the FBAR worksheet of a past year, once the
Treasury's December 31 rates price every foreign account (until then the worksheet is
an estimate, and an estimate is not a record).

Filed as the accountant's copy (account numbers masked, as the pages mask them), PDF and
CSV, under `Tax/FBAR/<year>/<year>-12-31_fbar-worksheet_<year>.*`: the date it is about
is the year's last day, whose balances and rates it states. A worksheet that changes
later (an amended rate, a late line) is filed as a new version; the same one again
files nothing.
"""

from __future__ import annotations

from datetime import date

from archive.layout import Naming
from archive.models import Function, Version
from archive.services import Filed, document_file
from treasury.fbar.reports import Worksheet, worksheet_csv, worksheet_pdf
from treasury.fbar.selectors import fbar_year
from treasury.fx.models import Rate, Source


def fbar_worksheet_file(*, year: int, today: date) -> list[Filed]:
    """File the year's worksheet if its figures are final; [] if they are not yet."""
    published = Rate.objects.filter(source=Source.TREASURY, record_date=date(year, 12, 31))
    if not published.exists():
        return []
    result = fbar_year(year=year, today=today)
    if result.is_current or result.is_estimate or not result.is_complete or not result.foreign:
        return []
    sheet = Worksheet(result=result, whole_numbers=False)
    filed = []
    for extension, content_type, render in (
        ("pdf", "application/pdf", worksheet_pdf),
        ("csv", "text/csv", worksheet_csv),
    ):
        naming = Naming(
            function=Function.TAX, subject="FBAR", kind="fbar-worksheet",
            about_on=date(year, 12, 31), period=str(year), extension=extension,
        )  # fmt: skip
        data = render(sheet)
        filed.append(
            document_file(
                naming=naming,
                data=data,
                content_type=content_type,
                source=Version.Source.GENERATED,
                period_start=date(year, 1, 1),
                period_end=date(year, 12, 31),
            )
        )
    return filed
