"""Filed statements attached where the books allow it: each month's Wise statement (the
PDF, what a person reads) on the bank account its cash account is mapped to, through the
books seam (`document_attach`; Xero's Attachments on the Account, which its Accounting
API allows for accounts, bank transactions, invoices and a few more).

Once per content: a `BooksAttachment` records the file's SHA-256 per organisation and
bank account, so a rerun sends nothing, and a corrected statement (a new version, new
bytes) is attached beside the first under a name of its own. Only organisations where
the owner chose "Bulwark posts" are written to; in audit-only mode nothing is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from archive.models import BooksAttachment, Document, Version
from ledger.books import BooksError, adapter_for
from ledger.models import ChartAccount, Organisation

logger = logging.getLogger(__name__)


@dataclass
class AttachResult:
    attached: int = 0
    already: int = 0
    errors: list[str] = field(default_factory=list)


def attachment_name(version: Version) -> str:
    """The document's file name; a later version's carries its number (`…_v2.pdf`)."""
    path = PurePosixPath(version.document.path)
    return path.name if version.number == 1 else f"{path.stem}_v{version.number}{path.suffix}"


def _statements(account_ids: list[int], months: list[date] | None) -> list[Version]:
    documents = Document.objects.filter(
        status=Document.Status.FILED, kind="statement", extension="pdf",
        account_id__in=account_ids,
    )  # fmt: skip
    if months is not None:
        documents = documents.filter(period_start__in=months)
    latest = []
    for document in documents.order_by("path").prefetch_related("versions__file"):
        versions = sorted(document.versions.all(), key=lambda v: v.number)
        if versions:
            latest.append(versions[-1])
    return latest


def statements_attach(*, months: list[date] | None = None) -> AttachResult:
    """Attach the filed statements (of `months`, else every one) to the books of each
    organisation where Bulwark posts; what is attached there already is not sent."""
    result = AttachResult()
    for organisation in Organisation.objects.filter(mode=Organisation.Mode.POSTS):
        charts = {
            m.cash_account_id: m.chart_account
            for m in organisation.mappings.select_related("chart_account")
        }
        done = set(
            BooksAttachment.objects.filter(organisation=organisation).values_list(
                "chart_account_id", "sha256"
            )
        )
        for version in _statements(list(charts), months):
            chart = charts[version.document.account_id]
            if (chart.pk, version.file.sha256) in done:
                result.already += 1
                continue
            try:
                _attach(organisation, chart, version)
            except BooksError as exc:  # the books unreachable or refusing: the next run
                logger.warning("Not attached to %s: %s", organisation, exc)
                result.errors.append(f"{organisation}: {exc}")
                break
            result.attached += 1
    return result


def _attach(organisation: Organisation, chart: ChartAccount, version: Version) -> None:
    sha256 = version.file.sha256
    with default_storage.open(version.file.storage_name, "rb") as handle:
        data = handle.read()
    remote_id = adapter_for(organisation).document_attach(
        chart_account=chart, file_name=attachment_name(version), data=data,
        key=f"attach:{chart.account_id}:{sha256}",
    )  # fmt: skip
    try:
        with transaction.atomic():
            BooksAttachment.objects.create(
                version=version, organisation=organisation, chart_account=chart, sha256=sha256,
                file_name=attachment_name(version), remote_id=remote_id,
            )  # fmt: skip
    except IntegrityError:  # a concurrent run attached the same content: recorded once
        pass
