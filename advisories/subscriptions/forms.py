"""Forms of advisory subscriptions: the public's (e-mail, language, minimum severity) and a
member's (mode, minimum severity, sectors, vendors and products). They parse; the services of
advisories.subscriptions.services validate what needs the database and write."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from advisories.models import AdvisorySeverity, MemberSubscription
from organizations.models import Sector


class PublicSubscriptionForm(forms.Form):
    email = forms.EmailField(label=_("Your e-mail address"), max_length=254,
                             help_text=_("We send a confirmation link there first. Nothing else "
                                         "is sent until you follow it."))
    language = forms.ChoiceField(label=_("Language of the e-mails"))
    min_severity = forms.TypedChoiceField(
        label=_("Send me advisories of this severity or above"), coerce=int,
        choices=AdvisorySeverity.choices, initial=AdvisorySeverity.INFORMATIONAL)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Settings are read when the form is made, not when the module is imported.
        self.fields["language"].choices = settings.LANGUAGES
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})


class MemberSubscriptionForm(forms.Form):
    mode = forms.ChoiceField(label=_("Which advisories reach you by e-mail"),
                             choices=MemberSubscription.Mode.choices, widget=forms.RadioSelect)
    min_severity = forms.TypedChoiceField(
        label=_("Minimum severity"), coerce=int, choices=AdvisorySeverity.choices,
        help_text=_("With “only those that match my filters”: advisories of this severity or "
                    "above."))
    sectors = forms.ModelMultipleChoiceField(
        label=_("Sectors"), required=False, queryset=Sector.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Also advisories about these sectors, whatever their severity."))
    products = forms.CharField(
        label=_("Vendors and products"), required=False, max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Also advisories about these, whatever their severity: one per line, as "
                    "“vendor” or “vendor / product”, for example “Microsoft” or “Fortinet / "
                    "FortiGate”."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sectors"].queryset = Sector.objects.order_by("name")

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {"mode": data["mode"], "min_severity": data["min_severity"],
                "sector_ids": [sector.pk for sector in data["sectors"]],
                "products": data["products"]}
