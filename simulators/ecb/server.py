"""The ECB simulator: the reference rate files at their real paths and in their real formats.

- `/stats/eurofxref/eurofxref-daily.xml`: the latest TARGET day up to `today`;
- `/stats/eurofxref/eurofxref-hist-90d.xml`: the TARGET days of the last 90 days;
- `/stats/eurofxref/eurofxref-hist.xml`: every day since `history_start`, newest first;
- `/stats/eurofxref/eurofxref-hist.zip`: the same as `eurofxref-hist.csv` in a zip.

Control: `POST /_sim/today {"today": "2025-06-30", "history_start": "2024-01-01"}` moves
the simulator's calendar (tests pin it; the demo runs on the real date).
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from simulators.base import SimRequest, SimResponse, SimulatorServer
from simulators.ecb.data import CODES, FIRST_DAY, history

Day = tuple[date, tuple[tuple[str, Any], ...]]

XML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
    'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
    "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
    "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n"
    "\t</gesmes:Sender>\n\t<Cube>\n"
)
XML_TAIL = "\t</Cube>\n</gesmes:Envelope>\n"


def xml_document(days: list[Day]) -> str:
    """The gesmes envelope the ECB serves, days newest first."""
    parts = [XML_HEAD]
    for day, rates in sorted(days, key=lambda d: d[0], reverse=True):
        parts.append(f"\t\t<Cube time='{day:%Y-%m-%d}'>\n")
        parts.extend(f"\t\t\t<Cube currency='{code}' rate='{rate}'/>\n" for code, rate in rates)
        parts.append("\t\t</Cube>\n")
    parts.append(XML_TAIL)
    return "".join(parts)


def csv_document(days: list[Day]) -> str:
    """`eurofxref-hist.csv`: Date + every currency ever quoted, N/A for gaps, newest
    first, each line ending in a comma (so a trailing empty column)."""
    lines = ["Date," + ",".join(CODES) + ","]
    for day, rates in sorted(days, key=lambda d: d[0], reverse=True):
        by_code = dict(rates)
        cells = (str(by_code[code]) if code in by_code else "N/A" for code in CODES)
        lines.append(f"{day:%Y-%m-%d}," + ",".join(cells) + ",")
    return "\n".join(lines) + "\n"


class EcbSimulator(SimulatorServer):
    name = "ecb"
    contracts = ("ecb",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.today: date = timezone.now().date()
        self.history_start: date = FIRST_DAY
        self._zip_cache: dict[tuple[date, date], bytes] = {}
        base = "/stats/eurofxref/"
        self.route("GET", base + "eurofxref-daily.xml", self.daily)
        self.route("GET", base + "eurofxref-hist-90d.xml", self.last_90_days)
        self.route("GET", base + "eurofxref-hist.xml", self.full_history_xml)
        self.route("GET", base + "eurofxref-hist.zip", self.full_history_zip)

    # --- data ------------------------------------------------------------------------

    def days(self, start: date | None = None) -> list[Day]:
        """The published days from `start` (default: history_start) to `today`."""
        first = max(start or self.history_start, self.history_start)
        return [d for d in history(self.seed, self.today) if d[0] >= first and d[1]]

    def rate(self, code: str, day: date) -> Any:
        """The simulator's published rate for a currency on a day (None if none)."""
        for published, rates in history(self.seed, self.today):
            if published == day:
                return dict(rates).get(code)
        return None

    # --- routes ----------------------------------------------------------------------

    def daily(self, request: SimRequest) -> SimResponse:
        return self._xml(self.days()[-1:])

    def last_90_days(self, request: SimRequest) -> SimResponse:
        return self._xml(self.days(self.today - timedelta(days=90)))

    def full_history_xml(self, request: SimRequest) -> SimResponse:
        return self._xml(self.days())

    def full_history_zip(self, request: SimRequest) -> SimResponse:
        key = (self.history_start, self.today)
        if key not in self._zip_cache:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("eurofxref-hist.csv", csv_document(self.days()))
            self._zip_cache = {key: buffer.getvalue()}
        return SimResponse(
            body=self._zip_cache[key],
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": "attachment; filename=eurofxref-hist.zip",
            },
        )

    @staticmethod
    def _xml(days: list[Day]) -> SimResponse:
        return SimResponse.text(xml_document(days), content_type="text/xml; charset=UTF-8")

    def error_response(self, status: int, message: str) -> SimResponse:
        body = f"<html><head><title>{status}</title></head><body><h1>{message}</h1></body></html>"
        return SimResponse.text(body, status=status, content_type="text/html")

    # --- control ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        days = self.days()
        return {
            **super().state(),
            "today": self.today.isoformat(),
            "history_start": self.history_start.isoformat(),
            "days": len(days),
            "latest": days[-1][0].isoformat() if days else None,
        }

    def control(self, action: str, request: SimRequest) -> SimResponse:
        if action == "today" and request.method == "POST":
            body = request.json() or {}
            with self.lock:
                if "today" in body:
                    self.today = date.fromisoformat(body["today"])
                if "history_start" in body:
                    self.history_start = date.fromisoformat(body["history_start"])
            return SimResponse.json(self.state())
        return super().control(action, request)


def build(*, seed: int, port: int = 0) -> EcbSimulator:
    return EcbSimulator(seed=seed, port=port)
