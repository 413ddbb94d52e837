"""Xero's per-organisation cap of 5 calls in flight holds across hosts: two worker
processes that share nothing but PostgreSQL and Redis (each its own `BULWARK_VAR_DIR`
and host name, as two containers or machines) call one organisation in the simulator,
with its limits on, from six threads each. Before, the slots were lock files under
`var/`: each container had its own five, and Xero answered the sixth call with a 429.

The control case runs the same two processes without Redis (the embedded mode, which is
for one machine): the simulator then does see more than five at once, so the shared
case's assertion is one that can fail."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from ledger.tests.helpers import connected
from ledger.xero.tests.test_push_kill import _xero_env
from treasury.tests.workers import database_url, two_hosts

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    two_hosts,
]
THREADS, CALLS = 6, 4

CALLER = """
import pathlib, threading, time
from django.db import connection
from ledger.models import Organisation
from ledger.xero.session import client_open

organisation = Organisation.objects.get(pk={organisation})
here = pathlib.Path({here!r})
(here / "ready").touch()
while not (here.parent / "go").exists():
    time.sleep(0.01)

def calls():
    try:
        with client_open(organisation) as client:
            for _ in range({calls}):
                client.request("GET", "/api.xro/2.0/Accounts")
    finally:
        connection.close()

threads = [threading.Thread(target=calls) for _ in range({threads})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
(here / "done").touch()
"""


def _host(tmp: Path, name: str, organisation_id: int, env: dict[str, str]) -> subprocess.Popen:
    """A process of host `name`: its own var/ directory and host name."""
    var = tmp / name
    var.mkdir()
    code = CALLER.format(organisation=organisation_id, here=str(var), calls=CALLS, threads=THREADS)
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            **env,
            "DATABASE_URL": database_url(),
            "BULWARK_VAR_DIR": str(var),
            "BULWARK_HOST_NAME": name,
            "XERO_MINUTE_LIMIT": "1000",  # only the concurrency cap is under test
        },
    )


def _two_hosts_call(tmp: Path, organisation_id: int, env: dict[str, str]) -> None:
    hosts = [_host(tmp, name, organisation_id, env) for name in ("host-a", "host-b")]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp / name / "ready").exists() for name in ("host-a", "host-b")):
            assert time.monotonic() < deadline, "the two hosts did not start"
            time.sleep(0.05)
        (tmp / "go").touch()
        for host in hosts:
            assert host.wait(timeout=120) == 0
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
    assert all((tmp / name / "done").exists() for name in ("host-a", "host-b"))


def test_two_hosts_never_have_more_than_five_calls_in_flight(owner_client, xero_sim, tmp_path):
    organisation = connected(owner_client, xero_sim)
    xero_sim.limits_set(minute=100_000)
    xero_sim.latency = 0.15  # every call takes a while, so the hosts' calls overlap
    before = len(xero_sim.requests_to("GET", r"/Accounts$"))
    _two_hosts_call(tmp_path, organisation.pk, _xero_env(xero_sim))
    state = xero_sim.state()
    assert len(xero_sim.requests_to("GET", r"/Accounts$")) - before == 2 * THREADS * CALLS
    assert state["max_in_flight_asked"] == 5  # the cap was reached, never passed
    assert state["rate_limited_by"].get("concurrent", 0) == 0


def test_without_redis_each_host_keeps_its_own_five(owner_client, xero_sim, tmp_path):
    """The control: what the embedded mode does if it is run on two hosts."""
    organisation = connected(owner_client, xero_sim)
    xero_sim.limits_set(minute=100_000)
    xero_sim.latency = 0.15
    _two_hosts_call(tmp_path, organisation.pk, {**_xero_env(xero_sim), "REDIS_URL": ""})
    state = xero_sim.state()
    assert state["max_in_flight_asked"] > 5
    assert state["rate_limited_by"]["concurrent"] > 0
