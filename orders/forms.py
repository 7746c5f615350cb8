"""Forms the admin shows for transitions that need input (django-fsm-2 transition forms)."""

from __future__ import annotations

from typing import Any

from django import forms


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
