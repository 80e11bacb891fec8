"""The audit trail's one table.

Append-only: the application never updates or deletes an event (the model and its queryset
refuse), and on PostgreSQL a trigger refuses UPDATE and DELETE whoever sends them (migration
0001). The foreign keys have no database constraint and do nothing on delete, so that removing a
user, a CERT or a key never touches the trail; the labels keep what they were called then.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Something tried to change or delete an audit event."""


class AuditKind(models.TextChoices):
    SIGN_IN = "sign_in", _("Signed in")
    SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
    SIGN_OUT = "sign_out", _("Signed out")
    INCIDENT_VIEWED = "incident_viewed", _("Incident viewed")
    ADVISORY_VIEWED = "advisory_viewed", _("Protected advisory viewed")
    ATTACHMENT_DOWNLOADED = "attachment_downloaded", _("Attachment downloaded")
    INCIDENT_CHANGED = "incident_changed", _("Incident changed")
    ADVISORY_CHANGED = "advisory_changed", _("Advisory changed")
    REGISTRY_CHANGED = "registry_changed", _("Registry changed")
    MEMBERSHIP_CHANGED = "membership_changed", _("Membership changed")
    PERMISSION_CHANGED = "permission_changed", _("Permissions changed")
    API_KEY_CHANGED = "api_key_changed", _("API key issued or revoked")
    API_KEY_USED = "api_key_used", _("API key used")
    WEBHOOK_CHANGED = "webhook_changed", _("Webhook changed")
    WEBHOOK_DELIVERED = "webhook_delivered", _("Webhook delivery")
    AUDIT_EXPORTED = "audit_exported", _("Audit trail exported")


class Channel(models.TextChoices):
    DASHBOARD = "dashboard", _("Dashboard")
    PUBLIC = "public", _("Public site")
    API = "api", _("API")
    TASK = "task", _("Background task")
    COMMAND = "command", _("Command line")


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The audit trail is append-only: events are never updated.")

    def delete(self):
        raise AppendOnlyError("The audit trail is append-only: events are never deleted.")

    # bulk_update goes through update(); _raw_delete is what Django's deletion collector uses for
    # fast deletes.
    def _raw_delete(self, using):
        raise AppendOnlyError("The audit trail is append-only: events are never deleted.")


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=40, choices=AuditKind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    # Who: a person, a key's service user, or nobody (the public, the scheduler, a failed sign-in
    # with an unknown name). actor_label keeps the name used, even for a user since deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    api_key = models.ForeignKey("organizations.ApiKey", null=True, blank=True,
                                on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # As which CERT the actor acted: the dashboard's active CERT, the key's CERT.
    cert = models.ForeignKey("organizations.Cert", null=True, blank=True,
                             on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    client_address = models.GenericIPAddressField(null=True, blank=True)
    # What: "incident", "advisory", "attachment", "cert", "membership", "api_key", "webhook",
    # "user"; its primary key, and what it was called then (a reference, a name).
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=300, blank=True)
    # The CERT that owned the object then: lets the owner see who outside it looked.
    object_cert = models.ForeignKey("organizations.Cert", null=True, blank=True,
                                    on_delete=models.DO_NOTHING, db_constraint=False,
                                    related_name="+")
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # A CERT's own trail, newest first (keyset on at, id).
            models.Index(fields=["cert", "-at", "-id"], name="audit_cert_at"),
            # Who looked at a CERT's objects, newest first.
            models.Index(fields=["object_cert", "kind", "-at", "-id"], name="audit_object_cert_at"),
            # One object's history.
            models.Index(fields=["object_type", "object_id", "-at"], name="audit_object"),
            models.Index(fields=["-at", "-id"], name="audit_at"),
        ]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.actor_label} {self.object_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("The audit trail is append-only: events are never updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The audit trail is append-only: events are never deleted.")
