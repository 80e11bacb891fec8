"""Advisories and their revisions (DOMAIN.md §5, issue 10).

An advisory is the lasting identity (reference, author CERT, who may read it); its text lives in
revisions. Revision 1 is drafted, reviewed by a head of the author CERT who did not write it, and
published; a change after that is a new revision, reviewed again. A published revision is never
changed (`AdvisoryRevision.save` refuses), so what a reader or a CSAF consumer once received
stays as it was. Rows are changed only through advisories.services.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from incidents.models import Incident
from incidents.tlp import Tlp
from organizations.models import Cert, Sector


class AdvisorySeverity(models.IntegerChoices):
    """How urgently readers should act: the scale of CVSS's qualitative ratings, with
    "informational" for advisories that name no vulnerability."""

    INFORMATIONAL = 0, _("Informational")
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class AdvisoryStatus(models.TextChoices):
    """Where the advisory stands for its readers."""

    DRAFT = "draft", _("Draft")  # never published
    IN_REVIEW = "in_review", _("In review")  # never published, waiting for a head's approval
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class RevisionState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")



class Advisory(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=40, unique=True, editable=False)
    author_cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="advisories")
    status = models.CharField(max_length=20, choices=AdvisoryStatus.choices,
                              default=AdvisoryStatus.DRAFT)
    # Who may read it: copied from the revision published last (a revision may change them), and
    # turned into guardian grants by advisories.grants. Drafts are read by the author CERT only.
    tlp = models.CharField(max_length=20, choices=Tlp.choices, default=Tlp.AMBER)
    audience = models.ManyToManyField(Cert, blank=True, related_name="+",
                                      help_text="TLP:AMBER and AMBER+STRICT: the CERTs that "
                                                "receive it, besides the author CERT.")
    readers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                     help_text="TLP:RED: the people who receive it by name.")
    # The revision readers see (null until the first is published).
    current_revision = models.ForeignKey("AdvisoryRevision", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    source_incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="advisories")
    first_published_at = models.DateTimeField(null=True, blank=True)
    # When the current revision was published: the CSAF current_release_date, the feed's order.
    last_published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    # Bumped by every write; a form sent with an older version is a conflict, not a silent overwrite.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_published_at", "-pk"]
        permissions = [("work_advisory", "Draft and revise the advisory (as its author CERT)")]
        indexes = [
            # Public list and feeds: published, newest first, keyset on (time, pk).
            models.Index(fields=["tlp", "last_published_at", "id"], name="advisory_feed_order",
                         condition=models.Q(status__in=["published", "withdrawn"])),
            models.Index(fields=["author_cert", "status"], name="advisory_author_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(tlp__in=Tlp.values), name="advisory_tlp_known"),
            models.CheckConstraint(condition=models.Q(status__in=AdvisoryStatus.values),
                                   name="advisory_status_known"),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("advisories_staff:advisory", args=[self.reference])

    @property
    def is_published(self) -> bool:
        """Readers have a revision (a withdrawn advisory stays readable, marked withdrawn)."""
        return self.status in (AdvisoryStatus.PUBLISHED, AdvisoryStatus.WITHDRAWN)


class AdvisoryRevision(models.Model):
    """One version of an advisory's text. Content fields are validated by advisories.content."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="revisions")
    state = models.CharField(max_length=20, choices=RevisionState.choices,
                             default=RevisionState.DRAFT)
    # 1, 2, 3 ... in the order of publication; null while not published.
    number = models.PositiveIntegerField(null=True, blank=True)
    change_summary = models.CharField(max_length=500, blank=True,
                                      help_text="What changed in this revision, for the history.")

    title = models.CharField(max_length=300)
    summary = models.TextField(max_length=2000)
    body_markdown = models.TextField(blank=True, max_length=100_000)
    body_html = models.TextField(blank=True, editable=False,
                                 help_text="body_markdown rendered and sanitised (advisories.content).")
    severity = models.PositiveSmallIntegerField(choices=AdvisorySeverity.choices,
                                                default=AdvisorySeverity.MEDIUM)
    cvss_v3_vector = models.CharField("CVSS v3.1 vector", max_length=200, blank=True)
    cvss_v3_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss_v4_vector = models.CharField("CVSS v4.0 vector", max_length=300, blank=True)
    cvss_v4_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cve_ids = models.JSONField(default=list, blank=True, help_text='["CVE-2026-1234", ...]')
    cwe_id = models.CharField("CWE", max_length=12, blank=True, help_text="e.g. CWE-79")
    cwe_name = models.CharField("CWE name", max_length=200, blank=True)
    # [{"vendor": ..., "product": ..., "versions": ...}, ...]
    products = models.JSONField(default=list, blank=True)
    remedies = models.TextField(blank=True, max_length=10_000,
                                help_text="What readers should do: patch, mitigate, work around.")
    # ["https://...", ...]
    references = models.JSONField(default=list, blank=True)
    # Observables drawn from an incident: [{"type": ..., "value": ...}, ...]
    indicators = models.JSONField(default=list, blank=True)
    sectors = models.ManyToManyField(Sector, blank=True, related_name="+",
                                     help_text="The sectors it concerns (for subscriptions).")
    # Who may read it once published (copied to the advisory then).
    tlp = models.CharField(max_length=20, choices=Tlp.choices, default=Tlp.AMBER)
    audience_ids = models.JSONField(default=list, blank=True)
    reader_ids = models.JSONField(default=list, blank=True)

    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="+")
    last_edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                       related_name="+")
    # Everyone who wrote or edited this revision (ids): none of them may approve it (four eyes).
    editor_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    # Set on the revision that withdrew the advisory (published at once, with the reason as its
    # change summary).
    withdraws = models.BooleanField(default=False)
    # The reviewer's reason when a revision was sent back to its author.
    returned_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["advisory", "-number", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["advisory", "number"], name="revision_number_unique"),
            # One revision at a time is being written or reviewed.
            models.UniqueConstraint(fields=["advisory"], name="revision_one_open",
                                    condition=models.Q(state__in=["draft", "in_review"])),
            models.CheckConstraint(condition=models.Q(severity__gte=0, severity__lte=4),
                                   name="revision_severity_0_to_4"),
            models.CheckConstraint(condition=models.Q(tlp__in=Tlp.values), name="revision_tlp_known"),
        ]

    def __str__(self) -> str:
        return f"{self.advisory_id} revision {self.number or 'draft'}"

    def save(self, *args, **kwargs):
        # Published text is immutable (issue 10): only the publishing write itself, which moves
        # the row out of review, may touch a row that is published in the database.
        if self.pk is not None and not kwargs.pop("publishing", False):
            stored = (AdvisoryRevision.objects.filter(pk=self.pk)
                      .values_list("state", flat=True).first())
            if stored == RevisionState.PUBLISHED:
                raise PublishedRevisionError(
                    "A published revision is never changed; start a new revision instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        # Asked of the database too, like save(): a copy read before its approval still says
        # "in review".
        if self.state == RevisionState.PUBLISHED or AdvisoryRevision.objects.filter(
                pk=self.pk, state=RevisionState.PUBLISHED).exists():
            raise PublishedRevisionError("A published revision is never deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.state == RevisionState.PUBLISHED

    def was_written_by(self, user) -> bool:
        """Whether `user` wrote or edited this revision (and so may not approve it)."""
        return user.pk is not None and (user.pk == self.author_id or user.pk in self.editor_ids)


class PublishedRevisionError(Exception):
    """Raised when code tries to change or delete a published revision."""


class AdvisoryUserObjectPermission(UserObjectPermissionBase):
    """A named reader's grant (TLP:RED), written only by advisories.grants.sync_advisory_grants."""

    content_object = models.ForeignKey(Advisory, on_delete=models.CASCADE)


class AdvisoryGroupObjectPermission(GroupObjectPermissionBase):
    """A CERT group's grant (author CERT, audience), written only by advisories.grants."""

    content_object = models.ForeignKey(Advisory, on_delete=models.CASCADE)


class AdvisoryCve(models.Model):
    """The CVE IDs of each advisory's current revision, one row each, for search and filters."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="cve_rows")
    cve_id = models.CharField(max_length=30, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["advisory", "cve_id"], name="advisory_cve_once")]

    def __str__(self) -> str:
        return self.cve_id


class AdvisoryProduct(models.Model):
    """The affected products of each advisory's current revision (lower-cased), for filters."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="product_rows")
    vendor = models.CharField(max_length=200, db_index=True)
    product = models.CharField(max_length=200, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["vendor", "product"], name="advisory_product_lookup")]

    def __str__(self) -> str:
        return f"{self.vendor} {self.product}"


class MemberSubscription(models.Model):
    """Which advisories reach a staff member by e-mail. Members without a row get every advisory
    they may read of severity high or above (the default a CERT would choose: nobody misses a
    critical warning, nobody drowns in informational notes). What they may read is decided by
    advisories.access at delivery, never here."""

    class Mode(models.TextChoices):
        ALL = "all", _("Every advisory I may read")
        FILTERED = "filtered", _("Only those that match my filters")
        NONE = "none", _("None (I read them in the dashboard)")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="advisory_subscription")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.FILTERED)
    min_severity = models.PositiveSmallIntegerField(choices=AdvisorySeverity.choices,
                                                    default=AdvisorySeverity.HIGH)
    sectors = models.ManyToManyField(Sector, blank=True, related_name="+",
                                     help_text="Also advisories about these sectors, whatever "
                                               "their severity.")
    # Lower-cased, one per line: "vendor" or "vendor / product".
    products = models.TextField(blank=True, help_text="Also advisories about these vendors or "
                                "products, whatever their severity: one per line, as "
                                "\"vendor\" or \"vendor / product\".")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user}: {self.mode}"


class PublicSubscriber(models.Model):
    """A member of the public who asked for TLP:CLEAR advisories by e-mail (double opt-in).

    Nothing is sent before `confirmed_at`, and nothing after `unsubscribed_at`. The confirmation
    and unsubscribe links are signed (django.core.signing) with the subscriber's public id, so no
    secret is stored: a leaked database lets nobody unsubscribe anybody.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True, help_text="Stored lower-cased.")
    language = models.CharField(max_length=10, default="en")
    min_severity = models.PositiveSmallIntegerField(choices=AdvisorySeverity.choices,
                                                    default=AdvisorySeverity.INFORMATIONAL)
    created_at = models.DateTimeField()
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class AdvisoryDelivery(models.Model):
    """One e-mail of a published revision to one address (an outbox row).

    `key` (revision and address) is unique, so a distribution task that runs twice records each
    recipient once; a row is claimed with a conditional UPDATE before it is sent, so nobody gets
    an advisory twice (issue 10).
    """

    key = models.CharField(max_length=300, unique=True)
    revision = models.ForeignKey(AdvisoryRevision, on_delete=models.CASCADE, related_name="deliveries")
    email = models.EmailField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    subscriber = models.ForeignKey(PublicSubscriber, null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["next_attempt_at"], name="advisory_delivery_pending",
                                condition=models.Q(sent_at__isnull=True, failed_at__isnull=True))]

    def __str__(self) -> str:
        return self.key


class FeedToken(models.Model):
    """A member's secret feed address for RSS readers, which cannot sign in with two factors.

    Only the SHA-256 of the token is stored; the address is shown once when made. Making a new
    one or revoking stops the old at once. The feed shows what the member may read at the moment
    it is fetched (advisories.access), so leaving a CERT empties it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="advisory_feed_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"feed of {self.user}"
