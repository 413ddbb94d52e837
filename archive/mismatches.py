"""A filed statement that differs from Bulwark's record, in the mismatch queue.

The queue belongs to reconciliation (`ledger.reconciliation`); this module writes only
mismatches of the type it owns (`STATEMENT_DIFFERS`, which reconciliation leaves alone),
keyed by account and month, so a rerun touches the same row. Each queue row belongs to
an organisation of the books: the current connection's, else the first one known. Without any,
the difference stays on the proof and the completeness matrix only.
"""

from __future__ import annotations

from django.utils import timezone

from archive.models import StatementProof
from ledger.models import Organisation
from ledger.reconciliation.models import Mismatch, MismatchEvent
from ledger.selectors import connection_current

TYPE = Mismatch.Type.STATEMENT_DIFFERS


def _organisation() -> Organisation | None:
    current = connection_current()
    if current is not None and current.organisation_id:
        return current.organisation
    return Organisation.objects.order_by("pk").first()


def natural_key_of(proof: StatementProof) -> str:
    return f"{TYPE}:{proof.account_id}:{proof.month:%Y-%m}"


def statement_mismatch_sync(*, proof: StatementProof) -> Mismatch | None:
    """Open (or reopen, or update) the proof's mismatch when it differs; resolve an open
    one when it now agrees. Call inside the proof's transaction."""
    now = timezone.now()
    key = natural_key_of(proof)
    mismatch = Mismatch.objects.filter(type=TYPE, natural_key=key).first()
    if proof.status != StatementProof.Status.DIFFERS:
        if mismatch is not None and mismatch.status == Mismatch.Status.OPEN:
            mismatch.status = Mismatch.Status.RESOLVED
            mismatch.resolution = Mismatch.Resolution.RECONCILED
            mismatch.status_changed_at, mismatch.status_changed_by = now, None
            mismatch.save(update_fields=["status", "resolution", "status_changed_at",
                                         "status_changed_by"])  # fmt: skip
            MismatchEvent.objects.create(
                mismatch=mismatch, at=now, action=MismatchEvent.Action.RESOLVED,
                note="The filed statement now agrees with the record",
            )  # fmt: skip
        if proof.mismatch_id is not None:
            proof.mismatch = None
            proof.save(update_fields=["mismatch"])
        return None
    organisation = mismatch.organisation if mismatch else _organisation()
    if organisation is None:
        return None
    closing_delta = (proof.stated_closing_minor or 0) - proof.record_closing_minor
    opening_delta = (proof.stated_opening_minor or 0) - proof.record_opening_minor
    fingerprint = f"open {opening_delta:+d} close {closing_delta:+d}"
    values = {
        "account_id": proof.account_id, "day": proof.month.replace(day=1), "currency":
        proof.currency, "amount_minor": closing_delta or opening_delta,
        "summary": f"{proof.month:%Y-%m}: {proof.detail}"[:300], "last_seen_at": now,
        "detail": {"document": proof.document.path, "stated_opening": proof.stated_opening_minor,
                   "stated_closing": proof.stated_closing_minor,
                   "record_opening": proof.record_opening_minor,
                   "record_closing": proof.record_closing_minor},
    }  # fmt: skip
    if mismatch is None:
        mismatch = Mismatch.objects.create(
            organisation=organisation, type=TYPE, natural_key=key, fingerprint=fingerprint,
            opened_at=now, status_changed_at=now, **values,
        )  # fmt: skip
        MismatchEvent.objects.create(
            mismatch=mismatch, at=now, action=MismatchEvent.Action.OPENED, note=mismatch.summary
        )
    elif mismatch.fingerprint != fingerprint or mismatch.status == Mismatch.Status.RESOLVED:
        action = (
            MismatchEvent.Action.CHANGED
            if mismatch.status == Mismatch.Status.OPEN
            else MismatchEvent.Action.REOPENED
        )
        MismatchEvent.objects.create(
            mismatch=mismatch, at=now, action=action,
            note=f"Was {mismatch.fingerprint}, now {fingerprint}",
        )  # fmt: skip
        for name, value in values.items():
            setattr(mismatch, name, value)
        mismatch.fingerprint = fingerprint
        mismatch.status, mismatch.resolution = Mismatch.Status.OPEN, Mismatch.Resolution.NONE
        mismatch.ignore_reason, mismatch.accepted_side = "", Mismatch.Side.NONE
        mismatch.status_changed_at, mismatch.status_changed_by = now, None
        mismatch.save()
    else:
        Mismatch.objects.filter(pk=mismatch.pk).update(last_seen_at=now)
    if proof.mismatch_id != mismatch.pk:
        proof.mismatch = mismatch
        proof.save(update_fields=["mismatch"])
    return mismatch
