"""Demo advisories for `make run` (loaded by `manage.py load_demo_advisories`, issue 10 point 9).

Published advisories of every TLP label, so that the public pages, the feeds and the CSAF
directory are not empty and the staff dashboard shows what each label reaches: several TLP:CLEAR
ones (one revised, one withdrawn), a TLP:GREEN one drawn from a demo incident, TLP:AMBER for an
audience of CERTs, TLP:AMBER+STRICT, TLP:RED for named people, and one waiting in the review queue.
Each is written by a demo member of organizations.national_structure.DEMO_MEMBERS and approved by
a head of the same CERT who did not write it (four eyes), through advisories.services.

Every vendor, product, organization, address and indicator here is invented; so are the CVE IDs,
which only have the form of real ones (a real advisory cites the CVE Program's records). Domains
and addresses are reserved for documentation (RFC 2606 `example` names, RFC 5737 192.0.2.0/24,
198.51.100.0/24 and 203.0.113.0/24).
"""

from __future__ import annotations

from advisories.models import AdvisorySeverity
from incidents.tlp import Tlp

# Keys of an entry:
#   cert: the author CERT's slug; author and approver: demo usernames (a head approves);
#   days_ago: when it was written and published (the loader runs the services at that time);
#   content: the fields of advisories.content.AdvisoryContent, except that `sectors` names sector
#     slugs, `audience` CERT slugs and `readers` demo usernames;
#   optionally revise: {by, approver, days_ago, changes (content fields), change_summary};
#   withdraw: {by (a head), days_ago, reason}; review_only: True (submitted, not approved);
#   from_incident: the title of a demo incident it is drawn from, when demo incidents exist
#     (its observables become the indicators).
DEMO_ADVISORIES: list[dict] = [
    {
        "cert": "national", "author": "national.handler", "approver": "national.head",
        "days_ago": 21,
        "content": {
            "title": "Holiday season scams: fake parcel, Eid sale and prize messages",
            "summary": "Before Eid and the year-end holidays, fraudsters send messages about "
                       "parcels held at customs, sales and prizes to steal card details and "
                       "one-time passwords. Nothing to patch: tell people how to spot them.",
            "severity": AdvisorySeverity.INFORMATIONAL,
            "body_markdown": (
                "## What we see\n\n"
                "Every holiday season PK-CERT receives many more reports of:\n\n"
                "- **Parcel messages**: \"Your parcel is held at customs, pay Rs. 150 to release "
                "it\" with a link to a page that asks for card details;\n"
                "- **Eid sales** on social media for brands that do not exist, paid in advance by "
                "bank transfer or mobile wallet;\n"
                "- **Prize and lucky draw messages** that ask for a \"processing fee\" or the "
                "one-time password (OTP) the victim has just received.\n\n"
                "## Why it works\n\n"
                "The messages arrive when people do expect parcels and offers, and the pages copy "
                "the look of real courier companies and banks.\n"
            ),
            "remedies": "Never share an OTP or PIN: no bank, courier or telecom company asks for "
                        "it. Type the courier's or the bank's address yourself instead of "
                        "following a link. Buy from sellers you know; prefer cash on delivery. "
                        "Report scam messages to your mobile operator and to PK-CERT.",
            "references": ["https://national.cert.example/awareness/holiday-scams"],
            "tlp": Tlp.CLEAR,
        },
    },
    {
        "cert": "national", "author": "national.handler", "approver": "national.head",
        "days_ago": 14,
        "content": {
            "title": "Remote code execution in Example Networks EdgeGate SSL VPN, exploited",
            "summary": "An unauthenticated attacker can run commands as root on EdgeGate SSL VPN "
                       "appliances through the web portal. Exploitation against government and "
                       "bank gateways in Pakistan has been seen. Patch or disable the portal now.",
            "severity": AdvisorySeverity.CRITICAL,
            "cvss_v3_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "cvss_v4_vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "cve_ids": ["CVE-2026-21001"],
            "cwe_id": "CWE-78",
            "cwe_name": "Improper Neutralization of Special Elements used in an OS Command "
                        "('OS Command Injection')",
            "products": [{"vendor": "Example Networks", "product": "EdgeGate SSL VPN",
                          "versions": "9.0 to 9.2.2"}],
            "body_markdown": (
                "## What happens\n\n"
                "The `/portal/diag` page of the EdgeGate web portal passes a request parameter to "
                "a shell. Anyone who reaches the portal can run commands as root, without "
                "signing in.\n\n"
                "## Exploitation\n\n"
                "Since last week the NSOC has seen requests to `/portal/diag` from "
                "203.0.113.45 and 198.51.100.120 against gateways of federal and provincial "
                "departments and of two banks. On compromised appliances the attackers left a "
                "web shell and copied the VPN users' session cookies.\n"
            ),
            "remedies": "Upgrade to EdgeGate 9.2.3 or later. Until then, turn off the web portal "
                        "(the VPN itself keeps working) or allow it only from known addresses. "
                        "After upgrading, look for files under /var/portal/tmp/ that you did not "
                        "put there, reset the passwords of VPN users and revoke their sessions.",
            "references": ["https://psirt.examplenetworks.example/EG-2026-004"],
            "sectors": ["banking", "telecom"],
            "tlp": Tlp.CLEAR,
        },
        "revise": {
            "by": "national.analyst", "approver": "national.head", "days_ago": 11,
            "changes": {
                "cve_ids": ["CVE-2026-21001", "CVE-2026-21002"],
                "products": [{"vendor": "Example Networks", "product": "EdgeGate SSL VPN",
                              "versions": "9.0 to 9.2.2"},
                             {"vendor": "Example Networks", "product": "EdgeGate Manager",
                              "versions": "before 4.1.7"}],
                "remedies": "Upgrade EdgeGate SSL VPN to 9.2.3 or later and EdgeGate Manager to "
                            "4.1.7 or later. Until then, turn off the web portal (the VPN itself "
                            "keeps working) or allow it only from known addresses. After "
                            "upgrading, look for files under /var/portal/tmp/ that you did not put "
                            "there, reset the passwords of VPN users and revoke their sessions.",
            },
            "change_summary": "Added CVE-2026-21002 in EdgeGate Manager, which the same attackers "
                              "use, and its fixed version.",
        },
    },
    {
        "cert": "banking", "author": "banking.handler", "approver": "banking.head",
        "days_ago": 10,
        "from_incident": "SMS phishing campaign against Example Bank customers",
        "content": {
            "title": "SMS phishing against bank customers: \"your account will be blocked\"",
            "summary": "Customers of several banks receive SMS messages that threaten to block "
                       "their account and link to copies of internet banking login pages that "
                       "also ask for the OTP. Indicators for banks' fraud and SOC teams.",
            "severity": AdvisorySeverity.HIGH,
            "body_markdown": (
                "## Campaign\n\n"
                "The messages come from rotating short codes and link to look-alike domains "
                "registered the same day. The phishing kit forwards the password and the OTP to "
                "the attackers at once, who sign in and add a beneficiary within minutes.\n\n"
                "## For banks\n\n"
                "Watch for new beneficiaries added from new devices within minutes of a sign-in, "
                "and for sign-ins from the hosting ranges below.\n"
            ),
            "remedies": "Block the indicators at your mail and web gateways. Warn customers through "
                        "your app and SMS that the bank never asks for an OTP by message. Report "
                        "new look-alike domains to BNK-CERT for takedown.",
            "sectors": ["banking"],
            "tlp": Tlp.GREEN,
        },
    },
    {
        "cert": "punjab", "author": "punjab.handler", "approver": "punjab.head",
        "days_ago": 8,
        "content": {
            "title": "Defacement of district websites through an outdated CMS gallery plug-in",
            "summary": "Attackers upload files through an old version of the Example Gallery "
                       "plug-in and deface government websites. Update the plug-in or remove it.",
            "severity": AdvisorySeverity.MEDIUM,
            "cvss_v3_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
            "cve_ids": ["CVE-2026-30117"],
            "cwe_id": "CWE-434",
            "cwe_name": "Unrestricted Upload of File with Dangerous Type",
            "products": [{"vendor": "Example CMS Project", "product": "Example Gallery plug-in",
                          "versions": "before 3.4.1"}],
            "body_markdown": (
                "## What happens\n\n"
                "The plug-in's upload form accepts `.php` files when their name also ends in an "
                "image extension. Several district websites in the Punjab were defaced this way; "
                "the pages loaded a script from `cdn.deface-crew.example`.\n"
            ),
            "remedies": "Update the gallery plug-in to 3.4.1 or later, or remove it. Check the "
                        "uploads folder for .php files and remove them. Keep the CMS and all "
                        "plug-ins up to date, and keep an offline copy of the site.",
            "references": ["https://cms.example/security/gallery-3-4-1"],
            "tlp": Tlp.CLEAR,
        },
    },
    {
        "cert": "cii", "author": "cii.handler", "approver": "cii.head",
        "days_ago": 6,
        "content": {
            "title": "DNS and memcached reflection against operators' resolvers: indicators",
            "summary": "Reflection floods of up to 80 Gbit/s hit DNS resolvers of telecom "
                       "operators. Indicators and filtering advice for operators and for the "
                       "banks whose payment switches depend on those resolvers.",
            "severity": AdvisorySeverity.HIGH,
            "body_markdown": (
                "## Traffic\n\n"
                "UDP from source port 53 and 11211, mostly from open resolvers and memcached "
                "servers; the most active reflectors were 203.0.113.99 and 198.51.100.77.\n\n"
                "## Not to be shared further\n\n"
                "The list of affected operators in the attachment to the incident stays with the "
                "CERTs named as audience.\n"
            ),
            "remedies": "Rate-limit UDP/53 and drop UDP/11211 at the edge; ask upstream providers "
                        "for scrubbing. Close open resolvers in your own network.",
            "sectors": ["telecom", "banking"],
            "tlp": Tlp.AMBER,
            "audience": ["telecom", "banking", "example-telecom-csirt"],
        },
    },
    {
        "cert": "national", "author": "national.analyst", "approver": "national.head",
        "days_ago": 4,
        "content": {
            "title": "Intrusions into ministries' mail servers through a webmail flaw",
            "summary": "A targeted group signs in to webmail of federal ministries without the "
                       "password through an authentication bypass and reads mailboxes. For the "
                       "Government and Federal CERTs only; do not pass on.",
            "severity": AdvisorySeverity.CRITICAL,
            "cvss_v4_vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N",
            "cve_ids": ["CVE-2026-18822"],
            "cwe_id": "CWE-287",
            "cwe_name": "Improper Authentication",
            "products": [{"vendor": "Example Mail Systems", "product": "ExampleMail Webmail",
                          "versions": "8.x before 8.6.2"}],
            "body_markdown": (
                "## What we know\n\n"
                "Three ministries found mailbox exports started from webmail sessions without a "
                "sign-in. The sessions came through 192.0.2.181 and used a forged `X-Auth-User` "
                "header.\n"
            ),
            "remedies": "Apply ExampleMail 8.6.2. Strip the X-Auth-User header at the reverse "
                        "proxy. Review mailbox export logs since the first of last month and "
                        "report findings to FG-CERT.",
            "tlp": Tlp.AMBER_STRICT,
            "audience": ["government", "federal"],
        },
    },
    {
        "cert": "cii", "author": "cii.handler", "approver": "cii.head",
        "days_ago": 3,
        "content": {
            "title": "Implant on engineering workstations at an oil and gas operator",
            "summary": "An implant beaconing to update-check.example was found on engineering "
                       "workstations of a pipeline operator. Named recipients only, while the "
                       "investigation runs.",
            "severity": AdvisorySeverity.HIGH,
            "body_markdown": (
                "## Findings so far\n\n"
                "Three workstations beaconed every 60 seconds to 198.51.100.23. The dropper came "
                "as an invoice attachment. No traffic to the control network was seen.\n"
            ),
            "remedies": "Nothing to do for recipients yet; do not contact the operator directly.",
            "sectors": ["oil-gas"],
            "tlp": Tlp.RED,
            "readers": ["national.head", "national.handler"],
        },
    },
    {
        "cert": "banking", "author": "banking.handler", "approver": "banking.head",
        "days_ago": 2,
        "content": {
            "title": "Turn on two-step sign-in for internet and mobile banking",
            "summary": "Password spraying against internet banking continues. Banks should make "
                       "two-step sign-in the default; customers should turn it on.",
            "severity": AdvisorySeverity.LOW,
            "body_markdown": (
                "## Why now\n\n"
                "BNK-CERT sees password spraying against several banks' internet banking, from "
                "rotating residential proxies, a few attempts per account per day.\n"
            ),
            "remedies": "Banks: make two-step sign-in the default and alert customers to every "
                        "new device. Customers: turn on two-step sign-in in your bank's app and "
                        "use a password you use nowhere else.",
            "sectors": ["banking"],
            "tlp": Tlp.CLEAR,
        },
    },
    {
        "cert": "punjab", "author": "punjab.handler", "approver": "punjab.head",
        "days_ago": 5,
        "content": {
            "title": "Fake e-challan payment site for traffic fines",
            "summary": "A site that looked like the traffic police's e-challan portal took card "
                       "payments for fines.",
            "severity": AdvisorySeverity.MEDIUM,
            "body_markdown": "Messages about unpaid traffic fines link to `echallan-pay.example`.\n",
            "remedies": "Pay fines only on the portal whose address is printed on the challan.",
            "tlp": Tlp.CLEAR,
        },
        "withdraw": {
            "by": "punjab.head", "days_ago": 1,
            "reason": "Issued in error: echallan-pay.example turned out to be the genuine payment "
                      "partner's site. We apologise for the confusion.",
        },
    },
    {
        "cert": "national", "author": "national.analyst", "approver": "national.head",
        "days_ago": 0, "review_only": True,
        "content": {
            "title": "Authentication bypass in Example Payments switch middleware",
            "summary": "A crafted message lets a host on the switch network approve transactions "
                       "without a valid MAC. Fixed in 5.3.2.",
            "severity": AdvisorySeverity.HIGH,
            "cvss_v3_vector": "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N",
            "cve_ids": ["CVE-2026-24410"],
            "products": [{"vendor": "Example Payments", "product": "SwitchCore",
                          "versions": "5.0 to 5.3.1"}],
            "remedies": "Upgrade SwitchCore to 5.3.2. Restrict the switch network to the hosts "
                        "that need it.",
            "sectors": ["banking"],
            "tlp": Tlp.CLEAR,
        },
    },
]


def demo_titles() -> set[str]:
    return {entry["content"]["title"] for entry in DEMO_ADVISORIES}
