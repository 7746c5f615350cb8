from rest_framework.routers import SimpleRouter

from .views import EventViewSet, SubscriptionViewSet

router = SimpleRouter()
router.register("webhooks/subscriptions", SubscriptionViewSet, basename="webhook-subscription")
router.register("webhooks/events", EventViewSet, basename="webhook-event")

urlpatterns = router.urls
