"""Hand edits lock fields against rules; runs report progress and keep an audit trail;
new lines are categorized after their ingest commits; the defaults book Wise lines."""

import pytest

from accounts.models import SyncRun, Transaction
from ledger.rules.engine import rows_read, specs_saved
from ledger.rules.models import AuditEntry, Categorization, LineDecision, Rule, RuleRun
from ledger.rules.services import (
    RuleOrderError,
    categorization_edit,
    rule_run_execute,
    rule_run_start,
    rules_apply,
    rules_apply_unseen,
    rules_defaults_restore,
    rules_reorder,
)
from ledger.rules.tests.factories import act, cond, lines_store, rule_make


def apply_all():
    return rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())


@pytest.mark.usefixtures("no_rules")
def test_a_hand_edited_field_is_locked_until_unlocked(eur, owner):
    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    rule_make(
        "a",
        conditions=[cond("DESCRIPTION", "figma")],
        actions=[act("ACCOUNT_CODE", "485"), act("TAX_TYPE", "INPUT")],
    )
    apply_all()
    booking = categorization_edit(
        line=line, user=owner, values={"account_code": "999"}, locked=set()
    )
    assert booking.locked_fields == ["account_code"]
    assert booking.provenance["account_code"]["user"] == "olivia"
    assert booking.revision == 2
    Rule.objects.update(name="renamed")
    rule_make("b", conditions=[cond("DESCRIPTION", "figma")], actions=[act("TAX_TYPE", "NONE")])
    apply_all()
    booking.refresh_from_db()
    assert (booking.account_code, booking.tax_type) == ("999", "INPUT")
    # Unlocking hands the field back to the rules at once.
    booking = categorization_edit(line=line, user=owner, values={}, locked=set())
    assert (booking.account_code, booking.locked_fields) == ("485", [])
    assert booking.revision == 3
    history = list(LineDecision.objects.filter(transaction=line).order_by("at", "id"))
    assert [bool(d.user_id) for d in history] == [False, True, False]
    assert history[1].changes["account_code"] == {
        "before": "485",
        "after": "999",
        "rule": None,
        "rule_name": None,
        "user": "olivia",
    }
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {AuditEntry.Action.LINE_EDITED, AuditEntry.Action.LINE_UNLOCKED} <= actions


@pytest.mark.usefixtures("no_rules")
def test_locking_without_changing_keeps_the_value_against_rules(eur, owner):
    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    rule = rule_make(
        "a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "485")]
    )
    apply_all()
    categorization_edit(
        line=line, user=owner, values={"account_code": "485"}, locked={"account_code"}
    )
    rule.actions.update(value="400")
    apply_all()
    assert Categorization.objects.get(transaction=line).account_code == "485"


@pytest.mark.usefixtures("no_rules")
def test_a_run_reports_progress_and_is_audited(eur, owner, django_capture_on_commit_callbacks):
    lines_store(eur, *({"amount": f"-{n}", "description": "Figma"} for n in range(1, 6)))
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    with django_capture_on_commit_callbacks() as callbacks:
        run = rule_run_start(scope=RuleRun.Scope.ALL, user=owner)
    assert len(callbacks) == 1  # the task is enqueued after commit
    assert run.sync_run.status == SyncRun.Status.QUEUED
    rule_run_execute(run_id=run.pk)
    run.refresh_from_db()
    sync = run.sync_run
    assert (sync.status, sync.percent, sync.kind) == ("SUCCEEDED", 100, SyncRun.Kind.RULES)
    assert (run.lines_seen, run.lines_changed, run.fields_changed) == (5, 5, 5)
    assert LineDecision.objects.filter(run=run).count() == 5
    assert AuditEntry.objects.filter(run=run, action="RUN_FINISHED").exists()
    assert AuditEntry.objects.get(run=run, action="RUN_REQUESTED").user == owner
    # A redelivered task changes nothing.
    assert rule_run_execute(run_id=run.pk).lines_changed == 5
    assert LineDecision.objects.count() == 5


@pytest.mark.usefixtures("no_rules")
def test_new_lines_are_categorized_after_the_ingest_commits(
    eur, django_capture_on_commit_callbacks
):
    from unittest import mock

    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    with mock.patch("ledger.rules.tasks.apply_new_lines.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
        assert not Categorization.objects.filter(transaction=line).exists()  # not in ingest
        delay.assert_called_once_with(eur.pk, line.seq)
    from ledger.rules.tasks import apply_new_lines

    apply_new_lines(eur.pk, line.seq)  # what the worker runs
    assert Categorization.objects.get(transaction=line).account_code == "1"
    assert RuleRun.objects.get().scope == RuleRun.Scope.NEW_LINES
    assert not AuditEntry.objects.filter(action="RUN_FINISHED").exists()  # the worker's own


@pytest.mark.usefixtures("no_rules")
def test_the_sweep_catches_lines_no_run_has_seen(eur):
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    assert rules_apply_unseen().lines_changed == 1
    assert Categorization.objects.get(transaction=line).account_code == "1"
    assert rules_apply_unseen() is None  # nothing left: no run recorded


@pytest.mark.usefixtures("no_rules")
def test_reorder_refuses_a_stale_list(owner):
    a = rule_make("a", conditions=[cond("DESCRIPTION", "x")], actions=[act("ACCOUNT_CODE", "1")])
    b = rule_make("b", conditions=[cond("DESCRIPTION", "y")], actions=[act("ACCOUNT_CODE", "2")])
    with pytest.raises(RuleOrderError):
        rules_reorder(order=[b.pk], user=owner)
    rules_reorder(order=[b.pk, a.pk], user=owner)
    assert list(Rule.objects.values_list("name", flat=True)) == ["b", "a"]


def test_defaults_exist_after_migrate_and_restore_is_idempotent(db, owner):
    keys = set(Rule.objects.values_list("default_key", flat=True))
    assert keys == {
        "wise-fees",
        "own-balance-moves",
        "balance-interest",
        "card-cashback",
        "money-added",
    }
    assert rules_defaults_restore(user=owner) == []
    Rule.objects.filter(default_key="card-cashback").delete()
    assert [r.default_key for r in rules_defaults_restore(user=owner)] == ["card-cashback"]


@pytest.mark.parametrize(
    ("line", "treatment", "code"),
    [
        (
            {
                "amount": "-1.20",
                "wise_type": "ACCRUAL_CHARGE",
                "description": "Wise charges for: balance",
            },
            "FEE",
            "404",
        ),
        (
            {
                "amount": "-0.45",
                "wise_type": "TRANSFER",
                "description": "Wise fee for transfer TRANSFER-991",
            },
            "FEE",
            "404",
        ),
        (
            {
                "amount": "-500.00",
                "wise_type": "CONVERSION",
                "description": "Converted 500.00 EUR to 540.10 USD",
            },
            "TRANSFER",
            "",
        ),
        (
            {
                "amount": "-50.00",
                "wise_type": "CONVERSION",
                "description": "Moved 50.00 EUR to Taxes jar",
            },
            "TRANSFER",
            "",
        ),
        (
            {
                "amount": "200.00",
                "wise_type": "INCOMING_CROSS_BALANCE",
                "description": "Moved from USD",
            },
            "TRANSFER",
            "",
        ),
        (
            {
                "amount": "-75.00",
                "wise_type": "OUTGOING_CROSS_BALANCE",
                "description": "Moved to GBP",
            },
            "TRANSFER",
            "",
        ),
        (
            {"amount": "0.83", "wise_type": "BALANCE_INTEREST", "description": "Interest"},
            "NORMAL",
            "270",
        ),
        (
            {"amount": "2.10", "wise_type": "CARD_CASHBACK", "description": "Cashback"},
            "NORMAL",
            "260",
        ),
        (
            {"amount": "1000.00", "wise_type": "MONEY_ADDED", "description": "Topped up balance"},
            "TRANSFER",
            "",
        ),
        (
            {
                "amount": "-23.00",
                "wise_type": "CARD",
                "description": "Card transaction of 23.00 EUR issued by Feeder Cafe",
            },
            "NORMAL",
            "",
        ),
        (
            {
                "amount": "1500.00",
                "wise_type": "TRANSFER",
                "description": "Received money from Acme",
            },
            "NORMAL",
            "",
        ),
    ],
)
def test_defaults_categorize_typical_wise_lines(eur, line, treatment, code):
    stored = lines_store(eur, line)[0]
    apply_all()
    booking = Categorization.objects.get(transaction=stored)
    assert (booking.treatment, booking.account_code) == (treatment, code)


@pytest.mark.usefixtures("no_rules")
def test_a_hand_edit_made_during_a_run_is_honoured(eur, owner):
    lines = lines_store(eur, *({"amount": f"-{n}", "description": "Figma"} for n in (1, 2, 3)))
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])

    def edit_between_batches(done: int) -> None:
        if done == 1:  # after the first line's batch, before the last line's
            categorization_edit(line=lines[2], user=owner, values={"account_code": "77"},
                                locked=set())  # fmt: skip

    rules_apply(queryset=Transaction.objects.all(), specs=specs_saved(), batch=1,
                progress=edit_between_batches)  # fmt: skip
    codes = [Categorization.objects.get(transaction=line).account_code for line in lines]
    assert codes == ["1", "1", "77"]


@pytest.mark.usefixtures("no_rules")
def test_an_unreachable_broker_never_fails_an_ingest(eur, django_capture_on_commit_callbacks):
    from unittest import mock

    with (
        mock.patch("ledger.rules.tasks.apply_new_lines.delay", side_effect=OSError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    assert Transaction.objects.filter(pk=line.pk).exists()
    assert rules_apply_unseen().lines_seen == 1  # the sweep picks it up


@pytest.mark.usefixtures("no_rules")
def test_a_batch_that_lost_a_race_to_insert_is_recomputed(eur, monkeypatch):
    """The bulk insert (COPY on PostgreSQL) reports a clash as Django's IntegrityError,
    which `rules_apply` answers by recomputing the batch."""
    from ledger.rules import services

    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    reads = []

    def read_then_clash(queryset):
        rows = rows_read(queryset)
        if not reads:  # a writer stores this line's categorization after it was read
            Categorization.objects.create(transaction=line, account_code="2")
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(services, "rows_read", read_then_clash)
    result = apply_all()
    assert reads == [1, 1]
    assert result.lines_changed == 1
    booking = Categorization.objects.get(transaction=line)
    assert (booking.account_code, booking.revision) == ("1", 1)


@pytest.mark.usefixtures("no_rules")
def test_ids_read_a_few_batches_at_a_time_cover_every_line(eur, monkeypatch):
    from ledger.rules import services

    monkeypatch.setattr(services, "ID_PAGE", 2)
    lines = lines_store(eur, *({"amount": f"-{n}", "description": "Figma"} for n in range(1, 6)))
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    done = []
    result = rules_apply(queryset=Transaction.objects.all(), specs=specs_saved(), batch=1,
                         progress=done.append)  # fmt: skip
    assert done == [1, 2, 3, 4, 5]
    assert result.lines_changed == 5
    codes = {Categorization.objects.get(transaction=line).account_code for line in lines}
    assert codes == {"1"}
