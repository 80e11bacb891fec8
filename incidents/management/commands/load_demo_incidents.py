"""Load the demo incidents of incidents.demo, so that a newcomer sees a living portal.

Every incident is created and worked through incidents.services, acting as the demo members
(the system, actor None, only for reports from the public form; the newer ones are sent through
the public form's own service), so the timelines, grants, observables and notifications are
exactly what the portal itself would have written.

It loads the demo incidents that are not there yet (by title), so that a database made by an
earlier version gets the newer ones, and running it twice adds nothing. The in-app notices of
what the demo members did are written at once (incidents.notifications.write_pending_notices), so
that the dashboard shows unread notices from the first sign-in; their e-mails go out through the
outbox as always, when the portal's worker runs.
"""

from collections import Counter
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from cert_portal.audit.record import command_channel
from incidents import services
from incidents.access import ActionNotAllowed
from incidents.demo import DEMO_INCIDENTS, demo_titles
from incidents.models import Incident, IncidentGroupObjectPermission, Status
from incidents.notifications import write_pending_notices
from incidents.public.reports import submit_report
from incidents.services.links import incident_link
from incidents.services.tasks import task_add, task_set_done
from incidents.sla import run_sla_pass
from organizations.models import Cert, Membership, Sector

MISSING_STRUCTURE = ("The demo incidents need the national structure and its demo users: run "
                     "`manage.py load_national_structure --demo` first.")


class Command(BaseCommand):
    help = ("Create demo incidents in every status, at several levels of the CERT tree, some "
            "escalated, referred, shared or overdue. Needs `load_national_structure --demo`. "
            "Does nothing if the demo incidents are there already.")

    @command_channel
    def handle(self, *args, **options):
        existing = set(Incident.objects.filter(title__in=demo_titles())
                       .values_list("title", flat=True))
        missing = [entry for entry in DEMO_INCIDENTS if entry["title"] not in existing]
        if not missing:
            self.stdout.write(f"Demo incidents: {len(existing)} already there, nothing created.")
            return
        certs, users, sectors = self._prerequisites()
        try:
            with transaction.atomic():
                for entry in missing:
                    self._load(entry, certs, users, sectors)
                sla = run_sla_pass()
        except (ValidationError, ActionNotAllowed, Http404, services.ConflictError) as error:
            raise CommandError(f"A demo incident was refused, nothing was created: {error}") from None
        notices = write_pending_notices()
        self._summary(sla, created=len(missing), kept=len(existing), notices=notices)

    def _prerequisites(self):
        """The CERTs, users and sectors the demo data names, or CommandError if any is missing."""
        slugs, usernames = set(), set()
        for entry in DEMO_INCIDENTS:
            slugs.add(entry["owner"])
            if entry["created_by"]:
                usernames.add(entry["created_by"])
            for step in entry["story"]:
                usernames.add(step["by"])
                if step["do"] == "assign":
                    usernames.add(step["to"])
                elif step["do"] == "task" and step["assignee"]:
                    usernames.add(step["assignee"])
                elif step["do"] in ("escalate", "refer", "share") and step["to"]:
                    slugs.add(step["to"])
        certs = {cert.slug: cert for cert in Cert.objects.filter(slug__in=slugs)}
        users = {user.username: user for user in get_user_model().objects.filter(
            username__in=usernames, pk__in=Membership.objects.values("user_id"))}
        sectors = {sector.slug: sector for sector in Sector.objects.all()}
        missing = sorted(slugs - set(certs)) + sorted(usernames - set(users)) + sorted(
            {entry["sector"] for entry in DEMO_INCIDENTS if entry.get("sector")} - set(sectors))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                              else "")
            raise CommandError(f"Not in the registry: {shown}. {MISSING_STRUCTURE}")
        return certs, users, sectors

    def _load(self, entry, certs, users, sectors) -> Incident:
        now = timezone.now()
        details = {key: entry[key] for key in ("reporter_name", "reporter_email",
                                               "affected_organization", "region", "is_cii")
                   if key in entry}
        if entry.get("sector"):
            details["sector"] = sectors[entry["sector"]]
        for key in ("occurred", "detected"):
            if f"{key}_hours" in entry:
                details[f"{key}_at"] = now - timedelta(hours=entry[f"{key}_hours"])
        actor = users[entry["created_by"]] if entry["created_by"] else None
        if "report" in entry:
            incident = self._report(entry, details)
        else:
            incident = services.incident_create(
                actor=actor, owner_cert=certs[entry["owner"]], title=entry["title"],
                classification=entry["classification"], incident_type=entry["incident_type"],
                description=entry["description"], severity=entry["severity"], tlp=entry["tlp"],
                source=entry["source"], **details)
        for step in entry["story"]:
            self._step(incident, step, certs, users)
        if entry.get("age_hours"):
            self._age(incident, timedelta(hours=entry["age_hours"]))
        return incident

    def _report(self, entry, details) -> Incident:
        """A public report, sent through the public form's service: routed by the routing rules
        (`make run` loads them first), confirmed to the reporter, announced to its CERT."""
        answers = dict(entry["report"])
        answers.update({key: value for key, value in details.items()
                        if key in ("affected_organization", "region")})
        incident = submit_report(title=entry["title"], description=entry["description"],
                                 reporter_language="en", **answers).incident
        if incident.owner_cert.slug != entry["owner"]:
            raise CommandError(f"The demo report {entry['title']!r} was routed to "
                               f"{incident.owner_cert.slug}, not {entry['owner']}: load the "
                               "default routing rules first (manage.py load_routing_rules).")
        return incident

    def _step(self, incident, step, certs, users) -> None:
        actor = users[step["by"]]
        # Each step reads the incident as the person would: fresh, at its current version.
        incident.refresh_from_db()
        match step["do"]:
            case "status":
                services.incident_transition(incident=incident, actor=actor, to_status=step["to"],
                                             reason=step["reason"])
            case "assign":
                services.incident_assign(incident=incident, actor=actor, assignee=users[step["to"]])
            case "comment":
                services.incident_comment(incident=incident, actor=actor, body=step["body"],
                                          reporter_visible=step["reporter_visible"])
            case "escalate":
                services.incident_escalate(incident=incident, actor=actor,
                                           to_cert=certs[step["to"]] if step["to"] else None,
                                           reason=step["reason"])
            case "refer":
                services.incident_refer(incident=incident, actor=actor, to_cert=certs[step["to"]],
                                        reason=step["reason"])
            case "share":
                services.incident_share(incident=incident, actor=actor, cert=certs[step["to"]])
            case "tlp":
                services.incident_change_tlp(incident=incident, actor=actor, tlp=step["to"],
                                             reason=step["reason"])
            case "severity":
                services.incident_change_severity(incident=incident, actor=actor,
                                                  severity=step["to"])
            case "watch":
                services.incident_watch(incident=incident, actor=actor)
            case "seen":
                services.mark_incident_seen(incident=incident, user=actor)
            case "task":
                added = task_add(incident=incident, actor=actor, title=step["title"],
                                 assignee=users[step["assignee"]] if step["assignee"] else None)
                if step["done"]:
                    task_set_done(task=added, actor=actor, done=True)
            case "link":
                incident_link(incident=incident, actor=actor,
                              other=Incident.objects.get(title=step["to"]), reason=step["reason"])
            case other:
                raise CommandError(f"Unknown demo step {other!r} in {incident.title!r}.")

    @staticmethod
    def _age(incident, age: timedelta) -> None:
        """Move the incident's clocks `age` into the past.

        Demo data imitates incidents reported hours or days ago, but the services stamp
        everything with the current time. The clocks move (occurrence, detection, report, owner
        and acknowledgement times, the SLA deadlines, which keep their distance from them, and
        the ownership periods); the timeline stays as the services wrote it, since it is
        append-only. The SLA pass that follows, at the real current time, then escalates or flags
        these incidents exactly as the scheduler would in production. (Running the pass with a
        future `now` instead would stamp its escalations with that time and give the receiving
        CERTs deadlines that are wrong by the same amount.)
        """
        Incident.objects.filter(pk=incident.pk).update(
            reported_at=F("reported_at") - age, owner_since=F("owner_since") - age,
            ack_due_at=F("ack_due_at") - age, resolve_due_at=F("resolve_due_at") - age,
            acknowledged_at=F("acknowledged_at") - age, occurred_at=F("occurred_at") - age,
            detected_at=F("detected_at") - age, version=F("version") + 1)
        incident.ownerships.update(started_at=F("started_at") - age,
                                   ended_at=F("ended_at") - age)
        # The grants carry the report time for the lists' order (incidents.grants).
        IncidentGroupObjectPermission.objects.filter(content_object=incident).update(
            incident_reported_at=F("incident_reported_at") - age)

    def _summary(self, sla, *, created: int, kept: int, notices: int) -> None:
        incidents = Incident.objects.filter(title__in=demo_titles())
        by_status = Counter(incidents.values_list("status", flat=True))
        self.stdout.write(f"Demo incidents: {created} created"
                          + (f" ({kept} already there)." if kept else "."))
        for status in Status:
            self.stdout.write(f"  {status.label:<13} {by_status.get(status.value, 0)}")
        self.stdout.write(f"SLA pass: {sla.escalated} escalated, {sla.alerted_at_root} alerted at "
                          f"the root, {sla.resolution_missed} past their resolution deadline.")
        self.stdout.write(f"In-app notices: {notices} written (their e-mails go out when the "
                          "portal's worker runs).")
