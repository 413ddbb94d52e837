"""Writes of the books side, whichever provider keeps them: connecting, choosing the
mode, mapping accounts, and running the push and the read-back (with their progress)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import CashAccount, SyncRun
from accounts.runs import (
    lease_release_orphaned,
    run_process_mark,
    runs_holders_dead,
    runs_lease_lapsed_fail,
    runs_orphaned_fail,
)
from ledger import mapping
from ledger.books import (
    BooksError,
    LeaseLost,
    PushFailed,
    PushResult,
    adapter_class,
    adapter_for,
)
from ledger.models import BooksConnection, ChartAccount, Organisation, Posting
from ledger.selectors import connection_current, lines_unposted, postings_stale

NEW = "new"


# --- connection ------------------------------------------------------------------------
# Each provider connects in its own way (`connect_start`/`connect_finish` of its adapter);
# Xero alone has organisations to choose among and custom connections.


def books_connect_start(*, provider: str, redirect_uri: str) -> Any:
    """Where to send the owner to sign in at the provider, with the state to keep."""
    return adapter_class(provider).connect_start(redirect_uri=redirect_uri)


def books_connect_finish(*, provider: str, **reply: Any) -> BooksConnection:
    """The provider sent the owner back: exchange the code, keep the tokens encrypted."""
    return adapter_class(provider).connect_finish(**reply)


def books_tenant_choose(*, connection: BooksConnection, tenant_id: str) -> Organisation:
    return adapter_class(connection.provider).tenant_choose(
        connection=connection, tenant_id=tenant_id
    )


def books_custom_connect(*, provider: str, user: AbstractBaseUser) -> Organisation:
    return adapter_class(provider).custom_connect(user=user)


def books_disconnect(*, connection: BooksConnection) -> None:
    """Disconnect at the provider, then forget the tokens."""
    adapter_class(connection.provider).disconnect(connection=connection)


# --- settings, mode and mapping ----------------------------------------------------------


def books_settings_refresh(*, organisation: Organisation) -> None:
    adapter_for(organisation).chart_refresh()


def books_mode_set(*, organisation: Organisation, mode: str, user: AbstractBaseUser) -> None:
    if mode not in Organisation.Mode.values:
        raise ValueError(f"Unknown mode {mode!r}")
    organisation.mode = mode
    organisation.mode_chosen_at = timezone.now()
    organisation.mode_chosen_by = user  # type: ignore[assignment]
    organisation.save(update_fields=["mode", "mode_chosen_at", "mode_chosen_by"])


def books_mapping_save(
    *,
    organisation: Organisation,
    bank: dict[int, str],
    fee: str,
    fx_clearing: str,
    suspense: str,
    post_from: Any = None,
    names: dict[int, str] | None = None,
) -> None:
    """Save the mapping; `NEW` in a choice creates that account in Xero first (only
    when Bulwark posts), under the name in `names` the page offered for it. Nothing is
    created for a row not set to `NEW`. Raises `MappingError` naming what is wrong,
    changing nothing."""
    creating = NEW in bank.values() or NEW in (fee, fx_clearing, suspense)
    if creating and not organisation.posts:
        raise mapping.MappingError(
            "Audit only: Bulwark does not create accounts in Xero. Choose existing ones, "
            "or switch to “Bulwark posts” first."
        )
    chosen: dict[int, ChartAccount] = {}
    for cash_id, account_id in bank.items():
        if account_id and account_id != NEW:
            account = ChartAccount.objects.filter(
                organisation=organisation, account_id=account_id
            ).first()
            if account is None:
                raise mapping.MappingError("A chosen Xero account no longer exists; read again.")
            chosen[cash_id] = account
    # Validate what exists before creating anything, so a bad choice changes nothing.
    mapping.mapping_save(
        organisation,
        bank=chosen,
        fee=_code(fee),
        fx_clearing=_code(fx_clearing),
        suspense=_code(suspense),
    )
    if creating:
        books = adapter_for(organisation)
        for cash_id in [c for c, a in bank.items() if a == NEW]:
            cash = CashAccount.objects.get(pk=cash_id)
            chosen[cash_id] = books.bank_account_ensure(cash, name=(names or {}).get(cash_id, ""))
        codes = {
            purpose: books.special_account_ensure(purpose).code if value == NEW else value
            for purpose, value in (
                ("fee", fee),
                ("fx_clearing", fx_clearing),
                ("suspense", suspense),
            )
        }
        mapping.mapping_save(organisation, bank=chosen, **codes)
    if post_from is not None or organisation.post_from is not None:
        organisation.post_from = post_from
        organisation.save(update_fields=["post_from"])


def _code(value: str) -> str:
    return "" if value == NEW else value


# --- push and pull -------------------------------------------------------------------------


def _lease(organisation: Organisation, field: str, run: SyncRun) -> datetime | None:
    """Take the push (or pull) lease: free, expired, or held by a process that died (every
    other RUNNING run of this kind here belongs to a dead process: taken over at once).
    Returns the expiry set, which is also the holder's token: renewing and releasing
    compare-and-set on it, so a run that outlived its lease never frees its taker's."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.XERO_LEASE_SECONDS)
    rows = Organisation.objects.filter(pk=organisation.pk)
    held = rows.values_list(field, flat=True).first()
    free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})
    if rows.filter(free).update(**{field: until}):
        if held is not None and held < now:  # lapsed: its holder stopped, on some host
            runs_lease_lapsed_fail(
                exclude=run.pk, kind=run.kind, detail__organisation=organisation.pk
            )
        return until
    if held is None or not runs_holders_dead(
        kind=run.kind, exclude=run.pk, organisation=organisation.pk
    ):
        return None
    # Compare-and-set on the dead holder's value: of two takers, one wins.
    return until if rows.filter(**{field: held}).update(**{field: until}) else None


def _lease_renew(organisation: Organisation, field: str, held: datetime) -> datetime:
    """Hold the lease for another `XERO_LEASE_SECONDS`; `LeaseLost` if another run took it."""
    until = timezone.now() + timedelta(seconds=settings.XERO_LEASE_SECONDS)
    if not Organisation.objects.filter(pk=organisation.pk, **{field: held}).update(
        **{field: until}
    ):
        raise LeaseLost("Another push took over (this one ran past its lease)")
    return until


def _run_open(organisation: Organisation, kind: str) -> SyncRun:
    run = SyncRun(kind=kind, status=SyncRun.Status.RUNNING, label=organisation.name)
    run_process_mark(run, organisation=organisation.pk)
    run.save()
    return run


def books_run_requeue(run: SyncRun) -> SyncRun | None:
    """The sweep's re-queue of an interrupted push or read-back (beat: `runs_sweep`)."""
    organisation = Organisation.objects.filter(pk=run.detail.get("organisation")).first()
    if organisation is None:
        return None
    pushing = run.kind == SyncRun.Kind.XERO_PUSH
    lease_release_orphaned(
        Organisation.objects.filter(pk=organisation.pk),
        "push_lease_until" if pushing else "pull_lease_until",
        kind=run.kind,
        organisation=organisation.pk,
    )
    enqueue = push_enqueue if pushing else pull_enqueue
    enqueue(organisation=organisation)
    return None  # the task opens its own run


def _lease_release(organisation: Organisation, field: str, held: datetime) -> None:
    Organisation.objects.filter(pk=organisation.pk, **{field: held}).update(**{field: None})


def _run_finish(run: SyncRun, status: str, *, error: str = "", **detail: Any) -> SyncRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.detail = {**run.detail, **detail}
    run.save(
        update_fields=[
            "status",
            "error",
            "finished_at",
            "detail",
            "progress_done",
            "created_count",
            "skipped_count",
        ]
    )
    return run


def books_push(*, organisation_id: int, limit: int | None = None) -> SyncRun:
    """Post every unposted line (and re-posts the owner confirmed). Skips, recording why,
    in audit-only mode, while paused for the day budget, or with an incomplete mapping."""
    organisation = Organisation.objects.get(pk=organisation_id)
    run = _run_open(organisation, SyncRun.Kind.XERO_PUSH)
    if not organisation.posts:
        return _run_finish(run, SyncRun.Status.SKIPPED, reason="Audit only: nothing is posted")
    if organisation.paused_until and organisation.paused_until > timezone.now():
        return _run_finish(run, SyncRun.Status.SKIPPED, reason=organisation.pause_reason)
    missing = mapping.mapping_complete(organisation)
    if missing:
        return _run_finish(run, SyncRun.Status.SKIPPED, reason="To post, " + "; ".join(missing))
    held = _lease(organisation, "push_lease_until", run)
    if held is None:
        return _run_finish(run, SyncRun.Status.SKIPPED, reason="Another push is running")
    lease = [held]
    try:
        # Holding the lease, any other RUNNING push of this organisation was killed.
        runs_orphaned_fail(
            exclude=run.pk, kind=SyncRun.Kind.XERO_PUSH, detail__organisation=organisation.pk
        )
        run.progress_total = lines_unposted(organisation).count()
        run.save(update_fields=["progress_total"])
        return _push_run(organisation, run, limit, lease)
    finally:
        _lease_release(organisation, "push_lease_until", lease[0])


def _push_run(
    organisation: Organisation, run: SyncRun, limit: int | None, lease: list[datetime]
) -> SyncRun:
    def progress(result: PushResult) -> None:
        run.progress_done = result.posted + result.found + result.refused
        run.save(update_fields=["progress_done"])
        lease[0] = _lease_renew(organisation, "push_lease_until", lease[0])

    try:
        result = adapter_for(organisation).lines_post(limit=limit, on_progress=progress)
    except PushFailed as exc:
        return _run_finish(run, SyncRun.Status.FAILED, error=str(exc), **asdict(exc.result))
    except BooksError as exc:
        return _run_finish(run, SyncRun.Status.FAILED, error=str(exc))
    organisation.last_push_at = timezone.now()
    if not result.stopped:
        organisation.paused_until, organisation.pause_reason = None, ""
    organisation.save(update_fields=["last_push_at", "paused_until", "pause_reason"])
    run.progress_done = run.created_count = result.posted + result.found
    run.skipped_count = result.skipped
    # Lines the books refused are per-line outcomes, shown on the page; the run itself worked.
    return _run_finish(run, SyncRun.Status.SUCCEEDED, error=result.stopped, **asdict(result))


def books_pull(*, organisation_id: int) -> SyncRun:
    """Read bank documents and balances of the mapped accounts back from Xero."""
    organisation = Organisation.objects.get(pk=organisation_id)
    run = _run_open(organisation, SyncRun.Kind.XERO_PULL)
    if organisation.paused_until and organisation.paused_until > timezone.now():
        return _run_finish(run, SyncRun.Status.SKIPPED, reason=organisation.pause_reason)
    held = _lease(organisation, "pull_lease_until", run)
    if held is None:
        return _run_finish(run, SyncRun.Status.SKIPPED, reason="Another read-back is running")
    try:
        runs_orphaned_fail(
            exclude=run.pk, kind=SyncRun.Kind.XERO_PULL, detail__organisation=organisation.pk
        )
        return _pull_run(organisation, run)
    finally:
        _lease_release(organisation, "pull_lease_until", held)


def _pull_run(organisation: Organisation, run: SyncRun) -> SyncRun:
    try:
        result = adapter_for(organisation).read_back()
    except BooksError as exc:
        return _run_finish(run, SyncRun.Status.FAILED, error=str(exc))
    organisation.last_pull_at = timezone.now()
    organisation.save(update_fields=["last_pull_at"])
    run.progress_done = run.progress_total = run.created_count = result.stored
    return _run_finish(run, SyncRun.Status.SUCCEEDED, **asdict(result))


def books_repost_stale(*, organisation: Organisation) -> int:
    """The owner confirmed: re-post (update in Xero) lines whose categorization changed."""
    ids = list(postings_stale(organisation).values_list("pk", flat=True))
    Posting.objects.filter(pk__in=ids).update(repost_requested=True)
    push_enqueue(organisation=organisation)
    return len(ids)


def books_retry_refused(*, organisation: Organisation) -> int:
    count = Posting.objects.filter(organisation=organisation, state=Posting.State.ERROR).update(
        retry_requested=True
    )
    push_enqueue(organisation=organisation)
    return count


def push_enqueue(*, organisation: Organisation) -> None:
    from ledger.tasks import xero_push_task

    organisation_id = organisation.pk
    transaction.on_commit(lambda: xero_push_task.delay(organisation_id))


def pull_enqueue(*, organisation: Organisation) -> None:
    from ledger.tasks import xero_pull_task

    organisation_id = organisation.pk
    transaction.on_commit(lambda: xero_pull_task.delay(organisation_id))


def organisations_connected() -> list[Organisation]:
    """Organisations with a live connection (one per install in practice)."""
    current = connection_current()
    if current is None or current.organisation is None:
        return []
    if current.status != BooksConnection.Status.CONNECTED:
        return []
    return [current.organisation]
