"""Who may read and do what with advisories: the only place that decides it (DOMAIN.md §2, §5).

Readers see the latest published revision of an advisory (and its history) when:
- TLP:CLEAR: anyone, signed in or not;
- TLP:GREEN: every active user with a membership in an active CERT;
- TLP:AMBER, TLP:AMBER+STRICT: members of the author CERT and of the audience CERTs (group grants);
- TLP:RED: the named readers (user grants) and the author CERT.
The author CERT's members also see its drafts and revisions in review. Grants come from
advisories.grants; everything else (views, feeds, CSAF paths, e-mail recipients, the API) asks
here. An advisory the user may not read answers 404, like one that does not exist.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from advisories.grants import VIEW
from advisories.models import (
    Advisory,
    AdvisoryGroupObjectPermission,
    AdvisoryRevision,
    AdvisoryStatus,
    AdvisoryUserObjectPermission,
    RevisionState,
)
from incidents.access import _roles_by_group
from incidents.tlp import Tlp
from organizations.models import Cert, Membership, Role

READABLE_STATUSES = (AdvisoryStatus.PUBLISHED, AdvisoryStatus.WITHDRAWN)


class Action(StrEnum):
    READ = "read"  # the published text
    SEE_DRAFTS = "see_drafts"  # drafts and revisions in review, the editor's view
    EDIT = "edit"  # a draft revision's content
    SUBMIT = "submit"  # draft -> in review
    RETURN = "return"  # in review -> draft (the reviewer sends it back, or the author recalls it)
    APPROVE = "approve"  # in review -> published (four eyes)
    REVISE = "revise"  # start a new revision of a published advisory
    WITHDRAW = "withdraw"


_WRITERS = frozenset({Role.HEAD, Role.HANDLER, Role.ANALYST})
_HEADS = frozenset({Role.HEAD})
# Action: roles in the author CERT that may take it.
AUTHOR_CERT_RULES: dict[Action, frozenset[str]] = {
    Action.SEE_DRAFTS: frozenset(Role.values),
    Action.EDIT: _WRITERS,
    Action.SUBMIT: _WRITERS,
    Action.RETURN: _WRITERS,
    Action.APPROVE: _HEADS,
    Action.REVISE: _WRITERS,
    Action.WITHDRAW: _HEADS,
}


class ActionNotAllowed(Exception):
    """The user may see the advisory but not take this action; the message says why."""


def member_group_roles(user) -> dict[int, str]:
    """{group id: role} of the user's memberships in active CERTs (cached on the user)."""
    return _roles_by_group(user)


def is_member(user) -> bool:
    return bool(member_group_roles(user))


def public_advisories(queryset: QuerySet[Advisory] | None = None) -> QuerySet[Advisory]:
    """What anyone may read: published (or withdrawn) TLP:CLEAR advisories."""
    queryset = Advisory.objects.all() if queryset is None else queryset
    return queryset.filter(status__in=READABLE_STATUSES, tlp=Tlp.CLEAR)


def _grant_condition(user, group_ids) -> Q:
    by_group = Exists(AdvisoryGroupObjectPermission.objects.filter(
        content_object_id=OuterRef("pk"), group_id__in=list(group_ids), permission__codename=VIEW))
    by_user = Exists(AdvisoryUserObjectPermission.objects.filter(
        content_object_id=OuterRef("pk"), user_id=user.pk, permission__codename=VIEW))
    return Q(by_group) | Q(by_user)


def readable_advisories(user, queryset: QuerySet[Advisory] | None = None) -> QuerySet[Advisory]:
    """The published (or withdrawn) advisories `user` may read, as one query."""
    queryset = Advisory.objects.all() if queryset is None else queryset
    queryset = queryset.filter(status__in=READABLE_STATUSES)
    roles = member_group_roles(user)
    if not roles:
        # The public, and staff without an active membership (DOMAIN.md §1: they see public
        # pages only). A named reader of a TLP:RED advisory must still be a member.
        return queryset.filter(tlp=Tlp.CLEAR)
    return queryset.filter(Q(tlp__in=(Tlp.CLEAR, Tlp.GREEN)) | _grant_condition(user, roles))


def visible_advisories(user, queryset: QuerySet[Advisory] | None = None) -> QuerySet[Advisory]:
    """What the staff list shows a member: what they may read, and their CERTs' drafts."""
    queryset = Advisory.objects.all() if queryset is None else queryset
    roles = member_group_roles(user)
    if not roles:
        return queryset.none()
    author_groups = Q(author_cert__group_id__in=list(roles))
    return queryset.filter(Q(tlp__in=(Tlp.CLEAR, Tlp.GREEN), status__in=READABLE_STATUSES)
                           | author_groups
                           | (Q(status__in=READABLE_STATUSES) & _grant_condition(user, roles)))


def _author_role(user, advisory: Advisory) -> str | None:
    """The user's role in the advisory's author CERT (when active), or None."""
    roles = member_group_roles(user)
    if not roles:
        return None
    group_id = getattr(advisory.author_cert, "group_id", None) if advisory.author_cert_id else None
    return roles.get(group_id)


def may_see_drafts(user, advisory: Advisory) -> bool:
    """Whether `user` sees `advisory`'s drafts and revisions in review (a member of its author
    CERT, in any role): no query once the user's roles are read, so a list asks it per row."""
    return _author_role(user, advisory) is not None


def may_read(user, advisory: Advisory) -> bool:
    """Whether `user` may read the published text of `advisory`."""
    if advisory.status not in READABLE_STATUSES:
        return False
    if advisory.tlp == Tlp.CLEAR:
        return True
    roles = member_group_roles(user)
    if not roles:
        return False
    if advisory.tlp == Tlp.GREEN or _author_role(user, advisory):
        return True
    return readable_advisories(user, Advisory.objects.filter(pk=advisory.pk)).exists()


def allowed_actions(user, advisory: Advisory, revision: AdvisoryRevision | None = None) -> set[Action]:
    """Every action `user` may take on `advisory` now; `revision` is its open (draft or in
    review) revision, if it has one. Four eyes: nobody approves a revision they wrote or edited."""
    allowed: set[Action] = set()
    if may_read(user, advisory):
        allowed.add(Action.READ)
    role = _author_role(user, advisory)
    if role is None:
        return allowed
    allowed.update(action for action, roles in AUTHOR_CERT_RULES.items() if role in roles)
    if revision is None or revision.state == RevisionState.PUBLISHED:
        allowed -= {Action.EDIT, Action.SUBMIT, Action.RETURN, Action.APPROVE}
    else:
        allowed.discard(Action.REVISE)  # one open revision at a time
        if revision.state != RevisionState.DRAFT:
            allowed -= {Action.EDIT, Action.SUBMIT}
        if revision.state != RevisionState.IN_REVIEW:
            allowed -= {Action.RETURN, Action.APPROVE}
        if revision.was_written_by(user):
            allowed.discard(Action.APPROVE)
    if advisory.status != AdvisoryStatus.PUBLISHED:
        allowed -= {Action.REVISE, Action.WITHDRAW}
    return allowed


_REFUSALS = {
    Action.EDIT: "Only a draft can be edited, by a head, handler or analyst of the author CERT. "
                 "A published revision never changes: start a new revision.",
    Action.SUBMIT: "Only a draft can be sent for review, by a head, handler or analyst of the "
                   "author CERT.",
    Action.RETURN: "Only a revision in review can be sent back to its author.",
    Action.APPROVE: "A revision in review is approved by a head of the author CERT who neither "
                    "wrote nor edited it (four eyes).",
    Action.REVISE: "Only a published advisory can be revised, by a head, handler or analyst of "
                   "the author CERT, and only when no other revision is open.",
    Action.WITHDRAW: "Only a head of the author CERT can withdraw a published advisory.",
    Action.SEE_DRAFTS: "Only members of the author CERT see its drafts.",
    Action.READ: "You may not read this advisory.",
}


def require(user, advisory: Advisory, action: Action, revision: AdvisoryRevision | None = None) -> None:
    """Raise Http404 when the user may neither read the advisory nor see its drafts, and
    ActionNotAllowed (with the reason) when they may see it but not take `action`."""
    allowed = allowed_actions(user, advisory, revision)
    if not allowed & {Action.READ, Action.SEE_DRAFTS}:
        raise Http404("No advisory matches the given query.")
    if action not in allowed:
        raise ActionNotAllowed(_REFUSALS[action])


def get_visible_advisory(user, **lookup) -> Advisory:
    """The advisory, if `user` may read it or see its drafts; Http404 otherwise (also when it
    does not exist)."""
    advisory = (visible_advisories(user, Advisory.objects.select_related("author_cert",
                                                                         "current_revision"))
                .filter(**lookup).first())
    if advisory is None:
        raise Http404("No advisory matches the given query.")
    return advisory


def get_public_advisory(**lookup) -> Advisory:
    advisory = (public_advisories(Advisory.objects.select_related("author_cert", "current_revision"))
                .filter(**lookup).first())
    if advisory is None:
        raise Http404("No advisory matches the given query.")
    return advisory


def public_revisions(advisory: Advisory) -> QuerySet[AdvisoryRevision]:
    """The published revisions of `advisory` that anyone may read: those published under
    TLP:CLEAR, and only while the advisory itself is public. A revision that made a stricter
    advisory public (AMBER -> CLEAR) does not open its earlier revisions: they keep their label."""
    if advisory.status not in READABLE_STATUSES or advisory.tlp != Tlp.CLEAR:
        return AdvisoryRevision.objects.none()
    return advisory.revisions.filter(state=RevisionState.PUBLISHED, tlp=Tlp.CLEAR)


def readable_revisions(user, advisory: Advisory) -> list[AdvisoryRevision]:
    """The published revisions of `advisory` that `user` may read, newest first: the author CERT
    reads them all; anyone else who may read the advisory reads each revision only under that
    revision's own label and audience, so a revision that widened who reads the advisory (RED ->
    AMBER) does not open its earlier, stricter text. Two queries at most."""
    if not may_read(user, advisory):
        return []
    revisions = list(advisory.revisions.filter(state=RevisionState.PUBLISHED)
                     .select_related("author", "approved_by").order_by("-number"))
    if _author_role(user, advisory):
        return revisions
    my_certs: set[int] | None = None

    def readable(revision: AdvisoryRevision) -> bool:
        nonlocal my_certs
        if revision.tlp == Tlp.CLEAR or (revision.tlp == Tlp.GREEN and is_member(user)):
            return True
        if revision.tlp in (Tlp.AMBER, Tlp.AMBER_STRICT):
            if my_certs is None:
                my_certs = set(Cert.objects.filter(group_id__in=list(member_group_roles(user)),
                                                   is_active=True).values_list("pk", flat=True))
            return bool(my_certs & set(revision.audience_ids))
        return revision.tlp == Tlp.RED and is_member(user) and user.pk in revision.reader_ids

    return [revision for revision in revisions if readable(revision)]


def open_revision(advisory: Advisory) -> AdvisoryRevision | None:
    """The advisory's revision being written or reviewed, if any."""
    return (advisory.revisions.filter(state__in=(RevisionState.DRAFT, RevisionState.IN_REVIEW))
            .select_related("author", "last_edited_by").first())


def certs_that_may_author(user) -> QuerySet[Cert]:
    """The active CERTs in which `user` may start an advisory."""
    roles = member_group_roles(user)
    return Cert.objects.filter(group_id__in=[group for group, role in roles.items()
                                             if role in _WRITERS], is_active=True)


def may_author_for(user, cert: Cert) -> bool:
    """Whether `user` may start an advisory of `cert` (as `certs_that_may_author`, without a query
    once the user's roles are read)."""
    return cert.is_active and member_group_roles(user).get(cert.group_id) in _WRITERS


def may_author_somewhere(user) -> bool:
    """Whether `user` may start advisories in any active CERT (no query once the roles are read)."""
    return any(role in _WRITERS for role in member_group_roles(user).values())


def may_draw_from_incident(user, incident, *, incident_actions=None) -> bool:
    """Whether `user` may start an advisory from `incident`: they work it (incidents.access:
    change its status or add observables). One query, none when the caller passes the user's
    `incident_actions` (incidents.access.allowed_actions) it has read already."""
    from incidents.access import Action as IncidentAction
    from incidents.access import allowed_actions as incident_allowed_actions

    if incident_actions is None:
        incident_actions = incident_allowed_actions(user, incident)
    working = {IncidentAction.TRANSITION, IncidentAction.ADD_OBSERVABLE}
    return bool(set(incident_actions) & working)


def readers_of(advisory: Advisory) -> QuerySet:
    """The active users who may read `advisory` now (published or withdrawn), by the table above.

    The base of every recipient list (advisories.distribution): asked here like a page is."""
    User = get_user_model()
    if advisory.status not in READABLE_STATUSES:
        return User.objects.none()
    members = Membership.objects.filter(cert__is_active=True)
    if advisory.tlp in (Tlp.CLEAR, Tlp.GREEN):
        chosen = members
    elif advisory.tlp in (Tlp.AMBER, Tlp.AMBER_STRICT):
        cert_ids = [advisory.author_cert_id, *advisory.audience.values_list("pk", flat=True)]
        chosen = members.filter(cert_id__in=cert_ids)
    else:
        chosen = members.filter(cert_id=advisory.author_cert_id)
        named = advisory.readers.filter(
            is_active=True, memberships__cert__is_active=True).values("pk")
        return User.objects.filter(Q(pk__in=chosen.values("user_id")) | Q(pk__in=named),
                                   is_active=True).distinct()
    return User.objects.filter(pk__in=chosen.values("user_id"), is_active=True)


def certs_that_may_read(advisory: Advisory, cert_ids) -> set[int]:
    """Of these CERTs, those whose members may read `advisory` now as members of the CERT (not
    as named readers of a TLP:RED advisory, who are people): what a CERT's partner systems
    receive (webhooks, issue 11). Aligned with `readable_advisories`; two queries at most."""
    if advisory.status not in READABLE_STATUSES:
        return set()
    active = set(Cert.objects.filter(pk__in=set(cert_ids), is_active=True).values_list("pk", flat=True))
    if advisory.tlp in (Tlp.CLEAR, Tlp.GREEN) or not active:
        return active
    return set(AdvisoryGroupObjectPermission.objects.filter(
        content_object=advisory, group__cert__pk__in=active, permission__codename=VIEW,
    ).values_list("group__cert__pk", flat=True))


class DistributionRecipient(NamedTuple):
    """One address the e-mail of a published revision goes to: a member (`user_id`) or a public
    subscriber (`subscriber_id`). `email` is lower-cased."""

    email: str
    user_id: int | None
    subscriber_id: int | None


def distribution_recipients(revision: AdvisoryRevision) -> list[DistributionRecipient]:
    """Who receives the e-mail of the published `revision`, one entry per address, sorted.

    Aligned with `readers_of`, as Zulip's recipient functions are with `has_message_access`:
    recipients are derived from who may read the advisory, never chosen beside it, so nobody is
    sent what they may not read (issue 10, point 7).
    - Members: `readers_of(advisory)` with an e-mail address, when their MemberSubscription asks
      for it (advisories.subscriptions.rules.wants; no row: severity high or above).
    - TLP:RED: only its named readers (the label names people), each of them whatever their
      subscription says: the author addressed them by name, as an assignment is addressed, and
      there is no other way they would learn of it.
    - The public, for TLP:CLEAR only: confirmed, not unsubscribed PublicSubscribers whose
      minimum severity is at most the revision's.
    A revision that is not (or no longer) the advisory's current one goes to nobody: a later
    revision may have changed who reads the advisory, and the earlier text keeps its own label
    (the successor's e-mail tells the same people the newer text). A withdrawing revision goes to
    the same people as any other. A member who is also a subscriber is mailed once, as a member.
    At most five queries (besides loading revision.advisory), whatever the number of recipients.
    """
    from advisories.models import MemberSubscription, PublicSubscriber
    from advisories.subscriptions.rules import advisory_products, wants

    advisory = revision.advisory
    if (revision.state != RevisionState.PUBLISHED or advisory.current_revision_id != revision.pk
            or advisory.status not in READABLE_STATUSES):
        return []
    people = readers_of(advisory)
    if advisory.tlp == Tlp.RED:
        people = people.filter(pk__in=advisory.readers.values("pk"))
    members = list(people.exclude(email="").values_list(
        "pk", "email", "advisory_subscription__pk", "advisory_subscription__mode",
        "advisory_subscription__min_severity", "advisory_subscription__products"))
    sector_ids = list(revision.sectors.values_list("pk", flat=True))
    by_sector: set[int] = set()
    if sector_ids and members:
        by_sector = set(MemberSubscription.sectors.through.objects
                        .filter(sector_id__in=sector_ids,
                                membersubscription__mode=MemberSubscription.Mode.FILTERED)
                        .values_list("membersubscription_id", flat=True))
    pairs = advisory_products(revision.products)
    chosen: dict[str, DistributionRecipient] = {}
    named = advisory.tlp == Tlp.RED
    for user_id, email, subscription_id, mode, min_severity, products in members:
        if named or wants(mode=mode if subscription_id is not None else None, min_severity=min_severity,
                 products_text=products, sector_match=subscription_id in by_sector,
                 severity=revision.severity, pairs=pairs):
            chosen.setdefault(email.lower(), DistributionRecipient(email.lower(), user_id, None))
    if advisory.tlp == Tlp.CLEAR and revision.tlp == Tlp.CLEAR:
        for subscriber_id, email in PublicSubscriber.objects.filter(
                confirmed_at__isnull=False, unsubscribed_at__isnull=True,
                min_severity__lte=revision.severity).values_list("pk", "email"):
            chosen.setdefault(email.lower(), DistributionRecipient(email.lower(), None, subscriber_id))
    return sorted(chosen.values())
