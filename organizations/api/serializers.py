"""The CERT registry as the API shows it (issue 11): the public profile, as the directory shows
it, and the caller's relation to each CERT. No visibility is decided here."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from organizations.models import Cert, Role
from organizations.rules import CertKind, Region

RELATIONS = {
    "own": "One of your CERTs (for a key: the key's CERT).",
    "ancestor": "A CERT above one of yours in the national tree.",
    "descendant": "A CERT below one of yours, which your CERT oversees.",
    "unrelated": "Any other CERT.",
}


class CertSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=CertKind.choices, read_only=True)
    region = serializers.ChoiceField(choices=[("", "none"), *Region.choices], read_only=True)
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                          help_text="The slug of the CERT above; null for the root.")
    sector = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    # Plain strings, not email/uri formats: an empty value means "not given".
    email = serializers.CharField(read_only=True, help_text="24/7 incident reporting address, or "
                                                            "empty.")
    website = serializers.CharField(read_only=True, help_text="An address, or empty.")
    languages = serializers.ListField(source="language_list", child=serializers.CharField(),
                                      read_only=True)
    relation = serializers.SerializerMethodField(
        help_text="This CERT as seen from the caller's: " + " ".join(
            f"`{name}`: {text}" for name, text in RELATIONS.items()))
    role = serializers.SerializerMethodField(
        help_text="The caller's role in this CERT (a key's: `handler` for read-write, `liaison` "
                  "for read), or null.")

    class Meta:
        model = Cert
        fields = ["slug", "name", "short_name", "kind", "parent", "region", "sector", "constituency",
                  "description", "hotline", "email", "website", "pgp_fingerprint", "time_zone",
                  "languages", "relation", "role"]
        read_only_fields = fields

    def _mine(self) -> dict[int, tuple[str, str]]:
        """{pk: (path, role)} of the caller's CERTs, given by the view."""
        return self.context.get("my_certs", {})

    @extend_schema_field(serializers.ChoiceField(choices=list(RELATIONS)))
    def get_relation(self, cert: Cert) -> str:
        mine = self._mine()
        if cert.pk in mine:
            return "own"
        if any(path.startswith(cert.path) for path, _ in mine.values()):
            return "ancestor"
        if any(cert.path.startswith(path) for path, _ in mine.values()):
            return "descendant"
        return "unrelated"

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, cert: Cert) -> str | None:
        entry = self._mine().get(cert.pk)
        return entry[1] if entry else None
