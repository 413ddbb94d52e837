"""Celery tasks of the books side: load by id, call a service."""

from celery import shared_task

from ledger import services


@shared_task(name="ledger.xero_push", ignore_result=True, acks_late=True)
def xero_push_task(organisation_id: int) -> None:
    services.books_push(organisation_id=organisation_id)


@shared_task(name="ledger.xero_pull", ignore_result=True, acks_late=True)
def xero_pull_task(organisation_id: int) -> None:
    run = services.books_pull(organisation_id=organisation_id)
    if run.status == run.Status.SUCCEEDED:
        from ledger.reconciliation.services import reconcile_enqueue

        reconcile_enqueue(organisation_id=organisation_id)  # what was read back


@shared_task(name="ledger.xero_push_all", ignore_result=True)
def xero_push_all() -> None:
    """Beat: fan out one push per connected organisation that posts."""
    for organisation in services.organisations_connected():
        if organisation.posts:
            xero_push_task.delay(organisation.pk)


@shared_task(name="ledger.xero_pull_all", ignore_result=True)
def xero_pull_all() -> None:
    """Beat: fan out one read-back per connected organisation."""
    for organisation in services.organisations_connected():
        xero_pull_task.delay(organisation.pk)
