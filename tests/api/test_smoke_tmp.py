import pytest

pytestmark = pytest.mark.django_db


def test_smoke(api, order):
    r = api.get("/api/v1/orders/")
    print(r.status_code, r.json())
    r = api.get(f"/api/v1/orders/{order.pk}/")
    print(r.status_code, r.json())
    r = api.get(f"/api/v1/orders/{order.pk}/transitions/")
    print(r.status_code, r.json())
    r = api.post(f"/api/v1/orders/{order.pk}/transitions/hold/", {}, format="json")
    print(r.status_code, r.json())
    r = api.post("/api/v1/orders/", {"merchant": order.merchant_id, "items": [{"sku": "X", "quantity": 0, "bogus": 1}], "cuntry": "x"}, format="json")
    print(r.status_code, r.json())
    r = api.get("/api/v1/orders/99999999999999999999999/")
    print(r.status_code, r.json())
    r = api.get("/api/v1/orders/?merchant=99999999999999999999999")
    print(r.status_code, r.json())
    r = api.get("/api/v1/merchants/")
    print(r.status_code, r.json())
    r = api.get("/api/v1/accounts/")
    print(r.status_code, r.json())
    r = api.post("/api/v1/orders/", {"merchant": 99999999999999999999999}, format="json")
    print(r.status_code, r.json())
    r = api.post("/api/v1/merchants/1/authorize/", {}, format="json")
    print(r.status_code, r.json())
