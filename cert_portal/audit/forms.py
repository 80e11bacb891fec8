"""The filters of the audit trail's pages and export. They only parse what was typed; the
selectors (cert_portal.audit.selectors) apply it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cert_portal.audit.models import AuditKind

PAGE_SIZES = (25, 50, 100)


class TrailFilters(forms.Form):
    """Kind, actor, object, date range, page size and cursor: all optional; a bad value is named,
    never guessed at. `kinds` limits the kind's choices (the outside views list three)."""

    kind = forms.ChoiceField(label=gettext_lazy("Event"), required=False,
                             error_messages={"invalid_choice": gettext_lazy(
                                 "Choose an event from the list.")})
    actor = forms.CharField(label=gettext_lazy("Who (name contains)"), required=False,
                            max_length=150, error_messages={"max_length": gettext_lazy(
                                "A name is at most %(limit_value)d characters.")})
    object = forms.CharField(label=gettext_lazy("Object (reference or name contains)"),
                             required=False, max_length=300,
                             help_text=gettext_lazy("E.g. PK-INC-2026-000123."),
                             error_messages={"max_length": gettext_lazy(
                                 "An object reference is at most %(limit_value)d characters.")})
    date_from = forms.DateField(
        label=gettext_lazy("From (day)"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("Give the first day as a date, e.g. 2026-01-31.")})
    date_to = forms.DateField(
        label=gettext_lazy("To (day)"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("Give the last day as a date, e.g. 2026-01-31.")})
    size = forms.TypedChoiceField(label=gettext_lazy("Per page"), required=False, coerce=int,
                                  empty_value=PAGE_SIZES[0],
                                  choices=[(str(size), str(size)) for size in PAGE_SIZES],
                                  error_messages={"invalid_choice": gettext_lazy(
                                      "Choose 25, 50 or 100 events a page.")})
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, kinds=tuple(AuditKind), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("Any event"))] + [
            (kind.value, kind.label) for kind in kinds]

    def clean_actor(self) -> str:
        return self.cleaned_data["actor"].strip()

    def clean_object(self) -> str:
        return self.cleaned_data["object"].strip()

    def clean(self):
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The last day comes before the first day: swap them."))
        return data

    def filters(self) -> dict:
        """The filters given, by name, as the export records them (dates as ISO text); call
        after is_valid()."""
        data = self.cleaned_data
        return {name: (value.isoformat() if hasattr(value, "isoformat") else value)
                for name in ("kind", "actor", "object", "date_from", "date_to")
                if (value := data.get(name))}
