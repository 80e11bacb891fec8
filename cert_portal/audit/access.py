"""Who may read the audit trail, and what each reader gets (issue 13, item 1).

The only place that decides it; the trail's pages ask here and render.

- A CERT's trail is read by its heads only (DOMAIN.md §1: a head answers for the CERT's members,
  keys and permissions): an active user who is a head of that active CERT. In the dashboard they
  must also have passed both factors (cert_portal.staff.staff_page) and be working as that CERT
  (the active CERT): a head of several CERTs reads one trail at a time, the one of the CERT they
  act as, so that a page never mixes two CERTs' records.
- `cert_trail`: what was done as the CERT (its members in the dashboard, its API keys, their
  sign-ins): the events whose `cert` is that CERT.
- `outside_views`: who outside the CERT looked at what it owns: the views of its incidents and
  protected advisories and the downloads of its attachments, made as another CERT (an ancestor
  through oversight, a CERT it shared with) or as no CERT at all. The CERT's own members' views
  are in its trail already.

A member of the CERT who is not a head is refused with a reason (`require_trail_reader` raises
ActionNotAllowed, which staff_page turns into the refused page), as the other head-only pages of
the active CERT do (API keys, webhooks): the page exists for every member and says who may read it.
Asked for a CERT the user does not head, `cert_trail` and `outside_views` raise Http404, the
answer to a page that does not exist: another CERT's trail is never named, even by a refusal.
A superuser gets nothing that a membership does not give (DOMAIN.md §1).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from cert_portal.audit.models import AuditEvent, AuditKind
from incidents.access import ActionNotAllowed
from organizations.models import Cert, Membership, Role

# The events that say someone was shown something a CERT owns.
VIEW_KINDS = (AuditKind.INCIDENT_VIEWED, AuditKind.ADVISORY_VIEWED,
              AuditKind.ATTACHMENT_DOWNLOADED)


def may_read_trail(user, cert: Cert) -> bool:
    """Whether `user` may read `cert`'s trail: an active user, head of the active `cert` (one
    query)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not cert.is_active:
        return False
    return Membership.objects.filter(user=user, cert=cert, role=Role.HEAD,
                                     cert__is_active=True).exists()


def require_trail_reader(request) -> Cert:
    """The CERT whose trail the dashboard request may read: the active CERT, when the member
    (signed in with both factors, see staff_page) is one of its heads. Raise ActionNotAllowed,
    with the reason, for any other member. Decided from the request's staff context: no query."""
    # staff_page set request.staff only after both factors; no staff context, no trail.
    staff = getattr(request, "staff", None)
    if staff is None:
        raise ActionNotAllowed(_("Only the heads of a CERT read its audit trail."))
    if staff.role != Role.HEAD:
        raise ActionNotAllowed(_("Only a head of %(cert)s reads its audit trail.") % {
            "cert": staff.cert.name})
    return staff.cert


def _require(user, cert: Cert) -> None:
    if not may_read_trail(user, cert):
        raise Http404("No audit trail at this address.")


def cert_trail(user, cert: Cert) -> QuerySet[AuditEvent]:
    """The events done as `cert` (by its members, its keys; their sign-ins), newest first.
    Http404 unless `user` may read `cert`'s trail."""
    _require(user, cert)
    return AuditEvent.objects.filter(cert=cert).order_by("-at", "-id")


def outside_views(user, cert: Cert) -> QuerySet[AuditEvent]:
    """The views of `cert`'s incidents and protected advisories, and downloads of its
    attachments, made as another CERT or as none, newest first. Http404 unless `user` may read
    `cert`'s trail."""
    _require(user, cert)
    # exclude() keeps the events with no CERT (cert IS NULL): SQL's "cert_id <> x" would not.
    return (AuditEvent.objects.filter(object_cert=cert, kind__in=VIEW_KINDS)
            .exclude(cert=cert).order_by("-at", "-id"))


__all__ = ["VIEW_KINDS", "cert_trail", "may_read_trail", "outside_views", "require_trail_reader"]
