"""Writes of reconciliation: a run, and the owner's actions on the mismatch queue.

A package: `runs` (the run, its lease and enqueueing), `loading` (its scope, lines and
entries), `storing` (matches, balance checks and mismatches against the last run),
`actions` (the owner's actions). The names callers use are here.

**A run** (`reconcile`) loads the Wise lines of the mapped cash accounts and the live
Xero entries of their bank accounts, lets the matcher pair them, then stores the result
against what the previous run stored, in one transaction (a crash leaves the previous
state whole):
- a match found again (same members) keeps its row; one no longer found is undone "by
  reconciliation" (its lines are free again); manual links stay while their members do;
- a difference seen again keeps its mismatch; an open one follows the difference (a
  "changed" event when it changes); an ignored or hand-resolved one stays so unless the
  difference changes; one that is gone resolves itself ("resolved by reconciliation") and
  reopens if it comes back;
- each day Xero's bank balance was read is compared with Wise's balance at that moment.
Runs after every Wise ingest and Xero read-back (enqueued on commit) and nightly; one at a
time per organisation (a lease: a second asks the first to go round once more).

**Actions** record who did what in `MismatchEvent` and re-run the affected accounts.
"""

from ledger.reconciliation.services.actions import (
    LINKABLE,
    ActionRefused,
    PostOutcome,
    link_candidates,
    match_undo,
    mismatch_accept,
    mismatch_ignore,
    mismatch_link,
    mismatch_reopen,
    mismatches_correct,
    mismatches_post,
)
from ledger.reconciliation.services.loading import (
    Scope,
    organisations_reconcilable,
    scope_of,
)
from ledger.reconciliation.services.runs import (
    RunResult,
    reconcile,
    reconcile_enqueue,
    reconcile_requeue,
)

__all__ = [
    "LINKABLE",
    "ActionRefused",
    "PostOutcome",
    "RunResult",
    "Scope",
    "link_candidates",
    "match_undo",
    "mismatch_accept",
    "mismatch_ignore",
    "mismatch_link",
    "mismatch_reopen",
    "mismatches_correct",
    "mismatches_post",
    "organisations_reconcilable",
    "reconcile",
    "reconcile_enqueue",
    "reconcile_requeue",
    "scope_of",
]
