"""Signals for rows written in bulk (no ``post_save``): listeners such as the webhook outbox
learn of orders and shipments created or changed by a sync page."""

from django.dispatch import Signal

# sent with ``instances`` (saved model instances), in the transaction that wrote them
rows_created = Signal()
rows_updated = Signal()
