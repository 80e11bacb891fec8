"""What the incidents API reads from a request and writes in an answer (issue 11).

Input serializers check types and shapes only; what a value may be (a classification, a TLP
label, a transition) is decided by the services, whose ValidationErrors name the same fields.
Output serializers read plain dicts (`incident_row`), the shape the list reads in one query.
"""

from __future__ import annotations

from rest_framework import serializers

from incidents.models import Incident, Status
from incidents.observables import ObservableType
from incidents.severity import Severity
from incidents.tlp import Tlp

# The incident's fields a list page reads (QuerySet.values), besides "pk" and "reported_at".
INCIDENT_VALUES = (
    "reference", "public_id", "title", "description", "classification", "incident_type",
    "severity", "tlp", "status", "source", "owner_cert__slug", "assignee__username",
    "ack_due_at", "resolve_due_at", "acknowledged_at", "resolved_at", "created_at", "updated_at",
    "version",
)


def incident_row(incident: Incident) -> dict:
    """The dict a list page holds for `incident`, from the object (owner and assignee loaded)."""
    row = {name: getattr(incident, name) for name in INCIDENT_VALUES if "__" not in name}
    row["reported_at"] = incident.reported_at
    row["owner_cert__slug"] = incident.owner_cert.slug
    row["assignee__username"] = incident.assignee.username if incident.assignee else None
    return row


class IncidentSerializer(serializers.Serializer):
    reference = serializers.CharField(read_only=True)
    public_id = serializers.UUIDField(read_only=True)
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    classification = serializers.CharField(read_only=True, help_text="RSIT classification.")
    incident_type = serializers.CharField(read_only=True, help_text="RSIT incident type.")
    severity = serializers.ChoiceField(Severity.choices, read_only=True,
                                       help_text="0 (baseline) to 5 (emergency).")
    tlp = serializers.ChoiceField(Tlp.choices, read_only=True)
    status = serializers.ChoiceField(Status.choices, read_only=True)
    source = serializers.CharField(read_only=True)
    owner = serializers.CharField(source="owner_cert__slug", read_only=True,
                                  help_text="Slug of the CERT that owns the incident.")
    assignee = serializers.CharField(source="assignee__username", read_only=True, allow_null=True)
    reported_at = serializers.DateTimeField(read_only=True)
    ack_due_at = serializers.DateTimeField(read_only=True)
    resolve_due_at = serializers.DateTimeField(read_only=True)
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(
        read_only=True, help_text="Send it back with a change: a stale version answers 409.")


class IncidentDetailSerializer(IncidentSerializer):
    allowed_actions = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="What the caller may do with the incident now (incidents.access).")


class IncidentPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page, or null.")
    results = IncidentSerializer(many=True)


class IncidentFilterSerializer(serializers.Serializer):
    """The query parameters of the list; a bad value answers 400 naming the parameter."""

    status = serializers.ChoiceField(Status.choices, required=False)
    severity = serializers.ChoiceField(Severity.choices, required=False)
    classification = serializers.CharField(required=False, max_length=60)
    tlp = serializers.ChoiceField(Tlp.choices, required=False)
    owner = serializers.SlugField(required=False, help_text="Slug of the owner CERT.")
    updated_since = serializers.DateTimeField(required=False, help_text="ISO 8601 date and time.")
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


class IncidentCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    classification = serializers.CharField(max_length=60, help_text="RSIT classification.")
    incident_type = serializers.CharField(max_length=60, help_text="RSIT incident type.")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(Severity.choices, required=False, default=Severity.MEDIUM)
    tlp = serializers.ChoiceField(Tlp.choices, required=False, default=Tlp.AMBER)
    owner = serializers.SlugField(
        required=False, help_text="Slug of the CERT to own it: by default the key's CERT (or the "
                                  "member's active CERT).")
    impact = serializers.CharField(required=False, allow_blank=True)
    affected_organization = serializers.CharField(required=False, allow_blank=True, max_length=200)
    is_public_body = serializers.BooleanField(required=False)
    is_cii = serializers.BooleanField(required=False)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)


# The fields of an incident no service changes: read-only in PATCH, said so when sent.
READ_ONLY_FIELDS = {
    "title": "The title is set when the incident is opened; comment to correct it.",
    "description": "The description is set when the incident is opened; comment to add to it.",
    "classification": "The classification is set when the incident is opened.",
    "incident_type": "The incident type is set when the incident is opened.",
    "status": "Change the status with POST .../transition/ or .../acknowledge/.",
    "assignee": "Assign with POST .../assign/.",
    "owner": "Hand the incident over with POST .../escalate/ or .../refer/.",
}


class IncidentUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you read: if the incident changed since, 409.")
    severity = serializers.ChoiceField(Severity.choices, required=False)
    tlp = serializers.ChoiceField(Tlp.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="Kept in the timeline with each change.")

    def validate(self, data):
        sent = set(self.initial_data) if isinstance(self.initial_data, dict) else set()
        errors = {name: [message] for name, message in READ_ONLY_FIELDS.items() if name in sent}
        if errors:
            raise serializers.ValidationError(errors)
        if "severity" not in data and "tlp" not in data:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send severity or tlp (or both) with the version."]})
        return data


class VersionedSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, required=False,
        help_text="Optional: the version you read; if the incident changed since, 409.")


class TransitionSerializer(VersionedSerializer):
    status = serializers.ChoiceField(Status.choices, help_text="The status to move to.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class AssignSerializer(VersionedSerializer):
    assignee = serializers.CharField(
        allow_null=True, max_length=150,
        help_text="Username or id of an active member of the owner CERT; null unassigns.")


class HandOverSerializer(VersionedSerializer):
    to_cert = serializers.SlugField(required=False, help_text="Slug of the receiving CERT.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ReferSerializer(HandOverSerializer):
    to_cert = serializers.SlugField(help_text="Slug of a CERT below the owner.")


class ShareSerializer(serializers.Serializer):
    cert = serializers.SlugField(help_text="Slug of the CERT to share with.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ShareResultSerializer(serializers.Serializer):
    incident = serializers.CharField()
    cert = serializers.CharField()
    created_at = serializers.DateTimeField()


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    body = serializers.CharField()
    reporter_visible = serializers.BooleanField(
        required=False, default=False,
        help_text="Shown to the public reporter on their status page; otherwise internal.")
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class CommentPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CommentSerializer(many=True)


class ObservableSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    type = serializers.ChoiceField(ObservableType.choices)
    value = serializers.CharField(max_length=2048, help_text="Refanged and normalised when stored.")
    created_at = serializers.DateTimeField(read_only=True)


class ObservablePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ObservableSerializer(many=True)


class FoundObservableSerializer(serializers.Serializer):
    type = serializers.CharField()
    value = serializers.CharField()
    incident = serializers.CharField(source="incident.reference")
    incident_tlp = serializers.CharField(source="incident.tlp")
    created_at = serializers.DateTimeField()


class FoundObservablePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = FoundObservableSerializer(many=True)


class ObservableSearchSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=2048, help_text="Defanged values are accepted.")
    type = serializers.ChoiceField(ObservableType.choices, required=False,
                                   help_text="Without it, the types found in the value.")


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    content_type = serializers.CharField()
    created_at = serializers.DateTimeField()


class TimelineEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor.username", allow_null=True,
                                  help_text="Null when the system acted.")
    old_value = serializers.CharField()
    new_value = serializers.CharField()
    reason = serializers.CharField()


class TimelinePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="Earlier events, or null.")
    previous = serializers.URLField(allow_null=True)
    results = TimelineEventSerializer(many=True)
