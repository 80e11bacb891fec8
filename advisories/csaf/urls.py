"""The CSAF 2.0 provider under /.well-known/ (advisories.csaf.views), mounted at the root."""

from django.urls import path, re_path

from advisories.csaf import views

app_name = "csaf"

FOLDER = r"(?P<folder>white|green|amber|red)"
YEAR = r"(?P<year>[0-9]{4})"

urlpatterns = [
    path(".well-known/security.txt", views.security_txt, name="security_txt"),
    path(".well-known/csaf/provider-metadata.json", views.provider_metadata, name="provider_metadata"),
    re_path(rf"^\.well-known/csaf/{FOLDER}/$", views.folder_listing, name="folder"),
    re_path(rf"^\.well-known/csaf/{FOLDER}/index\.txt$", views.index_txt, name="index_txt"),
    re_path(rf"^\.well-known/csaf/{FOLDER}/changes\.csv$", views.changes_csv, name="changes_csv"),
    re_path(rf"^\.well-known/csaf/{FOLDER}/{YEAR}/$", views.year_listing, name="year"),
    # File names of CSAF §5.1: [+-a-z0-9] and "_" for everything else, then ".json".
    re_path(rf"^\.well-known/csaf/{FOLDER}/{YEAR}/(?P<name>[+\-a-z0-9_]+)\.json$", views.document,
            name="document"),
    re_path(rf"^\.well-known/csaf/{FOLDER}/{YEAR}/(?P<name>[+\-a-z0-9_]+)\.json"
            r"\.(?P<hash_name>sha256|sha512)$", views.document, name="document_hash"),
]
