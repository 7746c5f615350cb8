"""The provider account form: credentials as write-only inputs, options as typed fields.

Each provider declares its ``credential_fields`` and ``option_fields`` (providers/<key>/service.py);
this form turns them into inputs. Credentials are password inputs that never render a value
(blank keeps the stored one). Each option becomes a field of its type (a choice list, a number,
a yes/no box, several codes) with the provider's label and help; a value equal to the
provider's default is not stored, so a later change of the default reaches the account.
Options no provider declares (rare tuning keys) stay editable as JSON under "Advanced".
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from providers import registry
from providers.base import CredentialField, OptionField

from .crypto import key_problems
from .models import ProviderAccount

CRED_PREFIX = "cred__"
OPT_PREFIX = "opt__"

# Options every provider reads (providers/ratelimit.py, orders/management/commands/setup_schedules.py).
COMMON_OPTIONS = (
    OptionField("rate_limit", "Calls per second", None,
                help_text="At most this many provider calls per second for this account. "
                "Blank: the provider's default."),
)
SYNC_OPTIONS = (
    OptionField("sync_interval_minutes", "Sync incoming orders every (minutes)", None,
                help_text="Blank: the installation's default interval."),
)


def credential_fields_for(provider: str | None) -> list[tuple[CredentialField, list[str]]]:
    """(field, labels of the providers using it): the chosen provider's, or every provider's
    (merged by name) while none is chosen yet."""
    found: dict[str, tuple[CredentialField, list[str]]] = {}
    for key, cls in sorted(registry.all_services().items()):
        if provider and key != provider:
            continue
        for field in cls.credential_fields:
            spec, users = found.get(field.name, (field, []))
            found[field.name] = (spec, [*users, cls.label])
    return list(found.values())


def option_fields_for(provider: str | None) -> list[OptionField]:
    cls = registry.get(provider) if provider else None
    if cls is None:
        return []
    extra = SYNC_OPTIONS if cls.supports("iter_incoming") else ()
    return [*cls.option_fields, *COMMON_OPTIONS, *extra]


def _form_field(option: OptionField, *, current: Any) -> forms.Field:
    common: dict[str, Any] = {"label": option.label, "help_text": option.help_text,
                              "required": False}
    default = option.default
    if option.choices and option.multiple:
        picked = current if current is not None else default
        if isinstance(picked, str):
            picked = [c.strip() for c in picked.split(",") if c.strip()]
        return forms.MultipleChoiceField(choices=list(option.choices), initial=list(picked or []),
                                         widget=forms.CheckboxSelectMultiple, **common)
    value = current if current is not None else default
    if option.choices:
        return forms.ChoiceField(choices=list(option.choices), initial=value,
                                 **{**common, "required": True})
    if isinstance(default, bool):
        return forms.BooleanField(initial=bool(value), **common)
    if isinstance(default, int):
        return forms.IntegerField(initial=value, min_value=0, **common)
    if option.name == "rate_limit":
        return forms.FloatField(initial=value, min_value=0.01, **common)
    if option.name == "sync_interval_minutes":
        return forms.IntegerField(initial=value, min_value=1, **common)
    return forms.CharField(initial=value, max_length=500, **common)


def _stored_value(option: OptionField, value: Any) -> Any:
    """The value as the provider code reads it (codes joined by commas for several)."""
    if option.multiple:
        return ",".join(value)
    return value


class ProviderAccountForm(forms.ModelForm):
    """Pick the provider first (the add page reloads with ``?provider=``); its credentials and
    options are then fields of this form."""

    class Meta:
        model = ProviderAccount
        fields = ["provider", "name", "environment", "base_url", "options", "is_active"]
        labels = {"options": "Other options (advanced, JSON)"}
        help_texts = {"options": "Only for settings without a field above, as a JSON object "
                      "(e.g. {\"rate_burst\": 5}). Leave {} when unsure."}

    provider = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [  # type: ignore[attr-defined]
            ("", "— choose the provider —"), *registry.provider_choices()]
        self.fields["provider"].widget.attrs["data-dd-provider-select"] = "1"
        self.provider_key = self._chosen_provider()
        if self.instance.pk:  # an account's provider never changes (its orders depend on it)
            self.fields["provider"].disabled = True
        for spec, users in credential_fields_for(self.provider_key):
            stored = bool(self.instance.pk and self.instance.credentials.get(spec.name))
            hint = "Stored; leave blank to keep it." if stored else "Not stored yet."
            if not self.provider_key:
                hint = "Used by: " + ", ".join(users) + ". " + hint
            self.fields[CRED_PREFIX + spec.name] = forms.CharField(
                label=spec.label, required=False, max_length=2000,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=f"{spec.help_text} {hint}".strip(),
            )
        stored_options = dict(self.instance.options or {}) if self.instance.pk else {}
        for option in option_fields_for(self.provider_key):
            self.fields[OPT_PREFIX + option.name] = _form_field(
                option, current=stored_options.get(option.name))
        # the JSON box shows only what no field above covers
        typed = {o.name for o in option_fields_for(self.provider_key)}
        if not self.is_bound:
            self.initial["options"] = {k: v for k, v in stored_options.items() if k not in typed}

    def _chosen_provider(self) -> str | None:
        if self.instance.pk:
            return str(self.instance.provider)
        raw = (self.data.get("provider") if self.is_bound else None) or self.initial.get("provider")
        return str(raw) if raw and registry.get(str(raw)) is not None else None

    @property
    def credential_names(self) -> list[str]:
        return [n for n in self.fields if n.startswith(CRED_PREFIX)]

    @property
    def option_names(self) -> list[str]:
        return [n for n in self.fields if n.startswith(OPT_PREFIX)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if key_problems():  # nothing can be stored encrypted until the setting is fixed
            raise forms.ValidationError(
                "FIELD_ENCRYPTION_KEY is not a valid Fernet key: this account cannot be saved "
                "until the setting is fixed (see `manage.py check`)."
            )
        return cleaned

    def clean_options(self) -> dict[str, Any]:
        value = self.cleaned_data.get("options")
        if value in (None, ""):
            return {}
        if isinstance(value, str):  # pragma: no cover - JSONField already parses
            value = json.loads(value)
        if not isinstance(value, dict):
            raise forms.ValidationError("Write a JSON object, e.g. {} or {\"rate_burst\": 5}.")
        typed = {o.name: o.label for o in option_fields_for(self.provider_key)}
        doubled = sorted(typed[k] for k in value if k in typed)
        if doubled:
            raise forms.ValidationError(
                "Set these in their own fields above, not here: " + ", ".join(doubled) + ".")
        return value

    def save(self, commit: bool = True) -> ProviderAccount:
        account = super().save(commit=False)
        options = dict(self.cleaned_data.get("options") or {})
        for option in option_fields_for(self.provider_key):
            name = OPT_PREFIX + option.name
            if name not in self.cleaned_data:
                continue
            value = _stored_value(option, self.cleaned_data[name])
            default = option.default
            if (value in (None, "") and default in (None, "")) or value == default:
                options.pop(option.name, None)
            else:
                options[option.name] = value
        account.options = options
        new = {k[len(CRED_PREFIX):]: v for k, v in self.cleaned_data.items()
               if k.startswith(CRED_PREFIX) and v}
        if new:
            account.credentials = {**(account.credentials or {}), **new}
        if commit:
            account.save()
        return account
