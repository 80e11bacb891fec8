"""The national CERT structure of Pakistan's CERT Rules 2023 (DOMAIN.md §1), as data.

Contact details use the reserved `.example` domain and placeholder numbers: a deployment fills in
its real ones through the admin.
"""

SECTORS = [
    # slug, name, regulator, regulator short name
    ("telecom", "Telecommunications", "Pakistan Telecommunication Authority", "PTA"),
    ("banking", "Banking", "State Bank of Pakistan", "SBP"),
    ("capital-markets", "Capital markets and insurance",
     "Securities and Exchange Commission of Pakistan", "SECP"),
    ("power", "Power", "National Electric Power Regulatory Authority", "NEPRA"),
    ("oil-gas", "Oil and gas", "Oil and Gas Regulatory Authority", "OGRA"),
    ("defence", "Defence", "Ministry of Defence", "MoD"),
]

# Parents come before their children. Keys: slug, kind, name, short_name, parent (slug),
# region, sector (slug), constituency.
CERTS = [
    dict(slug="national", kind="national", name="National CERT", short_name="PK-CERT",
         constituency="All of Pakistan's cyberspace; runs the national security operations "
                      "centre (NSOC) and the national incident triage queue."),
    dict(slug="government", kind="government", name="Government CERT", short_name="G-CERT",
         parent="national", constituency="Federal, provincial and local government bodies."),
    dict(slug="cii", kind="cii", name="Critical Information Infrastructure CERT",
         short_name="CII-CERT", parent="national",
         constituency="Owners and operators of critical information infrastructure."),
    dict(slug="federal", kind="federal", name="Federal Government CERT", short_name="FG-CERT",
         parent="government", region="PK-IS",
         constituency="Federal ministries, divisions, departments and attached bodies."),
    dict(slug="punjab", kind="provincial", name="Punjab Government CERT", short_name="PB-CERT",
         parent="government", region="PK-PB", constituency="Government of the Punjab."),
    dict(slug="sindh", kind="provincial", name="Sindh Government CERT", short_name="SD-CERT",
         parent="government", region="PK-SD", constituency="Government of Sindh."),
    dict(slug="khyber-pakhtunkhwa", kind="provincial",
         name="Khyber Pakhtunkhwa Government CERT", short_name="KP-CERT", parent="government",
         region="PK-KP", constituency="Government of Khyber Pakhtunkhwa."),
    dict(slug="balochistan", kind="provincial", name="Balochistan Government CERT",
         short_name="BA-CERT", parent="government", region="PK-BA",
         constituency="Government of Balochistan."),
    dict(slug="islamabad", kind="provincial", name="Islamabad Capital Territory CERT",
         short_name="IS-CERT", parent="government", region="PK-IS",
         constituency="Islamabad Capital Territory administration."),
    dict(slug="gilgit-baltistan", kind="provincial", name="Gilgit-Baltistan Government CERT",
         short_name="GB-CERT", parent="government", region="PK-GB",
         constituency="Government of Gilgit-Baltistan."),
    dict(slug="azad-kashmir", kind="provincial", name="Azad Jammu and Kashmir Government CERT",
         short_name="JK-CERT", parent="government", region="PK-JK",
         constituency="Government of Azad Jammu and Kashmir."),
    dict(slug="lahore", kind="local", name="Lahore Metropolitan CERT", short_name="LHR-CERT",
         parent="punjab", region="PK-PB", constituency="Metropolitan Corporation Lahore."),
    dict(slug="rawalpindi", kind="local", name="Rawalpindi District CERT", short_name="RWP-CERT",
         parent="punjab", region="PK-PB", constituency="District government of Rawalpindi."),
    dict(slug="karachi", kind="local", name="Karachi Metropolitan CERT", short_name="KHI-CERT",
         parent="sindh", region="PK-SD", constituency="Karachi Metropolitan Corporation."),
    dict(slug="peshawar", kind="local", name="Peshawar District CERT", short_name="PEW-CERT",
         parent="khyber-pakhtunkhwa", region="PK-KP",
         constituency="District government of Peshawar."),
    dict(slug="telecom", kind="sectoral", name="Telecom Sector CERT", short_name="TEL-CERT",
         parent="cii", sector="telecom",
         constituency="Licensed telecom operators and internet service providers."),
    dict(slug="banking", kind="sectoral", name="Banking Sector CERT", short_name="BNK-CERT",
         parent="cii", sector="banking",
         constituency="Banks, microfinance banks and payment system operators."),
    dict(slug="capital-markets", kind="sectoral", name="Capital Markets Sector CERT",
         short_name="CM-CERT", parent="cii", sector="capital-markets",
         constituency="Stock exchange, brokers, asset managers and insurers."),
    dict(slug="power", kind="sectoral", name="Power Sector CERT", short_name="PWR-CERT",
         parent="cii", sector="power",
         constituency="Generation, transmission and distribution companies."),
    dict(slug="oil-gas", kind="sectoral", name="Oil and Gas Sector CERT", short_name="OG-CERT",
         parent="cii", sector="oil-gas",
         constituency="Oil and gas exploration, refining, transmission and distribution."),
    dict(slug="defence", kind="sectoral", name="Defence Sector CERT", short_name="DEF-CERT",
         parent="cii", sector="defence", constituency="Defence establishments and industry."),
    dict(slug="example-bank-soc", kind="organizational", name="Example Bank SOC",
         short_name="EXB-SOC", parent="banking", constituency="Example Bank Limited."),
    dict(slug="example-telecom-csirt", kind="organizational", name="Example Telecom CSIRT",
         short_name="EXT-CSIRT", parent="telecom", constituency="Example Telecom Limited."),
    dict(slug="punjab-it-board-cert", kind="organizational", name="Punjab IT Board CERT",
         short_name="PITB-CERT", parent="punjab", region="PK-PB",
         constituency="Systems run by the Punjab Information Technology Board."),
    dict(slug="federal-data-registry-soc", kind="organizational",
         name="Federal Data Registry SOC", short_name="FDR-SOC", parent="federal",
         region="PK-IS", constituency="A federal citizen-data registry (demo entity)."),
]

# Demo staff: (username, CERT slug, role). Every CERT in the list gets enough people to show the
# roles; the rest are reported by check_registry as staffing gaps, as a real registry would be.
DEMO_MEMBERS = [
    ("national.head", "national", "head"),
    ("national.handler", "national", "handler"),
    ("national.analyst", "national", "analyst"),
    ("government.handler", "government", "handler"),
    ("federal.handler", "federal", "handler"),
    ("punjab.head", "punjab", "head"),
    ("punjab.handler", "punjab", "handler"),
    ("lahore.handler", "lahore", "handler"),
    ("lahore.analyst", "lahore", "analyst"),
    ("sindh.handler", "sindh", "handler"),
    ("cii.head", "cii", "head"),
    ("cii.handler", "cii", "handler"),
    ("banking.head", "banking", "head"),
    ("banking.handler", "banking", "handler"),
    ("banking.liaison", "banking", "liaison"),
    ("telecom.handler", "telecom", "handler"),
    ("bank-soc.analyst", "example-bank-soc", "analyst"),
]


def demo_contact(slug: str) -> dict:
    """Placeholder 24/7 contact details for a demo CERT."""
    return {
        "email": f"incident@{slug}.cert.example",
        "hotline": "+92 51 000 0000",
        "website": f"https://{slug}.cert.example/",
    }
