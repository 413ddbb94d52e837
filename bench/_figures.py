"""What every benchmark's final JSON line carries besides its own figures: the database
it ran on (engine and server version) and the peak memory of the run."""

import resource
import sqlite3

from django.db import connection


def database_description() -> str:
    """`sqlite 3.45.1` or `postgresql 16.4`: the engine and the version of its server."""
    if connection.vendor == "sqlite":
        return f"sqlite {sqlite3.sqlite_version}"
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        major, minor = divmod(connection.pg_version, 10_000)
        return f"postgresql {major}.{minor}"
    return connection.vendor


def peak_rss() -> dict[str, float]:
    """Peak resident memory in MiB (`getrusage` maxrss; Linux counts KiB).

    `peak_rss_mib` is this process's peak plus the largest peak of a child process it
    waited for (a bench that spawns one), an upper bound of the run's memory at any time.
    A database server's own memory (PostgreSQL) is not counted.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {"peak_rss_mib": round(own + children, 1)}
    if children:
        figures["peak_rss_own_mib"] = round(own, 1)
        figures["peak_rss_children_mib"] = round(children, 1)
    return figures
