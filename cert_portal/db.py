"""Database connection tuning shared by every app."""

import sqlite3

from django.db.backends.signals import connection_created
from django.dispatch import receiver


@receiver(connection_created)
def use_sqlites_real_parameter_limit(sender, connection, **kwargs):
    """Let bulk writes use SQLite's real host-parameter limit.

    Django assumes SQLite's old compile-time default of 999 parameters per statement and splits
    bulk inserts into batches accordingly; SQLite 3.32+ allows 32766 (Debian's build even more).
    Set-based passes over many incidents (the SLA scheduler) then stay one statement per table
    instead of one per few hundred rows.
    """
    if connection.vendor != "sqlite":
        return
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    connection.features.max_query_params = min(limit, 32766)
