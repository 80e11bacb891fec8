"""E-mail of published advisories to the people who may read them (issue 10, points 6 and 7).

Publishing queues `distribute(revision_id)` on commit (advisories.services._publish, through
advisories.tasks). It records one AdvisoryDelivery row per address that
advisories.access.distribution_recipients names at that moment (the key, revision and address,
is unique: running it again records nobody twice), then sends the pending rows. A row is claimed
with a conditional UPDATE before it is sent and marked sent after, so two workers at once, or a
task delivered twice, send each person one e-mail; a claim older than 10 minutes belongs to a
worker that died and is taken over. Before sending, access is asked again: someone who may no
longer read the advisory (moved CERT, unsubscribed, a stricter label since) is not sent it.

A failed send is recorded and tried again after 1, 2, 4 ... minutes, up to
NOTIFICATION_MAX_ATTEMPTS attempts (the settings of incidents.notifications), then the row is
marked failed with its last error, for administrators (advisories.admin). The schedule
"advisories: deliver e-mails" runs `deliver_pending` every minute for rows whose retry is due.

Every message says its TLP label first, in the subject and in the body's first line with the
label's sharing rule. Public subscribers get it in their language with a one-click unsubscribe
link (signed, in the body and as List-Unsubscribe with List-Unsubscribe-Post, RFC 8058); members
get a link to their subscription settings.
"""

from __future__ import annotations

import logging
import re
from time import monotonic

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from advisories import access
from advisories.models import AdvisoryDelivery, AdvisoryRevision, AdvisorySeverity
from advisories.subscriptions.services import unsubscribe_url
from incidents.notifications import failed_attempt, stale_claim
from incidents.text import single_line
from incidents.tlp import Tlp

logger = logging.getLogger(__name__)

# Rows read and sent per round; a pass goes on round after round until its time budget is used.
BATCH = 200

# The sharing rule of each label, in FIRST's words (TLP 2.0, shared/standards/tlp.json
# "expanded"), for the first line of every message.
TLP_RULES = {
    Tlp.CLEAR: gettext_lazy("Recipients can spread this to the world, there is no limit on "
                            "disclosure."),
    Tlp.GREEN: gettext_lazy("Limited disclosure, recipients can spread this within their "
                            "community."),
    Tlp.AMBER: gettext_lazy("Limited disclosure, recipients can only spread this on a "
                            "need-to-know basis within their organization and its clients."),
    Tlp.AMBER_STRICT: gettext_lazy("Limited disclosure, recipients can only spread this on a "
                                   "need-to-know basis within their organization."),
    Tlp.RED: gettext_lazy("For the eyes and ears of individual recipients only, no further "
                          "disclosure."),
}


def delivery_key(revision_id: int, email: str) -> str:
    return f"{revision_id}:{email}".lower()


def distribute(revision_id: int) -> int:
    """Record the e-mails of a published revision for its recipients now, then send those not
    yet sent; return how many this call sent. Idempotent: run twice (or by two workers at once),
    it sends each person one e-mail."""
    revision = (AdvisoryRevision.objects.select_related("advisory")
                .filter(pk=revision_id).first())
    if revision is None:
        logger.warning("advisory revision %s is gone: nothing to distribute", revision_id)
        return 0
    now = timezone.now()
    AdvisoryDelivery.objects.bulk_create([
        AdvisoryDelivery(key=delivery_key(revision.pk, recipient.email), revision=revision,
                         email=recipient.email, user_id=recipient.user_id,
                         subscriber_id=recipient.subscriber_id, created_at=now)
        for recipient in access.distribution_recipients(revision)
    ], ignore_conflicts=True)
    return deliver_pending(revision_id=revision.pk)


def time_budget() -> float:
    """How long one pass may send before it stops between rounds: a third of the task timeout,
    so that the worker never kills a pass mid-round (the schedule picks up the rest)."""
    timeout = getattr(settings, "Q_CLUSTER", {}).get("timeout", 60)
    return max(1, timeout // 3)


def _due(now, revision_id: int | None):
    rows = (AdvisoryDelivery.objects
            .filter(sent_at__isnull=True, failed_at__isnull=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - stale_claim())))
    if revision_id is not None:
        rows = rows.filter(revision_id=revision_id)
    return rows


def deliver_pending(*, revision_id: int | None = None) -> int:
    """Send every delivery that is due (of one revision, when given); return how many were sent.
    Never raises for a failed send: the row records the failure and when to try again."""
    now = timezone.now()
    started, budget = monotonic(), time_budget()
    sent, after = 0, 0
    while True:
        batch = list(_due(now, revision_id).filter(pk__gt=after)
                     .select_related("revision__advisory__author_cert", "subscriber")
                     .order_by("pk")[:BATCH])
        if not batch:
            return sent
        after = batch[-1].pk
        allowed = _still_allowed(batch)
        for delivery in batch:
            # Conditional on the row as read: another worker that claimed it, sent it, or
            # recorded a failed attempt since has changed one of these.
            if not (AdvisoryDelivery.objects
                    .filter(pk=delivery.pk, sent_at__isnull=True, failed_at__isnull=True,
                            claimed_at=delivery.claimed_at, attempts=delivery.attempts)
                    .update(claimed_at=now)):
                continue
            if delivery.pk not in allowed:
                AdvisoryDelivery.objects.filter(pk=delivery.pk).update(
                    failed_at=now, claimed_at=None,
                    last_error="Not sent: the recipient may no longer read this advisory, or "
                               "unsubscribed.")
                continue
            try:
                compose(delivery).send()
            except Exception as error:  # noqa: BLE001 - any failure is recorded and retried later
                _record_failure(delivery, error, now)
                continue
            AdvisoryDelivery.objects.filter(pk=delivery.pk).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1, last_error="")
            sent += 1
        if monotonic() - started >= budget:
            return sent


def _still_allowed(batch: list[AdvisoryDelivery]) -> set[int]:
    """The ids of the deliveries whose recipient may still read the advisory (access asked again
    at send time): one query per revision in the batch for members, none for subscribers."""
    allowed: set[int] = set()
    by_revision: dict[int, list[AdvisoryDelivery]] = {}
    for delivery in batch:
        by_revision.setdefault(delivery.revision_id, []).append(delivery)
    anyone = AnonymousUser()
    for deliveries in by_revision.values():
        revision = deliveries[0].revision
        advisory = revision.advisory
        user_ids = {delivery.user_id for delivery in deliveries if delivery.user_id is not None}
        readers = (set(access.readers_of(advisory).filter(pk__in=user_ids)
                       .values_list("pk", flat=True)) if user_ids else set())
        public = access.may_read(anyone, advisory) and revision.tlp == Tlp.CLEAR
        for delivery in deliveries:
            if delivery.user_id is not None:
                ok = delivery.user_id in readers
            else:
                ok = public and delivery.subscriber is not None and delivery.subscriber.is_active
            if ok:
                allowed.add(delivery.pk)
    return allowed


def _record_failure(delivery: AdvisoryDelivery, error: Exception, now) -> None:
    changes = failed_attempt(what="advisory e-mail", key=delivery.key, attempts=delivery.attempts,
                             error=error, title=delivery.revision.title, now=now)
    AdvisoryDelivery.objects.filter(pk=delivery.pk).update(**changes)


# --- the message ---------------------------------------------------------------------------

def _portal(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def advisory_link(revision: AdvisoryRevision) -> str:
    """The public page of a TLP:CLEAR advisory (it needs no sign-in, whoever reads the e-mail),
    the staff page otherwise. The paths stand in when the pages' URLs are not installed (they
    are another part of issue 10)."""
    advisory = revision.advisory
    public = advisory.tlp == Tlp.CLEAR and revision.tlp == Tlp.CLEAR
    try:
        path = (reverse("advisories:detail", args=[advisory.reference]) if public
                else advisory.get_absolute_url())
    except NoReverseMatch:
        path = (f"/advisories/{advisory.reference}/" if public
                else f"/dashboard/advisories/{advisory.reference}/")
    return _portal(path)


def _language(delivery: AdvisoryDelivery) -> str:
    codes = [code for code, _name in settings.LANGUAGES]
    if delivery.user_id is None and delivery.subscriber is not None:
        if delivery.subscriber.language in codes:
            return delivery.subscriber.language
    return settings.LANGUAGE_CODE


def subject_of(revision: AdvisoryRevision) -> str:
    """"[TLP:AMBER] PK-ADV-2026-0001: <title>": the label first, always (in the active language)."""
    title = single_line(revision.title)
    if revision.withdraws:
        title = _("Withdrawn: %(title)s") % {"title": title}
    elif (revision.number or 1) > 1:
        title = _("Updated: %(title)s") % {"title": title}
    return single_line(f"[{revision.tlp}] {revision.advisory.reference}: {title}")[:250]


def compose(delivery: AdvisoryDelivery) -> EmailMessage:
    """The e-mail of one delivery, in the recipient's language."""
    revision = delivery.revision
    advisory = revision.advisory
    public = delivery.user_id is None and delivery.subscriber is not None
    headers = {"Auto-Submitted": "auto-generated"}
    with translation.override(_language(delivery)):
        context = {
            "tlp": revision.tlp,
            "tlp_rule": TLP_RULES[Tlp(revision.tlp)],
            "reference": advisory.reference,
            "title": single_line(revision.title),
            "number": revision.number,
            "withdrawn": revision.withdraws,
            "change_summary": revision.change_summary,
            "severity": AdvisorySeverity(revision.severity).label,
            "cvss": [(name, score, vector) for name, score, vector in (
                ("CVSS v3.1", revision.cvss_v3_score, revision.cvss_v3_vector),
                ("CVSS v4.0", revision.cvss_v4_score, revision.cvss_v4_vector)) if vector],
            "published_at": timezone.localtime(revision.published_at or timezone.now()),
            "author": advisory.author_cert.name,
            "summary": revision.summary,
            "cve_ids": revision.cve_ids,
            "cwe": " ".join(part for part in (revision.cwe_id, revision.cwe_name) if part),
            "products": [" ".join(part for part in (item.get("vendor"), item.get("product"))
                                  if part) + (f" ({item['versions']})" if item.get("versions")
                                              else "")
                         for item in revision.products],
            "remedies": revision.remedies,
            "references": revision.references,
            "url": advisory_link(revision),
            "public": public,
            "portal": settings.PORTAL_NAME,
        }
        if public:
            context["unsubscribe_url"] = unsubscribe_url(delivery.subscriber)
            context["min_severity"] = AdvisorySeverity(delivery.subscriber.min_severity).label
            headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        else:
            context["settings_url"] = _portal(reverse("advisory_subscription_settings:edit"))
        subject = subject_of(revision)
        body = tidy(render_to_string("advisories/mail/advisory.txt", context))
    return EmailMessage(subject, body, None, [delivery.email], headers=headers)


def tidy(text: str) -> str:
    """Plain text from a template: no trailing spaces, at most one empty line in a row."""
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"
