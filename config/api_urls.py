"""REST API v1 (mounted at /api/v1/ by config/urls.py). URL names live in the ``api``
namespace: ``api:order-detail``, ``api:merchant-authorize``, ..."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("merchants.api.urls")),
    path("", include("orders.api.urls")),
]
