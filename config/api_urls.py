"""REST API v1 (mounted at /api/v1/ by config/urls.py). URL names live in the ``api``
namespace: ``api:order-detail``, ``api:merchant-authorize``, ..."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

app_name = "api"


@csrf_exempt  # it changes nothing; answer 404 whatever the method
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown API paths answer in the API's error shape, not with an HTML page."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": "No such API endpoint."}}, status=404
    )


urlpatterns = [
    path("", include("merchants.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("webhooks.api.urls")),
    path("", include("pipeline.api.urls")),
    re_path(r"^(?P<rest>.*)$", not_found),
]
