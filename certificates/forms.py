from typing import Any, cast

from django import forms
from django.core.validators import validate_email
from django.urls import reverse

from certificates.exporting import FORMULA_LIKE_NAME, formula_like
from certificates.intake.leads import parse_url
from certificates.models import Review, Vendor
from trustedform import CertificateRef, InvalidCertificateUrl, normalise_phone


class CertificateUrlField(forms.CharField):
    """A TrustedForm certificate URL, validated against the host allow-list; cleans to a CertificateRef."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 2048)
        super().__init__(**kwargs)

    def clean(self, value) -> CertificateRef:
        text = super().clean(value)
        try:
            return parse_url(text)
        except InvalidCertificateUrl as exc:
            raise forms.ValidationError(exc.reason, code="invalid_certificate_url") from None


def clean_lead_email(value: str) -> str:
    value = (value or "").strip()
    if value:
        validate_email(value)
    return value


def clean_vendor_name(value: str) -> str:
    """A vendor's name with its whitespace collapsed; an empty name, or one a spreadsheet would run as a
    formula, is refused."""
    name = " ".join((value or "").split())
    if not name:
        raise forms.ValidationError("Enter the vendor's name.", code="required")
    if formula_like(name):
        raise forms.ValidationError(FORMULA_LIKE_NAME, code="formula_like")
    return name


def clean_lead_phone(value: str) -> str:
    value = (value or "").strip()
    if value and len(normalise_phone(value)) != 10:
        raise forms.ValidationError(
            "Enter a 10-digit US phone number, e.g. (513) 555-6719.", code="invalid_phone"
        )
    return value


class ClaimForm(forms.Form):
    cert_url = CertificateUrlField(
        label="Certificate URL",
        help_text="https://cert.trustedform.com/ followed by the certificate id.",
        widget=forms.TextInput(attrs={"autofocus": True, "placeholder": "https://cert.trustedform.com/…"}),
    )
    vendor = forms.CharField(
        label="Vendor",
        max_length=200,
        help_text="Who sold you the lead.",
        widget=forms.TextInput(attrs={"list": "vendor-names", "autocomplete": "off"}),
    )
    email = forms.CharField(label="Lead email", max_length=254, required=False)
    phone = forms.CharField(label="Lead phone", max_length=40, required=False)
    reference = forms.CharField(
        label="Reference", max_length=255, required=False, help_text="Your lead id; stored with the claim."
    )

    def clean_vendor(self) -> str:
        return clean_vendor_name(self.cleaned_data["vendor"])

    def clean_email(self) -> str:
        try:
            return clean_lead_email(self.cleaned_data["email"])
        except forms.ValidationError:
            raise forms.ValidationError("Enter a whole email address, like jane@example.com.") from None

    def clean_phone(self) -> str:
        return clean_lead_phone(self.cleaned_data["phone"])

    def clean_reference(self) -> str:
        return self.cleaned_data["reference"].strip()


class VendorForm(forms.ModelForm):
    """A vendor's name; unique without regard to case (the model's constraint says so on save)."""

    class Meta:
        model = Vendor
        fields = ["name"]

    def clean_name(self) -> str:
        name = clean_vendor_name(self.cleaned_data["name"])
        if Vendor.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A vendor with this name already exists.")
        return name


class IdsField(forms.Field):
    """Several primary keys under one name (ticked checkboxes); any that match nothing are ignored later."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: list[str] | None) -> list[int]:
        try:
            return sorted({int(v) for v in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError("Select certificates from the list.", code="invalid") from None


class ClaimSelectedForm(forms.Form):
    """The certificates ticked on the list, and the list's query to go back to."""

    MAX_SELECTED = 500

    certificates = IdsField()
    back = forms.CharField(required=False, max_length=2000)

    def clean_certificates(self) -> list[int]:
        ids = self.cleaned_data["certificates"]
        if len(ids) > self.MAX_SELECTED:
            raise forms.ValidationError(f"Select at most {self.MAX_SELECTED} certificates at once.")
        return ids

    def back_to(self) -> str:
        query = self.data.get("back", "")
        base = reverse("certificates:list")
        return f"{base}?{query}" if query and "\n" not in query and "\r" not in query else base


class LeadCorrectionForm(forms.Form):
    """A person's correction of a lead that is not final yet; lengths are checked, never cut."""

    lead_email = forms.CharField(label="Lead email", max_length=254, required=False)
    lead_phone = forms.CharField(label="Lead phone", max_length=40, required=False)
    reference = forms.CharField(label="Reference", max_length=255, required=False)
    vendor = forms.CharField(
        label="Vendor",
        max_length=200,
        widget=forms.TextInput(attrs={"list": "vendor-names", "autocomplete": "off"}),
    )

    @classmethod
    def for_certificate(cls, certificate) -> "LeadCorrectionForm":
        return cls(
            initial={
                "lead_email": certificate.lead_email,
                "lead_phone": certificate.lead_phone,
                "reference": certificate.reference,
                "vendor": certificate.vendor.name,
            }
        )

    def clean_lead_email(self) -> str:
        try:
            return clean_lead_email(self.cleaned_data["lead_email"])
        except forms.ValidationError:
            raise forms.ValidationError("Enter a whole email address, like jane@example.com.") from None

    def clean_lead_phone(self) -> str:
        return clean_lead_phone(self.cleaned_data["lead_phone"])

    def clean_reference(self) -> str:
        return self.cleaned_data["reference"].strip()

    def clean_vendor(self) -> str:
        return clean_vendor_name(self.cleaned_data["vendor"])


class VendorMergeForm(forms.Form):
    """The vendor to merge another into; posted again with `confirm` once the counts were shown."""

    into = forms.ModelChoiceField(
        queryset=Vendor.objects.none(),
        label="Vendor to merge into",
        empty_label="Choose a vendor…",
        error_messages={"invalid_choice": "Choose one of the other vendors."},
    )
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, source: Vendor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["into"]).queryset = Vendor.objects.exclude(pk=source.pk)


class ReviewForm(forms.Form):
    """Accept or reject, with the note a reviewer must always give (reviewing.review_certificate checks it too)."""

    decision = forms.ChoiceField(choices=Review.Decision.choices)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Why? This note goes into the evidence."}),
        error_messages={"required": "Write a note: every decision needs one."},
    )


class BulkReviewForm(ReviewForm):
    certificates = forms.TypedMultipleChoiceField(
        coerce=int, error_messages={"required": "Select at least one certificate."}
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id is a valid choice here; unknown ids are simply not found by review_certificates.
        values = self.data.getlist("certificates") if hasattr(self.data, "getlist") else []
        cast(forms.ChoiceField, self.fields["certificates"]).choices = [
            (v, v) for v in values if str(v).isdigit()
        ]
