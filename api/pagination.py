from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    """``?page=N&page_size=M`` (M at most API_MAX_PAGE_SIZE)."""

    page_size = getattr(settings, "API_PAGE_SIZE", 25)
    page_size_query_param = "page_size"
    max_page_size = getattr(settings, "API_MAX_PAGE_SIZE", 100)
