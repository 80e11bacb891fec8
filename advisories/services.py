"""Every write of an advisory (issue 10): the dashboard, the API and the demo loader call these.

Each state change is a `check_*` (access and validation, no writes) and the write that follows
it; the write assumes its check passed. Workflow: draft -> in review -> published; a published
advisory is revised (a new draft revision, reviewed again) or withdrawn. The approver is a head
of the author CERT who neither wrote nor edited the revision (four eyes). Published revisions
never change (AdvisoryRevision.save refuses).
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from advisories import access
from advisories.access import Action
from advisories.content import AdvisoryContent, clean_content
from advisories.grants import sync_advisory_grants
from advisories.models import (
    Advisory,
    AdvisoryCve,
    AdvisoryProduct,
    AdvisoryRevision,
    AdvisoryStatus,
    RevisionState,
)
from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import record
from incidents.models import Incident
from incidents.services.lifecycle import next_reference
from incidents.tlp import Tlp, is_stricter
from organizations.models import Cert, Sector

CONTENT_FIELDS = ("title", "summary", "body_markdown", "body_html", "severity", "cvss_v3_vector",
                  "cvss_v3_score", "cvss_v4_vector", "cvss_v4_score", "cve_ids", "cwe_id",
                  "cwe_name", "products", "remedies", "references", "indicators", "tlp",
                  "audience_ids", "reader_ids", "change_summary")


class AdvisoryConflictError(Exception):
    """The advisory changed since the caller read it; nothing was written."""

    def __init__(self, advisory: Advisory):
        super().__init__(f"{advisory.reference} was changed by someone else since you opened it. "
                         "Reload it to see the change, then try again.")
        self.advisory = advisory


def reference_prefix() -> str:
    return getattr(settings, "ADVISORY_REFERENCE_PREFIX", "PK-ADV")


def next_advisory_reference(*, at) -> str:
    """Hand out the next reference, e.g. PK-ADV-2026-0042, unique under concurrent creation (the
    incidents' counter, with the advisories' prefix)."""
    return next_reference(at=at, prefix=reference_prefix(), digits=4)


# --- content -------------------------------------------------------------------------------

def check_content(*, author_cert: Cert, content: AdvisoryContent,
                  source_incident: Incident | None = None) -> dict:
    """Validate the content (advisories.content) and what only the database can tell: the
    audience CERTs and named readers exist and are active, the sectors exist, and an advisory
    drawn from an incident is at least as strict as the incident's TLP."""
    cleaned = clean_content(content)
    errors: dict[str, list[str]] = {}
    audience = [pk for pk in cleaned["audience_ids"] if pk != author_cert.pk]
    found = set(Cert.objects.filter(pk__in=audience, is_active=True).values_list("pk", flat=True))
    if set(audience) - found:
        errors["audience_ids"] = ["Choose audience CERTs from the registry's active CERTs."]
    cleaned["audience_ids"] = audience
    if cleaned["tlp"] in (Tlp.AMBER, Tlp.AMBER_STRICT) and not audience:
        # Allowed (the author CERT alone), but said, so that nobody publishes to nobody by mistake.
        pass
    readers = cleaned["reader_ids"]
    User = get_user_model()
    found = set(User.objects.filter(pk__in=readers, is_active=True,
                                    memberships__cert__is_active=True)
                .values_list("pk", flat=True))
    if set(readers) - found:
        errors["reader_ids"] = ["Named readers must be active members of an active CERT."]
    sectors = cleaned.pop("sector_ids")
    if len(set(Sector.objects.filter(pk__in=sectors).values_list("pk", flat=True))) != len(sectors):
        errors["sector_ids"] = ["Choose sectors from the list."]
    cleaned["sector_ids"] = sectors
    if source_incident is not None and is_stricter(source_incident.tlp, cleaned["tlp"]):
        errors["tlp"] = [f"This advisory is drawn from {source_incident.reference}, marked "
                         f"{source_incident.tlp}: choose that label or a stricter one."]
    if cleaned["tlp"] != Tlp.RED:
        cleaned["reader_ids"] = []
    if cleaned["tlp"] not in (Tlp.AMBER, Tlp.AMBER_STRICT):
        cleaned["audience_ids"] = []
    if errors:
        raise ValidationError(errors)
    return cleaned


def _write_content(revision: AdvisoryRevision, cleaned: dict, *, actor) -> None:
    sectors = cleaned["sector_ids"]
    for name in CONTENT_FIELDS:
        setattr(revision, name, cleaned[name])
    revision.last_edited_by = actor
    if actor is not None and actor.pk not in revision.editor_ids:
        revision.editor_ids = [*revision.editor_ids, actor.pk]
    revision.updated_at = timezone.now()
    revision.save()
    revision.sectors.set(sectors)


def _bump(advisory: Advisory, version: int | None, **changes) -> None:
    """Write `changes` to the advisory and bump its version, if it is still at `version` (when
    given): a conditional UPDATE, which holds on SQLite and PostgreSQL alike."""
    rows = Advisory.objects.filter(pk=advisory.pk)
    if version is not None:
        rows = rows.filter(version=version)
    if not rows.update(version=F("version") + 1, **changes):
        raise AdvisoryConflictError(advisory)
    advisory.refresh_from_db()


def _still_in(revision: AdvisoryRevision, state: str) -> None:
    """Raise AdvisoryConflictError unless the revision is still in `state` in the database.

    Asked after `_bump`, whose UPDATE holds the advisory's row lock until the commit on
    PostgreSQL: two people who passed their checks at the same moment (an approval and a return,
    two approvals, an edit and a submission) are serialised there, and the one who waited finds
    the revision no longer as its check saw it, even without a `version`. Without this, the second
    approval published the revision again and a return sent a published revision back to draft.
    """
    if not AdvisoryRevision.objects.filter(pk=revision.pk, state=state).exists():
        raise AdvisoryConflictError(revision.advisory)


# --- create and edit ----------------------------------------------------------------------

def check_advisory_create(*, actor, cert: Cert, content: AdvisoryContent,
                          source_incident: Incident | None = None) -> dict:
    if not access.certs_that_may_author(actor).filter(pk=cert.pk).exists():
        raise access.ActionNotAllowed(f"You may not write advisories for {cert.short_name}: "
                                      "heads, handlers and analysts of a CERT write its advisories.")
    if source_incident is not None:
        if not access.may_draw_from_incident(actor, source_incident):
            raise access.ActionNotAllowed(f"You may draw an advisory only from an incident you "
                                          f"work; {source_incident.reference} is not one.")
    return check_content(author_cert=cert, content=content, source_incident=source_incident)


def advisory_create(*, actor, cert: Cert, content: AdvisoryContent,
                    source_incident: Incident | None = None) -> Advisory:
    """Start an advisory of `cert` with its first revision as a draft."""
    cleaned = check_advisory_create(actor=actor, cert=cert, content=content,
                                    source_incident=source_incident)
    now = timezone.now()
    with transaction.atomic():
        advisory = Advisory.objects.create(
            reference=next_advisory_reference(at=now), author_cert=cert, tlp=cleaned["tlp"],
            source_incident=source_incident, created_by=actor, created_at=now)
        revision = AdvisoryRevision(advisory=advisory, author=actor, created_at=now, updated_at=now)
        _write_content(revision, cleaned, actor=actor)
        sync_advisory_grants([advisory.pk])
        _audit(advisory, actor, "create", tlp=advisory.tlp)
    return advisory


def check_advisory_edit(*, actor, advisory: Advisory,
                        content: AdvisoryContent) -> tuple[AdvisoryRevision, dict]:
    revision = access.open_revision(advisory)
    access.require(actor, advisory, Action.EDIT, revision)
    return revision, check_content(author_cert=advisory.author_cert, content=content,
                                   source_incident=advisory.source_incident)


def advisory_edit(*, actor, advisory: Advisory, content: AdvisoryContent,
                  version: int | None = None) -> AdvisoryRevision:
    """Change the draft revision's content. `version` is the advisory's version the editor read:
    a stale one raises AdvisoryConflictError and writes nothing."""
    revision, cleaned = check_advisory_edit(actor=actor, advisory=advisory, content=content)
    with transaction.atomic():
        _bump(advisory, version)
        _still_in(revision, RevisionState.DRAFT)
        _write_content(revision, cleaned, actor=actor)
        _audit(advisory, actor, "edit", tlp=revision.tlp)
    return revision


# --- review -------------------------------------------------------------------------------

def check_advisory_submit(*, actor, advisory: Advisory) -> AdvisoryRevision:
    revision = access.open_revision(advisory)
    access.require(actor, advisory, Action.SUBMIT, revision)
    return revision


def advisory_submit(*, actor, advisory: Advisory, version: int | None = None) -> AdvisoryRevision:
    """Send the draft revision to review by a head of the author CERT."""
    revision = check_advisory_submit(actor=actor, advisory=advisory)
    now = timezone.now()
    with transaction.atomic():
        changes = {} if advisory.is_published else {"status": AdvisoryStatus.IN_REVIEW}
        _bump(advisory, version, **changes)
        if not AdvisoryRevision.objects.filter(pk=revision.pk, state=RevisionState.DRAFT).update(
                state=RevisionState.IN_REVIEW, submitted_at=now, returned_reason=""):
            raise AdvisoryConflictError(advisory)  # see _still_in
        revision.refresh_from_db()
        _audit(advisory, actor, "submit")
    return revision


def check_advisory_return(*, actor, advisory: Advisory, reason: str) -> AdvisoryRevision:
    revision = access.open_revision(advisory)
    access.require(actor, advisory, Action.RETURN, revision)
    if revision.author_id != actor.pk and not reason.strip():
        raise ValidationError({"reason": ["Say what the author should change."]})
    return revision


def advisory_return(*, actor, advisory: Advisory, reason: str = "",
                    version: int | None = None) -> AdvisoryRevision:
    """Send the revision in review back to draft: the reviewer asks for changes (with a reason),
    or its author recalls it to change something."""
    revision = check_advisory_return(actor=actor, advisory=advisory, reason=reason)
    with transaction.atomic():
        changes = {} if advisory.is_published else {"status": AdvisoryStatus.DRAFT}
        _bump(advisory, version, **changes)
        if not AdvisoryRevision.objects.filter(pk=revision.pk, state=RevisionState.IN_REVIEW).update(
                state=RevisionState.DRAFT, returned_reason=reason.strip()[:5000]):
            raise AdvisoryConflictError(advisory)  # see _still_in
        revision.refresh_from_db()
        _audit(advisory, actor, "return", reason=revision.returned_reason[:300])
    return revision


def check_advisory_approve(*, actor, advisory: Advisory) -> AdvisoryRevision:
    revision = access.open_revision(advisory)
    access.require(actor, advisory, Action.APPROVE, revision)
    # The content was checked when written, but the registry may have changed since (an audience
    # CERT deactivated, a named reader gone): check it again against today's registry.
    check_content(author_cert=advisory.author_cert, content=content_of(revision),
                  source_incident=advisory.source_incident)
    return revision


def advisory_approve(*, actor, advisory: Advisory, version: int | None = None) -> AdvisoryRevision:
    """Approve the revision in review: it is published at once and distributed."""
    revision = check_advisory_approve(actor=actor, advisory=advisory)
    with transaction.atomic():
        _publish(advisory, revision, approved_by=actor, version=version)
        _audit(advisory, actor, "approve", revision=revision.number, tlp=advisory.tlp)
    return revision


def _publish(advisory: Advisory, revision: AdvisoryRevision, *, approved_by,
             version: int | None, status: str = AdvisoryStatus.PUBLISHED) -> None:
    """The publishing write: number the revision, make it current, copy who may read it to the
    advisory, refresh the search rows and the grants, and queue the e-mails on commit."""
    from advisories.tasks import enqueue_distribution
    from incidents.webhooks import record_advisory_published

    now = timezone.now()
    _bump(advisory, version, status=status, tlp=revision.tlp, current_revision_id=revision.pk,
          last_published_at=now, first_published_at=advisory.first_published_at or now,
          withdrawn_at=now if status == AdvisoryStatus.WITHDRAWN else None)
    _still_in(revision, revision.state)  # not published (or returned) by another head meanwhile
    number = (advisory.revisions.filter(state=RevisionState.PUBLISHED).count()) + 1
    revision.state = RevisionState.PUBLISHED
    revision.number = number
    revision.published_at = now
    revision.approved_by = approved_by
    revision.save(publishing=True, update_fields=["state", "number", "published_at", "approved_by"])
    advisory.audience.set(revision.audience_ids)
    advisory.readers.set(revision.reader_ids)
    AdvisoryCve.objects.filter(advisory=advisory).delete()
    AdvisoryCve.objects.bulk_create([AdvisoryCve(advisory=advisory, cve_id=cve)
                                     for cve in revision.cve_ids])
    AdvisoryProduct.objects.filter(advisory=advisory).delete()
    AdvisoryProduct.objects.bulk_create([
        AdvisoryProduct(advisory=advisory, vendor=item["vendor"].lower(),
                        product=item["product"].lower())
        for item in revision.products])
    sync_advisory_grants([advisory.pk])
    if status == AdvisoryStatus.PUBLISHED:
        # Issue 11: the CERTs' webhooks, in this transaction; who may read it is asked at delivery.
        record_advisory_published(advisory, revision, at=now)
    transaction.on_commit(lambda: enqueue_distribution(revision.pk))


def _audit(advisory: Advisory, actor, action: str, **detail) -> None:
    """The audit trail's ADVISORY_CHANGED event of a service write, in its transaction."""
    record(AuditKind.ADVISORY_CHANGED, actor=actor, obj=advisory,
           detail={"action": action, **detail})


def content_of(revision: AdvisoryRevision) -> AdvisoryContent:
    """The content of a stored revision, as an editor would send it back unchanged."""
    return AdvisoryContent(
        title=revision.title, summary=revision.summary, body_markdown=revision.body_markdown,
        severity=revision.severity, cvss_v3_vector=revision.cvss_v3_vector,
        cvss_v4_vector=revision.cvss_v4_vector, cve_ids=list(revision.cve_ids),
        cwe_id=revision.cwe_id, cwe_name=revision.cwe_name, products=list(revision.products),
        remedies=revision.remedies, references=list(revision.references),
        indicators=list(revision.indicators),
        sector_ids=list(revision.sectors.values_list("pk", flat=True)) if revision.pk else [],
        tlp=revision.tlp, audience_ids=list(revision.audience_ids),
        reader_ids=list(revision.reader_ids), change_summary=revision.change_summary)


# --- after publication --------------------------------------------------------------------

def check_advisory_revise(*, actor, advisory: Advisory) -> AdvisoryRevision:
    access.require(actor, advisory, Action.REVISE, access.open_revision(advisory))
    return advisory.current_revision


def advisory_revise(*, actor, advisory: Advisory, version: int | None = None) -> AdvisoryRevision:
    """Start a new revision of a published advisory: a draft with the current text, to change and
    send for review. Readers keep seeing the current revision until the new one is approved."""
    current = check_advisory_revise(actor=actor, advisory=advisory)
    now = timezone.now()
    content = content_of(current)
    content.change_summary = ""
    cleaned = asdict(content)
    cleaned.update(body_html=current.body_html, cvss_v3_score=current.cvss_v3_score,
                   cvss_v4_score=current.cvss_v4_score)
    with transaction.atomic():
        _bump(advisory, version)
        if advisory.status != AdvisoryStatus.PUBLISHED:  # withdrawn meanwhile (see _still_in)
            raise AdvisoryConflictError(advisory)
        revision = AdvisoryRevision(advisory=advisory, author=actor, created_at=now, updated_at=now)
        try:
            with transaction.atomic():
                _write_content(revision, cleaned, actor=actor)
        except IntegrityError:  # another revision was opened a moment ago
            raise AdvisoryConflictError(advisory) from None
        _audit(advisory, actor, "revise")
    return revision


def check_advisory_withdraw(*, actor, advisory: Advisory, reason: str) -> str:
    access.require(actor, advisory, Action.WITHDRAW, access.open_revision(advisory))
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": ["Say why the advisory is withdrawn: readers see it."]})
    if len(reason) > 480:
        raise ValidationError({"reason": ["At most 480 characters."]})
    return reason


def advisory_withdraw(*, actor, advisory: Advisory, reason: str,
                      version: int | None = None) -> AdvisoryRevision:
    """Withdraw a published advisory: a last revision, published at once by a head, that keeps
    the text and says why; readers and CSAF consumers see it withdrawn. An open draft revision
    is discarded (it was never published)."""
    reason = check_advisory_withdraw(actor=actor, advisory=advisory, reason=reason)
    current = advisory.current_revision
    now = timezone.now()
    cleaned = asdict(content_of(current))
    cleaned.update(body_html=current.body_html, cvss_v3_score=current.cvss_v3_score,
                   cvss_v4_score=current.cvss_v4_score, change_summary=f"Withdrawn: {reason}")
    with transaction.atomic():
        # Lock the advisory before discarding its open revision: a revision started, approved or
        # withdrawn meanwhile waits for this withdrawal, or is seen by it (see _still_in).
        status = (Advisory.objects.select_for_update().filter(pk=advisory.pk)
                  .values_list("status", flat=True).first())
        if status != AdvisoryStatus.PUBLISHED:
            raise AdvisoryConflictError(advisory)
        advisory.revisions.filter(state__in=(RevisionState.DRAFT, RevisionState.IN_REVIEW)).delete()
        revision = AdvisoryRevision(advisory=advisory, author=actor, created_at=now,
                                    updated_at=now, withdraws=True)
        _write_content(revision, cleaned, actor=actor)
        _publish(advisory, revision, approved_by=actor, version=version,
                 status=AdvisoryStatus.WITHDRAWN)
        _audit(advisory, actor, "withdraw", revision=revision.number, reason=reason)
    return revision
