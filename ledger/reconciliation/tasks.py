"""Celery tasks of reconciliation: load by id, call a service."""

from celery import shared_task

from ledger.models import BankAccountMapping
from ledger.reconciliation import services


@shared_task(name="reconciliation.run", ignore_result=True, acks_late=True)
def reconcile_task(organisation_id: int, account_ids: list[int] | None = None) -> None:
    services.reconcile(organisation_id=organisation_id, account_ids=account_ids)


@shared_task(name="reconciliation.run_account", ignore_result=True, acks_late=True)
def reconcile_account_task(account_id: int) -> None:
    """After a Wise ingest: reconcile the account in each organisation it is mapped in."""
    for organisation_id in BankAccountMapping.objects.filter(
        cash_account_id=account_id
    ).values_list("organisation_id", flat=True):
        services.reconcile(organisation_id=organisation_id, account_ids=[account_id])


@shared_task(name="reconciliation.run_all", ignore_result=True)
def reconcile_all() -> None:
    """Beat, nightly: fan out one full reconciliation per organisation."""
    for organisation in services.organisations_reconcilable():
        reconcile_task.delay(organisation.pk)
