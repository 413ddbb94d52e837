"""The archive's pages: the completeness matrix (`archive:matrix`) and a period's ZIP
(`archive:download`). Both read only: the accountant sees and downloads everything."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from archive import selectors
from archive.bundle import PeriodError, period_parse, period_zip
from archive.months import month_previous, month_start
from treasury.params import BadParameter, param_int

MATRIX_MONTHS = 24


@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    count = param_int(request.GET, "months", default=MATRIX_MONTHS, maximum=120) or MATRIX_MONTHS
    last = month_previous(month_start(timezone.now().date()))
    first = last
    for _ in range(count - 1):
        first = month_previous(first)
    found = selectors.completeness_matrix(first_month=first, last_month=last)
    return render(
        request,
        "archive/matrix.html",
        {"matrix": found, "months": count, "last_month": last, "periods": _periods(found)},
    )


def _periods(found: selectors.Matrix) -> list[str]:
    """The periods offered for download, newest first: each year, then each month."""
    years = sorted({f"{m:%Y}" for m in found.months}, reverse=True)
    return years + [f"{m:%Y-%m}" for m in reversed(found.months)]


@require_GET
def download(request: HttpRequest) -> HttpResponse:
    try:
        period = period_parse(request.GET.get("period", ""))
    except PeriodError as exc:
        raise BadParameter("period", str(exc)) from exc
    archive, _count = period_zip(period)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"bulwark-archive-{period.label}.zip",
        content_type="application/zip",
    )
