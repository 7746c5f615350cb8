"""Provider layer: one package per provider, all of the same shape.

``providers/<key>/`` holds ``client.py`` (HTTP), ``mapping.py`` (wire <-> domain),
``statuses.py`` (the status table), ``service.py`` (the ProviderService), ``sandbox.py``
(a fake of the provider's wire API for the demo and tests), ``demo.py`` (plain demo data).
Providers know nothing of the admin, DRF or our models: they are handed the frozen requests of
``providers.types`` and import of the domain only ``orders.lifecycle`` (its vocabulary).
"""
