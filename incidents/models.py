"""Incident tickets and their parts (DOMAIN.md §3).

Rows are changed only through incidents.services; the timeline is append-only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from cert_portal.encryption import read_stored
from incidents.observables import ObservableType
from incidents.severity import Severity
from incidents.tlp import DEFAULT_INCIDENT_TLP, Tlp
from organizations.models import Cert, Sector
from organizations.rules import Region


class Status(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")


# Incidents that can still be escalated or referred, and whose SLA clocks run.
OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS)


def overdue_condition(now) -> models.Q:
    """Open incidents past a deadline that runs: acknowledgement while new, resolution while open
    (Incident.is_ack_overdue / is_resolution_overdue, as a filter for the queue and the counts)."""
    return (models.Q(status=Status.NEW, ack_due_at__lte=now)
            | models.Q(status__in=OPEN_STATUSES, resolve_due_at__lte=now))


class Source(models.TextChoices):
    PUBLIC_FORM = "public_form", _("Public form")
    STAFF = "staff", _("Staff")
    API = "api", _("API")
    TAXII = "taxii", _("TAXII")


class ReferenceCounter(models.Model):
    """The last reference number handed out per prefix and year; see services.next_reference."""

    prefix = models.CharField(max_length=20)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"],
                                               name="reference_counter_unique")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last_number}"


class Incident(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=40, unique=True, editable=False)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    classification = models.CharField(max_length=60, help_text="RSIT classification.")
    incident_type = models.CharField(max_length=60, help_text="RSIT incident type.")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    tlp = models.CharField(max_length=20, choices=Tlp.choices, default=DEFAULT_INCIDENT_TLP)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    owner_cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="incidents")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_incidents")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.STAFF)

    reporter_name = models.CharField(max_length=200, blank=True)
    reporter_email = models.EmailField(blank=True)
    reporter_phone = models.CharField(max_length=40, blank=True)
    reporter_consents_to_contact = models.BooleanField(default=False)
    # The language the reporter used on the public form (a code of settings.LANGUAGES): what they
    # receive from the portal is written in it.
    reporter_language = models.CharField(max_length=10, blank=True, editable=False)
    # Public reports: the tracking token is never stored, only its SHA-256 (see
    # incidents.reporter_token); the salt lets the confirmation task derive it again.
    reporter_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    reporter_token_salt = models.CharField(max_length=32, blank=True, editable=False)
    # The one-time key of the form that created the incident: a form sent twice makes one incident.
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                      editable=False)
    impact = models.TextField(blank=True, help_text="What the incident does to the affected "
                              "organization or people, in the reporter's words.")
    is_public_body = models.BooleanField("affected organization is a public body", default=False)
    affected_organization = models.CharField(max_length=200, blank=True)
    sector = models.ForeignKey(Sector, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="incidents")
    region = models.CharField(max_length=5, choices=Region.choices, blank=True)
    is_cii = models.BooleanField("critical information infrastructure", default=False)

    occurred_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField()

    # When the current owner received the incident: its acknowledgement clock starts here.
    owner_since = models.DateTimeField()
    # SLA clocks (calendar time, 24/7). The database is the source of truth for deadlines: the
    # scheduled pass finds what is due by these columns.
    ack_due_at = models.DateTimeField()
    resolve_due_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The acknowledgement deadline for which the national duty handlers were alerted (at the root
    # there is no parent to escalate to); one alert per missed deadline.
    ack_alerted_for = models.DateTimeField(null=True, blank=True)
    # When the resolution deadline was found missed; set once per deadline.
    resolution_missed_at = models.DateTimeField(null=True, blank=True)

    # A duplicate merged into another incident (issue 9): it is closed, and its reporter's status
    # page follows the incident it was merged into.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="merged_duplicates", editable=False)

    # Optimistic concurrency: every write is a conditional UPDATE on this column.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reported_at", "-pk"]
        permissions = [
            ("comment_incident", "Comment on the incident"),
            ("work_incident", "Work the incident (as its owner)"),
        ]
        indexes = [
            # The SLA pass asks every minute for what fell due: partial indexes hold only the
            # incidents that can still fall due, not the closed history of five years.
            models.Index(fields=["ack_due_at"], name="incident_ack_due",
                         condition=models.Q(status="new")),
            models.Index(fields=["resolve_due_at"], name="incident_resolve_due",
                         condition=models.Q(status__in=["new", "acknowledged", "in_progress"],
                                            resolution_missed_at__isnull=True)),
            # The queue's tabs of one CERT's or one person's work (issue 9): newest first within
            # a status, so a tab page and its capped count stop early however long the history.
            models.Index(fields=["owner_cert", "status", "reported_at"],
                         name="incident_owner_status"),
            models.Index(fields=["assignee", "status", "reported_at"],
                         name="incident_assignee_status"),
            # "Changed since your last visit" (the queue counts it on every page of a returning
            # member): the incidents changed since then, not a scan of the whole table.
            models.Index(fields=["updated_at"], name="incident_updated"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(severity__gte=0, severity__lte=5),
                                   name="incident_severity_0_to_5"),
            models.CheckConstraint(condition=models.Q(tlp__in=Tlp.values), name="incident_tlp_known"),
            models.CheckConstraint(condition=models.Q(status__in=Status.values),
                                   name="incident_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        """The incident's workspace in the staff dashboard (issue 9)."""
        return reverse("dashboard:incident", args=[self.reference])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_ack_overdue(self, now) -> bool:
        return self.status == Status.NEW and self.ack_due_at <= now

    def is_resolution_overdue(self, now) -> bool:
        return self.is_open and self.resolve_due_at <= now


class IncidentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Incident, on_delete=models.CASCADE)


class IncidentGroupObjectPermission(GroupObjectPermissionBase):
    """A CERT group's grant on an incident (written only by incidents.grants.sync_grants).

    `incident_reported_at` copies the incident's report time, which never changes after creation,
    so that a list page of what a CERT may see walks one index, (group, permission, report time,
    incident), and stops after the page, however many incidents the CERT may see (issue 8).
    """

    content_object = models.ForeignKey(Incident, on_delete=models.CASCADE)
    incident_reported_at = models.DateTimeField()

    class Meta(GroupObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["group", "permission", "incident_reported_at",
                                        "content_object"], name="incident_grant_list_order")]

    def save(self, *args, **kwargs):
        # A row made one at a time (guardian's assign_perm, a repair by hand) copies the time too.
        if self.incident_reported_at is None:
            self.incident_reported_at = self.content_object.reported_at
        super().save(*args, **kwargs)


class OwnershipPeriod(models.Model):
    """Which CERT owned the incident when: the ownership history behind the grants of earlier
    owners. The current owner's period has no end."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="ownerships")
    cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["incident"], condition=models.Q(ended_at__isnull=True),
                                    name="ownership_one_current_owner"),
        ]
        indexes = [
            # The queue's "we handed over" (issue 9): the incidents a CERT owned before, read
            # from its ended periods only, not from every incident it ever owned.
            models.Index(fields=["cert", "incident"], name="ownership_ended_by_cert",
                         condition=models.Q(ended_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.cert} from {self.started_at:%Y-%m-%d %H:%M}"


class IncidentShare(models.Model):
    """An explicit share of an incident with a CERT (view only; TLP permitting)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="shares")
    cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="+")
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "cert"],
                                               name="share_once_per_cert")]

    def __str__(self) -> str:
        return f"shared with {self.cert}"


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    ESCALATED = "escalated", _("Escalated")
    REFERRED = "referred", _("Referred")
    ASSIGNED = "assigned", _("Assigned")
    SEVERITY = "severity", _("Severity changed")
    TLP = "tlp", _("TLP changed")
    SHARED = "shared", _("Shared")
    COMMENT = "comment", _("Comment")
    OBSERVABLE = "observable", _("Observable added")
    ATTACHMENT = "attachment", _("Attachment added")
    ACK_MISSED = "ack_missed", _("Acknowledgement deadline missed")
    RESOLUTION_MISSED = "resolution_missed", _("Resolution deadline missed")
    MERGED = "merged", _("Merged")
    LINKED = "linked", _("Related incident linked")
    TASK = "task", _("Task changed")


class AppendOnlyError(Exception):
    pass


class TimelineEvent(models.Model):
    """One change of an incident: who, when, what it was and what it became. Append-only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+",
                              help_text="Empty when the system acted (e.g. the SLA scheduler).")
    old_value = models.CharField(max_length=300, blank=True)
    new_value = models.CharField(max_length=300, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["incident", "at"], name="event_incident_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.old_value} -> {self.new_value}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Timeline events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Timeline events are never deleted.")


class Comment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               help_text="Empty for a message from the public reporter.")
    body = models.TextField()
    reporter_visible = models.BooleanField(default=False, help_text="Shown to the reporter on the "
                                           "public status page; otherwise internal.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{'reporter-visible' if self.reporter_visible else 'internal'} comment"


class Observable(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="observables")
    type = models.CharField(max_length=20, choices=ObservableType.choices)
    value = models.CharField(max_length=2048)
    created_at = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["type", "value"]
        constraints = [models.UniqueConstraint(fields=["incident", "type", "value"],
                                               name="observable_once_per_incident")]
        # With the incident, a search by value reads the index alone (issue 8: a campaign's
        # indicator is in thousands of incidents).
        indexes = [models.Index(fields=["type", "value", "incident"], name="observable_lookup")]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.value}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Stored under a random name: the original name is kept in the row, never used on disk.
    return f"incidents/{instance.incident.public_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file of an incident, stored outside the web root and served only by a permission-checked
    download view."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=100)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    # The stored file is a Fernet token (cert_portal/encryption.py, issue 13). False for a file
    # stored before, in clear, until `manage.py rotate_attachment_keys` encrypts it; the database
    # default keeps rows written outside the ORM (the bench's bulk load) valid.
    encrypted = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.original_name

    def read_plaintext(self) -> bytes:
        """The file's content as uploaded (decrypted); see encryption.read_stored for errors."""
        return read_stored(self.file, encrypted=self.encrypted)


class Notification(models.Model):
    """An e-mail to send, written in the same transaction as the change it reports (an outbox).

    `key` makes each notification unique, so a change retried or a pass run twice records it
    once; a delivery task claims a row with a conditional UPDATE, so it is sent at most once.
    Who receives it is decided when it is delivered, by incidents.access.message_recipients from
    its kind, its CERT and person, and the grants of that moment (issue 7). A failed send is
    tried again later, a bounded number of times (incidents.notifications).
    """

    class Kind(models.TextChoices):
        ESCALATED = "escalated", _("Escalated to your CERT")
        REFERRED = "referred", _("Referred to your CERT")
        ASSIGNED = "assigned", _("Assigned to you")
        RESOLUTION_MISSED = "resolution_missed", _("Resolution deadline missed")
        RESOLUTION_MISSED_OVERSIGHT = ("resolution_missed_oversight",
                                       _("Resolution deadline missed below your CERT"))
        ACK_MISSED_AT_ROOT = "ack_missed_root", _("Acknowledgement deadline missed at the root")
        NEW_REPORT = "new_report", _("New report from the public")
        REPORTER_FOLLOW_UP = "reporter_follow_up", _("The reporter added information")
        REPORT_CONFIRMATION = "report_confirmation", _("Report received")
        REPORTER_REPLY = "reporter_reply", _("New message for the reporter")
        WATCHED_ACTIVITY = "watched_activity", _("Activity on an incident you watch")

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    cert = models.ForeignKey(Cert, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+", help_text="Only members of this CERT receive it.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+",
                             help_text="The person it is about (e.g. the new assignee).")
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.TextField(blank=True)
    # Delivery attempts so far; after a failure the next one waits until next_attempt_at, and
    # after the last allowed one the row is marked failed (and shown to administrators).
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["next_attempt_at"], name="notification_pending",
                                condition=models.Q(sent_at__isnull=True, failed_at__isnull=True))]

    def __str__(self) -> str:
        return self.key


class RoutingRule(models.Model):
    """Which CERT receives a public report: rules are tried by priority, the first that matches
    wins, and a report no rule matches goes to the national CERT's triage queue (DOMAIN.md §4).
    An empty criterion matches anything."""

    name = models.CharField(max_length=120)
    priority = models.PositiveIntegerField(default=100, help_text="Lower numbers are tried first.")
    sector = models.ForeignKey(Sector, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    region = models.CharField(max_length=5, choices=Region.choices, blank=True)
    public_body = models.BooleanField(null=True, blank=True, help_text="Match only reports about "
                                      "a public body (yes), only others (no), or both (empty).")
    target_cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="+",
                                    help_text="The CERT that receives matching reports.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.name} -> {self.target_cert}"

    def matches(self, *, sector_id, region: str, public_body: bool) -> bool:
        return ((self.sector_id is None or self.sector_id == sector_id)
                and (not self.region or self.region == region)
                and (self.public_body is None or self.public_body == public_body))


# --- The staff dashboard's own rows (issue 9) -----------------------------------------------------


class IncidentTask(models.Model):
    """One item of an incident's checklist. Written only by incidents.services.tasks."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="incident_tasks")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class IncidentLink(models.Model):
    """Two incidents a member marked as related. Stored once per pair, the lower id first, so
    that "related to" reads the same from either side."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    related = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "related"], name="incident_link_once"),
            models.CheckConstraint(condition=models.Q(incident__lt=models.F("related")),
                                   name="incident_link_ordered"),
        ]
        indexes = [models.Index(fields=["related", "incident"], name="incident_link_reverse")]

    def __str__(self) -> str:
        return f"{self.incident_id} <-> {self.related_id}"


class SavedView(models.Model):
    """A named queue view (tab, filters, sort) a member saved; shared with one of their CERTs
    when `cert` is set."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="saved_views")
    cert = models.ForeignKey(Cert, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+", help_text="Shared with this CERT's members.")
    query = models.CharField(max_length=1000, help_text="The queue's query string.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class IncidentVisit(models.Model):
    """When a member last opened an incident: rows changed since are marked unread."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "incident"],
                                               name="incident_visit_once")]

    def __str__(self) -> str:
        return f"seen at {self.seen_at:%Y-%m-%d %H:%M}"


class IncidentWatch(models.Model):
    """A member watches an incident: its activity reaches them (while they may view it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="watches")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "incident"],
                                               name="incident_watch_once")]

    def __str__(self) -> str:
        return f"watched since {self.created_at:%Y-%m-%d %H:%M}"


class InboxItem(models.Model):
    """An in-app notice: one per recipient of a Notification, written when the notification is
    delivered, for the same recipients as its e-mail (incidents.access.message_recipients)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="inbox_items")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["user", "notification"],
                                               name="inbox_item_once")]
        indexes = [models.Index(fields=["user", "created_at"], name="inbox_unread",
                                condition=models.Q(read_at__isnull=True))]

    def __str__(self) -> str:
        return f"{'read' if self.read_at else 'unread'} notice {self.notification_id}"


class StaffPreferences(models.Model):
    """A member's choices for the dashboard: which kinds of notice also reach them by e-mail,
    and when they last visited (for "new since your last visit")."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="staff_preferences")
    # Kinds of Notification.Kind that the member does not want by e-mail (in-app still shows).
    email_muted_kinds = models.JSONField(default=list, blank=True)
    # The last page seen in the previous visit (one that ended 30 minutes or more before the
    # current one began): what changed after it is "new since your last visit".
    previous_visit_at = models.DateTimeField(null=True, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"preferences of {self.user}"


# --- Webhooks (issue 11): a CERT's partner systems told of events by signed HTTPS requests ------


class WebhookEvent(models.TextChoices):
    """The events a CERT's heads may subscribe an endpoint to (issue 11, point 8)."""

    INCIDENT_CREATED = "incident.created", _("Incident created")
    INCIDENT_RECEIVED = "incident.received", _("Incident escalated or referred to us")
    INCIDENT_STATUS = "incident.status_changed", _("Incident status changed")
    INCIDENT_COMMENTED = "incident.commented", _("Incident commented")
    ADVISORY_PUBLISHED = "advisory.published", _("Advisory published")


class WebhookEndpoint(models.Model):
    """An HTTPS address of a CERT's partner system that receives the events it subscribed to.

    Written only by incidents.webhooks. The secret signs every delivery (HMAC-SHA256): it has to
    be stored to compute the signature, but it is shown once, when the endpoint is registered,
    and never again."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cert = models.ForeignKey(Cert, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Values of WebhookEvent.")
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["cert", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.url} ({self.cert.short_name})"


class WebhookDelivery(models.Model):
    """One event for one endpoint: an outbox row, written in the transaction of the change it
    reports and delivered by incidents.webhooks.deliver_due. Whether it is sent at all is decided
    at delivery, by the same rule as e-mail: the endpoint's CERT must be able to view the incident
    (or read the advisory) then. `attempt_log` keeps each try (time, HTTP status, error), at most
    WEBHOOK_MAX_ATTEMPTS of them; a response body is kept only as a short excerpt."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    # The same for every endpoint told of one event: the receiver's key for idempotence.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    advisory = models.ForeignKey("advisories.Advisory", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"],
                                               name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_pending",
                         condition=models.Q(delivered_at__isnull=True, failed_at__isnull=True)),
            # The heads' page: an endpoint's deliveries, newest first.
            models.Index(fields=["endpoint", "created_at", "id"], name="webhook_delivery_list"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} -> endpoint {self.endpoint_id}"


# --- Statistics (issue 12) ---------------------------------------------------------------------
# Counts flow up the tree for every incident whatever its TLP (DOMAIN.md §2), but never from a
# scan of millions of incidents per request: incidents.statistics.refresh rewrites these tables
# from the incidents on a schedule, and every figure says when it was computed.


class IncidentRollup(models.Model):
    """How many incidents share one combination of dimensions (a materialised GROUP BY).

    A subtree's figures are the sum of its CERTs' rows (owner_cert joined to Cert.path), so a
    registry move changes no row. No row names an incident.
    """

    reported_day = models.DateField()
    resolved_day = models.DateField(null=True, blank=True)
    owner_cert = models.ForeignKey(Cert, on_delete=models.CASCADE, related_name="+")
    classification = models.CharField(max_length=60)
    severity = models.PositiveSmallIntegerField()
    tlp = models.CharField(max_length=20)
    sector = models.ForeignKey(Sector, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    region = models.CharField(max_length=5, blank=True)
    source = models.CharField(max_length=20)
    status = models.CharField(max_length=20)
    incidents = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner_cert", "reported_day"], name="rollup_owner_day")]

    def __str__(self) -> str:
        return f"{self.reported_day} {self.owner_cert_id}: {self.incidents}"


class SlaPeriodFact(models.Model):
    """One ownership period of one incident, with its own SLA outcome: an escalated incident
    counts against each owner for its own part (issue 12). Rewritten by the statistics refresh."""

    period = models.OneToOneField(OwnershipPeriod, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    cert = models.ForeignKey(Cert, on_delete=models.CASCADE, related_name="+")
    severity = models.PositiveSmallIntegerField()
    tlp = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # True/False once decided (acknowledged, or the deadline passed); null while still running.
    ack_met = models.BooleanField(null=True)
    resolve_due_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_met = models.BooleanField(null=True)
    # The period ended because a missed deadline escalated the incident.
    escalated_for_missed_deadline = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["cert", "started_at"], name="sla_fact_cert_started")]

    def __str__(self) -> str:
        return f"period {self.period_id} of incident {self.incident_id}"


class StatisticsRun(models.Model):
    """When the statistics tables were last rewritten, and what it found (pages show it)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rollup_rows = models.PositiveIntegerField(default=0)
    fact_rows = models.PositiveIntegerField(default=0)
    # Differences found against the stored rows before they were replaced (the drift report).
    drift = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"statistics computed {self.finished_at or self.started_at}"


def report_path(report: MonthlyReport, filename: str) -> str:
    return f"reports/{report.cert.slug}/{report.month:%Y-%m}-{report.public_id}.pdf"


class MonthlyReport(models.Model):
    """A CERT's monthly report: its subtree's figures for one month, as kept HTML and PDF."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cert = models.ForeignKey(Cert, on_delete=models.CASCADE, related_name="monthly_reports")
    month = models.DateField(help_text="The first day of the month reported.")
    html = models.TextField(blank=True)
    pdf = models.FileField(upload_to=report_path, max_length=300, blank=True)
    # The PDF is stored as a Fernet token, like attachments (issue 13); False for one made before.
    pdf_encrypted = models.BooleanField(default=False, db_default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["cert", "-month"]
        constraints = [models.UniqueConstraint(fields=["cert", "month"], name="report_one_per_month")]

    def __str__(self) -> str:
        return f"{self.cert.short_name} {self.month:%Y-%m}"

    def read_pdf(self) -> bytes:
        """The PDF's content (decrypted); see encryption.read_stored for errors."""
        return read_stored(self.pdf, encrypted=self.pdf_encrypted)
