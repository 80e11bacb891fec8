"""The Django admin for advisories, read-only, for the platform's administrators (issue 10).

Every write goes through advisories.services (four eyes, immutability of published text, grants),
so nothing is editable here. An administrator is no reader of advisories (DOMAIN.md §1, as for
incidents): the text of an advisory is not shown, and its title only when it is TLP:CLEAR (public
anyway). The e-mail outbox shows what went to which address, what waits and what failed.
"""

from __future__ import annotations

from django.contrib import admin

from advisories.models import Advisory, AdvisoryDelivery, AdvisoryRevision
from incidents.admin import DeliveryFilter
from incidents.tlp import Tlp


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # written by advisories.services and advisories.distribution

    def has_delete_permission(self, request, obj=None):
        return False


class RevisionInline(admin.TabularInline):
    model = AdvisoryRevision
    fields = readonly_fields = ["number", "state", "tlp", "severity", "withdraws", "author",
                                "approved_by", "created_at", "published_at"]
    ordering = ["-number", "-pk"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def public_title(advisory: Advisory) -> str:
    revision = advisory.current_revision
    if advisory.tlp == Tlp.CLEAR and revision is not None:
        return revision.title
    return f"(not shown: {advisory.tlp})" if revision is not None else "(not published)"


@admin.register(Advisory)
class AdvisoryAdmin(ReadOnlyAdmin):
    """Advisories and their revisions, by reference and label: what exists, in which state."""

    list_display = ["reference", "title", "author_cert", "status", "tlp", "first_published_at",
                    "last_published_at"]
    list_filter = ["status", "tlp"]
    list_select_related = ["author_cert", "current_revision"]
    search_fields = ["reference"]
    ordering = ["-created_at", "-pk"]
    show_full_result_count = False
    fields = readonly_fields = ["reference", "title", "author_cert", "status", "tlp",
                                "source_incident_reference", "created_by", "created_at",
                                "first_published_at", "last_published_at", "withdrawn_at",
                                "version"]
    inlines = [RevisionInline]

    @admin.display(description="title")
    def title(self, advisory):
        return public_title(advisory)

    @admin.display(description="source incident")
    def source_incident_reference(self, advisory):
        return advisory.source_incident.reference if advisory.source_incident_id else "-"


@admin.register(AdvisoryDelivery)
class AdvisoryDeliveryAdmin(ReadOnlyAdmin):
    """The advisory e-mail outbox (advisories.distribution): a row per revision and address,
    with its attempts and, for a failed one, its last error."""

    list_display = ["key", "advisory_reference", "revision_number", "email", "attempts",
                    "next_attempt_at", "sent_at", "failed_at", "last_error"]
    list_filter = [DeliveryFilter]
    list_select_related = ["revision__advisory"]
    search_fields = ["key", "email", "revision__advisory__reference"]
    ordering = ["-created_at", "-pk"]
    # The outbox keeps every e-mail ever sent: no second COUNT of all of it on every page.
    show_full_result_count = False
    fields = readonly_fields = ["key", "advisory_reference", "revision_number", "email", "user",
                                "subscriber", "created_at", "claimed_at", "attempts",
                                "next_attempt_at", "sent_at", "failed_at", "last_error"]

    @admin.display(description="advisory", ordering="revision__advisory__reference")
    def advisory_reference(self, delivery):
        return delivery.revision.advisory.reference

    @admin.display(description="revision")
    def revision_number(self, delivery):
        return delivery.revision.number
