from rest_framework.routers import SimpleRouter

from advisories.api.views import AdvisoryViewSet

router = SimpleRouter()
router.register("advisories", AdvisoryViewSet, basename="api-advisory")

urlpatterns = router.urls
