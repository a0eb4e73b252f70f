"""Forms of the revocations page: one revocation, or a CSV of them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from certificates.revocations.models import Revocation
from certificates.revocations.recording import clean_revocation


class RevocationForm(forms.Form):
    phone = forms.CharField(max_length=40, required=False)
    email = forms.CharField(max_length=254, required=False)
    revoked_at = forms.DateTimeField(
        label="Revoked at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), initial=timezone.now
    )
    channel = forms.ChoiceField(choices=Revocation.Channel.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean(self) -> dict[str, Any]:
        # The one check every door shares.
        data = super().clean() or {}
        if self.errors:
            return data
        clean, errors = clean_revocation(data)
        for name, reason in errors:
            self.add_error(name if name in self.fields else None, reason)
        data["clean"] = clean
        return data


class RevocationUploadForm(forms.Form):
    """The file on the first post (the dry run); its text, carried by the dry-run page, on the second."""

    file = forms.FileField(
        required=False, help_text="Columns: phone, email, revoked_at, channel, note (a header row first)."
    )
    text = forms.CharField(required=False, widget=forms.HiddenInput, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            data["text"] = upload.read().decode("utf-8-sig", errors="replace")
        if not data.get("text"):
            raise forms.ValidationError("Choose a CSV file of revocations.")
        return data
