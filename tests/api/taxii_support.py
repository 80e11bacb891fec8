"""Shared by the TAXII tests: the incidents and advisories they read, and a requests adapter that
sends taxii2-client's requests to the Django test client (no network, same transaction)."""

from urllib.parse import urlsplit

import requests
from django.test import Client
from requests.structures import CaseInsensitiveDict

TAXII = "application/taxii+json;version=2.1"
BANKING_TEXT = ("Phishing from 192.0.2.10 and evil.example.com, link hxxp://bad.example[.]net/login, "
                "mail from attacker@evil.example.com, dropper md5 d41d8cd98f00b204e9800998ecf8427e "
                "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 sha256 "
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, exploits "
                "CVE-2024-12345, from 2001:db8::7")
BANKING_VALUES = {"192.0.2.10", "evil.example.com", "http://bad.example.net/login",
                  "attacker@evil.example.com", "d41d8cd98f00b204e9800998ecf8427e",
                  "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "2001:db8::7"}
LAHORE_VALUE = "198.51.100.77"


class DjangoTestAdapter(requests.adapters.BaseAdapter):
    """Answers every request of a requests.Session from the Django test client."""

    def __init__(self):
        super().__init__()
        self.client = Client()

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        extra = {"HTTP_" + name.upper().replace("-", "_"): value
                 for name, value in request.headers.items()
                 if name.lower() not in ("content-type", "content-length")}
        body = request.body or b""
        answer = self.client.generic(
            request.method, url.path + (f"?{url.query}" if url.query else ""),
            data=body.encode() if isinstance(body, str) else body,
            content_type=request.headers.get("Content-Type", "application/octet-stream"), **extra)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.items())
        response._content = answer.content
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


class Bearer(requests.auth.AuthBase):
    def __init__(self, secret: str):
        self.secret = secret

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.secret}"
        return request


def make_world(certs, make_incident, make_advisory, clock):
    """Incidents of banking (AMBER, many observables) and lahore (AMBER), a CLEAR advisory of
    national with a CVE and an AMBER advisory of lahore for its own audience only."""
    banking = make_incident(owner_cert=certs["banking"], title="Phishing wave", description=BANKING_TEXT)
    clock.advance(minutes=5)
    lahore = make_incident(owner_cert=certs["lahore"], title="Scan", description=f"Scans from {LAHORE_VALUE}")
    clock.advance(minutes=5)
    public = make_advisory(cert="national", tlp="TLP:CLEAR", cve_ids=["CVE-2024-1111", "CVE-2023-22222"])
    clock.advance(minutes=5)
    amber = make_advisory(cert="lahore", tlp="TLP:AMBER")
    return {"banking": banking, "lahore": lahore, "public": public, "amber": amber}
