"""Forms of the long-haul evidence pages: placing and releasing holds, opening discovery requests."""

from __future__ import annotations

from typing import Any

from django import forms

from certificates.forms import clean_lead_email, clean_lead_phone
from certificates.models import Vendor

DATE = forms.DateInput(attrs={"type": "date"})


class PersonFields(forms.Form):
    phone = forms.CharField(max_length=40, required=False, help_text="Any spelling: (513) 555-6719, +1 513…")
    email = forms.CharField(max_length=254, required=False)
    vendor = forms.ModelChoiceField(queryset=Vendor.objects.all(), required=False, empty_label="Any vendor")
    since = forms.DateField(required=False, widget=DATE, label="Received from")
    until = forms.DateField(required=False, widget=DATE, label="Received until")

    def clean_phone(self) -> str:
        return clean_lead_phone(self.cleaned_data["phone"])

    def clean_email(self) -> str:
        try:
            return clean_lead_email(self.cleaned_data["email"])
        except forms.ValidationError:
            raise forms.ValidationError("Enter a whole email address, like jane@example.com.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data


class DiscoveryForm(PersonFields):
    hold_name = forms.CharField(
        max_length=200,
        label="Hold name (the matter)",
        help_text="Everything found is placed on this legal hold.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("phone") and not data.get("email") and "phone" not in self.errors:
            raise forms.ValidationError(
                "Give the person's phone or email: a discovery request is about one person."
            )
        return data


class HoldForm(PersonFields):
    name = forms.CharField(max_length=200, label="Name (the matter)")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    reference = forms.CharField(max_length=255, required=False, label="Lead reference")
    query = forms.CharField(
        required=False,
        widget=forms.HiddenInput,
        help_text="A saved filter of the certificate list (set by “Place a hold on these”).",
    )

    field_order = ["name", "description", "phone", "email", "vendor", "reference", "since", "until", "query"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        scope = ("phone", "email", "vendor", "reference", "since", "until", "query")
        if not any(data.get(name) for name in scope) and not self.errors:
            raise forms.ValidationError(
                "Say what the hold covers: a phone, an email, a vendor, a reference, a date range or a filter."
            )
        return data


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the hold ends (the matter settled, counsel's instruction…). Kept with the hold.",
    )
