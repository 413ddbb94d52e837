"""`seed_demo` end to end: the real command against the real simulators (free ports, a
temporary state directory) and the test database."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import CashAccount, Transaction
from ledger.models import Posting
from ledger.reconciliation.models import Mismatch
from simulators.demo import snapshot_path
from simulators.persist import snapshot_load
from treasury.fbar import thresholds
from treasury.fbar.models import MonitorState
from treasury.fbar.selectors import fbar_year

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def seed(state_dir: Path, *args: str) -> tuple[dict[str, Any], str]:
    out = StringIO()
    call_command(
        "seed_demo", "--sim-port-base", "0", "--state-dir", str(state_dir), *args, stdout=out
    )
    text = out.getvalue()
    return json.loads(text.strip().splitlines()[-1]), text


def row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def xero_bank_transactions(state_dir: Path) -> int:
    sim = snapshot_load(snapshot_path(state_dir, "xero"))
    assert sim is not None
    return sum(len(org.bank_transactions) for org in sim.orgs.values())


def test_the_default_demo_tells_its_story_and_a_second_run_changes_nothing(tmp_path):
    figures, text = seed(tmp_path)

    assert figures["transactions"] == Transaction.objects.count() > 1000
    assert figures["cash_accounts"] == CashAccount.objects.count() == 6  # 5 Wise + 1 bank
    assert figures["postings"] == Posting.objects.filter(state="POSTED").count()
    assert (
        figures["postings"]
        == Transaction.objects.filter(account__wise_balance_id__isnull=False).count()
    )
    open_ = Mismatch.objects.filter(status=Mismatch.Status.OPEN)
    assert figures["mismatches"] == open_.count()
    kinds = set(open_.values_list("type", flat=True))
    assert {"DUPLICATE_IN_XERO", "AMOUNT_DIFFERS", "DATE_BEYOND_WINDOW"} <= kinds

    today = timezone.localdate()
    last, this = (
        fbar_year(year=today.year - 1, today=today),
        fbar_year(year=today.year, today=today),
    )
    assert last.filing_required
    assert last.aggregate_usd > thresholds.FBAR_THRESHOLD_USD
    assert thresholds.warn_level_usd() <= this.aggregate_usd <= thresholds.FBAR_THRESHOLD_USD
    assert this.percent_reached == thresholds.WARN_PERCENT  # the monitor's "approaching"
    assert MonitorState.objects.get(year=today.year).percent_reached == thresholds.WARN_PERCENT
    assert figures["fbar_filing_required"] is True
    assert any(a.added_here for a in this.foreign)  # the bank account entered by hand
    assert "owner / bulwark-owner-demo" in text

    # The archive: two years of filed statements, one month missing, one that differs.
    from archive.months import month_previous
    from archive.selectors import HOLE, completeness_matrix

    matrix = completeness_matrix(first_month=today.replace(year=today.year - 2, month=1, day=1),
                                 last_month=month_previous(today))  # fmt: skip
    holes = [(str(r.account), c.month) for r in matrix.rows for c in r.cells if c.state == HOLE]
    assert [account for account, _ in holes] == ["Wise GBP (GBP)"]
    assert len(matrix.rows) == 5  # the Wise balances; the bank account files no statements yet
    assert matrix.differences == 1
    assert "STATEMENT_DIFFERS" in kinds
    from archive.models import Document

    worksheets = Document.objects.filter(kind="fbar-worksheet", period=str(today.year - 1))
    assert worksheets.count() == 2  # last year's, PDF and CSV: its Treasury rates are out

    counts, in_xero = row_counts(), xero_bank_transactions(tmp_path)
    assert in_xero == figures["postings"] + 1  # every line once, plus the native feed's

    again, text = seed(tmp_path)

    assert row_counts() == counts
    assert xero_bank_transactions(tmp_path) == in_xero
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in figures.items() if k != "seconds"
    }
    assert text.count("already done") == 17

    # The Wise simulator's signed webhooks are accepted: the seed stored its key.
    wise = snapshot_load(snapshot_path(tmp_path, "wise"))
    balance = wise.balances_of()[0]
    line = wise.transaction_add(balance.id, Decimal(25), send_webhook=False)
    body, headers = wise.webhook_request(wise.balance_update_event(balance, line, 1))
    reply = Client().post(
        "/webhooks/wise/", body, content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )  # fmt: skip
    assert reply.status_code in (200, 202), reply.content


def dataset() -> set[tuple[str, Any, int, str]]:
    return set(
        Transaction.objects.values_list("currency", "booked_on", "amount_minor", "reference_number")
    )


def test_the_same_seed_gives_the_same_dataset_and_reset_starts_afresh(tmp_path):
    first, _ = seed(tmp_path, "--seed", "5", "--size", "300")
    lines = dataset()

    again, text = seed(tmp_path, "--reset", "--seed", "5", "--size", "300")

    assert "database flushed, 4 simulator snapshots removed" in text
    assert dataset() == lines
    assert again["transactions"] == first["transactions"] == len(lines)
    assert xero_bank_transactions(tmp_path) == again["postings"] + 1

    seed(tmp_path, "--reset", "--seed", "6", "--size", "300")
    assert dataset() != lines


def test_a_database_with_someone_elses_data_is_refused_and_left_alone(tmp_path):
    User.objects.create_user("maria", password="x" * 20)

    for args in ((), ("--reset",)):
        with pytest.raises(CommandError, match="the user 'maria', which is not the demo's"):
            seed(tmp_path, *args)

    assert list(User.objects.values_list("username", flat=True)) == ["maria"]
    assert not Transaction.objects.exists()
    assert not list(tmp_path.iterdir())  # no simulator was started or saved
