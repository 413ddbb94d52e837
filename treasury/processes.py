"""Whether a process of this host still runs: how leases, runs and the embedded broker
tell a killed process's work from a live one's (a pid alone, so this host only)."""

import os


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
