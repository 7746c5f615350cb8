from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import SalesPipelineViewSet, SupplierOfferViewSet

router = SimpleRouter()
router.register("supplier-offers", SupplierOfferViewSet, basename="supplier-offer")

urlpatterns = [
    *router.urls,
    path("pipeline/orders/<str:pk>/", SalesPipelineViewSet.as_view({"get": "retrieve"}),
         name="pipeline-order"),
    path("pipeline/orders/<str:pk>/route/", SalesPipelineViewSet.as_view({"post": "route"}),
         name="pipeline-order-route"),
]
