"""Load the demo advisories of advisories.demo, so that the public pages, the feeds and the CSAF
directory of a new portal are not empty (issue 10 point 9).

Every advisory is written, sent for review, approved, revised and withdrawn through
advisories.services, as the demo members named in advisories.demo and in that order, so its
revisions, grants, search rows and queued e-mails are exactly what the portal itself would have
written. Each step runs with the clock set to the day the entry names (`days_ago`), so that the
demo shows advisories published over the last weeks, not all in the same second; the services
read the time through django.utils.timezone.now, the seam the tests freeze too.

It loads the demo advisories that are not there yet (by title), so running it twice adds nothing.
An advisory drawn from a demo incident is linked to it when `load_demo_incidents` ran first.
"""

from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from advisories import access, services
from advisories.content import AdvisoryContent
from advisories.demo import DEMO_ADVISORIES, demo_titles
from advisories.models import Advisory, AdvisoryRevision, AdvisoryStatus
from cert_portal.audit.record import command_channel
from incidents.models import Incident
from incidents.tlp import Tlp
from organizations.models import Cert, Membership, Sector

MISSING_STRUCTURE = ("The demo advisories need the national structure and its demo users: run "
                     "`manage.py load_national_structure --demo` first.")


@contextmanager
def as_of(moment: datetime):
    """Run the block with django.utils.timezone.now answering `moment`."""
    real_now = timezone.now
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = real_now


class Command(BaseCommand):
    help = ("Publish demo advisories of every TLP label (one revised, one withdrawn, one waiting "
            "for review) through the advisory services, as the demo members. Needs "
            "`load_national_structure --demo`; links one to a demo incident when "
            "`load_demo_incidents` ran first. Does nothing if they are there already.")

    @command_channel
    def handle(self, *args, **options):
        existing = set(AdvisoryRevision.objects.filter(title__in=demo_titles())
                       .values_list("title", flat=True))
        missing = [entry for entry in DEMO_ADVISORIES if entry["content"]["title"] not in existing]
        if not missing:
            self.stdout.write(f"Demo advisories: {len(existing)} already there, nothing created.")
            return
        certs, users, sectors = self._prerequisites()
        incidents = {incident.title: incident for incident in Incident.objects.filter(
            title__in={entry["from_incident"] for entry in missing if entry.get("from_incident")})}
        now = timezone.now()
        loaded, notes = [], []
        try:
            with transaction.atomic():
                # Oldest first, so that the references follow the order of publication.
                for entry in sorted(missing, key=lambda entry: -entry["days_ago"]):
                    loaded.append(self._load(entry, now, certs, users, sectors, incidents, notes))
        except (ValidationError, access.ActionNotAllowed, Http404,
                services.AdvisoryConflictError) as error:
            raise CommandError(f"A demo advisory was refused, nothing was created: {error}") from None
        self._summary(loaded, kept=len(existing), notes=notes)

    def _prerequisites(self):
        """The CERTs, users and sectors the demo data names, or CommandError if any is missing."""
        slugs, usernames, sector_slugs = set(), set(), set()
        for entry in DEMO_ADVISORIES:
            slugs.add(entry["cert"])
            slugs.update(entry["content"].get("audience", ()))
            sector_slugs.update(entry["content"].get("sectors", ()))
            usernames.update({entry["author"], entry["approver"],
                              *entry["content"].get("readers", ())})
            for step in (entry.get("revise"), entry.get("withdraw")):
                if step:
                    usernames.add(step["by"])
                    usernames.update([step["approver"]] if "approver" in step else [])
        certs = {cert.slug: cert for cert in Cert.objects.filter(slug__in=slugs, is_active=True)}
        users = {user.username: user for user in get_user_model().objects.filter(
            username__in=usernames, pk__in=Membership.objects.values("user_id"))}
        sectors = {sector.slug: sector for sector in Sector.objects.filter(slug__in=sector_slugs)}
        missing = (sorted(slugs - set(certs)) + sorted(usernames - set(users))
                   + sorted(sector_slugs - set(sectors)))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                              else "")
            raise CommandError(f"Not in the registry: {shown}. {MISSING_STRUCTURE}")
        return certs, users, sectors

    def _content(self, fields: dict, certs, users, sectors, **extra) -> AdvisoryContent:
        values = {key: value for key, value in fields.items()
                  if key not in ("sectors", "audience", "readers")}
        values.update(
            sector_ids=[sectors[slug].pk for slug in fields.get("sectors", ())],
            audience_ids=[certs[slug].pk for slug in fields.get("audience", ())],
            reader_ids=[users[name].pk for name in fields.get("readers", ())], **extra)
        return AdvisoryContent(**values)

    def _load(self, entry, now, certs, users, sectors, incidents, notes) -> Advisory:
        day = now - timedelta(days=entry["days_ago"])
        author = users[entry["author"]]
        incident, extra = incidents.get(entry.get("from_incident")), {}
        if entry.get("from_incident"):
            if incident is None:
                notes.append(f"{entry['content']['title']!r} is not linked to an incident: "
                             "the demo incidents are not loaded (manage.py load_demo_incidents).")
            elif not access.may_draw_from_incident(author, incident):
                notes.append(f"{entry['content']['title']!r} is not linked to {incident.reference}: "
                             f"{author.username} no longer works it.")
                incident = None
            else:
                extra["indicators"] = [{"type": observable.type, "value": observable.value}
                                       for observable in incident.observables.all()]
        with as_of(day - timedelta(hours=3)):
            advisory = services.advisory_create(
                actor=author, cert=certs[entry["cert"]], source_incident=incident,
                content=self._content(entry["content"], certs, users, sectors, **extra))
        with as_of(day - timedelta(hours=2)):
            services.advisory_submit(actor=author, advisory=advisory)
        if entry.get("review_only"):
            return advisory
        with as_of(day):
            services.advisory_approve(actor=users[entry["approver"]], advisory=advisory)
        if revise := entry.get("revise"):
            self._revise(advisory, revise, now, certs, users, sectors)
        if withdraw := entry.get("withdraw"):
            with as_of(now - timedelta(days=withdraw["days_ago"])):
                services.advisory_withdraw(actor=users[withdraw["by"]], advisory=advisory,
                                           reason=withdraw["reason"])
        return advisory

    def _revise(self, advisory, revise, now, certs, users, sectors) -> None:
        day = now - timedelta(days=revise["days_ago"])
        by = users[revise["by"]]
        with as_of(day - timedelta(hours=2)):
            revision = services.advisory_revise(actor=by, advisory=advisory)
            content = services.content_of(revision)
            for name, value in revise["changes"].items():
                setattr(content, name, value)
            content.change_summary = revise["change_summary"]
            services.advisory_edit(actor=by, advisory=advisory, content=content)
        with as_of(day - timedelta(hours=1)):
            services.advisory_submit(actor=by, advisory=advisory)
        with as_of(day):
            services.advisory_approve(actor=users[revise["approver"]], advisory=advisory)

    def _summary(self, loaded: list[Advisory], *, kept: int, notes: list[str]) -> None:
        self.stdout.write(f"Demo advisories: {len(loaded)} created"
                          + (f" ({kept} already there)." if kept else "."))
        advisories = (Advisory.objects.filter(pk__in=[advisory.pk for advisory in loaded])
                      .select_related("source_incident").order_by("reference"))
        revisions = Counter(AdvisoryRevision.objects.filter(advisory__in=advisories,
                                                            number__isnull=False)
                            .values_list("advisory_id", flat=True))
        titles = dict(AdvisoryRevision.objects.filter(advisory__in=advisories)
                      .order_by("advisory_id", "pk").values_list("advisory_id", "title"))
        for advisory in advisories:
            status = AdvisoryStatus(advisory.status).label
            extra = [f"{revisions[advisory.pk]} revisions"] if revisions[advisory.pk] > 1 else []
            if advisory.source_incident:
                extra.append(f"from {advisory.source_incident.reference}")
            self.stdout.write(f"  {advisory.reference}  {Tlp(advisory.tlp).label:<16} "
                              f"{status:<10} {titles[advisory.pk]}"
                              + (f" ({', '.join(extra)})" if extra else ""))
        for note in notes:
            self.stdout.write(f"Note: {note}")
