"""What every app's REST API shares: the one error format and handler, idempotency keys,
strict query parameters and bodies, scoping of integrations to their merchants, pagination,
parsers and the OpenAPI schema hooks. Each app keeps its own views and serializers
(``orders/api``, ``merchants/api``, ``pipeline/api``, ``webhooks/api``)."""
