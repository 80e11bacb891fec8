from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incident tickets: lifecycle, escalation along the CERT tree, SLA clocks, permissions."""

    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from django.db.models.signals import post_migrate

        from incidents.access import forget_permission_ids
        from incidents.registry import open_incidents_block_deactivation, resync_after_move
        from organizations import hooks

        post_migrate.connect(forget_permission_ids, dispatch_uid="incidents.forget_permission_ids")

        hooks.deactivation_checks.append(open_incidents_block_deactivation)
        hooks.after_move.append(resync_after_move)
