"""A form post refused by the CSRF check gets a page that says what happened and what to do."""

import pytest
from django.http import HttpResponse
from django.middleware.csrf import CSRF_SECRET_LENGTH, CsrfViewMiddleware
from django.test import Client, RequestFactory


@pytest.mark.django_db
def test_post_without_csrf_token_gets_403_with_the_explanation():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "someone", "password": "secret"})

    assert response.status_code == 403
    assert [t.name for t in response.templates][0] == "403_csrf.html"
    text = response.content.decode()
    assert "The form could not be sent" in text
    assert "Nothing was saved" in text
    assert "reload the page, and submit the form again" in text
    assert "cookies" in text
    assert 'href="/admin/login/"' in text


def form_view(request):
    return HttpResponse("saved")


@pytest.mark.parametrize("form_token, expected_status", [
    ("a" * CSRF_SECRET_LENGTH, 200),  # the cookie's secret, as a form rendered with it sends
    ("b" * CSRF_SECRET_LENGTH, 403),
    (None, 403),
])
def test_the_middleware_uses_the_page_only_when_the_token_does_not_match(form_token,
                                                                        expected_status):
    data = {} if form_token is None else {"csrfmiddlewaretoken": form_token}
    request = RequestFactory().post("/report/", data)
    request.COOKIES["csrftoken"] = "a" * CSRF_SECRET_LENGTH
    request._dont_enforce_csrf_checks = False
    middleware = CsrfViewMiddleware(form_view)

    response = middleware.process_view(request, form_view, (), {}) or form_view(request)

    assert response.status_code == expected_status
    assert ("Nothing was saved" in response.content.decode()) is (expected_status == 403)
