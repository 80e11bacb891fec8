"""The URLs of bench/run_national.py: the portal's own, plus the framework floor.

The floor is what a list page of the same rows cannot go below: the same middleware (session,
signed-in user, OTP, CSRF, locale, ...), one query for the rows the queue shows, chosen by primary
key, and JSON instead of a template. The runner divides each page's median by the floor's median.
Only the runner mounts it (ROOT_URLCONF=bench.urls); the portal never serves it.
"""

from django.http import JsonResponse
from django.urls import path

from cert_portal.urls import urlpatterns as portal_urlpatterns
from incidents.models import Incident
from incidents.queue import QUEUE_COLUMNS

# The columns a row of the dashboard's queue loads (incidents.queue.QUEUE_COLUMNS, with the key
# the page adds), in its order (newest report first).
FLOOR_COLUMNS = ("pk", "reported_at", *QUEUE_COLUMNS)
FLOOR_MAX_IDS = 100


def floor(request):
    """The incidents `?ids=1,2,3` as JSON, for a signed-in user, with no access check (the ids are
    those the queue showed the same user)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Sign in first."}, status=403)
    try:
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part.strip()]
    except ValueError:
        return JsonResponse({"error": "ids: primary keys separated by commas."}, status=400)
    if len(ids) > FLOOR_MAX_IDS:
        return JsonResponse({"error": f"At most {FLOOR_MAX_IDS} ids."}, status=400)
    rows = (Incident.objects.filter(pk__in=ids).order_by("-reported_at", "-pk")
            .values(*FLOOR_COLUMNS))
    return JsonResponse({"rows": list(rows)})


urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    *portal_urlpatterns,
]
