"""A throwaway database for a benchmark, so a bench never writes into yours.

`manage.py bench` runs every benchmark inside `scratch_database()` (a module that needs
several databases, like the dashboard's, sets `SCRATCH = False` and uses it itself). The
receivers of `accounts.signals.lines_stored` are set aside meanwhile: they queue worker
tasks, and a live worker must never see a benchmark's lines.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from accounts.signals import lines_stored


@contextmanager
def scratch_database(label: str) -> Iterator[None]:
    settings_dict = connection.settings_dict
    test_settings = settings_dict.setdefault("TEST", {})
    saved_test_name = test_settings.get("NAME")
    if connection.vendor == "sqlite":
        test_settings["NAME"] = str(Path(tempfile.mkdtemp(prefix=f"bench-{label}-")) / "db.sqlite3")
    else:
        test_settings["NAME"] = f"bench_{label}_{settings_dict['NAME']}"
    saved_receivers = lines_stored.receivers[:]
    lines_stored.receivers.clear()
    lines_stored.sender_receivers_cache.clear()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        lines_stored.receivers[:] = saved_receivers
        lines_stored.sender_receivers_cache.clear()
        test_settings["NAME"] = saved_test_name
