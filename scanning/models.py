"""Consent-language scan terms, templates and profiles, and which profile each vendor's claims use.

Validation reuses the pure engine (`scanning.engine`), so the editor rejects exactly what a scan
could not run, with the engine's reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from scanning.terms import ScanTermError, TermSpec, validate_delimiter, validate_term, variable_names

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

    from certificates.models import Vendor

# Longer than any valid delimiter, so that the engine (not the column) says what is wrong with one.
DELIMITER_FIELD_LENGTH = 10

# Engine reasons about the value rows rather than the text; shown beside the values table.
_VALUE_REASONS = ("Value row", "The value for", "Values are given", "The term uses")


class Kind(models.TextChoices):
    REQUIRED = "required", "Required"
    FORBIDDEN = "forbidden", "Forbidden"


def template_error(reason: str) -> ValidationError:
    """An engine reason as a model error, on the text or (for value problems) beside the values."""
    key = NON_FIELD_ERRORS if reason.startswith(_VALUE_REASONS) else "text"
    return ValidationError({key: reason})


class ScanTermBase(models.Model):
    kind = models.CharField(max_length=16, choices=Kind, default=Kind.REQUIRED)
    note = models.CharField(max_length=500, blank=True, help_text="Why this term, where it comes from.")
    updated_at = models.DateTimeField(default=timezone.now)

    if TYPE_CHECKING:  # each concrete subclass declares them
        text: str
        profiles: RelatedManager[ScanProfile]

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)
        if self.pk:
            # Profiles are cached by (id, updated_at): a changed term must change its profiles' stamp.
            self.profiles.update(updated_at=self.updated_at)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self.profiles.update(updated_at=timezone.now())
        return super().delete(*args, **kwargs)

    def spec(self) -> TermSpec:
        raise NotImplementedError


class ScanTerm(ScanTermBase):
    """A phrase the consent text must (or must not) contain, as the compliance manager wrote it."""

    text = models.TextField(
        help_text="Case and runs of spaces do not matter; punctuation does. {{*}} is a wildcard."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", Lower("text"), "id"]

    def __str__(self) -> str:
        return self.text

    def get_absolute_url(self) -> str:
        return reverse("scanning:term", args=[self.pk])

    def spec(self) -> TermSpec:
        return TermSpec(self.text, label=f"term:{self.pk}")

    def clean(self) -> None:
        if not self.text:
            return  # the field's own check says it is required
        # Checked with the default delimiter here; a profile re-checks with its own (ScanProfile.check_members).
        try:
            validate_term(self.spec())
        except ScanTermError as exc:
            raise ValidationError({"text": exc.reason}) from None


class ScanTemplate(ScanTermBase):
    """A term with {{variable}} placeholders and rows of values; found when any row's text is found."""

    name = models.CharField(
        max_length=200, blank=True, help_text="A short name for lists, e.g. “TCPA consent”."
    )
    text = models.TextField(
        help_text="Write {{company}} (or any name) where the values go, {{*}} where any text may stand."
    )
    # One dict per row, {variable: value}; the order is kept (it is the order sent to v3 and v4).
    variables = models.JSONField(default=list, blank=True)
    # Placeholders are written in one syntax; a profile takes the template only with the same delimiter,
    # so what is sent is exactly what the manager wrote (and what TrustedForm echoes back).
    delimiter = models.CharField(
        max_length=DELIMITER_FIELD_LENGTH,
        blank=True,
        help_text="Blank: placeholders are written {{company}} and {{*}}. With | they are |company| and |*|.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", Lower("name"), "id"]

    def __str__(self) -> str:
        return self.name or self.text

    def get_absolute_url(self) -> str:
        return reverse("scanning:template", args=[self.pk])

    def spec(self) -> TermSpec:
        rows = tuple({str(k): v for k, v in row.items()} for row in self.variables if isinstance(row, dict))
        return TermSpec(self.text, rows, label=f"template:{self.pk}")

    def clean(self) -> None:
        if not self.text:
            return  # the field's own check says it is required
        if not isinstance(self.variables, list) or not all(isinstance(r, dict) for r in self.variables):
            raise ValidationError({NON_FIELD_ERRORS: "Values must be rows of {variable: value}."})
        if not self.variables:
            # A template without rows is just a term; say what to add instead of "gives no values".
            names = self.variable_names()
            if names:
                raise ValidationError(
                    {
                        NON_FIELD_ERRORS: f"Add at least one row of values for {wrap_name(names[0], self.delimiter)}."
                    }
                )
        try:
            validate_delimiter(self.delimiter or None)
        except ScanTermError as exc:
            raise ValidationError({"delimiter": exc.reason}) from None
        try:
            validate_term(self.spec(), self.delimiter or None)
        except ScanTermError as exc:
            raise template_error(exc.reason) from None

    def variable_names(self) -> list[str]:
        try:
            return variable_names(self.text, self.delimiter or None)
        except ScanTermError:
            return []


def wrap_name(name: str, delimiter: str) -> str:
    """A variable (or `*`) as written with this delimiter: {{company}}, |company|."""
    return f"{delimiter}{name}{delimiter}" if delimiter else f"{{{{{name}}}}}"


def foreign_wildcards(text: str, delimiter: str) -> list[str]:
    """Wildcards written for another delimiter, which would be plain text with this one: "{{*}}" in a
    `|` profile, "|*|" in a default one. The commonest reason a wildcard term is never found (§11.4)."""
    found: list[str] = []
    for at, char in enumerate(text):
        if char != "*":
            continue
        before, after = text[:at], text[at + 1 :]
        if before.endswith("{{") and after.startswith("}}"):
            written = "{{*}}"
        else:
            symbol = before[-1:]
            if not symbol or symbol.isalnum() or symbol.isspace() or symbol in "{}*" or after[:1] != symbol:
                continue
            left = len(before) - len(before.rstrip(symbol))
            right = len(after) - len(after.lstrip(symbol))
            if left != right:
                continue
            written = symbol * left + "*" + symbol * right
        if written != wrap_name("*", delimiter) and written not in found:
            found.append(written)
    return found


def member_errors(delimiter: str, terms: Iterable[ScanTerm], templates: Iterable[ScanTemplate]) -> list[str]:
    """Why each term or template cannot be scanned in a profile with this delimiter (none: all can)."""
    errors: list[str] = []
    setting = f"the delimiter {delimiter}" if delimiter else "the default delimiter {{ }}"
    for member in [*terms, *templates]:
        label = f"“{member}”"
        if isinstance(member, ScanTemplate) and member.delimiter != delimiter:
            written = f"with {member.delimiter}" if member.delimiter else "with {{ }}"
            errors.append(
                f"{label} is written {written} placeholders, but this profile uses {setting}: "
                "pick templates written for it, or change the delimiter"
            )
            continue
        for wildcard in foreign_wildcards(member.text, delimiter):
            errors.append(
                f"{label} uses {wildcard}, which is plain text with {setting}: write {wrap_name('*', delimiter)} "
                "instead, or change the delimiter"
            )
        try:
            validate_term(member.spec(), delimiter or None)
        except ScanTermError as exc:
            errors.append(f"{label}: {exc.reason}")
    return errors


class ScanProfile(models.Model):
    """A named set of required and forbidden terms and templates, scanned with one delimiter."""

    name = models.CharField(max_length=200)
    note = models.CharField(max_length=500, blank=True)
    delimiter = models.CharField(
        max_length=DELIMITER_FIELD_LENGTH,
        blank=True,
        help_text="Leave blank for TrustedForm's default, {{*}}. With | the wildcard is |*| and a variable |company|.",
    )
    terms = models.ManyToManyField(ScanTerm, blank=True, related_name="profiles")
    templates = models.ManyToManyField(ScanTemplate, blank=True, related_name="profiles")
    updated_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords(m2m_fields=[terms, templates])

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="scan_profile_name_unique_ci",
                violation_error_message="A profile with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("scanning:profile", args=[self.pk])

    def clean(self) -> None:
        try:
            validate_delimiter(self.delimiter or None)
        except ScanTermError as exc:
            raise ValidationError({"delimiter": exc.reason}) from None

    def assign_to(self, vendors: Iterable[Vendor]) -> None:
        """Make this the profile of exactly these vendors (moving them from their old profile)."""
        vendor_ids = {vendor.pk for vendor in vendors}
        self.assignments.exclude(vendor_id__in=vendor_ids).delete()
        now = timezone.now()
        for vendor_id in vendor_ids:
            VendorScanProfile.objects.update_or_create(
                vendor_id=vendor_id, defaults={"profile": self, "assigned_at": now}
            )


class VendorScanProfile(models.Model):
    """The profile a vendor's claims are scanned with, unless a claim names another one."""

    vendor = models.OneToOneField(
        "certificates.Vendor", on_delete=models.CASCADE, related_name="scan_assignment"
    )
    # PROTECT: deleting a profile must not silently stop scanning a vendor's leads.
    profile = models.ForeignKey(ScanProfile, on_delete=models.PROTECT, related_name="assignments")
    assigned_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.vendor} → {self.profile}"
