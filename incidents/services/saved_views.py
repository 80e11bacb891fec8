"""Saved views of the dashboard's queue (issue 9, item 2): a member names a tab with its filters,
and may share it with one of their CERTs."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.access import ActionNotAllowed, may_delete_saved_view, may_share_saved_view_with
from incidents.models import SavedView
from incidents.text import hidden_character_message, single_line
from organizations.models import Cert

NAME_MAX = SavedView._meta.get_field("name").max_length
QUERY_MAX = SavedView._meta.get_field("query").max_length


def check_saved_view(*, actor, name: str, query: str, cert: Cert | None = None) -> tuple[str, str]:
    """The cleaned name and query string of a view `actor` wants to save, or ValidationError
    with a message per field. The query string is kept as a query string (re-encoded, without a
    leading "?"); what its values mean is checked when the queue opens it."""
    errors: dict[str, str] = {}
    hidden = hidden_character_message(name, field=_("name"))
    name = single_line(name)
    if hidden:
        errors["name"] = hidden
    elif not name:
        errors["name"] = _("Give the view a name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("Use at most %(max)d characters for the name.") % {"max": NAME_MAX}
    pairs = parse_qsl(query.lstrip("?"))
    query = urlencode(pairs)
    if any("\x00" in part for pair in pairs for part in pair):
        # Stored as "%00" it would save, and every opening of the view would be refused.
        errors["query"] = _("These filters contain a NUL character (U+0000): remove it.")
    elif len(query) > QUERY_MAX:
        errors["query"] = _("These filters are too long to save; remove some.")
    if cert is not None and not may_share_saved_view_with(actor, cert):
        errors["cert"] = _("You can share a view only with a CERT you are a member of.")
    if errors:
        raise ValidationError(errors)
    return name, query


def saved_view_create(*, actor, name: str, query: str, cert: Cert | None = None) -> SavedView:
    """Save the queue's `query` string as `actor`'s view `name`, shared with `cert`'s members
    when given (a CERT `actor` belongs to)."""
    name, query = check_saved_view(actor=actor, name=name, query=query, cert=cert)
    with transaction.atomic():
        return SavedView.objects.create(name=name, owner=actor, cert=cert, query=query,
                                        created_at=timezone.now())


def saved_view_delete(*, actor, saved_view: SavedView) -> None:
    """Delete a saved view: its owner may, and a head of the CERT it is shared with. The caller
    found the view through incidents.access.get_visible_saved_view (404 for anyone who may not
    see it); ActionNotAllowed for one who sees it but may not delete it."""
    if not may_delete_saved_view(actor, saved_view):
        raise ActionNotAllowed(_("Only the member who saved the view “%(name)s”, or a head of "
                                 "the CERT it is shared with, may delete it.")
                               % {"name": saved_view.name})
    with transaction.atomic():
        SavedView.objects.filter(pk=saved_view.pk).delete()
