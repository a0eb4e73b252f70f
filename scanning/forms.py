"""Editor and preview forms. Validation is the models' (and so the engine's); forms only gather input."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from certificates.models import Vendor
from scanning.meaning import Divergence, V4Meaning, template_divergence, v4_meaning
from scanning.models import Kind, ScanProfile, ScanTemplate, ScanTerm, member_errors
from scanning.terms import ScanTermError, TermSpec, validate_delimiter, variable_names
from trustedform import V4

VALUES_PREFIX = "values"
MAX_PREVIEW_FILE_BYTES = 2 * 1024 * 1024
MAX_VALUE_LENGTH = 500
EMPTY_TERM = "The term is empty: enter the consent text to look for"
CONFIRM_V4_TEMPLATE = "Tick the box to confirm what this means in API v4, or change the template's rows."
CONFIRM_V4_PROFILE = "Tick the box to confirm what this profile means in API v4, or leave the template out."
CONFIRM_MOVES = "Tick the box to move them here, or untick them in Vendors."


class ReadOnlyMixin:
    """Viewers see the same form with every field disabled (and cannot post it: the view refuses)."""

    def make_read_only(self) -> None:
        for field in self.fields.values():  # type: ignore[attr-defined]
            field.disabled = True


class ScanTermForm(ReadOnlyMixin, forms.ModelForm):
    class Meta:
        model = ScanTerm
        fields = ["text", "kind", "note"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 3}),
            "kind": forms.RadioSelect,
        }
        labels = {"text": "Term", "kind": "The page must", "note": "Note"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = KIND_CHOICES
        self.fields["text"].error_messages["required"] = EMPTY_TERM

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        text = cleaned.get("text")
        if text and self.instance.pk:
            # An edit must keep every profile that holds the term scannable with that profile's delimiter.
            candidate = ScanTerm(pk=self.instance.pk, text=text)
            for profile in self.instance.profiles.all():
                for error in member_errors(profile.delimiter, [candidate], []):
                    self.add_error("text", f"In the profile “{profile}”: {error}")
        return cleaned


KIND_CHOICES = [(Kind.REQUIRED, "contain it (required)"), (Kind.FORBIDDEN, "not contain it (forbidden)")]


class ScanTemplateForm(ReadOnlyMixin, forms.ModelForm):
    """The template's text and kind; its value rows come from `ValuesFormset` (set before validation).

    With API v4 a required template of several rows means "every row's sentence", not "any one": a
    change to that meaning in a template that profiles hold is saved only once the manager ticks
    `acknowledge_v4`.
    """

    acknowledge_v4 = forms.BooleanField(required=False, label="I understand")

    class Meta:
        model = ScanTemplate
        fields = ["name", "text", "kind", "delimiter", "note"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 3}),
            "kind": forms.RadioSelect,
            "delimiter": forms.TextInput(attrs={"size": 6, "class": "mono", "placeholder": "{{ }}"}),
        }
        labels = {"text": "Template", "kind": "The page must", "delimiter": "Placeholder delimiter"}

    def __init__(
        self,
        *args: Any,
        rows: list[dict[str, str]] | None = None,
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = KIND_CHOICES
        self.fields["text"].error_messages["required"] = EMPTY_TERM
        if rows is not None:
            # Not a form field: the model's clean() (the engine) checks the rows with the text.
            self.instance.variables = rows
        self.api_version = api_version
        # What the page warns about: the template as saved, or as posted once cleaned.
        self.v4: Divergence | None = self._divergence(self.instance) if self.instance.pk else None
        self._label_confirmation()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("text"):
            return cleaned
        candidate = ScanTemplate(
            pk=self.instance.pk,
            name=cleaned.get("name") or "",
            text=cleaned["text"],
            kind=cleaned.get("kind") or Kind.REQUIRED,
            delimiter=cleaned.get("delimiter") or "",
            variables=self.instance.variables,
        )
        if self.instance.pk:
            for profile in self.instance.profiles.all():
                for error in member_errors(profile.delimiter, [], [candidate]):
                    self.add_error(None, f"In the profile “{profile}”: {error}")
        self.v4 = self._divergence(candidate)
        self._label_confirmation()
        if self.v4 and self.meaning_changes() and not cleaned.get("acknowledge_v4"):
            self.add_error("acknowledge_v4", CONFIRM_V4_TEMPLATE)
        return cleaned

    def meaning_changes(self) -> bool:
        """Whether saving changes what claims send in v4: other rows, or now required, in a profile.
        A template in no profile is sent by no claim; the profile editor asks when it is added."""
        if self.v4 is None or not self.instance.pk or not self.instance.profiles.exists():
            return False
        saved = ScanTemplate.objects.filter(pk=self.instance.pk).first()
        before = self._divergence(saved) if saved else None
        return before is None or before.rows != self.v4.rows

    def warn_about_rows(self, data: Any, rows: list[dict[str, str]]) -> None:
        """Warn while rows are being added ("Add a row" posts without saving), before any save."""
        candidate = ScanTemplate(
            pk=self.instance.pk,
            name=data.get("name", ""),
            text=data.get("text", ""),
            kind=data.get("kind") or Kind.REQUIRED,
            delimiter=data.get("delimiter", ""),
            variables=rows,
        )
        self.v4 = self._divergence(candidate)
        self._label_confirmation()

    def _divergence(self, template: ScanTemplate) -> Divergence | None:
        return template_divergence(template) if self.api_version == V4 else None

    def _label_confirmation(self) -> None:
        if self.v4:
            _relabel(self, f"I understand: in API v4 {self.v4.confirmation}.")


def template_columns(text: str, delimiter: str, rows: list[dict[str, str]]) -> list[str]:
    """The value table's columns: the template's variables, then any a row still has a value for
    (so a renamed variable's old values stay visible until they are cleared)."""
    try:
        names = variable_names(text, delimiter or None)
    except ScanTermError:
        names = []
    for row in rows:
        names += [name for name in row if name not in names]
    return names


def values_formset_class(columns: list[str]) -> type[forms.BaseFormSet]:
    """A formset of value rows with one text field per variable."""
    fields = {
        name: forms.CharField(
            label=name,
            required=False,
            max_length=MAX_VALUE_LENGTH,
            strip=False,
            widget=forms.TextInput(attrs={"aria-label": name}),
        )
        for name in columns
    }
    row_form = type("ValueRowForm", (forms.Form,), fields)
    return forms.formset_factory(row_form, extra=1, can_delete=True, max_num=1000, absolute_max=1000)


def values_formset(columns: list[str], rows: list[dict[str, str]], extra: int = 1) -> forms.BaseFormSet:
    """An unbound formset showing `rows` and `extra` blank rows."""
    formset_class = values_formset_class(columns)
    formset_class.extra = extra
    return formset_class(initial=rows, prefix=VALUES_PREFIX)


def posted_rows(data: Any) -> tuple[list[str], list[dict[str, str]], int]:
    """(columns, rows, blank rows) posted by the values table. Blank cells are left out of a row so
    that the engine says which value is missing; blank and deleted rows are dropped."""
    columns = [c for c in data.getlist(f"{VALUES_PREFIX}-columns") if c]
    formset = values_formset_class(columns)(data, prefix=VALUES_PREFIX)
    rows: list[dict[str, str]] = []
    blank = 0
    if not formset.is_valid():
        return columns, rows, blank
    for form in formset.forms:
        if form.cleaned_data.get("DELETE"):
            continue
        row = {
            name: value.strip() for name in columns if (value := form.cleaned_data.get(name) or "").strip()
        }
        if row:
            rows.append(row)
        else:
            blank += 1
    return columns, rows, blank


@dataclass(frozen=True)
class VendorMove:
    """A vendor chosen for a profile while another profile is its own: saving moves it (a vendor has one)."""

    vendor: Vendor
    profile: ScanProfile

    def __str__(self) -> str:
        return f"{self.vendor} is in profile “{self.profile}” now; saving moves it here"


def vendor_moves(profile: ScanProfile, vendors: Iterable[Vendor]) -> list[VendorMove]:
    """The chosen vendors that another profile holds now (their assignment read with them)."""
    moves = []
    for vendor in vendors:
        assignment = getattr(vendor, "scan_assignment", None)
        if assignment is not None and assignment.profile_id != profile.pk:
            moves.append(VendorMove(vendor, assignment.profile))
    return moves


def moves_key(moves: list[VendorMove]) -> str:
    """What a confirmation confirmed: these vendors from these profiles, and no other move."""
    return ",".join(sorted(f"{m.vendor.pk}:{m.profile.pk}" for m in moves))


class ScanProfileForm(ReadOnlyMixin, forms.ModelForm):
    """A profile's members and vendors. With API v4, a profile whose templates mean something else
    than in v3 is saved only once its v4 meaning is acknowledged (`acknowledge_v4`, kept in history).
    Choosing a vendor that another profile holds is saved only once the move is confirmed
    (`confirm_moves` carries the moves the page showed, so a move it did not show is asked about again)."""

    acknowledge_v4 = forms.BooleanField(required=False, label="I understand")
    confirm_moves = forms.CharField(required=False)
    vendors = forms.ModelMultipleChoiceField(
        queryset=Vendor.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Their claims are scanned with this profile (a vendor has one profile).",
    )

    class Meta:
        model = ScanProfile
        fields = ["name", "delimiter", "terms", "templates", "note"]
        widgets = {
            "terms": forms.CheckboxSelectMultiple,
            "templates": forms.CheckboxSelectMultiple,
            "delimiter": forms.TextInput(attrs={"size": 6, "class": "mono", "placeholder": "{{ }}"}),
        }
        labels = {"delimiter": "Delimiter"}

    def __init__(self, *args: Any, api_version: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["vendors"]).queryset = Vendor.objects.select_related(
            "scan_assignment__profile"
        )
        # Django's per-field label hook, set on the instance (the stubs type it as a method).
        cast(forms.ModelChoiceField, self.fields["vendors"]).label_from_instance = _vendor_label  # type: ignore[method-assign,assignment]
        cast(forms.ModelChoiceField, self.fields["terms"]).label_from_instance = _member_label  # type: ignore[method-assign,assignment]
        cast(forms.ModelChoiceField, self.fields["templates"]).label_from_instance = _member_label  # type: ignore[method-assign,assignment]
        if self.instance.pk:
            self.initial["vendors"] = list(self.instance.assignments.values_list("vendor_id", flat=True))
        self.api_version = api_version
        # What the page warns about: the profile as saved, or as posted once cleaned.
        self.v4: V4Meaning | None = v4_meaning(self.instance) if api_version == V4 else None
        self._label_confirmation()
        self.moves: list[VendorMove] = []

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.moves = vendor_moves(self.instance, cleaned.get("vendors") or [])
        if self.moves and cleaned.get("confirm_moves") != moves_key(self.moves):
            self.add_error("confirm_moves", CONFIRM_MOVES)
        if "delimiter" in self.errors:
            return cleaned
        terms: QuerySet[ScanTerm] = cleaned.get("terms") or ScanTerm.objects.none()
        templates: QuerySet[ScanTemplate] = cleaned.get("templates") or ScanTemplate.objects.none()
        errors = member_errors(cleaned.get("delimiter") or "", terms, templates)
        for error in errors:
            self.add_error(None, error)
        if self.api_version == V4 and not errors:
            self.v4 = v4_meaning(self.instance, templates, cleaned.get("delimiter") or "")
            self._label_confirmation()
            if self.v4.needs_acknowledgement and not cleaned.get("acknowledge_v4"):
                self.add_error("acknowledge_v4", CONFIRM_V4_PROFILE)
        return cleaned

    @property
    def moves_key(self) -> str:
        return moves_key(self.moves)

    def _label_confirmation(self) -> None:
        if self.v4 and self.v4.differs:
            _relabel(self, self.v4.confirmation)


def _relabel(form: forms.BaseForm, label: str) -> None:
    """Name the v4 confirmation after what it confirms; the bound field (made during cleaning) too."""
    form.fields["acknowledge_v4"].label = label
    form["acknowledge_v4"].label = label


def _vendor_label(vendor: Vendor) -> str:
    assignment = getattr(vendor, "scan_assignment", None)
    return f"{vendor.name} (now: {assignment.profile})" if assignment else vendor.name


def _member_label(member: ScanTerm | ScanTemplate) -> str:
    return f"{'✓' if member.kind == Kind.REQUIRED else '✗'} {member}"


class PreviewForm(forms.Form):
    page_text = forms.CharField(
        label="Page text",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "placeholder": "Paste the consent text of the form page"}),
    )
    html_file = forms.FileField(
        label="…or an HTML file of the page",
        required=False,
        help_text="Its visible text is scanned: tags, scripts, styles and the head are left out.",
    )
    profile = forms.ModelChoiceField(
        queryset=ScanProfile.objects.all(),
        required=False,
        empty_label="(none: only the terms typed below)",
    )
    required_terms = forms.CharField(
        label="Required terms",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "One per line"}),
    )
    forbidden_terms = forms.CharField(
        label="Forbidden terms",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "One per line"}),
    )
    delimiter = forms.CharField(
        label="Delimiter for typed terms",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"size": 6, "class": "mono", "placeholder": "{{ }}"}),
        help_text="A chosen profile brings its own.",
    )

    def clean_html_file(self) -> str | None:
        upload = self.cleaned_data.get("html_file")
        if not upload:
            return None
        if upload.size > MAX_PREVIEW_FILE_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB: save just the form page.")
        raw = upload.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def clean_delimiter(self) -> str:
        delimiter = self.cleaned_data["delimiter"]
        try:
            validate_delimiter(delimiter or None)
        except ScanTermError as exc:
            raise forms.ValidationError(exc.reason) from None
        return delimiter

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        profile = cleaned.get("profile")
        if profile and cleaned.get("delimiter") and cleaned["delimiter"] != profile.delimiter:
            self.add_error(
                "delimiter",
                f"The profile “{profile}” scans with {profile.delimiter or 'the default {{ }}'}: "
                "clear this field, or choose no profile.",
            )
        return cleaned

    def typed_terms(self) -> tuple[list[TermSpec], list[TermSpec]]:
        return (
            _lines(self.cleaned_data.get("required_terms", "")),
            _lines(self.cleaned_data.get("forbidden_terms", "")),
        )


def _lines(text: str) -> list[TermSpec]:
    return [TermSpec(line.strip()) for line in text.splitlines() if line.strip()]
