"""The TAXII inbox (issue 11): indicators a partner sends become the observables of a new incident
of the key's CERT, source TAXII, through incidents.services (incident_create_with_observables).

The status resource is computed from that incident: its id is the incident's public id, and what
was stored is its observables. Which objects of the envelope could not be used is said in the
answer to the POST only (and in the incident's description).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from stix2patterns.pattern import ParseException, Pattern

from cert_portal.taxii import stix
from incidents.models import Incident, Source
from incidents.observables import ObservableType, normalise
from incidents.services.triage import incident_create_with_observables
from incidents.tlp import DEFAULT_INCIDENT_TLP, STRICTNESS, Tlp

MAX_OBJECTS = 1000
# STIX 2.1's TLP 1.0 markings, read as their TLP 2.0 labels.
TLP1_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
_BY_PATH = {(object_type, path.replace("'", "")): kind
            for kind, (object_type, path) in stix.PATTERN_PATHS.items()}


@dataclass
class Received:
    incident: Incident
    successes: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)


def _unquote(literal: str) -> str:
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'":
        raise ValueError
    return literal[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def observables_of(obj: dict) -> list[tuple[str, str]]:
    """The (type, normalised value) pairs an indicator's pattern or a vulnerability's CVE
    reference names; ValueError saying why there are none."""
    if obj.get("type") == "vulnerability":
        cves = [ref.get("external_id", "") for ref in obj.get("external_references") or []
                if isinstance(ref, dict) and ref.get("source_name") == "cve"]
        if not cves:
            raise ValueError("A vulnerability needs an external reference with source_name \"cve\".")
        return [(ObservableType.CVE, normalise(ObservableType.CVE, cve)) for cve in cves]
    if obj.get("type") != "indicator":
        raise ValueError("The inbox takes indicators (and vulnerabilities with a CVE ID) only.")
    if obj.get("pattern_type") != "stix" or not isinstance(obj.get("pattern"), str):
        raise ValueError("Only STIX patterns (pattern_type \"stix\") are read.")
    try:
        comparisons = Pattern(obj["pattern"]).inspect().comparisons
    except (ParseException, Exception) as error:  # the parser raises several kinds
        raise ValueError(f"The pattern does not parse: {error}") from None
    found = []
    for object_type, tests in comparisons.items():
        for path, operator, literal in tests:
            kind = _BY_PATH.get((object_type, ".".join(str(part) for part in path)))
            if kind is None or operator != "=":
                wanted = ", ".join(sorted({p[0] for p in _BY_PATH}))
                asked = f"{object_type}:{'.'.join(map(str, path))} {operator}"
                raise ValueError(f"Only equality on {wanted} values and file hashes is read, "
                                 f"not {asked}.")
            try:
                found.append((kind, normalise(kind, _unquote(literal))))
            except (ValueError, ValidationError) as error:
                message = " ".join(error.messages) if isinstance(error, ValidationError) else "bad literal"
                raise ValueError(f"{literal}: {message}") from None
    if not found:
        raise ValueError("The pattern names no observable.")
    return found


def _envelope_objects(body: bytes) -> list[dict]:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("The body is not JSON: send a TAXII envelope, {\"objects\": [...]}.") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
        raise ValidationError("Send a TAXII envelope: a JSON object with an \"objects\" list.")
    objects = envelope["objects"]
    if not objects:
        raise ValidationError("The envelope's \"objects\" list is empty.")
    if len(objects) > MAX_OBJECTS:
        raise ValidationError(f"At most {MAX_OBJECTS} objects per envelope; send the rest in another.")
    for number, obj in enumerate(objects, start=1):
        if not (isinstance(obj, dict) and isinstance(obj.get("type"), str)
                and isinstance(obj.get("id"), str) and obj["id"].startswith(f"{obj['type']}--")):
            raise ValidationError(f"Object {number} is not a STIX object: it needs \"type\" and an "
                                  f"\"id\" of the form <type>--<UUID>.")
    return objects


def receive(*, key, user, body: bytes) -> Received:
    """Read the envelope `body` sent with read-write `key`; open an incident of the key's CERT
    with the observables of the usable objects. ValidationError (nothing stored) when the
    envelope is malformed or no object is usable."""
    objects = _envelope_objects(body)
    observables: dict[tuple[str, str], None] = {}
    successes, failures = [], []
    tlp = None
    for obj in objects:
        version = obj.get("modified") or obj.get("created") or ""
        if obj["type"] in ("marking-definition", "identity", "extension-definition"):
            continue  # context for the indicators, not something to store
        try:
            pairs = observables_of(obj)
        except ValueError as error:
            failures.append({"id": obj["id"], "version": version, "message": str(error)})
            continue
        observables.update(dict.fromkeys(pairs))
        successes.append({"id": obj["id"], "version": version,
                          "message": f"Stored as {len(pairs)} observable(s)."})
        for marking in obj.get("object_marking_refs") or []:
            label = stix.TLP_BY_MARKING.get(marking) or TLP1_MARKINGS.get(marking)
            if label and (tlp is None or STRICTNESS[label] > STRICTNESS[tlp]):
                tlp = label
    if not observables:
        reasons = "; ".join(f"{f['id']}: {f['message']}" for f in failures) or "no indicators sent"
        raise ValidationError(f"No object of the envelope could be stored ({reasons}).")
    description = (f"Received over TAXII from the API key \"{key.name}\": {len(successes)} STIX "
                   f"object(s) stored, {len(failures)} not used.\n"
                   + "".join(f"\n- {s['id']}" for s in successes)
                   + "".join(f"\n- not used: {f['id']}: {f['message']}" for f in failures))
    incident = incident_create_with_observables(
        actor=user, owner_cert=key.cert, observables=list(observables),
        title=f"Indicators received over TAXII ({key.name})", classification="other",
        incident_type="undetermined", description=description, tlp=tlp or DEFAULT_INCIDENT_TLP,
        source=Source.TAXII)
    return Received(incident, successes, failures)


def status_of(incident: Incident, *, result: Received | None = None) -> dict:
    """The TAXII status resource of an inbox request: complete, with what was stored (the objects
    sent, on the POST's answer; the incident's observables as STIX ids, afterwards)."""
    if result is not None:
        successes, failures = result.successes, result.failures
    else:
        successes = [{"id": obj["id"], "version": obj["modified"]}
                     for obj in (stix.as_dict(stix.observable_object(row)) for row in
                                 incident.observables.select_related("incident__owner_cert"))]
        failures = []
    return {"id": str(incident.public_id), "status": "complete",
            "request_timestamp": stix.stix_time(incident.reported_at),
            "total_count": len(successes) + len(failures), "success_count": len(successes),
            "successes": successes, "failure_count": len(failures), "failures": failures,
            "pending_count": 0, "pendings": []}
