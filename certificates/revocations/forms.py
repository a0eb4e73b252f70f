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
        label="CSV file", help_text="Columns: phone, email, revoked_at, channel, note (a header row first)."
    )
    text = forms.CharField(required=False, widget=forms.HiddenInput, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Recording after the dry run sends the text the dry run read, not the file again.
        self.fields["file"].required = not (self.data.get("text") or self.initial.get("text"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            data["text"] = upload.read().decode("utf-8-sig", errors="replace")
        if not data.get("text") and not self.errors:
            raise forms.ValidationError("The file is empty: choose a CSV file of revocations.")
        return data
