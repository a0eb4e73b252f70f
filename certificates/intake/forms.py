from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from certificates.intake.tokens import TOKEN_SCOPES


def too_large_message(size: int) -> str:
    limit = settings.INTAKE_MAX_UPLOAD_BYTES
    return (
        f"The upload is {filesizeformat(size)}; the import page takes up to {filesizeformat(limit)}. "
        "Split the file, or import it with `manage.py import_leads`, which has no limit."
    )


class ImportForm(forms.Form):
    """A CSV file or pasted rows, and the vendor for rows that do not name one."""

    file = forms.FileField(
        label="CSV file",
        required=False,
        help_text="Comma, semicolon or tab separated, UTF-8 or Windows-1252. Nothing is saved before you confirm.",
    )
    text = forms.CharField(
        label="Or paste rows",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "spellcheck": "false",
                "placeholder": "cert_url,email,phone,vendor\nhttps://cert.trustedform.com/…",
            }
        ),
        help_text="With a header row, or one certificate URL per line.",
    )
    vendor = forms.CharField(
        label="Vendor for rows without one",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"list": "vendor-names", "autocomplete": "off"}),
    )

    def clean_vendor(self) -> str:
        return " ".join(self.cleaned_data["vendor"].split())

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # A second guard: the import view refuses a request this large before reading its body.
        if upload is not None and upload.size > settings.INTAKE_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_large_message(upload.size))
        return upload

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        has_file, has_text = bool(data.get("file")), bool((data.get("text") or "").strip())
        if has_file == has_text:
            raise forms.ValidationError("Choose a CSV file or paste rows (one of the two).")
        return data


class IntakeTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="Which integration uses it, e.g. “Lead system (production)”.",
    )
    scopes = forms.MultipleChoiceField(
        label="May",
        choices=list(TOKEN_SCOPES.items()),
        initial=list(TOKEN_SCOPES),
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Name the token after the integration that will use it.")
        return name
