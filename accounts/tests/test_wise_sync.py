"""The Wise sync against the simulator over real HTTP: complete, idempotent, fault
tolerant, proved against Wise's balances."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import (
    BalanceGap,
    BalanceSnapshot,
    CashAccount,
    Institution,
    StatementCursor,
    SyncRun,
    Transaction,
)
from accounts.selectors import trail_verify
from accounts.tests.wise_helpers import (
    run_concurrently,
    simulator_keys,
    stored_balances,
    stored_keys,
)
from accounts.wise.sync import wise_account_sync, wise_balances_sync, wise_connection_sync
from simulators.wise.generator import PROFILE_BUSINESS
from treasury.money import to_minor
from treasury.processes import host_id
from treasury.tests.workers import pid_gone

pytestmark = pytest.mark.django_db


def _sync(connection) -> SyncRun:
    return wise_connection_sync(connection=connection)


def _expected_balances(sim) -> dict[int, int]:
    return {b.id: to_minor(b.amount, b.currency) for b in sim.balances_of(PROFILE_BUSINESS)}


def test_full_sync_stores_exactly_the_simulators_lines(wise_sim, wise_connection):
    run = _sync(wise_connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored_keys() == simulator_keys(wise_sim)
    assert run.created_count == wise_sim.line_count - 1  # all but the personal profile's
    assert stored_balances() == _expected_balances(wise_sim)
    assert trail_verify() == dict.fromkeys(CashAccount.objects.values_list("pk", flat=True))
    accounts = {a.wise_balance_id: a for a in CashAccount.objects.all()}
    assert {(a.currency, a.kind) for a in accounts.values()} == {
        ("USD", "STANDARD"),
        ("EUR", "STANDARD"),
        ("GBP", "STANDARD"),
        ("JPY", "STANDARD"),
        ("USD", "SAVINGS"),
    }
    assert accounts[70005].name == "Tax reserve"
    assert {a.wise_profile_id for a in accounts.values()} == {PROFILE_BUSINESS}
    institution = Institution.objects.get()
    assert institution.kind == Institution.Kind.WISE
    assert institution.name == "Wise US Inc."  # from the statement's issuer, for FBAR
    assert "New York" in institution.address
    proofs = set(StatementCursor.objects.values_list("proof_status", flat=True))
    assert proofs == {StatementCursor.Proof.OK}
    assert run.percent == 100


def test_second_sync_adds_nothing_and_a_new_line_arrives_once(wise_sim, wise_connection):
    _sync(wise_connection)
    count = Transaction.objects.count()

    second = _sync(wise_connection)
    assert second.status == SyncRun.Status.SUCCEEDED
    assert second.created_count == 0
    assert Transaction.objects.count() == count

    wise_sim.transaction_add(70002, Decimal("1250.00"), sender="Atelier Vogel GmbH")
    third = _sync(wise_connection)
    assert third.created_count == 1
    new = Transaction.objects.get(
        account__wise_balance_id=70002, counterparty="Atelier Vogel GmbH", amount_minor=125000
    )
    assert new.direction == "CREDIT"
    assert stored_keys() == simulator_keys(wise_sim)


def test_lines_are_normalised_with_fees_inside_and_both_sides_of_a_conversion(
    wise_sim, wise_connection
):
    _sync(wise_connection)
    conversion = (
        Transaction.objects.filter(wise_type="CONVERSION", direction="DEBIT", currency="EUR")
        .order_by("booked_at")
        .first()
    )
    assert conversion is not None
    other = Transaction.objects.get(reference_number=conversion.reference_number, currency="USD")
    details = conversion.raw["details"]
    assert conversion.amount == -Decimal(details["sourceAmount"]["value"])
    assert conversion.fee == Decimal(details["fee"]["value"]) > 0
    assert (conversion.counter_currency, conversion.counter_amount) == ("USD", other.amount)
    assert (other.counter_currency, other.counter_amount) == ("EUR", -conversion.amount)
    assert conversion.fx_rate == other.fx_rate == Decimal(details["rate"])
    # Fee inside: what the target received is (source - fee) x rate, rounded down.
    assert other.amount <= (-conversion.amount - conversion.fee) * conversion.fx_rate
    jpy = Transaction.objects.filter(currency="JPY")
    assert jpy.exists()
    assert all(t.amount == t.amount.to_integral_value() for t in jpy)


def test_refund_reusing_a_reference_number_is_its_own_line(wise_sim_factory, connect):
    sim = wise_sim_factory(size=1500, seed=11)
    _sync(connect(sim))
    refunds = Transaction.objects.filter(wise_type="CARD", direction="CREDIT")
    assert refunds.exists()
    refund = refunds.first()
    assert Transaction.objects.filter(
        reference_number=refund.reference_number, direction="DEBIT"
    ).exists()


def test_long_history_is_fetched_in_ranges_of_at_most_469_days(wise_sim_factory, connect, settings):
    until = datetime.now(UTC).replace(microsecond=0)
    sim = wise_sim_factory(start=until - timedelta(days=1000), size=400)
    settings.WISE_SYNC_START = date(2000, 1, 1)  # the balance's opening limits it instead
    run = _sync(connect(sim))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    statements = sim.requests_to("GET", r"/balances?-statements/70001/")
    assert len(statements) == 3  # 1000 days: 469 + 469 + 62
    for request in statements:
        start = datetime.fromisoformat(request.query["intervalStart"][0].replace("Z", "+00:00"))
        end = datetime.fromisoformat(request.query["intervalEnd"][0].replace("Z", "+00:00"))
        assert end - start <= timedelta(days=469)
    assert stored_keys() == simulator_keys(sim)


def test_first_sync_starts_at_the_configured_date(wise_sim, connect):
    connection = connect(wise_sim)
    start = (wise_sim.until - timedelta(days=30)).date()
    connection.sync_start = start
    connection.save()
    _sync(connection)
    first = Transaction.objects.order_by("booked_at").first()
    assert first.booked_on >= start
    # The opening balance comes from the first line's running balance: the proof holds.
    assert set(StatementCursor.objects.values_list("proof_status", flat=True)) == {"OK"}


def test_the_next_sync_rereads_from_the_cursor_minus_the_overlap(
    wise_sim, wise_connection, settings
):
    settings.WISE_SYNC_OVERLAP_HOURS = 48
    _sync(wise_connection)
    cursor = StatementCursor.objects.get(account__wise_balance_id=70001)
    wise_sim.reset()
    _sync(wise_connection)
    (request,) = wise_sim.requests_to("GET", r"/balance-statements/70001/")
    start = datetime.fromisoformat(request.query["intervalStart"][0].replace("Z", "+00:00"))
    assert start == cursor.synced_until - timedelta(hours=48)


def test_faults_at_30_percent_still_end_with_exactly_the_simulators_lines(
    wise_sim, wise_connection
):
    wise_sim.set_faults(error_rate=0.3)
    wise_sim.throttle_rate, wise_sim.throttle_retry_after = 0.3, 0
    for _ in range(2):  # faults also hit the second, incremental sync
        run = _sync(wise_connection)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
    statuses = {r.status for r in wise_sim.requests if r.status is not None}
    assert {429, 500} <= statuses
    assert stored_keys() == simulator_keys(wise_sim)
    assert stored_balances() == _expected_balances(wise_sim)


def test_cut_connections_slow_replies_and_malformed_bodies_are_retried(wise_sim, wise_connection):
    wise_sim.set_faults(cut_rate=0.15, malformed_rate=0.15, slow_rate=0.1, slow_seconds=2.5)
    run = _sync(wise_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    faults = {r.fault for r in wise_sim.requests}
    assert {"cut", "malformed"} <= faults
    assert stored_keys() == simulator_keys(wise_sim)


def test_wise_down_fails_the_run_and_keeps_what_was_stored(wise_sim, wise_connection, settings):
    settings.WISE_HTTP_RETRIES = 1
    _sync(wise_connection)
    wise_sim.transaction_add(70001, Decimal("10.00"))
    wise_sim.set_faults(error_rate=1.0)
    run = _sync(wise_connection)
    assert run.status == SyncRun.Status.FAILED
    assert "500" in run.error
    assert stored_keys() != simulator_keys(wise_sim)
    wise_sim.set_faults()
    assert _sync(wise_connection).status == SyncRun.Status.SUCCEEDED
    assert stored_keys() == simulator_keys(wise_sim)


def test_a_line_booked_late_under_an_earlier_date_opens_a_gap_that_the_next_sync_closes(
    wise_sim, wise_connection
):
    usd = wise_sim.business.balance(70001)
    hidden = next(  # a client payment: its reference number is its own
        line for line in usd.lines[len(usd.lines) // 2 :] if line["details"]["type"] == "DEPOSIT"
    )
    wise_sim.hidden_refs.add(hidden["referenceNumber"])

    _sync(wise_connection)
    cursor = StatementCursor.objects.get(account__wise_balance_id=70001)
    assert cursor.proof_status == StatementCursor.Proof.MISMATCH
    gap = BalanceGap.objects.get(account__wise_balance_id=70001, resolved_at__isnull=True)
    booked = datetime.fromisoformat(hidden["date"].replace("Z", "+00:00"))
    assert gap.start <= booked <= gap.end
    assert gap.wise_minor - gap.stored_minor == to_minor(hidden["amount"]["value"], "USD")
    assert "fetched again on the next sync" in gap.reason

    wise_sim.hidden_refs.clear()  # Wise now lists it, far behind the cursor's overlap
    wise_sim.reset()
    _sync(wise_connection)
    gap.refresh_from_db()
    assert gap.resolved_at is not None
    (request,) = wise_sim.requests_to("GET", r"/balance-statements/70001/")
    assert request.query["intervalStart"][0] <= hidden["date"]
    assert stored_keys() == simulator_keys(wise_sim)
    assert StatementCursor.objects.get(pk=cursor.pk).proof_status == StatementCursor.Proof.OK


def test_each_sync_records_wises_balance(wise_sim, wise_connection):
    _sync(wise_connection)
    snapshot = BalanceSnapshot.objects.filter(account__wise_balance_id=70004).first()
    assert snapshot.balance_minor == to_minor(wise_sim.business.balance(70004).amount, "JPY")


def test_a_balance_closed_at_wise_is_marked_inactive(wise_sim, wise_connection):
    _sync(wise_connection)
    wise_sim.business.balances = [b for b in wise_sim.business.balances if b.id != 70003]
    _sync(wise_connection)
    gbp = CashAccount.objects.get(wise_balance_id=70003)
    assert not gbp.is_active
    assert gbp.closed_on is not None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_syncs_store_each_line_once(wise_sim, wise_connection):
    wise_sim.set_faults(slow_rate=1.0, slow_seconds=0.2)  # so the two overlap
    wise_balances_sync(connection=wise_connection)
    account = CashAccount.objects.get(wise_balance_id=70001)
    runs = run_concurrently(lambda: wise_account_sync(account=account))
    assert sorted(r.status for r in runs) == [SyncRun.Status.SKIPPED, SyncRun.Status.SUCCEEDED]
    skipped = next(r for r in runs if r.status == SyncRun.Status.SKIPPED)
    assert skipped.error == "Another sync of this account is running."
    expected = {k for k in simulator_keys(wise_sim) if k[0] == 70001}
    assert set(stored_keys()) == expected
    assert sum(stored_keys().values()) == len(expected)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_connection_syncs_store_each_line_once(wise_sim, wise_connection):
    wise_sim.set_faults(slow_rate=0.5, slow_seconds=0.1)
    runs = run_concurrently(lambda: _sync(wise_connection))
    assert {run.status for run in runs} <= {SyncRun.Status.SUCCEEDED}
    assert stored_keys() == simulator_keys(wise_sim)
    assert trail_verify() == dict.fromkeys(CashAccount.objects.values_list("pk", flat=True))


def test_a_live_lease_blocks_and_an_expired_one_is_taken_over(wise_sim, wise_connection):
    wise_balances_sync(connection=wise_connection)
    account = CashAccount.objects.get(wise_balance_id=70002)
    cursor = StatementCursor.objects.create(
        account=account,
        lock_owner="another-host:1:0:abc",
        locked_until=datetime.now(UTC) + timedelta(minutes=5),
    )
    assert wise_account_sync(account=account).status == SyncRun.Status.SKIPPED
    assert not Transaction.objects.exists()

    StatementCursor.objects.filter(pk=cursor.pk).update(
        locked_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert wise_account_sync(account=account).status == SyncRun.Status.SUCCEEDED
    cursor.refresh_from_db()
    assert cursor.lock_owner == ""
    assert cursor.locked_until is None


def test_a_lease_left_by_a_dead_process_on_this_host_is_taken_over_at_once(
    wise_sim, wise_connection
):
    wise_balances_sync(connection=wise_connection)
    account = CashAccount.objects.get(wise_balance_id=70002)
    interrupted = SyncRun.objects.create(
        kind=SyncRun.Kind.WISE_STATEMENTS, account=account, status=SyncRun.Status.RUNNING
    )
    StatementCursor.objects.create(
        account=account,
        lock_owner=f"{host_id()}:{pid_gone()}:0a1b2c3d:{interrupted.pk}:abc",
        locked_until=datetime.now(UTC) + timedelta(minutes=5),
    )
    assert wise_account_sync(account=account).status == SyncRun.Status.SUCCEEDED
    interrupted.refresh_from_db()
    assert interrupted.status == SyncRun.Status.FAILED
    assert "Interrupted" in interrupted.error


def test_a_missing_first_line_is_caught_because_the_balance_opened_at_zero(
    wise_sim, wise_connection
):
    first = wise_sim.business.balance(70002).lines[0]
    wise_sim.hidden_refs.add(first["referenceNumber"])
    _sync(wise_connection)
    cursor = StatementCursor.objects.get(account__wise_balance_id=70002)
    assert cursor.proof_status == StatementCursor.Proof.MISMATCH
    assert cursor.proof_wise_minor - cursor.proof_stored_minor == to_minor(
        first["amount"]["value"], "EUR"
    )
    wise_sim.hidden_refs.clear()
    _sync(wise_connection)
    cursor.refresh_from_db()
    assert cursor.proof_status == StatementCursor.Proof.OK
    assert CashAccount.objects.get(wise_balance_id=70002).opening_balance_minor == 0
    assert stored_keys() == simulator_keys(wise_sim)
