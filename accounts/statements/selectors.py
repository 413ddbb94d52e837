"""Reads for statement imports."""

from django.db.models import QuerySet

from accounts.models import SyncRun


def statement_imports_recent(*, limit: int = 10) -> QuerySet[SyncRun]:
    """The latest file imports, newest first, with their accounts (one query)."""
    return SyncRun.objects.filter(kind=SyncRun.Kind.FILE_IMPORT).select_related("account")[:limit]
