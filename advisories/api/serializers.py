"""Advisories as the API shows and takes them (issue 11). Shapes only: who may see what is asked
of advisories.access by the views, and every write goes through advisories.services, whose
check_content validates the content (these serializers check only types and bounds)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from advisories import access
from advisories.models import Advisory, AdvisoryRevision, AdvisorySeverity, AdvisoryStatus
from incidents.tlp import Tlp

# Ids that the database can hold: a bigger number is a 400 here, never an overflow in the query.
MAX_ID = 2**31 - 1


class ProductSerializer(serializers.Serializer):
    vendor = serializers.CharField(max_length=200)
    product = serializers.CharField(max_length=200)
    versions = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class RevisionSerializer(serializers.ModelSerializer):
    """One revision's text: the published one readers see, or the one being written."""

    severity = serializers.ChoiceField(choices=AdvisorySeverity.choices, read_only=True)
    cvss_v3_score = serializers.FloatField(read_only=True, allow_null=True)
    cvss_v4_score = serializers.FloatField(read_only=True, allow_null=True)
    cve_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    products = ProductSerializer(many=True, read_only=True)
    references = serializers.ListField(child=serializers.URLField(), read_only=True)

    class Meta:
        model = AdvisoryRevision
        fields = ["state", "number", "title", "summary", "body_markdown", "body_html", "severity",
                  "cvss_v3_vector", "cvss_v3_score", "cvss_v4_vector", "cvss_v4_score", "cve_ids",
                  "cwe_id", "cwe_name", "products", "remedies", "references", "tlp",
                  "change_summary", "submitted_at", "published_at", "updated_at"]
        read_only_fields = fields


class AdvisoryListSerializer(serializers.ModelSerializer):
    """A row of the list: the advisory and the headline of the text the caller sees (the
    published one; for the author CERT's drafts, the draft's)."""

    author_cert = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    title = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    severity = serializers.SerializerMethodField()

    class Meta:
        model = Advisory
        fields = ["reference", "public_id", "status", "tlp", "author_cert", "title", "summary",
                  "severity", "version", "created_at", "first_published_at", "last_published_at",
                  "withdrawn_at"]
        read_only_fields = fields

    def _headline(self, advisory: Advisory) -> AdvisoryRevision | None:
        if advisory.current_revision_id is not None:
            return advisory.current_revision
        if not access.may_see_drafts(self.context["request"].user, advisory):
            return None
        open_revisions = getattr(advisory, "open_revisions", None)
        if open_revisions is None:
            open_revisions = [access.open_revision(advisory)]
        return open_revisions[0] if open_revisions and open_revisions[0] else None

    def get_title(self, advisory: Advisory) -> str:
        revision = self._headline(advisory)
        return revision.title if revision else ""

    def get_summary(self, advisory: Advisory) -> str:
        revision = self._headline(advisory)
        return revision.summary if revision else ""

    @extend_schema_field(serializers.ChoiceField(choices=AdvisorySeverity.choices, allow_null=True))
    def get_severity(self, advisory: Advisory) -> int | None:
        revision = self._headline(advisory)
        return revision.severity if revision else None


class AdvisoryDetailSerializer(AdvisoryListSerializer):
    """One advisory: its published text, and for the author CERT its open revision and what the
    caller may do next."""

    current = RevisionSerializer(source="current_revision", read_only=True, allow_null=True,
                                 help_text="The published text readers see; null before the "
                                           "first publication.")
    open_revision = serializers.SerializerMethodField(
        help_text="The revision being written or reviewed; shown to the author CERT only.")
    actions = serializers.SerializerMethodField(
        help_text="What the caller may do now (access.allowed_actions). Approval is a person's act "
                  "in the dashboard (four eyes): the API never approves.")

    class Meta(AdvisoryListSerializer.Meta):
        fields = [*AdvisoryListSerializer.Meta.fields, "current", "open_revision", "actions"]
        read_only_fields = fields

    @extend_schema_field(RevisionSerializer(allow_null=True))
    def get_open_revision(self, advisory: Advisory) -> dict | None:
        revision = self.context.get("open_revision")
        if revision is None or not access.may_see_drafts(self.context["request"].user, advisory):
            return None
        return RevisionSerializer(revision).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(
        choices=[action.value for action in access.Action])))
    def get_actions(self, advisory: Advisory) -> list[str]:
        return sorted(self.context.get("actions", ()))


class AdvisoryCreateSerializer(serializers.Serializer):
    """A new advisory's first draft. The fields are those of the dashboard's editor."""

    cert = serializers.SlugField(
        required=False, max_length=60,
        help_text="The author CERT's slug. A key writes for its own CERT (leave it out); a member "
                  "of several CERTs names one.")
    title = serializers.CharField(max_length=300)
    summary = serializers.CharField(max_length=2000)
    body_markdown = serializers.CharField(required=False, allow_blank=True, max_length=100_000,
                                          default="", trim_whitespace=False,
                                          help_text="Markdown; rendered and sanitised.")
    severity = serializers.ChoiceField(choices=AdvisorySeverity.choices,
                                       default=AdvisorySeverity.MEDIUM)
    cvss_v3_vector = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    cvss_v4_vector = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    cve_ids = serializers.ListField(child=serializers.CharField(max_length=30), required=False,
                                    max_length=200, default=list)
    cwe_id = serializers.CharField(required=False, allow_blank=True, max_length=12, default="")
    cwe_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    products = ProductSerializer(many=True, required=False, max_length=200, default=list)
    remedies = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    references = serializers.ListField(child=serializers.CharField(max_length=2000), required=False,
                                       max_length=100, default=list)
    sector_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                       required=False, max_length=100, default=list)
    tlp = serializers.ChoiceField(choices=Tlp.choices, default=Tlp.AMBER)
    audience = serializers.ListField(
        child=serializers.SlugField(max_length=60), required=False, max_length=200, default=list,
        help_text="TLP:AMBER and TLP:AMBER+STRICT: the slugs of the CERTs that receive it besides "
                  "the author CERT.")
    reader_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
        max_length=200, default=list, help_text="TLP:RED: the ids of the people named as readers.")
    change_summary = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                           default="")


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID,
        help_text="The advisory's version you read: if it changed since, the answer is 409 and "
                  "nothing changes.")


class AdvisoryFilterSerializer(serializers.Serializer):
    """The list's filters; severity, CVE and products match the published text."""

    status = serializers.ChoiceField(choices=AdvisoryStatus.choices, required=False)
    severity = serializers.ChoiceField(
        choices=AdvisorySeverity.choices, required=False,
        help_text="This severity or higher (0 informational ... 4 critical), of the published text.")
    tlp = serializers.ChoiceField(choices=Tlp.choices, required=False)
    cve = serializers.RegexField(r"^[Cc][Vv][Ee]-[0-9]{4}-[0-9]{4,19}$", required=False, max_length=30,
                                 help_text="A CVE ID the published text names, e.g. CVE-2026-1234.")
    vendor = serializers.CharField(required=False, max_length=200, help_text="Ignoring case.")
    product = serializers.CharField(required=False, max_length=200, help_text="Ignoring case.")
    published_since = serializers.DateTimeField(
        required=False, help_text="Published (its current revision) at or after this time (ISO 8601).")
