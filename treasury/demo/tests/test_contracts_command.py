"""`manage.py contracts`: every operation the README names, exercised through the
clients against the strict simulators, with no violation."""

import io
import json

from django.core.management import call_command

from treasury.demo.contracts import CALLED


def test_the_contracts_command_exercises_every_operation_bulwark_calls():
    out = io.StringIO()
    call_command("contracts", stdout=out)
    lines = out.getvalue().splitlines()
    figures = json.loads(lines[-1])
    assert figures["violations"] == 0
    assert figures["operations"] >= sum(len(ops) for ops in CALLED.values())
    assert figures["allowlisted"] >= 1
    for operations in CALLED.values():
        for operation in operations:
            assert any(line.strip().startswith(operation + " ") for line in lines), operation
