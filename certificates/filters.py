"""The certificate list's filters. Every filter lives in the query string, so a filtered view is a link.

Each filter is an equality or range test on an indexed column: nothing here scans a million rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from certificates.evidence.models import HeldCertificate, on_hold
from certificates.models import NEEDING_REVIEW, Certificate, CertificateQuerySet, Vendor
from certificates.revocations.models import revoked
from certificates.widgets import (
    QuickDateRangeWidget,
    QuickHiddenInput,
    QuickNumberInput,
    QuickSelect,
    QuickTextInput,
)
from trustedform import normalise_email, normalise_phone
from trustedform.ids import MAX_CERT_ID_LENGTH

YES_NO = [("yes", "Yes"), ("no", "No")]
SCAN_CHOICES = [("passed", "Passed"), ("failed", "Failed"), ("none", "Not scanned")]
REVIEW_CHOICES = [
    ("open", "To review"),
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("none", "Not needed"),
]
AT_RISK_CHOICES = [("yes", "Deadline within 12 h")]
# A year: far past any claim deadline, and far inside what a datetime can add.
MAX_DEADLINE_HOURS = 24 * 366
# The list shows ids cut to 8 characters and an ellipsis; a pasted short id finds its certificate.
ID_PREFIX = re.compile(rf"[0-9a-fA-F]{{6,{MAX_CERT_ID_LENGTH}}}")


def search_q(text: str) -> Q:
    """Exact matches on indexed columns: certificate id (or URL), reference, normalised email or phone;
    and certificates whose id starts with a hex id prefix, such as the list's "b84b6b03…".

    Normalising the query the way intake normalises the lead means "(512) 555-1212" finds 5125551212,
    and an exact match keeps it an index lookup instead of a LIKE scan. A prefix is a range of the
    unique cert_id index (on PostgreSQL, its varchar_pattern_ops twin), not a scan.
    """
    text = text.strip()
    cert_id = text.rstrip("/").rsplit("/", 1)[-1]
    q = Q(cert_id=cert_id) | Q(cert_id=cert_id.lower()) | Q(reference=text)
    prefix = cert_id.removesuffix("…").removesuffix("...")
    if ID_PREFIX.fullmatch(prefix):
        # Web ids are stored lower-case; other ids keep the case they came with.
        for start in {prefix, prefix.lower()}:
            q |= Q(cert_id__startswith=start)
    if "@" in text:
        q |= Q(email_normalised=normalise_email(text))
    phone = normalise_phone(text)
    if len(phone) >= 7 and not any(c.isalpha() for c in text):
        q |= Q(phone_normalised=phone)
    return q


def person_q(phone_normalised: str, email_normalised: str) -> Q:
    """One person's rows (certificates or revocations): their normalised phone *or* email, either one."""
    q = Q(pk__in=[])
    if phone_normalised:
        q |= Q(phone_normalised=phone_normalised)
    if email_normalised:
        q |= Q(email_normalised=email_normalised)
    return q


class NameChoices(django_filters.fields.ModelChoiceIterator):
    """A model select's options as (pk, name) rows, for models whose str() is their name (Vendor).

    The stock iterator builds a model instance per option: 200 vendors cost about 1.3 ms a page, the rows
    a quarter of that.
    """

    field: NameChoiceField

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        yield from self.field.rows()

    def __len__(self) -> int:
        return len(list(self))

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(self.field.rows())


class NameChoiceField(django_filters.fields.ModelChoiceField):
    """A model choice whose select and validation share one read of the (pk, name) rows per form.

    ModelChoiceField checks the chosen value with a query of its own, for a row the select reads anyway.
    The clean value is the row's primary key: all the filter needs (`vendor=<pk>`, the same SQL).
    """

    iterator = NameChoices
    _rows: list[tuple[int, str]] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> NameChoiceField:
        result = super().__deepcopy__(memo)
        result._rows = None  # each form reads the rows afresh: a vendor renamed or added shows at once
        return result

    def rows(self) -> list[tuple[int, str]]:
        if self._rows is None:
            assert self.queryset is not None  # the filter names its queryset
            self._rows = list(self.queryset.values_list("pk", "name"))
        return self._rows

    def to_python(self, value: Any) -> int | None:
        # As ModelChoiceField.to_python, which looks the value up as queryset.get(pk=value).
        if value in self.empty_values:
            return None
        self.validate_no_null_characters(value)
        try:
            key = self.queryset.model._meta.pk.get_prep_value(value)
        except (ValueError, TypeError):
            key = None
        if key is None or key not in {pk for pk, _ in self.rows()}:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            )
        return key


class NameChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = NameChoiceField


def _yes_no(field: str):
    """A filter method for a nullable boolean column: "yes" is True, "no" is False or unknown."""

    def method(queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "yes":
            return queryset.filter(**{field: True})
        if value == "no":
            return queryset.exclude(**{field: True})
        return queryset

    return method


class CertificateFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="filter_search",
        widget=QuickTextInput(attrs={"placeholder": "Certificate id, reference, email or phone"}),
    )
    state = django_filters.ChoiceFilter(
        widget=QuickSelect, choices=Certificate.State.choices, empty_label="Any state"
    )
    outcome = django_filters.ChoiceFilter(
        widget=QuickSelect, choices=Certificate.Outcome.choices, empty_label="Any outcome"
    )
    vendor = NameChoiceFilter(
        queryset=Vendor.objects.all(), empty_label="Any vendor", widget=QuickSelect
    )  # hundreds of vendors, not millions: a select is fine
    received = django_filters.DateFromToRangeFilter(
        field_name="received_at",
        label="Received",
        widget=QuickDateRangeWidget(attrs={"type": "date"}),
    )
    deadline_within = django_filters.NumberFilter(
        label="Deadline within (hours)",
        method="filter_deadline_within",
        min_value=0,
        max_value=MAX_DEADLINE_HOURS,
        widget=QuickNumberInput(attrs={"placeholder": "e.g. 12", "min": 0, "max": MAX_DEADLINE_HOURS}),
    )
    fingerprint = django_filters.ChoiceFilter(
        widget=QuickSelect,
        field_name="fingerprint_result",
        label="Fingerprints",
        choices=Certificate.FingerprintResult.choices,
        empty_label="Any fingerprints",
    )
    scan = django_filters.ChoiceFilter(
        widget=QuickSelect,
        label="Page scan",
        choices=SCAN_CHOICES,
        method="filter_scan",
        empty_label="Any scan",
    )
    masked = django_filters.ChoiceFilter(
        widget=QuickSelect, label="Masked", choices=YES_NO, method=_yes_no("is_masked"), empty_label="Masked?"
    )
    bot = django_filters.ChoiceFilter(
        widget=QuickSelect, label="Bot", choices=YES_NO, method=_yes_no("bot_detected"), empty_label="Bot?"
    )
    checked_in = django_filters.ChoiceFilter(
        widget=QuickSelect,
        label="Checked in",
        choices=YES_NO,
        method="filter_checked_in",
        empty_label="Checked in?",
    )
    reused = django_filters.ChoiceFilter(
        widget=QuickSelect, label="Reused", choices=YES_NO, method=_yes_no("reused"), empty_label="Reused?"
    )
    review = django_filters.ChoiceFilter(
        widget=QuickSelect,
        label="Review",
        choices=REVIEW_CHOICES,
        method="filter_review",
        empty_label="Any review",
    )
    # What the home page's "at risk" card counts (Certificate.objects.at_risk), overdue ones included.
    at_risk = django_filters.ChoiceFilter(
        widget=QuickSelect,
        label="At risk",
        choices=AT_RISK_CHOICES,
        method="filter_at_risk",
        empty_label="At risk?",
    )
    on_hold = django_filters.ChoiceFilter(
        widget=QuickSelect,
        label="Legal hold",
        choices=YES_NO,
        method="filter_on_hold",
        empty_label="On a legal hold?",
    )
    hold = django_filters.NumberFilter(
        label="Legal hold #", method="filter_hold", min_value=1, max_value=2**53, widget=QuickHiddenInput
    )
    revoked = django_filters.ChoiceFilter(
        widget=QuickSelect,
        label="Consent revoked",
        choices=YES_NO,
        method="filter_revoked",
        empty_label="Revoked?",
    )
    batch = django_filters.NumberFilter(
        field_name="batch_id",
        label="Import batch",
        min_value=1,
        max_value=2**53,
        widget=QuickNumberInput(attrs={"placeholder": "batch #", "min": 1}),
    )

    class Meta:
        model = Certificate
        fields: list[str] = []

    def get_form_class(self) -> type[forms.Form]:
        """The form class, made once per process: django-filter makes a class with new fields per request.

        Nothing in it depends on the request; each form deep-copies the fields (so the vendor queryset is
        a fresh one per form, never a list kept from an earlier page).
        """
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(search_q(value)) if value.strip() else queryset

    def filter_deadline_within(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Only a pending certificate has a deadline that still matters.
        now = timezone.now()
        return queryset.filter(
            state=Certificate.State.PENDING,
            claim_deadline__gte=now,
            claim_deadline__lte=now + timedelta(hours=float(value)),
        )

    def filter_scan(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        lookup = {"passed": True, "failed": False, "none": None}[value]
        return (
            queryset.filter(scan_success__isnull=True)
            if lookup is None
            else queryset.filter(scan_success=lookup)
        )

    def filter_checked_in(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(checked_in_at__isnull=value != "yes")

    def filter_review(self, queryset: CertificateQuerySet, name: str, value: str) -> QuerySet[Certificate]:
        # "To review" is exactly the review queue: failed checks and undecided unclaimed certificates.
        if value == "open":
            return queryset.needing_review()
        if value == "none":
            return queryset.filter(review_status="").exclude(NEEDING_REVIEW)
        return queryset.filter(review_status=value)

    def filter_on_hold(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return (
            queryset.filter(on_hold())
            if value == "yes"
            else queryset.exclude(on_hold())
            if value == "no"
            else queryset
        )

    def filter_hold(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(
            Exists(HeldCertificate.objects.filter(certificate=OuterRef("pk"), hold_id=int(value)))
        )

    def filter_revoked(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return (
            queryset.filter(revoked())
            if value == "yes"
            else queryset.exclude(revoked())
            if value == "no"
            else queryset
        )

    def filter_at_risk(self, queryset: CertificateQuerySet, name: str, value: str) -> QuerySet[Certificate]:
        return queryset.at_risk() if value == "yes" else queryset
