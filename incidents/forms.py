"""Forms of the staff dashboard's incident pages. They parse input; incidents.access and the
services decide and write.

The forms of the workspace (issue 9, item 4) take the incident and the member. Their choices are
the whole of what the services understand (every status of the lifecycle table, every TLP label),
not only what the member may pick: the page offers only those, and a choice sent by hand that the
member may not make reaches the service, which refuses it with ActionNotAllowed (the styled 403
page), instead of being dismissed as "not a valid choice".
"""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from incidents import taxonomy
from incidents.access import assignable_users, certs_to_open_incidents_for, visible_incidents
from incidents.models import Source, Status
from incidents.observables import ObservableType, extract
from incidents.services import TRANSITIONS
from incidents.severity import Severity
from incidents.tlp import DEFAULT_INCIDENT_TLP, Tlp
from organizations.models import Cert

REASON_WIDGET = forms.Textarea(attrs={"rows": 3})


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
    owner_cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label=_("Owner CERT"))
    title = forms.CharField(label=_("Title"), max_length=300)
    classification_type = forms.ChoiceField(label=_("Classification (RSIT)"))
    severity = forms.TypedChoiceField(label=_("Severity"), choices=Severity.choices, coerce=int,
                                      initial=Severity.MEDIUM)
    tlp = forms.ChoiceField(choices=Tlp.choices, initial=DEFAULT_INCIDENT_TLP, label=_("TLP"))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea, required=False,
                                  help_text=_("Indicators in the text (also defanged, like "
                                              "hxxp://example[.]com) are recorded as observables."))
    affected_organization = forms.CharField(label=_("Affected organization"), max_length=200,
                                            required=False)

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
    to_status = forms.ChoiceField(label=_("New status"))
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Head-only re-openings included: the service refuses them to anyone else.
        self.fields["to_status"].choices = [(status, Status(status).label) for status in
                                            sorted(TRANSITIONS[self.incident.status])]


class AssignForm(VersionedForm):
    assignee = forms.ModelChoiceField(label=_("Assignee"),
                                      queryset=get_user_model().objects.none(), required=False,
                                      help_text=_("Leave empty to unassign."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users(self.incident).order_by("username")


class SeverityForm(VersionedForm):
    severity = forms.TypedChoiceField(label=_("Severity"), choices=Severity.choices, coerce=int)
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET, required=False)


class TlpForm(VersionedForm):
    tlp = forms.ChoiceField(choices=Tlp.choices, label=_("TLP"),
                            help_text=_("Anyone who works the incident may make it stricter; "
                                        "only a head may make it less strict."))
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET, required=False)


class EscalateForm(VersionedForm):
    to_cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label=_("Escalate to"),
                                     help_text=_("The owner's parent, or any CERT above it."))
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET,
                             help_text=_("The CERT that receives it reads this first."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ancestors = self.incident.owner_cert.ancestors().filter(is_active=True)
        self.fields["to_cert"].queryset = ancestors.order_by("-depth")
        self.fields["to_cert"].initial = self.incident.owner_cert.parent_id


class ReferForm(VersionedForm):
    to_cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label=_("Refer to"),
                                     help_text=_("A CERT below the owner."))
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET,
                             help_text=_("The CERT that receives it reads this first."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_cert"].queryset = self.incident.owner_cert.descendants().filter(
            is_active=True).order_by("path")


class ShareForm(VersionedForm):
    cert = forms.ModelChoiceField(queryset=Cert.objects.none(), label=_("Share with"),
                                  help_text=_("Its members may then view the incident, not "
                                              "change it."))
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET,
                             help_text=_("Why this CERT needs to see it; kept in the timeline."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cert"].queryset = (Cert.objects.filter(is_active=True)
                                        .exclude(pk=self.incident.owner_cert_id).order_by("path"))


INTERNAL, TO_REPORTER = "internal", "reporter"


class CommentForm(VersionedForm):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label=_("Comment"))
    visibility = forms.ChoiceField(
        label=_("Who reads it"), widget=forms.RadioSelect, initial=INTERNAL,
        choices=[(INTERNAL, _("Internal: CERT staff only")),
                 (TO_REPORTER, _("To the reporter: shown on their status page"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.offers_reporter:
            # Only a public report has a reporter to write to.
            self.fields["visibility"].choices = self.fields["visibility"].choices[:1]

    @property
    def offers_reporter(self) -> bool:
        return self.incident.source == Source.PUBLIC_FORM

    @property
    def reporter_visible(self) -> bool:
        return self.cleaned_data["visibility"] == TO_REPORTER


class ObservableForm(VersionedForm):
    # Left empty, the type is recognised from the value (one click less for the common case).
    type = forms.ChoiceField(label=_("Type"), required=False,
                             choices=[("", _("Recognise from the value")), *ObservableType.choices])
    value = forms.CharField(label=_("Value"), max_length=2048,
                            help_text=_("Defanged forms like hxxp:// and example[.]com are "
                                        "accepted."))

    def clean(self):
        data = super().clean()
        if data.get("type") or not data.get("value"):
            return data
        found = extract(data["value"])
        if not found:
            self.add_error("value", _("No address, domain, URL, e-mail address, hash or CVE ID "
                                      "was recognised in this value: choose its type."))
        elif len(found) > 1:
            self.add_error("value", _("This value holds %(count)s indicators: add them one at a "
                                      "time, or choose the type.") % {"count": len(found)})
        else:
            data["type"], data["value"] = found[0]
        return data


class AttachmentForm(VersionedForm):
    file = forms.FileField(label=_("File"))


class TaskForm(VersionedForm):
    title = forms.CharField(label=_("Task"), max_length=200)
    assignee = forms.ModelChoiceField(label=_("Assignee"),
                                      queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users(self.incident).order_by("username")


class TaskChoiceForm(VersionedForm):
    """A change of one task of the incident: the task is looked up among the incident's own."""

    task = forms.ModelChoiceField(label=_("Task"), queryset=None, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = self.incident.tasks.all()


class TaskAssignForm(TaskChoiceForm):
    assignee = forms.ModelChoiceField(label=_("Assignee"),
                                      queryset=get_user_model().objects.none(), required=False,
                                      help_text=_("Leave empty to unassign."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users(self.incident).order_by("username")


class VisibleReferenceField(forms.CharField):
    """A reference of another incident the member may see, cleaned to that incident. Missing and
    invisible references get the same answer."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", _("A reference like PK-INC-2026-000123."))
        super().__init__(**kwargs)


def _visible_incident(user, reference: str):
    found = visible_incidents(user).filter(reference=reference.strip().upper()).first()
    if found is None:
        raise forms.ValidationError(
            _("No incident you may see has the reference %(reference)s. Check it in the queue."),
            params={"reference": reference.strip()}, code="not_found")
    return found


class LinkForm(VersionedForm):
    reference = VisibleReferenceField(label=_("Related incident"))
    reason = forms.CharField(label=_("How they are related"), widget=REASON_WIDGET,
                             required=False)

    def clean_reference(self):
        return _visible_incident(self.user, self.cleaned_data["reference"])


class MergeForm(VersionedForm):
    into = VisibleReferenceField(label=_("Merge this duplicate into"))
    reason = forms.CharField(label=_("Reason"), widget=REASON_WIDGET, required=False)

    def clean_into(self):
        return _visible_incident(self.user, self.cleaned_data["into"])
