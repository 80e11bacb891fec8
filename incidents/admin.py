"""The Django admin for incidents' reference data: the routing rules of public reports and the
e-mail outbox, for the platform's administrators (issue 9).

Incidents themselves are not in the admin: the staff work them in the dashboard
(incidents.dashboard), and an administrator is no reader of incidents (DOMAIN.md §1). The admin's
"view on site" links still lead there (cert_portal.urls.view_on_site).
"""

from __future__ import annotations

from django.contrib import admin

from incidents.models import Notification, RoutingRule


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Where public reports go (DOMAIN.md §4): data an administrator edits."""

    list_display = ["priority", "name", "sector", "region", "public_body", "target_cert",
                    "is_active"]
    list_editable = ["is_active"]
    list_select_related = ["sector", "target_cert"]
    list_filter = ["is_active", "region", "sector"]
    ordering = ["priority", "pk"]


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("retrying", "Failed, will be tried again"),
                ("failed", "Failed for good"), ("sent", "Sent")]

    def queryset(self, request, queryset):
        pending = queryset.filter(sent_at__isnull=True, failed_at__isnull=True)
        return {
            "pending": pending,
            "retrying": pending.filter(attempts__gt=0),
            "failed": queryset.filter(failed_at__isnull=False),
            "sent": queryset.filter(sent_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The e-mail outbox, read-only, for administrators: what went to whom, what waits, and what
    failed for good with its last error (issue 7, finding 4). Incidents show by reference only:
    an administrator is no reader of incidents (DOMAIN.md §1), and the model permission, which
    CERT members do not have, guards the page."""

    list_display = ["key", "kind", "incident_reference", "cert", "created_at", "attempts",
                    "next_attempt_at", "sent_at", "failed_at", "last_error"]
    list_filter = [DeliveryFilter, "kind"]
    list_select_related = ["incident", "cert"]
    search_fields = ["key"]
    ordering = ["-created_at", "-pk"]
    # The outbox keeps every message ever sent: no second COUNT of all of it on every page.
    show_full_result_count = False
    fields = readonly_fields = ["key", "kind", "incident_reference", "cert", "user",
                                "created_at", "claimed_at", "attempts", "next_attempt_at",
                                "sent_at", "recipients", "failed_at", "last_error"]

    @admin.display(description="incident", ordering="incident__reference")
    def incident_reference(self, notification):
        return notification.incident.reference

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # written by the services, sent by the delivery task

    def has_delete_permission(self, request, obj=None):
        return False
