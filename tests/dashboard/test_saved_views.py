"""Saved views of the queue (issue 9, item 2): a member names a tab with its filters, shares it
with their CERT or not; who may see, use and delete them."""

from __future__ import annotations

from html import unescape

import pytest
from django.core.exceptions import ValidationError

from incidents.models import SavedView
from incidents.services import saved_view_create

QUEUE = "/dashboard/"
CREATE = "/dashboard/views/new/"


def delete_url(view: SavedView) -> str:
    return f"/dashboard/views/{view.pk}/delete/"


def listed(client) -> list[str]:
    response = client.get(QUEUE)
    assert response.status_code == 200
    return [view.name for view, _ in response.context["saved_views"]]


@pytest.fixture
def lahore_handler(member):
    return member("lahore", "handler")


def test_a_member_saves_the_current_view_for_themselves(staff_client, lahore_handler, member):
    client = staff_client(lahore_handler)
    response = client.post(CREATE, {"name": "  Severe\nnew ones ",
                                    "query": "tab=new&severity=4&cursor=bnwx&bogus=1&q="})
    saved = SavedView.objects.get()
    assert (saved.name, saved.owner, saved.cert) == ("Severe new ones", lahore_handler, None)
    assert saved.query == "tab=new&severity=4"  # known fields only, without the page
    assert response.status_code == 302 and response["Location"] == "/dashboard/?tab=new&severity=4"
    page = client.get(QUEUE)
    assert listed(client) == ["Severe new ones"]
    assert ('<a href="?tab=new&amp;severity=4"><bdi>Severe new ones</bdi></a>'
            in page.content.decode())
    # Nobody else sees a view that is not shared, not even in the same CERT.
    assert listed(staff_client(member("lahore", "analyst"))) == []


def test_a_private_view_is_nobody_elses(staff_client, lahore_handler, member):
    saved_view_create(actor=lahore_handler, name="Mine only", query="tab=mine")
    other = member("lahore", "head")
    assert listed(staff_client(other)) == []
    # Not even its head may delete it: to them it does not exist.
    response = staff_client(other).post(delete_url(SavedView.objects.get()))
    assert response.status_code == 404
    assert SavedView.objects.count() == 1


def test_a_shared_view_reaches_the_certs_members_only(staff_client, lahore_handler, member, certs):
    client = staff_client(lahore_handler)
    client.post(CREATE, {"name": "Overdue banking", "share": "on",
                         "query": "tab=overdue&sector=2"})
    saved = SavedView.objects.get()
    assert saved.cert == certs["lahore"]
    colleague = staff_client(member("lahore", "analyst"))
    assert listed(colleague) == ["Overdue banking"]
    page = unescape(colleague.get(QUEUE).content.decode())
    assert "(shared with LHR-CERT, by lahore.handler.test)" in page
    # The colleague may use it but not delete it: no button, and refused when posted by hand.
    assert delete_url(saved) not in page
    refused = colleague.post(delete_url(saved))
    assert refused.status_code == 403
    assert "Only the member who saved the view" in refused.content.decode()
    assert SavedView.objects.filter(pk=saved.pk).exists()
    # A member of another CERT neither sees it nor can delete it: 404.
    outsider = staff_client(member("punjab", "head"))
    assert listed(outsider) == []
    assert outsider.post(delete_url(saved)).status_code == 404
    assert SavedView.objects.filter(pk=saved.pk).exists()


def test_a_head_deletes_a_view_shared_with_their_cert(staff_client, lahore_handler, member, certs):
    saved = saved_view_create(actor=lahore_handler, name="Team view", query="tab=new",
                              cert=certs["lahore"])
    head = staff_client(member("lahore", "head"))
    page = head.get(QUEUE).content.decode()
    assert delete_url(saved) in page
    response = head.post(delete_url(saved), {"next": "/dashboard/?tab=new"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/?tab=new"
    assert not SavedView.objects.exists()
    assert "Deleted the view “Team view”." in head.get(QUEUE).content.decode()


def test_the_owner_deletes_their_own_view(staff_client, lahore_handler):
    saved = saved_view_create(actor=lahore_handler, name="Mine", query="tab=mine")
    client = staff_client(lahore_handler)
    assert client.post(delete_url(saved), {"next": "https://evil.example/"})["Location"] == QUEUE
    assert not SavedView.objects.exists()
    assert client.post(delete_url(saved)).status_code == 404  # gone
    assert client.get(delete_url(saved)).status_code == 405


def test_a_view_without_a_name_is_explained_on_the_queue(staff_client, lahore_handler):
    response = staff_client(lahore_handler).post(CREATE, {"name": "   ", "query": "tab=overdue"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus' in page
    assert "The view was not saved" in page
    assert '<ul class="errorlist" id="id_name-error"><li>This field is required.</li></ul>' in page
    assert 'aria-invalid="true" aria-describedby="id_name-error"' in page
    assert '<details class="save-view" open>' in page
    assert response.context["queue"].tab.name == "overdue"  # the queue it was saved from
    assert not SavedView.objects.exists()


def test_a_view_is_shared_only_with_a_cert_of_the_member(lahore_handler, certs):
    with pytest.raises(ValidationError) as refused:
        saved_view_create(actor=lahore_handler, name="Theirs", query="tab=all", cert=certs["sindh"])
    assert "only with a CERT you are a member of" in str(refused.value)
    with pytest.raises(ValidationError):
        saved_view_create(actor=lahore_handler, name="x" * 81, query="tab=all")
    assert not SavedView.objects.exists()


def test_saving_and_deleting_need_a_signed_in_member(client, staff_client, outsider, lahore_handler):
    saved = saved_view_create(actor=lahore_handler, name="Mine", query="tab=mine")
    assert client.post(CREATE, {"name": "x", "query": ""}).status_code == 302  # to sign in
    assert client.post(delete_url(saved)).status_code == 302
    assert staff_client(outsider).post(CREATE, {"name": "x", "query": ""}).status_code == 403
    assert staff_client(outsider).post(delete_url(saved)).status_code == 403
    assert SavedView.objects.count() == 1
