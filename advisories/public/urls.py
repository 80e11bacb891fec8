from django.urls import path

from advisories.feeds import PrivateAtomFeed, PrivateRssFeed, PublicAtomFeed, PublicRssFeed
from advisories.public import views

app_name = "advisories"

urlpatterns = [
    path("", views.advisory_list, name="list"),
    path("feed/rss/", PublicRssFeed(), name="feed_rss"),
    path("feed/atom/", PublicAtomFeed(), name="feed_atom"),
    path("feed/private/<str:token>/rss/", PrivateRssFeed(), name="private_feed_rss"),
    path("feed/private/<str:token>/atom/", PrivateAtomFeed(), name="private_feed_atom"),
    path("feed/<slug:severity>/rss/", PublicRssFeed(), name="severity_feed_rss"),
    path("feed/<slug:severity>/atom/", PublicAtomFeed(), name="severity_feed_atom"),
    path("<str:reference>/", views.advisory_detail, name="detail"),
    path("<str:reference>/revisions/<int:number>/", views.advisory_revision, name="revision"),
]
