"""Demo incidents for `make run` (loaded by `manage.py load_demo_incidents`).

Made-up incidents in Pakistan, spread over the tree (local, provincial, government, sectoral, CII,
national and organizational CERTs), every status, all five TLP labels, and a short story each:
what the demo members of organizations.national_structure.DEMO_MEMBERS did with it, in order,
through incidents.services. A few are aged (`age_hours`): their clocks are moved into the past
after the story, so that the SLA pass escalates or flags them as it would in production.

The later ones (issue 9) fill every tab of the staff dashboard for the Lahore handler, the Punjab
handler above them and the national handler: work assigned to them, new and unassigned work,
overdue work, work escalated, referred, shared and handed over, public reports waiting in triage
(sent through the public form's own service, `report`), tasks, related incidents, observables
seen in several incidents, and incidents they watch, with unread notices of what others did.

Every organization, person, address and indicator here is invented. Domains and addresses are
reserved for documentation only (RFC 2606 / RFC 6761 `example` names, RFC 5737 192.0.2.0/24,
198.51.100.0/24 and 203.0.113.0/24), and indicators are written defanged, as reporters do.
"""

from __future__ import annotations

from incidents.models import Source, Status
from incidents.severity import Severity
from incidents.tlp import Tlp

# Story steps: (action, actor username, arguments). The loader runs them in order; the actor is
# always a demo member allowed to take the action, as a person using the portal would be.


def ack(by: str) -> dict:
    return {"do": "status", "by": by, "to": Status.ACKNOWLEDGED, "reason": ""}


def move(by: str, to: str, reason: str = "") -> dict:
    return {"do": "status", "by": by, "to": to, "reason": reason}


def assign(by: str, to: str) -> dict:
    return {"do": "assign", "by": by, "to": to}


def comment(by: str, body: str, *, reporter_visible: bool = False) -> dict:
    return {"do": "comment", "by": by, "body": body, "reporter_visible": reporter_visible}


def escalate(by: str, reason: str, *, to: str | None = None) -> dict:
    return {"do": "escalate", "by": by, "to": to, "reason": reason}


def refer(by: str, to: str, reason: str) -> dict:
    return {"do": "refer", "by": by, "to": to, "reason": reason}


def share(by: str, with_cert: str) -> dict:
    return {"do": "share", "by": by, "to": with_cert}


def change_tlp(by: str, tlp: str, reason: str) -> dict:
    return {"do": "tlp", "by": by, "to": tlp, "reason": reason}


def change_severity(by: str, severity: int) -> dict:
    return {"do": "severity", "by": by, "to": severity}


def watch(by: str) -> dict:
    return {"do": "watch", "by": by}


def seen(by: str) -> dict:
    """The member opens the incident: what others do after it is new to them."""
    return {"do": "seen", "by": by}


def task(by: str, title: str, *, assignee: str | None = None, done: bool = False) -> dict:
    return {"do": "task", "by": by, "title": title, "assignee": assignee, "done": done}


def link(by: str, other_title: str, reason: str) -> dict:
    """Mark the incident titled `other_title` (loaded earlier) as related."""
    return {"do": "link", "by": by, "to": other_title, "reason": reason}


# Keys: title, classification, incident_type, severity, tlp, owner (CERT slug), created_by (a demo
# username, or None for a report from the public form), source, description, and optionally
# reporter_name / reporter_email, affected_organization, sector (slug), region, is_cii,
# occurred_hours (before the report), detected_hours (before the report), story, age_hours.
# A public report sent through the form's own service instead has `report` (the form's answers:
# submission_key, category, and optionally is_public_body, region, reporter_email,
# reporter_consents_to_contact); the routing rules then choose its owner, which `owner` names.
DEMO_INCIDENTS: list[dict] = [
    {
        "title": "SMS phishing campaign against Example Bank customers",
        "classification": "fraud", "incident_type": "phishing",
        "severity": Severity.HIGH, "tlp": Tlp.GREEN,
        "owner": "national", "created_by": "national.handler", "source": Source.STAFF,
        "affected_organization": "Example Bank Limited", "sector": "banking", "is_cii": True,
        "occurred_hours": 20, "detected_hours": 6,
        "description": (
            "Customers of Example Bank received SMS messages saying their account would be "
            "blocked unless they 'verify' it at hxxp://login-secure[.]example/verify. The page "
            "copies the bank's internet banking login and asks for the one-time password. "
            "The phishing kit is hosted on 203.0.113.7; stolen credentials are posted to "
            "hxxps://collect.examplebank-verify[.]example/gate.php. Sender IDs rotate between "
            "short codes.\n\nReported to the national triage desk by the bank's fraud team."
        ),
        "story": [
            refer("national.handler", "banking",
                  "Banking sector matter: BNK-CERT coordinates with the bank and SBP."),
            ack("banking.handler"),
            assign("banking.handler", "banking.handler"),
            comment("banking.handler", "Takedown requested for login-secure[.]example with the "
                                       "hosting provider of 203.0.113.7."),
            share("banking.handler", "telecom"),
            move("banking.handler", Status.IN_PROGRESS),
            comment("banking.liaison", "State Bank of Pakistan informed; customer advisory "
                                       "agreed with the bank."),
            move("banking.handler", Status.RESOLVED,
                 "Phishing site taken down, sender IDs blocked, advisory published."),
            move("banking.head", Status.CLOSED, "No new reports for 72 hours."),
        ],
    },
    {
        "title": "Ransomware on file servers of a Punjab government department",
        "classification": "malicious-code", "incident_type": "infected-system",
        "severity": Severity.SEVERE, "tlp": Tlp.AMBER_STRICT,
        "owner": "punjab", "created_by": "punjab.handler", "source": Source.STAFF,
        "affected_organization": "Excise, Taxation and Narcotics Control Department (demo)",
        "region": "PK-PB", "occurred_hours": 10, "detected_hours": 3,
        "description": (
            "Shared drives of the department's head office were encrypted overnight; files carry "
            "the extension .locked and a ransom note points to a Tor site. The first encrypted "
            "host was 192.0.2.41; the operators used a remote access tool that called out to "
            "198.51.100.23:443. Sample SHA-256 of the encryptor: "
            "3f5a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.\n\n"
            "Backups of the last week are offline and believed intact."
        ),
        "story": [
            ack("punjab.handler"),
            assign("punjab.head", "punjab.handler"),
            move("punjab.handler", Status.IN_PROGRESS),
            comment("punjab.handler", "Affected servers isolated. Restoring from the offline "
                                      "backups; domain controller rebuild still pending."),
        ],
        # Four days old with a three-day resolution target: the SLA pass flags it overdue.
        "age_hours": 4 * 24,
    },
    {
        "title": "Defacement of the Rawalpindi district government website",
        "classification": "information-content-security",
        "incident_type": "unauthorised-information-modification",
        "severity": Severity.MEDIUM, "tlp": Tlp.CLEAR,
        "owner": "rawalpindi", "created_by": None, "source": Source.PUBLIC_FORM,
        "reporter_name": "A concerned citizen", "reporter_email": "citizen@example.com",
        "region": "PK-PB", "occurred_hours": 3,
        "description": (
            "The home page of hxxp://rawalpindi.gov[.]example/ shows a political message and an "
            "image instead of the district's notices. The page also loads a script from "
            "hxxp://cdn.deface-crew[.]example/x.js."
        ),
        "story": [],
        # Nobody acknowledged it in 24 hours (the district CERT has no staff in the demo): the SLA
        # pass escalates it to the Punjab Government CERT.
        "age_hours": 30,
    },
    {
        "title": "DDoS against Example Telecom's DNS resolvers",
        "classification": "availability", "incident_type": "ddos",
        "severity": Severity.SEVERE, "tlp": Tlp.AMBER,
        "owner": "telecom", "created_by": "telecom.handler", "source": Source.STAFF,
        "affected_organization": "Example Telecom Limited", "sector": "telecom", "is_cii": True,
        "occurred_hours": 2, "detected_hours": 2,
        "description": (
            "UDP floods of up to 80 Gbit/s against the recursive resolvers 192.0.2.53 and "
            "192.0.2.54 since 02:10. Traffic comes mostly from open DNS and memcached reflectors; "
            "top sources include 203.0.113.99 and 198.51.100.77. Customers report failing name "
            "resolution in Karachi and Lahore."
        ),
        "story": [
            ack("telecom.handler"),
            assign("telecom.handler", "telecom.handler"),
            move("telecom.handler", Status.IN_PROGRESS),
            comment("telecom.handler", "Upstream scrubbing enabled; two other operators see the "
                                       "same reflectors."),
            escalate("telecom.handler", "Several operators affected: needs CII-CERT coordination."),
            ack("cii.handler"),
            share("cii.handler", "banking"),
            comment("cii.handler", "Shared with BNK-CERT: card payment switches depend on these "
                                   "resolvers."),
        ],
    },
    {
        "title": "Malware beaconing from engineering workstations at an oil and gas company",
        "classification": "malicious-code", "incident_type": "infected-system",
        "severity": Severity.HIGH, "tlp": Tlp.AMBER,
        "owner": "cii", "created_by": "cii.handler", "source": Source.STAFF,
        "affected_organization": "Example Oil & Gas Company (demo)", "sector": "oil-gas",
        "is_cii": True, "occurred_hours": 72, "detected_hours": 12,
        "description": (
            "Network monitoring at the company's pipeline control centre shows three engineering "
            "workstations beaconing every 60 seconds to update-check[.]example "
            "(resolving to 198.51.100.23). The dropper arrived as an e-mail attachment; MD5 "
            "d41d8cd98f00b204e9800998ecf8427e. No traffic to the control network was seen."
        ),
        "story": [
            ack("cii.handler"),
            assign("cii.head", "cii.handler"),
            move("cii.handler", Status.IN_PROGRESS),
            comment("cii.handler", "Workstations re-imaged; domain and IP blocked at the "
                                   "perimeter. Indicators sent to the sector."),
            move("cii.handler", Status.RESOLVED, "Clean for 48 hours after re-imaging."),
        ],
    },
    {
        "title": "Citizen records leaked from a federal registry API",
        "classification": "information-content-security", "incident_type": "data-leak",
        "severity": Severity.SEVERE, "tlp": Tlp.RED,
        "owner": "federal", "created_by": "federal.handler", "source": Source.STAFF,
        "affected_organization": "Federal Data Registry (demo entity)", "region": "PK-IS",
        "occurred_hours": 96, "detected_hours": 8,
        "description": (
            "A forum post offers a sample of citizen records (names, identity numbers, addresses) "
            "said to come from the registry's verification API. The sample matches records "
            "queried from 203.0.113.150 through hxxps://api.registry[.]example/v2/verify with a "
            "partner's API key. Contact of the poster: seller@leakmarket.example."
        ),
        "story": [
            ack("federal.handler"),
            assign("federal.handler", "federal.handler"),
            comment("federal.handler", "Partner API key revoked; rate limits tightened."),
            escalate("federal.handler", "National impact: PK-CERT to coordinate the response.",
                     to="national"),
            ack("national.head"),
            assign("national.head", "national.handler"),
            comment("national.handler", "Forum post reported for removal; preparing the "
                                        "notification to affected citizens."),
        ],
    },
    {
        "title": "Exposed RDP on Lahore Metropolitan Corporation servers",
        "classification": "vulnerable", "incident_type": "potentially-unwanted-accessible",
        "severity": Severity.MEDIUM, "tlp": Tlp.GREEN,
        "owner": "lahore", "created_by": None, "source": Source.PUBLIC_FORM,
        "reporter_name": "Independent researcher", "reporter_email": "researcher@example.org",
        "region": "PK-PB",
        "description": (
            "Remote Desktop (3389/tcp) is reachable from the internet on 192.0.2.10 and "
            "192.0.2.11, both answering with certificates for mcl-fs01.lahore.gov.example. "
            "One of them looks unpatched for CVE-2019-0708."
        ),
        "story": [
            ack("lahore.handler"),
            assign("lahore.handler", "lahore.analyst"),
            comment("lahore.handler", "Thank you for the report: we are taking these services "
                                      "off the internet.", reporter_visible=True),
            move("lahore.handler", Status.IN_PROGRESS),
            comment("lahore.analyst", "Both hosts moved behind the VPN; patches applied."),
            move("lahore.handler", Status.RESOLVED, "RDP no longer reachable from outside."),
            comment("lahore.handler", "Fixed: RDP is no longer reachable from the internet.",
                    reporter_visible=True),
            move("lahore.handler", Status.CLOSED),
        ],
    },
    {
        "title": "Scanning of the Sindh government VPN gateway",
        "classification": "information-gathering", "incident_type": "scanner",
        "severity": Severity.LOW, "tlp": Tlp.CLEAR,
        "owner": "sindh", "created_by": "sindh.handler", "source": Source.STAFF,
        "region": "PK-SD",
        "description": (
            "The firewall logged port scans of the VPN gateway vpn.sindh.gov.example from "
            "198.51.100.44 over two hours."
        ),
        "story": [
            ack("sindh.handler"),
            comment("sindh.handler", "Internet background noise; the address is already blocked."),
            move("sindh.handler", Status.REJECTED, "Not an incident: routine scanning, blocked."),
        ],
    },
    {
        "title": "E-mails impersonating the Federal Board of Revenue with a fake refund link",
        "classification": "fraud", "incident_type": "phishing",
        "severity": Severity.MEDIUM, "tlp": Tlp.CLEAR,
        "owner": "national", "created_by": None, "source": Source.PUBLIC_FORM,
        "description": (
            "I received an e-mail from refunds@fbr-refund.example saying I am owed a tax refund, "
            "with a link to hxxp://fbr-refund[.]example/claim?id=88231 that asks for my card "
            "number. (Reported anonymously.)"
        ),
        "story": [],
        # Unacknowledged for a day and a half at the root of the tree: the SLA pass alerts the
        # national duty handlers (there is no CERT above to escalate to).
        "age_hours": 36,
    },
    {
        "title": "Password spraying against Example Bank internet banking",
        "classification": "intrusion-attempts", "incident_type": "brute-force",
        "severity": Severity.MEDIUM, "tlp": Tlp.AMBER,
        "owner": "example-bank-soc", "created_by": "bank-soc.analyst", "source": Source.STAFF,
        "affected_organization": "Example Bank Limited", "sector": "banking", "is_cii": True,
        "detected_hours": 1,
        "description": (
            "About 40,000 failed logins in an hour against hxxps://ibank.examplebank[.]example/, "
            "a few attempts per customer ID, from residential proxies; the most active were "
            "203.0.113.200 and 203.0.113.201."
        ),
        "story": [
            comment("bank-soc.analyst", "Rate limiting tightened; 12 accounts locked as a "
                                        "precaution."),
        ],
    },
    {
        "title": "Compromised accounts on the Lahore e-payment portal",
        "classification": "intrusions", "incident_type": "unprivileged-account-compromise",
        "severity": Severity.HIGH, "tlp": Tlp.AMBER,
        "owner": "punjab", "created_by": "punjab.handler", "source": Source.STAFF,
        "affected_organization": "Metropolitan Corporation Lahore", "region": "PK-PB",
        "detected_hours": 5,
        "description": (
            "Citizens report property-tax payments made from their portal accounts without their "
            "knowledge. Logins came from 192.0.2.77; payouts went to accounts registered with "
            "mule.account@example.net."
        ),
        "story": [
            refer("punjab.handler", "lahore", "The portal is run by the Lahore CERT's "
                                              "constituency."),
            ack("lahore.handler"),
            assign("lahore.handler", "lahore.analyst"),
            move("lahore.handler", Status.IN_PROGRESS),
            comment("lahore.analyst", "Forced password reset for 312 accounts; reviewing the "
                                      "login logs."),
        ],
        # Eight days old with a seven-day resolution target: flagged overdue, still with Lahore.
        "age_hours": 8 * 24,
    },
    {
        "title": "Open DNS resolvers at Example Telecom used for amplification",
        "classification": "vulnerable", "incident_type": "ddos-amplifier",
        "severity": Severity.LOW, "tlp": Tlp.CLEAR,
        "owner": "telecom", "created_by": "telecom.handler", "source": Source.STAFF,
        "affected_organization": "Example Telecom Limited", "sector": "telecom",
        "description": (
            "A scan of the sector's address space found open resolvers at 198.51.100.10 and "
            "198.51.100.11 answering ANY queries from the internet."
        ),
        "story": [
            refer("telecom.handler", "example-telecom-csirt",
                  "The operator's own CSIRT owns these hosts."),
        ],
    },
    {
        "title": "Staff records of a Punjab health authority posted on a paste site",
        "classification": "information-content-security", "incident_type": "data-leak",
        "severity": Severity.HIGH, "tlp": Tlp.AMBER,
        "owner": "punjab", "created_by": "punjab.handler", "source": Source.STAFF,
        "affected_organization": "Punjab health authority (demo)", "region": "PK-PB",
        "occurred_hours": 48, "detected_hours": 10,
        "description": (
            "A paste at hxxps://paste[.]example/r/7fQk2 lists names, phone numbers and payroll "
            "numbers of about 1,800 staff. The file was exported from the HR system at "
            "hr.health.punjab.example; the exporting account logged in from 203.0.113.64."
        ),
        "story": [
            ack("punjab.handler"),
            assign("punjab.handler", "punjab.handler"),
            share("punjab.handler", "federal"),
            move("punjab.handler", Status.IN_PROGRESS),
            comment("punjab.handler", "Paste removed; the HR account's password reset and MFA "
                                      "enforced."),
            move("punjab.handler", Status.RESOLVED, "Source found and closed; paste removed."),
            change_tlp("punjab.head", Tlp.GREEN,
                       "Lessons learned shared with the provincial departments."),
            move("punjab.head", Status.CLOSED),
        ],
    },
    {
        "title": "Exploitation attempts against government e-mail gateways (CVE-2023-4966)",
        "classification": "intrusion-attempts", "incident_type": "exploit",
        "severity": Severity.HIGH, "tlp": Tlp.AMBER,
        "owner": "sindh", "created_by": "sindh.handler", "source": Source.STAFF,
        "region": "PK-SD", "detected_hours": 4,
        "description": (
            "The Sindh e-mail gateway mail.sindh.gov.example received requests matching "
            "CVE-2023-4966 from 203.0.113.50 and 203.0.113.51. The gateway was patched; no "
            "session tokens appear to have leaked."
        ),
        "story": [
            ack("sindh.handler"),
            escalate("sindh.handler", "The same sources hit other provinces: G-CERT should "
                                      "coordinate."),
            ack("government.handler"),
            share("government.handler", "punjab"),
            share("government.handler", "khyber-pakhtunkhwa"),
            move("government.handler", Status.IN_PROGRESS),
            comment("government.handler", "Advisory sent to all provincial CERTs with the "
                                          "source addresses."),
            comment("sindh.handler", "No further hits on our gateway since the block."),
        ],
    },
]


# --- Issue 9: every tab of the dashboard for lahore.handler, punjab.handler and national.handler ---

DEMO_INCIDENTS += [
    {
        "title": "Credential phishing against Lahore Electric Supply Company staff",
        "classification": "fraud", "incident_type": "phishing",
        "severity": Severity.HIGH, "tlp": Tlp.GREEN,
        "owner": "lahore", "created_by": "lahore.handler", "source": Source.STAFF,
        "affected_organization": "Lahore Electric Supply Company (demo)", "region": "PK-PB",
        "detected_hours": 3,
        "description": (
            "Staff received e-mails from hr-notice@lesco-mail.example asking them to re-validate "
            "their mailbox at hxxp://mailbox-check.lesco-mail[.]example/owa. The page posts the "
            "passwords to 192.0.2.77, the address that logged in to the e-payment portal "
            "accounts."
        ),
        "story": [
            seen("lahore.handler"),
            ack("lahore.handler"),
            assign("lahore.handler", "lahore.handler"),
            move("lahore.handler", Status.IN_PROGRESS),
            task("lahore.handler", "Pull the phishing e-mails from the mail gateway",
                 assignee="lahore.analyst", done=True),
            task("lahore.handler", "Reset the passwords of the staff who entered them",
                 assignee="lahore.handler"),
            task("lahore.handler", "Ask the hosting provider to take the page down"),
            link("lahore.handler", "Compromised accounts on the Lahore e-payment portal",
                 "The same address, 192.0.2.77, used the stolen passwords."),
            comment("lahore.analyst", "14 staff opened the page; 3 entered their password."),
        ],
    },
    {
        "title": "Suspicious logins to the Lahore Development Authority mail server",
        "classification": "intrusion-attempts", "incident_type": "brute-force",
        "severity": Severity.MEDIUM, "tlp": Tlp.AMBER,
        "owner": "lahore", "created_by": "lahore.analyst", "source": Source.STAFF,
        "affected_organization": "Lahore Development Authority (demo)", "region": "PK-PB",
        "detected_hours": 1,
        "description": (
            "The mail server mail.lda.example logged 2,300 failed logins for 40 mailboxes in an "
            "hour from 203.0.113.88, and one success for the director's mailbox."
        ),
        "story": [],
    },
    {
        "title": "Malware-laden invoices sent to traders in Lahore and Faisalabad",
        "classification": "malicious-code", "incident_type": "malware-distribution",
        "severity": Severity.HIGH, "tlp": Tlp.AMBER,
        "owner": "lahore", "created_by": "lahore.handler", "source": Source.STAFF,
        "region": "PK-PB", "detected_hours": 6,
        "description": (
            "Traders received e-mails from billing@invoices-pk.example with an attachment "
            "invoice_0423.zip. The loader inside calls out to 198.51.100.23, the address seen in "
            "other malware incidents."
        ),
        "story": [
            ack("lahore.handler"),
            watch("lahore.handler"),
            comment("lahore.handler", "Faisalabad traders report the same e-mails: this is a "
                                      "provincial matter."),
            escalate("lahore.handler", "Spreads beyond Lahore: PB-CERT should coordinate."),
            ack("punjab.handler"),
            assign("punjab.handler", "punjab.handler"),
            task("punjab.handler", "Send the indicators to the district CERTs of Punjab",
                 done=True),
            task("punjab.handler", "Ask the banks to watch for invoice fraud",
                 assignee="punjab.head"),
            comment("punjab.handler", "Indicators sent to every district CERT; Lahore keeps "
                                      "collecting samples."),
        ],
    },
    {
        "title": "Credential stuffing against the Punjab e-Khidmat portal",
        "classification": "intrusion-attempts", "incident_type": "brute-force",
        "severity": Severity.MEDIUM, "tlp": Tlp.AMBER,
        "owner": "punjab", "created_by": "punjab.handler", "source": Source.STAFF,
        "affected_organization": "Punjab e-Khidmat portal (demo)", "region": "PK-PB",
        "detected_hours": 2,
        "description": (
            "About 60,000 logins in two hours against hxxps://ekhidmat.punjab[.]example/login "
            "with e-mail and password pairs from old leaks, mostly from 203.0.113.200 and "
            "203.0.113.201."
        ),
        "story": [
            ack("punjab.handler"),
            watch("punjab.handler"),
            share("punjab.handler", "lahore"),
            change_severity("punjab.head", Severity.HIGH),
            comment("punjab.head", "LHR-CERT: check whether your e-payment portal sees the same "
                                   "sources."),
        ],
    },
    {
        "title": "Fake traffic-fine SMS messages in Karachi",
        "classification": "fraud", "incident_type": "phishing",
        "severity": Severity.LOW, "tlp": Tlp.GREEN,
        "owner": "sindh", "created_by": "sindh.handler", "source": Source.STAFF,
        "region": "PK-SD", "detected_hours": 8,
        "description": (
            "SMS messages tell drivers to pay an overdue e-challan at "
            "hxxp://echallan-sindh[.]example/pay within 24 hours; the page asks for card numbers."
        ),
        "story": [
            ack("sindh.handler"),
            share("sindh.handler", "national"),
            comment("sindh.handler", "Shared with PK-CERT: the sender IDs look like those of the "
                                     "tax refund e-mails."),
        ],
    },
    {
        "title": "Botnet command servers hosted in a national data centre",
        "classification": "malicious-code", "incident_type": "c2-server",
        "severity": Severity.SEVERE, "tlp": Tlp.AMBER,
        "owner": "national", "created_by": "national.handler", "source": Source.STAFF,
        "detected_hours": 12,
        "description": (
            "Partners report that 192.0.2.200 and 192.0.2.201, rented in a national data centre, "
            "control a botnet of home routers; the bots fetch commands from "
            "hxxp://cnc.router-update[.]example/cfg."
        ),
        "story": [
            ack("national.handler"),
            assign("national.handler", "national.analyst"),
            watch("national.handler"),
            task("national.handler", "Ask the data centre to preserve the servers' logs",
                 assignee="national.analyst", done=True),
            task("national.handler", "Notify the operators of the infected routers",
                 assignee="national.analyst"),
            link("national.handler", "E-mails impersonating the Federal Board of Revenue with a "
                                     "fake refund link",
                 "The refund e-mails were sent through this botnet."),
            comment("national.analyst", "Both servers seized; the bots now fail to reach them."),
            comment("national.head", "Keep it open until the router owners are told."),
        ],
        # Four days old with a three-day resolution target: flagged overdue at the root.
        "age_hours": 4 * 24,
    },
    {
        "title": "Messages offering Ehsaas programme payments for a registration fee",
        "classification": "fraud", "incident_type": "masquerade",
        "severity": Severity.LOW, "tlp": Tlp.AMBER,
        "owner": "national", "created_by": None, "source": Source.PUBLIC_FORM,
        "report": {"submission_key": "demo-report-ehsaas", "category": "fraud",
                   "reporter_email": "citizen2@example.com",
                   "reporter_consents_to_contact": True},
        "description": (
            "My mother got a WhatsApp message saying she can receive a programme payment if she "
            "first pays 2,000 rupees at hxxp://ehsaas-register[.]example/fee."
        ),
        "story": [],
    },
    {
        "title": "Website of a Punjab district hospital redirects to a gambling site",
        "classification": "intrusions", "incident_type": "system-compromise",
        "severity": Severity.LOW, "tlp": Tlp.AMBER,
        "owner": "punjab", "created_by": None, "source": Source.PUBLIC_FORM,
        "report": {"submission_key": "demo-report-hospital", "category": "intrusion",
                   "is_public_body": True, "region": "PK-PB"},
        "affected_organization": "District hospital (demo)",
        "description": (
            "Opening hxxp://dhq-hospital.punjab[.]example from a phone sends me to a gambling "
            "site at hxxp://win-big[.]example."
        ),
        "story": [],
    },
    {
        "title": "A Lahore school's portal shows other students' records",
        "classification": "information-content-security", "incident_type": "data-leak",
        "severity": Severity.LOW, "tlp": Tlp.AMBER,
        "owner": "national", "created_by": None, "source": Source.PUBLIC_FORM,
        "report": {"submission_key": "demo-report-school", "category": "data-leak",
                   "region": "PK-PB", "reporter_email": "parent@example.org",
                   "reporter_consents_to_contact": True},
        "affected_organization": "A private school in Lahore (demo)",
        "description": (
            "Changing the number at the end of hxxps://portal.school[.]example/report/1042 shows "
            "the report cards of other students."
        ),
        "story": [
            refer("national.handler", "lahore", "A Lahore matter: LHR-CERT knows the school."),
            comment("lahore.handler", "Thank you: we are contacting the school today.",
                    reporter_visible=True),
        ],
    },
]


def demo_titles() -> set[str]:
    return {entry["title"] for entry in DEMO_INCIDENTS}
