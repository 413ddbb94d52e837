"""The matcher alone, on plain records: each phase, its scores, and what it leaves."""

from datetime import date

from ledger.reconciliation import matcher as m

DAY = date(2025, 5, 5).toordinal()


def _run(lines, entries, **kwargs):
    options = {"window": 2, "near_miss": 7, **kwargs}
    return m.Matcher(lines, entries, **options).run()


def _line(id_, amount, day=DAY, **kwargs):
    return m.Line(id=id_, book="B", account_id=1, day=day, amount=amount, currency="EUR", **kwargs)


def _entry(id_, amount, day=DAY, **kwargs):
    return m.Entry(id=id_, book="B", day=day, amount=amount, currency="EUR", **kwargs)


def test_the_posting_key_wins_and_a_second_entry_with_it_is_a_duplicate():
    out = _run(
        [_line(1, -500), _line(2, -500)],
        [_entry(10, -500, key_line=1), _entry(11, -500, key_line=1, canonical=True)],
    )
    assert [(p.method, p.lines, p.entries, p.score) for p in out.matches] == [
        ("KEY", (1,), (11,), 100)
    ]
    assert out.duplicates == {10: "t1|e11"}
    assert out.missing_in_xero == [2]


def test_reference_pairs_even_when_the_amount_differs():
    out = _run(
        [_line(1, -1000, reference="TRANSFER-77")], [_entry(9, -990, reference="wise:TRANSFER-77")]
    )
    (match,) = out.matches
    assert (match.method, match.factors["reference"]["value"]) == ("REFERENCE", "TRANSFER-77")
    assert match.factors["amount"] == {"delta_minor": 10, "points": 0}
    (difference,) = m.match_differences([_line(1, -1000)], [_entry(9, -990)], match.signature, 2)
    assert (difference.type, difference.amount) == ("AMOUNT_DIFFERS", 10)


def test_amount_and_date_sweep_takes_the_earliest_within_the_window_only():
    lines = [_line(1, -300, DAY), _line(2, -300, DAY + 1), _line(3, -300, DAY + 20)]
    entries = [_entry(7, -300, DAY), _entry(8, -300, DAY + 3), _entry(9, -300, DAY + 40)]
    out = _run(lines, entries, near_miss=0)
    assert sorted((p.lines, p.entries) for p in out.matches) == [((1,), (7,)), ((2,), (8,))]
    assert out.missing_in_xero == [3]
    assert out.missing_in_wise == [9]


def test_a_near_miss_pairs_beyond_the_window_to_report_the_date():
    out = _run([_line(1, -300, DAY)], [_entry(7, -300, DAY + 3)])
    (match,) = out.matches
    (difference,) = m.match_differences(
        [_line(1, -300, DAY)], [_entry(7, -300, DAY + 3)], match.signature, 2
    )
    assert (difference.type, difference.fingerprint) == ("DATE_BEYOND_WINDOW", "3")


def test_fee_held_apart_split_payment_and_batch():
    lines = [
        _line(1, -100437, fee=437),  # Xero: 1,000.00 + the 4.37 fee on its own
        _line(2, 500000, DAY + 30),  # one payment in, two payments in Xero
        _line(3, -1500, DAY + 60), _line(4, -2500, DAY + 60),  # two lines, one entry
    ]  # fmt: skip
    entries = [
        _entry(10, -100000), _entry(11, -437),
        _entry(12, 300000, DAY + 30), _entry(13, 200000, DAY + 31),
        _entry(14, -4000, DAY + 61),
    ]  # fmt: skip
    out = _run(lines, entries)
    found = {(p.method, p.lines, tuple(sorted(p.entries))) for p in out.matches}
    assert found == {
        ("ONE_TO_MANY", (1,), (10, 11)),
        ("ONE_TO_MANY", (2,), (12, 13)),
        ("MANY_TO_ONE", (3, 4), (14,)),
    }
    assert not out.missing_in_xero
    assert not out.missing_in_wise


def test_a_native_feed_copy_of_a_matched_line_is_a_duplicate_even_split_with_its_fee():
    lines = [_line(1, -100437, fee=437), _line(2, -5000)]
    entries = [
        _entry(10, -100437, key_line=1), _entry(11, -100000), _entry(12, -437),
        _entry(20, -5000, key_line=2), _entry(21, -5000, DAY + 1),
    ]  # fmt: skip
    out = _run(lines, entries)
    assert out.duplicates == {11: "t1|e10", 12: "t1|e10", 21: "t2|e20"}
    assert out.missing_in_wise == []


def test_currency_differs_and_forbidden_pairs():
    (difference,) = m.match_differences(
        [_line(1, -500)],
        [m.Entry(id=9, book="B", day=DAY, amount=-500, currency="USD")],
        "t1|e9",
        2,
    )
    assert (difference.type, difference.fingerprint) == ("CURRENCY_DIFFERS", "EUR>USD")
    out = _run([_line(1, -500)], [_entry(9, -500, key_line=1)], forbidden={"t1|e9"})
    assert out.matches == []
    assert (out.missing_in_xero, out.missing_in_wise) == ([1], [9])


def test_tolerance_pairs_close_amounts_and_not_required_lines_are_not_missing():
    out = _run([_line(1, -1000)], [_entry(9, -1001)], amount_tolerance=2)
    assert [p.method for p in out.matches] == ["AMOUNT_DATE"]
    out = _run([_line(1, -1000, required=False)], [_entry(9, 55, required=False)])
    assert (out.missing_in_xero, out.missing_in_wise) == ([], [])


def test_counterparty_and_reference_tokens():
    assert m.counterparty_points("Acme Inc", "ACME inc") == 15
    assert m.counterparty_points("Acme Inc", "Acme Holdings") == 5
    assert m.counterparty_points("", "Acme") == 0
    assert m.reference_tokens("wise:TRANSFER-123456") == ["WISE:TRANSFER-123456", "TRANSFER-123456"]
    assert m.reference_tokens("bulwark:t12") == []


def test_balance_runs_one_mismatch_per_unchanged_difference_after_the_last_agreement():
    days = [
        m.DayBalance(date(2025, 1, d), xero, wise)
        for d, xero, wise in ((1, 10, 0), (2, 5, 5), (3, 9, 5), (4, 9, 5), (5, 20, 5))
    ]
    found = m.balance_differences(subject="x1", account_id=1, currency="EUR", days=days)
    assert [(d.key, d.fingerprint, covered) for d, covered in found] == [
        ("BALANCE_DIFFERS:x1:2025-01-03", "4", [date(2025, 1, 3), date(2025, 1, 4)]),
        ("BALANCE_DIFFERS:x1:2025-01-05", "15", [date(2025, 1, 5)]),
    ]
