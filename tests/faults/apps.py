from django.apps import AppConfig
from django.db.backends.signals import connection_created

from tests.faults.pause import armed, pause_once

# The statement after which the escalation is stopped: the hand-over has updated the incident,
# written the ownership period and the ESCALATED timeline event, and now the notification, all in
# one transaction that is not yet committed (incidents.services.handover.hand_over). The INSERT
# ignores conflicts: "INSERT OR IGNORE INTO" on SQLite, "... ON CONFLICT DO NOTHING" on PostgreSQL.
NOTIFICATION_TABLE = '"incidents_notification"'


def _pause_inside_escalation(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    inserts_notification = sql.startswith("INSERT") and NOTIFICATION_TABLE in sql.split("(")[0]
    if inserts_notification and context["connection"].in_atomic_block:
        pause_once("escalation")
    return result


def _watch_connection(sender, connection, **kwargs):
    if _pause_inside_escalation not in connection.execute_wrappers:
        connection.execute_wrappers.append(_pause_inside_escalation)


class FaultsConfig(AppConfig):
    name = "tests.faults"
    label = "faults"

    def ready(self):
        if armed("escalation"):
            connection_created.connect(_watch_connection, dispatch_uid="faults.pause_escalation")
