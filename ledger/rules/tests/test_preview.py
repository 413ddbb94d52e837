"""The preview is a dry run of the very code that applies, so they cannot disagree;
conflicts name the overlapping rule and the winner by order."""

from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Transaction
from ledger.rules.engine import Engine, RuleSpec, preview, rows_read, spec_from_models, specs_saved
from ledger.rules.models import Action, Categorization, Condition, Rule
from ledger.rules.services import rule_save, rules_apply
from ledger.rules.tests.factories import act, cond, lines_store, rule_make

pytestmark = pytest.mark.usefixtures("no_rules")


def draft(name, conditions, actions, *, rule=None, match="ALL", stop=False) -> tuple:
    rule = rule or Rule(name=name, match=match, stop_processing=stop)
    rule.name, rule.match, rule.stop_processing = name, match, stop
    if rule.pk is None:
        rule.position = (Rule.objects.count() or 0) + 1
    conds = [Condition(**c) for c in conditions]
    acts = [Action(**a) for a in actions]
    return rule, conds, acts


def preview_of(rule, conds, acts):
    spec: RuleSpec = spec_from_models(rule, conds, acts)
    return preview(specs=specs_saved(), focus=spec, at=timezone.now().isoformat())


def save_and_apply(rule, conds, acts):
    rule, _ = rule_save(rule=rule, conditions=conds, actions=acts, user=None, apply=False)
    return rules_apply(
        queryset=Transaction.objects.all(), specs=specs_saved(), focus_id=rule.pk, collect=True
    )


@pytest.fixture
def book(eur):
    lines = lines_store(
        eur,
        {"amount": "-12.50", "description": "AWS EMEA", "counterparty": "Amazon Web Services"},
        {"amount": "-30.00", "description": "AWS EMEA", "counterparty": "Amazon Web Services"},
        {"amount": "-5.00", "description": "Amazon.de order", "counterparty": "Amazon"},
        {"amount": "900.00", "description": "Invoice 12", "counterparty": "Acme"},
    )
    rule_make(
        "amazon",
        conditions=[cond("COUNTERPARTY", "amazon")],
        actions=[act("ACCOUNT_CODE", "429"), act("CONTACT", "Amazon")],
    )
    rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())
    return lines


def test_preview_of_a_new_rule_equals_what_applying_it_does(book):
    parts = draft(
        "aws", [cond("DESCRIPTION", "aws")], [act("ACCOUNT_CODE", "463"), act("TAX_TYPE", "INPUT")]
    )
    shown = preview_of(*parts)
    assert shown.lines_matched == 2
    assert shown.lines_changed == 2
    # Amazon (earlier) keeps the account code; the new rule adds the tax type.
    assert {o.line_id for o in shown.changed} == {book[0].pk, book[1].pk}
    assert all(set(o.changes) == {"tax_type"} for o in shown.changed)
    done = save_and_apply(*parts)
    assert done.change_set == shown.change_set()
    assert done.lines_changed == shown.lines_changed


def test_preview_of_an_edit_covers_lines_the_old_version_set(book):
    rule = Rule.objects.get(name="amazon")
    # Narrow it: the plain Amazon order falls out (its fields are cleared).
    parts = draft(
        "amazon",
        [cond("COUNTERPARTY", "amazon web", "STARTS_WITH")],
        [act("ACCOUNT_CODE", "463"), act("CONTACT", "Amazon")],
        rule=rule,
    )
    shown = preview_of(*parts)
    changes = {o.line_id: o.changes for o in shown.changed}
    assert set(changes) == {book[0].pk, book[1].pk, book[2].pk}
    assert changes[book[0].pk]["account_code"].before == "429"
    assert changes[book[0].pk]["account_code"].after == "463"
    assert changes[book[2].pk]["account_code"].after == ""
    assert changes[book[2].pk]["contact_name"].rule_id is None
    done = save_and_apply(*parts)
    assert done.change_set == shown.change_set()


def test_conflicts_name_the_other_rule_and_the_winner(book):
    parts = draft(
        "aws", [cond("DESCRIPTION", "aws")], [act("ACCOUNT_CODE", "463"), act("CONTACT", "Amazon")]
    )
    shown = preview_of(*parts)
    assert len(shown.conflicts) == 1
    conflict = shown.conflicts[0]
    assert (conflict.rule_name, conflict.field, conflict.lines) == ("amazon", "account_code", 2)
    assert (conflict.focus_value, conflict.other_value) == ("463", "429")
    assert conflict.focus_wins is False  # "amazon" comes first
    # Same value for the contact: an overlap, not a conflict.
    assert all(c.field != "contact_name" for c in shown.conflicts)


def test_an_earlier_rule_that_stops_shadows_the_focus(book):
    Rule.objects.filter(name="amazon").update(stop_processing=True)
    shown = preview_of(*draft("aws", [cond("DESCRIPTION", "aws")], [act("TAX_TYPE", "INPUT")]))
    assert (shown.lines_matched, shown.lines_shadowed, shown.lines_changed) == (2, 2, 0)


def test_locked_fields_show_no_change_and_stay(book, owner):
    from ledger.rules.services import categorization_edit

    categorization_edit(line=book[0], user=owner, values={"account_code": "999"}, locked=set())
    parts = draft("aws", [cond("DESCRIPTION", "aws")], [act("ACCOUNT_CODE", "463")])
    Rule.objects.filter(name="amazon").delete()
    shown = preview_of(*parts)
    changes = {o.line_id: set(o.changes) for o in shown.changed}
    # Line 0's account code is locked: only the deleted rule's contact goes.
    assert changes == {book[0].pk: {"contact_name"}, book[1].pk: {"account_code", "contact_name"}}
    done = save_and_apply(*parts)
    assert done.change_set == shown.change_set()
    assert Categorization.objects.get(transaction=book[0]).account_code == "999"


# Random rule sets over random lines: the preview's facts are exactly the applied facts.
WORDS = ["aws", "amazon", "acme", "fee", "rent", "figma"]
condition_st = st.one_of(
    st.builds(
        lambda w, op: cond("DESCRIPTION", w, op),
        st.sampled_from(WORDS),
        st.sampled_from(["CONTAINS", "STARTS_WITH", "EQUALS", "REGEX"]),
    ),
    st.builds(lambda d: cond("DIRECTION", d), st.sampled_from(["DEBIT", "CREDIT"])),
    st.builds(lambda lo: cond("AMOUNT", amount_min=Decimal(lo)), st.integers(0, 50)),
)
action_st = st.lists(
    st.one_of(
        st.builds(lambda v: act("ACCOUNT_CODE", v), st.sampled_from(["400", "429", "463"])),
        st.builds(lambda v: act("TREATMENT", v), st.sampled_from(["FEE", "EXCLUDE", "NORMAL"])),
        st.builds(lambda v: act("TAX_TYPE", v), st.sampled_from(["NONE", "INPUT"])),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda a: a["kind"],
)
rule_st = st.tuples(
    st.lists(condition_st, min_size=1, max_size=2),
    action_st,
    st.sampled_from(["ALL", "ANY"]),
    st.booleans(),
)


def test_an_edit_that_lifts_a_stop_re_examines_the_lines_it_stopped(eur):
    """Found by the property test below on PostgreSQL: a "stop" rule that sets nothing on
    a line (an earlier rule set the field) still keeps later rules off it, so when the
    stop is edited away those lines must be in the preview's and the run's scope."""
    lines = lines_store(
        eur,
        {"amount": "-10.00", "description": "figma"},
        {"amount": "-20.00", "description": "aws"},
        {"amount": "30.00", "description": "client"},
    )
    rule_make("code", conditions=[cond("DIRECTION", "DEBIT")],
              actions=[act("ACCOUNT_CODE", "400")])  # fmt: skip
    stopper = rule_make("stopper", conditions=[cond("DIRECTION", "DEBIT")],
                        actions=[act("ACCOUNT_CODE", "400")], stop=True)  # fmt: skip
    rule_make("fees", conditions=[cond("DIRECTION", "DEBIT")],
              actions=[act("TREATMENT", "FEE")])  # fmt: skip
    rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())
    assert not Categorization.objects.filter(treatment="FEE").exists()  # stopped

    parts = draft("stopper", [cond("DESCRIPTION", "aws")], [act("ACCOUNT_CODE", "400")],
                  rule=stopper)  # fmt: skip
    shown = preview_of(*parts)
    assert {o.line_id for o in shown.changed} == {lines[0].pk, lines[1].pk}
    done = save_and_apply(*parts)
    assert done.change_set == shown.change_set()
    fees = Categorization.objects.filter(treatment="FEE").values_list("transaction_id", flat=True)
    assert set(fees) == {lines[0].pk, lines[1].pk}
    assert rules_apply(queryset=Transaction.objects.all(), specs=specs_saved()).lines_changed == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(existing=st.lists(rule_st, min_size=0, max_size=4), edited=rule_st, which=st.integers(0, 4))
def test_preview_equals_apply_for_random_rules(eur, existing, edited, which):
    Rule.objects.all().delete()
    Categorization.objects.all().delete()
    if not Transaction.objects.exists():
        words = [f"{w} {x}" for w in WORDS for x in ("ltd", "")]
        lines_store(
            eur,
            *(
                {"amount": f"{(-1) ** i * (i * 7 % 60)}.00", "description": d}
                for i, d in enumerate(words)
            ),
        )
    for n, (conds, acts, match, stop) in enumerate(existing):
        rule_make(f"r{n}", conditions=conds, actions=acts, match=match, stop=stop)
    rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())
    conds, acts, match, stop = edited
    rules = list(Rule.objects.order_by("position"))
    target = rules[which] if which < len(rules) else None
    parts = draft("edited", conds, acts, rule=target, match=match, stop=stop)
    shown = preview_of(*parts)
    done = save_and_apply(*parts)
    assert done.change_set == shown.change_set()
    # A rule's single-line test (scope, counts) agrees with its batch test (outcomes).
    engine = Engine(specs_saved(), at="")
    lines = [engine.line(row) for row in rows_read(Transaction.objects.all())]
    for rule in engine.rules:
        by_line = {i for i, line in enumerate(lines) if rule.matches(line)}
        by_batch = set(
            rule.select(lambda key: [line[key] for line in lines], list(range(len(lines))))
        )
        assert by_line == by_batch, rule.name
    # The scope was enough: applying everything afterwards finds nothing left to change.
    assert rules_apply(queryset=Transaction.objects.all(), specs=specs_saved()).lines_changed == 0
