"""Template filters of the statistics pages and reports (issue 12)."""

from datetime import timedelta

from django import template

from incidents.workspace import duration_text

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A time to acknowledge or resolve, to the minute ("2 d 3 h"); "—" when there is none."""
    if value is None:
        return "—"
    return duration_text(value.total_seconds())


@register.filter
def rate(value) -> str:
    """A compliance Rate as "93.5 % (43 of 46)"; "—" when no period was decided."""
    if value is None or value.percent is None:
        return "—"
    return f"{value.percent} % ({value.met}/{value.decided})"
