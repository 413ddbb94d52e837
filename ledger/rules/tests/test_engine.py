"""What each condition matches, what each action sets, and how rules combine."""

from decimal import Decimal

import pytest

from accounts.models import Transaction
from ledger.rules.engine import specs_saved
from ledger.rules.models import Categorization, Condition
from ledger.rules.services import rules_apply
from ledger.rules.tests.factories import act, cond, lines_store, rule_make

pytestmark = pytest.mark.usefixtures("no_rules")


def apply_all():
    return rules_apply(queryset=Transaction.objects.all(), specs=specs_saved())


def code_of(line) -> str:
    return Categorization.objects.get(transaction=line).account_code


def matched(lines) -> list[bool]:
    return [code_of(line) == "999" for line in lines]


def only(condition: dict, lines) -> list[bool]:
    rule_make("probe", conditions=[condition], actions=[act("ACCOUNT_CODE", "999")])
    apply_all()
    return matched(lines)


@pytest.fixture
def texts(eur):
    return lines_store(
        eur,
        {
            "amount": "-12.50",
            "description": "Card payment to AMAZON Marketplace",
            "counterparty": "Amazon EU",
            "payment_reference": "INV-2025-001",
        },
        {
            "amount": "-3.00",
            "description": "amazon prime",
            "counterparty": "amazon",
            "payment_reference": "inv-7",
        },
        {
            "amount": "100.00",
            "description": "Invoice 42 paid",
            "counterparty": "Acme GmbH",
            "payment_reference": "Ref 42",
        },
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("DESCRIPTION", "amazon"), [True, True, False]),
        (cond("DESCRIPTION", "amazon", case_sensitive=True), [False, True, False]),
        (cond("DESCRIPTION", "AMAZON PRIME", "EQUALS"), [False, True, False]),
        (cond("DESCRIPTION", "card payment", "STARTS_WITH"), [True, False, False]),
        (cond("DESCRIPTION", r"amazon\s+market", "REGEX"), [True, False, False]),
        (cond("DESCRIPTION", r"^Amazon", "REGEX", case_sensitive=True), [False, False, False]),
        (cond("COUNTERPARTY", "amazon", "EQUALS"), [False, True, False]),
        (cond("COUNTERPARTY", "acme", "STARTS_WITH"), [False, False, True]),
        (cond("PAYMENT_REFERENCE", "inv-", "STARTS_WITH"), [True, True, False]),
        (cond("PAYMENT_REFERENCE", r"^inv-\d{4}-", "REGEX"), [True, False, False]),
    ],
)
def test_text_conditions(texts, condition, expected):
    assert only(condition, texts) == expected


def test_amount_range_is_inclusive_absolute_by_default(texts):
    condition = cond("AMOUNT", amount_min=Decimal("3.00"), amount_max=Decimal("12.50"))
    assert only(condition, texts) == [True, True, False]


def test_amount_range_signed_when_asked(texts):
    condition = cond(
        "AMOUNT", amount_min=Decimal("-20"), amount_max=Decimal("-5"), amount_absolute=False
    )
    assert only(condition, texts) == [True, False, False]


def test_amount_bound_is_in_the_lines_own_currency(db):
    from accounts.tests.factories import CashAccountFactory

    jpy = CashAccountFactory(currency="JPY")
    usd = CashAccountFactory(currency="USD")
    lines = [*lines_store(jpy, {"amount": "-1500"}), *lines_store(usd, {"amount": "-1500.00"})]
    lines += lines_store(usd, {"amount": "-15.00"})
    condition = cond("AMOUNT", amount_min=Decimal("1000"), amount_max=Decimal("2000"))
    assert only(condition, lines) == [True, True, False]


def test_amount_bound_below_the_minor_unit_is_exact(usd):
    lines = lines_store(usd, {"amount": "-10.00"}, {"amount": "-10.01"})
    assert only(cond("AMOUNT", amount_min=Decimal("10.005")), lines) == [False, True]


def test_currency_direction_type_and_account_conditions(eur, usd):
    a = lines_store(eur, {"amount": "-5", "wise_type": "CARD"})[0]
    b = lines_store(usd, {"amount": "7", "wise_type": "TRANSFER"})[0]
    c = lines_store(usd, {"amount": "-9", "wise_type": "DIRECT_DEBIT"})[0]
    lines = [a, b, c]
    checks = [
        (cond("CURRENCY", "usd, gbp"), [False, True, True]),
        (cond("DIRECTION", "DEBIT"), [True, False, True]),
        (cond("WISE_TYPE", "CARD, DIRECT_DEBIT"), [True, False, True]),
        (cond("CASH_ACCOUNT", operator="IS_ONE_OF", cash_account=eur), [True, False, False]),
    ]
    for condition, expected in checks:
        from ledger.rules.models import Rule

        Rule.objects.all().delete()
        Categorization.objects.all().delete()
        assert only(condition, lines) == expected, condition


def test_all_needs_every_condition_any_needs_one(texts):
    conditions = [
        cond("DESCRIPTION", "amazon"),
        cond("DIRECTION", "DEBIT"),
        cond("PAYMENT_REFERENCE", "2025"),
    ]
    rule_make("all", conditions=conditions, actions=[act("ACCOUNT_CODE", "999")])
    apply_all()
    assert matched(texts) == [True, False, False]
    rule_make(
        "any",
        match="ANY",
        conditions=[cond("COUNTERPARTY", "acme")],
        actions=[act("ACCOUNT_CODE", "500")],
    )
    apply_all()
    assert code_of(texts[2]) == "500"


def test_every_action_sets_its_field(eur):
    line = lines_store(eur, {"amount": "-40", "description": "Hetzner server"})[0]
    rule_make(
        "hosting",
        conditions=[cond("DESCRIPTION", "hetzner")],
        actions=[
            act("ACCOUNT_CODE", "489"),
            act("TAX_TYPE", "INPUT2"),
            act("CONTACT", "Hetzner"),
            act("TRACKING", "Region", "EU"),
            act("TRACKING", "Project", "Hosting"),
        ],
    )
    apply_all()
    booking = Categorization.objects.get(transaction=line)
    assert (booking.account_code, booking.tax_type, booking.contact_name) == (
        "489",
        "INPUT2",
        "Hetzner",
    )
    assert booking.tracking == [
        {"name": "Region", "option": "EU"},
        {"name": "Project", "option": "Hosting"},
    ]
    assert booking.treatment == "NORMAL"
    assert booking.revision == 1
    assert booking.provenance["account_code"]["name"] == "hosting"


@pytest.mark.parametrize("treatment", ["FEE", "TRANSFER", "EXCLUDE"])
def test_treatment_actions(eur, treatment):
    line = lines_store(eur, {"amount": "-1", "description": "x"})[0]
    rule_make("t", conditions=[cond("DESCRIPTION", "x")], actions=[act("TREATMENT", treatment)])
    apply_all()
    assert Categorization.objects.get(transaction=line).treatment == treatment


def test_first_rule_wins_per_field_and_later_rules_fill_the_rest(eur):
    line = lines_store(eur, {"amount": "-9", "description": "Figma subscription"})[0]
    rule_make(
        "first", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "485")]
    )
    rule_make(
        "second",
        conditions=[cond("DIRECTION", "DEBIT")],
        actions=[act("ACCOUNT_CODE", "429"), act("TAX_TYPE", "INPUT")],
    )
    apply_all()
    booking = Categorization.objects.get(transaction=line)
    assert (booking.account_code, booking.tax_type) == ("485", "INPUT")
    assert booking.provenance["account_code"]["name"] == "first"
    assert booking.provenance["tax_type"]["name"] == "second"


def test_stop_ends_evaluation(eur):
    line = lines_store(eur, {"amount": "-9", "description": "Figma subscription"})[0]
    rule_make(
        "first",
        stop=True,
        conditions=[cond("DESCRIPTION", "figma")],
        actions=[act("ACCOUNT_CODE", "485")],
    )
    rule_make("second", conditions=[cond("DIRECTION", "DEBIT")], actions=[act("TAX_TYPE", "INPUT")])
    apply_all()
    assert Categorization.objects.get(transaction=line).tax_type == ""


def test_reordering_changes_the_winner(eur, owner):
    from ledger.rules.services import rule_move

    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    b = rule_make("b", conditions=[cond("DESCRIPTION", "fig")], actions=[act("ACCOUNT_CODE", "2")])
    apply_all()
    assert code_of(line) == "1"
    rule_move(rule=b, offset=-1, user=owner)
    apply_all()
    assert code_of(line) == "2"
    assert Categorization.objects.get(transaction=line).revision == 2


def test_applying_twice_changes_nothing_and_revision_only_moves_on_change(eur):
    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    assert apply_all().lines_changed == 1
    assert apply_all().lines_changed == 0
    booking = Categorization.objects.get(transaction=line)
    assert booking.revision == 1
    assert line.rule_decisions.count() == 1


def test_unmatched_lines_get_an_empty_row_without_a_revision(eur):
    line = lines_store(eur, {"amount": "-9", "description": "nothing"})[0]
    rule_make("a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")])
    result = apply_all()
    assert (result.lines_seen, result.lines_changed) == (1, 0)
    booking = Categorization.objects.get(transaction=line)
    assert (booking.account_code, booking.revision) == ("", 0)


def test_deleting_a_rule_takes_back_what_it_set(eur, owner):
    from ledger.rules.services import rule_delete, rule_run_execute

    line = lines_store(eur, {"amount": "-9", "description": "Figma"})[0]
    rule = rule_make(
        "a", conditions=[cond("DESCRIPTION", "figma")], actions=[act("ACCOUNT_CODE", "1")]
    )
    apply_all()
    run = rule_delete(rule=rule, user=owner)
    rule_run_execute(run_id=run.pk)
    booking = Categorization.objects.get(transaction=line)
    assert (booking.account_code, booking.revision) == ("", 2)
    assert "account_code" not in booking.provenance


def test_regex_with_catastrophic_backtracking_runs_in_linear_time(eur):
    import time

    lines = lines_store(eur, {"amount": "-1", "description": "a" * 5000 + "!"})
    rule_make(
        "evil",
        conditions=[cond("DESCRIPTION", r"^(a+)+$", "REGEX")],
        actions=[act("ACCOUNT_CODE", "999")],
    )
    started = time.perf_counter()
    apply_all()
    assert time.perf_counter() - started < 2
    assert matched(lines) == [False]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("(unclosed", "missing )"), (r"(a)\1", "invalid escape"), ("(?=look)", "invalid perl")],
)
def test_regex_is_validated_on_save_with_a_clear_message(pattern, message):
    from django.core.exceptions import ValidationError

    from ledger.rules.models import Rule

    condition = Condition(rule=Rule(name="r"), field="DESCRIPTION", operator="REGEX", value=pattern)
    with pytest.raises(ValidationError) as caught:
        condition.full_clean(exclude=["rule"])
    text = str(caught.value.message_dict["value"])
    assert "RE2" in text
    assert message in text
