"""The QuickBooks Online client against the QuickBooks simulator, over real HTTP: each
operation, the rolling refresh, the service's refusals as typed errors, and idempotent
writes under faults."""

from __future__ import annotations

import os
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ledger.quickbooks import oauth
from ledger.quickbooks.client import (
    BatchItem,
    MulticurrencyRequired,
    QueryRefused,
    QuickBooksClient,
    StaleObject,
    ValidationFailed,
)
from ledger.quickbooks.limits import InProcessLimiter, SharedLimiter
from simulators.quickbooks import seed
from simulators.quickbooks.fixtures import REDIRECT_URI
from simulators.quickbooks.server import REFRESH_GRACE_SECONDS, QuickBooksSimulator

CHECKING, SAVINGS, BANK_CHARGES, SERVICES, OFFICE = "1", "2", "11", "8", "13"


class StoredTokens:
    """What Bulwark's token store does: hand out the access token, refresh with the newest
    refresh token and keep the new pair."""

    def __init__(self, app: oauth.OAuthApp, tokens: oauth.TokenSet) -> None:
        self.app, self.tokens, self.refreshes = app, tokens, 0
        self.lock = threading.Lock()

    def access_token(self) -> str:
        return self.tokens.access_token

    def refreshed(self, failed_token: str) -> str:
        with self.lock:
            if self.tokens.access_token == failed_token:
                self.tokens = oauth.token_refresh(self.app, refresh_token=self.tokens.refresh_token)
                self.refreshes += 1
            return self.tokens.access_token


def connect(sim: QuickBooksSimulator, realm_index: int = 0) -> tuple[StoredTokens, str]:
    app = oauth.OAuthApp.at(
        sim.url,
        client_id=seed.DEMO_CLIENT_ID,
        client_secret=seed.DEMO_CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        timeout=5,
    )
    sim.consent_realm = sim.realm_ids[realm_index]
    start = oauth.authorization_start(app)
    back = httpx.get(start.url, timeout=5).headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    callback = oauth.callback_read(params, expected_state=start.state)
    return StoredTokens(app, oauth.code_exchange(app, code=callback.code)), callback.realm_id


def client_for(sim: QuickBooksSimulator, realm_index: int = 0, **options) -> QuickBooksClient:
    tokens, realm_id = connect(sim, realm_index)
    options.setdefault("sleep", lambda seconds: None)
    return QuickBooksClient(tokens=tokens, realm_id=realm_id, base_url=sim.url, timeout=5,
                            **options)  # fmt: skip


@pytest.fixture
def qbo(qbo_sim):
    with client_for(qbo_sim) as client:
        yield client


def expense(doc: str, amount: str, *, account: str = CHECKING, note: str = "") -> dict:
    body = {
        "PaymentType": "Cash",
        "AccountRef": {"value": account},
        "TxnDate": "2026-03-02",
        "DocNumber": doc,
        "Line": [
            {
                "DetailType": "AccountBasedExpenseLineDetail",
                "Amount": Decimal(amount),
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": OFFICE}},
            }
        ],
    }
    if note:
        body["PrivateNote"] = note
    return body


def deposit(doc: str, lines: list[tuple[str, str]], *, account: str = CHECKING, **extra) -> dict:
    return {
        "DepositToAccountRef": {"value": account},
        "TxnDate": "2026-03-03",
        "DocNumber": doc,
        "Line": [
            {"DetailType": "DepositLineDetail", "Amount": Decimal(amount),
             "DepositLineDetail": {"AccountRef": {"value": target}}}
            for target, amount in lines
        ],
        **extra,
    }  # fmt: skip


def test_company_info_preferences_and_currencies(qbo):
    info = qbo.company_info()
    assert (info.name, info.country, info.realm_id) == ("Bulwark Demo Co", "USA", qbo.realm_id)
    settings = qbo.preferences()
    assert (settings.home_currency, settings.multicurrency) == ("USD", True)
    assert qbo.currencies() == ["USD", "EUR", "GBP"]


def test_the_chart_of_accounts_is_read_page_by_page(qbo, qbo_sim):
    accounts = qbo.accounts(page_size=5)
    assert len(accounts) == qbo.count("Account") == 19
    assert len(qbo_sim.requests_to("GET", r"/query$")) == 5  # 4 pages of 5 + the count
    checking = accounts[0]
    assert (checking.name, checking.type, checking.currency) == ("Checking", "Bank", "USD")
    assert checking.current_balance == Decimal("0.00")


def test_a_bank_account_is_made_once_and_found_after(qbo, qbo_sim):
    made = qbo.bank_account_ensure(name="Wise EUR", currency="EUR")
    assert (made.type, made.currency) == ("Bank", "EUR")
    again = qbo.bank_account_ensure(name="Wise EUR", currency="EUR")
    assert again.id == made.id
    assert len(qbo_sim.requests_to("POST", r"/account$")) == 1


def test_a_company_without_multicurrency_holds_no_foreign_bank_account(qbo_sim):
    with client_for(qbo_sim, realm_index=1) as uk:
        with pytest.raises(MulticurrencyRequired, match="in GBP only"):
            uk.bank_account_ensure(name="Wise USD", currency="USD")
        assert qbo_sim.requests_to("POST", r"/account$") == []  # Bulwark said so first
        with pytest.raises(ValidationFailed) as refused:  # and the service would refuse it
            uk.account_create(name="Wise USD", account_type="Bank", currency="USD")
        assert refused.value.codes == {"6000"}
        assert "Multicurrency is not enabled" in str(refused.value)
        home = uk.bank_account_ensure(name="Wise GBP", currency="GBP")
        assert home.currency == "GBP"


def test_each_bank_transaction_kind_posts_and_moves_the_balances(qbo):
    euro = qbo.bank_account_ensure(name="Wise EUR", currency="EUR")
    spent = qbo.purchase_create(expense("bw:t1", "1004.37"))
    assert (spent.total, spent.account_id, spent.currency) == (Decimal("1004.37"), CHECKING, "USD")
    received = qbo.deposit_create(
        deposit("bw:t2", [(SERVICES, "1000.00"), (BANK_CHARGES, "-4.37")], account=euro.id,
                ExchangeRate=Decimal("1.0850"))
    )  # fmt: skip
    assert (received.total, received.currency) == (Decimal("995.63"), "EUR")
    assert (received.exchange_rate, received.home_total) == (Decimal("1.0850"), Decimal("1080.26"))
    moved = qbo.transfer_create(
        {
            "FromAccountRef": {"value": CHECKING},
            "ToAccountRef": {"value": SAVINGS},
            "Amount": Decimal("250"),
        }
    )
    assert (moved.account_id, moved.to_account_id, moved.total) == (CHECKING, SAVINGS, 250)
    journal = qbo.journal_entry_create({
        "TxnDate": "2026-03-04", "DocNumber": "bw:j1",
        "Line": [
            {"DetailType": "JournalEntryLineDetail", "Amount": Decimal("12.00"),
             "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": OFFICE}}},
            {"DetailType": "JournalEntryLineDetail", "Amount": Decimal("12.00"),
             "JournalEntryLineDetail": {"PostingType": "Credit",
                                        "AccountRef": {"value": CHECKING}}},
        ],
    })  # fmt: skip
    assert [line.posting_type for line in journal.lines] == ["Debit", "Credit"]
    balances = {b.name: (b.balance, b.currency) for b in qbo.bank_balances()}
    assert balances == {
        "Checking": (Decimal("-1266.37"), "USD"),
        "Savings": (Decimal("250.00"), "USD"),
        "Wise EUR": (Decimal("995.63"), "EUR"),
    }
    read = qbo.read("Deposit", received.id)
    assert read.lines[1].amount == Decimal("-4.37")
    assert read.updated_at is not None
    assert read.updated_at.tzinfo is UTC


def test_an_unbalanced_journal_entry_is_refused(qbo):
    with pytest.raises(ValidationFailed, match="not in balance"):
        qbo.journal_entry_create({"Line": [
            {"DetailType": "JournalEntryLineDetail", "Amount": Decimal("12.00"),
             "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": OFFICE}}},
        ]})  # fmt: skip


def test_batches_of_30_and_lookups_by_posting_key(qbo, qbo_sim):
    bodies = [expense(f"bw:t{n}", f"{n}.00", note=f"bulwark t{n}") for n in range(1, 46)]
    results = qbo.create_all("Purchase", bodies, request_ids=lambda n: f"push-batch-{n}")
    assert [r.ok for r in results] == [True] * 45
    assert len(qbo_sim.requests_to("POST", r"/batch$")) == 2
    found = qbo.find_by_doc_number("Purchase", [f"bw:t{n}" for n in range(1, 46)] + ["bw:none"])
    assert sorted(found) == sorted(f"bw:t{n}" for n in range(1, 46))
    assert {len(v) for v in found.values()} == {1}
    by_note = qbo.find_by_private_note("Purchase", ["bulwark t7"])
    assert by_note["bulwark t7"][0].total == Decimal("7.00")
    mixed = qbo.batch([
        BatchItem("a", "Purchase", "create", expense("bw:ok", "1.00")),
        BatchItem("b", "Purchase", "create", expense("bw:bad", "1.00", account="404")),
        BatchItem("c", query="SELECT count(*) FROM Purchase"),
    ])  # fmt: skip
    assert [r.ok for r in mixed] == [True, False, True]
    assert mixed[1].errors[0].code == "2500"


def test_a_batch_over_30_is_refused(qbo):
    items = [BatchItem(str(n), "Purchase", "create", expense(f"bw:{n}", "1.00")) for n in range(31)]
    with pytest.raises(ValueError, match="1 to 30"):
        qbo.batch(items)
    body = {"BatchItemRequest": [{"bId": i.bid, "operation": "create", "Purchase": i.body}
                                 for i in items]}  # fmt: skip
    with pytest.raises(ValidationFailed, match="30") as refused:  # and the service says so
        qbo.request("POST", "batch", body=body, write=True, batch=True)
    assert refused.value.codes == {"6000"}


def test_updates_carry_the_sync_token_and_a_stale_one_is_refused(qbo):
    spent = qbo.purchase_create(expense("bw:t1", "10.00"))
    changed = qbo.update("Purchase", {**spent.raw, "PrivateNote": "re-posted"}, sparse=True)
    assert (changed.sync_token, changed.private_note) == ("1", "re-posted")
    with pytest.raises(StaleObject) as stale:
        qbo.update("Purchase", {**spent.raw, "PrivateNote": "from an old read"})
    assert stale.value.codes == {"5010"}
    gone = qbo.delete("Purchase", changed.id, changed.sync_token)
    assert gone.status == "Deleted"


def test_read_back_since_a_cursor_sees_changes_and_deletions(qbo, qbo_sim):
    start = datetime.now(tz=UTC) - timedelta(minutes=1)
    kept = qbo.purchase_create(expense("bw:t1", "10.00"))
    dropped = qbo.purchase_create(expense("bw:t2", "20.00"))
    qbo.delete("Purchase", dropped.id, dropped.sync_token)
    first = qbo.read_back_since(["Purchase", "Deposit"], start)
    assert first.complete
    assert {(c.id, c.status) for c in first.changes} == {(kept.id, ""), (dropped.id, "Deleted")}
    qbo_sim.advance(5)
    later = qbo.deposit_create(deposit("bw:t3", [(SERVICES, "5.00")]))
    second = qbo.read_back_since(["Purchase", "Deposit"], first.cursor)
    seen = {(c.entity, c.id, c.sync_token, c.status) for c in first.changes}
    new = {(c.entity, c.id) for c in second.changes if (c.entity, c.id, c.sync_token, c.status)
           not in seen}  # fmt: skip
    assert new == {("Deposit", later.id)}  # the cursor's second may be read again, no more
    assert second.cursor > first.cursor


def test_exchange_rates_are_home_units_per_foreign_unit(qbo):
    day = date(2026, 3, 2)
    feed = qbo.exchange_rate("EUR", day)
    assert (feed.source, feed.target, feed.as_of) == ("EUR", "USD", day)
    assert Decimal("1.07") < feed.rate < Decimal("1.10")  # about 1.08 dollars a euro
    set_rate = qbo.exchange_rate_set("EUR", Decimal("1.0912"), day, sync_token=feed.sync_token)
    assert (set_rate.rate, set_rate.sync_token) == (Decimal("1.0912"), "1")
    assert [r.rate for r in qbo.exchange_rates(["EUR"], day)] == [Decimal("1.0912")]
    euro = qbo.bank_account_ensure(name="Wise EUR", currency="EUR")
    spent = qbo.purchase_create({**expense("bw:t1", "100.00", account=euro.id)})
    assert spent.exchange_rate == Decimal("1.0912")  # the company's rate of the day
    with pytest.raises(StaleObject):
        qbo.exchange_rate_set("EUR", Decimal("1.2"), day, sync_token="0")


def test_an_attachment_is_uploaded_to_a_transaction_and_read_back(qbo):
    spent = qbo.purchase_create(expense("bw:t1", "10.00"))
    attached = qbo.attachment_upload(
        file_name="wise-statement-2026-03.pdf",
        content_type="application/pdf",
        content=b"%PDF-1.7 statement",
        refs=[("Purchase", spent.id)],
    )
    assert (attached.size, attached.refs) == (18, (("Purchase", spent.id),))
    assert qbo.attachment_download(attached.id) == b"%PDF-1.7 statement"


def test_invoices_and_payments_are_created_read_and_queried(qbo):
    customer = qbo.query_all("Customer", "DisplayName = 'Kestrel Labs'")[0]
    invoice = qbo.create("Invoice", {
        "CustomerRef": {"value": customer["Id"]}, "TxnDate": "2026-03-01", "DocNumber": "CW-1001",
        "Line": [{"DetailType": "SalesItemLineDetail", "Amount": Decimal("1500.00"),
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}],
    })  # fmt: skip
    assert (invoice.total, invoice.raw["Balance"]) == (Decimal("1500.00"), Decimal("1500.00"))
    payment = qbo.create("Payment", {
        "CustomerRef": {"value": customer["Id"]}, "TotalAmt": Decimal("1000.00"),
        "DepositToAccountRef": {"value": CHECKING},
        "Line": [{"Amount": Decimal("1000.00"),
                  "LinkedTxn": [{"TxnId": invoice.id, "TxnType": "Invoice"}]}],
    })  # fmt: skip
    assert payment.account_id == CHECKING
    assert qbo.read("Invoice", invoice.id).raw["Balance"] == Decimal("500.00")
    assert [r["DocNumber"] for r in qbo.query_all("Invoice", "DocNumber = 'CW-1001'")] == [
        "CW-1001"
    ]


def test_a_query_with_or_is_refused(qbo):
    with pytest.raises(QueryRefused) as refused:
        qbo.query("SELECT * FROM Purchase WHERE DocNumber = 'a' OR DocNumber = 'b'")
    assert refused.value.codes == {"4000"}


def test_the_simulators_schema_check_refuses_a_malformed_body(qbo, qbo_sim):
    body = expense("bw:t1", "10.00")
    body["Line"][0]["Amount"] = "ten dollars"
    with pytest.raises(ValidationFailed) as refused:
        qbo.purchase_create(body)
    assert refused.value.codes == {"2010"}
    assert [v.path for v in qbo_sim.violations] == ["Purchase.Line.Amount"]
    assert qbo_sim.company().table("Purchase") == {}
    qbo_sim.violations.clear()


def test_every_call_asks_for_minor_version_75_and_every_write_has_a_requestid(qbo, qbo_sim):
    qbo.preferences()
    qbo.accounts()
    qbo.purchase_create(expense("bw:t1", "10.00"))
    qbo.create_all("Purchase", [expense("bw:t2", "1.00")])
    api = [r for r in qbo_sim.requests if r.path.startswith("/v3/")]
    assert api
    assert {r.query["minorversion"][0] for r in api} == {"75"}
    writes = [r for r in api if r.method == "POST"]
    assert len(writes) == 2
    assert all(len(r.query["requestid"][0]) == 32 for r in writes)


def test_an_expired_access_token_is_refreshed_and_the_newest_refresh_token_kept(qbo, qbo_sim):
    tokens = qbo.tokens
    assert isinstance(tokens, StoredTokens)
    before = tokens.tokens.refresh_token
    qbo_sim.expire_access_tokens()
    assert qbo.company_info().name == "Bulwark Demo Co"
    assert tokens.refreshes == 1
    assert tokens.tokens.refresh_token != before
    qbo_sim.advance(REFRESH_GRACE_SECONDS + 1)
    with pytest.raises(oauth.InvalidGrant):
        oauth.token_refresh(tokens.app, refresh_token=before)
    qbo_sim.expire_access_tokens()
    assert qbo.preferences().home_currency == "USD"  # the newest still refreshes
    assert tokens.refreshes == 2


def test_a_push_under_faults_lands_each_purchase_exactly_once(qbo_sim):
    # 30% of batch calls fail before any work (500s, cut connections), and some more lose
    # their reply after the work is done.
    qbo_sim.set_faults(error_rate=0.15, cut_rate=0.15, paths=r"/batch$")
    qbo_sim.set_commit_faults(lost_rate=0.15, paths=r"/batch$")
    bodies = [expense(f"bw:t{n}", "1.00") for n in range(300)]
    with client_for(qbo_sim, attempts=12) as qbo:
        results = qbo.create_all("Purchase", bodies)
    assert all(r.ok for r in results)
    docs = Counter(p["DocNumber"] for p in qbo_sim.company().table("Purchase").values())
    assert docs == Counter({f"bw:t{n}": 1 for n in range(300)})
    batches = qbo_sim.requests_to("POST", r"/batch$")
    assert {r.fault for r in batches} >= {"error", "cut", None}
    assert qbo_sim.lost_replies > 0
    assert qbo_sim.replayed > 0


def test_a_429_is_waited_out_for_as_long_as_retry_after_says(qbo_sim):
    moment, sleeps = [0.0], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        moment[0] += seconds
        qbo_sim.advance(seconds)

    limiter = InProcessLimiter(clock=lambda: moment[0], sleep=sleep)
    with client_for(qbo_sim, limiter=limiter, sleep=sleep) as qbo:
        qbo_sim.limits_set(minute=3, minute_seconds=60, retry_after=30)
        for _ in range(5):
            assert qbo.preferences().home_currency == "USD"
    assert qbo_sim.rate_limited >= 1
    assert 30 in sleeps
    assert qbo.throttled == qbo_sim.rate_limited


def test_the_limiter_keeps_within_the_minute_and_the_concurrency_caps(qbo_sim):
    qbo_sim.latency = 0.05
    qbo_sim.limits_set(concurrent=3)
    limiter = InProcessLimiter(concurrent=3)
    with client_for(qbo_sim, limiter=limiter) as qbo:
        threads = [threading.Thread(target=qbo.preferences) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert qbo_sim.rate_limited == 0
    assert qbo_sim.max_in_flight == 3
    moment, sleeps = [0.0], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        moment[0] += seconds
        qbo_sim.advance(seconds)

    qbo_sim.latency = 0
    qbo_sim.limits_set(minute=4)
    paced = InProcessLimiter(per_minute=4, clock=lambda: moment[0], sleep=sleep)
    with client_for(qbo_sim, limiter=paced, sleep=sleep) as qbo:
        for _ in range(6):
            qbo.preferences()
    assert qbo_sim.rate_limited == 0  # the limiter waited instead
    assert sleeps
    assert paced.waited_seconds >= 60


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the shared limiter lives in Redis: set REDIS_URL"
)
def test_clients_of_two_hosts_share_the_companys_ten_slots(qbo_sim):
    """Each client makes its own default limiter, as a process on another host would: with
    Redis configured they count together, and the company never sees an eleventh call."""
    qbo_sim.latency = 0.1
    first, second = client_for(qbo_sim), client_for(qbo_sim)
    assert isinstance(first.limiter, SharedLimiter)
    with first, second:
        threads = [
            threading.Thread(target=client.preferences)
            for client in (first, second)
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert qbo_sim.rate_limited == 0
    assert qbo_sim.max_in_flight == 10
