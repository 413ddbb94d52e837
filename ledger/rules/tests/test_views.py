"""The rules pages over HTTP: list pages in a fixed number of queries, the editor and its
preview, making a rule from a line, ordering, hand edits, and read-only for the
accountant."""

import pytest
from django.urls import reverse

from accounts.models import SyncRun
from ledger.rules.models import AuditEntry, Categorization, Rule, RuleRun
from ledger.rules.tests.factories import act, cond, lines_store, rule_make


def form_data(*, name="Figma", conditions=(), actions=(), apply="1", rule_id="", **rule):
    data = {
        "name": name,
        "match": rule.get("match", "ALL"),
        "is_active": "on",
        "notes": "",
        "rule_id": rule_id,
        "apply": apply,
    }
    for prefix, rows in (("conditions", conditions), ("actions", actions)):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(len(rows)),
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
        for index, row in enumerate(rows):
            data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


@pytest.fixture
def figma_lines(eur):
    return lines_store(
        eur,
        {
            "amount": "-12.00",
            "description": "Figma monthly",
            "counterparty": "Figma",
            "wise_type": "CARD",
        },
        {
            "amount": "-12.00",
            "description": "Figma monthly",
            "counterparty": "Figma",
            "wise_type": "CARD",
        },
        {"amount": "-4.00", "description": "Coffee", "counterparty": "Cafe", "wise_type": "CARD"},
    )


def test_rules_list_in_a_fixed_number_of_queries(owner_client, django_assert_num_queries, eur):
    for n in range(6):
        rule_make(
            f"r{n}",
            conditions=[
                cond("CASH_ACCOUNT", operator="IS_ONE_OF", cash_account=eur),
                cond("DESCRIPTION", "x"),
            ],
            actions=[act("ACCOUNT_CODE", str(400 + n))],
        )
    # session, user, rules, conditions (+accounts), actions, latest run, uncategorized count,
    # the Xero connection (whose chart is checked: none here)
    with django_assert_num_queries(8):
        page = owner_client.get(reverse("rules:list"))
    assert page.status_code == 200
    assert page.content.count(b'name="order"') == Rule.objects.count()
    assert b"404 Bank Fees" in page.content  # the page says which chart the defaults use


def test_uncategorized_queue_in_a_fixed_number_of_queries(
    owner_client, django_assert_num_queries, figma_lines
):
    # session, user, count, page of lines (with account and booking), counterparties, the
    # Xero connection (whose chart is checked: none here)
    with django_assert_num_queries(6):
        page = owner_client.get(reverse("rules:uncategorized"))
    assert page.content.count(b"data-make-rule") == 3


def test_audit_trail_in_a_fixed_number_of_queries(
    accountant_client, owner, django_assert_num_queries
):
    for n in range(3):
        rule_make(
            f"r{n}",
            conditions=[cond("DESCRIPTION", "x")],
            actions=[act("TAX_TYPE", "NONE")],
            user=owner,
        )
    # session, user, role group check, count, page
    with django_assert_num_queries(5):
        page = accountant_client.get(reverse("rules:audit"))
    assert page.content.count(b"Rule created") == 3
    assert b"olivia" in page.content


def test_make_a_rule_from_a_line_prefills_and_previews(owner_client, figma_lines):
    page = owner_client.get(reverse("rules:create") + f"?from_line={figma_lines[0].pk}")
    formset = page.context["conditions"]
    assert [f.initial for f in formset.forms] == [
        {"field": "COUNTERPARTY", "operator": "EQUALS", "value": "Figma"},
        {"field": "WISE_TYPE", "operator": "IS_ONE_OF", "value": "CARD"},
        {"field": "CURRENCY", "operator": "IS_ONE_OF", "value": "EUR"},
    ]
    data = form_data(
        conditions=[
            {"field": "COUNTERPARTY", "operator": "EQUALS", "value": "Figma"},
            {"field": "CURRENCY", "operator": "IS_ONE_OF", "value": "EUR"},
        ],
        actions=[{"kind": "ACCOUNT_CODE", "value": "485"}],
    )
    preview = owner_client.get(reverse("rules:preview"), data, HTTP_HX_REQUEST="true")
    assert b'id="preview-count">2<' in preview.content
    assert b"485" in preview.content


def test_preview_explains_what_is_missing(owner_client):
    data = form_data(
        conditions=[{"field": "DESCRIPTION", "operator": "REGEX", "value": "(a"}], actions=[]
    )
    preview = owner_client.get(reverse("rules:preview"), data, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200
    assert b"missing )" in preview.content
    assert b"Add at least one action." in preview.content


def test_saving_with_apply_queues_a_run_of_that_rule(
    owner_client, figma_lines, django_capture_on_commit_callbacks
):
    data = form_data(
        conditions=[{"field": "COUNTERPARTY", "operator": "EQUALS", "value": "figma"}],
        actions=[{"kind": "TREATMENT:EXCLUDE"}, {"kind": "ACCOUNT_CODE", "value": "485"}],
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner_client.post(reverse("rules:create"), data)
    assert response.status_code == 302
    rule = Rule.objects.get(name="Figma")
    assert sorted(rule.actions.values_list("kind", "value")) == [
        ("ACCOUNT_CODE", "485"),
        ("TREATMENT", "EXCLUDE"),
    ]
    run = RuleRun.objects.get(rule=rule)
    assert (run.scope, run.sync_run.status, len(callbacks)) == ("RULE", SyncRun.Status.QUEUED, 1)
    from ledger.rules.services import rule_run_execute

    rule_run_execute(run_id=run.pk)
    assert Categorization.objects.filter(account_code="485", treatment="EXCLUDE").count() == 2
    status = owner_client.get(reverse("rules:run", args=[run.sync_run.pk]), HTTP_HX_REQUEST="true")
    assert b"2 lines changed" in status.content
    assert b"hx-trigger" not in status.content  # finished: the page stops polling


def test_invalid_rule_is_refused_and_nothing_saved(owner_client):
    before = Rule.objects.count()
    data = form_data(
        conditions=[{"field": "AMOUNT", "amount_min": "50", "amount_max": "10"}],
        actions=[{"kind": "ACCOUNT_CODE", "value": "4 04"}],
    )
    response = owner_client.post(reverse("rules:create"), data)
    assert response.status_code == 200
    assert b"The upper bound is below the lower bound." in response.content
    assert b"A Xero account code" in response.content
    assert Rule.objects.count() == before


def test_move_and_reorder(owner_client, no_rules):
    a = rule_make("a", conditions=[cond("DESCRIPTION", "a")], actions=[act("TAX_TYPE", "A")])
    b = rule_make("b", conditions=[cond("DESCRIPTION", "b")], actions=[act("TAX_TYPE", "B")])
    c = rule_make("c", conditions=[cond("DESCRIPTION", "c")], actions=[act("TAX_TYPE", "C")])
    response = owner_client.post(
        reverse("rules:move", args=[c.pk]), {"direction": "up"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200  # the table partial
    assert list(Rule.objects.values_list("name", flat=True)) == ["a", "c", "b"]
    owner_client.post(reverse("rules:reorder"), {"order": [b.pk, a.pk, c.pk]})
    assert list(Rule.objects.values_list("name", flat=True)) == ["b", "a", "c"]
    stale = owner_client.post(reverse("rules:reorder"), {"order": [a.pk]}, follow=True)
    assert b"reload" in stale.content
    assert AuditEntry.objects.filter(action="RULES_REORDERED").count() == 2


def test_hand_edit_locks_and_unlocks_through_the_page(owner_client, figma_lines, no_rules):
    line = figma_lines[0]
    url = reverse("rules:line", args=[line.pk])
    data = {
        "treatment": "NORMAL",
        "account_code": "429",
        "tax_type": "",
        "contact_name": "Figma",
        "tracking": "Region: EU",
    }
    owner_client.post(url, data)
    booking = Categorization.objects.get(transaction=line)
    assert booking.locked_fields == ["account_code", "contact_name", "tracking"]
    assert booking.tracking == [{"name": "Region", "option": "EU"}]
    page = owner_client.get(url)
    assert page.content.count(b">locked<") == 3
    assert b"olivia (by hand)" in page.content
    owner_client.post(url, {**data, "locked": ["account_code"]})
    booking.refresh_from_db()
    # Unlocked fields went back to the rules; none sets them, so they are empty again.
    assert (booking.locked_fields, booking.contact_name, booking.tracking) == (
        ["account_code"],
        "",
        [],
    )


def test_accountant_sees_pages_without_write_controls(accountant_client, figma_lines):
    rule = Rule.objects.first()
    for url in (
        reverse("rules:list"),
        reverse("rules:edit", args=[rule.pk]),
        reverse("rules:uncategorized"),
        reverse("rules:line", args=[figma_lines[0].pk]),
    ):
        page = accountant_client.get(url)
        assert page.status_code == 200
        assert b"Save and apply" not in page.content
        assert b"Make a rule" not in page.content
        assert b"Save booking" not in page.content
        assert b"Apply all rules" not in page.content


def test_delete_shows_what_changes_then_reapplies(
    owner_client, figma_lines, no_rules, django_capture_on_commit_callbacks
):
    from ledger.rules.engine import specs_saved
    from ledger.rules.services import rule_run_execute, rules_apply

    rule = rule_make(
        "figma",
        conditions=[cond("COUNTERPARTY", "figma", "EQUALS")],
        actions=[act("ACCOUNT_CODE", "485")],
    )
    from accounts.models import Transaction

    rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())
    page = owner_client.get(reverse("rules:delete", args=[rule.pk]))
    assert b'id="delete-count">2<' in page.content
    with django_capture_on_commit_callbacks():
        owner_client.post(reverse("rules:delete", args=[rule.pk]))
    rule_run_execute(run_id=RuleRun.objects.get(rule_key=rule.pk).pk)
    assert not Categorization.objects.filter(account_code="485").exists()
    assert AuditEntry.objects.get(action="RULE_DELETED").rule_name == "figma"
