"""Any period's archive as one ZIP for the accountant: the documents laid out as filed,
and `manifest.csv` listing every file with its SHA-256, what it proves and its proof
status. The bytes in the ZIP are the stored bytes, read back and checked against their
SHA-256 on the way in: a file that no longer matches is listed as such, never passed
off as intact.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import IO

from django.core.files.storage import default_storage
from django.db.models import Q

from archive.models import Document, StatementProof, Version
from archive.months import month_last_day
from treasury.money import from_minor, money_format

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ["file", "sha256", "size", "version", "date", "proves", "proof_status"]
PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
SPOOL_BYTES = 32 * 1024 * 1024


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    label: str  # `2026-11` or `2026`


def period_parse(text: str) -> Period:
    """`2026-11` (a month) or `2026` (a year)."""
    found = PERIOD.match(text.strip())
    if not found or not 1970 <= int(found[1]) <= 2999:
        raise PeriodError("expected a month (YYYY-MM) or a year (YYYY)")
    year = int(found[1])
    if found[2] is None:
        return Period(date(year, 1, 1), date(year, 12, 31), f"{year}")
    month = int(found[2])
    if not 1 <= month <= 12:
        raise PeriodError("expected a month (YYYY-MM) or a year (YYYY)")
    first = date(year, month, 1)
    return Period(first, month_last_day(first), f"{first:%Y-%m}")


def _proves(document: Document, proof: StatementProof | None) -> tuple[str, str]:
    """(what the document proves, its proof status), in words."""
    if document.kind != "statement" or document.account is None:
        what = f"{document.kind or 'document'} dated {document.about_on}"
        return what, "filed; nothing to prove it against"
    account = document.account
    what = f"{account} from {document.period_start} to {document.period_end}"
    if proof is None:
        return what, "not proved"
    currency = proof.currency
    if proof.stated_opening_minor is not None and proof.stated_closing_minor is not None:
        opening = money_format(from_minor(proof.stated_opening_minor, currency), currency)
        closing = money_format(from_minor(proof.stated_closing_minor, currency), currency)
        what += f": opening {opening}, closing {closing}"
    status = {
        StatementProof.Status.AGREES: "agrees with Bulwark's record",
        StatementProof.Status.DIFFERS: f"differs from Bulwark's record: {proof.detail}",
        StatementProof.Status.UNREADABLE: f"could not be read: {proof.detail}",
    }[StatementProof.Status(proof.status)]
    return what, status


def period_documents(period: Period) -> list[tuple[Document, Version]]:
    """The period's filed documents (by the date they are about, or the period they
    cover), each with its current version."""
    documents = (
        Document.objects.filter(status=Document.Status.FILED)
        .filter(
            Q(about_on__gte=period.first, about_on__lte=period.last)
            | Q(period_start__lte=period.last, period_end__gte=period.first)
        )
        .select_related("account__institution")
        .order_by("path")
    )
    latest: dict[int, Version] = {}
    for version in Version.objects.filter(document__in=documents).select_related("file"):
        if version.document_id not in latest or version.number > latest[version.document_id].number:
            latest[version.document_id] = version
    return [(d, latest[d.pk]) for d in documents if d.pk in latest]


def period_zip(period: Period) -> tuple[IO[bytes], int]:
    """The ZIP (a temporary file, rewound) and how many documents it holds."""
    pairs = period_documents(period)
    proofs = {
        (p.account_id, p.month): p
        for p in StatementProof.objects.filter(
            month__gte=period.first.replace(day=1), month__lte=period.last
        )
    }
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(MANIFEST_HEADER)
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for document, version in pairs:
            with default_storage.open(version.file.storage_name, "rb") as handle:
                data = handle.read()
            proof = None
            if document.account_id and document.period_start:
                proof = proofs.get((document.account_id, document.period_start.replace(day=1)))
            what, status = _proves(document, proof)
            if hashlib.sha256(data).hexdigest() != version.file.sha256:
                status = "THE STORED FILE NO LONGER MATCHES ITS SHA-256 (run verify_archive)"
            archive.writestr(document.path, data)
            writer.writerow([document.path, version.file.sha256, version.file.size,
                             version.number, document.about_on, what, status])  # fmt: skip
        archive.writestr(MANIFEST, manifest.getvalue())
    out.seek(0)
    return out, len(pairs)
