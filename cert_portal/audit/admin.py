"""The audit trail in the Django admin: read only, for the platform's administrators.

No one adds, changes or deletes an event here (the model and, on PostgreSQL, a trigger refuse
it anyway); the admin lists, filters and searches. The heads' pages of their CERT's trail are
in the dashboard.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from cert_portal.audit.models import AuditEvent


class CappedCountPaginator(Paginator):
    """Counts at most CAP events (COUNT over a LIMIT subquery): the trail of a national portal
    grows without end, and the admin's page links need no more than a bound. Past it, the last
    page link stops at CAP; the filters and the search narrow the list."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP].count()


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "channel", "actor_label", "cert", "client_address",
                    "object_type", "object_label"]
    list_filter = ["kind", "channel"]
    search_fields = ["actor_label", "object_label"]
    list_select_related = ["cert"]
    # Do not count the whole trail a second time for "N of M selected".
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = ["at", "kind", "channel", "actor", "actor_label", "api_key", "cert",
              "client_address", "object_type", "object_id", "object_label", "object_cert",
              "detail"]
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
