"""Celery tasks of the rules: each loads by id and calls a service."""

from celery import shared_task

from ledger.rules import services


@shared_task(name="rules.apply_run", acks_late=True, ignore_result=True)
def apply_run(run_id: int) -> None:
    services.rule_run_execute(run_id=run_id)


@shared_task(name="rules.apply_new_lines", acks_late=True, ignore_result=True)
def apply_new_lines(account_id: int, first_seq: int) -> None:
    services.rules_apply_new_lines(account_id=account_id, first_seq=first_seq)


@shared_task(name="rules.apply_unseen", acks_late=True, ignore_result=True)
def apply_unseen() -> None:
    services.rules_apply_unseen()
