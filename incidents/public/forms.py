"""Forms of the public reporting pages: plain language, every contact field optional."""

import re
import secrets
from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.public.reports import REPORT_CATEGORIES, limits, size_text
from organizations.models import Sector
from organizations.rules import Region

SUBMISSION_KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by the reporting service."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class ChosenFilesMixin:
    """Browsers do not send files back with a re-rendered form: say so beside the file field."""

    def ask_for_files_again(self) -> None:
        """Call before showing the form with errors."""
        if (self.errors and self.files.getlist("attachments")
                and "attachments" not in self.errors):
            self.add_error("attachments", _("Files are not kept when the form comes back: "
                                            "choose your files again."))


# Finding 5 of issue 7: year 1 overflowed the time-zone conversion (500). No report needs a date
# before the public internet came to the country, nor one in the future; a day of slack covers
# a device clock or time zone that is a little off.
EARLIEST_DATE = (1990, 1, 1)
DATE_RANGE_MESSAGE = _("Enter a date and time between 1 January 1990 and today, or leave it "
                       "empty.")


class IncidentTimeField(forms.DateTimeField):
    """A date and time from 1 January 1990 (in the portal's time zone) to a day from now."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except (OverflowError, ValueError):
            raise forms.ValidationError(DATE_RANGE_MESSAGE, code="out_of_range") from None

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        earliest = timezone.make_aware(datetime(*EARLIEST_DATE))
        if not earliest <= value <= timezone.now() + timedelta(days=1):
            raise forms.ValidationError(DATE_RANGE_MESSAGE, code="out_of_range")


class PublicReportForm(ChosenFilesMixin, forms.Form):
    category = forms.ChoiceField(
        label=_("What happened?"), widget=forms.RadioSelect,
        choices=[(key, label) for key, (label, _c, _t) in REPORT_CATEGORIES.items()])
    title = forms.CharField(label=_("Describe it in one line"), max_length=200,
                            help_text=_("For example: Fake bank SMS asking for a PIN."))
    description = forms.CharField(
        label=_("Tell us what happened"), widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20000,
        help_text=_("What did you see, when, and what have you done since? Do not send "
                    "passwords."))
    started_at = IncidentTimeField(
        label=_("When did it start? (if known)"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    detected_at = IncidentTimeField(
        label=_("When did you notice it? (if known)"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    affected_organization = forms.CharField(
        label=_("Which organization is affected? (if any)"), max_length=200, required=False)
    is_public_body = forms.BooleanField(
        label=_("It is a government body (federal, provincial or local)"), required=False)
    sector = forms.ModelChoiceField(label=_("Sector (if it is one of these)"), required=False,
                                    queryset=Sector.objects.all(), empty_label=_("— none or not sure —"))
    region = forms.ChoiceField(label=_("Province or territory"), required=False,
                               choices=[("", _("— not sure —")), *Region.choices])
    is_cii = forms.BooleanField(
        label=_("It affects critical infrastructure (power, water, banking, telecom, "
                "health, government services)"), required=False)
    impact = forms.CharField(label=_("What is the harm so far? (if known)"), required=False,
                             max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    indicators = forms.CharField(
        label=_("Suspicious links, e-mail senders, phone numbers or addresses (if any)"),
        required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Paste them as they are; you may write example[.]com to keep links from "
                    "being clickable."))
    attachments = MultipleFileField(label=_("Screenshots or documents (optional)"),
                                    required=False)
    reporter_name = forms.CharField(label=_("Your name (optional)"), max_length=200,
                                    required=False)
    reporter_email = forms.EmailField(
        label=_("Your e-mail (optional)"), required=False,
        help_text=_("We send your tracking reference and token there."))
    reporter_phone = forms.RegexField(
        label=_("Your phone number (optional)"), required=False, max_length=40,
        regex=r"^\+?[0-9 ()-]{5,}$",
        error_messages={"invalid": _("Use digits, spaces and + ( ) - only.")})
    reporter_consents_to_contact = forms.BooleanField(
        label=_("A CERT may contact me about this report"), required=False)
    # Left empty by people; bots fill every field. Hidden by CSS and from screen readers.
    website = forms.CharField(label=_("Leave this field empty"), required=False)
    submission_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission_key", secrets.token_urlsafe(24))
        self.fields["website"].widget.attrs.update({"autocomplete": "off", "tabindex": "-1"})
        # Limits are settings: read them now, not when the module was imported.
        limit = limits()
        self.fields["attachments"].help_text = _(
            "Up to %(files)d files: images (PNG, JPEG, GIF, WebP), PDF or plain text; at most "
            "%(size)s each.") % {"files": limit["files"], "size": size_text(limit["file_bytes"])}

    def clean_submission_key(self):
        key = self.cleaned_data["submission_key"]
        if not SUBMISSION_KEY.match(key):
            raise forms.ValidationError("bad submission key", code="invalid")
        return key

    def clean(self):
        data = super().clean()
        if "submission_key" in self._errors:
            # The key is hidden, so an error beside it would be invisible, and sending the bad key
            # back would fail again (finding 9 of issue 7): say it above the form and put a fresh
            # key in the re-rendered one.
            del self._errors["submission_key"]
            self.add_error(None, _("This form was damaged or has expired, so nothing was saved. "
                                   "Check your answers and send it again."))
            self.data = self.data.copy()
            self.data["submission_key"] = secrets.token_urlsafe(24)
            self._bound_fields_cache.pop("submission_key", None)
        if (data.get("started_at") and data.get("detected_at")
                and data["detected_at"] < data["started_at"]):
            self.add_error("detected_at", _("You cannot notice it before it started."))
        if data.get("reporter_consents_to_contact") and not (data.get("reporter_email")
                                                             or data.get("reporter_phone")):
            self.add_error("reporter_email", _("To be contacted, give an e-mail or a phone "
                                               "number."))
        return data

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        description = data["description"]
        if data.get("indicators"):
            description += "\n\nIndicators given by the reporter:\n" + data["indicators"]
        return {
            "submission_key": data["submission_key"], "category": data["category"],
            "title": data["title"], "description": description, "files": data["attachments"],
            "occurred_at": data.get("started_at"), "detected_at": data.get("detected_at"),
            "affected_organization": data.get("affected_organization", ""),
            "is_public_body": data.get("is_public_body", False), "sector": data.get("sector"),
            "region": data.get("region", ""), "is_cii": data.get("is_cii", False),
            "impact": data.get("impact", ""), "reporter_name": data.get("reporter_name", ""),
            "reporter_email": data.get("reporter_email", ""),
            "reporter_phone": data.get("reporter_phone", ""),
            "reporter_consents_to_contact": data.get("reporter_consents_to_contact", False),
        }


class StatusLookupForm(forms.Form):
    reference = forms.CharField(label=_("Tracking reference"), max_length=40,
                                help_text=_("For example PK-INC-2026-000123."))
    token = forms.CharField(label=_("Secret token"), max_length=64,
                            widget=forms.PasswordInput(render_value=True))


class FollowUpForm(ChosenFilesMixin, forms.Form):
    message = forms.CharField(label=_("Add information"), required=False, max_length=20000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MultipleFileField(label=_("Add files (optional)"), required=False)
