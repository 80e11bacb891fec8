"""The filters of the public advisory list. Every field is optional; a bad value is an error next
to its field that says what to write instead (never a 500, never a silently empty list)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from advisories.content import CVE_PATTERN
from advisories.selectors import SEVERITY_SLUGS, PublicFilters
from cert_portal.pagination import BadCursor, decode_cursor
from incidents.text import single_line

DATE_FORMAT = "%Y-%m-%d"
_DATE_ERROR = _("Write the date as year-month-day, e.g. 2026-03-31.")


class SeverityMatch:
    AT_LEAST = "min"
    EXACTLY = "exact"


class PublicAdvisoryFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"), max_length=200, required=False, strip=True,
        help_text=_("Words of the title or summary, or a reference such as PK-ADV-2026-0042."),
        error_messages={"max_length": _("Search for at most 200 characters.")})
    severity = forms.ChoiceField(
        label=_("Severity"), required=False,
        choices=[("", _("Any severity"))] + [(slug, level.label) for slug, level in SEVERITY_SLUGS.items()],
        error_messages={"invalid_choice": _("Choose a severity from the list: informational, low, "
                                            "medium, high or critical.")})
    severity_match = forms.ChoiceField(
        label=_("Match the severity"), required=False, widget=forms.RadioSelect,
        initial=SeverityMatch.AT_LEAST,
        choices=[(SeverityMatch.AT_LEAST, _("This severity or higher")),
                 (SeverityMatch.EXACTLY, _("Exactly this severity"))],
        error_messages={"invalid_choice": _("Choose \"this severity or higher\" or \"exactly this "
                                            "severity\".")})
    cve = forms.CharField(
        label=_("CVE ID"), max_length=40, required=False, strip=True,
        help_text=_("e.g. CVE-2026-12345"),
        error_messages={"max_length": _("A CVE ID has at most 40 characters, e.g. CVE-2026-12345.")})
    vendor = forms.CharField(
        label=_("Vendor"), max_length=200, required=False, strip=True,
        error_messages={"max_length": _("A vendor's name has at most 200 characters.")})
    product = forms.CharField(
        label=_("Product"), max_length=200, required=False, strip=True,
        error_messages={"max_length": _("A product's name has at most 200 characters.")})
    published_from = forms.DateField(
        label=_("Published from"), required=False, input_formats=[DATE_FORMAT],
        widget=forms.DateInput(attrs={"type": "date"}, format=DATE_FORMAT),
        help_text=_("The date of the latest revision, e.g. 2026-03-01."),
        error_messages={"invalid": _DATE_ERROR})
    published_to = forms.DateField(
        label=_("Published until"), required=False, input_formats=[DATE_FORMAT],
        widget=forms.DateInput(attrs={"type": "date"}, format=DATE_FORMAT),
        help_text=_("Included, e.g. 2026-03-31."),
        error_messages={"invalid": _DATE_ERROR})
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, data=None, **kwargs):
        if data is not None and not data.get("severity_match"):
            # The default shows as chosen on the page that answers the filters, too.
            data = data.copy()
            data["severity_match"] = SeverityMatch.AT_LEAST
        super().__init__(data, **kwargs)

    def clean_cve(self) -> str:
        value = self.cleaned_data["cve"].upper()
        if value and not CVE_PATTERN.fullmatch(value):
            raise forms.ValidationError(_("Write a CVE ID as CVE, the year and a number of four or "
                                          "more digits, e.g. CVE-2026-12345."), code="cve")
        return value

    def clean_vendor(self) -> str:
        return single_line(self.cleaned_data["vendor"]).lower()  # as the product index stores it

    def clean_product(self) -> str:
        return single_line(self.cleaned_data["product"]).lower()

    def clean_cursor(self):
        value = self.cleaned_data["cursor"]
        if not value:
            return None
        try:
            return decode_cursor(value)
        except BadCursor:
            raise forms.ValidationError(_("This page link is damaged or out of date: start again "
                                          "from the first page."), code="cursor") from None

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("published_from"), cleaned.get("published_to")
        if start and end and end < start:
            self.add_error("published_to", _("This date is before the \"published from\" date: "
                                             "choose a later one, or swap them."))
        return cleaned

    def filters(self) -> PublicFilters:
        """The valid form's filters, for advisories.selectors.public_advisory_page."""
        data = self.cleaned_data
        return PublicFilters(
            q=data["q"],
            severity=SEVERITY_SLUGS[data["severity"]] if data["severity"] else None,
            exact_severity=data["severity_match"] == SeverityMatch.EXACTLY,
            cve=data["cve"], vendor=data["vendor"], product=data["product"],
            published_from=data["published_from"], published_to=data["published_to"])

    def is_filtered(self) -> bool:
        data = self.cleaned_data
        return any(data.get(name) for name in ("q", "severity", "cve", "vendor", "product",
                                               "published_from", "published_to"))

