"""The forms of the advisories' staff pages. They only parse what was typed into the shape of
advisories.content.AdvisoryContent; every rule about the content (formats, TLP, audience, the
source incident's label) is checked by advisories.services, whose messages are shown on the
fields named like the content's fields."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy

from advisories.content import AdvisoryContent
from advisories.dashboard.reads import PAGE_SIZES, Tab
from advisories.models import AdvisorySeverity
from incidents.tlp import Tlp
from organizations.models import Cert, Membership, Sector

# The named-reader choice lists members of active CERTs; past this many it stops (the demo has a
# few dozen; a CERT with thousands of members would need a search instead of a list).
MAX_READER_CHOICES = 1000
PRODUCT_SEPARATOR = "|"


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def split_cves(text: str) -> list[str]:
    """CVE IDs one per line or separated by commas (or spaces)."""
    return [value for value in re.split(r"[\s,;]+", text or "") if value]


def parse_products(text: str) -> list[dict]:
    """One product a line: "vendor | product | versions" (versions optional)."""
    products = []
    for line in lines(text):
        parts = [part.strip() for part in line.split(PRODUCT_SEPARATOR)]
        parts += [""] * (3 - len(parts))
        products.append({"vendor": parts[0], "product": parts[1],
                         "versions": f" {PRODUCT_SEPARATOR} ".join(part for part in parts[2:] if part)})
    return products


def products_text(products: list[dict]) -> str:
    return "\n".join(f" {PRODUCT_SEPARATOR} ".join(
        value for value in (item.get("vendor", ""), item.get("product", ""), item.get("versions", ""))
        if value) for item in products)


class ListQuery(forms.Form):
    """The list's tab, search and page (all optional; a bad value is said, not guessed)."""

    tab = forms.ChoiceField(label=gettext_lazy("Tab"), required=False,
                            choices=[(name, label) for name, label in Tab.LABELS.items()])
    q = forms.CharField(label=gettext_lazy("Search by reference or title"), required=False,
                        max_length=200)
    size = forms.TypedChoiceField(label=gettext_lazy("Per page"), required=False, coerce=int,
                                  empty_value=PAGE_SIZES[0],
                                  choices=[(str(size), str(size)) for size in PAGE_SIZES])
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)


class AdvisoryForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=1000,
                            error_messages={"required": gettext_lazy("Give the advisory a title.")})
    summary = forms.CharField(
        label=gettext_lazy("Summary"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One or two sentences: what is affected and how bad it is."),
        error_messages={"required": gettext_lazy("Write a summary: one or two sentences that say "
                                                 "what and how bad.")})
    body_markdown = forms.CharField(
        label=gettext_lazy("Body (Markdown)"), required=False, max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 14, "data-preview-source": ""}),
        help_text=gettext_lazy("Markdown: ## headings, **bold**, lists, links, `code`, tables. "
                               "HTML and images are not kept."))
    severity = forms.TypedChoiceField(label=gettext_lazy("Severity"), coerce=int,
                                      choices=AdvisorySeverity.choices,
                                      initial=AdvisorySeverity.MEDIUM)
    cvss_v3_vector = forms.CharField(
        label=gettext_lazy("CVSS v3.1 vector"), required=False, max_length=500,
        widget=forms.TextInput(attrs={"data-preview-source": "", "spellcheck": "false"}),
        help_text=gettext_lazy("e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"))
    cvss_v4_vector = forms.CharField(
        label=gettext_lazy("CVSS v4.0 vector"), required=False, max_length=500,
        widget=forms.TextInput(attrs={"data-preview-source": "", "spellcheck": "false"}),
        help_text=gettext_lazy("e.g. CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"))
    cve_ids = forms.CharField(
        label=gettext_lazy("CVE IDs"), required=False, max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=gettext_lazy("One per line or separated by commas, e.g. CVE-2026-12345."))
    cwe_id = forms.CharField(label=gettext_lazy("CWE ID"), required=False, max_length=50,
                             help_text=gettext_lazy("e.g. CWE-79"))
    cwe_name = forms.CharField(label=gettext_lazy("CWE name"), required=False, max_length=500)
    products = forms.CharField(
        label=gettext_lazy("Affected products"), required=False, max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One per line: vendor | product | versions, e.g. "
                               "Example Networks | Gateway OS | before 7.2.4"))
    remedies = forms.CharField(label=gettext_lazy("Remedies"), required=False, max_length=20_000,
                               widget=forms.Textarea(attrs={"rows": 4}),
                               help_text=gettext_lazy("What readers should do: patch, mitigate, "
                                                      "work around."))
    references = forms.CharField(label=gettext_lazy("References"), required=False,
                                 max_length=50_000, widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text=gettext_lazy("One web address per line (https://…)."))
    sector_ids = forms.TypedMultipleChoiceField(label=gettext_lazy("Sectors"), required=False,
                                                coerce=int, widget=forms.CheckboxSelectMultiple)
    # Any text is taken: the service names what is wrong with a label (TLP:WHITE is TLP 1.0...).
    tlp = forms.CharField(label=gettext_lazy("TLP"), max_length=40,
                          widget=forms.Select(choices=Tlp.choices), initial=Tlp.AMBER,
                          help_text=gettext_lazy("TLP:CLEAR is public; TLP:GREEN goes to every "
                                                 "CERT member; TLP:AMBER and TLP:AMBER+STRICT to "
                                                 "the audience CERTs below and yours; TLP:RED to "
                                                 "the named readers below only."))
    audience_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Audience CERTs (TLP:AMBER and TLP:AMBER+STRICT)"), required=False,
        coerce=int, widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Besides your CERT. Ignored for other labels."))
    reader_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Named readers (TLP:RED)"), required=False, coerce=int,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=gettext_lazy("Members of active CERTs. Needed for TLP:RED, ignored for other "
                               "labels."))
    change_summary = forms.CharField(
        label=gettext_lazy("Summary of changes"), required=False, max_length=1000,
        help_text=gettext_lazy("For a new revision: what changed, shown in the history."))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    incident = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, author_cert: Cert, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sector_ids"].choices = list(Sector.objects.order_by("name")
                                                 .values_list("pk", "name"))
        self.fields["audience_ids"].choices = list(
            Cert.objects.filter(is_active=True).exclude(pk=author_cert.pk).order_by("path")
            .values_list("pk", "name"))
        self.fields["reader_ids"].choices = reader_choices()
        typed = self.data.get("tlp") if self.is_bound else self.initial.get("tlp")
        if typed and typed not in Tlp.values:
            # Kept as typed (an API habit, a TLP 1.0 label), so that the service's message about it
            # is next to what it is about and nothing else is silently chosen instead.
            self.fields["tlp"].widget.choices = [(typed, typed), *Tlp.choices]

    def content(self, *, indicators: list[dict] | None = None) -> AdvisoryContent:
        """What was typed, as the services take it."""
        data = self.cleaned_data
        return AdvisoryContent(
            title=data["title"], summary=data["summary"], body_markdown=data["body_markdown"],
            severity=data["severity"], cvss_v3_vector=data["cvss_v3_vector"],
            cvss_v4_vector=data["cvss_v4_vector"], cve_ids=split_cves(data["cve_ids"]),
            cwe_id=data["cwe_id"], cwe_name=data["cwe_name"],
            products=parse_products(data["products"]), remedies=data["remedies"],
            references=lines(data["references"]), indicators=list(indicators or []),
            sector_ids=data["sector_ids"], tlp=data["tlp"], audience_ids=data["audience_ids"],
            reader_ids=data["reader_ids"], change_summary=data["change_summary"])


def reader_choices() -> list[tuple[int, str]]:
    """Members of active CERTs, each with their CERTs, in one query (bounded)."""
    names: dict[int, str] = {}
    certs: dict[int, list[str]] = {}
    for membership in (Membership.objects.filter(cert__is_active=True, user__is_active=True)
                       .select_related("user", "cert").order_by("user__username", "cert__path")
                       [:MAX_READER_CHOICES]):
        user = membership.user
        names.setdefault(user.pk, user.get_full_name() or user.get_username())
        certs.setdefault(user.pk, []).append(membership.cert.short_name)
    return [(pk, f"{name} · {', '.join(certs[pk])}") for pk, name in names.items()]


def initial_from(content: AdvisoryContent) -> dict:
    """The editor's initial values for stored content (advisories.services.content_of)."""
    return {
        "title": content.title, "summary": content.summary, "body_markdown": content.body_markdown,
        "severity": content.severity, "cvss_v3_vector": content.cvss_v3_vector,
        "cvss_v4_vector": content.cvss_v4_vector, "cve_ids": "\n".join(content.cve_ids),
        "cwe_id": content.cwe_id, "cwe_name": content.cwe_name,
        "products": products_text(content.products), "remedies": content.remedies,
        "references": "\n".join(content.references), "sector_ids": content.sector_ids,
        "tlp": content.tlp, "audience_ids": content.audience_ids, "reader_ids": content.reader_ids,
        "change_summary": content.change_summary,
    }


def initial_from_post(data) -> dict:
    """What was posted, as initial values (the no-script preview shows the form unvalidated)."""
    initial = {name: data.get(name, "") for name in AdvisoryForm.base_fields}
    for name in ("sector_ids", "audience_ids", "reader_ids"):
        initial[name] = data.getlist(name)
    return initial


class ReasonForm(forms.Form):
    """The reason of a return to the author or of a withdrawal (the service says when it is
    required)."""

    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
