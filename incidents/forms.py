"""Forms of the staff interface. They parse input; the services decide and write."""

from django import forms
from django.contrib.auth import get_user_model

from incidents import taxonomy
from incidents.access import assignable_users, certs_to_open_incidents_for
from incidents.models import Status
from incidents.observables import ObservableType
from incidents.services import TRANSITIONS
from incidents.severity import Severity
from incidents.tlp import DEFAULT_INCIDENT_TLP, Tlp
from organizations.models import Cert


class VersionedForm(forms.Form):
    """Carries the version of the incident the person was looking at, so that a change made
    meanwhile by someone else is refused instead of overwritten."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, incident, user, **kwargs):
        self.incident = incident
        self.user = user
        kwargs.setdefault("initial", {})["version"] = incident.version
        super().__init__(*args, **kwargs)


class IncidentCreateForm(forms.Form):
    owner_cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label="Owner CERT")
    title = forms.CharField(max_length=300)
    classification_type = forms.ChoiceField(label="Classification (RSIT)")
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int,
                                      initial=Severity.MEDIUM)
    tlp = forms.ChoiceField(choices=Tlp.choices, initial=DEFAULT_INCIDENT_TLP, label="TLP")
    description = forms.CharField(widget=forms.Textarea, required=False,
                                  help_text="Indicators in the text (also defanged, like "
                                            "hxxp://example[.]com) are recorded as observables.")
    affected_organization = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_cert"].queryset = certs_to_open_incidents_for(user)
        self.fields["classification_type"].choices = [
            (label, [(f"{classification}/{value}", type_label)
                     for value, type_label, _ in taxonomy.types_for(classification)])
            for classification, label in taxonomy.classifications()
        ]

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        classification, _, incident_type = data.pop("classification_type").partition("/")
        return {**data, "classification": classification, "incident_type": incident_type}


class TransitionForm(VersionedForm):
    to_status = forms.ChoiceField(label="New status")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = [(status, Status(status).label) for status in
                                            sorted(TRANSITIONS[self.incident.status])]


class AssignForm(VersionedForm):
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False,
                                      help_text="Leave empty to unassign.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users(self.incident).order_by("username")


class SeverityForm(VersionedForm):
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class TlpForm(VersionedForm):
    tlp = forms.ChoiceField(choices=Tlp.choices, label="TLP",
                            help_text="Anyone who works the incident may make it stricter; only a "
                                      "head may make it less strict.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class EscalateForm(VersionedForm):
    to_cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label="Escalate to",
                                     help_text="The owner's parent, or any CERT above it.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ancestors = self.incident.owner_cert.ancestors().filter(is_active=True)
        self.fields["to_cert"].queryset = ancestors.order_by("-depth")
        self.fields["to_cert"].initial = self.incident.owner_cert.parent_id


class ReferForm(VersionedForm):
    to_cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label="Refer to",
                                     help_text="A CERT below the owner.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_cert"].queryset = self.incident.owner_cert.descendants().filter(
            is_active=True).order_by("path")


class ShareForm(VersionedForm):
    cert = forms.ModelChoiceField(queryset=Cert.objects.filter(is_active=True), label="Share with")


class CommentForm(VersionedForm):
    body = forms.CharField(widget=forms.Textarea, label="Comment")
    reporter_visible = forms.BooleanField(required=False, label="Visible to the reporter",
                                          help_text="Otherwise only CERT staff see it.")


class ObservableForm(VersionedForm):
    type = forms.ChoiceField(choices=ObservableType.choices)
    value = forms.CharField(max_length=2048)


class AttachmentForm(VersionedForm):
    file = forms.FileField()
