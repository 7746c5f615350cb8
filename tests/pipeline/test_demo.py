from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from pipeline.models import RoutingPolicy, SalesRouting, SupplierOffer

pytestmark = pytest.mark.django_db


def test_the_demo_routes_tipser_sales_to_the_demo_suppliers(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_pipeline_demo", stdout=out)
    assert "5 supplier offers" in out.getvalue()
    assert RoutingPolicy.objects.get().account.name == "Tipser demo"
    assert set(SupplierOffer.objects.values_list("supplier__account__provider", flat=True)) == {
        "brandsdistribution", "aliseeks"}
    statuses = set(SalesRouting.objects.values_list("status", flat=True))
    assert statuses <= {"routed", "held", "needs_mapping"} and "routed" in statuses
    again = io.StringIO()
    call_command("seed_pipeline_demo", stdout=again)
    assert "exists" in again.getvalue() and SupplierOffer.objects.count() == 5
