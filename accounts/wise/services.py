"""Writes around the Wise feed: connecting a profile, and asking for syncs.

A sync request records a QUEUED `SyncRun` (what pages and tests see) and enqueues its
Celery task after the transaction commits. Requests coalesce: while a run for the same
account (or connection) is still queued, a new request returns it instead of queueing
another, since that run will fetch everything up to the moment it starts. The check and
the insert are one step: the request locks the account's (or connection's) row first,
so fifty webhooks arriving together queue one sync (on SQLite the IMMEDIATE transaction
serialises them the same way).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import CashAccount, Institution, SyncRun, WiseConnection
from accounts.wise.client import WiseProfile
from accounts.wise.lease import sync_runs_interrupted_fail
from accounts.wise.sca import KeyPair, keypair_generate
from accounts.wise.sync import wise_client_for

# A queued run older than this is presumed lost (its worker died before it started).
QUEUED_FRESH = timedelta(minutes=10)


def wise_profiles_fetch(*, token: str, environment: str) -> list[WiseProfile]:
    """The profiles a token can read (raises WiseAuthError for a refused token)."""
    probe = WiseConnection(api_token=token, environment=environment)
    with wise_client_for(probe) as client:
        return client.profiles()


@dataclass(frozen=True)
class ConnectionSecrets:
    """Secrets as a form gives them: None keeps the stored value, "" clears it."""

    api_token: str | None = None
    sca_private_key: str | None = None
    webhook_public_key: str | None = None


@transaction.atomic
def wise_connection_save(
    *,
    profile: WiseProfile,
    environment: str,
    secrets: ConnectionSecrets,
    sync_start: date | None = None,
) -> WiseConnection:
    """Create or update the connection of `profile`; its accounts come with the first sync."""
    connection = WiseConnection.objects.filter(profile_id=profile.id).first()
    if connection is None:
        institution = Institution.objects.create(name="Wise", kind=Institution.Kind.WISE)
        connection = WiseConnection(institution=institution, profile_id=profile.id)
    connection.environment = environment
    connection.profile_type, connection.profile_name = profile.type, profile.name
    connection.sync_start = sync_start
    for name in ("api_token", "sca_private_key", "webhook_public_key"):
        value = getattr(secrets, name)
        if value is not None:
            setattr(connection, name, value.strip())
    if not connection.api_token:
        raise ValueError("A Wise connection needs an API token.")
    connection.save()
    return connection


@transaction.atomic
def wise_connection_keypair_generate(*, connection: WiseConnection) -> KeyPair:
    """A new SCA key pair: the private key is stored (encrypted), the public key returned
    for the owner to upload to Wise."""
    pair = keypair_generate()
    connection.sca_private_key = pair.private_pem
    connection.save(update_fields=["sca_private_key", "updated_at"])
    return pair


@transaction.atomic
def wise_connection_delete(*, connection: WiseConnection) -> None:
    """Forget the connection and its secrets; stored accounts and lines stay."""
    connection.delete()


def _queued(**filters: object) -> SyncRun | None:
    return (
        SyncRun.objects.filter(
            status=SyncRun.Status.QUEUED,
            kind=SyncRun.Kind.WISE_STATEMENTS,
            started_at__gte=timezone.now() - QUEUED_FRESH,
            **filters,
        )
        .exclude(detail__has_key="parent")  # a connection sync's own step, not a request
        .order_by("-started_at")
        .first()
    )


@transaction.atomic
def wise_account_sync_request(*, account: CashAccount, label: str = "") -> SyncRun:
    """Queue one sync of the account's statements (or return the one already queued)."""
    from accounts.tasks import sync_wise_account

    CashAccount.objects.select_for_update().filter(pk=account.pk).first()  # one at a time
    queued = _queued(account=account)
    if queued is not None:
        return queued
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.WISE_STATEMENTS,
        status=SyncRun.Status.QUEUED,
        account=account,
        label=label or str(account),
    )
    transaction.on_commit(lambda: sync_wise_account.delay(account.pk, run.pk))
    return run


@transaction.atomic
def wise_connection_sync_request(*, connection: WiseConnection) -> SyncRun:
    """Queue a sync of the whole connection ("Sync now"), unless one is queued or running."""
    from accounts.tasks import sync_wise_connection

    WiseConnection.objects.select_for_update().filter(pk=connection.pk).first()
    sync_runs_interrupted_fail()
    active = (
        SyncRun.objects.filter(
            kind=SyncRun.Kind.WISE_STATEMENTS,
            account__isnull=True,
            status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING],
            started_at__gte=timezone.now() - QUEUED_FRESH,
            detail__connection=connection.pk,
        )
        .order_by("-started_at")
        .first()
    )
    if active is not None:
        return active
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.WISE_STATEMENTS,
        status=SyncRun.Status.QUEUED,
        label=f"All balances of {connection}",
        detail={"connection": connection.pk},
    )
    transaction.on_commit(lambda: sync_wise_connection.delay(connection.pk, run.pk))
    return run


def wise_run_requeue(run: SyncRun) -> SyncRun | None:
    """The sweep's re-queue of an interrupted Wise run (beat: `runs_sweep`)."""
    from accounts.tasks import sync_wise_balances

    if run.kind == SyncRun.Kind.WISE_BALANCES:
        transaction.on_commit(sync_wise_balances.delay)
        return None
    if "parent" in run.detail:  # a step of a connection sync, which is queued again itself
        return None
    if run.account is not None:
        return wise_account_sync_request(account=run.account, label=f"{run.account} (again)")
    connection = WiseConnection.objects.filter(pk=run.detail.get("connection")).first()
    return None if connection is None else wise_connection_sync_request(connection=connection)
