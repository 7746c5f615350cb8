"""Forms the admin shows for transitions that need input (django-fsm-2 transition forms)."""

from __future__ import annotations

from typing import Any

from django import forms

from . import dispatch
from .models import Order


class ShipForm(forms.Form):
    carrier = forms.CharField(
        required=False, max_length=120, help_text="Leave empty for 'other' carrier."
    )
    tracking_number = forms.CharField(max_length=120)
    tracking_url = forms.URLField(required=False, max_length=500)
    notify_customer = forms.BooleanField(required=False, initial=True,
                                         label="Send the delivery note to the customer")
    comment = forms.CharField(required=False, max_length=500)


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500)


class ReconcileForm(forms.Form):
    placed = forms.TypedChoiceField(
        choices=[("yes", "It was placed at the provider"), ("no", "It was NOT placed")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    external_id = forms.CharField(
        required=False, max_length=120, label="Provider order id",
        help_text="Required when it was placed.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("placed") and not data.get("external_id"):
            self.add_error("external_id", "Give the provider's order id.")
        return data


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


# --- ship form with the provider's carrier choices (Tipser) ---
class OrderShipForm(ShipForm, forms.ModelForm):
    """ShipForm bound to the order, so the carrier can be a choice of the provider's carriers
    (e.g. Tipser's markets) where it publishes them; otherwise the free-text field stays.
    The list is read by the worker (``dispatch.order_carrier_choices_read``): until it is
    there the free-text field says so, and the form never waits for the provider."""

    class Meta:
        model = Order
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        order = self.instance
        if order is None or order.pk is None:
            return
        result = dispatch.order_carrier_choices_read(order=order)
        choices = result.data if result.ready else None
        if choices:
            self.fields["carrier"] = forms.ChoiceField(
                choices=choices, required=False, initial=choices[0][0],
                help_text="Carriers the provider knows; 'Other' when yours is not listed.",
            )
        elif not result.ready:
            self.fields["carrier"].help_text = carrier_note(result)

    def _post_clean(self) -> None:
        """Nothing of the order itself is edited here: skip model validation."""


def carrier_note(result: Any) -> str:
    """What a ship form says while the provider's carrier list is not there (pending or
    failed): type the carrier, or reload to pick from the list."""
    if result.failed:
        return (f"The carrier list could not be read ({result.error[:200]}); type the "
                "carrier, or leave empty for 'other'. Reload to read it again.")
    return ("The carrier list is being read from the provider; reload to pick from it, or "
            "type the carrier (empty: 'other').")
