"""The frame of every dashboard page (cert_portal/staff.py): who may enter, as which CERT."""

from django.http import HttpResponse
from django.test import RequestFactory

from cert_portal.staff import ACTIVE_CERT_SESSION_KEY, load_staff_context, staff_page
from incidents.access import ActionNotAllowed
from organizations.services import membership_add


def _request(user, session=None):
    request = RequestFactory().get("/dashboard/x/")
    request.user = user
    request.session = session if session is not None else {}
    return request


def test_a_member_of_two_certs_works_as_the_first_until_they_switch(member, certs):
    user = member("punjab", "handler")
    membership_add(cert=certs["lahore"], user=user, role="analyst", actor=None)
    staff = load_staff_context(_request(user))
    assert [m.cert.slug for m in staff.memberships] == ["punjab", "lahore"]
    assert staff.cert.slug == "punjab" and staff.role == "handler"

    staff = load_staff_context(_request(user, {ACTIVE_CERT_SESSION_KEY: certs["lahore"].pk}))
    assert staff.cert.slug == "lahore" and staff.role == "analyst"
    # A CERT the member left (or never joined) in the session falls back to the first.
    staff = load_staff_context(_request(user, {ACTIVE_CERT_SESSION_KEY: certs["sindh"].pk}))
    assert staff.cert.slug == "punjab"


def test_switching_cert_needs_a_membership(member, certs, staff_client):
    user = member("punjab", "handler")
    membership_add(cert=certs["lahore"], user=user, role="analyst", actor=None)
    client = staff_client(user)
    refused = client.post("/dashboard/cert/", {"cert": certs["sindh"].pk, "next": "/dashboard/"})
    assert refused.status_code == 400
    assert ACTIVE_CERT_SESSION_KEY not in client.session
    switched = client.post("/dashboard/cert/", {"cert": certs["lahore"].pk, "next": "/report/"})
    assert switched.status_code == 302 and switched["Location"] == "/report/"
    assert client.session[ACTIVE_CERT_SESSION_KEY] == certs["lahore"].pk
    offsite = client.post("/dashboard/cert/", {"cert": certs["punjab"].pk,
                                               "next": "https://evil.example/"})
    assert "evil" not in offsite["Location"]


def test_staff_page_turns_a_refused_action_into_the_styled_page(member, outsider):
    @staff_page
    def view(request):
        raise ActionNotAllowed("Your role does not allow this on PK-INC-1: escalate.")

    request = _request(member("punjab", "analyst"))
    request.user.is_verified = lambda: True
    response = view(request)
    assert response.status_code == 403
    assert "escalate" in response.content.decode() and "Nothing was changed" in response.content.decode()

    # Verified but a member of no CERT: refused, and told why.
    request = _request(outsider)
    request.user.is_verified = lambda: True
    response = view(request)
    assert response.status_code == 403 and "not a member of any active CERT" in response.content.decode()


def test_staff_page_sends_the_unverified_to_sign_in(member):
    @staff_page
    def view(request):
        return HttpResponse("in")

    request = _request(member("punjab", "handler"))
    request.user.is_verified = lambda: False
    response = view(request)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
