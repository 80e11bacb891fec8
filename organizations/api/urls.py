from rest_framework.routers import SimpleRouter

from organizations.api.views import CertViewSet

router = SimpleRouter()
router.register("certs", CertViewSet, basename="api-cert")

urlpatterns = router.urls
