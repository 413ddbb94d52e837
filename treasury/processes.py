"""Who a process is, and whether a process of this host still runs: how leases, runs and
the embedded broker tell a killed process's work from a live one's.

A lease or run names its holder `host:pid:token` (`process_name`). `host` is the machine
or container (`BULWARK_HOST_NAME`, else the host name) together with its kernel boot and
pid namespace, so a pid is only ever compared where it means the same process: two
containers with one host name, or a machine rebooted, are different hosts. `token` is
drawn afresh by every process, so a pid used again later is not the holder either."""

import os
import secrets
import socket
from functools import cache
from pathlib import Path

_token: tuple[int, str] = (0, "")


@cache
def host_id() -> str:
    """This host in a holder's name: its name, kernel boot and pid namespace (no `:`)."""
    name = os.environ.get("BULWARK_HOST_NAME") or socket.gethostname()
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii")[:8]
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # no /proc: the name is all we know
        return name.replace(":", "_")
    return f"{name.replace(':', '_')}~{boot}.{namespace:x}"


def process_name() -> str:
    """`host:pid:token` of this process (a forked child draws its own token)."""
    global _token
    pid = os.getpid()
    if _token[0] != pid:
        _token = (pid, secrets.token_hex(4))
    return f"{host_id()}:{pid}:{_token[1]}"


def holder_is_dead(holder: str) -> bool:
    """Whether `holder` (`host:pid:token[:...]`) was a process of this host that no longer
    runs. A holder of another host is never known dead here: its lease expires instead."""
    host, pid_text, token, *_ = [*holder.split(":"), "", ""]
    if host != host_id() or not pid_text.isdigit() or not token:
        return False
    pid = int(pid_text)
    if pid == os.getpid():  # this process, or one that had its pid before it
        return f"{host}:{pid}:{token}" != process_name()
    return not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (or belongs to another user); False once it is gone or a
    zombie (killed, not yet reaped by its parent: it still answers `kill(pid, 0)`)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc: kill(pid, 0) is all we know
        return True
