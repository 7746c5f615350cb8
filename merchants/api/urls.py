from rest_framework.routers import SimpleRouter

from .views import MerchantViewSet, ProviderAccountViewSet

router = SimpleRouter()
router.register("accounts", ProviderAccountViewSet, basename="account")
router.register("merchants", MerchantViewSet, basename="merchant")

urlpatterns = router.urls
