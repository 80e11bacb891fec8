"""RSS 2.0 and Atom feeds of advisories (issue 10, point 4), with django.contrib.syndication.

Public feeds carry the latest TLP:CLEAR advisories (all, or of a severity or higher); a member's
secret feed carries what that member may read at the moment it is fetched. Every item's title
starts with its TLP label and its description repeats it (DOMAIN.md §2: whatever shows
TLP-marked content shows its label). What is listed is asked of advisories.access via the
selectors; each feed costs a constant number of queries.

Escaping: RSS readers render an item's description, and most its title, as HTML, so both are
HTML-escaped before the XML is written (Django's convention, ticket #6533). Atom says what it
holds: Django writes the title as type "text" (not escaped twice) and the summary as type "html"
(escaped). A "<script>" in an advisory reaches every reader as text either way.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from django.utils.translation import gettext as _

from advisories import selectors
from advisories.feed_tokens import feed_token_user
from advisories.models import AdvisorySeverity
from incidents.tlp import Tlp


def item_text_title(advisory) -> str:
    """"[TLP:CLEAR] PK-ADV-2026-0042: title", the label first (as in the e-mail subjects)."""
    return f"[{advisory.tlp}] {advisory.reference}: {advisory.current_revision.title}"


def public_url(advisory) -> str:
    return reverse("advisories:detail", args=[advisory.reference])


class _AdvisoryFeed(Feed):
    """What every advisory feed shares; subclasses choose the items and the format."""

    description_template = "advisories/feeds/item_description.html"

    def link(self, obj) -> str:
        return reverse("advisories:list")

    def author_name(self, obj) -> str:
        return settings.PORTAL_NAME

    def item_title(self, item) -> str:
        return escape(item_text_title(item))

    def item_link(self, item) -> str:
        return public_url(item)

    def item_guid(self, item) -> str:
        return f"urn:uuid:{item.public_id}"

    def item_guid_is_permalink(self, item) -> bool:
        return False

    # RSS readers sort and mark unread by pubDate: a new revision is news, so it is the time of
    # the current revision. Atom says both (published, updated): see the Atom subclasses.
    def item_pubdate(self, item):
        return item.last_published_at

    def item_updateddate(self, item):
        return item.last_published_at

    def get_context_data(self, **kwargs):
        return {"advisory": kwargs["item"]}


class _AtomMixin:
    feed_type = Atom1Feed

    def subtitle(self, obj) -> str:
        return self.description(obj)

    def item_title(self, item) -> str:
        return item_text_title(item)  # Atom's title is type "text": escaped once, by the XML

    def item_pubdate(self, item):
        return item.first_published_at


class PublicRssFeed(_AdvisoryFeed):
    """The latest TLP:CLEAR advisories, or those of a severity or higher (`severity` slug)."""

    feed_type = Rss201rev2Feed

    def get_object(self, request, severity: str | None = None):
        if severity is None:
            return None
        level = selectors.SEVERITY_SLUGS.get(severity)
        if level is None:
            raise Http404("No such severity.")
        return level

    def title(self, obj: AdvisorySeverity | None) -> str:
        if obj is None:
            return _("Security advisories (TLP:CLEAR) · %(portal)s") % {"portal": settings.PORTAL_NAME}
        return _("Security advisories of severity %(severity)s or higher (TLP:CLEAR) · %(portal)s") % {
            "severity": obj.label, "portal": settings.PORTAL_NAME}

    def description(self, obj) -> str:
        return _("The latest public (TLP:CLEAR) security advisories of the national CERT network of "
                 "%(country)s.") % {"country": settings.PORTAL_COUNTRY}

    def items(self, obj: AdvisorySeverity | None):
        return selectors.public_feed_advisories(obj)


class PublicAtomFeed(_AtomMixin, PublicRssFeed):
    pass


class PrivateRssFeed(_AdvisoryFeed):
    """A member's secret feed: everything they may read now, each item marked with its label. An
    unknown or revoked token, or a member who left or was deactivated, is answered 404."""

    feed_type = Rss201rev2Feed

    def __call__(self, request, *args, **kwargs):
        response = super().__call__(request, *args, **kwargs)
        # Private content behind a secret address: no shared cache keeps it, no index lists it.
        add_never_cache_headers(response)  # no-store, private
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response

    def get_object(self, request, token: str):
        user = feed_token_user(token)
        if user is None:
            raise Http404("No feed matches the given address.")
        return user

    def title(self, obj) -> str:
        return _("Advisories you may read · %(portal)s") % {"portal": settings.PORTAL_NAME}

    def description(self, obj) -> str:
        return _("Your private feed: every advisory you may read, each marked with its TLP label. "
                 "Do not share its address.")

    def items(self, obj):
        return selectors.readable_feed_advisories(obj)

    def item_link(self, item) -> str:
        # Public advisories at their public page; any other at the staff page (sign-in needed).
        return public_url(item) if item.tlp == Tlp.CLEAR else item.get_absolute_url()


class PrivateAtomFeed(_AtomMixin, PrivateRssFeed):
    pass
