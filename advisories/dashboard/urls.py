from django.urls import path

from advisories.dashboard import detail, editor
from advisories.dashboard import list as lists
from advisories.public.feed_tokens import feed_token

app_name = "advisories_staff"
urlpatterns: list = [
    # The member's secret feed address (advisories/public/feed_tokens.py). Keep it before any
    # "<reference>/" pattern, which would take "feed" for a reference.
    path("feed/", feed_token, name="feed_token"),
    # The advisories' staff pages (issue 10, item 4); the fixed words stay above "<reference>/".
    path("", lists.advisory_list, name="list"),
    path("review/", lists.review_queue, name="review"),
    path("new/", editor.advisory_new, name="new"),
    path("preview/", editor.preview, name="preview"),
    path("<str:reference>/", detail.advisory, name="advisory"),
    path("<str:reference>/edit/", editor.advisory_edit, name="edit"),
    path("<str:reference>/revisions/<int:number>/", detail.revision, name="revision"),
    path("<str:reference>/<slug:action>/", detail.advisory_action, name="action"),
]
