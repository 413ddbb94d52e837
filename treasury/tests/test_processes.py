"""Who holds a lease or a run: `host:pid:token`, and when a holder is known to be dead."""

import os
import socket

from treasury.processes import holder_is_dead, host_id, process_name
from treasury.tests.workers import pid_gone


def test_a_process_is_named_by_its_host_pid_and_a_token_of_its_own():
    host, pid, token = process_name().split(":")
    assert host == host_id()
    assert host.startswith(socket.gethostname() + "~")  # with its boot and pid namespace
    assert int(pid) == os.getpid()
    assert len(token) == 8
    assert process_name() == process_name()


def test_a_dead_process_of_this_host_is_known_dead():
    assert holder_is_dead(f"{host_id()}:{pid_gone()}:0a1b2c3d:17:nonce")


def test_this_process_is_alive_but_an_earlier_holder_of_its_pid_is_not():
    assert not holder_is_dead(process_name())
    assert holder_is_dead(f"{host_id()}:{os.getpid()}:ffffffff")  # the pid was used again


def test_a_holder_of_another_host_or_pid_namespace_is_never_judged_by_its_pid():
    dead = pid_gone()
    assert not holder_is_dead(f"host-b:{dead}:0a1b2c3d")
    same_name_other_namespace = f"{socket.gethostname()}~00000000.1:{dead}:0a1b2c3d"
    assert not holder_is_dead(same_name_other_namespace)
    assert not holder_is_dead(f"{socket.gethostname()}:{dead}")  # the old `host:pid` form
